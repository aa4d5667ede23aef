//! Command-line pieces shared by the examples: backend selection and output directories.

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::tensor::Device;
use clap::ValueEnum;

/// The backend an example runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// burn-ndarray on the CPU with normscope's fused kernels (feature `ndarray`, default).
    Ndarray,
    /// libtorch on the CPU (feature `tch`).
    Tch,
    /// libtorch on CUDA device 0 (feature `tch`, a CUDA build of torch and a GPU).
    TchCuda,
    /// wgpu through burn's CubeCL backend, WGSL (feature `wgpu`).
    Wgpu,
    /// Vulkan through CubeCL's SPIR-V compiler (feature `vulkan`).
    Vulkan,
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

    /// The name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Tch => "tch",
            Backend::TchCuda => "tch-cuda",
            Backend::Wgpu => "wgpu",
            Backend::Vulkan => "vulkan",
        }
    }
}

/// Creates `dir` (and its parents) and returns it.
pub fn output_dir(dir: PathBuf) -> Result<PathBuf> {
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create output directory {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Arguments every example takes.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Backend to run on.
    #[arg(long, value_enum, default_value_t = Backend::Ndarray)]
    pub backend: Backend,
    /// Directory for JSON, CSV and plots (default: `out/<example>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of seeds to average over (default: the experiment's).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl Common {
    /// The output directory, created.
    pub fn out_dir(&self, example: &str) -> Result<PathBuf> {
        output_dir(
            self.out
                .clone()
                .unwrap_or_else(|| PathBuf::from("out").join(example)),
        )
    }
}

/// A normalizer named on the command line: a `NormConfig` kind with its defaults
/// (`batch_norm`, `layer_norm`, ...), optionally `kind:value` for the main parameter
/// (`group_norm:8` groups, `ghost_batch_norm:16` virtual batch size, `lp_batch_norm:inf`).
pub fn parse_norm(text: &str) -> Result<normscope_core::NormConfig> {
    let (kind, value) = match text.split_once(':') {
        Some((kind, value)) => (kind, Some(value)),
        None => (text, None),
    };
    let key = match kind {
        "group_norm" => Some("groups"),
        "ghost_batch_norm" => Some("virtual_batch_size"),
        "lp_batch_norm" => Some("p"),
        _ => None,
    };
    let mut toml_text = format!("kind = {kind:?}\n");
    match (key, value) {
        (Some(key), Some(value)) => {
            let literal = if value.parse::<f64>().is_ok() {
                value.to_string()
            } else {
                format!("{value:?}")
            };
            toml_text.push_str(&format!("{key} = {literal}\n"));
        }
        (None, Some(_)) => bail!("normalizer `{text}`: `{kind}` takes no `:value`"),
        _ => {}
    }
    let config: normscope_core::NormConfig =
        toml::from_str(&toml_text).map_err(|e| anyhow::anyhow!("normalizer `{text}`: {e}"))?;
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("normalizer `{text}`: {e}"))?;
    Ok(config)
}

/// A progress bar on stderr.
pub fn progress(label: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>22} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}
