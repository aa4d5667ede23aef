//! BatchNorm (Ioffe & Szegedy 2015), with PyTorch's semantics.

use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use super::{init_affine, norm_config, param_or, variance_from_invstd};
use crate::error::{check_batch_values, check_channels, check_eps, check_features, check_momentum};
use crate::fold::ChannelAffine;
use crate::functional::{Kernel, normalize};
use crate::ops::NormLayout;
use crate::running::{RunningInit, is_frozen, running_value, set_training, update_running};
use crate::{Mode, Momentum, NormError, Normalization};

const NAME: &str = "BatchNorm";

/// What [`NormError::NoRunningStatistics`] says was asked.
pub(crate) const FREEZE: &str = "freeze its statistics";
/// What [`NormError::NoRunningStatistics`] says was asked.
pub(crate) const FOLD: &str = "fold it into a weight layer";

norm_config! {
    /// Configuration of [`BatchNorm`]; the feature count comes from [`BatchNormConfig::init`].
    pub struct BatchNormConfig {
        /// Weight `m` of the batch statistic in the running update `(1 − m)·old + m·batch`, or
        /// `"cumulative"` for the cumulative average over `num_batches_tracked` (PyTorch's
        /// `momentum=None`; the builder takes `None`). Default 0.1.
        momentum / with_momentum: Momentum as impl Into<Momentum> = Momentum::default(),
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
        let (running_mean, running_var, num_batches_tracked, training) =
            RunningInit::optional(num_features, self.track_running_stats, device);
        Ok(BatchNorm {
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
            training,
            num_features,
            momentum: self.momentum,
            eps: self.eps,
        })
    }
}

