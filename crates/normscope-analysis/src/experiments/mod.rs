//! The experiments behind the examples and the report: sweeps that build models, run the
//! metrics over seeds and summarise them. Each takes a device and a progress bar.

pub mod gradient_explosion;
pub mod gradient_predictiveness;
pub mod hessian;
pub mod identity_bias;
pub mod internal_covariate_shift;
pub mod lr_range;
pub mod noisy_batchnorm;
pub mod rank_collapse;
pub mod sample_similarity;
mod stats;
pub mod training;

pub use stats::Stat;

use burn::tensor::{Device, Distribution, Tensor};

/// A batch of `N(0, 1)` inputs `[n, c, h, w]` drawn from the device's generator.
pub(crate) fn gaussian(shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// A hidden progress bar, for tests and library callers that show none.
pub fn no_progress() -> indicatif::ProgressBar {
    indicatif::ProgressBar::hidden()
}
