//! Command-line pieces shared by the examples and the `normscope` binary: backend selection,
//! output directories, data and training flags; [`why_batchnorm`] (the report) and [`slurm`]
//! (its units as a Slurm job array).

pub mod slurm;
pub mod why_batchnorm;

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

/// [`parse_norm`] of each name.
pub fn parse_norms(names: &[String]) -> Result<Vec<normscope_core::NormConfig>> {
    names.iter().map(|n| parse_norm(n)).collect()
}

/// An experiment's default setup with the command line's data and training overrides.
pub fn training_setup(
    defaults: &normscope_analysis::experiments::training::Setup,
    common: &Common,
    data: &DataArgs,
    train: &TrainArgs,
) -> Result<normscope_analysis::experiments::training::Setup> {
    Ok(normscope_analysis::experiments::training::Setup {
        network: defaults.network.clone(),
        data: data.source(defaults.data.clone())?,
        train: train.apply(defaults.train.clone(), common.seed),
    })
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

/// Which standard dataset a `--data-dir` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetKind {
    /// CIFAR-10 binary batches (`data_batch_*.bin`, `test_batch.bin`).
    Cifar10,
    /// MNIST IDX files.
    Mnist,
    /// Fashion-MNIST IDX files.
    FashionMnist,
}

/// Data arguments of the training examples.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// Directory with CIFAR-10's binary batches or MNIST/Fashion-MNIST's IDX files (raw or .gz);
    /// without it the built-in synthetic task is used.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// What `--data-dir` holds (guessed from its files when omitted).
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetKind>,
}

impl DataArgs {
    /// The data source: `default` (synthetic) without `--data-dir`, else the files there.
    pub fn source(
        &self,
        default: normscope_analysis::data::DataSource,
    ) -> Result<normscope_analysis::data::DataSource> {
        use normscope_analysis::data::DataSource;
        let Some(dir) = self.data_dir.clone() else {
            return Ok(default);
        };
        if !dir.is_dir() {
            bail!("--data-dir {}: not a readable directory", dir.display());
        }
        let kind = match self.dataset {
            Some(kind) => kind,
            None if dir.join("data_batch_1.bin").exists() => DatasetKind::Cifar10,
            None if dir.join("train-images-idx3-ubyte").exists()
                || dir.join("train-images-idx3-ubyte.gz").exists() =>
            {
                DatasetKind::Mnist
            }
            None => bail!(
                "--data-dir {}: found neither CIFAR-10 batches (data_batch_1.bin) nor IDX files (train-images-idx3-ubyte[.gz]); name the dataset with --dataset",
                dir.display()
            ),
        };
        Ok(match kind {
            DatasetKind::Cifar10 => DataSource::Cifar10 { dir },
            DatasetKind::Mnist => DataSource::Mnist { dir },
            DatasetKind::FashionMnist => DataSource::FashionMnist { dir },
        })
    }
}

/// Training arguments of the training examples (each overrides the experiment's default).
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// SGD steps per run.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
}

impl TrainArgs {
    /// `config` with the given overrides.
    pub fn apply(
        &self,
        mut config: normscope_analysis::train::TrainConfig,
        seed: u64,
    ) -> normscope_analysis::train::TrainConfig {
        if let Some(steps) = self.steps {
            config.steps = steps;
        }
        if let Some(lr) = self.lr {
            config.lr = lr;
        }
        if let Some(batch_size) = self.batch_size {
            config.batch_size = batch_size;
        }
        config.seed = seed;
        config
    }
}

/// The training-loss curves of several runs, averaged over seeds per label and smoothed over
/// `window` steps.
pub fn loss_chart(
    title: &str,
    runs: &[normscope_analysis::experiments::training::Curves],
    window: usize,
) -> normscope_analysis::output::Chart {
    use normscope_analysis::output::{Chart, Series};
    let mut chart = Chart::new(title, "step", "training loss").log_y();
    let mut labels: Vec<&str> = vec![];
    for run in runs {
        if !labels.contains(&run.norm.as_str()) {
            labels.push(&run.norm);
        }
    }
    for label in labels {
        let group: Vec<_> = runs.iter().filter(|r| r.norm == label).collect();
        let len = group.iter().map(|r| r.losses.len()).min().unwrap_or(0);
        let points = (0..len)
            .map(|t| {
                let lo = t.saturating_sub(window.saturating_sub(1));
                let mean = group
                    .iter()
                    .map(|r| r.losses[lo..=t].iter().sum::<f64>() / (t - lo + 1) as f64)
                    .sum::<f64>()
                    / group.len() as f64;
                ((t + 1) as f64, mean)
            })
            .collect();
        chart.push(Series::line(label, points));
    }
    chart
}