/// Batch normalization over `[N, C, ...]` (Ioffe & Szegedy 2015, arXiv:1502.03167).
///
/// Train: `y = γ (x − μ_B)/√(σ²_B + ε) + β` with the biased batch variance `σ²_B`, statistics
/// per channel over the batch and spatial axes; `num_batches_tracked` counts the batch and the
/// running mean and the *unbiased* running variance are updated as `(1 − m)·old + m·batch`
/// (PyTorch's convention; `m = 1/num_batches_tracked` with [`Momentum::Cumulative`]). Eval:
/// running statistics. Frozen ([`BatchNorm::freeze_statistics`]): train mode normalizes with the
/// running statistics too and updates nothing (torchvision's `FrozenBatchNorm2d`).
///
/// The record holds PyTorch's `state_dict` entries under the same names: `weight`, `bias`,
/// `running_mean`, `running_var`, `num_batches_tracked`.
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
    /// Batches folded into the running statistics, `[1]` (a float: burn's running state is).
    pub num_batches_tracked: Option<RunningState<Tensor<1>>>,
    /// Whether train mode uses batch statistics and updates the running ones (enabled) or is
    /// frozen (disabled). burn's `Module::freeze` and `Module::valid` disable it, as they do
    /// burn-nn's BatchNorm; absent without running statistics.
    pub training: Option<Param<Flag>>,
    /// Channel count.
    pub num_features: usize,
    /// Running-statistics momentum.
    #[module(skip)]
    pub momentum: Momentum,
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

    /// Whether `mode` normalizes with the batch's statistics: train mode, unless frozen.
    pub(crate) fn uses_batch(&self, mode: Mode) -> bool {
        mode.is_train() && !self.statistics_frozen()
    }

    /// Folds one batch's statistics (taken over `count` values per channel) into the running
    /// statistics, with the unbiased variance.
    pub(crate) fn update_stats(&self, mean: Tensor<1>, invstd: Tensor<1>, count: usize) {
        if let (Some(running_mean), Some(running_var), Some(seen)) = (
            &self.running_mean,
            &self.running_var,
            &self.num_batches_tracked,
        ) {
            let unbiased = variance_from_invstd(invstd, self.eps)
                .mul_scalar(count as f64 / (count - 1) as f64);
            update_running(
                seen,
                self.momentum,
                [(running_mean, mean), (running_var, unbiased)],
            );
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

    /// Eval mode (and frozen train mode): the running statistics folded into one affine map
    /// per channel, or the batch statistics when the layer keeps none (as PyTorch).
    pub(crate) fn forward_eval<const D: usize>(
        &self,
        name: &'static str,
        x: Tensor<D>,
    ) -> Result<Tensor<D>, NormError> {
        match self.affine_on(name, &x.device()) {
            Some(affine) => Ok(affine?.forward(x)),
            None => self.forward_batch(name, x, false),
        }
    }

    /// The eval-mode map on `device`, named after `name`; `None` without running statistics.
    pub(crate) fn affine_on(
        &self,
        name: &'static str,
        device: &Device,
    ) -> Option<Result<ChannelAffine, NormError>> {
        let (mean, var) = self.running_stats(device)?;
        let (weight, bias) = self.affine(device);
        Some(
            ChannelAffine::from_statistics(mean, var, self.eps, Some(weight), Some(bias))
                .map(|affine| affine.named(name)),
        )
    }

    /// The eval-mode map under `name`, on the running statistics' device.
    pub(crate) fn eval_affine_named(&self, name: &'static str) -> Result<ChannelAffine, NormError> {
        let device = match &self.running_mean {
            Some(mean) => mean.value_sync().device(),
            None => {
                return Err(NormError::NoRunningStatistics {
                    layer: name,
                    operation: FOLD,
                });
            }
        };
        self.affine_on(name, &device)
            .expect("a layer with a running mean has a running variance")
    }

    /// The layer's eval-mode output as one affine map per channel
    /// (`scale = γ/√(σ²_run + ε)`, `shift = β − μ_run · scale`), to fold into the convolution or
    /// linear layer before it ([`crate::fold`]). [`NormError::NoRunningStatistics`] without
    /// running statistics.
    pub fn eval_affine(&self) -> Result<ChannelAffine, NormError> {
        self.eval_affine_named(NAME)
    }

    /// The layer with its statistics frozen: train mode then normalizes with the running
    /// statistics and leaves them (and `num_batches_tracked`) unchanged, while `γ`, `β` keep
    /// their gradients. [`NormError::NoRunningStatistics`] with `track_running_stats = false`.
    pub fn freeze_statistics(self) -> Result<Self, NormError> {
        self.set_statistics_training(NAME, false)
    }

    /// Undoes [`BatchNorm::freeze_statistics`].
    pub fn unfreeze_statistics(self) -> Result<Self, NormError> {
        self.set_statistics_training(NAME, true)
    }

    pub(crate) fn set_statistics_training(
        mut self,
        name: &'static str,
        enabled: bool,
    ) -> Result<Self, NormError> {
        self.training = Some(set_training(name, FREEZE, self.training, enabled)?);
        Ok(self)
    }

    /// Whether the statistics are frozen.
    pub fn statistics_frozen(&self) -> bool {
        is_frozen(self.training.as_ref())
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
        if self.uses_batch(mode) {
            self.forward_batch(NAME, x, true)
        } else {
            self.forward_eval(NAME, x)
        }
    }
}

/// The fold and freeze methods of a layer whose statistics live in an inner [`BatchNorm`]
/// (`inner`), reported under the layer's `NAME`.
macro_rules! wraps_batch_norm {
    ($layer:ident) => {
        impl $layer {
            /// The eval-mode map per channel, to fold into the layer before it
            /// ([`BatchNorm::eval_affine`]).
            pub fn eval_affine(&self) -> Result<$crate::fold::ChannelAffine, NormError> {
                self.inner.eval_affine_named(NAME)
            }

            /// The layer with its statistics frozen ([`BatchNorm::freeze_statistics`]).
            pub fn freeze_statistics(mut self) -> Result<Self, NormError> {
                self.inner = self.inner.set_statistics_training(NAME, false)?;
                Ok(self)
            }

            #[doc = concat!("Undoes [`", stringify!($layer), "::freeze_statistics`].")]
            pub fn unfreeze_statistics(mut self) -> Result<Self, NormError> {
                self.inner = self.inner.set_statistics_training(NAME, true)?;
                Ok(self)
            }

            /// Whether the statistics are frozen.
            pub fn statistics_frozen(&self) -> bool {
                self.inner.statistics_frozen()
            }
        }
    };
}
pub(crate) use wraps_batch_norm;
