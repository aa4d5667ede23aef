//! Plain f64 reference implementations of every normalizer, written from the papers' and
//! PyTorch's definitions with loops, independent of normscope's code.

#![allow(dead_code)]

/// An input `[N, C, S]` (S = product of the spatial dimensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ncs {
    pub n: usize,
    pub c: usize,
    pub s: usize,
}

impl Ncs {
    pub fn of(dims: &[usize]) -> Ncs {
        Ncs {
            n: dims[0],
            c: dims[1],
            s: dims[2..].iter().product(),
        }
    }

    pub fn len(&self) -> usize {
        self.n * self.c * self.s
    }

    pub fn at(&self, n: usize, c: usize, s: usize) -> usize {
        (n * self.c + c) * self.s + s
    }
}

/// Mean and biased variance of each channel over the batch and spatial axes, for samples
/// `batch` (a range of sample indices).
pub fn channel_moments(x: &[f64], sh: Ncs, batch: std::ops::Range<usize>) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; sh.c];
    let mut var = vec![0.0; sh.c];
    let m = (batch.len() * sh.s) as f64;
    for c in 0..sh.c {
        let mut sum = 0.0;
        for n in batch.clone() {
            for s in 0..sh.s {
                sum += x[sh.at(n, c, s)];
            }
        }
        let mu = sum / m;
        let mut sq = 0.0;
        for n in batch.clone() {
            for s in 0..sh.s {
                let d = x[sh.at(n, c, s)] - mu;
                sq += d * d;
            }
        }
        mean[c] = mu;
        var[c] = sq / m;
    }
    (mean, var)
}

/// `y = γ (x − μ)/√(σ² + ε) + β` per channel, for samples `batch`, written into `y`.
#[allow(clippy::too_many_arguments)]
pub fn channel_apply(
    x: &[f64],
    sh: Ncs,
    batch: std::ops::Range<usize>,
    mean: &[f64],
    var: &[f64],
    eps: f64,
    gamma: &[f64],
    beta: &[f64],
    y: &mut [f64],
) {
    for n in batch {
        for c in 0..sh.c {
            let inv = 1.0 / (var[c] + eps).sqrt();
            for s in 0..sh.s {
                let i = sh.at(n, c, s);
                y[i] = gamma[c] * (x[i] - mean[c]) * inv + beta[c];
            }
        }
    }
}

/// Running statistics as PyTorch keeps them.
#[derive(Debug, Clone)]
pub struct Running {
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
}

impl Running {
    pub fn new(c: usize) -> Running {
        Running {
            mean: vec![0.0; c],
            var: vec![1.0; c],
        }
    }

    /// `(1 − m)·old + m·batch`, with the unbiased batch variance over `count` values.
    pub fn update(&mut self, mean: &[f64], var_biased: &[f64], count: usize, momentum: f64) {
        for c in 0..mean.len() {
            let unbiased = var_biased[c] * count as f64 / (count - 1) as f64;
            self.mean[c] = (1.0 - momentum) * self.mean[c] + momentum * mean[c];
            self.var[c] = (1.0 - momentum) * self.var[c] + momentum * unbiased;
        }
    }
}

/// BatchNorm in train mode; updates `running`.
pub fn batch_norm_train(
    x: &[f64],
    sh: Ncs,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
    momentum: f64,
    running: &mut Running,
) -> Vec<f64> {
    let (mean, var) = channel_moments(x, sh, 0..sh.n);
    let mut y = vec![0.0; x.len()];
    channel_apply(x, sh, 0..sh.n, &mean, &var, eps, gamma, beta, &mut y);
    running.update(&mean, &var, sh.n * sh.s, momentum);
    y
}

/// BatchNorm in eval mode.
pub fn batch_norm_eval(
    x: &[f64],
    sh: Ncs,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
    running: &Running,
) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    channel_apply(
        x,
        sh,
        0..sh.n,
        &running.mean,
        &running.var,
        eps,
        gamma,
        beta,
        &mut y,
    );
    y
}

/// Ghost BatchNorm (Hoffer et al. 2017) in train mode: BatchNorm per virtual batch, running
/// statistics updated once per virtual batch in order.
#[allow(clippy::too_many_arguments)]
pub fn ghost_batch_norm_train(
    x: &[f64],
    sh: Ncs,
    virtual_batch: usize,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
    momentum: f64,
    running: &mut Running,
) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for k in 0..sh.n / virtual_batch {
        let batch = k * virtual_batch..(k + 1) * virtual_batch;
        let (mean, var) = channel_moments(x, sh, batch.clone());
        channel_apply(x, sh, batch, &mean, &var, eps, gamma, beta, &mut y);
        running.update(&mean, &var, virtual_batch * sh.s, momentum);
    }
    y
}

/// Batch Renormalization (Ioffe 2017, Algorithm 1) in train mode. `fixed` overrides `(r, d)`
/// (they are constants for the gradient); returns the output and the `(r, d)` used.
#[allow(clippy::too_many_arguments)]
pub fn batch_renorm_train(
    x: &[f64],
    sh: Ncs,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
    r_max: f64,
    d_max: f64,
    momentum: f64,
    running: &mut Running,
    fixed: Option<&(Vec<f64>, Vec<f64>)>,
) -> (Vec<f64>, (Vec<f64>, Vec<f64>)) {
    let (mean, var) = channel_moments(x, sh, 0..sh.n);
    let mut r = vec![0.0; sh.c];
    let mut d = vec![0.0; sh.c];
    for c in 0..sh.c {
        let sigma_b = (var[c] + eps).sqrt();
        let sigma = (running.var[c] + eps).sqrt();
        r[c] = (sigma_b / sigma).clamp(1.0 / r_max, r_max);
        d[c] = ((mean[c] - running.mean[c]) / sigma).clamp(-d_max, d_max);
    }
    if let Some((fr, fd)) = fixed {
        r = fr.clone();
        d = fd.clone();
    }
    let mut y = vec![0.0; x.len()];
    for n in 0..sh.n {
        for c in 0..sh.c {
            let sigma_b = (var[c] + eps).sqrt();
            for s in 0..sh.s {
                let i = sh.at(n, c, s);
                y[i] = gamma[c] * ((x[i] - mean[c]) / sigma_b * r[c] + d[c]) + beta[c];
            }
        }
    }
    running.update(&mean, &var, sh.n * sh.s, momentum);
    (y, (r, d))
}

