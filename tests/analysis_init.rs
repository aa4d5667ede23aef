//! The metrics at initialization against closed forms and independent computations: rank measures
//! on matrices with known spectra, the device path against the f64 host path, rank collapse
//! with and without BatchNorm, De & Smith's variance bookkeeping in residual networks, Yang et
//! al.'s gradient growth, and agreement across backends.
#![allow(deprecated)]

mod common;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use common::devices;
use normscope::NormConfig;
use normscope::analysis::experiments::gradient_explosion::layer_gradients;
use normscope::analysis::experiments::identity_bias::block_signals;
use normscope::analysis::experiments::rank_collapse::rank_profile;
use normscope::analysis::metrics::gradient_explosion::{
    linear_growth, mean_growth, relu_growth_limit,
};
use normscope::analysis::metrics::rank_collapse::{
    rank_measures, rank_measures_of, stable_rank_on_device,
};
use normscope::analysis::metrics::sample_similarity::sample_similarity;
use normscope::analysis::models::{Activation, MlpConfig, Probe, ResNetConfig, Residual, Site};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn rank_measures_on_known_spectra() {
    // Identity: full rank, every singular value 1, orthogonal rows.
    let n = 6;
    let eye: Vec<f64> = (0..n * n)
        .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
        .collect();
    let m = rank_measures(&eye, n, n);
    assert_eq!(m.numerical_rank, Some(n));
    assert!(close(m.stable_rank, n as f64, 1e-12) && close(m.effective_rank, n as f64, 1e-12));
    assert!(m.orthogonality_gap < 1e-12);

    // Rank one u vᵀ: every measure is 1; the gap is √(1 − 1/N).
    let u = [1.0, -2.0, 0.5, 3.0];
    let v = [2.0, 1.0, -1.0];
    let r1: Vec<f64> = u
        .iter()
        .flat_map(|a| v.iter().map(move |b| a * b))
        .collect();
    let m = rank_measures(&r1, 4, 3);
    assert_eq!(m.numerical_rank, Some(1));
    assert!(close(m.stable_rank, 1.0, 1e-12) && close(m.effective_rank, 1.0, 1e-9));
    assert!(close(
        m.orthogonality_gap,
        (1.0f64 - 1.0 / 4.0).sqrt(),
        1e-12
    ));

    // diag(3, 2, 1) in a 4×3 matrix: stable rank 14/9, effective rank exp(H(3/6, 2/6, 1/6)).
    let mut d = vec![0.0; 12];
    d[0] = 3.0;
    d[4] = 2.0;
    d[8] = 1.0;
    let m = rank_measures(&d, 4, 3);
    assert_eq!(m.numerical_rank, Some(3));
    assert!(close(m.stable_rank, 14.0 / 9.0, 1e-12));
    let p = [0.5, 1.0 / 3.0, 1.0 / 6.0];
    let entropy: f64 = p.iter().map(|p: &f64| -p * p.ln()).sum();
    assert!(close(m.effective_rank, entropy.exp(), 1e-12));
    // A singular value under f32 rounding of the largest is not counted.
    d[8] = 3.0 * 1e-9;
    assert_eq!(rank_measures(&d, 4, 3).numerical_rank, Some(2));
}

#[test]
fn sample_similarity_on_known_inputs() {
    // Identical rows: cosine 1, Gram stable rank 1; orthogonal rows: cosine 0, stable rank N.
    let same = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0];
    let s = sample_similarity(&same, 3, 3);
    assert!(close(s.mean_cosine, 1.0, 1e-12) && close(s.gram_stable_rank, 1.0, 1e-9));
    let orthogonal = [2.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0];
    let s = sample_similarity(&orthogonal, 3, 3);
    assert!(s.mean_cosine.abs() < 1e-12 && close(s.gram_stable_rank, 3.0, 1e-9));
}

