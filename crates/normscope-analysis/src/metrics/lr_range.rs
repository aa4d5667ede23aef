//! The learning-rate range a network trains in (Bjorck, Gomes, Selman & Weinberger 2018,
//! *Understanding Batch Normalization*): for a grid of learning rates, the final training loss or
//! divergence. Bjorck et al.: BN "primarily enables training with larger learning rates"; without
//! it, large updates make activations grow uncontrollably and training diverges.

use serde::{Deserialize, Serialize};

/// What one learning rate gave.
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

/// The mean of the last `window` losses (NaN when there is none).
pub fn final_loss(losses: &[f64], window: usize) -> f64 {
    let tail = &losses[losses.len().saturating_sub(window.max(1))..];
    tail.iter().sum::<f64>() / tail.len() as f64
}

/// The first step after which a running mean of `window` losses falls below `target`.
pub fn steps_to_target(losses: &[f64], target: f64, window: usize) -> Option<usize> {
    let w = window.max(1);
    (w..=losses.len()).find(|&end| losses[end - w..end].iter().sum::<f64>() / w as f64 <= target)
}

/// `(final loss, steps to target)` of a run's `losses` (running means over `window` steps): NaN
/// and `None` for a run that diverged, whose last losses say nothing.
pub fn run_outcome(
    losses: &[f64],
    diverged: bool,
    target: f64,
    window: usize,
) -> (f64, Option<usize>) {
    if diverged {
        (f64::NAN, None)
    } else {
        (
            final_loss(losses, window),
            steps_to_target(losses, target, window),
        )
    }
}

/// The largest learning rate that did not diverge and whose final loss is within `factor` of
/// the best final loss: the top of the usable range.
pub fn largest_stable(outcomes: &[LrOutcome], factor: f64) -> Option<f64> {
    let best = outcomes
        .iter()
        .filter(|o| !o.diverged)
        .map(|o| o.final_loss)
        .fold(f64::INFINITY, f64::min);
    outcomes
        .iter()
        .filter(|o| !o.diverged && o.final_loss <= factor * best)
        .map(|o| o.lr)
        .fold(None, |acc: Option<f64>, lr| {
            Some(acc.map_or(lr, |a| a.max(lr)))
        })
}
