//! Rank collapse with depth (Daneshmand et al. 2020, Fig. 1): the rank of the batch's
//! representation at each layer of an MLP at initialization, with and without normalization.
//!
//! One network of the largest depth per (normalizer, activation, width, seed): the
//! representation at layer `ℓ` is the last hidden layer of the depth-`ℓ + 1` network (layers above
//! do not change it).

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::{
    Csv, Experiment, Points, Results, Stat, at_least, check_norms, gaussian, not_empty, stat_series,
};
use crate::AnalysisError;
use crate::metrics::rank_collapse::{RankMeasures, rank_measures_of};
use crate::models::{Activation, MlpConfig, Probe, Site};
use crate::output::{Chart, Figure, Section, Table};

/// The sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RankCollapseConfig {
    /// Normalizers compared.
    pub norms: Vec<NormConfig>,
    /// Nonlinearities (`linear` is the deep linear network).
    pub activations: Vec<Activation>,
    /// Hidden widths `d`.
    pub widths: Vec<usize>,
    /// Largest depth; every depth up to it is reported.
    pub max_depth: usize,
    /// Samples `N` in the batch.
    pub batch_size: usize,
    /// Seeds averaged over.
    pub seeds: usize,
    /// First seed.
    pub seed: u64,
}

impl Default for RankCollapseConfig {
    fn default() -> Self {
        RankCollapseConfig {
            norms: vec![NormConfig::Identity, NormConfig::default()],
            activations: vec![Activation::Linear, Activation::Relu],
            widths: vec![32, 128],
            max_depth: 32,
            batch_size: 32,
            seeds: 5,
            seed: 0,
        }
    }
}

/// The measures at one depth, summarised over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankPoint {
    /// Normalizer label.
    pub norm: String,
    /// Nonlinearity.
    pub activation: Activation,
    /// Width.
    pub width: usize,
    /// Depth (number of hidden layers up to this representation).
    pub depth: usize,
    /// Numerical rank.
    pub numerical_rank: Stat,
    /// Stable rank.
    pub stable_rank: Stat,
    /// Effective rank.
    pub effective_rank: Stat,
    /// Orthogonality gap.
    pub orthogonality_gap: Stat,
}