#[test]
fn device_stable_rank_agrees_with_f64_host_svd() {
    let _rng = common::backend_rng();
    for (name, device) in devices() {
        device.seed(7);
        let h = Tensor::<2>::random([24, 40], Distribution::Normal(0.0, 1.0), &device).mul(
            Tensor::<2>::random([1, 40], Distribution::Uniform(0.1, 3.0), &device),
        );
        let host = rank_measures_of(h.clone()).stable_rank;
        let on_device = stable_rank_on_device(h, 200);
        // f32 Gram matrix and 200 power iterations: agreement to 1e-3 relative.
        assert!(
            close(on_device, host, 1e-3),
            "{name}: device {on_device} vs host {host}"
        );
    }
}

/// Stable rank by depth (1-based index = depth), averaged over 3 seeds.
fn stable_rank_by_depth(norm: NormConfig, activation: Activation, device: &Device) -> Vec<f64> {
    let mlp = MlpConfig {
        input: 64,
        width: 64,
        depth: 48,
        classes: 2,
        activation,
        norm,
        bias: false,
        ..Default::default()
    };
    let runs: Vec<Vec<f64>> = (0..3)
        .map(|seed| {
            rank_profile(&mlp, 32, seed, device)
                .unwrap()
                .iter()
                .map(|m| m.stable_rank)
                .collect()
        })
        .collect();
    (0..48)
        .map(|d| runs.iter().map(|r| r[d]).sum::<f64>() / 3.0)
        .collect()
}

#[test]
fn linear_network_rank_collapses_without_batch_norm_and_not_with_it() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let plain = stable_rank_by_depth(NormConfig::Identity, Activation::Linear, &device);
    let bn = stable_rank_by_depth(NormConfig::default(), Activation::Linear, &device);
    // Products of Gaussian matrices drive the stable rank toward one with depth (the top Lyapunov
    // exponent separates from the rest), monotonically up to noise.
    assert!(
        plain[47] < 2.0 && plain[47] < 0.5 * plain[3],
        "unnormalized stable rank by depth {:?}",
        &plain[..]
    );
    // BN keeps the batch spread: its rank stays far above the plain network's at every depth
    // past a few layers (Daneshmand et al. 2020, Thm 2: average rank Ω(√d), √64 = 8).
    let bn_average = bn.iter().sum::<f64>() / bn.len() as f64;
    assert!(
        bn[47] > 3.0 * plain[47] && bn_average > (64f64).sqrt() / 2.0,
        "BN stable rank {bn:?} vs plain {plain:?}"
    );
}

/// Daneshmand, Joudaki & Bach 2021 (the follow-up to Daneshmand et al. 2020): in a BN network the
/// orthogonality gap `V(H) = ‖HHᵀ/‖H‖_F² − I/N‖_F` of the hidden layers stops falling and plateaus
/// at a level that scales as `d^{−1/2}` with the width `d` (their bound `E V ≤ 2(1 − 2α/3)^ℓ +
/// 3N/(α√d)`; measured slope −0.46), while without BN a linear network's samples collapse
/// toward one direction, `V → √(1 − 1/N)`. Their BN is the uncentred `diag(MMᵀ)^{−1/2}M`
/// ([`NormConfig::VarianceOnly`]): a centred BN's hidden states have rank ≤ N − 1, which puts a
/// floor of `1/√(N(N−1))` (0.134 at N = 8) under V and flattens the slope at large widths.
#[test]
fn orthogonality_gap_plateaus_as_one_over_root_width_with_batch_norm() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let batch = 8;
    let plateau = |width: usize, norm: NormConfig| -> f64 {
        let mlp = MlpConfig {
            input: width,
            width,
            depth: 40,
            classes: 2,
            activation: Activation::Linear,
            norm,
            bias: false,
            ..Default::default()
        };
        // Mean over the last 20 layers and 6 seeds.
        let values: Vec<f64> = (0..6)
            .flat_map(|seed| {
                rank_profile(&mlp, batch, seed, &device)
                    .unwrap()
                    .iter()
                    .skip(20)
                    .map(|m| m.orthogonality_gap)
                    .collect::<Vec<_>>()
            })
            .collect();
        values.iter().sum::<f64>() / values.len() as f64
    };
    let bn = || NormConfig::VarianceOnly(Default::default());
    let (narrow, wide) = (plateau(16, bn()), plateau(256, bn()));
    // d^{−1/2}: 16× the width, a quarter of the gap (slope −0.46 gives 0.28).
    let slope = (wide / narrow).ln() / 16f64.ln();
    assert!(
        (-0.62..-0.36).contains(&slope),
        "plateau {narrow} at d = 16, {wide} at d = 256: slope {slope} (≈ −1/2)"
    );
    // The top Lyapunov exponent of a product of d×d Gaussian matrices separates from the next by
    // about 1/d per layer, so at d = 16 forty layers suffice for the collapse to show.
    let collapsed = plateau(16, NormConfig::Identity);
    let limit = (1.0 - 1.0 / batch as f64).sqrt();
    assert!(
        collapsed > 0.8 * limit && narrow < 0.5 * limit,
        "without BN {collapsed} (→ {limit}), with BN {narrow}"
    );
}

