//! InstanceNorm (Ulyanov, Vedaldi & Lempitsky 2016), with `torch.nn.InstanceNorm*d`'s semantics.

use burn::module::{Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use super::{
    init_affine, init_running, norm_config, param_or, running_affine, running_value,
    update_running, variance_from_invstd,
};
use crate::error::{check_channels, check_eps, check_features, check_momentum};
use crate::functional::{Kernel, normalize};
use crate::ops::NormLayout;
use crate::{Mode, NormError, Normalization};

const NAME: &str = "InstanceNorm";

norm_config! {
    /// Configuration of [`InstanceNorm`]. Defaults follow PyTorch (no affine, no running stats).
    pub struct InstanceNormConfig {
        /// Added to the variance inside the square root. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ`, `β`. Default false (as PyTorch).
        affine / with_affine: bool = false,
        /// Keep running statistics (averaged over the batch) and use them in eval mode.
        /// Default false (as PyTorch).
        track_running_stats / with_track_running_stats: bool = false,
        /// Running-statistics momentum. Default 0.1.
        momentum / with_momentum: f64 = 0.1,
    }
}

impl InstanceNormConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_eps(NAME, self.eps)?;
        check_momentum(NAME, self.momentum)
    }

    /// Builds an InstanceNorm over `num_features` channels.
    pub fn init(&self, num_features: usize, device: &Device) -> Result<InstanceNorm, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        let (weight, bias) = init_affine(num_features, self.affine, device);
        let (running_mean, running_var) =
            init_running(num_features, self.track_running_stats, device);
        Ok(InstanceNorm {
            weight,
            bias,
            running_mean,
            running_var,
            num_features,
            momentum: self.momentum,
            eps: self.eps,
        })
    }
}

/// Instance normalization (Ulyanov et al. 2016, arXiv:1607.08022): each sample's each channel is
/// normalized with the mean and biased variance of its spatial positions; `γ`, `β` per channel.
/// With running statistics, train mode updates them with the batch average of the per-instance
/// mean and unbiased variance (as PyTorch) and eval mode uses them.
#[derive(Module, Debug)]
pub struct InstanceNorm {
    /// `γ`, `[C]`.
    pub weight: Option<Param<Tensor<1>>>,
    /// `β`, `[C]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Running mean, `[C]`.
    pub running_mean: Option<RunningState<Tensor<1>>>,
    /// Running unbiased variance, `[C]`.
    pub running_var: Option<RunningState<Tensor<1>>>,
    /// Channel count.
    pub num_features: usize,
    /// Running-statistics momentum.
    pub momentum: f64,
    /// Variance epsilon.
    pub eps: f64,
}

impl Normalization for InstanceNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        let dims = x.dims();
        check_channels(NAME, &dims, self.num_features)?;
        let device = x.device();
        let c = self.num_features;
        let weight = param_or(&self.weight, c, 1.0, &device);
        let bias = param_or(&self.bias, c, 0.0, &device);
        let running = match (&self.running_mean, &self.running_var) {
            (Some(mean), Some(var)) => Some((mean, var)),
            _ => None,
        };
        if let (Mode::Eval, Some((mean, var))) = (mode, running) {
            let (mean, var) = (running_value(mean, &device), running_value(var, &device));
            return Ok(running_affine(x, weight, bias, mean, var, self.eps));
        }
        let spatial: usize = dims[2..].iter().product();
        if mode.is_train() && spatial <= 1 {
            return Err(NormError::SingleSpatialElement {
                layer: NAME,
                shape: dims.to_vec(),
            });
        }
        let n = dims[0];
        let result = normalize(
            x,
            weight,
            bias,
            NormLayout::group(c),
            self.eps,
            Kernel::Fused,
        );
        if let (Mode::Train, Some((running_mean, running_var))) = (mode, running) {
            let mean = result.mean.reshape([n, c]).mean_dim(0).reshape([c]);
            let unbiased = variance_from_invstd(result.invstd, self.eps)
                .mul_scalar(spatial as f64 / (spatial - 1) as f64)
                .reshape([n, c])
                .mean_dim(0)
                .reshape([c]);
            update_running(running_mean, mean, self.momentum);
            update_running(running_var, unbiased, self.momentum);
        }
        Ok(result.output)
    }
}
