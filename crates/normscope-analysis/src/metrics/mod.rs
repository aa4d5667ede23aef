//! The metrics, one file each, named after the quantity. Formulas and papers: `docs/metrics.md`.

pub mod gradient_explosion;
pub mod gradient_predictiveness;
pub mod hessian;
pub mod identity_bias;
pub mod internal_covariate_shift;
pub mod lr_range;
pub mod rank_collapse;
pub mod rank_pretraining;
pub mod sample_similarity;
