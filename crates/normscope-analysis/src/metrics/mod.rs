//! The metrics, one file each, named after the quantity. Formulas and papers: `docs/metrics.md`.

pub mod gradient_explosion;
pub mod identity_bias;
pub mod rank_collapse;
pub mod sample_similarity;
