//! The flags the examples share: `--backend`, `--out` and the seeds ([`Common`]), the data and
//! the training overrides of the training experiments ([`Training`]), normalizers by name
//! ([`parse_norm`]).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use super::Backend;

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
    #[arg(long, value_enum, default_value_t)]
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
    /// Runs `config`, an experiment that trains nothing, with these flags
    /// ([`super::run_experiment`]).
    pub fn run<E: normscope_analysis::experiments::Experiment>(&self, config: E) -> Result<()> {
        super::run_experiment(config, self, None).map(drop)
    }

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
        use normscope_analysis::data::{cifar10, idx};
        let kind = match self.dataset {
            Some(kind) => kind,
            None if cifar10::files(&dir).is_ok() => DatasetKind::Cifar10,
            None if idx::files(&dir).is_ok() => DatasetKind::Mnist,
            None => bail!(
                "--data-dir {}: found neither CIFAR-10 batches (data_batch_1.bin, here or in cifar-10-batches-bin/) nor the four IDX files (train-images-idx3-ubyte, train-images.idx3-ubyte, raw or .gz, here or in raw/); name the dataset with --dataset",
                dir.display()
            ),
        };
        let source = match kind {
            DatasetKind::Cifar10 => DataSource::Cifar10 { dir },
            DatasetKind::Mnist => DataSource::Mnist { dir },
            DatasetKind::FashionMnist => DataSource::FashionMnist { dir },
        };
        let files = source.files().context("--data-dir")?;
        eprintln!("data: {} from", source.name());
        for file in &files {
            eprintln!("  {}", file.display());
        }
        Ok(source)
    }
}

/// The flags of the training examples: where the data is and the optimizer's overrides.
#[derive(clap::Args, Debug, Clone)]
pub struct Training {
    /// The data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Steps, learning rate, batch size.
    #[command(flatten)]
    pub train: TrainArgs,
}

impl Training {
    /// `setup` with the command line's data and training overrides.
    pub fn apply(
        &self,
        setup: &mut normscope_analysis::experiments::training::Setup,
    ) -> Result<()> {
        setup.data = self.data.source(setup.data.clone())?;
        self.train.apply(&mut setup.train);
        Ok(())
    }
}

/// The flags of an example that trains networks with several normalizers: [`Common`],
/// [`Training`] and `--norms`.
#[derive(clap::Args, Debug, Clone)]
pub struct Comparison {
    /// Backend, output, seeds.
    #[command(flatten)]
    pub common: Common,
    /// Data and optimizer.
    #[command(flatten)]
    pub training: Training,
    /// Normalizers compared (`identity`, `batch_norm`, `layer_norm`, `group_norm:8`, ...).
    #[arg(long, value_delimiter = ',', default_value = "identity,batch_norm")]
    pub norms: Vec<String>,
}

impl Comparison {
    /// The normalizers of `--norms`.
    pub fn norms(&self) -> Result<Vec<normscope_core::NormConfig>> {
        parse_norms(&self.norms)
    }

    /// Runs `config` with these flags ([`super::run_experiment`]).
    pub fn run<E: normscope_analysis::experiments::Experiment>(&self, config: E) -> Result<()> {
        super::run_experiment(config, &self.common, Some(&self.training)).map(drop)
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
    /// Sets the given overrides in `config`.
    pub fn apply(&self, config: &mut normscope_analysis::train::TrainConfig) {
        if let Some(steps) = self.steps {
            config.steps = steps;
        }
        if let Some(lr) = self.lr {
            config.lr = lr;
        }
        if let Some(batch_size) = self.batch_size {
            config.batch_size = batch_size;
        }
    }
}
