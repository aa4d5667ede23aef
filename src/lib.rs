//! # normscope
//!
//! Measure why BatchNorm works. This facade re-exports the workspace's crates so that the
//! examples and benchmarks live at the top level:
//!
//! - `normscope-core`, re-exported at the root (as burn re-exports burn-core): the
//!   [`Normalization`] trait, [`NormConfig`] and every normalizer as a burn module, running on
//!   the backend extension [`ops::NormOps`]; running statistics ([`Momentum`],
//!   [`freeze_statistics`]) and folding for inference ([`fold`]);
//! - [`analysis`] (`normscope-analysis`): the models and the metrics of the four explanations;
//! - the backend crates behind features `flex` and `ndarray` (both default; Flex is the default
//!   `--backend`), `tch`, `wgpu` (`vulkan`).
//!
//! `use normscope::*` brings no `Result` alias and no module named `core` into scope.
#![warn(missing_docs)]

pub mod cli;

pub use normscope_analysis as analysis;
pub use normscope_core::*;
