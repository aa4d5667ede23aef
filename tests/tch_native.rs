//! normscope-tch's native `tch::nn` layers against normscope-core's burn layers: same weights,
//! same inputs, same outputs and running statistics over several training steps, then eval.
#![cfg(feature = "tch")]
#![allow(deprecated)]

mod common;

use burn::module::Param;
use burn::tensor::Device;
use common::{randn, reference::max_abs_diff, tensor, values};
use normscope::{
    BatchRenormConfig, GhostBatchNormConfig, LpBatchNormConfig, LpOrder, MeanOnlyConfig, Mode,
    NoisyBatchNormConfig, Normalization, VarianceOnlyConfig,
};
use normscope_tch::nn::{self as tnn, LpNorm, Noise};
use tch::Tensor as Torch;
use tch::nn::{BatchNormConfig as TchConfig, ModuleT};

const DIMS: [usize; 4] = [8, 3, 4, 5];
const C: usize = 3;
const MOMENTUM: f64 = 0.2;

fn torch(data: &[f64], dims: &[usize]) -> Torch {
    let values: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    Torch::from_slice(&values).reshape(dims.as_slice())
}

fn torch_values(t: &Torch) -> Vec<f64> {
    Vec::<f64>::try_from(&t.flatten(0, -1).to_kind(tch::Kind::Double)).unwrap()
}

fn set(t: &Option<Torch>, v: &[f64]) {
    tch::no_grad(|| {
        t.as_ref()
            .unwrap()
            .shallow_clone()
            .copy_(&torch(v, &[v.len()]))
    });
}

fn param(v: &[f64], device: &Device) -> Option<Param<burn::tensor::Tensor<1>>> {
    Some(Param::from_tensor(tensor(v, [v.len()], device)))
}

fn config() -> TchConfig {
    TchConfig {
        momentum: MOMENTUM,
        ..Default::default()
    }
}

/// Runs three training steps and one eval step through both, comparing outputs, then the running
/// statistics (`ours`, `theirs` read them).
fn compare(
    what: &str,
    burn_forward: &dyn Fn(burn::tensor::Tensor<4>, Mode) -> burn::tensor::Tensor<4>,
    tch_forward: &dyn Fn(&Torch, bool) -> Torch,
    stats: &dyn Fn() -> Vec<(Vec<f64>, Vec<f64>)>,
) {
    let device = Device::ndarray();
    let len: usize = DIMS.iter().product();
    for step in 0..4 {
        let train = step < 3;
        let x = randn(len, 40 + step, 1.5, 2.5);
        let mode = if train { Mode::Train } else { Mode::Eval };
        let ours = values(burn_forward(tensor(&x, DIMS, &device), mode));
        let theirs = torch_values(&tch_forward(&torch(&x, &DIMS), train));
        let diff = max_abs_diff(&ours, &theirs);
        assert!(
            diff < 2e-5,
            "{what} step {step} (train {train}): max |burn − tch| = {diff:.2e}"
        );
    }
    for (i, (ours, theirs)) in stats().into_iter().enumerate() {
        let diff = max_abs_diff(&ours, &theirs);
        assert!(
            diff < 2e-5,
            "{what} running statistic {i}: max |burn − tch| = {diff:.2e}"
        );
    }
}

fn gamma_beta() -> (Vec<f64>, Vec<f64>) {
    (randn(C, 1, 1.0, 0.3), randn(C, 2, 0.0, 0.5))
}

