//! "Noisy" BatchNorm (Santurkar et al. 2018, §2.1): BatchNorm followed by distributional noise
//! that changes at every training step.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};

use super::{BatchNorm, BatchNormConfig, norm_config};
use crate::error::{check_channels, check_eps, check_features, check_momentum};
use crate::functional::{as_ncs, per_channel};
use crate::{Mode, NormError, Normalization};

const NAME: &str = "NoisyBatchNorm";

norm_config! {
    /// Configuration of [`NoisyBatchNorm`]. The noise parameters are ours: the paper does not
    /// state its constants (see `docs/metrics.md`).
    pub struct NoisyBatchNormConfig {
        /// Each step, each channel's noise mean is drawn from `U(−noise_mean_max, noise_mean_max)`.
        /// Default 0.5.
        noise_mean_max / with_noise_mean_max: f64 = 0.5,
        /// Each step, each channel's noise standard deviation is drawn from
        /// `U(noise_std_min, noise_std_max)`. Default 0.25.
        noise_std_min / with_noise_std_min: f64 = 0.25,
        /// Upper end of the standard-deviation draw. Default 1.0.
        noise_std_max / with_noise_std_max: f64 = 1.0,
        /// Running-statistics momentum of the BatchNorm. Default 0.1.
        momentum / with_momentum: f64 = 0.1,
        /// Variance epsilon of the BatchNorm. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
        /// Normalize before adding the noise. `false` gives "the same noise without BatchNorm",
        /// the control of Santurkar et al.'s experiment. Default true.
        normalize / with_normalize: bool = true,
    }
}

impl NoisyBatchNormConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        let invalid = |name, expected, value| NormError::InvalidParameter {
            layer: NAME,
            name,
            expected,
            value,
        };
        if !(self.noise_mean_max.is_finite() && self.noise_mean_max >= 0.0) {
            return Err(invalid(
                "noise_mean_max",
                "finite and >= 0",
                self.noise_mean_max,
            ));
        }
        if !(self.noise_std_min.is_finite() && self.noise_std_min >= 0.0) {
            return Err(invalid(
                "noise_std_min",
                "finite and >= 0",
                self.noise_std_min,
            ));
        }
        if !(self.noise_std_max.is_finite() && self.noise_std_max >= self.noise_std_min) {
            return Err(invalid(
                "noise_std_max",
                "finite and >= noise_std_min",
                self.noise_std_max,
            ));
        }
        check_eps(NAME, self.eps)?;
        check_momentum(NAME, self.momentum)
    }

    /// Builds a noisy BatchNorm over `num_features` channels.
    pub fn init(&self, num_features: usize, device: &Device) -> Result<NoisyBatchNorm, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        let inner = BatchNormConfig::new()
            .with_momentum(self.momentum)
            .with_eps(self.eps)
            .with_affine(self.affine)
            .init(num_features, device)?;
        Ok(NoisyBatchNorm {
            inner,
            normalize: self.normalize,
            noise_mean_max: self.noise_mean_max,
            noise_std_min: self.noise_std_min,
            noise_std_max: self.noise_std_max,
        })
    }
}

/// BatchNorm whose output, in train mode, gets i.i.d. noise of non-zero mean and non-unit
/// variance that changes at every step (Santurkar et al. 2018, arXiv:1805.11604, §2.1):
/// at each training forward, per channel `j`, draw `μ_j ~ U(−a, a)` and `σ_j ~ U(s_lo, s_hi)`;
/// then every activation of every sample becomes `y + ε` with `ε ~ N(μ_j, σ_j²)` i.i.d. The noise
/// comes from the device's random generator (seed it with `Device::seed`). Eval: plain BatchNorm.
/// With `normalize = false` the layer is the noise alone (identity in eval).
#[derive(Module, Debug)]
pub struct NoisyBatchNorm {
    /// The BatchNorm before the noise.
    pub inner: BatchNorm,
    /// Whether the BatchNorm runs (false: the noise alone).
    pub normalize: bool,
    /// `a` of the per-step mean draw.
    pub noise_mean_max: f64,
    /// `s_lo` of the per-step standard-deviation draw.
    pub noise_std_min: f64,
    /// `s_hi` of the per-step standard-deviation draw.
    pub noise_std_max: f64,
}

impl Normalization for NoisyBatchNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        let dims = x.dims();
        let c = self.inner.num_features;
        check_channels(NAME, &dims, c)?;
        if !mode.is_train() {
            return if self.normalize {
                self.inner.forward_eval(NAME, x)
            } else {
                Ok(x)
            };
        }
        let device = x.device();
        let normalized = if self.normalize {
            as_ncs(self.inner.forward_batch(NAME, x, true)?)
        } else {
            as_ncs(x)
        };
        let a = self.noise_mean_max;
        let mean = uniform(c, -a, a, &device);
        let std = uniform(c, self.noise_std_min, self.noise_std_max, &device);
        let unit = Tensor::<3>::random(normalized.shape(), Distribution::Normal(0.0, 1.0), &device);
        let noise = unit.mul(per_channel(std)).add(per_channel(mean));
        Ok(normalized.add(noise).reshape(dims))
    }
}

/// `[len]` values drawn from `U(low, high)`; the constant `low` when the interval is empty.
fn uniform(len: usize, low: f64, high: f64, device: &Device) -> Tensor<1> {
    if high > low {
        Tensor::random([len], Distribution::Uniform(low, high), device)
    } else {
        Tensor::full([len], low, device)
    }
}
