//! Running statistics of every layer that keeps them: the cumulative momentum (PyTorch's
//! `momentum=None`) against the equal-weight f64 average of the batch statistics, the
//! `num_batches_tracked` count, and frozen statistics (train mode computes the eval-mode output,
//! updates nothing, and `γ`, `β` still get their gradients).

use burn::module::RunningState;
use burn::tensor::{Device, Tensor};
use normscope::{Mode, Norm, NormConfig, Normalization};

use super::*;
use crate::common::reference::{self as r, Ncs};
use crate::common::{tensor, values};

const DIMS: [usize; 4] = [4, 3, 2, 5];
const STEPS: u64 = 4;

/// Every kind with running statistics, noise switched off, momentum as `momentum` (TOML).
fn configs(momentum: &str) -> Vec<NormConfig> {
    [
        "kind = \"batch_norm\"",
        "kind = \"ghost_batch_norm\"\nvirtual_batch_size = 2",
        "kind = \"batch_renorm\"",
        "kind = \"instance_norm\"\ntrack_running_stats = true\naffine = true",
        "kind = \"lp_batch_norm\"\np = 1",
        "kind = \"variance_only\"",
        "kind = \"mean_only\"",
        "kind = \"noisy_batch_norm\"\nnoise_mean_max = 0.0\nnoise_scale_max = 1.0",
    ]
    .iter()
    .map(|kind| toml::from_str(&format!("{kind}\nmomentum = {momentum}")).unwrap())
    .collect()
}

fn state(s: &RunningState<Tensor<1>>) -> Vec<f64> {
    values(s.value_sync())
}

/// The layer's running statistics in a fixed order, and its `num_batches_tracked`.
fn running_of(norm: &Norm) -> (Vec<Vec<f64>>, f64) {
    let opt = |s: &Option<RunningState<Tensor<1>>>| state(s.as_ref().expect("tracked"));
    let bn = |l: &normscope::BatchNorm| {
        (
            vec![opt(&l.running_mean), opt(&l.running_var)],
            opt(&l.num_batches_tracked)[0],
        )
    };
    match norm {
        Norm::BatchNorm(l) => bn(l),
        Norm::GhostBatchNorm(l) => bn(&l.inner),
        Norm::BatchRenorm(l) => bn(&l.inner),
        Norm::NoisyBatchNorm(l) => bn(&l.inner),
        Norm::InstanceNorm(l) => (
            vec![opt(&l.running_mean), opt(&l.running_var)],
            opt(&l.num_batches_tracked)[0],
        ),
        Norm::LpBatchNorm(l) => (
            vec![state(&l.running_mean), state(&l.running_scale)],
            state(&l.num_batches_tracked)[0],
        ),
        Norm::VarianceOnly(l) => (
            vec![state(&l.running_second_moment)],
            state(&l.num_batches_tracked)[0],
        ),
        Norm::MeanOnly(l) => (
            vec![state(&l.running_mean)],
            state(&l.num_batches_tracked)[0],
        ),
        other => panic!("{} keeps no running statistics", other.name()),
    }
}

/// Per channel over samples `batch`: mean, unbiased variance, mean square, mean |x − μ|.
fn moments(x: &[f64], sh: Ncs, batch: std::ops::Range<usize>) -> [Vec<f64>; 4] {
    let m = (batch.len() * sh.s) as f64;
    let (mean, var) = r::channel_moments(x, sh, batch.clone());
    let unbiased = var.iter().map(|v| v * m / (m - 1.0)).collect();
    let square = mean.iter().zip(&var).map(|(mu, v)| v + mu * mu).collect();
    let abs_dev = (0..sh.c)
        .map(|c| {
            let mut sum = 0.0;
            for n in batch.clone() {
                for s in 0..sh.s {
                    sum += (x[sh.at(n, c, s)] - mean[c]).abs();
                }
            }
            sum / m
        })
        .collect();
    [mean, unbiased, square, abs_dev]
}

/// What one training forward contributes to each running statistic of `config`'s layer: one
/// entry per batch statistic folded in (a GhostBatchNorm folds in one per virtual batch).
fn contributions(config: &NormConfig, x: &[f64], sh: Ncs) -> Vec<Vec<Vec<f64>>> {
    match config {
        NormConfig::GhostBatchNorm(g) => (0..sh.n / g.virtual_batch_size)
            .map(|k| {
                let [mean, var, ..] = moments(
                    x,
                    sh,
                    k * g.virtual_batch_size..(k + 1) * g.virtual_batch_size,
                );
                vec![mean, var]
            })
            .collect(),
        NormConfig::InstanceNorm(_) => {
            // The batch average of each instance's mean and unbiased variance.
            let one = Ncs { n: 1, ..sh };
            let (mut mean, mut var) = (vec![0.0; sh.c], vec![0.0; sh.c]);
            for n in 0..sh.n {
                let sample = &x[n * sh.c * sh.s..(n + 1) * sh.c * sh.s];
                let [m, v, ..] = moments(sample, one, 0..1);
                for c in 0..sh.c {
                    mean[c] += m[c] / sh.n as f64;
                    var[c] += v[c] / sh.n as f64;
                }
            }
            vec![vec![mean, var]]
        }
        other => {
            let [mean, var, square, abs_dev] = moments(x, sh, 0..sh.n);
            vec![match other {
                NormConfig::LpBatchNorm(_) => vec![mean, abs_dev],
                NormConfig::VarianceOnly(_) => vec![square],
                NormConfig::MeanOnly(_) => vec![mean],
                _ => vec![mean, var],
            }]
        }
    }
}

