//! Native `tch::nn` layers for the normalizers PyTorch lacks, for tch users who don't use burn:
//! built from a `tch::nn::Path` like tch's own `batch_norm2d`, configured by tch's
//! `BatchNormConfig` (momentum, eps, affine, initialisers) plus their own parameters, run with
//! `ModuleT::forward_t(xs, train)`. Their semantics are normscope-core's layers' (the facade's
//! tests check that both give the same outputs and running statistics on the same weights).
//!
//! Inputs are `[N, C, ...]`; statistics are per channel over the batch and spatial dimensions.

use std::borrow::Borrow;

use tch::nn::{BatchNormConfig, ModuleT, Path};
use tch::{Kind, Tensor};

/// The non-channel dimensions of `[N, C, ...]`.
fn stat_dims(x: &Tensor) -> Vec<i64> {
    std::iter::once(0).chain(2..x.dim() as i64).collect()
}

/// A `[C]` vector viewed as `[1, C, 1, ...]` for `x`.
fn per_channel(v: &Tensor, x: &Tensor) -> Tensor {
    let mut shape = vec![1i64; x.dim()];
    shape[1] = -1;
    v.reshape(shape.as_slice())
}

/// Batch mean and biased variance per channel (`[C]` each), and the count they are over.
fn moments(x: &Tensor) -> (Tensor, Tensor, i64) {
    let dims = stat_dims(x);
    let count = x.numel() as i64 / x.size()[1];
    let mean = x.mean_dim(dims.as_slice(), false, Kind::Float);
    let var = (x - per_channel(&mean, x))
        .square()
        .mean_dim(dims.as_slice(), false, Kind::Float);
    (mean, var, count)
}

/// PyTorch's running update `old ← (1 − m)·old + m·batch`, in place, outside the graph.
fn update_running(running: &Tensor, batch: &Tensor, momentum: f64) {
    tch::no_grad(|| {
        let new = running * (1.0 - momentum) + batch.detach() * momentum;
        running.shallow_clone().copy_(&new);
    });
}

fn affine<'a, T: Borrow<Path<'a>>>(
    vs: T,
    out_dim: i64,
    config: &BatchNormConfig,
) -> (Option<Tensor>, Option<Tensor>) {
    let vs = vs.borrow();
    if config.affine {
        (
            Some(vs.var("weight", &[out_dim], config.ws_init)),
            Some(vs.var("bias", &[out_dim], config.bs_init)),
        )
    } else {
        (None, None)
    }
}

fn apply_affine(y: Tensor, ws: &Option<Tensor>, bs: &Option<Tensor>) -> Tensor {
    let y = match ws {
        Some(w) => &y * per_channel(w, &y),
        None => y,
    };
    match bs {
        Some(b) => &y + per_channel(b, &y),
        None => y,
    }
}

/// Ghost BatchNorm (Hoffer et al. 2017): in training, BatchNorm over each virtual batch of
/// `virtual_batch_size` consecutive samples, the running statistics updated once per virtual batch;
/// in eval, the running statistics.
#[derive(Debug)]
pub struct GhostBatchNorm {
    config: BatchNormConfig,
    /// Samples per virtual batch.
    pub virtual_batch_size: i64,
    /// Running mean, `[C]`.
    pub running_mean: Tensor,
    /// Running unbiased variance, `[C]`.
    pub running_var: Tensor,
    /// `γ`, `[C]`.
    pub ws: Option<Tensor>,
    /// `β`, `[C]`.
    pub bs: Option<Tensor>,
}

/// Builds a [`GhostBatchNorm`] over `out_dim` channels.
pub fn ghost_batch_norm<'a, T: Borrow<Path<'a>>>(
    vs: T,
    out_dim: i64,
    virtual_batch_size: i64,
    config: BatchNormConfig,
) -> GhostBatchNorm {
    assert!(
        virtual_batch_size > 0,
        "GhostBatchNorm: expected virtual_batch_size > 0, got {virtual_batch_size}"
    );
    let vs = vs.borrow();
    let (ws, bs) = affine(vs, out_dim, &config);
    GhostBatchNorm {
        running_mean: vs.zeros_no_train("running_mean", &[out_dim]),
        running_var: vs.ones_no_train("running_var", &[out_dim]),
        config,
        virtual_batch_size,
        ws,
        bs,
    }
}

