//! Learning-rate schedules.

use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::error::{in_range, positive_finite};

/// How the learning rate changes with the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Multiply by `gamma` at each milestone step (PyTorch's `MultiStepLR`).
    Step {
        /// Steps at which the rate is multiplied.
        milestones: Vec<usize>,
        /// The factor.
        gamma: f64,
    },
    /// Cosine decay from the base rate to `min_fraction` of it over the run.
    Cosine {
        /// Final rate as a fraction of the base.
        min_fraction: f64,
    },
    /// Linear warm-up over `steps`, then constant.
    Warmup {
        /// Warm-up steps.
        steps: usize,
    },
}

impl Schedule {
    /// Checks the values, naming a bad one as `{table}.{field}` (`train.schedule.gamma`):
    /// `gamma` finite and `> 0` (0 stops training at the first milestone, a negative factor
    /// turns descent into ascent); `min_fraction` in `[0, 1]`.
    pub fn validate_at(&self, table: &str) -> Result<(), AnalysisError> {
        match self {
            Schedule::Constant | Schedule::Warmup { .. } => Ok(()),
            Schedule::Step { gamma, .. } => positive_finite(format!("{table}.gamma"), *gamma),
            Schedule::Cosine { min_fraction } => {
                in_range(format!("{table}.min_fraction"), *min_fraction, 0.0..=1.0)
            }
        }
    }

    /// The rate at `step` (0-based) of a run of `total` steps with base rate `base`.
    pub fn rate(&self, base: f64, step: usize, total: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Step { milestones, gamma } => {
                base * gamma.powi(milestones.iter().filter(|&&m| step >= m).count() as i32)
            }
            Schedule::Cosine { min_fraction } => {
                let t = step as f64 / total.max(1) as f64;
                let min = base * min_fraction;
                min + 0.5 * (base - min) * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Schedule::Warmup { steps } => {
                if step < *steps {
                    base * (step + 1) as f64 / *steps as f64
                } else {
                    base
                }
            }
        }
    }
}
