//! The backend an example runs on, chosen with `--backend`, and the allocator setting every
//! example starts with.

use anyhow::{Result, bail};
use burn::tensor::Device;
use clap::ValueEnum;

/// The backend an example runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// burn-ndarray on the CPU with normscope's fused kernels (feature `ndarray`, on by default).
    Ndarray,
    /// burn-flex on the CPU with the same fused kernels (feature `flex`, on by default): the
    /// default wherever it is built, the faster of the two on the report's training step
    /// (`docs/performance.md`).
    Flex,
    /// libtorch on the CPU (feature `tch`).
    Tch,
    /// libtorch on CUDA device 0 (feature `tch`, a CUDA build of torch and a GPU).
    TchCuda,
    /// wgpu through burn's CubeCL backend, WGSL (feature `wgpu`).
    Wgpu,
    /// Vulkan through CubeCL's SPIR-V compiler (feature `vulkan`).
    Vulkan,
}

impl Default for Backend {
    /// The default CPU backend (`--backend` when not given): Flex when built with it — it runs
    /// the training step of the report's network 1.3–1.5× faster than burn-ndarray with the
    /// same kernels (`docs/performance.md`) — else burn-ndarray.
    fn default() -> Self {
        if cfg!(feature = "flex") {
            Backend::Flex
        } else {
            Backend::Ndarray
        }
    }
}

impl Backend {
    /// The device, or an error that says which feature to build with.
    #[allow(deprecated, unreachable_code)]
    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Ndarray => {
                #[cfg(feature = "ndarray")]
                return Ok(Device::ndarray());
                bail!("backend `ndarray` needs normscope built with `--features ndarray`")
            }
            Backend::Flex => {
                #[cfg(feature = "flex")]
                return Ok(Device::flex());
                bail!("backend `flex` needs normscope built with `--features flex`")
            }
            Backend::Tch => {
                #[cfg(feature = "tch")]
                return Ok(Device::libtorch());
                bail!(
                    "backend `tch` needs normscope built with `--features tch` (see the README for torch)"
                )
            }
            Backend::TchCuda => {
                #[cfg(feature = "tch")]
                {
                    if !tch::Cuda::is_available() {
                        bail!("backend `tch-cuda`: libtorch reports no CUDA device");
                    }
                    return Ok(Device::libtorch_cuda(0));
                }
                bail!(
                    "backend `tch-cuda` needs normscope built with `--features tch` (see the README for torch)"
                )
            }
            Backend::Wgpu => {
                #[cfg(feature = "wgpu")]
                return Ok(Device::wgpu(Default::default()));
                bail!("backend `wgpu` needs normscope built with `--features wgpu`")
            }
            Backend::Vulkan => {
                #[cfg(feature = "vulkan")]
                return Ok(Device::vulkan(Default::default()));
                bail!("backend `vulkan` needs normscope built with `--features vulkan`")
            }
        }
    }

    /// Whether it runs on the CPU with normscope's kernels (NdArray, Flex).
    pub fn is_cpu(self) -> bool {
        matches!(self, Backend::Ndarray | Backend::Flex)
    }

    /// The name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Tch => "tch",
            Backend::TchCuda => "tch-cuda",
            Backend::Wgpu => "wgpu",
            Backend::Vulkan => "vulkan",
        }
    }
}

/// Puts glibc's allocator in a steady state, as a caching allocator would be: freed memory is
/// kept for reuse instead of being returned to the kernel and faulted back in on the next
/// allocation (on the 2-core VM this takes 16 % off `why_batchnorm` and ~50 ms off every fresh
/// 134 MB tensor in the benchmarks). Call it first thing in `main`; elsewhere than glibc it does
/// nothing.
pub fn steady_state_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: plain libc calls; they only change allocator thresholds.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
