//! Ghost BatchNorm (Hoffer, Hubara & Soudry 2017): statistics per virtual batch.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::{BatchNorm, BatchNormConfig, norm_config, wraps_batch_norm};
use crate::error::{check_channels, check_eps, check_features, check_momentum};
use crate::{Mode, Momentum, NormError, Normalization};

const NAME: &str = "GhostBatchNorm";

norm_config! {
    /// Configuration of [`GhostBatchNorm`].
    pub struct GhostBatchNormConfig {
        /// Samples per virtual ("ghost") batch; must divide the batch size at forward. Default 32.
        virtual_batch_size / with_virtual_batch_size: usize = 32,
        /// Running-statistics momentum (a number or `"cumulative"`, see
        /// [`BatchNormConfig::momentum`]), applied once per virtual batch. Default 0.1.
        momentum / with_momentum: Momentum as impl Into<Momentum> = Momentum::default(),
        /// Variance epsilon. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
    }
}

impl GhostBatchNormConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        if self.virtual_batch_size == 0 {
            return Err(NormError::ZeroVirtualBatch { layer: NAME });
        }
        check_eps(NAME, self.eps)?;
        check_momentum(NAME, self.momentum)
    }

    /// Builds a GhostBatchNorm over `num_features` channels.
    pub fn init(&self, num_features: usize, device: &Device) -> Result<GhostBatchNorm, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        let inner = BatchNormConfig::new()
            .with_momentum(self.momentum)
            .with_eps(self.eps)
            .with_affine(self.affine)
            .init(num_features, device)?;
        Ok(GhostBatchNorm {
            inner,
            virtual_batch_size: self.virtual_batch_size,
        })
    }
}

/// BatchNorm whose training statistics come from virtual batches of `virtual_batch_size`
/// samples (Hoffer et al. 2017, "Train longer, generalize better", Algorithm 1).
///
/// Train: the batch is split along dim 0 into `N / virtual_batch_size` contiguous chunks, each
/// normalized with its own mean and biased variance; the running statistics are updated once per
/// chunk in order (so that after `k` chunks they equal Hoffer's
/// `(1−m)^k·old + Σ_l m(1−m)^{k−l}·stat_l`; `num_batches_tracked` counts virtual batches, so the
/// cumulative momentum averages them all equally). Eval and frozen train mode: the running
/// statistics, as BatchNorm. With `virtual_batch_size = N` it is BatchNorm.
#[derive(Module, Debug)]
pub struct GhostBatchNorm {
    /// The BatchNorm that holds `γ`, `β` and the running statistics.
    pub inner: BatchNorm,
    /// Samples per virtual batch.
    pub virtual_batch_size: usize,
}

wraps_batch_norm!(GhostBatchNorm);

impl Normalization for GhostBatchNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        check_channels(NAME, &x.dims(), self.inner.num_features)?;
        if !self.inner.uses_batch(mode) {
            return self.inner.forward_eval(NAME, x);
        }
        let batch_size = x.dims()[0];
        let size = self.virtual_batch_size;
        if !batch_size.is_multiple_of(size) {
            return Err(NormError::VirtualBatchDoesNotDivide {
                layer: NAME,
                virtual_batch_size: size,
                batch_size,
            });
        }
        let chunks = (0..batch_size / size)
            .map(|k| {
                self.inner
                    .forward_batch(NAME, x.clone().narrow(0, k * size, size), true)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::cat(chunks, 0))
    }
}
