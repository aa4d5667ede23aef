//! The battery's configuration: which normalizers, which network, data and training; presets per
//! scale; TOML overrides; validation before any work.

use burn::tensor::Device;
use normscope_core::{
    BatchNormConfig, GhostBatchNormConfig, GroupNormConfig, LayerNormConfig, LpBatchNormConfig,
    LpOrder, MeanOnlyConfig, NoiseOnlyConfig, NoisyBatchNormConfig, NormConfig, VarianceOnlyConfig,
};
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::data::{DataSource, SyntheticConfig};
use crate::models::{Init, ResNetConfig, Residual};
use crate::train::TrainConfig;

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
}

impl Entry {
    fn new(label: &str, norm: NormConfig) -> Entry {
        Entry {
            label: label.into(),
            norm,
            residual: Residual::Standard,
            init: None,
            control: false,
        }
    }
}

/// The labels by which the interventions find their arms (in the battery for the noise
/// experiment, in [`InterventionConfig::lr_normalizers`] and
/// [`InterventionConfig::depth_normalizers`] for the sweeps).
pub mod roles {
    /// No normalization: every intervention's baseline.
    pub const NONE: &str = "none";
    /// BatchNorm.
    pub const BATCH_NORM: &str = "BatchNorm";
    /// BatchNorm with noise after it (Santurkar et al. 2018).
    pub const NOISY: &str = "NoisyBatchNorm";
    /// The same noise without BatchNorm.
    pub const NOISE_ONLY: &str = "NoiseOnly";
    /// Identity bias without normalization (De & Smith 2020).
    pub const SKIP_INIT: &str = "SkipInit";
    /// A rank-preserving initialisation without normalization.
    pub const ORTHOGONAL: &str = "Orthogonal";
}

/// The intervention experiments: each changes one explanation's mechanism with the rest held
/// fixed, and its outcome is what the explanation predicts (`docs/metrics.md`,
/// "Interventions"). The noise experiment (covariate shift) reads the battery's own training
/// runs of `none`, `BatchNorm`, `NoisyBatchNorm` and `NoiseOnly`; the sweeps train their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterventionConfig {
    /// Seeds per arm and grid point (at least 2 for an interval).
    pub seeds: usize,
    /// Training steps of every sweep run.
    pub steps: usize,
    /// Smoothness (Bjorck et al. 2018): the learning rates, ascending. Empty: no sweep.
    pub learning_rates: Vec<f64>,
    /// The arms trained at every learning rate (`none` and `BatchNorm` by role).
    pub lr_normalizers: Vec<Entry>,
    /// Identity bias and rank collapse: residual blocks per stage, ascending. Empty: no sweep.
    pub depths: Vec<usize>,
    /// The arms trained at every depth (`none`, `BatchNorm`, `SkipInit`, `Orthogonal` by role).
    pub depth_normalizers: Vec<Entry>,
    /// The learning rate of every arm of the depth sweep: one at which the unnormalized arms
    /// train stably, so that the sweep measures what depth does and not which arm tolerates a
    /// large learning rate (that is the learning-rate sweep's question).
    pub depth_lr: f64,
}

impl Default for InterventionConfig {
    fn default() -> Self {
        InterventionConfig::preset(Scale::Default)
    }
}

