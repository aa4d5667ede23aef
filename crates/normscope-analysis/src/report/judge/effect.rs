//! BatchNorm's effect on a metric: the ratio of its mean with BatchNorm to its mean without
//! normalization, with Fieller's interval over seeds, and Cohen's d.

use serde::{Deserialize, Serialize};

use crate::stats::{Estimate, Stat, cohens_d, ratio_of_means};

/// With and without BatchNorm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The metric with BatchNorm.
    pub with_bn: Stat,
    /// Without normalization.
    pub without: Stat,
    /// `with_bn.mean / without.mean` with its 95% Fieller interval over seeds (none with one
    /// seed per side, or when `without` is not distinguishable from 0).
    pub ratio: Estimate,
    /// Cohen's d (pooled standard deviation; NaN with one seed per side).
    pub cohens_d: f64,
}

impl Effect {
    /// The effect of BatchNorm on a metric with per-seed values `with_bn` and `without`.
    pub fn of(with_bn: &[f64], without: &[f64]) -> Effect {
        let (w, wo) = (Stat::of(with_bn), Stat::of(without));
        Effect {
            ratio: ratio_of_means(with_bn, without),
            cohens_d: cohens_d(&w, &wo),
            with_bn: w,
            without: wo,
        }
    }
}