/// The rank of each layer of one network.
pub fn rank_profile(
    config: &MlpConfig,
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<RankMeasures>, AnalysisError> {
    device.seed(seed);
    let model = config.init(device)?;
    let x = gaussian([batch_size, config.input, 1, 1], device);
    let mut probe = Probe::values();
    model.forward(x, Mode::Train, &mut probe)?;
    Ok(probe
        .at(Site::Hidden)
        .map(|o| rank_measures_of(o.value.clone()))
        .collect())
}

/// The measures at each depth of one (normalizer, activation, width), summarised over the
/// seeds' profiles (`per_seed[s][ℓ]`: seed `s`, depth `ℓ + 1`).
pub fn summarize(
    norm: &str,
    activation: Activation,
    width: usize,
    per_seed: &[Vec<RankMeasures>],
) -> Vec<RankPoint> {
    let depths = per_seed.iter().map(Vec::len).min().unwrap_or(0);
    (1..=depths)
        .map(|depth| {
            let at = |f: fn(&RankMeasures) -> f64| {
                Stat::of(
                    &per_seed
                        .iter()
                        .map(|p| f(&p[depth - 1]))
                        .collect::<Vec<_>>(),
                )
            };
            RankPoint {
                norm: norm.to_string(),
                activation,
                width,
                depth,
                numerical_rank: at(|m| m.numerical_rank.map_or(f64::NAN, |r| r as f64)),
                stable_rank: at(|m| m.stable_rank),
                effective_rank: at(|m| m.effective_rank),
                orthogonality_gap: at(|m| m.orthogonality_gap),
            }
        })
        .collect()
}

/// The sweep's configuration and its measures at every depth.
pub type RankCollapseResults = Points<RankCollapseConfig, RankPoint>;

impl Experiment for RankCollapseConfig {
    const NAME: &'static str = "rank_collapse";
    const LABEL: &'static str = "rank collapse";
    type Results = RankCollapseResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        let total = self.norms.len() * self.activations.len() * self.widths.len() * self.seeds;
        bar.set_length(total as u64);
        let mut points = vec![];
        for norm in &self.norms {
            for &activation in &self.activations {
                for &width in &self.widths {
                    let mlp = MlpConfig {
                        input: width,
                        width,
                        depth: self.max_depth,
                        classes: 2,
                        activation,
                        norm: norm.clone(),
                        bias: false,
                        ..Default::default()
                    };
                    let mut per_seed = vec![];
                    for s in 0..self.seeds {
                        bar.set_message(format!("{} {activation:?} width {width}", norm.label()));
                        per_seed.push(rank_profile(
                            &mlp,
                            self.batch_size,
                            self.seed + s as u64,
                            device,
                        )?);
                        bar.inc(1);
                    }
                    points.extend(summarize(&norm.label(), activation, width, &per_seed));
                }
            }
        }
        Ok(RankCollapseResults {
            config: self.clone(),
            points,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        check_norms("norms", &self.norms)?;
        not_empty("activations", &self.activations)?;
        not_empty("widths", &self.widths)?;
        for &width in &self.widths {
            at_least("widths", width, 1)?;
        }
        at_least("max_depth", self.max_depth, 1)?;
        at_least("batch_size", self.batch_size, 2)?;
        at_least("seeds", self.seeds, 1)
    }

    super::seeds!(at_initialization);
}

/// The legend of a curve: the normalizer, and the activation and width where the points have
/// more than one of them.
fn series_name(points: &[RankPoint], p: &RankPoint) -> String {
    let mut name = p.norm.clone();
    if points.iter().any(|q| q.activation != p.activation) {
        name.push(' ');
        name.push_str(p.activation.name());
    }
    if points.iter().any(|q| q.width != p.width) {
        name.push_str(&format!(" d={}", p.width));
    }
    name
}

/// One curve per (normalizer, activation, width) of `stat` against the depth, with its band.
fn depth_chart(
    chart: Chart,
    points: &[RankPoint],
    stat: impl Fn(&RankPoint) -> Stat + Copy,
) -> Chart {
    let mut depths: Vec<f64> = points.iter().map(|p| p.depth as f64).collect();
    depths.sort_by(f64::total_cmp);
    depths.dedup();
    let mut chart = chart.integer_x();
    if depths.len() <= 8 {
        chart = chart.with_x_ticks(depths);
    }
    let mut keys: Vec<(&str, Activation, usize)> = vec![];
    for p in points {
        let key = (p.norm.as_str(), p.activation, p.width);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (norm, activation, width) in keys {
        let series: Vec<&RankPoint> = points
            .iter()
            .filter(|p| p.norm == norm && p.activation == activation && p.width == width)
            .collect();
        chart.push(stat_series(
            series_name(points, series[0]),
            &series,
            |p| p.depth as f64,
            stat,
        ));
    }
    chart
}

/// The effective rank over the batch size `N` at each depth (mean ± std over seeds): the
/// report's rank figure.
pub fn effective_rank_figure(points: &[RankPoint], batch_size: usize) -> Figure {
    let n = batch_size as f64;
    Figure::new(
        "effective_rank",
        "Effective rank of the representation over the batch size, at initialization (mean ± std over seeds).",
        depth_chart(
            Chart::new(
                "Effective rank / batch size by depth (init)",
                "depth",
                "effective rank / N",
            ),
            points,
            move |p| {
                let s = p.effective_rank;
                Stat {
                    mean: s.mean / n,
                    std: s.std / n,
                    min: s.min / n,
                    max: s.max / n,
                    ..s
                }
            },
        ),
    )
}

/// A point's key columns, in table and CSV: norm, activation, width, depth.
fn key(p: &RankPoint) -> Vec<String> {
    vec![
        p.norm.clone(),
        p.activation.name().into(),
        p.width.to_string(),
        p.depth.to_string(),
    ]
}

impl Results for RankCollapseResults {
    fn section(&self) -> Section {
        let config = &self.config;
        let table = Table::of(
            &[
                "norm",
                "activation",
                "width",
                "depth",
                "numerical rank",
                "stable rank",
                "effective rank",
                "orth. gap",
            ],
            self.points
                .iter()
                .filter(|p| p.depth.is_power_of_two() || p.depth == config.max_depth),
            |p| {
                let mut row = key(p);
                row.extend([
                    p.numerical_rank.show(1),
                    p.stable_rank.show(2),
                    p.effective_rank.show(2),
                    p.orthogonality_gap.show(3),
                ]);
                row
            },
        );
        RankCollapseConfig::new_section("Rank collapse with depth")
            .paragraph(format!(
                "Rank of the hidden representation H (N = {} samples × width) at initialization, mean ± std over {} seeds:",
                config.batch_size, config.seeds
            ))
            .table(table)
            .paragraph(
                "Daneshmand et al. 2020: without normalization the rank of a batch's representation collapses toward 1 with depth; BatchNorm keeps it high (Ω(√width), Theorem 2).",
            )
            .figure(Figure::new(
                "stable_rank",
                "Stable rank ‖H‖²_F/‖H‖²₂ of each layer's representation (mean ± std over seeds).",
                depth_chart(
                    Chart::new(
                        "Stable rank ‖H‖²_F/‖H‖²₂ by depth",
                        "depth (hidden layers)",
                        "stable rank",
                    )
                    .log_y(),
                    &self.points,
                    |p| p.stable_rank,
                ),
            ))
            .figure(Figure::new(
                "orthogonality_gap",
                "Orthogonality gap of each layer's representation (mean ± std over seeds).",
                depth_chart(
                    Chart::new(
                        "Orthogonality gap ‖HHᵀ/‖H‖²_F − I/N‖_F by depth",
                        "depth (hidden layers)",
                        "orthogonality gap",
                    ),
                    &self.points,
                    |p| p.orthogonality_gap,
                ),
            ))
            .figure(effective_rank_figure(&self.points, config.batch_size))
    }

    fn csv(&self) -> Csv {
        Csv::of(
            &[
                "norm",
                "activation",
                "width",
                "depth",
                "numerical_rank",
                "stable_rank",
                "stable_rank_std",
                "effective_rank",
                "orthogonality_gap",
            ],
            &self.points,
            |p| {
                let mut row = key(p);
                row.extend([
                    p.numerical_rank.mean.to_string(),
                    p.stable_rank.mean.to_string(),
                    p.stable_rank.std.to_string(),
                    p.effective_rank.mean.to_string(),
                    p.orthogonality_gap.mean.to_string(),
                ]);
                row
            },
        )
    }
}
