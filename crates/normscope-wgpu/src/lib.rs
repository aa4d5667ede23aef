//! normscope-wgpu: CubeCL normalization kernels for burn's Cube backend (wgpu/Vulkan, and any
//! other CubeCL runtime).
//!
//! What `normscope-core` runs for its `NormOps` extension on `CubeBackend` (and, through the
//! extension's fusion selector, on burn's `Cube` = `Fusion<CubeBackend>` devices). The functions
//! take burn-cubecl's `CubeTensor`s and return `None` where they have no kernel (a dtype other
//! than f32), so the caller falls back to the composed path.
//!
//! Passes over the activation `x` (|x| bytes), BatchNorm: forward 3·|x| (statistics: read `x`;
//! normalize: read `x`, write `y`), backward 5·|x| (the two sums: read `x`, `dy`; the input
//! gradient: read `x`, `dy`, write `dx`) — the streaming minimum; a group of at most 8192 values
//! is held on chip instead, 2·|x| forward and 3·|x| backward. Large groups are split across
//! several workgroups with a second-stage combine; loads are 16-byte vectors where the extents
//! allow (see the `kernels` module, with feature `wgpu`).
#![cfg_attr(not(feature = "wgpu"), allow(unused))]

#[cfg(feature = "wgpu")]
pub mod kernels;

#[cfg(feature = "wgpu")]
mod launch;

#[cfg(feature = "wgpu")]
pub use launch::*;