impl ModuleT for GhostBatchNorm {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let bn = |x: &Tensor, training: bool| {
            x.batch_norm(
                self.ws.as_ref(),
                self.bs.as_ref(),
                Some(&self.running_mean),
                Some(&self.running_var),
                training,
                self.config.momentum,
                self.config.eps,
                self.config.cudnn_enabled,
            )
        };
        if !train {
            return bn(xs, false);
        }
        let n = xs.size()[0];
        assert!(
            n % self.virtual_batch_size == 0,
            "GhostBatchNorm: expected a batch size divisible by virtual_batch_size = {}, got batch size {n}",
            self.virtual_batch_size
        );
        let chunks: Vec<Tensor> = xs
            .split(self.virtual_batch_size, 0)
            .iter()
            .map(|chunk| bn(chunk, true))
            .collect();
        Tensor::cat(&chunks, 0)
    }
}

/// Batch Renormalization (Ioffe 2017): `y = γ ((x − μ_B)/σ_B · r + d) + β` with
/// `r = clip(σ_B/σ, 1/r_max, r_max)`, `d = clip((μ_B − μ)/σ, −d_max, d_max)` taken out of the
/// graph, `σ = √(σ²_run + ε)`; running mean and unbiased variance as BatchNorm.
#[derive(Debug)]
pub struct BatchRenorm {
    config: BatchNormConfig,
    /// Scale-correction clip (≥ 1).
    pub r_max: f64,
    /// Shift-correction clip (≥ 0).
    pub d_max: f64,
    /// Running mean, `[C]`.
    pub running_mean: Tensor,
    /// Running unbiased variance, `[C]`.
    pub running_var: Tensor,
    /// `γ`, `[C]`.
    pub ws: Option<Tensor>,
    /// `β`, `[C]`.
    pub bs: Option<Tensor>,
}

/// Builds a [`BatchRenorm`] over `out_dim` channels.
pub fn batch_renorm<'a, T: Borrow<Path<'a>>>(
    vs: T,
    out_dim: i64,
    r_max: f64,
    d_max: f64,
    config: BatchNormConfig,
) -> BatchRenorm {
    let vs = vs.borrow();
    let (ws, bs) = affine(vs, out_dim, &config);
    BatchRenorm {
        running_mean: vs.zeros_no_train("running_mean", &[out_dim]),
        running_var: vs.ones_no_train("running_var", &[out_dim]),
        config,
        r_max,
        d_max,
        ws,
        bs,
    }
}

impl ModuleT for BatchRenorm {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if !train {
            return xs.batch_norm(
                self.ws.as_ref(),
                self.bs.as_ref(),
                Some(&self.running_mean),
                Some(&self.running_var),
                false,
                self.config.momentum,
                self.config.eps,
                self.config.cudnn_enabled,
            );
        }
        let (mean, var, count) = moments(xs);
        let eps = self.config.eps;
        let sigma_b = (&var + eps).sqrt();
        let sigma = (&self.running_var + eps).sqrt();
        let r = (sigma_b.detach() / &sigma)
            .clamp(1.0 / self.r_max, self.r_max)
            .detach();
        let d = ((mean.detach() - &self.running_mean) / &sigma)
            .clamp(-self.d_max, self.d_max)
            .detach();
        let normalized = (xs - per_channel(&mean, xs)) / per_channel(&sigma_b, xs)
            * per_channel(&r, xs)
            + per_channel(&d, xs);
        update_running(&self.running_mean, &mean, self.config.momentum);
        update_running(
            &self.running_var,
            &(var * (count as f64 / (count - 1) as f64)),
            self.config.momentum,
        );
        apply_affine(normalized, &self.ws, &self.bs)
    }
}

/// The `p` of an ℓp BatchNorm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpNorm {
    /// Mean absolute deviation.
    L1,
    /// Root-mean-square deviation.
    L2,
    /// Maximum absolute deviation.
    Inf,
}

