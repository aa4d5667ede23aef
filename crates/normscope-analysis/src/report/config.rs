//! The battery's configuration: which normalizers, which network, data and training; presets per
//! scale; TOML overrides; validation before any work.

use normscope_core::{
    BatchNormConfig, GhostBatchNormConfig, GroupNormConfig, LayerNormConfig, LpBatchNormConfig,
    LpOrder, MeanOnlyConfig, NoisyBatchNormConfig, NormConfig, VarianceOnlyConfig,
};
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::data::{DataSource, SyntheticConfig};
use crate::experiments::landscape::Span;
use crate::metrics::hessian::SpectrumConfig;
use crate::metrics::rank_pretraining::RankPretrainingConfig;
use crate::models::{Init, ResNetConfig, Residual};
use crate::train::TrainConfig;

use super::explanation::Role;

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Seconds: one seed, a few dozen steps (CI).
    Quick,
    /// Minutes on two CPU cores.
    #[default]
    Default,
    /// The papers' order of magnitude, for a GPU.
    Full,
}

/// One normalizer of the battery: a label, the normalizer inside every residual block, and how
/// the blocks combine skip and branch (SkipInit is a residual option with no normalizer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Name in tables and plots (unique).
    pub label: String,
    /// The normalizer.
    pub norm: NormConfig,
    /// The residual combination.
    #[serde(default)]
    pub residual: Residual,
    /// The weight initialisation, when not the network's (`init = { kind = "delta_orthogonal" }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    /// An intervention's control arm (`NoiseOnly`): trained and summarised with the battery, left
    /// out of the correlations across normalizers — its noise slows training by construction, so
    /// it would make any metric that the noise raises look like a cause.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub control: bool,
    /// Rank pre-training before the run (Daneshmand et al. 2020; an MLP arm of the rank sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrain: Option<RankPretrainingConfig>,
}

/// The longest label: it names the label's unit files (`depth-<label>-<point>-<seed>.toml`).
pub const MAX_LABEL: usize = 120;

/// The most characters a sweep's grid point (a learning rate) may print in.
pub const MAX_POINT: usize = 24;

/// A label as it appears in file names: ASCII alphanumerics lower-cased, anything else `-`.
pub fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

impl Entry {
    /// The arm of `role` with its label.
    fn of(role: Role, norm: NormConfig) -> Entry {
        Entry::new(role.label(), norm)
    }

    /// Its role in the interventions, if its label is one's.
    pub fn role(&self) -> Option<Role> {
        Role::of(&self.label)
    }

    fn new(label: &str, norm: NormConfig) -> Entry {
        Entry {
            label: label.into(),
            norm,
            residual: Residual::Standard,
            init: None,
            control: false,
            pretrain: None,
        }
    }
}

/// The intervention experiments: each changes one explanation's mechanism with the rest held
/// fixed, and its outcome is what the explanation predicts, tested the way its paper tests it
/// (`docs/metrics.md`, "Interventions"). The noise experiment (covariate shift) reads the
/// battery's own training runs of `none`, `BatchNorm`, `NoisyBatchNorm` and `NoiseOnly`; the
/// sweeps train their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterventionConfig {
    /// Seeds per arm and grid point of every sweep (at least [`MIN_JUDGED_SEEDS`] for a judged
    /// comparison).
    pub seeds: usize,
    /// Training steps of the learning-rate sweep and of the depth sweep at the battery's batch
    /// size (the largest budget).
    pub steps: usize,
    /// Smoothness (Bjorck et al. 2018): the learning rates, ascending. Empty: no sweep.
    pub learning_rates: Vec<f64>,
    /// The arms trained at every learning rate (`none` and `BatchNorm` by [`Role`]).
    pub lr_normalizers: Vec<Entry>,
    /// Identity bias (De & Smith 2020): residual blocks per stage, ascending. Empty: no sweep.
    pub depths: Vec<usize>,
    /// The learning rates every arm of the depth sweep is trained at, ascending: each arm is
    /// judged at its own best rate (lowest mean final training loss over seeds), as De & Smith
    /// compare SkipInit and BatchNorm.
    pub depth_learning_rates: Vec<f64>,
    /// The rate of the fixed-rate depth figure (one of `depth_learning_rates`): all arms at one
    /// rate, as the sweep was before it tuned each arm.
    pub depth_lr: f64,
    /// Training budgets (steps at the battery's batch size), ascending, the last equal to
    /// `steps`: the depth runs are read at each (a constant learning rate, so a run's loss at a
    /// budget is that of a run stopped there), to show how the share evolves as training goes on.
    pub budgets: Vec<usize>,
    /// Batch sizes of the sweep at the deepest depth, each run for the same number of samples
    /// as `batch_budget` batches of the battery's size (De & Smith: BatchNorm's edge is a larger
    /// learning rate at large batch; at small batch SkipInit should match it). Empty: none.
    pub batch_sizes: Vec<usize>,
    /// The batch-size sweep's budget, in steps at the battery's batch size (one of `budgets`).
    pub batch_budget: usize,
    /// The arms of the depth and batch-size sweeps (`none`, `BatchNorm`, `SkipInit` by
    /// [`Role`]).
    pub depth_normalizers: Vec<Entry>,
    /// Rank collapse (Daneshmand et al. 2020): plain networks.
    pub rank: RankSweepConfig,
}

