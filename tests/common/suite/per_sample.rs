//! The per-sample family: LayerNorm, RMSNorm, GroupNorm, InstanceNorm (and Identity) against
//! their f64 references.

use burn::tensor::Device;
use normscope::{
    GroupNormConfig, InstanceNormConfig, LayerNormConfig, Mode, Normalization, RmsNormConfig,
};

use super::*;
use crate::common::reference::{self as r, Ncs};
use crate::common::{tensor, values};

fn layer_norm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let n = dims[0];
    let d: usize = dims[1..].iter().product();
    let (gamma, beta) = gamma_beta(d, 29);
    let mut layer = LayerNormConfig::new().init(&dims[1..], device).unwrap();
    layer.weight = param(&gamma, device);
    layer.bias = param(&beta, device);
    let x = input(n * d, 3);
    let expected = r::layer_norm(&x, n, d, &gamma, &beta, EPS);
    assert_in_both_modes(&layer, &x, dims, &expected, "LayerNorm", device);
}

/// A layer without running statistics gives `expected` on `x` in train mode and in eval mode.
fn assert_in_both_modes<const D: usize>(
    layer: &impl Normalization,
    x: &[f64],
    dims: [usize; D],
    expected: &[f64],
    what: &str,
    device: &Device,
) {
    for mode in [Mode::Train, Mode::Eval] {
        let got = values(layer.forward(tensor(x, dims, device), mode));
        assert_close(&got, expected, TOL, &format!("{what} {dims:?} {mode:?}"));
    }
}

pub fn layer_norm(device: &Device) {
    each_shape!(layer_norm_case, device);
}

fn rms_norm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let n = dims[0];
    let d: usize = dims[1..].iter().product();
    let (gamma, _) = gamma_beta(d, 31);
    let mut layer = RmsNormConfig::new()
        .with_eps(Some(1e-6))
        .init(&dims[1..], device)
        .unwrap();
    layer.weight = param(&gamma, device);
    let x = input(n * d, 4);
    let expected = r::rms_norm(&x, n, d, &gamma, 1e-6);
    assert_in_both_modes(&layer, &x, dims, &expected, "RmsNorm", device);
}

pub fn rms_norm(device: &Device) {
    each_shape!(rms_norm_case, device);
}

fn group_norm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let sh = Ncs::of(&dims);
    // Groups of one value (C/groups · S = 1) are degenerate: x̂ = 0 up to rounding times 1/√ε.
    for groups in [1, 2, 4].into_iter().filter(|g| sh.c / g * sh.s > 1) {
        let (gamma, beta) = gamma_beta(sh.c, 37);
        let mut layer = GroupNormConfig::new()
            .with_groups(groups)
            .init(sh.c, device)
            .unwrap();
        layer.weight = param(&gamma, device);
        layer.bias = param(&beta, device);
        let x = input(sh.len(), 5);
        let (expected, _, _) = r::group_norm(&x, sh, groups, &gamma, &beta, EPS);
        let what = format!("GroupNorm({groups})");
        assert_in_both_modes(&layer, &x, dims, &expected, &what, device);
    }
}

pub fn group_norm(device: &Device) {
    each_shape!(group_norm_case, device);
}

fn instance_norm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let sh = Ncs::of(&dims);
    let (gamma, beta) = gamma_beta(sh.c, 41);
    let mut layer = InstanceNormConfig::new()
        .with_affine(true)
        .with_track_running_stats(true)
        .with_momentum(MOMENTUM)
        .init(sh.c, device)
        .unwrap();
    layer.weight = param(&gamma, device);
    layer.bias = param(&beta, device);
    let mut running = r::Running::new(sh.c);
    for step in 0..2 {
        let x = input(sh.len(), step);
        let (expected, means, vars) = r::group_norm(&x, sh, sh.c, &gamma, &beta, EPS);
        let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
        assert_close(
            &got,
            &expected,
            TOL,
            &format!("InstanceNorm {dims:?} train"),
        );
        let avg =
            |v: &[f64], c: usize| (0..sh.n).map(|n| v[n * sh.c + c]).sum::<f64>() / sh.n as f64;
        let unbiased: Vec<f64> = vars
            .iter()
            .map(|v| v * sh.s as f64 / (sh.s - 1) as f64)
            .collect();
        for c in 0..sh.c {
            running.mean[c] = (1.0 - MOMENTUM) * running.mean[c] + MOMENTUM * avg(&means, c);
            running.var[c] = (1.0 - MOMENTUM) * running.var[c] + MOMENTUM * avg(&unbiased, c);
        }
    }
    assert_running(
        &layer.running_mean,
        &layer.running_var,
        &running,
        TOL,
        "InstanceNorm",
    );
    let x = input(sh.len(), 9);
    let expected = r::batch_norm_eval(&x, sh, &gamma, &beta, EPS, &running);
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    assert_close(&got, &expected, TOL, "InstanceNorm eval with running stats");

    // Default (PyTorch) InstanceNorm: no affine, no running stats; eval = instance statistics.
    let layer = InstanceNormConfig::new().init(sh.c, device).unwrap();
    let ones = vec![1.0; sh.c];
    let zeros = vec![0.0; sh.c];
    let (expected, _, _) = r::group_norm(&x, sh, sh.c, &ones, &zeros, EPS);
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    assert_close(&got, &expected, TOL, "InstanceNorm default eval");
}

pub fn instance_norm(device: &Device) {
    instance_norm_case([4, 4, 5], device);
    instance_norm_case([2, 4, 3, 5], device);
}

pub fn identity(device: &Device) {
    let x = input(24, 1);
    let got = values(normscope::Identity.forward(tensor(&x, [2, 3, 4], device), Mode::Train));
    assert_eq!(got, x);
}
