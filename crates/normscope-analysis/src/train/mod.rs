//! Training: SGD with momentum, weight decay and adaptive gradient clipping, learning-rate
//! schedules, the training loop with checkpoints, and losses as functions of flat parameters.

mod loss;
mod objective;
mod schedule;
mod sgd;
mod trainer;

pub use loss::{accuracy, cross_entropy};
pub use objective::{BatchObjective, Objective, Quadratic, axpy, dot, norm};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig};
pub use trainer::{TrainConfig, Trainer};
