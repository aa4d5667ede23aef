//! Batch Renormalization (Ioffe 2017).

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::{BatchNorm, BatchNormConfig, norm_config, wraps_batch_norm};
use crate::error::{check_batch_values, check_channels, check_eps, check_features, check_momentum};
use crate::functional::{Kernel, channel_affine, normalize};
use crate::ops::NormLayout;
use crate::{Mode, Momentum, NormError, Normalization};

const NAME: &str = "BatchRenorm";

norm_config! {
    /// Configuration of [`BatchRenorm`].
    pub struct BatchRenormConfig {
        /// Clip of the scale correction `r ∈ [1/r_max, r_max]`; must be ≥ 1. Default 3 (Ioffe 2017 §4).
        r_max / with_r_max: f64 = 3.0,
        /// Clip of the shift correction `d ∈ [−d_max, d_max]`; must be ≥ 0. Default 5 (Ioffe 2017 §4).
        d_max / with_d_max: f64 = 5.0,
        /// Running-statistics momentum (a number or `"cumulative"`, see
        /// [`BatchNormConfig::momentum`]). Default 0.1.
        momentum / with_momentum: Momentum as impl Into<Momentum> = Momentum::default(),
        /// Variance epsilon. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
    }
}

impl BatchRenormConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        if !(self.r_max.is_finite() && self.r_max >= 1.0) {
            return Err(NormError::InvalidParameter {
                layer: NAME,
                name: "r_max",
                expected: "finite and >= 1",
                value: self.r_max,
            });
        }
        if !(self.d_max.is_finite() && self.d_max >= 0.0) {
            return Err(NormError::InvalidParameter {
                layer: NAME,
                name: "d_max",
                expected: "finite and >= 0",
                value: self.d_max,
            });
        }
        check_eps(NAME, self.eps)?;
        check_momentum(NAME, self.momentum)
    }

    /// Builds a BatchRenorm over `num_features` channels.
    pub fn init(&self, num_features: usize, device: &Device) -> Result<BatchRenorm, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        let inner = BatchNormConfig::new()
            .with_momentum(self.momentum)
            .with_eps(self.eps)
            .with_affine(self.affine)
            .init(num_features, device)?;
        Ok(BatchRenorm {
            inner,
            r_max: self.r_max,
            d_max: self.d_max,
        })
    }
}

/// Batch Renormalization (Ioffe 2017, arXiv:1702.03275, Algorithm 1).
///
/// Train: with batch statistics `μ_B`, `σ_B = √(σ²_B + ε)` and running `μ`, `σ = √(σ²_run + ε)`,
/// `r = stop_grad(clip(σ_B/σ, 1/r_max, r_max))`, `d = stop_grad(clip((μ_B − μ)/σ, −d_max, d_max))`,
/// `y = γ ((x − μ_B)/σ_B · r + d) + β`. The running statistics are kept as BatchNorm keeps them
/// (mean and unbiased variance, `(1 − m)·old + m·batch`) rather than the paper's running `σ`;
/// `σ` is derived from the running variance. `r_max`, `d_max` are fixed (the paper anneals them
/// from 1 and 0). Eval and frozen train mode: the running statistics, as BatchNorm. With
/// `r_max = 1`, `d_max = 0` it is BatchNorm.
#[derive(Module, Debug)]
pub struct BatchRenorm {
    /// The BatchNorm that holds `γ`, `β` and the running statistics.
    pub inner: BatchNorm,
    /// Scale-correction clip.
    pub r_max: f64,
    /// Shift-correction clip.
    pub d_max: f64,
}

wraps_batch_norm!(BatchRenorm);

impl Normalization for BatchRenorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        let dims = x.dims();
        let bn = &self.inner;
        check_channels(NAME, &dims, bn.num_features)?;
        if !bn.uses_batch(mode) {
            return bn.forward_eval(NAME, x);
        }
        check_batch_values(NAME, &dims, dims[0])?;
        let device = x.device();
        let c = bn.num_features;
        let count = x.shape().num_elements() / c;
        let normalized = normalize(
            x,
            Tensor::ones([c], &device),
            Tensor::zeros([c], &device),
            NormLayout::BATCH,
            bn.eps,
            Kernel::Fused,
        );
        let (running_mean, running_var) = bn
            .running_stats(&device)
            .expect("BatchRenorm always tracks running statistics");
        let sigma = running_var.add_scalar(bn.eps).sqrt();
        let sigma_batch = normalized.invstd.clone().detach().recip();
        let r = sigma_batch
            .div(sigma.clone())
            .clamp(1.0 / self.r_max, self.r_max)
            .detach();
        let d = normalized
            .mean
            .clone()
            .detach()
            .sub(running_mean)
            .div(sigma)
            .clamp(-self.d_max, self.d_max)
            .detach();
        let (weight, bias) = bn.affine(&device);
        let scale = weight.clone().mul(r);
        let shift = weight.mul(d).add(bias);
        let output = channel_affine(normalized.output, scale, shift, Kernel::Fused);
        bn.update_stats(normalized.mean, normalized.invstd, count);
        Ok(output)
    }
}
