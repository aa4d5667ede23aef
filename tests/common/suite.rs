//! The backend suite: every normalizer against the f64 references, gradients against finite
//! differences, the large-offset precision case. Each function takes the device to run on;
//! `tests/backends.rs` instantiates them once per backend (with and without autodiff).

use burn::module::Param;
use burn::tensor::{Device, Tensor};
use normscope::{
    BatchNormConfig, BatchRenormConfig, GhostBatchNormConfig, GroupNormConfig, InstanceNormConfig,
    LayerNormConfig, LpBatchNormConfig, LpOrder, MeanOnlyConfig, Mode, NoisyBatchNormConfig,
    Normalization, RmsNormConfig, VarianceOnlyConfig,
};

use super::reference::{self as r, Ncs};
use super::{randn, tensor, values};

const EPS: f64 = 1e-5;
const MOMENTUM: f64 = 0.2;
/// Relative tolerance (‖got − expected‖/‖expected‖) of f32 layers against the f64 references.
const TOL: f64 = 2e-5;

fn assert_close(got: &[f64], expected: &[f64], tol: f64, what: &str) {
    let err = r::rel_error(got, expected);
    assert!(
        err <= tol,
        "{what}: relative error {err:.3e} > {tol:.0e}\n got      {:?}\n expected {:?}",
        &got[..got.len().min(6)],
        &expected[..expected.len().min(6)]
    );
}

fn gamma_beta(c: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    (randn(c, seed, 1.0, 0.3), randn(c, seed + 1, 0.0, 0.5))
}

fn param(v: &[f64], device: &Device) -> Option<Param<Tensor<1>>> {
    Some(Param::from_tensor(tensor(v, [v.len()], device)))
}

fn input(len: usize, step: u64) -> Vec<f64> {
    randn(len, 1000 + step, 2.0, 3.0)
}

/// Runs `f` on a 2-D, a 3-D and a 4-D shape (`[N, C]`, `[N, C, L]`, `[N, C, H, W]`), with `C`
/// divisible by 2 and `N` divisible by 2.
macro_rules! each_shape {
    ($f:ident, $device:expr) => {{
        $f([6, 4], $device);
        $f([4, 4, 5], $device);
        $f([2, 4, 3, 5], $device);
    }};
}

fn running_values(state: &Option<burn::module::RunningState<Tensor<1>>>) -> Vec<f64> {
    values(state.as_ref().expect("running statistic").value_sync())
}

/// The layer's running mean and variance against the reference's, within `tol`.
fn assert_running(
    mean: &Option<burn::module::RunningState<Tensor<1>>>,
    var: &Option<burn::module::RunningState<Tensor<1>>>,
    expected: &r::Running,
    tol: f64,
    what: &str,
) {
    let mean_what = format!("{what} running mean");
    assert_close(&running_values(mean), &expected.mean, tol, &mean_what);
    let var_what = format!("{what} running var");
    assert_close(&running_values(var), &expected.var, tol, &var_what);
}

// ---------------------------------------------------------------------------------------------
// BatchNorm family.

fn batch_norm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let sh = Ncs::of(&dims);
    let (gamma, beta) = gamma_beta(sh.c, 7);
    let mut layer = BatchNormConfig::new()
        .with_momentum(MOMENTUM)
        .init(sh.c, device)
        .unwrap();
    layer.weight = param(&gamma, device);
    layer.bias = param(&beta, device);
    let mut running = r::Running::new(sh.c);
    for step in 0..3 {
        let x = input(sh.len(), step);
        let expected = r::batch_norm_train(&x, sh, &gamma, &beta, EPS, MOMENTUM, &mut running);
        let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
        assert_close(
            &got,
            &expected,
            TOL,
            &format!("BatchNorm {dims:?} train step {step}"),
        );
    }
    assert_running(
        &layer.running_mean,
        &layer.running_var,
        &running,
        TOL,
        "BatchNorm",
    );
    let x = input(sh.len(), 9);
    let expected = r::batch_norm_eval(&x, sh, &gamma, &beta, EPS, &running);
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    assert_close(&got, &expected, TOL, &format!("BatchNorm {dims:?} eval"));

    // Without running statistics, eval mode uses the batch statistics (as PyTorch).
    let layer = BatchNormConfig::new()
        .with_track_running_stats(false)
        .with_affine(false)
        .init(sh.c, device)
        .unwrap();
    let ones = vec![1.0; sh.c];
    let zeros = vec![0.0; sh.c];
    let expected = r::batch_norm_train(&x, sh, &ones, &zeros, EPS, 0.0, &mut r::Running::new(sh.c));
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    assert_close(
        &got,
        &expected,
        TOL,
        "BatchNorm without running stats, eval",
    );
    assert!(layer.running_mean.is_none() && layer.weight.is_none());
}