/// De & Smith's bookkeeping in a single-stage pre-activation ResNet at initialization.
#[test]
fn residual_variance_doubles_unnormalized_grows_linearly_with_bn_and_is_flat_with_skipinit() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let resnet = |norm: NormConfig, residual: Residual| ResNetConfig {
        blocks: 10,
        stages: 1,
        width: 16,
        // Zero padding makes a 3×3 convolution lose the border's missing taps: at 32×32 the
        // branch keeps ~92 % of its input variance (at 8×8 only ~71 %), close to the paper's
        // variance-preserving branch.
        size: 32,
        norm,
        residual,
        ..Default::default()
    };
    let average_of =
        |config: &ResNetConfig,
         f: &dyn Fn(&normscope::analysis::metrics::identity_bias::BlockSignal) -> f64|
         -> Vec<f64> {
            let runs: Vec<Vec<f64>> = (0..4)
                .map(|seed| {
                    block_signals(config, 16, seed, &device)
                        .unwrap()
                        .iter()
                        .map(f)
                        .collect()
                })
                .collect();
            (0..runs[0].len())
                .map(|i| runs.iter().map(|r| r[i]).sum::<f64>() / runs.len() as f64)
                .collect()
        };
    let average = |config: &ResNetConfig| average_of(config, &|b| b.skip_power);

    let plain = average(&resnet(NormConfig::Identity, Residual::Standard));
    let ratios: Vec<f64> = plain.windows(2).map(|w| w[1] / w[0]).collect();
    let mean_ratio = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    // The branch (nearly) preserves the signal power E[x²] (He init), so it about doubles
    // (1 + 0.92 with the padding loss); finite width (16 channels) spreads each ratio by ~10 %,
    // the geometric mean of 9 ratios over 4 seeds by a few %. (The *variance* alone grows by
    // less: a ReLU branch puts part of its power into channel means.)
    assert!(
        (1.75..2.25).contains(&mean_ratio),
        "unnormalized skip power ratio {mean_ratio} (≈ 2)"
    );

    let bn = average(&resnet(NormConfig::default(), Residual::Standard));
    let steps: Vec<f64> = bn.windows(2).map(|w| w[1] - w[0]).collect();
    let mean_step = steps.iter().sum::<f64>() / steps.len() as f64;
    // Var(x_{ℓ+1}) ≈ Var(x_ℓ) + Var(f(BN(x))) with Var(f) ≈ 0.92: linear growth, step ≈ 1.
    assert!(
        (0.75..1.25).contains(&mean_step),
        "BN skip power step {mean_step} (≈ 1)"
    );
    assert!(bn.last().unwrap() / bn[0] < 0.5 * plain.last().unwrap() / plain[0]);

    // The skip path's *variance* (De & Smith's `avg_var`, channel means removed) with BN grows by
    // `(1 − 1/π)·c` per block, the "1 + 0.69ℓ": the branch ends in a Kaiming conv of
    // `relu(z)`, `z` a unit Gaussian per channel, whose variance is `1/2 − 1/(2π)`, times the
    // ReLU gain 2, times `c = ((3n − 2)/(3n))²`, the share of a 3×3 kernel's taps inside an n×n
    // image (n = 32: 0.9588); the rest of the branch's power, `1/π·c`, is in its channel means.
    let bn_var = average_of(&resnet(NormConfig::default(), Residual::Standard), &|b| {
        b.skip_var
    });
    let var_steps: Vec<f64> = bn_var.windows(2).map(|w| w[1] - w[0]).collect();
    let var_step = var_steps.iter().sum::<f64>() / var_steps.len() as f64;
    let c = (94.0f64 / 96.0).powi(2);
    let predicted = (1.0 - 1.0 / std::f64::consts::PI) * c;
    assert!(
        close(var_step, predicted, 0.12),
        "BN skip variance step {var_step} vs (1 − 1/π)·c = {predicted}"
    );
    // The same bookkeeping on the power is `c`: the mean part adds `c/π` per block.
    assert!(
        close(mean_step, c, 0.12),
        "BN skip power step {mean_step} vs c = {c}"
    );

    let skipinit = average(&resnet(
        NormConfig::Identity,
        Residual::SkipInit {
            alpha: 0.0,
            per_sqrt_depth: false,
        },
    ));
    for v in &skipinit {
        assert!(
            close(*v, skipinit[0], 1e-6),
            "SkipInit(α=0) skip power moved: {skipinit:?}"
        );
    }
}

