//! Which backend runs which implementation of [`NormOps`]. Until a backend crate provides
//! kernels, its implementation is the trait's composed default.

#[allow(unused_imports)]
use super::NormOps;

#[cfg(feature = "ndarray")]
impl NormOps for burn::backend::NdArray {}

#[cfg(feature = "tch")]
impl NormOps for burn::backend::LibTorch {}

#[cfg(feature = "wgpu")]
impl NormOps for burn::backend::wgpu::CubeBackend {}