/// Fewest seeds per arm for a judged comparison: the t-based intervals are honest at any n ≥ 2,
/// but at two seeds they span most of the line (t₀.₉₇₅ with one degree of freedom is 12.7).
pub const MIN_JUDGED_SEEDS: usize = 3;

/// Daneshmand et al.'s test of rank collapse: a depth sweep of plain (non-residual) MLPs —
/// vanilla, BatchNorm, and vanilla after rank pre-training — each arm at its best learning rate
/// of a grid (the authors grid-search the step size per network).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RankSweepConfig {
    /// Hidden layers, ascending. Empty: no sweep.
    pub depths: Vec<usize>,
    /// Hidden width.
    pub width: usize,
    /// The learning rates each arm is tried at, ascending.
    pub learning_rates: Vec<f64>,
    /// Training steps.
    pub steps: usize,
    /// The arms (`none`, `BatchNorm`, `Pretrained` by [`Role`]; an arm with `pretrain` set is
    /// rank pre-trained before training).
    pub normalizers: Vec<Entry>,
}

impl Default for RankSweepConfig {
    fn default() -> Self {
        InterventionConfig::preset(Scale::Default).rank
    }
}

impl Default for InterventionConfig {
    fn default() -> Self {
        InterventionConfig::preset(Scale::Default)
    }
}