/// Yang et al. 2019's growth of the gradient per layer in BN networks at initialization.
#[test]
fn gradient_growth_matches_yang_et_al() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let growth = |activation: Activation, batch: usize, width: usize| -> f64 {
        let mlp = MlpConfig {
            input: width,
            width,
            depth: 24,
            classes: 10,
            activation,
            norm: NormConfig::default(),
            bias: false,
            ..Default::default()
        };
        let runs: Vec<f64> = (0..4)
            .map(|seed| mean_growth(&layer_gradients(&mlp, batch, seed, &device).unwrap(), 3))
            .collect();
        runs.iter().map(|r| r.ln()).sum::<f64>() / runs.len() as f64
    };
    // Linear, B = 8: (B−2)/(B−3) = 1.2. Each layer's ratio fluctuates by O(1/√width); the mean of
    // log ratios over 18 layers × 4 seeds at width 256 is within ~2 % of the mean.
    let linear = growth(Activation::Linear, 8, 256).exp();
    assert!(
        close(linear, linear_growth(8), 0.04),
        "linear B=8 growth {linear} vs {}",
        linear_growth(8)
    );
    // ReLU: π/(π−1) ≈ 1.467 as B → ∞; at B = 128 the finite-batch correction is O(1/B).
    let relu = growth(Activation::Relu, 128, 256).exp();
    assert!(
        close(relu, relu_growth_limit(), 0.06),
        "ReLU B=128 growth {relu} vs {}",
        relu_growth_limit()
    );
}