#[test]
fn ghost_batch_norm_agrees() {
    let device = Device::ndarray();
    let (g, b) = gamma_beta();
    let mut ours = GhostBatchNormConfig::new()
        .with_virtual_batch_size(2)
        .with_momentum(MOMENTUM)
        .init(C, &device)
        .unwrap();
    (ours.inner.weight, ours.inner.bias) = (param(&g, &device), param(&b, &device));
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let theirs = tnn::ghost_batch_norm(vs.root(), C as i64, 2, config());
    set(&theirs.ws, &g);
    set(&theirs.bs, &b);
    compare(
        "GhostBatchNorm",
        &|x, m| ours.forward(x, m),
        &|x, t| theirs.forward_t(x, t),
        &|| {
            vec![
                (
                    values(ours.inner.running_mean.as_ref().unwrap().value_sync()),
                    torch_values(&theirs.running_mean),
                ),
                (
                    values(ours.inner.running_var.as_ref().unwrap().value_sync()),
                    torch_values(&theirs.running_var),
                ),
            ]
        },
    );
}

#[test]
fn batch_renorm_agrees() {
    let device = Device::ndarray();
    let (g, b) = gamma_beta();
    let mut ours = BatchRenormConfig::new()
        .with_r_max(1.5)
        .with_d_max(0.5)
        .with_momentum(MOMENTUM)
        .init(C, &device)
        .unwrap();
    (ours.inner.weight, ours.inner.bias) = (param(&g, &device), param(&b, &device));
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let theirs = tnn::batch_renorm(vs.root(), C as i64, 1.5, 0.5, config());
    set(&theirs.ws, &g);
    set(&theirs.bs, &b);
    compare(
        "BatchRenorm",
        &|x, m| ours.forward(x, m),
        &|x, t| theirs.forward_t(x, t),
        &|| {
            vec![
                (
                    values(ours.inner.running_mean.as_ref().unwrap().value_sync()),
                    torch_values(&theirs.running_mean),
                ),
                (
                    values(ours.inner.running_var.as_ref().unwrap().value_sync()),
                    torch_values(&theirs.running_var),
                ),
            ]
        },
    );
}

#[test]
fn lp_batch_norm_agrees() {
    let device = Device::ndarray();
    for (order, p) in [
        (LpOrder::L1, LpNorm::L1),
        (LpOrder::L2, LpNorm::L2),
        (LpOrder::Inf, LpNorm::Inf),
    ] {
        let (g, b) = gamma_beta();
        let mut ours = LpBatchNormConfig::new()
            .with_p(order)
            .with_momentum(MOMENTUM)
            .init(C, &device)
            .unwrap();
        (ours.weight, ours.bias) = (param(&g, &device), param(&b, &device));
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let theirs = tnn::lp_batch_norm(vs.root(), C as i64, p, config());
        set(&theirs.ws, &g);
        set(&theirs.bs, &b);
        compare(
            &format!("LpBatchNorm {p:?}"),
            &|x, m| ours.forward(x, m),
            &|x, t| theirs.forward_t(x, t),
            &|| {
                vec![
                    (
                        values(ours.running_mean.value_sync()),
                        torch_values(&theirs.running_mean),
                    ),
                    (
                        values(ours.running_scale.value_sync()),
                        torch_values(&theirs.running_scale),
                    ),
                ]
            },
        );
    }
}

#[test]
fn variance_only_agrees() {
    let device = Device::ndarray();
    let (g, b) = gamma_beta();
    let mut ours = VarianceOnlyConfig::new()
        .with_momentum(MOMENTUM)
        .init(C, &device)
        .unwrap();
    (ours.weight, ours.bias) = (param(&g, &device), param(&b, &device));
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let theirs = tnn::variance_only(vs.root(), C as i64, config());
    set(&theirs.ws, &g);
    set(&theirs.bs, &b);
    compare(
        "VarianceOnly",
        &|x, m| ours.forward(x, m),
        &|x, t| theirs.forward_t(x, t),
        &|| {
            vec![(
                values(ours.running_second_moment.value_sync()),
                torch_values(&theirs.running_second_moment),
            )]
        },
    );
}