pub fn batch_norm(device: &Device) {
    each_shape!(batch_norm_case, device);
}

fn ghost_batch_norm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let sh = Ncs::of(&dims);
    let virtual_batch = 2;
    let (gamma, beta) = gamma_beta(sh.c, 11);
    let mut layer = GhostBatchNormConfig::new()
        .with_virtual_batch_size(virtual_batch)
        .with_momentum(MOMENTUM)
        .init(sh.c, device)
        .unwrap();
    layer.inner.weight = param(&gamma, device);
    layer.inner.bias = param(&beta, device);
    let mut running = r::Running::new(sh.c);
    for step in 0..2 {
        let x = input(sh.len(), step);
        let expected = r::ghost_batch_norm_train(
            &x,
            sh,
            virtual_batch,
            &gamma,
            &beta,
            EPS,
            MOMENTUM,
            &mut running,
        );
        let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
        assert_close(
            &got,
            &expected,
            TOL,
            &format!("GhostBatchNorm {dims:?} train"),
        );
    }
    assert_running(
        &layer.inner.running_mean,
        &layer.inner.running_var,
        &running,
        TOL,
        "GhostBatchNorm",
    );
    let x = input(sh.len(), 9);
    let expected = r::batch_norm_eval(&x, sh, &gamma, &beta, EPS, &running);
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    assert_close(&got, &expected, TOL, "GhostBatchNorm eval");
}

pub fn ghost_batch_norm(device: &Device) {
    each_shape!(ghost_batch_norm_case, device);
}

fn batch_renorm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let sh = Ncs::of(&dims);
    let (r_max, d_max) = (1.5, 0.5);
    let (gamma, beta) = gamma_beta(sh.c, 13);
    let mut layer = BatchRenormConfig::new()
        .with_r_max(r_max)
        .with_d_max(d_max)
        .with_momentum(MOMENTUM)
        .init(sh.c, device)
        .unwrap();
    layer.inner.weight = param(&gamma, device);
    layer.inner.bias = param(&beta, device);
    let mut running = r::Running::new(sh.c);
    let mut clipped = false;
    for step in 0..3 {
        let x = input(sh.len(), step);
        let (expected, (rr, dd)) = r::batch_renorm_train(
            &x,
            sh,
            &gamma,
            &beta,
            EPS,
            r_max,
            d_max,
            MOMENTUM,
            &mut running,
            None,
        );
        clipped |= rr.iter().any(|v| (v - r_max).abs() < 1e-12)
            || dd.iter().any(|v| (v.abs() - d_max).abs() < 1e-12);
        let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
        assert_close(
            &got,
            &expected,
            TOL,
            &format!("BatchRenorm {dims:?} train step {step}"),
        );
    }
    assert!(clipped, "the test data must exercise the r/d clipping");
    assert_running(
        &layer.inner.running_mean,
        &layer.inner.running_var,
        &running,
        TOL,
        "BatchRenorm",
    );
    let x = input(sh.len(), 9);
    let expected = r::batch_norm_eval(&x, sh, &gamma, &beta, EPS, &running);
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    assert_close(&got, &expected, TOL, "BatchRenorm eval");
}

pub fn batch_renorm(device: &Device) {
    each_shape!(batch_renorm_case, device);
}

