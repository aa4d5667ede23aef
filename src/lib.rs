//! # normscope
//!
//! Measure why BatchNorm works. This facade re-exports the workspace's crates so that the
//! examples and benchmarks live at the top level:
//!
//! - [`core`] (`normscope-core`): the [`Normalization`] trait, [`NormConfig`] and every
//!   normalizer as a burn module, running on the backend extension [`core::ops::NormOps`];
//! - [`analysis`] (`normscope-analysis`): the metrics of the four explanations;
//! - the backend crates behind features `ndarray` (default), `tch`, `wgpu` (`vulkan`).
#![warn(missing_docs)]

pub mod cli;

pub use normscope_analysis as analysis;
pub use normscope_core as core;
pub use normscope_core::*;
