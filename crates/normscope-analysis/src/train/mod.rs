//! Training: SGD with momentum, weight decay and adaptive gradient clipping, learning-rate
//! schedules, the training loop with checkpoints, one training run as data ([`RunRecord`]) and
//! what its losses amount to ([`outcome`]), and losses as functions of flat parameters.

mod loss;
mod objective;
pub mod outcome;
mod run;
mod schedule;
mod sgd;
mod trainer;

pub use loss::{accuracy, cross_entropy};
pub use objective::{BatchObjective, Objective, Quadratic, axpy, dot, norm};
pub use outcome::{FINAL_WINDOW, Outcome};
pub use run::{AfterEach, Batch, RunRecord, StepHooks};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig};
pub use trainer::{TrainConfig, Trainer};