fn lp_batch_norm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let sh = Ncs::of(&dims);
    for (p, order) in [
        (1.0, LpOrder::L1),
        (2.0, LpOrder::L2),
        (f64::INFINITY, LpOrder::Inf),
    ] {
        let (gamma, beta) = gamma_beta(sh.c, 17);
        let mut layer = LpBatchNormConfig::new()
            .with_p(order)
            .with_momentum(MOMENTUM)
            .init(sh.c, device)
            .unwrap();
        layer.weight = param(&gamma, device);
        layer.bias = param(&beta, device);
        let (mut run_mean, mut run_scale) = (vec![0.0; sh.c], vec![1.0; sh.c]);
        for step in 0..2 {
            let x = input(sh.len(), step);
            let (expected, mean, scale) = r::lp_batch_norm(&x, sh, p, &gamma, &beta, EPS);
            for c in 0..sh.c {
                run_mean[c] = (1.0 - MOMENTUM) * run_mean[c] + MOMENTUM * mean[c];
                run_scale[c] = (1.0 - MOMENTUM) * run_scale[c] + MOMENTUM * scale[c];
            }
            let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
            assert_close(
                &got,
                &expected,
                TOL,
                &format!("LpBatchNorm p={p} {dims:?} train"),
            );
        }
        assert_close(
            &values(layer.running_mean.value_sync()),
            &run_mean,
            TOL,
            "LpBatchNorm running mean",
        );
        assert_close(
            &values(layer.running_scale.value_sync()),
            &run_scale,
            TOL,
            "LpBatchNorm running scale",
        );
        let x = input(sh.len(), 9);
        let mut expected = vec![0.0; x.len()];
        for n in 0..sh.n {
            for c in 0..sh.c {
                for s in 0..sh.s {
                    let i = sh.at(n, c, s);
                    expected[i] = gamma[c] * (x[i] - run_mean[c]) / (run_scale[c] + EPS) + beta[c];
                }
            }
        }
        let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
        assert_close(&got, &expected, TOL, &format!("LpBatchNorm p={p} eval"));
    }
}

pub fn lp_batch_norm(device: &Device) {
    each_shape!(lp_batch_norm_case, device);
}

fn variance_only_case<const D: usize>(dims: [usize; D], device: &Device) {
    let sh = Ncs::of(&dims);
    let (gamma, beta) = gamma_beta(sh.c, 19);
    let mut layer = VarianceOnlyConfig::new()
        .with_momentum(MOMENTUM)
        .init(sh.c, device)
        .unwrap();
    layer.weight = param(&gamma, device);
    layer.bias = param(&beta, device);
    let mut running = vec![1.0; sh.c];
    for step in 0..2 {
        let x = input(sh.len(), step);
        let (expected, second) = r::variance_only(&x, sh, &gamma, &beta, EPS);
        for c in 0..sh.c {
            running[c] = (1.0 - MOMENTUM) * running[c] + MOMENTUM * second[c];
        }
        let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
        assert_close(
            &got,
            &expected,
            TOL,
            &format!("VarianceOnly {dims:?} train"),
        );
    }
    assert_close(
        &values(layer.running_second_moment.value_sync()),
        &running,
        TOL,
        "VarianceOnly running second moment",
    );
    let x = input(sh.len(), 9);
    let mut expected = vec![0.0; x.len()];
    for n in 0..sh.n {
        for c in 0..sh.c {
            for s in 0..sh.s {
                let i = sh.at(n, c, s);
                expected[i] = gamma[c] * x[i] / (running[c] + EPS).sqrt() + beta[c];
            }
        }
    }
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    assert_close(&got, &expected, TOL, "VarianceOnly eval");
}

pub fn variance_only(device: &Device) {
    each_shape!(variance_only_case, device);
}

