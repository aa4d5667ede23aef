//! Errors of the analyses.

use std::path::PathBuf;

use normscope_core::NormError;

/// Why an analysis could not run.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A normalizer was mis-configured or mis-fed.
    #[error(transparent)]
    Norm(#[from] NormError),
    /// A configuration value is out of range.
    #[error("invalid configuration: {key} = {value}: {reason}")]
    Config {
        /// The configuration key.
        key: String,
        /// The value that came.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A data file is missing or malformed.
    #[error("{}: {reason}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A run directory (`--out`) holds something this run cannot use: a unit or a state file
    /// that is truncated, corrupt or another configuration's, a unit outside the plan.
    #[error("{}: {reason}", path.display())]
    Run {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Output could not be written.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// A backend refused a computation (libtorch's autograd, for the exact Hessian-vector
    /// products of `metrics::hessian_tch`).
    #[error("{what}: {reason}")]
    Backend {
        /// What was being computed.
        what: String,
        /// The backend's message.
        reason: String,
    },
    /// Training diverged (a non-finite loss).
    #[error("training diverged at step {step}: loss {loss}")]
    Diverged {
        /// The step.
        step: usize,
        /// The loss.
        loss: f64,
    },
}
