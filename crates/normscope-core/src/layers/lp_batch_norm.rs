//! ℓp BatchNorm (Santurkar et al. 2018, §3.3).

use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{always_tracked, init_affine, norm_config, param_or};
use crate::error::{check_batch_values, check_channels, check_eps, check_features, check_momentum};
use crate::fold::ChannelAffine;
use crate::functional::{as_ncs, channel_mean, per_channel};
use crate::running::{RunningInit, running_value, update_running};
use crate::{Mode, Momentum, NormError, Normalization};

const NAME: &str = "LpBatchNorm";

/// The `p` of an ℓp BatchNorm: 1, 2 or ∞. Reads from `1`, `2`, `"inf"` (or TOML's `inf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "LpOrderRepr", into = "LpOrderRepr")]
pub enum LpOrder {
    /// Mean absolute deviation.
    L1,
    /// Root-mean-square deviation (the biased standard deviation).
    L2,
    /// Maximum absolute deviation.
    Inf,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum LpOrderRepr {
    Int(u64),
    Float(f64),
    Text(String),
}

impl TryFrom<LpOrderRepr> for LpOrder {
    type Error = String;

    fn try_from(repr: LpOrderRepr) -> Result<Self, String> {
        match repr {
            LpOrderRepr::Int(1) => Ok(LpOrder::L1),
            LpOrderRepr::Int(2) => Ok(LpOrder::L2),
            LpOrderRepr::Float(1.0) => Ok(LpOrder::L1),
            LpOrderRepr::Float(2.0) => Ok(LpOrder::L2),
            LpOrderRepr::Float(f64::INFINITY) => Ok(LpOrder::Inf),
            LpOrderRepr::Text(t) if matches!(t.as_str(), "1" | "l1") => Ok(LpOrder::L1),
            LpOrderRepr::Text(t) if matches!(t.as_str(), "2" | "l2") => Ok(LpOrder::L2),
            LpOrderRepr::Text(t) if matches!(t.as_str(), "inf" | "infinity" | "linf") => {
                Ok(LpOrder::Inf)
            }
            LpOrderRepr::Int(p) => Err(format!("p must be 1, 2 or \"inf\", got {p}")),
            LpOrderRepr::Float(p) => Err(format!("p must be 1, 2 or \"inf\", got {p}")),
            LpOrderRepr::Text(t) => Err(format!("p must be 1, 2 or \"inf\", got {t:?}")),
        }
    }
}

impl From<LpOrder> for LpOrderRepr {
    fn from(p: LpOrder) -> Self {
        match p {
            LpOrder::L1 => LpOrderRepr::Int(1),
            LpOrder::L2 => LpOrderRepr::Int(2),
            LpOrder::Inf => LpOrderRepr::Text("inf".into()),
        }
    }
}

norm_config! {
    /// Configuration of [`LpBatchNorm`].
    pub struct LpBatchNormConfig {
        /// The norm: 1, 2 or ∞ (`"inf"`). Default 1 (the best of the three in Santurkar et al.).
        p / with_p: LpOrder = LpOrder::L1,
        /// Added to the ℓp scale before dividing. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Running-statistics momentum (a number or `"cumulative"`, see
        /// [`BatchNormConfig::momentum`](super::BatchNormConfig::momentum)). Default 0.1.
        momentum / with_momentum: Momentum as impl Into<Momentum> = Momentum::default(),
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
    }
}

impl LpBatchNormConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_eps(NAME, self.eps)?;
        check_momentum(NAME, self.momentum)
    }

    /// Builds an ℓp BatchNorm over `num_features` channels.
    pub fn init(&self, num_features: usize, device: &Device) -> Result<LpBatchNorm, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        let (weight, bias) = init_affine(num_features, self.affine, device);
        let running = RunningInit::new(num_features, device);
        Ok(LpBatchNorm {
            weight,
            bias,
            running_mean: running.mean,
            running_scale: running.var,
            num_batches_tracked: running.count,
            training: running.training,
            num_features,
            p: self.p,
            momentum: self.momentum,
            eps: self.eps,
        })
    }
}

/// ℓp batch normalization (Santurkar et al. 2018, arXiv:1805.11604, §3.3): the centred
/// activations `c = x − μ_B` are divided by their average ℓp norm over the batch instead of the
/// standard deviation, `x̂ = c / (s_p + ε)` with, per channel over the `m` batch and spatial
/// values, `s_1 = (1/m) Σ|c|`, `s_2 = √((1/m) Σ c²)`, `s_∞ = max |c|` (the ℓp norm normalized by
/// `m^{1/p}`); `y = γ x̂ + β`. Running mean and running `s_p` are updated with momentum and
/// used in eval mode (and in frozen train mode).
#[derive(Module, Debug)]
pub struct LpBatchNorm {
    /// `γ`, `[C]`.
    pub weight: Option<Param<Tensor<1>>>,
    /// `β`, `[C]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Running mean, `[C]`.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running ℓp scale `s_p`, `[C]`.
    pub running_scale: RunningState<Tensor<1>>,
    /// Batches folded into the running statistics, `[1]`.
    pub num_batches_tracked: RunningState<Tensor<1>>,
    /// The statistics' training flag (disabled: frozen), as [`BatchNorm`](super::BatchNorm)'s.
    pub training: Param<Flag>,
    /// Channel count.
    pub num_features: usize,
    /// Which norm.
    #[module(skip)]
    pub p: LpOrder,
    /// Running-statistics momentum.
    #[module(skip)]
    pub momentum: Momentum,
    /// Scale epsilon.
    pub eps: f64,
}

impl LpBatchNorm {
    /// Eval mode: `scale = γ/(s_p,run + ε)`, `shift = β − μ_run · scale`, on `device`.
    fn affine_on(&self, device: &Device) -> ChannelAffine {
        let c = self.num_features;
        let mean = running_value(&self.running_mean, device);
        let scale = param_or(&self.weight, c, 1.0, device)
            .div(running_value(&self.running_scale, device).add_scalar(self.eps));
        ChannelAffine {
            layer: NAME,
            shift: param_or(&self.bias, c, 0.0, device).sub(mean.mul(scale.clone())),
            scale,
        }
    }
}

always_tracked!(LpBatchNorm, running_mean);

impl Normalization for LpBatchNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        let dims = x.dims();
        let c = self.num_features;
        check_channels(NAME, &dims, c)?;
        let device = x.device();
        if !mode.is_train() || self.statistics_frozen() {
            return Ok(self.affine_on(&device).forward(x));
        }
        check_batch_values(NAME, &dims, dims[0])?;
        let weight = param_or(&self.weight, c, 1.0, &device);
        let bias = param_or(&self.bias, c, 0.0, &device);
        let x3 = as_ncs(x);
        let mean = channel_mean(x3.clone());
        let centered = x3.sub(per_channel(mean.clone()));
        let scale = match self.p {
            LpOrder::L1 => channel_mean(centered.clone().abs()),
            LpOrder::L2 => channel_mean(centered.clone().square()).sqrt(),
            LpOrder::Inf => centered.clone().abs().max_dim(2).max_dim(0).reshape([c]),
        };
        let normalized = centered.div(per_channel(scale.clone().add_scalar(self.eps)));
        let output = normalized
            .mul(per_channel(weight))
            .add(per_channel(bias))
            .reshape(dims);
        update_running(
            &self.num_batches_tracked,
            self.momentum,
            [(&self.running_mean, mean), (&self.running_scale, scale)],
        );
        Ok(output)
    }
}