fn mean_only_case<const D: usize>(dims: [usize; D], device: &Device) {
    let sh = Ncs::of(&dims);
    let (gamma, beta) = gamma_beta(sh.c, 23);
    let mut layer = MeanOnlyConfig::new()
        .with_momentum(MOMENTUM)
        .init(sh.c, device)
        .unwrap();
    layer.weight = param(&gamma, device);
    layer.bias = param(&beta, device);
    let mut running = vec![0.0; sh.c];
    for step in 0..2 {
        let x = input(sh.len(), step);
        let (expected, mean) = r::mean_only(&x, sh, &gamma, &beta);
        for c in 0..sh.c {
            running[c] = (1.0 - MOMENTUM) * running[c] + MOMENTUM * mean[c];
        }
        let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
        assert_close(&got, &expected, TOL, &format!("MeanOnly {dims:?} train"));
    }
    assert_close(
        &values(layer.running_mean.value_sync()),
        &running,
        TOL,
        "MeanOnly running mean",
    );
    let x = input(sh.len(), 9);
    let mut expected = vec![0.0; x.len()];
    for n in 0..sh.n {
        for c in 0..sh.c {
            for s in 0..sh.s {
                let i = sh.at(n, c, s);
                expected[i] = gamma[c] * (x[i] - running[c]) + beta[c];
            }
        }
    }
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    assert_close(&got, &expected, TOL, "MeanOnly eval");
}

pub fn mean_only(device: &Device) {
    each_shape!(mean_only_case, device);
}

/// Per channel, the least-squares fit `got ≈ s · clean + m`: `(s, m, largest residual)`.
fn channel_affine_fit(got: &[f64], clean: &[f64], sh: Ncs, c: usize) -> (f64, f64, f64) {
    let idx: Vec<usize> = (0..sh.n)
        .flat_map(|n| (0..sh.s).map(move |s| sh.at(n, c, s)))
        .collect();
    let m = idx.len() as f64;
    let (cm, gm) = (
        idx.iter().map(|&i| clean[i]).sum::<f64>() / m,
        idx.iter().map(|&i| got[i]).sum::<f64>() / m,
    );
    let cov: f64 = idx.iter().map(|&i| (clean[i] - cm) * (got[i] - gm)).sum();
    let var: f64 = idx.iter().map(|&i| (clean[i] - cm).powi(2)).sum();
    let scale = cov / var;
    let shift = gm - scale * cm;
    let residual = idx
        .iter()
        .map(|&i| (got[i] - scale * clean[i] - shift).abs())
        .fold(0.0, f64::max);
    (scale, shift, residual)
}

/// NoisyBatchNorm: in train mode the output is, per channel, exactly `s · BN(x) + m` with
/// `s ∈ [1, n_σ]`, `m ∈ [−n_μ, n_μ]` redrawn at every step; with `per_sample` every activation
/// gets its own draw (no per-channel affine map explains it, yet each value stays inside the
/// bounds); eval mode is plain BatchNorm.
pub fn noisy_batch_norm(device: &Device) {
    let dims = [64, 4, 8, 8];
    let sh = Ncs::of(&dims);
    let (a, s_hi) = (0.8, 1.5);
    let ones = vec![1.0; sh.c];
    let zeros = vec![0.0; sh.c];
    let per_sample = NoisyBatchNormConfig::new()
        .with_noise_mean_max(a)
        .with_noise_scale_max(s_hi)
        .with_per_sample(true)
        .init(sh.c, device)
        .unwrap();
    device.seed(4);
    let x = input(sh.len(), 0);
    let clean = r::batch_norm_train(&x, sh, &ones, &zeros, EPS, 0.1, &mut r::Running::new(sh.c));
    let got = values(per_sample.forward(tensor(&x, dims, device), Mode::Train));
    for (i, (g, c)) in got.iter().zip(&clean).enumerate() {
        let (lo, hi) = (c.min(s_hi * c) - a, c.max(s_hi * c) + a);
        assert!(
            *g >= lo - 1e-4 && *g <= hi + 1e-4,
            "per-sample noise at {i}: {g} outside [{lo}, {hi}]"
        );
    }
    for c in 0..sh.c {
        let (_, _, residual) = channel_affine_fit(&got, &clean, sh, c);
        assert!(
            residual > 0.1,
            "per-sample noise looks per-channel in channel {c} (residual {residual})"
        );
    }

    let layer = NoisyBatchNormConfig::new()
        .with_noise_mean_max(a)
        .with_noise_scale_max(s_hi)
        .init(sh.c, device)
        .unwrap();
    device.seed(5);
    let mut step_shifts = vec![];
    for step in 0..2 {
        let x = input(sh.len(), step);
        let clean =
            r::batch_norm_train(&x, sh, &ones, &zeros, EPS, 0.1, &mut r::Running::new(sh.c));
        let got = values(layer.forward(tensor(&x, dims, device), Mode::Train));
        let mut shifts = vec![];
        for c in 0..sh.c {
            let (scale, shift, residual) = channel_affine_fit(&got, &clean, sh, c);
            assert!(
                residual <= 1e-3,
                "NoisyBatchNorm is not s·BN(x) + m in channel {c}: residual {residual}"
            );
            assert!(
                (1.0 - 1e-4..=s_hi + 1e-4).contains(&scale),
                "NoisyBatchNorm scale {scale} outside [1, {s_hi}]"
            );
            assert!(
                shift.abs() <= a + 1e-4,
                "NoisyBatchNorm shift {shift} outside ±{a}"
            );
            shifts.push(shift);
        }
        step_shifts.push(shifts);
    }
    assert!(
        r::max_abs_diff(&step_shifts[0], &step_shifts[1]) > 1e-2,
        "the noise must change between steps: {step_shifts:?}"
    );
    let x = input(sh.len(), 9);
    let got = values(layer.forward(tensor(&x, dims, device), Mode::Eval));
    let mut running = r::Running::new(sh.c);
    for step in 0..2 {
        r::batch_norm_train(
            &input(sh.len(), step),
            sh,
            &ones,
            &zeros,
            EPS,
            0.1,
            &mut running,
        );
    }
    let expected = r::batch_norm_eval(&x, sh, &ones, &zeros, EPS, &running);
    assert_close(&got, &expected, TOL, "NoisyBatchNorm eval is BatchNorm");
}