impl InterventionConfig {
    /// The interventions of a scale.
    pub fn preset(scale: Scale) -> InterventionConfig {
        let none = Entry::of(Role::None, NormConfig::Identity);
        let bn = Entry::of(
            Role::BatchNorm,
            NormConfig::BatchNorm(BatchNormConfig::new()),
        );
        let pretrained = |steps| Entry {
            pretrain: Some(RankPretrainingConfig { steps, lr: 0.01 }),
            ..Entry::of(Role::Pretrained, NormConfig::Identity)
        };
        struct Sizes {
            seeds: usize,
            steps: usize,
            learning_rates: Vec<f64>,
            depths: Vec<usize>,
            depth_learning_rates: Vec<f64>,
            budgets: Vec<usize>,
            batch_sizes: Vec<usize>,
            batch_budget: usize,
            rank_depths: Vec<usize>,
            rank_width: usize,
            rank_learning_rates: Vec<f64>,
            rank_steps: usize,
            pretraining: usize,
        }
        let s = match scale {
            Scale::Quick => Sizes {
                seeds: 2,
                steps: 30,
                learning_rates: vec![0.05, 0.4],
                depths: vec![1, 4],
                depth_learning_rates: vec![0.03, 0.3],
                budgets: vec![15, 30],
                batch_sizes: vec![8],
                batch_budget: 15,
                rank_depths: vec![2, 8],
                rank_width: 32,
                rank_learning_rates: vec![0.01, 0.1],
                rank_steps: 30,
                pretraining: 20,
            },
            Scale::Default => Sizes {
                seeds: 3,
                steps: 200,
                learning_rates: vec![0.01, 0.03, 0.1, 0.3, 1.0],
                depths: vec![1, 4, 16],
                depth_learning_rates: vec![0.03, 0.1, 0.3],
                budgets: vec![50, 100, 200],
                batch_sizes: vec![8, 128],
                batch_budget: 100,
                rank_depths: vec![2, 8, 32],
                rank_width: 64,
                rank_learning_rates: vec![0.001, 0.01, 0.1],
                rank_steps: 300,
                pretraining: 200,
            },
            Scale::Full => Sizes {
                seeds: 5,
                steps: 2_000,
                learning_rates: vec![0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
                depths: vec![1, 4, 16, 64],
                depth_learning_rates: vec![0.01, 0.03, 0.1, 0.3, 1.0],
                budgets: vec![250, 500, 1_000, 2_000],
                batch_sizes: vec![8, 32, 512],
                batch_budget: 1_000,
                rank_depths: vec![2, 8, 16, 32, 64],
                rank_width: 128,
                rank_learning_rates: vec![0.001, 0.01, 0.1],
                rank_steps: 2_000,
                pretraining: 1_000,
            },
        };
        InterventionConfig {
            seeds: s.seeds,
            steps: s.steps,
            learning_rates: s.learning_rates,
            lr_normalizers: vec![none.clone(), bn.clone()],
            depths: s.depths,
            depth_learning_rates: s.depth_learning_rates,
            depth_lr: 0.03,
            budgets: s.budgets,
            batch_sizes: s.batch_sizes,
            batch_budget: s.batch_budget,
            depth_normalizers: vec![none.clone(), bn.clone(), skip_init_entry()],
            rank: RankSweepConfig {
                depths: s.rank_depths,
                width: s.rank_width,
                learning_rates: s.rank_learning_rates,
                steps: s.rank_steps,
                normalizers: vec![none, bn, pretrained(s.pretraining)],
            },
        }
    }
}

/// The loss landscape and the Hessian spectrum of trained networks, for the smoothness
/// explanation: each arm at each depth is trained as the battery trains its network (same data,
/// steps, rate and batch size), then measured as `experiments::landscape` does — Li et al.
/// 2018's interpolation from the initialisation and filter-normalised plane, PyHessian's (Yao et
/// al. 2020) top eigenvalues, trace and spectral density — in eval mode (Li et al.'s and
/// PyHessian's), by finite-difference Hessian-vector products (every backend).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LandscapeSweepConfig {
    /// Residual blocks per stage, ascending. Empty: no landscape.
    pub depths: Vec<usize>,
    /// The arms (`none` and `BatchNorm` by [`Role`]).
    pub normalizers: Vec<Entry>,
    /// Seeds per arm and depth (λ_max and the trace across depth are their means; the planes
    /// and densities drawn are the first seed's; BatchNorm against none is judged from
    /// [`MIN_JUDGED_SEEDS`] trained runs per arm).
    pub seeds: usize,
    /// Batches the landscape's loss is averaged over (the first training samples).
    pub eval_batches: usize,
    /// Samples per landscape batch.
    pub eval_batch_size: usize,
    /// `α` of the interpolation from the initialisation (`α = 0`) to the trained weights (`1`).
    pub interpolation: Span,
    /// Both coordinates of the filter-normalised plane around the trained weights.
    pub plane: Span,
    /// Top-k eigenvalues, trace and density.
    pub spectrum: SpectrumConfig,
    /// Batches the Hessian is averaged over.
    pub hessian_batches: usize,
    /// Samples per Hessian batch.
    pub hessian_batch_size: usize,
}

impl Default for LandscapeSweepConfig {
    fn default() -> Self {
        LandscapeSweepConfig::preset(Scale::Default)
    }
}

impl LandscapeSweepConfig {
    /// The landscape of a scale.
    pub fn preset(scale: Scale) -> LandscapeSweepConfig {
        let span = |from, to, points| Span { from, to, points };
        let spectrum = |top_k, max_iterations, trace_samples, lanczos_steps| SpectrumConfig {
            top_k,
            max_iterations,
            tolerance: 1e-3,
            trace_samples,
            lanczos_steps,
            lanczos_runs: 1,
        };
        let (depths, seeds, eval, interpolation, plane, spectrum, hessian) = match scale {
            Scale::Quick => (
                vec![2],
                1,
                (1, 32),
                span(-0.5, 1.5, 5),
                span(-1.0, 1.0, 5),
                spectrum(1, 5, 3, 5),
                (1, 32),
            ),
            Scale::Default => (
                vec![1, 4, 16],
                3,
                (2, 128),
                span(-0.5, 1.5, 21),
                span(-1.0, 1.0, 15),
                SpectrumConfig::default(),
                (1, 128),
            ),
            // PyHessian's settings (100 iterations, up to 100 probes, 100 Lanczos steps) and Li
            // et al.'s 51 × 51 plane.
            Scale::Full => (
                vec![1, 4, 16, 64],
                5,
                (4, 256),
                span(-0.5, 1.5, 51),
                span(-1.0, 1.0, 51),
                spectrum(3, 100, 100, 100),
                (4, 200),
            ),
        };
        LandscapeSweepConfig {
            depths,
            normalizers: vec![
                Entry::of(Role::None, NormConfig::Identity),
                Entry::of(
                    Role::BatchNorm,
                    NormConfig::BatchNorm(BatchNormConfig::new()),
                ),
            ],
            seeds,
            eval_batches: eval.0,
            eval_batch_size: eval.1,
            interpolation,
            plane,
            spectrum,
            hessian_batches: hessian.0,
            hessian_batch_size: hessian.1,
        }
    }
}

