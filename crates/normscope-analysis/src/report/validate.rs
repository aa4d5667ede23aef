//! Everything about a configuration that can be checked before any work: each key's range, the
//! sizes that must agree, and that every arm builds. A refusal is an `AnalysisError::Config`
//! naming the key and the value (`docs/reliability.md` lists what was tried). Counts have upper
//! bounds too — a size that could never be planned or built (`seeds = 2⁶³`, a network of
//! `2⁶³` blocks) is refused here rather than hanging the run.

use burn::tensor::Device;
use normscope_core::NormConfig;

use super::config::{Entry, MAX_LABEL, MAX_POINT, ReportConfig, slug};
use crate::AnalysisError;
use crate::data::DataSource;
use crate::error::{at_least, at_most, positive_finite};
use crate::models::{ResNetConfig, Residual};
use crate::train::FINAL_WINDOW;

/// Most seeds per arm: far beyond any study, small enough to plan.
pub const MAX_SEEDS: usize = 1_000;
/// Most residual blocks per stage, or hidden layers (a depth of 500 runs and diverges, as it
/// should be allowed to).
pub const MAX_DEPTH: usize = 4_096;
/// Most channels (or hidden units) of a layer.
pub const MAX_WIDTH: usize = 4_096;
/// Most stages (each halves the resolution).
pub const MAX_STAGES: usize = 8;
/// Most batches the landscape or the Hessian is averaged over.
pub const MAX_BATCHES: usize = 10_000;
/// Most samples in a landscape or Hessian batch (on a synthetic task, also at most its training
/// set).
pub const MAX_BATCH_SIZE: usize = 1 << 20;

impl ReportConfig {
    /// Checks everything before any work: the normalizers (and that each can be built in the
    /// network), the sizes, the training values, the interventions' grids and that the data can
    /// be found.
    pub fn validate(&self, device: &Device) -> Result<(), AnalysisError> {
        if self.normalizers.is_empty() {
            return Err(AnalysisError::config(
                "normalizers",
                "[]",
                "needs at least one normalizer",
            ));
        }
        self.validate_data()?;
        self.validate_network()?;
        self.train.validate()?;
        at_least("train.steps", self.train.steps, 1)?;
        at_least("seeds", self.seeds, 1)?;
        at_most("seeds", self.seeds, MAX_SEEDS)?;
        at_least("init_batch", self.init_batch, 2)?;
        if let Some(&step) = self.probe_steps.iter().find(|&&s| s >= self.train.steps) {
            return Err(AnalysisError::config(
                "probe_steps",
                step,
                "every probe step must be below train.steps",
            ));
        }
        positive_finite("target_loss", self.target_loss)?;
        for (key, entries) in self.arms() {
            self.validate_entries(key, entries)?;
        }
        self.validate_interventions()?;
        self.validate_landscape()?;
        self.validate_sizes()?;
        self.validate_builds(device)
    }