/// The same metric on the same network and batch agrees across backends: the model and input are
/// drawn once on ndarray and moved to each device.
#[test]
fn metrics_agree_across_backends() {
    let _rng = common::backend_rng();
    let host = Device::ndarray();
    host.seed(11);
    let config = MlpConfig {
        input: 32,
        width: 48,
        depth: 6,
        classes: 2,
        norm: NormConfig::default(),
        ..Default::default()
    };
    let model = config.init(&host).unwrap();
    let x = Tensor::<4>::random([16, 32, 1, 1], Distribution::Normal(0.0, 1.0), &host);
    let reference: Vec<f64> = {
        let mut probe = Probe::values();
        model
            .forward(x.clone(), normscope::Mode::Train, &mut probe)
            .unwrap();
        probe
            .at(Site::Hidden)
            .map(|o| rank_measures_of(o.value.clone()).stable_rank)
            .collect()
    };
    for (name, device) in devices() {
        let moved = model.clone().to_device(&device);
        let mut probe = Probe::values();
        moved
            .forward(
                x.clone().to_device(&device),
                normscope::Mode::Train,
                &mut probe,
            )
            .unwrap();
        let got: Vec<f64> = probe
            .at(Site::Hidden)
            .map(|o| rank_measures_of(o.value.clone()).stable_rank)
            .collect();
        for (a, b) in got.iter().zip(&reference) {
            assert!(
                close(*a, *b, 1e-4),
                "{name}: stable rank {a} vs ndarray {b}"
            );
        }
    }
}

/// The convolution the models use on the CPU backends (`same_conv2d`: normscope-cpu's im2col +
/// GEMM, with its own backward) equals the backend's own convolution, values and both gradients,
/// for 1×1 and 3×3 kernels, strides 1 and 2 and odd sizes, on NdArray and (feature `flex`) Flex.
/// Flex with autodiff, where the feature is on (never called otherwise).
fn flex_autodiff() -> Device {
    #[cfg(feature = "flex")]
    return Device::flex().autodiff();
    #[cfg(not(feature = "flex"))]
    unreachable!("the flex feature is off")
}

#[test]
fn im2col_convolution_matches_the_direct_one() {
    let _rng = common::backend_rng();
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use normscope::analysis::models::same_conv2d;
    let cpus = [
        Some(Device::ndarray().autodiff()),
        cfg!(feature = "flex").then(flex_autodiff),
    ];
    let cpus: Vec<Device> = cpus.into_iter().flatten().collect();
    for (device, (n, c, o, h, w, k, stride)) in cpus.iter().flat_map(|d| {
        [
            (3, 5, 4, 7, 9, 3, 1),
            (2, 3, 6, 9, 7, 3, 2),
            (4, 6, 5, 5, 5, 1, 2),
            (2, 2, 3, 6, 6, 1, 1),
        ]
        .map(|case| (d, case))
    }) {
        let device = device.clone();
        let x = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let weight = Tensor::<4>::random([o, c, k, k], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let direct = conv2d(
            x.clone(),
            weight.clone(),
            None,
            ConvOptions::new([stride; 2], [k / 2; 2], [1; 2], 1),
        );
        let im2col = same_conv2d(x.clone(), weight.clone(), stride);
        assert_eq!(direct.dims(), im2col.dims());
        // A non-uniform upstream gradient, so that every position's gradient differs.
        let upstream = Tensor::<4>::random(direct.dims(), Distribution::Normal(0.0, 1.0), &device);
        let max_diff = |a: Tensor<4>, b: Tensor<4>| (a - b).abs().max().into_scalar::<f32>();
        assert!(
            max_diff(direct.clone(), im2col.clone()) < 1e-4,
            "{device:?} y, case {n} {c} {o} {h} {w} {k} {stride}"
        );
        let (g1, g2) = (
            (direct * upstream.clone()).sum().backward(),
            (im2col * upstream).sum().backward(),
        );
        assert!(
            max_diff(x.grad(&g1).unwrap(), x.grad(&g2).unwrap()) < 1e-4,
            "{device:?} dx, case {n} {c} {o} {h} {w} {k} {stride}"
        );
        assert!(
            max_diff(weight.grad(&g1).unwrap(), weight.grad(&g2).unwrap()) < 1e-3,
            "{device:?} dW, case {n} {c} {o} {h} {w} {k} {stride}"
        );
    }
}
