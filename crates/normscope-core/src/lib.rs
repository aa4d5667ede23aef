//! # normscope-core
//!
//! The backend-agnostic half of normscope: the [`Normalization`] trait with its explicit
//! [`Mode`], [`NormConfig`] (a serde-tagged enum that builds any normalizer), the whole family
//! of normalizers as burn modules ([`layers`]), and the [`NormOps`](ops::NormOps) backend
//! extension through which they run — a backend's fused kernels where normscope has them
//! (feature `ndarray`, `tch`, `wgpu`), the composed path everywhere else.
//!
//! ```no_run
//! # #[allow(deprecated)]
//! # fn main() -> Result<(), normscope_core::NormError> {
//! use burn::tensor::{Device, Distribution, Tensor};
//! use normscope_core::{Mode, NormConfig, Normalization};
//!
//! let device = Device::ndarray();
//! let config: NormConfig = serde_json::from_str(r#"{"kind": "group_norm", "groups": 4}"#).unwrap();
//! let norm = config.init(&[16], &device)?; // samples of 16 channels
//! let x = Tensor::<4>::random([8, 16, 5, 5], Distribution::Normal(3.0, 2.0), &device);
//! let y = norm.try_forward(x, Mode::Train)?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// burn 0.22 marks its NdArray and LibTorch backends deprecated; normscope supports them on purpose.
#![allow(deprecated)]

mod config;
mod error;
pub mod fold;
pub mod functional;
pub mod layers;
mod mode;
mod normalization;
pub mod ops;
mod running;

pub use config::{Norm, NormConfig};
pub use error::NormError;
pub(crate) use error::Result;
pub use fold::{ChannelAffine, fuse_conv_bn_weights, fuse_linear_bn_weights};
pub use functional::Kernel;
pub use layers::*;
pub use mode::Mode;
pub use normalization::Normalization;
pub use running::{Momentum, StatisticsMapper, freeze_statistics, unfreeze_statistics};