#[test]
fn mean_only_agrees() {
    let device = Device::ndarray();
    let (g, b) = gamma_beta();
    let mut ours = MeanOnlyConfig::new()
        .with_momentum(MOMENTUM)
        .init(C, &device)
        .unwrap();
    (ours.weight, ours.bias) = (param(&g, &device), param(&b, &device));
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let theirs = tnn::mean_only(vs.root(), C as i64, config());
    set(&theirs.ws, &g);
    set(&theirs.bs, &b);
    compare(
        "MeanOnly",
        &|x, m| ours.forward(x, m),
        &|x, t| theirs.forward_t(x, t),
        &|| {
            vec![(
                values(ours.running_mean.value_sync()),
                torch_values(&theirs.running_mean),
            )]
        },
    );
}

/// Without noise, NoisyBatchNorm is BatchNorm on both sides; with it, both draw per-channel
/// means and standard deviations inside the configured ranges.
#[test]
fn noisy_batch_norm_agrees() {
    let device = Device::ndarray();
    let (g, b) = gamma_beta();
    let silent = Noise {
        mean_max: 0.0,
        scale_max: 1.0,
        per_sample: false,
    };
    let mut ours = NoisyBatchNormConfig::new()
        .with_noise_mean_max(0.0)
        .with_noise_scale_max(1.0)
        .with_momentum(MOMENTUM)
        .init(C, &device)
        .unwrap();
    (ours.inner.weight, ours.inner.bias) = (param(&g, &device), param(&b, &device));
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let theirs = tnn::noisy_batch_norm(vs.root(), C as i64, silent, config());
    set(&theirs.ws, &g);
    set(&theirs.bs, &b);
    compare(
        "NoisyBatchNorm without noise",
        &|x, m| ours.forward(x, m),
        &|x, t| theirs.forward_t(x, t),
        &|| {
            vec![
                (
                    values(ours.inner.running_mean.as_ref().unwrap().value_sync()),
                    torch_values(&theirs.running_mean),
                ),
                (
                    values(ours.inner.running_var.as_ref().unwrap().value_sync()),
                    torch_values(&theirs.running_var),
                ),
            ]
        },
    );

    // With noise: per channel exactly `s · BN(x) + m`, `s ∈ [1, 1.5]`, `m ∈ ±0.8`.
    tch::manual_seed(3);
    let noise = Noise {
        mean_max: 0.8,
        scale_max: 1.5,
        per_sample: false,
    };
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let noisy = tnn::noisy_batch_norm(vs.root(), 4, noise, TchConfig::default());
    let plain = tch::nn::batch_norm2d(vs.root() / "plain", 4, TchConfig::default());
    // tch draws γ from U(0, 1): the same γ = 1, β = 0 on both sides.
    for (w, b) in [(&noisy.ws, &noisy.bs), (&plain.ws, &plain.bs)] {
        set(w, &[1.0; 4]);
        set(b, &[0.0; 4]);
    }
    let x = Torch::randn([64, 4, 8, 8], (tch::Kind::Float, tch::Device::Cpu));
    let (got, clean) = (noisy.forward_t(&x, true), plain.forward_t(&x, true));
    let dims = [0i64, 2, 3];
    let centred = |t: &Torch| t - t.mean_dim(dims.as_slice(), true, tch::Kind::Float);
    let scale = (centred(&got) * centred(&clean)).mean_dim(dims.as_slice(), true, tch::Kind::Float)
        / centred(&clean)
            .square()
            .mean_dim(dims.as_slice(), true, tch::Kind::Float);
    let shift = got.mean_dim(dims.as_slice(), true, tch::Kind::Float)
        - &scale * clean.mean_dim(dims.as_slice(), true, tch::Kind::Float);
    let residual = torch_values(&(&got - &scale * &clean - &shift).abs().max());
    assert!(
        residual[0] <= 1e-3,
        "not a per-channel affine map: {residual:?}"
    );
    for (s, m) in torch_values(&scale).iter().zip(torch_values(&shift)) {
        assert!((1.0 - 1e-4..=1.5 + 1e-4).contains(s), "noise scale {s}");
        assert!(m.abs() <= 0.8 + 1e-4, "noise shift {m}");
    }
}