/// Everything a `why_batchnorm` run does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// The scale the other values were set for.
    pub scale: Scale,
    /// The normalizers compared; the one labelled `none` and the one labelled `BatchNorm` give
    /// the with/without-BN effect sizes.
    pub normalizers: Vec<Entry>,
    /// The network every normalizer is measured in (its `norm` and `residual` are set per entry).
    pub network: ResNetConfig,
    /// The data.
    pub data: DataSource,
    /// Training.
    pub train: TrainConfig,
    /// Seeds per normalizer.
    pub seeds: usize,
    /// Training loss that counts as "reached" for the training speed.
    pub target_loss: f64,
    /// Steps at which the landscape and the covariate shift are probed.
    pub probe_steps: Vec<usize>,
    /// Samples in the batch the at-initialization metrics use.
    pub init_batch: usize,
    /// The intervention experiments.
    pub interventions: InterventionConfig,
    /// The loss landscape and the Hessian spectrum (under smoothness).
    pub landscape: LandscapeSweepConfig,
}

/// SkipInit as the battery runs it: `α₀ = 1/√d`, the largest value De & Smith (2020) allow.
/// With the code's `α₀ = 0` the branches get no gradient until `α` has moved (`∂L/∂W ∝ α`) and
/// the network starts as a linear function of its input's channel means: on the default scale
/// it had not left the chance loss after 200 steps (final loss 2.20–2.21 at lr 0.01, 2.24 at
/// 0.1; `docs/metrics.md`, "SkipInit at this scale").
pub fn skip_init() -> Residual {
    Residual::SkipInit {
        alpha: 1.0,
        per_sqrt_depth: true,
    }
}

/// The battery's SkipInit arm: no normalizer, [`skip_init`] residuals.
fn skip_init_entry() -> Entry {
    Entry {
        label: Role::SkipInit.label().into(),
        norm: NormConfig::Identity,
        residual: skip_init(),
        init: None,
        control: false,
        pretrain: None,
    }
}

/// The eleven normalizers of the default battery.
pub fn default_normalizers() -> Vec<Entry> {
    vec![
        Entry::of(Role::None, NormConfig::Identity),
        Entry::of(
            Role::BatchNorm,
            NormConfig::BatchNorm(BatchNormConfig::new()),
        ),
        Entry::new(
            "GhostBatchNorm",
            NormConfig::GhostBatchNorm(GhostBatchNormConfig::new().with_virtual_batch_size(8)),
        ),
        Entry::new("LayerNorm", NormConfig::LayerNorm(LayerNormConfig::new())),
        Entry::new(
            "GroupNorm",
            NormConfig::GroupNorm(GroupNormConfig::new().with_groups(4)),
        ),
        Entry::of(
            Role::Noisy,
            NormConfig::NoisyBatchNorm(NoisyBatchNormConfig::new()),
        ),
        Entry {
            control: true,
            ..Entry::of(
                Role::NoiseOnly,
                NormConfig::NoiseOnly(NoisyBatchNormConfig::new().noise_only()),
            )
        },
        Entry::new("MeanOnly", NormConfig::MeanOnly(MeanOnlyConfig::new())),
        Entry::new(
            "VarianceOnly",
            NormConfig::VarianceOnly(VarianceOnlyConfig::new()),
        ),
        Entry::new(
            "l1-BatchNorm",
            NormConfig::LpBatchNorm(LpBatchNormConfig::new().with_p(LpOrder::L1)),
        ),
        skip_init_entry(),
    ]
}

/// The battery on real data: the roles every intervention needs (`none`, `BatchNorm`, the noise
/// arms, `SkipInit`) and the per-sample normalizers, enough for the correlations across
/// normalizers (at least five besides the control).
pub fn real_data_normalizers() -> Vec<Entry> {
    let keep = [
        "none",
        "BatchNorm",
        "LayerNorm",
        "GroupNorm",
        "NoisyBatchNorm",
        "NoiseOnly",
        "l1-BatchNorm",
        "SkipInit",
    ];
    default_normalizers()
        .into_iter()
        .filter(|e| keep.contains(&e.label.as_str()))
        .collect()
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig::preset(Scale::Default)
    }
}

