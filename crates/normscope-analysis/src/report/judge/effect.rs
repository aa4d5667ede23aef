//! BatchNorm's effect on a metric: the ratio of its mean with BatchNorm to its mean without
//! normalization, with a bootstrap interval over seeds, and Cohen's d.

use serde::{Deserialize, Serialize};

use crate::stats::{Estimate, Stat, bootstrap_ratio, cohens_d};

/// With and without BatchNorm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The metric with BatchNorm.
    pub with_bn: Stat,
    /// Without normalization.
    pub without: Stat,
    /// `with_bn.mean / without.mean` with its 95% bootstrap interval over seeds (none with one
    /// seed per side).
    pub ratio: Estimate,
    /// Cohen's d (pooled standard deviation; NaN with one seed per side).
    pub cohens_d: f64,
}

impl Effect {
    /// The effect of BatchNorm on a metric with per-seed values `with_bn` and `without`
    /// (resampled from `seed`).
    pub fn of(with_bn: &[f64], without: &[f64], seed: u64) -> Effect {
        let (w, wo) = (Stat::of(with_bn), Stat::of(without));
        Effect {
            ratio: bootstrap_ratio(with_bn, without, seed),
            cohens_d: cohens_d(&w, &wo),
            with_bn: w,
            without: wo,
        }
    }
}
