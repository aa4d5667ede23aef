//! One training run as data: [`Trainer::run`] steps until the configured number of steps or a
//! divergence, and returns a [`RunRecord`] — the loss of every step taken and the step at which
//! the run diverged, if it did. Divergence is an expected *result* of the experiments (a large
//! learning rate, a deep unnormalized network), so it is recorded, not raised; what a run's
//! losses amount to (final loss, steps to a target) is [`super::outcome`].

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use super::Trainer;
use super::outcome::{Outcome, final_loss, steps_to_target};
use crate::AnalysisError;
use crate::data::Dataset;

/// What a training run gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The training loss of every step taken (before the step's update).
    pub losses: Vec<f64>,
    /// The step at which the loss diverged (not finite, or above `divergence_factor` × the
    /// first step's); no step was taken there.
    pub diverged_at: Option<usize>,
}

impl RunRecord {
    /// Final loss and steps to `target`, both over running means of `window` steps: NaN and
    /// `None` for a run that diverged, whose last losses say nothing.
    pub fn outcome(&self, target: f64, window: usize) -> Outcome {
        let diverged = self.diverged_at.is_some();
        Outcome {
            final_loss: if diverged {
                f64::NAN
            } else {
                final_loss(&self.losses, window)
            },
            steps_to_target: if diverged {
                None
            } else {
                steps_to_target(&self.losses, target, window)
            },
            diverged,
        }
    }
}

/// A batch on the trainer's device: images `[N, C, H, W]` and labels `[N]`.
pub type Batch = (Tensor<4>, Tensor<1, Int>);

/// What [`Trainer::run`] calls around every step (probes, progress, evaluation).
pub trait StepHooks {
    /// Before the step on `batch`, with the trainer at the weights the step starts from.
    fn before(&mut self, _trainer: &Trainer, _batch: &Batch) -> Result<(), AnalysisError> {
        Ok(())
    }

    /// After a step that did not diverge (`trainer.step` counts it already).
    fn after(&mut self, _trainer: &mut Trainer) -> Result<(), AnalysisError> {
        Ok(())
    }
}

/// No hooks.
impl StepHooks for () {}

/// A closure run after every step.
pub struct AfterEach<F>(pub F);

impl<F: FnMut(&mut Trainer) -> Result<(), AnalysisError>> StepHooks for AfterEach<F> {
    fn after(&mut self, trainer: &mut Trainer) -> Result<(), AnalysisError> {
        (self.0)(trainer)
    }
}

impl Trainer {
    /// Trains on the next batches of `data` until `config.steps` steps are taken or the loss
    /// diverges, calling `hooks` around every step. A divergence ends the run and is recorded in
    /// the returned record; any other error (a bad batch, a failing probe) is returned, and a
    /// batch size larger than `data` is refused before the first step.
    pub fn run(
        &mut self,
        data: &Dataset,
        hooks: &mut dyn StepHooks,
    ) -> Result<RunRecord, AnalysisError> {
        if self.config.batch_size > data.len() {
            return Err(AnalysisError::Config {
                key: "train.batch_size".into(),
                value: self.config.batch_size.to_string(),
                reason: format!(
                    "is more than the {} samples of the training data: every batch would be the whole set",
                    data.len()
                ),
            });
        }
        let mut diverged_at = None;
        while self.step < self.config.steps {
            let batch = self.next_tensors(data);
            hooks.before(self, &batch)?;
            let (x, y) = batch;
            match self.step_on(x, y) {
                Ok(_) => hooks.after(self)?,
                Err(AnalysisError::Diverged { step, .. }) => {
                    diverged_at = Some(step);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(RunRecord {
            losses: self.losses.clone(),
            diverged_at,
        })
    }
}
