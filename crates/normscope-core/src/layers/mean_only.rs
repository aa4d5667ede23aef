//! Mean-only BatchNorm: centring without scaling.

use burn::module::{Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use super::{init_affine, norm_config, param_or, running, running_value, update_running};
use crate::error::{check_batch_values, check_channels, check_features, check_momentum};
use crate::functional::{Kernel, as_ncs, channel_affine, channel_mean, per_channel};
use crate::{Mode, NormError, Normalization};

const NAME: &str = "MeanOnly";

norm_config! {
    /// Configuration of [`MeanOnly`].
    pub struct MeanOnlyConfig {
        /// Running-statistics momentum. Default 0.1.
        momentum / with_momentum: f64 = 0.1,
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
        Ok(MeanOnly {
            weight,
            bias,
            running_mean: running(Tensor::zeros([num_features], device)),
            num_features,
            momentum: self.momentum,
        })
    }
}

/// Mean-only batch normalization (the "mean centering" ablation of Lubana et al. 2021; Salimans &
/// Kingma 2016 pair it with weight normalization): `y = γ (x − μ_B) + β`, per channel over the
/// batch and spatial axes. The running mean is updated with momentum and used in eval mode.
#[derive(Module, Debug)]
pub struct MeanOnly {
    /// `γ`, `[C]`.
    pub weight: Option<Param<Tensor<1>>>,
    /// `β`, `[C]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Running mean, `[C]`.
    pub running_mean: RunningState<Tensor<1>>,
    /// Channel count.
    pub num_features: usize,
    /// Running-statistics momentum.
    pub momentum: f64,
}

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
        let weight = param_or(&self.weight, c, 1.0, &device);
        let bias = param_or(&self.bias, c, 0.0, &device);
        if !mode.is_train() {
            let mean = running_value(&self.running_mean, &device);
            let shift = bias.sub(mean.mul(weight.clone()));
            return Ok(channel_affine(x, weight, shift, Kernel::Fused));
        }
        check_batch_values(NAME, &dims, dims[0])?;
        let x3 = as_ncs(x);
        let mean = channel_mean(x3.clone());
        let output = x3
            .sub(per_channel(mean.clone()))
            .mul(per_channel(weight))
            .add(per_channel(bias))
            .reshape(dims);
        update_running(&self.running_mean, mean, self.momentum);
        Ok(output)
    }
}
