//! The noise of "noisy" BatchNorm without the BatchNorm (Santurkar et al. 2018, §2.1): the
//! control arm of their experiment.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Shape, Tensor};

use super::norm_config;
use crate::error::{check_channels, check_features};
use crate::functional::{as_ncs, per_channel};
use crate::{Mode, NormError, Normalization};

const NAME: &str = "NoiseOnly";

norm_config! {
    /// Configuration of [`NoiseOnly`] (kind `noise_only`). The noise constants are ours: the
    /// paper's appendix values were not retrieved (see `docs/metrics.md`).
    pub struct NoiseOnlyConfig {
        /// `n_μ`: each step, each channel's shift is drawn from `U(−n_μ, n_μ)`. Default 0.5.
        noise_mean_max / with_noise_mean_max: f64 = 0.5,
        /// `n_σ`: each step, each channel's scale is drawn from `U(1, n_σ)`. Default 1.5.
        noise_scale_max / with_noise_scale_max: f64 = 1.5,
        /// Draw the shift and scale for every activation of every sample (i.i.d.) instead of once
        /// per channel and step. Per channel (default) shifts each channel's distribution and
        /// keeps what tells the samples apart; per sample also buries the signal in noise.
        per_sample / with_per_sample: bool = false,
    }
}

/// Checks the noise bounds of `layer`.
pub(crate) fn check_noise(
    layer: &'static str,
    noise_mean_max: f64,
    noise_scale_max: f64,
) -> Result<(), NormError> {
    let invalid = |name, expected, value| NormError::InvalidParameter {
        layer,
        name,
        expected,
        value,
    };
    if !(noise_mean_max.is_finite() && noise_mean_max >= 0.0) {
        return Err(invalid("noise_mean_max", "finite and >= 0", noise_mean_max));
    }
    if !(noise_scale_max.is_finite() && noise_scale_max >= 1.0) {
        return Err(invalid(
            "noise_scale_max",
            "finite and >= 1 (the scale is drawn from U(1, noise_scale_max))",
            noise_scale_max,
        ));
    }
    Ok(())
}

impl NoiseOnlyConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_noise(NAME, self.noise_mean_max, self.noise_scale_max)
    }

    /// Builds the noise over `num_features` channels (it holds no tensors: `device` is taken
    /// for the same signature as every layer's `init`).
    pub fn init(&self, num_features: usize, _device: &Device) -> Result<NoiseOnly, NormError> {
        check_features(NAME, num_features)?;
        self.validate()?;
        Ok(NoiseOnly {
            num_features,
            noise_mean_max: self.noise_mean_max,
            noise_scale_max: self.noise_scale_max,
            per_sample: self.per_sample,
        })
    }
}

/// "Noisy" BatchNorm's noise without the BatchNorm (Santurkar et al. 2018, arXiv:1805.11604,
/// §2.1, the control of their Fig. 2): in train mode, at each forward, per channel `j`, draw
/// `m_j ~ U(−n_μ, n_μ)` and `s_j ~ U(1, n_σ)` and return `s_j · x + m_j` (every activation its
/// own draw with `per_sample`); eval mode is the identity. No parameters, no running statistics.
/// The noise comes from the device's random generator (seed it with `Device::seed`).
#[derive(Module, Debug)]
pub struct NoiseOnly {
    /// Channel count.
    pub num_features: usize,
    /// `n_μ` of the shift draw `U(−n_μ, n_μ)`.
    pub noise_mean_max: f64,
    /// `n_σ` of the scale draw `U(1, n_σ)`.
    pub noise_scale_max: f64,
    /// One draw per activation of every sample instead of one per channel.
    pub per_sample: bool,
}

/// `s ⊙ x + m` on `[N, C, S]` with `m ~ U(−mean_max, mean_max)`, `s ~ U(1, scale_max)` drawn
/// per channel, or per element with `per_sample`.
pub(crate) fn add_noise(
    x: Tensor<3>,
    mean_max: f64,
    scale_max: f64,
    per_sample: bool,
) -> Tensor<3> {
    let device = x.device();
    let (shift, scale) = if per_sample {
        let shape = x.shape();
        (
            uniform(shape.clone(), -mean_max, mean_max, &device),
            uniform(shape, 1.0, scale_max, &device),
        )
    } else {
        let [_, c, _] = x.dims();
        (
            per_channel(uniform([c].into(), -mean_max, mean_max, &device)),
            per_channel(uniform([c].into(), 1.0, scale_max, &device)),
        )
    };
    x.mul(scale).add(shift)
}

/// Values of `shape` drawn from `U(low, high)`; the constant `low` when the interval is empty.
fn uniform<const D: usize>(shape: Shape, low: f64, high: f64, device: &Device) -> Tensor<D> {
    if high > low {
        Tensor::random(shape, Distribution::Uniform(low, high), device)
    } else {
        Tensor::full(shape, low, device)
    }
}

impl Normalization for NoiseOnly {
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
        if !mode.is_train() {
            return Ok(x);
        }
        let noisy = add_noise(
            as_ncs(x),
            self.noise_mean_max,
            self.noise_scale_max,
            self.per_sample,
        );
        Ok(noisy.reshape(dims))
    }
}
