//! The learning-rate range a network trains in (Bjorck, Gomes, Selman & Weinberger 2018,
//! *Understanding Batch Normalization*): for a grid of learning rates, the final training loss or
//! divergence, and the largest *stable* learning rate. Bjorck et al.: BN "primarily enables
//! training with larger learning rates"; without it, large updates make activations grow
//! uncontrollably and training diverges.
//!
//! What "stable" means is a named [`Stability`] criterion; the `lr_range` example and the
//! `why_batchnorm` report each state theirs (`docs/metrics.md`, "Learning-rate range").

use serde::{Deserialize, Serialize};

use crate::stats::finite_mean;
use crate::train::Outcome;

/// What one learning rate gave in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrOutcome {
    /// The learning rate.
    pub lr: f64,
    /// Mean training loss over the last steps (NaN when diverged).
    pub final_loss: f64,
    /// Whether the loss became non-finite or exploded.
    pub diverged: bool,
    /// Step at which the loss first fell below the target (`None` if never).
    pub steps_to_target: Option<usize>,
}

impl LrOutcome {
    /// A run's outcome at learning rate `lr`.
    pub fn new(lr: f64, outcome: Outcome) -> LrOutcome {
        LrOutcome {
            lr,
            final_loss: outcome.final_loss,
            diverged: outcome.diverged,
            steps_to_target: outcome.steps_to_target,
        }
    }
}

/// One learning rate over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSummary {
    /// The learning rate.
    pub lr: f64,
    /// Mean final loss of the runs that did not diverge (NaN when none).
    pub final_loss: f64,
    /// Runs that diverged.
    pub diverged: usize,
    /// Runs.
    pub runs: usize,
}

impl LrSummary {
    /// The summaries of `outcomes` per learning rate, in ascending order of the rate.
    pub fn of(outcomes: &[LrOutcome]) -> Vec<LrSummary> {
        let mut rates: Vec<f64> = outcomes.iter().map(|o| o.lr).collect();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        rates
            .into_iter()
            .map(|lr| {
                let at: Vec<&LrOutcome> = outcomes.iter().filter(|o| o.lr == lr).collect();
                LrSummary {
                    lr,
                    final_loss: finite_mean(
                        &at.iter()
                            .filter(|o| !o.diverged)
                            .map(|o| o.final_loss)
                            .collect::<Vec<_>>(),
                    ),
                    diverged: at.iter().filter(|o| o.diverged).count(),
                    runs: at.len(),
                }
            })
            .collect()
    }
}

/// When a learning rate counts as stable. Both criteria require that no run at that rate
/// diverged; they differ in what the final loss must show.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Stability {
    /// The final loss is within this factor of the best final loss over the grid: the top of
    /// the range that trains about as well as the best rate (the `lr_range` example, factor 2).
    WithinFactorOfBest(f64),
    /// The final loss is at most `share` × the chance loss `chance` = ln C: the network learned
    /// something (the report, share 0.95). A rate that merely hovers at chance without
    /// diverging does not count, whatever the other rates do.
    BelowChance {
        /// The largest final loss, as a share of the chance loss.
        share: f64,
        /// The chance loss `ln C`.
        chance: f64,
    },
}

impl Stability {
    /// The criterion in words, for tables and reports.
    pub fn describe(&self) -> String {
        match self {
            Stability::WithinFactorOfBest(f) => {
                format!("no run diverged and the final loss is within {f}× of the best")
            }
            Stability::BelowChance { share, chance } => format!(
                "no run diverged and the mean final loss is at most {share} × the chance loss {chance:.2}"
            ),
        }
    }
}

/// The largest learning rate of `grid` that is stable by `criterion`: the top of the usable
/// range (`None` when no rate is).
pub fn largest_stable(grid: &[LrSummary], criterion: Stability) -> Option<f64> {
    let finished = |s: &&LrSummary| s.runs > 0 && s.diverged == 0 && s.final_loss.is_finite();
    let best = grid
        .iter()
        .filter(finished)
        .map(|s| s.final_loss)
        .fold(f64::INFINITY, f64::min);
    grid.iter()
        .filter(finished)
        .filter(|s| match criterion {
            Stability::WithinFactorOfBest(factor) => s.final_loss <= factor * best,
            Stability::BelowChance { share, chance } => s.final_loss <= share * chance,
        })
        .map(|s| s.lr)
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(lr: f64, final_loss: f64, diverged: usize) -> LrSummary {
        LrSummary {
            lr,
            final_loss,
            diverged,
            runs: 2,
        }
    }

    #[test]
    fn the_two_criteria_differ_where_they_say_they_do() {
        let chance = 10f64.ln();
        // 1.0 trains but stays near chance; 3.0 diverged in one seed.
        let grid = [
            summary(0.1, 0.3, 0),
            summary(0.3, 0.5, 0),
            summary(1.0, 2.25, 0),
            summary(3.0, 0.4, 1),
        ];
        assert_eq!(
            largest_stable(&grid, Stability::WithinFactorOfBest(2.0)),
            Some(0.3)
        );
        let learned = Stability::BelowChance {
            share: 0.95,
            chance,
        };
        assert_eq!(largest_stable(&grid, learned), Some(0.3));
        // At 2.0 both accept 1.0 under "learned" (2.25 < 0.95 · 2.30), not within 2× of 0.3.
        let grid = [summary(0.1, 0.3, 0), summary(1.0, 2.15, 0)];
        assert_eq!(largest_stable(&grid, learned), Some(1.0));
        assert_eq!(
            largest_stable(&grid, Stability::WithinFactorOfBest(2.0)),
            Some(0.1)
        );
        assert_eq!(largest_stable(&[summary(0.1, f64::NAN, 2)], learned), None);
        // Per-seed outcomes: a rate where one seed diverged is not stable.
        let outcomes = [
            LrOutcome {
                lr: 0.5,
                final_loss: 0.2,
                diverged: false,
                steps_to_target: None,
            },
            LrOutcome {
                lr: 0.5,
                final_loss: f64::NAN,
                diverged: true,
                steps_to_target: None,
            },
        ];
        let s = LrSummary::of(&outcomes);
        assert_eq!((s[0].final_loss, s[0].diverged, s[0].runs), (0.2, 1, 2));
        assert_eq!(largest_stable(&s, Stability::WithinFactorOfBest(2.0)), None);
    }
}
