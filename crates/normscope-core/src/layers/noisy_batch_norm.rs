//! "Noisy" BatchNorm (Santurkar et al. 2018, §2.1): BatchNorm followed by distributional noise
//! that changes at every training step.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Shape, Tensor};

use super::{BatchNorm, BatchNormConfig, norm_config};
use crate::error::{check_channels, check_eps, check_features, check_momentum};
use crate::functional::{as_ncs, per_channel};
use crate::{Mode, NormError, Normalization};

const NAME: &str = "NoisyBatchNorm";

norm_config! {
    /// Configuration of [`NoisyBatchNorm`]. The noise constants are ours: the paper's appendix
    /// values were not retrieved (see `docs/metrics.md`).
    pub struct NoisyBatchNormConfig {
        /// `n_μ`: each step, each channel's shift is drawn from `U(−n_μ, n_μ)`. Default 0.5.
        noise_mean_max / with_noise_mean_max: f64 = 0.5,
        /// `n_σ`: each step, each channel's scale is drawn from `U(1, n_σ)`. Default 1.5.
        noise_scale_max / with_noise_scale_max: f64 = 1.5,
        /// Draw the shift and scale for every activation of every sample (i.i.d.) instead of once
        /// per channel and step. Per channel (default) shifts each channel's distribution and
        /// keeps what tells the samples apart; per sample also buries the signal in noise.
        per_sample / with_per_sample: bool = false,
        /// Running-statistics momentum of the BatchNorm. Default 0.1.
        momentum / with_momentum: f64 = 0.1,
        /// Variance epsilon of the BatchNorm. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
        /// Normalize before the noise. `false` gives "the same noise without BatchNorm", the
        /// control of Santurkar et al.'s experiment. Default true.
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
        if !(self.noise_scale_max.is_finite() && self.noise_scale_max >= 1.0) {
            return Err(invalid(
                "noise_scale_max",
                "finite and >= 1 (the scale is drawn from U(1, noise_scale_max))",
                self.noise_scale_max,
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
            noise_scale_max: self.noise_scale_max,
            per_sample: self.per_sample,
        })
    }
}

/// BatchNorm whose output, in train mode, is shifted and scaled by noise of non-zero mean and
/// non-unit variance that changes at every step (Santurkar et al. 2018, arXiv:1805.11604, §2.1,
/// "noisy" BatchNorm): at each training forward, per channel `j`, draw `m_j ~ U(−n_μ, n_μ)` and
/// `s_j ~ U(1, n_σ)`; the output is `s_j · BN(x) + m_j`, so every channel's distribution moves
/// every step — internal covariate shift injected on purpose — while the samples keep their
/// order within the batch. With `per_sample`, `m` and `s` are drawn for every activation of every
/// sample instead. The noise comes from the device's random generator (seed it with
/// `Device::seed`). Eval: plain BatchNorm. With `normalize = false` the layer is the noise alone
/// (identity in eval).
#[derive(Module, Debug)]
pub struct NoisyBatchNorm {
    /// The BatchNorm before the noise.
    pub inner: BatchNorm,
    /// Whether the BatchNorm runs (false: the noise alone).
    pub normalize: bool,
    /// `n_μ` of the shift draw `U(−n_μ, n_μ)`.
    pub noise_mean_max: f64,
    /// `n_σ` of the scale draw `U(1, n_σ)`.
    pub noise_scale_max: f64,
    /// One draw per activation of every sample instead of one per channel.
    pub per_sample: bool,
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
        let (shift, scale) = if self.per_sample {
            let shape = normalized.shape();
            (
                uniform(shape.clone(), -a, a, &device),
                uniform(shape, 1.0, self.noise_scale_max, &device),
            )
        } else {
            let [_, c, _] = normalized.dims();
            (
                per_channel(uniform([c].into(), -a, a, &device)),
                per_channel(uniform([c].into(), 1.0, self.noise_scale_max, &device)),
            )
        };
        Ok(normalized.mul(scale).add(shift).reshape(dims))
    }
}

/// Values of `shape` drawn from `U(low, high)`; the constant `low` when the interval is empty.
fn uniform<const D: usize>(shape: Shape, low: f64, high: f64, device: &Device) -> Tensor<D> {
    if high > low {
        Tensor::random(shape, Distribution::Uniform(low, high), device)
    } else {
        Tensor::full(shape, low, device)
    }
}
