//! Training: SGD with momentum and weight decay.

mod loss;
mod sgd;

pub use loss::{accuracy, cross_entropy};
pub use sgd::{Sgd, SgdConfig};