impl ReportConfig {
    /// The built-in configuration of a scale.
    pub fn preset(scale: Scale) -> ReportConfig {
        let network = |blocks, stages, width, size| ResNetConfig {
            blocks,
            stages,
            width,
            size,
            ..Default::default()
        };
        let synthetic = |size, train, test| {
            DataSource::Synthetic(SyntheticConfig {
                size,
                train,
                test,
                ..Default::default()
            })
        };
        let train = |steps, batch_size, lr| TrainConfig {
            steps,
            batch_size,
            lr,
            log_every: 0,
            ..Default::default()
        };
        match scale {
            Scale::Quick => ReportConfig {
                scale,
                normalizers: default_normalizers(),
                network: network(2, 1, 8, 8),
                data: synthetic(8, 512, 128),
                train: train(40, 16, 0.05),
                seeds: 1,
                target_loss: 1.5,
                probe_steps: vec![0, 20],
                init_batch: 16,
                interventions: InterventionConfig::preset(scale),
                landscape: LandscapeSweepConfig::preset(scale),
            },
            Scale::Default => ReportConfig {
                scale,
                normalizers: default_normalizers(),
                network: network(4, 1, 8, 16),
                data: synthetic(16, 2048, 512),
                train: train(200, 32, 0.1),
                seeds: 3,
                target_loss: 1.0,
                probe_steps: vec![0, 20, 100],
                init_batch: 32,
                interventions: InterventionConfig::preset(scale),
                landscape: LandscapeSweepConfig::preset(scale),
            },
            Scale::Full => ReportConfig {
                scale,
                normalizers: default_normalizers(),
                network: network(4, 3, 32, 32),
                data: synthetic(32, 20_000, 5_000),
                train: train(5_000, 128, 0.1),
                seeds: 5,
                target_loss: 0.5,
                probe_steps: vec![0, 100, 500, 2_000],
                init_batch: 128,
                interventions: InterventionConfig::preset(scale),
                landscape: LandscapeSweepConfig::preset(scale),
            },
        }
    }

    /// The preset of `scale` for `data`: the synthetic presets as they are; on a real dataset
    /// (MNIST, Fashion-MNIST, CIFAR-10) a network and schedule that learn it — a stride-2 stem,
    /// two stages of two residual blocks of width 16 and 32, 64 samples a batch — and a smaller
    /// battery, so that the default scale stays within its stated CPU budget
    /// (`docs/metrics.md`, "On real data").
    pub fn preset_for(scale: Scale, data: &DataSource) -> ReportConfig {
        let mut config = ReportConfig::preset(scale);
        if let DataSource::Synthetic(_) = data {
            return config;
        }
        config.data = data.clone();
        let (steps, sweep_steps, seeds) = match scale {
            Scale::Quick => (40, 30, 1),
            Scale::Default => (600, 300, 3),
            Scale::Full => (6_000, 3_000, 5),
        };
        let [channels, size, _] = data.image_shape();
        config.network = ResNetConfig {
            blocks: 2,
            stages: 2,
            width: 16,
            channels,
            size,
            classes: data.classes(),
            stem_stride: 2,
            ..Default::default()
        };
        config.train = TrainConfig {
            steps,
            batch_size: 64,
            lr: 0.05,
            log_every: 0,
            ..Default::default()
        };
        config.seeds = seeds;
        config.init_batch = 64;
        config.target_loss = 0.3;
        config.probe_steps = vec![0, steps / 10, steps / 2];
        config.normalizers = real_data_normalizers();
        let iv = &mut config.interventions;
        iv.steps = sweep_steps;
        iv.budgets = vec![sweep_steps / 4, sweep_steps / 2, sweep_steps];
        iv.batch_budget = sweep_steps / 2;
        if scale != Scale::Full {
            iv.depths = vec![1, 4];
            iv.batch_sizes = vec![16, 256];
            iv.rank.depths = vec![2, 8, 16];
        }
        iv.rank.steps = sweep_steps;
        if scale != Scale::Full {
            config.landscape.depths = vec![1, 2];
        }
        config
    }

    /// The preset of `scale` with the keys of a TOML document laid over it (tables merge key by
    /// key, arrays such as `normalizers` replace the preset's). A bad key or value is an error
    /// that names the key's path and the value, e.g. `normalizers[1].norm.kind = "batch_nrom"`.
    pub fn from_toml(scale: Scale, text: &str) -> Result<ReportConfig, AnalysisError> {
        ReportConfig::from_toml_for(scale, None, text)
    }

