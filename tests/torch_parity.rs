//! BatchNorm, LayerNorm, GroupNorm, InstanceNorm and RMSNorm against PyTorch itself (libtorch
//! CPU through tch): same inputs, same outputs and running statistics within 1e-5, on every
//! backend this build has.
#![cfg(feature = "tch")]
#![allow(deprecated)]

mod common;

use burn::module::Param;
use burn::tensor::Device;
use common::{devices, randn, reference::max_abs_diff, tensor, values};
use normscope::{
    BatchNormConfig, GroupNormConfig, InstanceNormConfig, LayerNormConfig, Mode, Normalization,
    RmsNormConfig,
};
use tch::Tensor as Torch;

const TOL: f64 = 1e-5;

fn torch(data: &[f64], dims: &[usize]) -> Torch {
    let values: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    Torch::from_slice(&values).reshape(dims.as_slice())
}

fn torch_values(t: &Torch) -> Vec<f64> {
    let flat = t.flatten(0, -1).to_kind(tch::Kind::Double);
    Vec::<f64>::try_from(&flat).unwrap()
}

fn check(what: &str, device: &str, ours: &[f64], theirs: &[f64]) {
    let diff = max_abs_diff(ours, theirs);
    assert!(
        diff <= TOL,
        "{what} on {device}: max |normscope − torch| = {diff:.2e} > {TOL:.0e}"
    );
}

fn param(v: &[f64], device: &Device) -> Option<Param<burn::tensor::Tensor<1>>> {
    Some(Param::from_tensor(tensor(v, [v.len()], device)))
}

#[test]
fn batch_norm_matches_torch() {
    let dims = [8, 3, 5, 4];
    let c = 3;
    let gamma = randn(c, 1, 1.0, 0.3);
    let beta = randn(c, 2, 0.0, 0.5);
    for (name, device) in devices() {
        let mut ours = BatchNormConfig::new()
            .with_momentum(0.3)
            .init(c, &device)
            .unwrap();
        ours.weight = param(&gamma, &device);
        ours.bias = param(&beta, &device);
        let running_mean = Torch::zeros([c as i64], (tch::Kind::Float, tch::Device::Cpu));
        let running_var = Torch::ones([c as i64], (tch::Kind::Float, tch::Device::Cpu));
        let (w, b) = (torch(&gamma, &[c]), torch(&beta, &[c]));
        for step in 0..3 {
            let x = randn(8 * 3 * 20, 10 + step, 1.5, 2.5);
            let theirs = torch(&x, &dims).batch_norm(
                Some(&w),
                Some(&b),
                Some(&running_mean),
                Some(&running_var),
                true,
                0.3,
                1e-5,
                false,
            );
            let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
            check("BatchNorm train output", name, &got, &torch_values(&theirs));
        }
        let rm = values(ours.running_mean.as_ref().unwrap().value_sync());
        let rv = values(ours.running_var.as_ref().unwrap().value_sync());
        check(
            "BatchNorm running_mean",
            name,
            &rm,
            &torch_values(&running_mean),
        );
        check(
            "BatchNorm running_var (unbiased)",
            name,
            &rv,
            &torch_values(&running_var),
        );
        let x = randn(8 * 3 * 20, 99, 1.5, 2.5);
        let theirs = torch(&x, &dims).batch_norm(
            Some(&w),
            Some(&b),
            Some(&running_mean),
            Some(&running_var),
            false,
            0.3,
            1e-5,
            false,
        );
        let got = values(ours.forward(tensor(&x, dims, &device), Mode::Eval));
        check("BatchNorm eval output", name, &got, &torch_values(&theirs));
    }
}

#[test]
fn layer_norm_matches_torch() {
    let dims = [6, 4, 3, 5];
    let d = 60;
    let gamma = randn(d, 3, 1.0, 0.3);
    let beta = randn(d, 4, 0.0, 0.5);
    let x = randn(6 * d, 5, -1.0, 3.0);
    let theirs = torch(&x, &dims).layer_norm(
        [4i64, 3, 5].as_slice(),
        Some(&torch(&gamma, &[4, 3, 5])),
        Some(&torch(&beta, &[4, 3, 5])),
        1e-5,
        false,
    );
    for (name, device) in devices() {
        let mut ours = LayerNormConfig::new().init(&dims[1..], &device).unwrap();
        ours.weight = param(&gamma, &device);
        ours.bias = param(&beta, &device);
        let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
        check("LayerNorm output", name, &got, &torch_values(&theirs));
    }
}

#[test]
fn group_norm_matches_torch() {
    let dims = [4, 6, 7];
    let gamma = randn(6, 6, 1.0, 0.3);
    let beta = randn(6, 7, 0.0, 0.5);
    let x = randn(4 * 6 * 7, 8, 2.0, 1.5);
    for groups in [1, 2, 3, 6] {
        let theirs = torch(&x, &dims).group_norm(
            groups as i64,
            Some(&torch(&gamma, &[6])),
            Some(&torch(&beta, &[6])),
            1e-5,
            false,
        );
        for (name, device) in devices() {
            let mut ours = GroupNormConfig::new()
                .with_groups(groups)
                .init(6, &device)
                .unwrap();
            ours.weight = param(&gamma, &device);
            ours.bias = param(&beta, &device);
            let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
            check(
                &format!("GroupNorm({groups}) output"),
                name,
                &got,
                &torch_values(&theirs),
            );
        }
    }
}