impl InterventionConfig {
    /// The interventions of a scale.
    pub fn preset(scale: Scale) -> InterventionConfig {
        let none = Entry::new(roles::NONE, NormConfig::Identity);
        let bn = Entry::new(
            roles::BATCH_NORM,
            NormConfig::BatchNorm(BatchNormConfig::new()),
        );
        let depth_normalizers = vec![
            none.clone(),
            bn.clone(),
            skip_init_entry(),
            Entry {
                init: Some(Init::DeltaOrthogonal),
                ..Entry::new(roles::ORTHOGONAL, NormConfig::Identity)
            },
        ];
        let (seeds, steps, learning_rates, depths, depth_lr) = match scale {
            Scale::Quick => (2, 30, vec![0.05, 0.4], vec![1, 4], 0.03),
            Scale::Default => (
                2,
                200,
                vec![0.01, 0.03, 0.1, 0.3, 1.0],
                vec![1, 4, 16],
                0.03,
            ),
            Scale::Full => (
                3,
                2_000,
                vec![0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
                vec![1, 2, 4, 8, 16, 32, 64],
                0.03,
            ),
        };
        InterventionConfig {
            seeds,
            steps,
            learning_rates,
            lr_normalizers: vec![none, bn],
            depths,
            depth_normalizers,
            depth_lr,
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
        label: roles::SKIP_INIT.into(),
        norm: NormConfig::Identity,
        residual: skip_init(),
        init: None,
        control: false,
    }
}

/// The eleven normalizers of the default battery.
pub fn default_normalizers() -> Vec<Entry> {
    vec![
        Entry::new("none", NormConfig::Identity),
        Entry::new("BatchNorm", NormConfig::BatchNorm(BatchNormConfig::new())),
        Entry::new(
            "GhostBatchNorm",
            NormConfig::GhostBatchNorm(GhostBatchNormConfig::new().with_virtual_batch_size(8)),
        ),
        Entry::new("LayerNorm", NormConfig::LayerNorm(LayerNormConfig::new())),
        Entry::new(
            "GroupNorm",
            NormConfig::GroupNorm(GroupNormConfig::new().with_groups(4)),
        ),
        Entry::new(
            roles::NOISY,
            NormConfig::NoisyBatchNorm(NoisyBatchNormConfig::new()),
        ),
        Entry {
            control: true,
            ..Entry::new(
                roles::NOISE_ONLY,
                NormConfig::NoiseOnly(NoiseOnlyConfig::new()),
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
            },
        }
    }

    /// The preset of `scale` with the keys of a TOML document laid over it (tables merge key by
    /// key, arrays such as `normalizers` replace the preset's). A bad key or value is an error
    /// that names the key's path and the value, e.g. `normalizers[1].norm.kind = "batch_nrom"`.
    pub fn from_toml(scale: Scale, text: &str) -> Result<ReportConfig, AnalysisError> {
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
        let mut base = toml::Table::try_from(ReportConfig::preset(scale))
            .expect("a preset serializes to TOML");
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

    /// Checks everything before any work: the normalizers (and that each can be built in the
    /// network), the sizes, the training values and that the data can be found.
    pub fn validate(&self, device: &Device) -> Result<(), AnalysisError> {
        let bad = |key: String, value: String, reason: &str| AnalysisError::Config {
            key,
            value,
            reason: reason.into(),
        };
        if self.normalizers.is_empty() {
            return Err(bad(
                "normalizers".into(),
                "[]".into(),
                "needs at least one normalizer",
            ));
        }
        self.validate_entries("normalizers", &self.normalizers)?;
        let n = &self.network;
        for (key, value) in [
            ("network.blocks", n.blocks),
            ("network.stages", n.stages),
            ("network.width", n.width),
        ] {
            if value == 0 {
                return Err(bad(key.into(), "0".into(), "must be at least 1"));
            }
        }
        let shrink = 1usize << (n.stages - 1).min(20);
        if n.size < shrink || !n.size.is_multiple_of(shrink) {
            return Err(bad(
                "network.size".into(),
                n.size.to_string(),
                &format!("must be a positive multiple of 2^(stages − 1) = {shrink}"),
            ));
        }
        self.data.check().map_err(|e| match e {
            AnalysisError::Data { path, reason } => {
                bad("data.dir".into(), path.display().to_string(), &reason)
            }
            e => e,
        })?;
        if let DataSource::Synthetic(s) = &self.data
            && s.size != n.size
        {
            return Err(bad(
                "data.size".into(),
                s.size.to_string(),
                &format!("must equal network.size = {}", n.size),
            ));
        }
        // The network takes the data's image size.
        let [_, size, _] = self.data.image_shape();
        if size % shrink != 0 {
            return Err(bad(
                "network.stages".into(),
                n.stages.to_string(),
                &format!(
                    "{} images of side {size} cannot be halved {} times",
                    self.data.name(),
                    n.stages - 1
                ),
            ));
        }
        self.train.validate()?;
        if self.train.steps == 0 {
            return Err(bad("train.steps".into(), "0".into(), "must be at least 1"));
        }
        if self.seeds == 0 {
            return Err(bad("seeds".into(), "0".into(), "must be at least 1"));
        }
        if self.init_batch < 2 {
            return Err(bad(
                "init_batch".into(),
                self.init_batch.to_string(),
                "needs at least 2 samples",
            ));
        }
        if let Some(&step) = self.probe_steps.iter().find(|&&s| s >= self.train.steps) {
            return Err(bad(
                "probe_steps".into(),
                step.to_string(),
                "every probe step must be below train.steps",
            ));
        }
        if !(self.target_loss.is_finite() && self.target_loss > 0.0) {
            return Err(bad(
                "target_loss".into(),
                self.target_loss.to_string(),
                "must be finite and > 0",
            ));
        }
        self.validate_interventions()?;
        // Every normalizer must fit the network's channel counts and shapes (GroupNorm's groups).
        let iv = &self.interventions;
        for (key, entries) in [
            ("normalizers", &self.normalizers),
            ("interventions.lr_normalizers", &iv.lr_normalizers),
            ("interventions.depth_normalizers", &iv.depth_normalizers),
        ] {
            for (i, entry) in entries.iter().enumerate() {
                let [channels, size, _] = self.data.image_shape();
                self.network_for(entry, channels, size, self.data.classes())
                    .init(device)
                    .map_err(|e| bad(format!("{key}[{i}]"), entry.label.clone(), &e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Unique labels (also as file names), valid normalizers, GhostBatchNorm's virtual batch.
    fn validate_entries(&self, key: &str, entries: &[Entry]) -> Result<(), AnalysisError> {
        let bad = |key: String, value: String, reason: &str| AnalysisError::Config {
            key,
            value,
            reason: reason.into(),
        };
        for (i, entry) in entries.iter().enumerate() {
            if entries[..i].iter().any(|e| e.label == entry.label) {
                return Err(bad(
                    format!("{key}[{i}].label"),
                    entry.label.clone(),
                    "labels must be unique",
                ));
            }
            let slug = super::plan::slug(&entry.label);
            if let Some(other) = entries[..i]
                .iter()
                .find(|e| super::plan::slug(&e.label) == slug)
            {
                return Err(bad(
                    format!("{key}[{i}].label"),
                    entry.label.clone(),
                    &format!(
                        "its units' files would be those of `{}` (both are `{slug}` in a file name): labels must differ in more than case and punctuation",
                        other.label
                    ),
                ));
            }
            entry.norm.validate().map_err(|e| {
                bad(
                    format!("{key}[{i}].norm"),
                    entry.norm.label(),
                    &e.to_string(),
                )
            })?;
            if let NormConfig::GhostBatchNorm(g) = &entry.norm
                && (!self.train.batch_size.is_multiple_of(g.virtual_batch_size)
                    || !self.init_batch.is_multiple_of(g.virtual_batch_size))
            {
                return Err(bad(
                    format!("{key}[{i}].norm.virtual_batch_size"),
                    g.virtual_batch_size.to_string(),
                    "must divide train.batch_size and init_batch",
                ));
            }
        }
        Ok(())
    }

    /// The sweeps' grids, seeds and arms.
    fn validate_interventions(&self) -> Result<(), AnalysisError> {
        let iv = &self.interventions;
        let bad = |key: &str, value: String, reason: &str| AnalysisError::Config {
            key: format!("interventions.{key}"),
            value,
            reason: reason.into(),
        };
        let sweeps = !(iv.learning_rates.is_empty() || iv.lr_normalizers.is_empty())
            || !(iv.depths.is_empty() || iv.depth_normalizers.is_empty());
        if sweeps && iv.seeds == 0 {
            return Err(bad("seeds", "0".into(), "must be at least 1"));
        }
        if sweeps && iv.steps < 10 {
            return Err(bad(
                "steps",
                iv.steps.to_string(),
                "must be at least 10 (the final loss is the mean of the last 10 steps)",
            ));
        }
        for (i, lr) in iv.learning_rates.iter().enumerate() {
            if !(lr.is_finite() && *lr > 0.0) {
                return Err(bad(
                    &format!("learning_rates[{i}]"),
                    lr.to_string(),
                    "must be finite and > 0",
                ));
            }
            if i > 0 && *lr <= iv.learning_rates[i - 1] {
                return Err(bad(
                    &format!("learning_rates[{i}]"),
                    lr.to_string(),
                    "the grid must be strictly ascending",
                ));
            }
        }
        if !(iv.depth_lr.is_finite() && iv.depth_lr > 0.0) {
            return Err(bad(
                "depth_lr",
                iv.depth_lr.to_string(),
                "must be finite and > 0",
            ));
        }
        for (i, &d) in iv.depths.iter().enumerate() {
            if d == 0 {
                return Err(bad(
                    &format!("depths[{i}]"),
                    "0".into(),
                    "must be at least 1",
                ));
            }
            if i > 0 && d <= iv.depths[i - 1] {
                return Err(bad(
                    &format!("depths[{i}]"),
                    d.to_string(),
                    "the depths must be strictly ascending",
                ));
            }
        }
        self.validate_entries("interventions.lr_normalizers", &iv.lr_normalizers)?;
        self.validate_entries("interventions.depth_normalizers", &iv.depth_normalizers)
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

/// Lays `overrides` over `base`, merging nested tables.
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