    /// [`ReportConfig::from_toml`] over the preset for `data` (the command line's `--data-dir`)
    /// or, without it, for the data the document names (`[data] kind = "mnist"`): a real
    /// dataset starts from [`ReportConfig::preset_for`]'s network and schedule.
    pub fn from_toml_for(
        scale: Scale,
        data: Option<&DataSource>,
        text: &str,
    ) -> Result<ReportConfig, AnalysisError> {
        let overrides: toml::Table = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            AnalysisError::Config {
                key: "(TOML syntax)".into(),
                value: format!(
                    "line {line}: {}",
                    text.lines().nth(line - 1).unwrap_or("").trim()
                ),
                reason: e.message().to_string(),
            }
        })?;
        let scale = match overrides.get("scale") {
            Some(value) => {
                value
                    .clone()
                    .try_into::<Scale>()
                    .map_err(|_| AnalysisError::Config {
                        key: "scale".into(),
                        value: value.to_string(),
                        reason: "expected \"quick\", \"default\" or \"full\"".into(),
                    })?
            }
            None => scale,
        };
        let named = overrides
            .get("data")
            .and_then(|d| d.clone().try_into::<DataSource>().ok());
        let preset = match data.cloned().or(named) {
            Some(data) => ReportConfig::preset_for(scale, &data),
            None => ReportConfig::preset(scale),
        };
        let mut base = toml::Table::try_from(preset).expect("a preset serializes to TOML");
        merge(&mut base, overrides);
        let merged = toml::Value::Table(base);
        serde_path_to_error::deserialize::<_, ReportConfig>(merged.clone()).map_err(|e| {
            let (mut key, mut value) = (e.path().to_string(), lookup(&merged, e.path()));
            // The deserializer appends its own (index-less) path on a second line: drop it.
            let reason = e.into_inner().to_string();
            let reason = reason
                .split("\nin `")
                .next()
                .unwrap_or(&reason)
                .trim()
                .to_string();
            // A bad value inside a tagged table (`[data]`, a normalizer): serde stops at the
            // table; name the field whose value the message quotes (`integer `-1``).
            if let Some(table) = value.and_then(|v| v.as_table())
                && let Some(quoted) = reason.split('`').nth(1).and_then(|q| q.parse::<i64>().ok())
                && let Some((field, v)) = table.iter().find(|(_, v)| v.as_integer() == Some(quoted))
            {
                key = format!("{key}.{field}");
                value = Some(v);
            }
            // An unknown variant of a tagged enum (a normalizer's or the data's `kind`): name the
            // tag itself.
            if reason.contains("variant")
                && let Some(kind) = value.and_then(|v| v.get("kind"))
            {
                key.push_str(".kind");
                value = Some(kind);
            }
            AnalysisError::Config {
                key,
                value: value.map(short).unwrap_or_else(|| "(missing)".into()),
                reason,
            }
        })
    }

    /// The network of one entry.
    pub fn network_for(
        &self,
        entry: &Entry,
        channels: usize,
        size: usize,
        classes: usize,
    ) -> ResNetConfig {
        ResNetConfig {
            norm: entry.norm.clone(),
            residual: entry.residual,
            init: entry.init.unwrap_or(self.network.init),
            channels,
            size,
            classes,
            ..self.network.clone()
        }
    }
}

/// The value at `path` in `value`.
fn lookup<'a>(value: &'a toml::Value, path: &serde_path_to_error::Path) -> Option<&'a toml::Value> {
    use serde_path_to_error::Segment;
    path.iter().try_fold(value, |v, segment| match segment {
        Segment::Seq { index } => v.get(*index),
        Segment::Map { key } => v.get(key.as_str()),
        Segment::Enum { .. } | Segment::Unknown => Some(v),
    })
}

/// A value as TOML, cut to one short line.
fn short(value: &toml::Value) -> String {
    let text = value.to_string().replace('\n', " ");
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

/// Lays `overrides` over `base`: tables merge key by key, except a tagged table whose `kind`
/// changes (`[data] kind = "cifar10"` over the synthetic preset), which replaces the preset's.
fn merge(base: &mut toml::Table, overrides: toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o))
                if o.get("kind").is_none_or(|kind| b.get("kind") == Some(kind)) =>
            {
                merge(b, o)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}
