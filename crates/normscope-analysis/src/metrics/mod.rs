//! The metrics, one file each, named after the quantity. Formulas and papers: `docs/metrics.md`.

pub mod gradient_explosion;
pub mod gradient_predictiveness;
pub mod hessian;
#[cfg(feature = "tch")]
pub mod hessian_tch;
pub mod identity_bias;
pub mod internal_covariate_shift;
pub mod landscape;
pub mod lr_range;
pub mod rank_collapse;
pub mod rank_pretraining;
pub mod sample_similarity;
pub mod training_probe;
