//! "Noisy" BatchNorm (Santurkar et al. 2018, §2.1): BatchNorm followed by distributional noise
//! that changes at every training step.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::noise_only::{add_noise, check_noise};
use super::{BatchNorm, BatchNormConfig, NoiseOnlyConfig, norm_config, wraps_batch_norm};
use crate::error::{check_channels, check_eps, check_features, check_momentum};
use crate::functional::as_ncs;
use crate::{Mode, Momentum, NormError, Normalization};

const NAME: &str = "NoisyBatchNorm";

norm_config! {
    /// Configuration of [`NoisyBatchNorm`]. The noise constants are ours: the paper's appendix
    /// values were not retrieved (see `docs/metrics.md`). The same noise without the BatchNorm
    /// is its own kind, [`NoiseOnlyConfig`] ([`NoisyBatchNormConfig::noise_only`]).
    pub struct NoisyBatchNormConfig {
        /// `n_μ` of the shift `U(−n_μ, n_μ)`, as [`NoiseOnlyConfig::noise_mean_max`]. Default 0.5.
        noise_mean_max / with_noise_mean_max: f64 = NoiseOnlyConfig::new().noise_mean_max,
        /// `n_σ` of the scale `U(1, n_σ)`, as [`NoiseOnlyConfig::noise_scale_max`]. Default 1.5.
        noise_scale_max / with_noise_scale_max: f64 = NoiseOnlyConfig::new().noise_scale_max,
        /// One draw per activation of every sample, as [`NoiseOnlyConfig::per_sample`].
        /// Default false.
        per_sample / with_per_sample: bool = false,
        /// Running-statistics momentum of the BatchNorm (a number or `"cumulative"`, see
        /// [`BatchNormConfig::momentum`]). Default 0.1.
        momentum / with_momentum: Momentum as impl Into<Momentum> = Momentum::default(),
        /// Variance epsilon of the BatchNorm. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
    }
}

impl NoisyBatchNormConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_noise(NAME, self.noise_mean_max, self.noise_scale_max)?;
        check_eps(NAME, self.eps)?;
        check_momentum(NAME, self.momentum)
    }

    /// The same noise without the BatchNorm: the control arm of Santurkar et al.'s experiment.
    pub fn noise_only(&self) -> NoiseOnlyConfig {
        NoiseOnlyConfig {
            noise_mean_max: self.noise_mean_max,
            noise_scale_max: self.noise_scale_max,
            per_sample: self.per_sample,
        }
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
/// `Device::seed`). Eval: plain BatchNorm. Frozen statistics freeze the BatchNorm; the noise
/// stays a train-mode behaviour. The noise alone is [`NoiseOnly`](super::NoiseOnly).
#[derive(Module, Debug)]
pub struct NoisyBatchNorm {
    /// The BatchNorm before the noise.
    pub inner: BatchNorm,
    /// `n_μ` of the shift draw `U(−n_μ, n_μ)`.
    pub noise_mean_max: f64,
    /// `n_σ` of the scale draw `U(1, n_σ)`.
    pub noise_scale_max: f64,
    /// One draw per activation of every sample instead of one per channel.
    pub per_sample: bool,
}

wraps_batch_norm!(NoisyBatchNorm);

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
        check_channels(NAME, &dims, self.inner.num_features)?;
        if !mode.is_train() {
            return self.inner.forward_eval(NAME, x);
        }
        let normalized = if self.inner.uses_batch(mode) {
            self.inner.forward_batch(NAME, x, true)?
        } else {
            self.inner.forward_eval(NAME, x)?
        };
        let noisy = add_noise(
            as_ncs(normalized),
            self.noise_mean_max,
            self.noise_scale_max,
            self.per_sample,
        );
        Ok(noisy.reshape(dims))
    }
}
