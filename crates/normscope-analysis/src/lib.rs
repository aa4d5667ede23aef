//! # normscope-analysis
//!
//! Models and metrics that test the four explanations of why BatchNorm works: internal
//! covariate shift, landscape smoothness, identity bias of residual blocks and rank collapse.
//! Every metric lives in one file named after it and is documented in `docs/metrics.md`.
#![warn(missing_docs)]
#![allow(deprecated)]

pub mod data;
mod error;
pub mod experiments;
pub mod metrics;
pub mod models;
pub mod output;
pub mod report;
pub mod stats;
pub mod train;

pub use error::AnalysisError;