/// GroupNorm (Wu & He 2018): per sample and group of `C/groups` channels; affine per channel.
pub fn group_norm(
    x: &[f64],
    sh: Ncs,
    groups: usize,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let per = sh.c / groups;
    let m = (per * sh.s) as f64;
    let mut y = vec![0.0; x.len()];
    let mut means = vec![];
    let mut vars = vec![];
    for n in 0..sh.n {
        for g in 0..groups {
            let channels = g * per..(g + 1) * per;
            let mut sum = 0.0;
            for c in channels.clone() {
                for s in 0..sh.s {
                    sum += x[sh.at(n, c, s)];
                }
            }
            let mu = sum / m;
            let mut sq = 0.0;
            for c in channels.clone() {
                for s in 0..sh.s {
                    sq += (x[sh.at(n, c, s)] - mu).powi(2);
                }
            }
            let var = sq / m;
            for c in channels {
                for s in 0..sh.s {
                    let i = sh.at(n, c, s);
                    y[i] = gamma[c] * (x[i] - mu) / (var + eps).sqrt() + beta[c];
                }
            }
            means.push(mu);
            vars.push(var);
        }
    }
    (y, means, vars)
}

/// LayerNorm over each of the `n` rows of length `d`, affine per element.
pub fn layer_norm(
    x: &[f64],
    n: usize,
    d: usize,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for r in 0..n {
        let row = &x[r * d..(r + 1) * d];
        let mu = row.iter().sum::<f64>() / d as f64;
        let var = row.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / d as f64;
        for j in 0..d {
            y[r * d + j] = gamma[j] * (row[j] - mu) / (var + eps).sqrt() + beta[j];
        }
    }
    y
}

/// RMSNorm over each of the `n` rows of length `d`, scale per element.
pub fn rms_norm(x: &[f64], n: usize, d: usize, gamma: &[f64], eps: f64) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for r in 0..n {
        let row = &x[r * d..(r + 1) * d];
        let ms = row.iter().map(|v| v * v).sum::<f64>() / d as f64;
        for j in 0..d {
            y[r * d + j] = gamma[j] * row[j] / (ms + eps).sqrt();
        }
    }
    y
}

/// ℓp BatchNorm (Santurkar et al. 2018, §3.3): returns output, batch mean, batch ℓp scale.
pub fn lp_batch_norm(
    x: &[f64],
    sh: Ncs,
    p: f64,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mean, _) = channel_moments(x, sh, 0..sh.n);
    let m = (sh.n * sh.s) as f64;
    let mut scale = vec![0.0; sh.c];
    for c in 0..sh.c {
        let mut acc: f64 = 0.0;
        for n in 0..sh.n {
            for s in 0..sh.s {
                let d = (x[sh.at(n, c, s)] - mean[c]).abs();
                if p.is_infinite() {
                    acc = acc.max(d);
                } else {
                    acc += d.powf(p);
                }
            }
        }
        scale[c] = if p.is_infinite() {
            acc
        } else {
            (acc / m).powf(1.0 / p)
        };
    }
    let mut y = vec![0.0; x.len()];
    for n in 0..sh.n {
        for c in 0..sh.c {
            for s in 0..sh.s {
                let i = sh.at(n, c, s);
                y[i] = gamma[c] * (x[i] - mean[c]) / (scale[c] + eps) + beta[c];
            }
        }
    }
    (y, mean, scale)
}

/// Variance-only BN (Daneshmand et al. 2020): `γ x/√(E[x²] + ε) + β`; returns output and E[x²].
pub fn variance_only(
    x: &[f64],
    sh: Ncs,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>) {
    let m = (sh.n * sh.s) as f64;
    let mut second = vec![0.0; sh.c];
    for c in 0..sh.c {
        for n in 0..sh.n {
            for s in 0..sh.s {
                second[c] += x[sh.at(n, c, s)].powi(2);
            }
        }
        second[c] /= m;
    }
    let mut y = vec![0.0; x.len()];
    for n in 0..sh.n {
        for c in 0..sh.c {
            for s in 0..sh.s {
                let i = sh.at(n, c, s);
                y[i] = gamma[c] * x[i] / (second[c] + eps).sqrt() + beta[c];
            }
        }
    }
    (y, second)
}

/// Mean-only BN: `γ (x − μ) + β`; returns output and mean.
pub fn mean_only(x: &[f64], sh: Ncs, gamma: &[f64], beta: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mean, _) = channel_moments(x, sh, 0..sh.n);
    let mut y = vec![0.0; x.len()];
    for n in 0..sh.n {
        for c in 0..sh.c {
            for s in 0..sh.s {
                let i = sh.at(n, c, s);
                y[i] = gamma[c] * (x[i] - mean[c]) + beta[c];
            }
        }
    }
    (y, mean)
}

/// `‖a − b‖ / ‖b‖`.
pub fn rel_error(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let den: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    num / den.max(1e-30)
}

/// Largest `|a − b|`.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