// ---------------------------------------------------------------------------------------------
// Per-sample family.

fn layer_norm_case<const D: usize>(dims: [usize; D], device: &Device) {
    let n = dims[0];
    let d: usize = dims[1..].iter().product();
    let (gamma, beta) = gamma_beta(d, 29);
    let mut layer = LayerNormConfig::new().init(&dims[1..], device).unwrap();
    layer.weight = param(&gamma, device);
    layer.bias = param(&beta, device);
    let x = input(n * d, 3);
    let expected = r::layer_norm(&x, n, d, &gamma, &beta, EPS);
    for mode in [Mode::Train, Mode::Eval] {
        let got = values(layer.forward(tensor(&x, dims, device), mode));
        assert_close(
            &got,
            &expected,
            TOL,
            &format!("LayerNorm {dims:?} {mode:?}"),
        );
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
    for mode in [Mode::Train, Mode::Eval] {
        let got = values(layer.forward(tensor(&x, dims, device), mode));
        assert_close(&got, &expected, TOL, &format!("RmsNorm {dims:?} {mode:?}"));
    }
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
        for mode in [Mode::Train, Mode::Eval] {
            let got = values(layer.forward(tensor(&x, dims, device), mode));
            assert_close(
                &got,
                &expected,
                TOL,
                &format!("GroupNorm({groups}) {dims:?} {mode:?}"),
            );
        }
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

// ---------------------------------------------------------------------------------------------
// Gradients: burn's autodiff against central finite differences of the f64 references, for the
// loss `L = Σ w ⊙ y` with random `w`.

type Reference<'a> = &'a dyn Fn(&[f64], &[f64], &[f64]) -> Vec<f64>;

fn loss(y: &[f64], w: &[f64]) -> f64 {
    y.iter().zip(w).map(|(a, b)| a * b).sum()
}

fn finite_difference(f: &dyn Fn(&[f64]) -> f64, at: &[f64]) -> Vec<f64> {
    let h = 1e-5;
    (0..at.len())
        .map(|i| {
            let mut plus = at.to_vec();
            let mut minus = at.to_vec();
            plus[i] += h;
            minus[i] -= h;
            (f(&plus) - f(&minus)) / (2.0 * h)
        })
        .collect()
}

/// Checks `∂L/∂x`, `∂L/∂γ`, `∂L/∂β` of `run` (which builds the layer around the given
/// parameters and runs it) against finite differences of `reference`.
fn check_gradients<const D: usize>(
    what: &str,
    device: &Device,
    dims: [usize; D],
    affine_len: usize,
    with_bias: bool,
    run: &dyn Fn(Tensor<D>, Param<Tensor<1>>, Param<Tensor<1>>) -> Tensor<D>,
    reference: Reference<'_>,
) {
    let len: usize = dims.iter().product();
    let x = input(len, 77);
    let w = randn(len, 78, 0.0, 1.0);
    let (gamma, beta) = gamma_beta(affine_len, 79);

    let xt = tensor(&x, dims, device).require_grad();
    let pg = Param::from_tensor(tensor(&gamma, [affine_len], device));
    let pb = Param::from_tensor(tensor(&beta, [affine_len], device));
    let y = run(xt.clone(), pg.clone(), pb.clone());
    let grads = y.mul(tensor(&w, dims, device)).sum().backward();
    let gx = values(xt.grad(&grads).expect("gradient of x"));
    let gg = values(pg.val().grad(&grads).expect("gradient of gamma"));

    let fx = finite_difference(&|xp| loss(&reference(xp, &gamma, &beta), &w), &x);
    let fg = finite_difference(&|gp| loss(&reference(&x, gp, &beta), &w), &gamma);
    let tol = 1e-4;
    assert_close(&gx, &fx, tol, &format!("{what}: dL/dx"));
    assert_close(&gg, &fg, tol, &format!("{what}: dL/dgamma"));
    if with_bias {
        let gb = values(pb.val().grad(&grads).expect("gradient of beta"));
        let fb = finite_difference(&|bp| loss(&reference(&x, &gamma, bp), &w), &beta);
        assert_close(&gb, &fb, tol, &format!("{what}: dL/dbeta"));
    }
}

pub fn gradients(device: &Device) {
    assert!(
        device.is_autodiff(),
        "gradient tests need an autodiff device"
    );
    let dims = [4, 4, 5];
    let sh = Ncs::of(&dims);
    let c = sh.c;
    let d = c * sh.s;

    check_gradients(
        "BatchNorm train",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = BatchNormConfig::new().init(c, device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::batch_norm_train(x, sh, g, b, EPS, 0.1, &mut r::Running::new(c)),
    );

    check_gradients(
        "BatchNorm eval",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = BatchNormConfig::new().init(c, device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Eval)
        },
        &|x, g, b| r::batch_norm_eval(x, sh, g, b, EPS, &r::Running::new(c)),
    );

    check_gradients(
        "GhostBatchNorm",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = GhostBatchNormConfig::new()
                .with_virtual_batch_size(2)
                .init(c, device)
                .unwrap();
            (l.inner.weight, l.inner.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::ghost_batch_norm_train(x, sh, 2, g, b, EPS, 0.1, &mut r::Running::new(c)),
    );

    // r and d are constants of the gradient (stop_grad in Ioffe 2017).
    let x0 = input(sh.len(), 77);
    let (_, fixed) = r::batch_renorm_train(
        &x0,
        sh,
        &vec![1.0; c],
        &vec![0.0; c],
        EPS,
        1.5,
        0.5,
        0.1,
        &mut r::Running::new(c),
        None,
    );
    check_gradients(
        "BatchRenorm",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = BatchRenormConfig::new()
                .with_r_max(1.5)
                .with_d_max(0.5)
                .init(c, device)
                .unwrap();
            (l.inner.weight, l.inner.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| {
            r::batch_renorm_train(
                x,
                sh,
                g,
                b,
                EPS,
                1.5,
                0.5,
                0.1,
                &mut r::Running::new(c),
                Some(&fixed),
            )
            .0
        },
    );

    check_gradients(
        "LayerNorm",
        device,
        dims,
        d,
        true,
        &|x, g, b| {
            let mut l = LayerNormConfig::new().init(&dims[1..], device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::layer_norm(x, sh.n, d, g, b, EPS),
    );

    check_gradients(
        "GroupNorm(2)",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = GroupNormConfig::new()
                .with_groups(2)
                .init(c, device)
                .unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::group_norm(x, sh, 2, g, b, EPS).0,
    );

    check_gradients(
        "InstanceNorm",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = InstanceNormConfig::new()
                .with_affine(true)
                .init(c, device)
                .unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::group_norm(x, sh, c, g, b, EPS).0,
    );

    check_gradients(
        "RmsNorm",
        device,
        dims,
        d,
        false,
        &|x, g, _| {
            let mut l = RmsNormConfig::new()
                .with_eps(Some(1e-6))
                .init(&dims[1..], device)
                .unwrap();
            l.weight = Some(g);
            l.forward(x, Mode::Train)
        },
        &|x, g, _| r::rms_norm(x, sh.n, d, g, 1e-6),
    );

    for (p, order) in [
        (1.0, LpOrder::L1),
        (2.0, LpOrder::L2),
        (f64::INFINITY, LpOrder::Inf),
    ] {
        check_gradients(
            &format!("LpBatchNorm p={p}"),
            device,
            dims,
            c,
            true,
            &|x, g, b| {
                let mut l = LpBatchNormConfig::new()
                    .with_p(order)
                    .init(c, device)
                    .unwrap();
                (l.weight, l.bias) = (Some(g), Some(b));
                l.forward(x, Mode::Train)
            },
            &|x, g, b| r::lp_batch_norm(x, sh, p, g, b, EPS).0,
        );
    }

    check_gradients(
        "VarianceOnly",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = VarianceOnlyConfig::new().init(c, device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::variance_only(x, sh, g, b, EPS).0,
    );

    check_gradients(
        "MeanOnly",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = MeanOnlyConfig::new().init(c, device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::mean_only(x, sh, g, b).0,
    );

    // NoisyBatchNorm's noise is `s ⊙ y + m` with `s`, `m` constants of the graph: with `s = 1`
    // its gradients are BatchNorm's; with `s ~ U(1, 1.5)` each channel's gradient is BatchNorm's
    // times that channel's `s`.
    let x = input(sh.len(), 3);
    let w = tensor(&randn(sh.len(), 4, 0.0, 1.0), dims, device);
    let grad_of = |noisy: Option<f64>| {
        let xt = tensor(&x, dims, device).require_grad();
        let y = match noisy {
            Some(scale_max) => NoisyBatchNormConfig::new()
                .with_noise_scale_max(scale_max)
                .init(c, device)
                .unwrap()
                .forward(xt.clone(), Mode::Train),
            None => BatchNormConfig::new()
                .init(c, device)
                .unwrap()
                .forward(xt.clone(), Mode::Train),
        };
        values(xt.grad(&y.mul(w.clone()).sum().backward()).unwrap())
    };
    let plain = grad_of(None);
    assert_close(
        &grad_of(Some(1.0)),
        &plain,
        1e-5,
        "NoisyBatchNorm gradient (additive noise only) is BatchNorm's",
    );
    let scaled = grad_of(Some(1.5));
    for ch in 0..c {
        let idx: Vec<usize> = (0..sh.n)
            .flat_map(|n| (0..sh.s).map(move |s| sh.at(n, ch, s)))
            .collect();
        let ratio = idx.iter().map(|&i| scaled[i] * plain[i]).sum::<f64>()
            / idx.iter().map(|&i| plain[i] * plain[i]).sum::<f64>();
        assert!(
            (1.0 - 1e-4..=1.5 + 1e-4).contains(&ratio),
            "channel {ch}: NoisyBatchNorm gradient is {ratio}× BatchNorm's, not in [1, 1.5]"
        );
        let expected: Vec<f64> = idx.iter().map(|&i| ratio * plain[i]).collect();
        let got: Vec<f64> = idx.iter().map(|&i| scaled[i]).collect();
        assert_close(
            &got,
            &expected,
            1e-4,
            "NoisyBatchNorm gradient is BatchNorm's times the channel's scale",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Precision: 1e4 + N(0, 1) in f32 with ≥ 1e5 values per statistic, against f64 on the same input.

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