/// `momentum = "cumulative"`: after `STEPS` steps every running statistic is the plain average
/// of the batch statistics folded in (the initial 0 and 1 weigh nothing), and
/// `num_batches_tracked` counts them; a numeric momentum counts the same batches.
fn cumulative_average(device: &Device) {
    let sh = Ncs::of(&DIMS);
    for (config, fixed) in configs("\"cumulative\"").into_iter().zip(configs("0.3")) {
        let norm = config.init(&DIMS[1..], device).unwrap();
        let fixed = fixed.init(&DIMS[1..], device).unwrap();
        let mut seen: Vec<Vec<Vec<f64>>> = vec![];
        for step in 0..STEPS {
            let x = input(sh.len(), step);
            norm.forward(tensor(&x, DIMS, device), Mode::Train);
            fixed.forward(tensor(&x, DIMS, device), Mode::Train);
            seen.extend(contributions(&config, &x, sh));
        }
        let (got, count) = running_of(&norm);
        assert_eq!(
            count,
            seen.len() as f64,
            "{}: num_batches_tracked",
            config.name()
        );
        assert_eq!(
            running_of(&fixed).1,
            count,
            "{}: count with momentum 0.3",
            config.name()
        );
        for (k, got) in got.iter().enumerate() {
            let average: Vec<f64> = (0..sh.c)
                .map(|c| seen.iter().map(|s| s[k][c]).sum::<f64>() / seen.len() as f64)
                .collect();
            assert_close(
                got,
                &average,
                TOL,
                &format!("{} cumulative running statistic {k}", config.name()),
            );
        }
    }
}

/// Frozen statistics: train mode gives the eval-mode output, leaves the running statistics and
/// the count alone; unfrozen, train mode uses the batch again. On an autodiff device, BatchNorm's
/// `∂L/∂γ`, `∂L/∂β` and `∂L/∂x` are those of the running-statistics map (f64 reference).
fn frozen(device: &Device) {
    let sh = Ncs::of(&DIMS);
    for config in configs("0.2") {
        let norm = config.init(&DIMS[1..], device).unwrap();
        for step in 0..2 {
            norm.forward(tensor(&input(sh.len(), step), DIMS, device), Mode::Train);
        }
        let before = running_of(&norm);
        let frozen = norm.clone().freeze_statistics().unwrap();
        assert!(frozen.statistics_frozen() && !norm.statistics_frozen());
        let data = input(sh.len(), 7);
        let x = tensor(&data, DIMS, device);
        let eval = values(norm.forward(x.clone(), Mode::Eval));
        let train = values(frozen.forward(x.clone(), Mode::Train));
        let what = format!("{} frozen train mode = eval mode", config.name());
        assert_close(&train, &eval, 1e-6, &what);
        assert_eq!(
            running_of(&frozen),
            before,
            "{}: frozen statistics moved",
            config.name()
        );
        let thawed = frozen.unfreeze_statistics().unwrap();
        let batch = values(thawed.forward(x, Mode::Train));
        // (BatchRenorm's train output is the eval output whenever r and d are not clipped.)
        assert!(
            r::max_abs_diff(&batch, &eval) > 1e-2 || matches!(config, NormConfig::BatchRenorm(_)),
            "{}: unfrozen train mode should use the batch",
            config.name()
        );
        let counted = contributions(&config, &data, sh).len() as f64;
        assert_eq!(
            running_of(&thawed).1,
            before.1 + counted,
            "{}",
            config.name()
        );
    }
    if !device.is_autodiff() {
        return;
    }
    let (gamma, beta) = gamma_beta(sh.c, 5);
    let mut layer = normscope::BatchNormConfig::new()
        .init(sh.c, device)
        .unwrap();
    layer.weight = param(&gamma, device);
    layer.bias = param(&beta, device);
    let mut running = r::Running::new(sh.c);
    for step in 0..2 {
        let x = input(sh.len(), step);
        layer.forward(tensor(&x, DIMS, device), Mode::Train);
        r::batch_norm_train(&x, sh, &gamma, &beta, EPS, 0.1, &mut running);
    }
    let layer = layer.freeze_statistics().unwrap();
    let x = input(sh.len(), 8);
    let w = randn(sh.len(), 9, 0.0, 1.0);
    let xt = tensor(&x, DIMS, device).require_grad();
    let y = layer.forward(xt.clone(), Mode::Train);
    let grads = y.mul(tensor(&w, DIMS, device)).sum().backward();
    let (mut dgamma, mut dbeta, mut dx) = (vec![0.0; sh.c], vec![0.0; sh.c], vec![0.0; sh.len()]);
    for n in 0..sh.n {
        for c in 0..sh.c {
            let inv = 1.0 / (running.var[c] + EPS).sqrt();
            for s in 0..sh.s {
                let i = sh.at(n, c, s);
                dgamma[c] += w[i] * (x[i] - running.mean[c]) * inv;
                dbeta[c] += w[i];
                dx[i] = w[i] * gamma[c] * inv;
            }
        }
    }
    let grad = |p: &Option<burn::module::Param<Tensor<1>>>| {
        values(
            p.as_ref()
                .unwrap()
                .val()
                .grad(&grads)
                .expect("γ and β keep training"),
        )
    };
    assert_close(&grad(&layer.weight), &dgamma, TOL, "frozen BatchNorm ∂L/∂γ");
    assert_close(&grad(&layer.bias), &dbeta, TOL, "frozen BatchNorm ∂L/∂β");
    assert_close(
        &values(xt.grad(&grads).unwrap()),
        &dx,
        TOL,
        "frozen BatchNorm ∂L/∂x",
    );
}

pub fn running_statistics(device: &Device) {
    cumulative_average(device);
    frozen(device);
}