/// ℓp BatchNorm (Santurkar et al. 2018, §3.3): `x̂ = (x − μ_B)/(s_p + ε)` with `s_p` the average
/// ℓp norm of the centred activations per channel (`mean |c|`, `√mean c²`, `max |c|`); running
/// mean and running `s_p` are updated with momentum and used in eval mode.
#[derive(Debug)]
pub struct LpBatchNorm {
    config: BatchNormConfig,
    /// Which norm.
    pub p: LpNorm,
    /// Running mean, `[C]`.
    pub running_mean: Tensor,
    /// Running `s_p`, `[C]`.
    pub running_scale: Tensor,
    /// `γ`, `[C]`.
    pub ws: Option<Tensor>,
    /// `β`, `[C]`.
    pub bs: Option<Tensor>,
}

/// Builds an [`LpBatchNorm`] over `out_dim` channels.
pub fn lp_batch_norm<'a, T: Borrow<Path<'a>>>(
    vs: T,
    out_dim: i64,
    p: LpNorm,
    config: BatchNormConfig,
) -> LpBatchNorm {
    let vs = vs.borrow();
    let (ws, bs) = affine(vs, out_dim, &config);
    LpBatchNorm {
        running_mean: vs.zeros_no_train("running_mean", &[out_dim]),
        running_scale: vs.ones_no_train("running_scale", &[out_dim]),
        config,
        p,
        ws,
        bs,
    }
}

impl ModuleT for LpBatchNorm {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let eps = self.config.eps;
        if !train {
            let normalized = (xs - per_channel(&self.running_mean, xs))
                / per_channel(&(&self.running_scale + eps), xs);
            return apply_affine(normalized, &self.ws, &self.bs);
        }
        let dims = stat_dims(xs);
        let mean = xs.mean_dim(dims.as_slice(), false, Kind::Float);
        let centered = xs - per_channel(&mean, xs);
        let scale = match self.p {
            LpNorm::L1 => centered.abs().mean_dim(dims.as_slice(), false, Kind::Float),
            LpNorm::L2 => centered
                .square()
                .mean_dim(dims.as_slice(), false, Kind::Float)
                .sqrt(),
            LpNorm::Inf => centered.abs().amax(dims.as_slice(), false),
        };
        let normalized = &centered / per_channel(&(&scale + eps), xs);
        update_running(&self.running_mean, &mean, self.config.momentum);
        update_running(&self.running_scale, &scale, self.config.momentum);
        apply_affine(normalized, &self.ws, &self.bs)
    }
}

/// Variance-only BatchNorm (Daneshmand et al. 2020): `x̂ = x/√(E_B[x²] + ε)`, no centring;
/// running `E[x²]`.
#[derive(Debug)]
pub struct VarianceOnly {
    config: BatchNormConfig,
    /// Running `E[x²]`, `[C]`.
    pub running_second_moment: Tensor,
    /// `γ`, `[C]`.
    pub ws: Option<Tensor>,
    /// `β`, `[C]`.
    pub bs: Option<Tensor>,
}

/// Builds a [`VarianceOnly`] over `out_dim` channels.
pub fn variance_only<'a, T: Borrow<Path<'a>>>(
    vs: T,
    out_dim: i64,
    config: BatchNormConfig,
) -> VarianceOnly {
    let vs = vs.borrow();
    let (ws, bs) = affine(vs, out_dim, &config);
    VarianceOnly {
        running_second_moment: vs.ones_no_train("running_second_moment", &[out_dim]),
        config,
        ws,
        bs,
    }
}

impl ModuleT for VarianceOnly {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let second = if train {
            let dims = stat_dims(xs);
            let second = xs.square().mean_dim(dims.as_slice(), false, Kind::Float);
            update_running(&self.running_second_moment, &second, self.config.momentum);
            second
        } else {
            self.running_second_moment.shallow_clone()
        };
        let normalized = xs / per_channel(&(second + self.config.eps).sqrt(), xs);
        apply_affine(normalized, &self.ws, &self.bs)
    }
}

