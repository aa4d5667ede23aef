//! The BatchNorm family: BatchNorm, GhostBatchNorm, BatchRenorm, ℓp-BatchNorm, VarianceOnly,
//! MeanOnly and NoisyBatchNorm against their f64 references, running statistics included.

use burn::tensor::Device;
use normscope::{
    BatchNormConfig, BatchRenormConfig, GhostBatchNormConfig, LpBatchNormConfig, LpOrder,
    MeanOnlyConfig, Mode, NoisyBatchNormConfig, Normalization, VarianceOnlyConfig,
};

use super::*;
use crate::common::reference::{self as r, Ncs};
use crate::common::{tensor, values};

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