#[test]
fn instance_norm_matches_torch() {
    let dims = [5, 3, 4, 4];
    let c = 3;
    let gamma = randn(c, 9, 1.0, 0.3);
    let beta = randn(c, 10, 0.0, 0.5);
    for (name, device) in devices() {
        let mut ours = InstanceNormConfig::new()
            .with_affine(true)
            .with_track_running_stats(true)
            .init(c, &device)
            .unwrap();
        ours.weight = param(&gamma, &device);
        ours.bias = param(&beta, &device);
        let running_mean = Torch::zeros([c as i64], (tch::Kind::Float, tch::Device::Cpu));
        let running_var = Torch::ones([c as i64], (tch::Kind::Float, tch::Device::Cpu));
        let (w, b) = (torch(&gamma, &[c]), torch(&beta, &[c]));
        for step in 0..3 {
            let x = randn(5 * 3 * 16, 20 + step, -0.5, 2.0);
            let theirs = torch(&x, &dims).instance_norm(
                Some(&w),
                Some(&b),
                Some(&running_mean),
                Some(&running_var),
                true,
                0.1,
                1e-5,
                false,
            );
            let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
            check(
                "InstanceNorm train output",
                name,
                &got,
                &torch_values(&theirs),
            );
        }
        let rm = values(ours.running_mean.as_ref().unwrap().value_sync());
        let rv = values(ours.running_var.as_ref().unwrap().value_sync());
        check(
            "InstanceNorm running_mean",
            name,
            &rm,
            &torch_values(&running_mean),
        );
        check(
            "InstanceNorm running_var",
            name,
            &rv,
            &torch_values(&running_var),
        );
        let x = randn(5 * 3 * 16, 98, -0.5, 2.0);
        let theirs = torch(&x, &dims).instance_norm(
            Some(&w),
            Some(&b),
            Some(&running_mean),
            Some(&running_var),
            false,
            0.1,
            1e-5,
            false,
        );
        let got = values(ours.forward(tensor(&x, dims, &device), Mode::Eval));
        check(
            "InstanceNorm eval output",
            name,
            &got,
            &torch_values(&theirs),
        );
    }
}

#[test]
fn rms_norm_matches_torch() {
    let dims = [6, 8, 5];
    let gamma = randn(40, 11, 1.0, 0.3);
    let x = randn(6 * 40, 12, 0.5, 2.0);
    let theirs =
        torch(&x, &dims).rms_norm([8i64, 5].as_slice(), Some(&torch(&gamma, &[8, 5])), None);
    for (name, device) in devices() {
        let mut ours = RmsNormConfig::new().init(&dims[1..], &device).unwrap();
        ours.weight = param(&gamma, &device);
        let got = values(ours.forward(tensor(&x, dims, &device), Mode::Train));
        check(
            "RMSNorm output (eps = None)",
            name,
            &got,
            &torch_values(&theirs),
        );
    }
}

/// On libtorch the fused path is ATen's own kernel: bit for bit what `tch::Tensor::batch_norm`,
/// `group_norm` and `layer_norm` give (the composed path would differ in rounding).
#[test]
fn libtorch_fused_path_is_atens_kernel() {
    use normscope::Kernel;
    use normscope::functional::normalize;
    use normscope::ops::NormLayout;
    let device = Device::libtorch();
    let dims = [16, 8, 6, 5];
    let x = randn(16 * 8 * 30, 77, 0.5, 1.5);
    let xt = torch(&x, &dims);
    let one = |n: usize| tensor(&vec![1.0; n], [n], &device);
    let zero = |n: usize| tensor(&vec![0.0; n], [n], &device);
    let (w8, b8) = (
        Torch::ones([8], tch::kind::FLOAT_CPU),
        Torch::zeros([8], tch::kind::FLOAT_CPU),
    );
    let (w240, b240) = (
        Torch::ones([8, 6, 5], tch::kind::FLOAT_CPU),
        Torch::zeros([8, 6, 5], tch::kind::FLOAT_CPU),
    );
    let cases = [
        (
            "batch",
            NormLayout::BATCH,
            8,
            xt.batch_norm(Some(&w8), Some(&b8), None, None, true, 0.1, 1e-5, false),
        ),
        (
            "group(4)",
            NormLayout::group(4),
            8,
            xt.group_norm(4, Some(&w8), Some(&b8), 1e-5, false),
        ),
        (
            "layer",
            NormLayout::LAYER,
            240,
            xt.layer_norm(
                [8i64, 6, 5].as_slice(),
                Some(&w240),
                Some(&b240),
                1e-5,
                false,
            ),
        ),
    ];
    for (name, layout, affine, theirs) in cases {
        let ours = normalize(
            tensor(&x, dims, &device),
            one(affine),
            zero(affine),
            layout,
            1e-5,
            Kernel::Fused,
        );
        let diff = max_abs_diff(&values(ours.output), &torch_values(&theirs));
        assert_eq!(
            diff, 0.0,
            "{name}: the libtorch fused path is not ATen's kernel"
        );
    }
}
