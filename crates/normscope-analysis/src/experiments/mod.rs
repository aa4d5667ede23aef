//! The experiments behind the examples and the report. Each is an [`Experiment`]: a serde
//! configuration with defaults and a check, a `run` on a device that returns its [`Results`],
//! and results that know how to become a section (text, tables, figures), CSV rows and JSON.
//!
//! ```text
//! config (serde, Default, validate) ──run(device, progress)──▶ Results ──▶ section(): tables, figures
//!                                                                      ├─▶ csv(): one row per measurement
//!                                                                      └─▶ JSON (serde)
//! ```
//!
//! The examples are thin command lines over one runner (`normscope::cli::experiment`), and the
//! `why_batchnorm` report builds its per-explanation figures from the same results types
//! ([`identity_bias::branch_share_figure`], [`rank_collapse::effective_rank_figure`], ...).

pub mod gradient_explosion;
pub mod gradient_predictiveness;
pub mod hessian;
pub mod identity_bias;
pub mod internal_covariate_shift;
pub mod landscape;
pub mod lr_range;
pub mod noisy_batchnorm;
pub mod rank_collapse;
pub mod sample_similarity;
pub mod training;

pub use crate::stats::Stat;

use burn::tensor::{Device, Distribution, Tensor};
use indicatif::ProgressBar;
use normscope_core::NormConfig;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::AnalysisError;
pub(crate) use crate::error::at_least;
use crate::output::Section;
use training::Setup;

/// An experiment: its configuration (this type: serde, with defaults) and how it runs.
pub trait Experiment: Clone + std::fmt::Debug + Default + Serialize + DeserializeOwned {
    /// The experiment's name: the example's, and the stem of its output files (`rank_collapse`).
    const NAME: &'static str;
    /// A few words for its progress bar (`rank collapse`).
    const LABEL: &'static str;
    /// What a run returns.
    type Results: Results;

    /// Checks the configuration before any work; a bad value is an [`AnalysisError::Config`]
    /// naming the key and the value.
    fn validate(&self) -> Result<(), AnalysisError>;

    /// Checks the configuration ([`Experiment::validate`]), then runs the experiment on
    /// `device`, advancing `progress`.
    fn run(&self, device: &Device, progress: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        self.validate()?;
        self.measure(device, progress)
    }

    /// Runs the experiment on `device` with a configuration already checked.
    fn measure(
        &self,
        device: &Device,
        progress: &ProgressBar,
    ) -> Result<Self::Results, AnalysisError>;

    /// Sets the number of seeds (when given) and the first seed.
    fn set_seeds(&mut self, seeds: Option<usize>, first: u64);

    /// An empty section for this experiment's results, titled `title` (its id is [`Self::NAME`]).
    fn new_section(title: &str) -> Section {
        Section::new(Self::NAME, title)
    }

    /// The network, data and optimizer of a training experiment (`None`: it trains nothing).
    fn setup_mut(&mut self) -> Option<&mut Setup> {
        None
    }
}

/// `set_seeds` (and `setup_mut`) of an [`Experiment`] impl, for a configuration that keeps its
/// seed count in `seeds` and its first seed in `seed` (`at_initialization`) or in
/// `setup.train.seed` (`training`, which also lends its [`Setup`]).
macro_rules! seeds {
    (at_initialization) => {
        fn set_seeds(&mut self, seeds: Option<usize>, first: u64) {
            self.seeds = seeds.unwrap_or(self.seeds);
            self.seed = first;
        }
    };
    (training) => {
        fn set_seeds(&mut self, seeds: Option<usize>, first: u64) {
            self.seeds = seeds.unwrap_or(self.seeds);
            self.setup.train.seed = first;
        }

        fn setup_mut(&mut self) -> Option<&mut super::training::Setup> {
            Some(&mut self.setup)
        }
    };
}
pub(crate) use seeds;

/// What an experiment measured, and how it is shown. The results carry their configuration, so
/// that they can be written, read back and rendered without it.
pub trait Results: Serialize {
    /// The results as a section of text, tables and figures: what the example prints and saves,
    /// and what a report embeds.
    fn section(&self) -> Section;

    /// Every measurement, one row each.
    fn csv(&self) -> Csv;
}

/// The results of an experiment whose measurements are one list of points: its configuration
/// and the points (`{ "config": …, "points": […] }` in JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Points<C, P> {
    /// What ran.
    pub config: C,
    /// What it measured, one point per setting.
    pub points: Vec<P>,
}

/// Rows for a CSV file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Csv {
    /// Column names.
    pub header: Vec<&'static str>,
    /// One row per measurement.
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// An empty CSV with these columns.
    pub fn new(header: &[&'static str]) -> Csv {
        Csv {
            header: header.to_vec(),
            rows: vec![],
        }
    }

    /// One row per item.
    pub fn of<P>(
        header: &[&'static str],
        items: impl IntoIterator<Item = P>,
        row: impl Fn(P) -> Vec<String>,
    ) -> Csv {
        Csv {
            header: header.to_vec(),
            rows: items.into_iter().map(row).collect(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "one cell per column");
        self.rows.push(cells);
    }
}

/// `Err(Config)` when `values` is empty.
pub(crate) fn not_empty<T>(key: &str, values: &[T]) -> Result<(), AnalysisError> {
    if values.is_empty() {
        return Err(AnalysisError::Config {
            key: key.into(),
            value: "[]".into(),
            reason: "needs at least one value".into(),
        });
    }
    Ok(())
}

/// Checks a list of normalizers: at least one, each valid.
pub(crate) fn check_norms(key: &str, norms: &[NormConfig]) -> Result<(), AnalysisError> {
    not_empty(key, norms)?;
    for norm in norms {
        norm.validate()?;
    }
    Ok(())
}

/// Checks a training experiment's setup and its seeds: the optimizer's values, at least one
/// step and one seed, the data's values and that its files can be found.
pub(crate) fn check_training(setup: &Setup, seeds: usize) -> Result<(), AnalysisError> {
    setup.train.validate_at("setup.train")?;
    at_least("setup.train.steps", setup.train.steps, 1)?;
    at_least("seeds", seeds, 1)?;
    setup.data.validate_at("setup.data")?;
    setup.data.check()
}

/// A batch of `N(0, 1)` inputs `[n, c, h, w]` drawn from the device's generator.
pub(crate) fn gaussian(shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// A hidden progress bar, for tests and library callers that show none.
pub fn no_progress() -> indicatif::ProgressBar {
    indicatif::ProgressBar::hidden()
}

/// `f` of each point with its spread `mean ± std` over seeds: a shaded band along a long series,
/// error bars on a short one (at most 8 points).
pub(crate) fn stat_series<P>(
    name: impl Into<String>,
    points: &[&P],
    x: impl Fn(&P) -> f64,
    stat: impl Fn(&P) -> Stat,
) -> crate::output::Series {
    let spread: Vec<(f64, f64, f64)> = points
        .iter()
        .map(|p| {
            let (lo, hi) = stat(p).band();
            (x(p), lo, hi)
        })
        .collect();
    let series =
        crate::output::Series::line(name, points.iter().map(|p| (x(p), stat(p).mean)).collect());
    if points.len() > 8 {
        series.with_band(spread)
    } else {
        series.with_y_errors(spread)
    }
}

/// The labels in `items`, each once, in order of first appearance.
pub(crate) fn labels_in<'a, T>(items: &'a [T], label: impl Fn(&'a T) -> &'a str) -> Vec<&'a str> {
    let mut labels: Vec<&str> = vec![];
    for item in items {
        let l = label(item);
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    labels
}
