//! Precision: 1e4 + N(0, 1) in f32 with ≥ 1e5 values per statistic, against f64 on the same
//! input.

use burn::tensor::Device;
use normscope::{
    BatchNormConfig, GroupNormConfig, InstanceNormConfig, LayerNormConfig, Mode, Normalization,
};

use super::*;
use crate::common::reference::{self as r, Ncs};
use crate::common::{randn, tensor, values};

pub fn large_offset(device: &Device) {
    let tol = 1e-4;

    // BatchNorm with momentum 1: the running statistics are the batch's own.
    let dims = [128, 2, 28, 28];
    let sh = Ncs::of(&dims);
    let x = randn(sh.len(), 42, 1e4, 1.0);
    let mut running = r::Running::new(sh.c);
    let ones = vec![1.0; sh.c];
    let zeros = vec![0.0; sh.c];
    let expected = r::batch_norm_train(&x, sh, &ones, &zeros, EPS, 1.0, &mut running);
    let layer = BatchNormConfig::new()
        .with_momentum(1.0)
        .init(sh.c, device)
        .unwrap();
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
    assert_close(&got, &expected, tol, "BatchNorm at offset 1e4: output");
    assert_running(
        &layer.running_mean,
        &layer.running_var,
        &running,
        tol,
        "BatchNorm at offset 1e4:",
    );

    // GroupNorm(2) over 2·51200 values per group.
    let dims = [2, 4, 256, 200];
    let sh = Ncs::of(&dims);
    let x = randn(sh.len(), 43, 1e4, 1.0);
    let (expected, _, _) = r::group_norm(&x, sh, 2, &[1.0; 4], &[0.0; 4], EPS);
    let layer = GroupNormConfig::new()
        .with_groups(2)
        .init(4, device)
        .unwrap();
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
    assert_close(&got, &expected, tol, "GroupNorm at offset 1e4");

    // LayerNorm over 102400 values per sample.
    let dims = [2, 4, 160, 160];
    let d = 4 * 160 * 160;
    let x = randn(2 * d, 44, 1e4, 1.0);
    let expected = r::layer_norm(&x, 2, d, &vec![1.0; d], &vec![0.0; d], EPS);
    let layer = LayerNormConfig::new()
        .with_elementwise_affine(false)
        .init(&dims[1..], device)
        .unwrap();
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
    assert_close(&got, &expected, tol, "LayerNorm at offset 1e4");

    // InstanceNorm over 102400 spatial values.
    let dims = [2, 2, 320, 320];
    let sh = Ncs::of(&dims);
    let x = randn(sh.len(), 45, 1e4, 1.0);
    let (expected, _, _) = r::group_norm(&x, sh, 2, &[1.0; 2], &[0.0; 2], EPS);
    let layer = InstanceNormConfig::new().init(2, device).unwrap();
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
    assert_close(&got, &expected, tol, "InstanceNorm at offset 1e4");
}
