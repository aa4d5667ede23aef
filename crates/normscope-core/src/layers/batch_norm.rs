//! BatchNorm (Ioffe & Szegedy 2015), with PyTorch's semantics.

use burn::module::{Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use super::{
    init_affine, init_running, norm_config, param_or, running_affine, running_value,
    update_running, variance_from_invstd,
};
use crate::error::{check_batch_values, check_channels, check_eps, check_features, check_momentum};
use crate::functional::{Kernel, normalize};
use crate::ops::NormLayout;
use crate::{Mode, NormError, Normalization};

const NAME: &str = "BatchNorm";

norm_config! {
    /// Configuration of [`BatchNorm`]; the feature count comes from [`BatchNormConfig::init`].
    pub struct BatchNormConfig {
        /// Weight of the batch statistic in the running update `(1 − m)·old + m·batch`. Default 0.1.
        momentum / with_momentum: f64 = 0.1,
        /// Added to the variance inside the square root. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ` (init 1) and `β` (init 0). Default true.
        affine / with_affine: bool = true,
        /// Keep running mean/variance and use them in eval mode; when false, eval mode uses batch
        /// statistics too (as PyTorch). Default true.
        track_running_stats / with_track_running_stats: bool = true,
    }
}

impl BatchNormConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_eps(NAME, self.eps)?;
        check_momentum(NAME, self.momentum)
    }

    /// Builds a BatchNorm over `num_features` channels on `device`.
    pub fn init(&self, num_features: usize, device: &Device) -> Result<BatchNorm, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        let (weight, bias) = init_affine(num_features, self.affine, device);
        let (running_mean, running_var) =
            init_running(num_features, self.track_running_stats, device);
        Ok(BatchNorm {
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

/// Batch normalization over `[N, C, ...]` (Ioffe & Szegedy 2015, arXiv:1502.03167).
///
/// Train: `y = γ (x − μ_B)/√(σ²_B + ε) + β` with the biased batch variance `σ²_B`, statistics
/// per channel over the batch and spatial axes; the running mean and the *unbiased* running
/// variance are updated as `(1 − m)·old + m·batch` (PyTorch's convention). Eval: running
/// statistics.
#[derive(Module, Debug)]
pub struct BatchNorm {
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

impl BatchNorm {
    /// `γ` and `β` on `device` (ones and zeros when the layer is not affine).
    pub(crate) fn affine(&self, device: &Device) -> (Tensor<1>, Tensor<1>) {
        (
            param_or(&self.weight, self.num_features, 1.0, device),
            param_or(&self.bias, self.num_features, 0.0, device),
        )
    }

    /// Running mean and variance on `device`, when tracked.
    pub(crate) fn running_stats(&self, device: &Device) -> Option<(Tensor<1>, Tensor<1>)> {
        match (&self.running_mean, &self.running_var) {
            (Some(mean), Some(var)) => {
                Some((running_value(mean, device), running_value(var, device)))
            }
            _ => None,
        }
    }

    /// Folds one batch's statistics (taken over `count` values per channel) into the running
    /// statistics, with the unbiased variance.
    pub(crate) fn update_stats(&self, mean: Tensor<1>, invstd: Tensor<1>, count: usize) {
        if let (Some(running_mean), Some(running_var)) = (&self.running_mean, &self.running_var) {
            let unbiased = variance_from_invstd(invstd, self.eps)
                .mul_scalar(count as f64 / (count - 1) as f64);
            update_running(running_mean, mean, self.momentum);
            update_running(running_var, unbiased, self.momentum);
        }
    }

    /// Normalizes with the batch's own statistics; updates the running ones when `update`.
    pub(crate) fn forward_batch<const D: usize>(
        &self,
        name: &'static str,
        x: Tensor<D>,
        update: bool,
    ) -> Result<Tensor<D>, NormError> {
        let dims = x.dims();
        check_batch_values(name, &dims, dims[0])?;
        let (weight, bias) = self.affine(&x.device());
        let count = x.shape().num_elements() / self.num_features;
        let result = normalize(x, weight, bias, NormLayout::BATCH, self.eps, Kernel::Fused);
        if update {
            self.update_stats(result.mean, result.invstd, count);
        }
        Ok(result.output)
    }

    /// Eval mode: the running statistics folded into one affine map per channel, or the batch
    /// statistics when the layer keeps none (as PyTorch).
    pub(crate) fn forward_eval<const D: usize>(
        &self,
        name: &'static str,
        x: Tensor<D>,
    ) -> Result<Tensor<D>, NormError> {
        let device = x.device();
        match self.running_stats(&device) {
            Some((mean, var)) => {
                let (weight, bias) = self.affine(&device);
                Ok(running_affine(x, weight, bias, mean, var, self.eps))
            }
            None => self.forward_batch(name, x, false),
        }
    }
}

impl Normalization for BatchNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        check_channels(NAME, &x.dims(), self.num_features)?;
        match mode {
            Mode::Train => self.forward_batch(NAME, x, true),
            Mode::Eval => self.forward_eval(NAME, x),
        }
    }
}
