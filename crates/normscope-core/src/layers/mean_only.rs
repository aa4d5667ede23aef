//! Mean-only BatchNorm: centring without scaling.

use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use super::{always_tracked, init_affine, norm_config, param_or};
use crate::error::{check_batch_values, check_channels, check_features, check_momentum};
use crate::fold::ChannelAffine;
use crate::functional::{as_ncs, channel_mean, per_channel};
use crate::running::{RunningInit, running_value, update_running};
use crate::{Mode, Momentum, NormError, Normalization};

const NAME: &str = "MeanOnly";

norm_config! {
    /// Configuration of [`MeanOnly`].
    pub struct MeanOnlyConfig {
        /// Running-statistics momentum (a number or `"cumulative"`, see
        /// [`BatchNormConfig::momentum`](super::BatchNormConfig::momentum)). Default 0.1.
        momentum / with_momentum: Momentum as impl Into<Momentum> = Momentum::default(),
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
    }
}

impl MeanOnlyConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_momentum(NAME, self.momentum)
    }

    /// Builds a mean-only BatchNorm over `num_features` channels.
    pub fn init(&self, num_features: usize, device: &Device) -> Result<MeanOnly, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        let (weight, bias) = init_affine(num_features, self.affine, device);
        let running = RunningInit::new(num_features, device);
        Ok(MeanOnly {
            weight,
            bias,
            running_mean: running.mean,
            num_batches_tracked: running.count,
            training: running.training,
            num_features,
            momentum: self.momentum,
        })
    }
}

/// Mean-only batch normalization (the "mean centering" ablation of Lubana et al. 2021; Salimans &
/// Kingma 2016 pair it with weight normalization): `y = γ (x − μ_B) + β`, per channel over the
/// batch and spatial axes. The running mean is updated with momentum and used in eval mode (and
/// in frozen train mode).
#[derive(Module, Debug)]
pub struct MeanOnly {
    /// `γ`, `[C]`.
    pub weight: Option<Param<Tensor<1>>>,
    /// `β`, `[C]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Running mean, `[C]`.
    pub running_mean: RunningState<Tensor<1>>,
    /// Batches folded into the running statistic, `[1]`.
    pub num_batches_tracked: RunningState<Tensor<1>>,
    /// The statistics' training flag (disabled: frozen), as [`BatchNorm`](super::BatchNorm)'s.
    pub training: Param<Flag>,
    /// Channel count.
    pub num_features: usize,
    /// Running-statistics momentum.
    #[module(skip)]
    pub momentum: Momentum,
}

impl MeanOnly {
    /// Eval mode: `scale = γ`, `shift = β − μ_run γ`, on `device`.
    fn affine_on(&self, device: &Device) -> ChannelAffine {
        let c = self.num_features;
        let weight = param_or(&self.weight, c, 1.0, device);
        let mean = running_value(&self.running_mean, device);
        ChannelAffine {
            layer: NAME,
            shift: param_or(&self.bias, c, 0.0, device).sub(mean.mul(weight.clone())),
            scale: weight,
        }
    }
}

always_tracked!(MeanOnly, running_mean);

impl Normalization for MeanOnly {
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
        let output = x3
            .sub(per_channel(mean.clone()))
            .mul(per_channel(weight))
            .add(per_channel(bias))
            .reshape(dims);
        update_running(
            &self.num_batches_tracked,
            self.momentum,
            [(&self.running_mean, mean)],
        );
        Ok(output)
    }
}
