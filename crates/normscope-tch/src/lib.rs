//! # normscope-tch
//!
//! normscope on libtorch (CPU and CUDA) through tch 0.22:
//!
//! - `ops`: the normalization operations on `tch::Tensor` with ATen's own fused kernels, one
//!   call each way (cuDNN's BatchNorm on CUDA where PyTorch would pick it). `normscope-core`
//!   runs them for its `NormOps` extension on burn's LibTorch backend.
//! - `nn`: native `tch::nn::ModuleT` layers for the normalizers PyTorch lacks (GhostBatchNorm,
//!   BatchRenorm, ℓp-BN, VarianceOnly, MeanOnly, NoisyBatchNorm), for tch users without burn.
//!
//! The crate is empty unless its `tch` feature is on (so that `cargo test --workspace` builds
//! without torch). With it, tch builds against the PyPI `torch==2.11.0` that `python3` resolves
//! to (`LIBTORCH_USE_PYTORCH=1`, set by the workspace's `.cargo/config.toml`); see the README.

#[cfg(feature = "tch")]
mod aten;
#[cfg(feature = "tch")]
pub mod nn;
#[cfg(feature = "tch")]
pub mod ops;

#[cfg(feature = "tch")]
pub use aten::AtenError;