    /// Every list of arms, with its key.
    /// Every list of arms, with its key: the residual networks' first, the plain MLPs' last.
    fn arms(&self) -> [(&'static str, &Vec<Entry>); 5] {
        let iv = &self.interventions;
        [
            ("normalizers", &self.normalizers),
            ("interventions.lr_normalizers", &iv.lr_normalizers),
            ("interventions.depth_normalizers", &iv.depth_normalizers),
            ("landscape.normalizers", &self.landscape.normalizers),
            ("interventions.rank.normalizers", &iv.rank.normalizers),
        ]
    }

    /// The network's sizes; the keys each arm or the data sets must be left as they are (a
    /// value there would be silently replaced).
    fn validate_network(&self) -> Result<(), AnalysisError> {
        let n = &self.network;
        for (key, value, max) in [
            ("network.blocks", n.blocks, MAX_DEPTH),
            ("network.stages", n.stages, MAX_STAGES),
            ("network.width", n.width, MAX_WIDTH),
            ("network.stem_stride", n.stem_stride, 4),
        ] {
            at_least(key, value, 1)?;
            at_most(key, value, max)?;
        }
        let shrink = n.stem_stride << (n.stages - 1);
        if n.size < shrink || !n.size.is_multiple_of(shrink) {
            return Err(AnalysisError::config(
                "network.size",
                n.size,
                format!("must be a positive multiple of stem_stride · 2^(stages − 1) = {shrink}"),
            ));
        }
        let [channels, size, _] = self.data.image_shape();
        if size % shrink != 0 {
            return Err(AnalysisError::config(
                "network.stages",
                n.stages,
                format!(
                    "{} images of side {size} cannot be halved {} times",
                    self.data.name(),
                    n.stages - 1 + n.stem_stride.trailing_zeros() as usize
                ),
            ));
        }
        let channel_and_class = [
            (
                "network.channels",
                n.channels,
                channels,
                "the data's channels",
            ),
            (
                "network.classes",
                n.classes,
                self.data.classes(),
                "the data's classes",
            ),
        ];
        if let Some((key, set, _, by)) = channel_and_class.iter().find(|(_, a, b, _)| a != b) {
            return Err(AnalysisError::config(
                *key,
                set,
                format!("is set by {by}: leave it out of [network]"),
            ));
        }
        // The normalizer and the residual are each arm's: name the first field that differs.
        let derived = ResNetConfig::default();
        let tables = |a: &ResNetConfig, b: &ResNetConfig| -> Option<(String, String)> {
            let (a, b) = (
                toml::Value::try_from(a).ok()?,
                toml::Value::try_from(b).ok()?,
            );
            ["norm", "residual"].iter().find_map(|field| {
                let (x, y) = (a.get(field)?, b.get(field)?);
                if x == y {
                    return None;
                }
                let inner = x.as_table().and_then(|t| {
                    t.iter()
                        .find(|(k, v)| y.get(k.as_str()) != Some(v))
                        .map(|(k, v)| (format!("network.{field}.{k}"), v.to_string()))
                });
                Some(inner.unwrap_or((format!("network.{field}"), x.to_string())))
            })
        };
        if let Some((key, value)) = tables(n, &derived) {
            return Err(AnalysisError::config(
                key,
                value,
                "is set by each arm (`norm`, `residual` in [[normalizers]]): leave it out of [network]",
            ));
        }
        Ok(())
    }

    /// The data's own settings, that its files are there, and that a synthetic task has the
    /// network's image size.
    fn validate_data(&self) -> Result<(), AnalysisError> {
        self.data.validate()?;
        // The key's value is the directory as configured; the reason names the file at fault.
        self.data.check().map_err(|e| match (e, self.data.dir()) {
            (AnalysisError::Data { path, reason }, Some(dir)) if path != dir => {
                AnalysisError::config(
                    "data.dir",
                    dir.display(),
                    format!("{}: {reason}", path.display()),
                )
            }
            (AnalysisError::Data { path, reason }, _) => {
                AnalysisError::config("data.dir", path.display(), reason)
            }
            (e, _) => e,
        })?;
        if let DataSource::Synthetic(s) = &self.data
            && s.size != self.network.size
        {
            return Err(AnalysisError::config(
                "data.size",
                s.size,
                format!("must equal network.size = {}", self.network.size),
            ));
        }
        Ok(())
    }

    /// Every normalizer fits the network's channel counts and shapes (GroupNorm's groups).
    fn validate_builds(&self, device: &Device) -> Result<(), AnalysisError> {
        let [channels, size, _] = self.data.image_shape();
        for (key, entries) in &self.arms()[..4] {
            for (i, entry) in entries.iter().enumerate() {
                self.network_for(entry, channels, size, self.data.classes())
                    .init(device)
                    .map_err(|e| {
                        AnalysisError::config(format!("{key}[{i}]"), &entry.label, e.to_string())
                    })?;
            }
        }
        Ok(())
    }

    /// Batches no larger than the training set (a larger one would silently shrink to it, and
    /// the report would print the configured size), and seeds that do not overflow.
    fn validate_sizes(&self) -> Result<(), AnalysisError> {
        if let DataSource::Synthetic(s) = &self.data {
            let sweep = self.interventions.batch_sizes.iter().enumerate();
            let sizes = [
                ("train.batch_size".to_string(), self.train.batch_size),
                ("init_batch".to_string(), self.init_batch),
                (
                    "landscape.eval_batch_size".to_string(),
                    self.landscape.eval_batch_size,
                ),
                (
                    "landscape.hessian_batch_size".to_string(),
                    self.landscape.hessian_batch_size,
                ),
            ]
            .into_iter()
            .chain(sweep.map(|(i, &b)| (format!("interventions.batch_sizes[{i}]"), b)));
            for (key, value) in sizes {
                if value > s.train {
                    return Err(AnalysisError::config(
                        key,
                        value,
                        format!(
                            "is more than the training set's {} samples (data.train)",
                            s.train
                        ),
                    ));
                }
            }
        }
        let seeds = self
            .seeds
            .max(self.interventions.seeds)
            .max(self.landscape.seeds) as u64;
        if self.train.seed.checked_add(seeds).is_none() {
            return Err(AnalysisError::config(
                "train.seed",
                self.train.seed,
                format!(
                    "the seeds of the run, train.seed + 0 … {seeds} − 1, overflow a 64-bit seed"
                ),
            ));
        }
        Ok(())
    }

    /// Unique labels that fit a file name, valid normalizers and residuals, GhostBatchNorm's
    /// virtual batch, rank pre-training's rate.
    fn validate_entries(&self, key: &str, entries: &[Entry]) -> Result<(), AnalysisError> {
        for (i, entry) in entries.iter().enumerate() {
            let at = |field: &str| format!("{key}[{i}].{field}");
            if entry.label.len() > MAX_LABEL {
                return Err(AnalysisError::config(
                    at("label"),
                    format!("{}…", entry.label.chars().take(40).collect::<String>()),
                    format!(
                        "is {} bytes long: a label names its units' files and must be at most {MAX_LABEL} bytes",
                        entry.label.len()
                    ),
                ));
            }
            let file_name = slug(&entry.label);
            if let Some(other) = entries[..i].iter().find(|e| slug(&e.label) == file_name) {
                let reason = if other.label == entry.label {
                    "labels must be unique".to_string()
                } else {
                    format!(
                        "its units' files would be those of `{}` (both are `{file_name}` in a file name): labels must differ in more than case and punctuation",
                        other.label
                    )
                };
                return Err(AnalysisError::config(at("label"), &entry.label, reason));
            }
            if let Some(p) = &entry.pretrain {
                positive_finite(at("pretrain.lr"), p.lr)?;
            }
            if let Residual::SkipInit { alpha, .. } = entry.residual
                && !alpha.is_finite()
            {
                return Err(AnalysisError::config(
                    at("residual.alpha"),
                    alpha,
                    "must be finite",
                ));
            }
            entry.norm.validate().map_err(|e| {
                AnalysisError::config(at("norm"), entry.norm.label(), e.to_string())
            })?;
            if let NormConfig::GhostBatchNorm(g) = &entry.norm
                && (!self.train.batch_size.is_multiple_of(g.virtual_batch_size)
                    || !self.init_batch.is_multiple_of(g.virtual_batch_size))
            {
                return Err(AnalysisError::config(
                    at("norm.virtual_batch_size"),
                    g.virtual_batch_size,
                    "must divide train.batch_size and init_batch",
                ));
            }
        }
        Ok(())
    }

    /// The landscape's depths, seeds, batches, spans and spectrum.
    fn validate_landscape(&self) -> Result<(), AnalysisError> {
        use crate::experiments::landscape::{MAX_INTERPOLATION_POINTS, MAX_PLANE_POINTS};
        let l = &self.landscape;
        let key = |k: &str| format!("landscape.{k}");
        counts(&key("depths"), &l.depths, 1, MAX_DEPTH)?;
        if l.depths.is_empty() || l.normalizers.is_empty() {
            return Ok(());
        }
        at_least(key("seeds"), l.seeds, 1)?;
        at_most(key("seeds"), l.seeds, MAX_SEEDS)?;
        for (k, batches, size) in [
            ("eval", l.eval_batches, l.eval_batch_size),
            ("hessian", l.hessian_batches, l.hessian_batch_size),
        ] {
            at_least(key(&format!("{k}_batches")), batches, 1)?;
            at_most(key(&format!("{k}_batches")), batches, MAX_BATCHES)?;
            at_least(key(&format!("{k}_batch_size")), size, 2)?;
            at_most(key(&format!("{k}_batch_size")), size, MAX_BATCH_SIZE)?;
        }
        l.interpolation
            .validate(&key("interpolation"), MAX_INTERPOLATION_POINTS)?;
        l.plane.validate(&key("plane"), MAX_PLANE_POINTS)?;
        l.spectrum.validate(&key("spectrum"))
    }

    /// The sweeps' grids, seeds and budgets.
    fn validate_interventions(&self) -> Result<(), AnalysisError> {
        let iv = &self.interventions;
        let key = |k: &str| format!("interventions.{k}");
        let sweeps = !(iv.learning_rates.is_empty() || iv.lr_normalizers.is_empty())
            || !(iv.depths.is_empty() || iv.depth_normalizers.is_empty())
            || !(iv.rank.depths.is_empty() || iv.rank.normalizers.is_empty());
        if sweeps {
            at_least(key("seeds"), iv.seeds, 1)?;
            at_most(key("seeds"), iv.seeds, MAX_SEEDS)?;
            at_least(key("steps"), iv.steps, FINAL_WINDOW)?;
            at_least(key("rank.steps"), iv.rank.steps, FINAL_WINDOW)?;
        }
        rates(&key("learning_rates"), &iv.learning_rates)?;
        rates(&key("depth_learning_rates"), &iv.depth_learning_rates)?;
        rates(&key("rank.learning_rates"), &iv.rank.learning_rates)?;
        counts(&key("depths"), &iv.depths, 1, MAX_DEPTH)?;
        counts(&key("rank.depths"), &iv.rank.depths, 1, MAX_DEPTH)?;
        counts(&key("budgets"), &iv.budgets, FINAL_WINDOW, usize::MAX)?;
        counts(&key("batch_sizes"), &iv.batch_sizes, 2, usize::MAX)?;
        at_least(key("rank.width"), iv.rank.width, 1)?;
        at_most(key("rank.width"), iv.rank.width, MAX_WIDTH)?;
        if !iv.depths.is_empty() && !iv.depth_learning_rates.contains(&iv.depth_lr) {
            return Err(AnalysisError::config(
                key("depth_lr"),
                crate::error::short(iv.depth_lr),
                format!(
                    "must be one of depth_learning_rates {:?} (the fixed-rate figure reads those runs)",
                    iv.depth_learning_rates
                ),
            ));
        }
        if let Some(&last) = iv.budgets.last()
            && last != iv.steps
        {
            return Err(AnalysisError::config(
                key(&format!("budgets[{}]", iv.budgets.len() - 1)),
                last,
                format!(
                    "the largest budget must be interventions.steps = {}",
                    iv.steps
                ),
            ));
        }
        if !iv.batch_sizes.is_empty() && !iv.budgets.contains(&iv.batch_budget) {
            return Err(AnalysisError::config(
                key("batch_budget"),
                iv.batch_budget,
                format!("must be one of budgets {:?}", iv.budgets),
            ));
        }
        Ok(())
    }
}

/// A grid of learning rates: finite, positive, strictly ascending, and each printing in at most
/// [`MAX_POINT`] characters (it names its units' files: `1e308` prints as 309 digits).
fn rates(key: &str, grid: &[f64]) -> Result<(), AnalysisError> {
    for (i, &lr) in grid.iter().enumerate() {
        let at = format!("{key}[{i}]");
        positive_finite(&at, lr)?;
        if i > 0 && lr <= grid[i - 1] {
            return Err(AnalysisError::config(
                at,
                lr,
                "the grid must be strictly ascending",
            ));
        }
        let printed = lr.to_string().len();
        if printed > MAX_POINT {
            return Err(AnalysisError::config(
                at,
                crate::error::short(lr),
                format!(
                    "prints in {printed} characters: a learning rate names its units' files and must print in at most {MAX_POINT}"
                ),
            ));
        }
    }
    Ok(())
}

/// A grid of counts (depths, budgets, batch sizes): each in `min..=max`, strictly ascending.
fn counts(key: &str, grid: &[usize], min: usize, max: usize) -> Result<(), AnalysisError> {
    for (i, &v) in grid.iter().enumerate() {
        let at = format!("{key}[{i}]");
        at_least(&at, v, min)?;
        at_most(&at, v, max)?;
        if i > 0 && v <= grid[i - 1] {
            return Err(AnalysisError::config(
                at,
                v,
                "the values must be strictly ascending",
            ));
        }
    }
    Ok(())
}