/// Mean-only BatchNorm: `x̂ = x − μ_B`; running mean.
#[derive(Debug)]
pub struct MeanOnly {
    config: BatchNormConfig,
    /// Running mean, `[C]`.
    pub running_mean: Tensor,
    /// `γ`, `[C]`.
    pub ws: Option<Tensor>,
    /// `β`, `[C]`.
    pub bs: Option<Tensor>,
}

/// Builds a [`MeanOnly`] over `out_dim` channels.
pub fn mean_only<'a, T: Borrow<Path<'a>>>(
    vs: T,
    out_dim: i64,
    config: BatchNormConfig,
) -> MeanOnly {
    let vs = vs.borrow();
    let (ws, bs) = affine(vs, out_dim, &config);
    MeanOnly {
        running_mean: vs.zeros_no_train("running_mean", &[out_dim]),
        config,
        ws,
        bs,
    }
}

impl ModuleT for MeanOnly {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mean = if train {
            let dims = stat_dims(xs);
            let mean = xs.mean_dim(dims.as_slice(), false, Kind::Float);
            update_running(&self.running_mean, &mean, self.config.momentum);
            mean
        } else {
            self.running_mean.shallow_clone()
        };
        apply_affine(xs - per_channel(&mean, xs), &self.ws, &self.bs)
    }
}

/// The noise of [`NoisyBatchNorm`]: each training step, per channel (or per activation), a shift
/// drawn from `U(−mean_max, mean_max)` and a scale from `U(1, scale_max)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noise {
    /// `n_μ`: the shift is drawn from `U(−n_μ, n_μ)`.
    pub mean_max: f64,
    /// `n_σ`: the scale is drawn from `U(1, n_σ)`.
    pub scale_max: f64,
    /// One draw per activation of every sample instead of one per channel and step.
    pub per_sample: bool,
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            mean_max: 0.5,
            scale_max: 1.5,
            per_sample: false,
        }
    }
}

/// "Noisy" BatchNorm (Santurkar et al. 2018, §2.1): BatchNorm, then in training `s ⊙ y + m` with
/// per-channel `m_j ~ U(−n_μ, n_μ)`, `s_j ~ U(1, n_σ)` redrawn at every step (per activation with
/// `per_sample`; torch's generator: seed it with `tch::manual_seed`).
#[derive(Debug)]
pub struct NoisyBatchNorm {
    config: BatchNormConfig,
    /// The noise distribution.
    pub noise: Noise,
    /// Running mean, `[C]`.
    pub running_mean: Tensor,
    /// Running unbiased variance, `[C]`.
    pub running_var: Tensor,
    /// `γ`, `[C]`.
    pub ws: Option<Tensor>,
    /// `β`, `[C]`.
    pub bs: Option<Tensor>,
}

/// Builds a [`NoisyBatchNorm`] over `out_dim` channels.
pub fn noisy_batch_norm<'a, T: Borrow<Path<'a>>>(
    vs: T,
    out_dim: i64,
    noise: Noise,
    config: BatchNormConfig,
) -> NoisyBatchNorm {
    let vs = vs.borrow();
    let (ws, bs) = affine(vs, out_dim, &config);
    NoisyBatchNorm {
        running_mean: vs.zeros_no_train("running_mean", &[out_dim]),
        running_var: vs.ones_no_train("running_var", &[out_dim]),
        config,
        noise,
        ws,
        bs,
    }
}

impl ModuleT for NoisyBatchNorm {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let y = xs.batch_norm(
            self.ws.as_ref(),
            self.bs.as_ref(),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            self.config.momentum,
            self.config.eps,
            self.config.cudnn_enabled,
        );
        if !train {
            return y;
        }
        let opts = (xs.kind(), xs.device());
        let shape: Vec<i64> = if self.noise.per_sample {
            xs.size()
        } else {
            let mut shape = vec![1; xs.dim()];
            shape[1] = xs.size()[1];
            shape
        };
        let uniform =
            |low: f64, high: f64| Tensor::rand(shape.as_slice(), opts) * (high - low) + low;
        let shift = uniform(-self.noise.mean_max, self.noise.mean_max);
        let scale = uniform(1.0, self.noise.scale_max);
        y * scale + shift
    }
}
