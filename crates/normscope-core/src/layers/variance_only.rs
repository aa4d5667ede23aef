//! Variance-only BatchNorm: scale by the batch root-mean-square, no centring
//! (the BN analysed by Daneshmand et al. 2020).

use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use super::{always_tracked, init_affine, norm_config, param_or, variance_from_invstd};
use crate::error::{check_batch_values, check_channels, check_eps, check_features, check_momentum};
use crate::fold::ChannelAffine;
use crate::functional::{Kernel, normalize};
use crate::ops::{Affine, NormLayout, Statistics};
use crate::running::{RunningInit, running_value, update_running};
use crate::{Mode, Momentum, NormError, Normalization};

const NAME: &str = "VarianceOnly";

/// Per-channel statistics, no centring, per-channel affine.
pub(crate) const LAYOUT: NormLayout = NormLayout {
    statistics: Statistics::PerChannel,
    centered: false,
    affine: Affine::PerChannel,
};

norm_config! {
    /// Configuration of [`VarianceOnly`].
    pub struct VarianceOnlyConfig {
        /// Running-statistics momentum (a number or `"cumulative"`, see
        /// [`BatchNormConfig::momentum`](super::BatchNormConfig::momentum)). Default 0.1.
        momentum / with_momentum: Momentum as impl Into<Momentum> = Momentum::default(),
        /// Added to the mean square inside the square root. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
    }
}

impl VarianceOnlyConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_eps(NAME, self.eps)?;
        check_momentum(NAME, self.momentum)
    }

    /// Builds a variance-only BatchNorm over `num_features` channels.
    pub fn init(&self, num_features: usize, device: &Device) -> Result<VarianceOnly, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        let (weight, bias) = init_affine(num_features, self.affine, device);
        let running = RunningInit::new(num_features, device);
        Ok(VarianceOnly {
            weight,
            bias,
            running_second_moment: running.var,
            num_batches_tracked: running.count,
            training: running.training,
            num_features,
            momentum: self.momentum,
            eps: self.eps,
        })
    }
}

/// Variance normalization without centring (Daneshmand et al. 2020, arXiv:2003.01652:
/// `BN(M) = diag(MMᵀ)^{−1/2} M`; Lubana et al. 2021's "Variance Norm"):
/// `y = γ x/√(E_B[x²] + ε) + β` with the second moment per channel over the batch and spatial
/// axes. The running second moment is updated with momentum and used in eval mode (and in
/// frozen train mode).
#[derive(Module, Debug)]
pub struct VarianceOnly {
    /// `γ`, `[C]`.
    pub weight: Option<Param<Tensor<1>>>,
    /// `β`, `[C]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Running `E[x²]`, `[C]`.
    pub running_second_moment: RunningState<Tensor<1>>,
    /// Batches folded into the running statistic, `[1]`.
    pub num_batches_tracked: RunningState<Tensor<1>>,
    /// The statistics' training flag (disabled: frozen), as [`BatchNorm`](super::BatchNorm)'s.
    pub training: Param<Flag>,
    /// Channel count.
    pub num_features: usize,
    /// Running-statistics momentum.
    #[module(skip)]
    pub momentum: Momentum,
    /// Second-moment epsilon.
    pub eps: f64,
}

impl VarianceOnly {
    /// Eval mode: `scale = γ/√(E_run[x²] + ε)`, `shift = β`, on `device`.
    fn affine_on(&self, device: &Device) -> ChannelAffine {
        let c = self.num_features;
        let second = running_value(&self.running_second_moment, device);
        ChannelAffine {
            layer: NAME,
            scale: param_or(&self.weight, c, 1.0, device)
                .mul(second.add_scalar(self.eps).sqrt().recip()),
            shift: param_or(&self.bias, c, 0.0, device),
        }
    }
}

always_tracked!(VarianceOnly, running_second_moment);

impl Normalization for VarianceOnly {
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
        let result = normalize(x, weight, bias, LAYOUT, self.eps, Kernel::Fused);
        let second = variance_from_invstd(result.invstd, self.eps);
        update_running(
            &self.num_batches_tracked,
            self.momentum,
            [(&self.running_second_moment, second)],
        );
        Ok(result.output)
    }
}
