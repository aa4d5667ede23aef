//! What a run's losses amount to: the final loss (a running mean over the last steps), the
//! steps to a target loss, and whether it diverged. Every experiment, the `lr_range` example and
//! the report read a run through these, with the window stated.

use serde::{Deserialize, Serialize};

/// The running-mean window of the final loss and of the steps to target, unless an experiment
/// configures its own.
pub const FINAL_WINDOW: usize = 10;

/// A run's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Mean training loss over the last steps (NaN when diverged).
    pub final_loss: f64,
    /// The first step at which the running mean reached the target (`None` if never, or
    /// diverged).
    pub steps_to_target: Option<usize>,
    /// Whether the run diverged.
    pub diverged: bool,
}

/// The mean of the last `window` losses (all of them when fewer; NaN for none).
pub fn final_loss(losses: &[f64], window: usize) -> f64 {
    let tail = &losses[losses.len().saturating_sub(window.max(1))..];
    crate::stats::mean(tail)
}

/// The first step after which a running mean of `window` losses falls to `target` or below.
pub fn steps_to_target(losses: &[f64], target: f64, window: usize) -> Option<usize> {
    let w = window.max(1);
    (w..=losses.len()).find(|&end| losses[end - w..end].iter().sum::<f64>() / w as f64 <= target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::RunRecord;

    #[test]
    fn a_diverged_run_has_no_final_loss_and_never_reached_the_target() {
        let run = RunRecord {
            losses: vec![2.0, 1.0, 0.5],
            diverged_at: None,
        };
        let o = run.outcome(1.0, 2);
        assert_eq!(
            (o.final_loss, o.steps_to_target, o.diverged),
            (0.75, Some(3), false)
        );
        let diverged = RunRecord {
            diverged_at: Some(3),
            ..run
        };
        let o = diverged.outcome(1.0, 2);
        assert!(o.final_loss.is_nan() && o.steps_to_target.is_none() && o.diverged);
        assert!(final_loss(&[], 10).is_nan());
        assert_eq!(final_loss(&[4.0, 2.0], 10), 3.0);
    }
}
