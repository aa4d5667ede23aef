//! InstanceNorm (Ulyanov, Vedaldi & Lempitsky 2016), with `torch.nn.InstanceNorm*d`'s semantics.

use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use super::{FOLD, FREEZE, init_affine, norm_config, param_or, variance_from_invstd};
use crate::error::{check_channels, check_eps, check_features, check_momentum};
use crate::fold::ChannelAffine;
use crate::functional::{Kernel, normalize};
use crate::ops::NormLayout;
use crate::running::{RunningInit, is_frozen, running_value, set_training, update_running};
use crate::{Mode, Momentum, NormError, Normalization};

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
        /// Running-statistics momentum (a number or `"cumulative"`, see
        /// [`BatchNormConfig::momentum`](super::BatchNormConfig::momentum)). Default 0.1.
        momentum / with_momentum: Momentum as impl Into<Momentum> = Momentum::default(),
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
        let (running_mean, running_var, num_batches_tracked, training) =
            RunningInit::optional(num_features, self.track_running_stats, device);
        Ok(InstanceNorm {
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

/// Instance normalization (Ulyanov et al. 2016, arXiv:1607.08022): each sample's each channel is
/// normalized with the mean and biased variance of its spatial positions; `γ`, `β` per channel.
/// With running statistics, train mode updates them with the batch average of the per-instance
/// mean and unbiased variance (as PyTorch) and eval mode (and frozen train mode) uses them.
/// Normalizing with the input's own statistics needs more than one spatial element, in either
/// mode (as PyTorch).
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
    /// Batches folded into the running statistics, `[1]`.
    pub num_batches_tracked: Option<RunningState<Tensor<1>>>,
    /// The statistics' training flag (disabled: frozen), as [`BatchNorm`](super::BatchNorm)'s.
    pub training: Option<Param<Flag>>,
    /// Channel count.
    pub num_features: usize,
    /// Running-statistics momentum.
    #[module(skip)]
    pub momentum: Momentum,
    /// Variance epsilon.
    pub eps: f64,
}

impl InstanceNorm {
    /// The eval-mode map on `device`; `None` without running statistics.
    fn affine_on(&self, device: &Device) -> Option<Result<ChannelAffine, NormError>> {
        let (Some(mean), Some(var)) = (&self.running_mean, &self.running_var) else {
            return None;
        };
        let c = self.num_features;
        Some(
            ChannelAffine::from_statistics(
                running_value(mean, device),
                running_value(var, device),
                self.eps,
                Some(param_or(&self.weight, c, 1.0, device)),
                Some(param_or(&self.bias, c, 0.0, device)),
            )
            .map(|affine| affine.named(NAME)),
        )
    }

    /// The eval-mode output as one affine map per channel (with running statistics), to fold
    /// ([`crate::fold`]).
    pub fn eval_affine(&self) -> Result<ChannelAffine, NormError> {
        let no_stats = NormError::NoRunningStatistics {
            layer: NAME,
            operation: FOLD,
        };
        let device = self.running_mean.as_ref().ok_or(no_stats.clone())?;
        let device = device.value_sync().device();
        self.affine_on(&device).ok_or(no_stats)?
    }

    /// The layer with its statistics frozen (see [`BatchNorm::freeze_statistics`](
    /// super::BatchNorm::freeze_statistics)); [`NormError::NoRunningStatistics`] without them.
    pub fn freeze_statistics(mut self) -> Result<Self, NormError> {
        self.training = Some(set_training(NAME, FREEZE, self.training, false)?);
        Ok(self)
    }

    /// Undoes [`InstanceNorm::freeze_statistics`].
    pub fn unfreeze_statistics(mut self) -> Result<Self, NormError> {
        self.training = Some(set_training(NAME, FREEZE, self.training, true)?);
        Ok(self)
    }

    /// Whether the statistics are frozen.
    pub fn statistics_frozen(&self) -> bool {
        is_frozen(self.training.as_ref())
    }
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
        let train = mode.is_train() && !self.statistics_frozen();
        if !train && let Some(affine) = self.affine_on(&device) {
            return Ok(affine?.forward(x));
        }
        // From here on the input's own statistics, in train mode or in eval mode without
        // running statistics: both need more than one spatial element.
        let spatial: usize = dims[2..].iter().product();
        if spatial <= 1 {
            return Err(NormError::SingleSpatialElement {
                layer: NAME,
                shape: dims.to_vec(),
            });
        }
        let (n, c) = (dims[0], self.num_features);
        let weight = param_or(&self.weight, c, 1.0, &device);
        let bias = param_or(&self.bias, c, 0.0, &device);
        let result = normalize(
            x,
            weight,
            bias,
            NormLayout::group(c),
            self.eps,
            Kernel::Fused,
        );
        if let (true, Some(mean), Some(var), Some(seen)) = (
            train,
            &self.running_mean,
            &self.running_var,
            &self.num_batches_tracked,
        ) {
            let batch_mean = result.mean.reshape([n, c]).mean_dim(0).reshape([c]);
            let unbiased = variance_from_invstd(result.invstd, self.eps)
                .mul_scalar(spatial as f64 / (spatial - 1) as f64)
                .reshape([n, c])
                .mean_dim(0)
                .reshape([c]);
            update_running(seen, self.momentum, [(mean, batch_mean), (var, unbiased)]);
        }
        Ok(result.output)
    }
}
