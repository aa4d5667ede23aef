//! Command-line pieces shared by the examples and the `normscope` binary: the backend
//! ([`backend`]), the shared flags ([`args`]), the one runner every experiment example calls
//! ([`experiment`]), [`why_batchnorm`] (the report) and [`slurm`] (its units as a Slurm job
//! array).

pub mod args;
pub mod backend;
pub mod experiment;
pub mod slurm;
pub mod why_batchnorm;

pub use args::{
    Common, Comparison, DataArgs, DatasetKind, TrainArgs, Training, output_dir, parse_norm,
    parse_norms, progress,
};
pub use backend::{Backend, steady_state_allocator};
pub use experiment::run_experiment;
