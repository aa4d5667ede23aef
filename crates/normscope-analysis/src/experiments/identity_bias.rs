//! Identity bias of residual blocks at initialization (De & Smith 2020, Fig. 2; Brock et al.'s
//! signal-propagation plots): skip-path and branch variance per block of a single-stage
//! pre-activation ResNet, for BatchNorm, no normalization and SkipInit.

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::{
    Csv, Experiment, Points, Results, Stat, at_least, gaussian, labels_in, not_empty, stat_series,
};
use crate::AnalysisError;
use crate::metrics::identity_bias::{BlockSignal, identity_bias};
use crate::models::{Probe, ResNetConfig, Residual};
use crate::output::{Chart, Figure, Section, Table};

/// A residual network variant of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// Label in tables and plots.
    pub label: String,
    /// The block normalizer.
    pub norm: NormConfig,
    /// How blocks combine skip and branch.
    pub residual: Residual,
}

/// The sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityBiasConfig {
    /// Variants compared.
    pub variants: Vec<Variant>,
    /// Residual blocks (one stage, no resolution change).
    pub blocks: usize,
    /// Channels.
    pub width: usize,
    /// Image side of the `N(0, 1)` inputs.
    pub size: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Seeds averaged over.
    pub seeds: usize,
    /// First seed.
    pub seed: u64,
}

impl IdentityBiasConfig {
    /// BatchNorm, no normalization, and SkipInit (`α = 0`, no normalization).
    pub fn standard_variants() -> Vec<Variant> {
        vec![
            Variant {
                label: "BatchNorm".into(),
                norm: NormConfig::default(),
                residual: Residual::Standard,
            },
            Variant {
                label: "no normalization".into(),
                norm: NormConfig::Identity,
                residual: Residual::Standard,
            },
            Variant {
                label: "SkipInit".into(),
                norm: NormConfig::Identity,
                residual: Residual::SkipInit {
                    alpha: 0.0,
                    per_sqrt_depth: false,
                },
            },
        ]
    }
}

impl Default for IdentityBiasConfig {
    fn default() -> Self {
        IdentityBiasConfig {
            variants: IdentityBiasConfig::standard_variants(),
            blocks: 12,
            width: 16,
            size: 16,
            batch_size: 16,
            seeds: 4,
            seed: 0,
        }
    }
}

/// One block of one variant, summarised over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockPoint {
    /// Variant label.
    pub variant: String,
    /// Block index.
    pub block: usize,
    /// Skip-path variance.
    pub skip_var: Stat,
    /// Branch variance.
    pub branch_var: Stat,
    /// Output variance.
    pub output_var: Stat,
    /// The branch's share of the output variance.
    pub branch_share: Stat,
    /// Average squared channel mean of the output.
    pub avg_sq_mean: Stat,
    /// Mean square of the skip path.
    pub skip_power: Stat,
    /// Mean square of the branch.
    pub branch_power: Stat,
}

/// The signal of every block of one network at initialization.
pub fn block_signals(
    config: &ResNetConfig,
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<BlockSignal>, AnalysisError> {
    device.seed(seed);
    let model = config.init(device)?;
    let x = gaussian(
        [batch_size, config.channels, config.size, config.size],
        device,
    );
    let mut probe = Probe::values();
    model.forward(x, Mode::Train, &mut probe)?;
    Ok(identity_bias(&probe))
}

/// Every block of one variant, summarised over the seeds' signals (`per_seed[s][b]`: seed `s`,
/// block `b`).
pub fn summarize(variant: &str, per_seed: &[Vec<BlockSignal>]) -> Vec<BlockPoint> {
    let blocks = per_seed.iter().map(Vec::len).min().unwrap_or(0);
    (0..blocks)
        .map(|block| {
            let at = |f: fn(&BlockSignal) -> f64| {
                Stat::of(&per_seed.iter().map(|p| f(&p[block])).collect::<Vec<_>>())
            };
            BlockPoint {
                variant: variant.to_string(),
                block,
                skip_var: at(|b| b.skip_var),
                branch_var: at(|b| b.branch_var),
                output_var: at(|b| b.output_var),
                branch_share: at(|b| b.branch_share),
                avg_sq_mean: at(|b| b.avg_sq_mean),
                skip_power: at(|b| b.skip_power),
                branch_power: at(|b| b.branch_power),
            }
        })
        .collect()
}

/// The sweep's configuration and every block of every variant.
pub type IdentityBiasResults = Points<IdentityBiasConfig, BlockPoint>;

impl Experiment for IdentityBiasConfig {
    const NAME: &'static str = "identity_bias";
    const LABEL: &'static str = "identity bias";
    type Results = IdentityBiasResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        bar.set_length((self.variants.len() * self.seeds) as u64);
        let mut points = vec![];
        for variant in &self.variants {
            let resnet = ResNetConfig {
                blocks: self.blocks,
                stages: 1,
                width: self.width,
                size: self.size,
                norm: variant.norm.clone(),
                residual: variant.residual,
                ..Default::default()
            };
            let mut per_seed = vec![];
            for s in 0..self.seeds {
                bar.set_message(variant.label.clone());
                per_seed.push(block_signals(
                    &resnet,
                    self.batch_size,
                    self.seed + s as u64,
                    device,
                )?);
                bar.inc(1);
            }
            points.extend(summarize(&variant.label, &per_seed));
        }
        Ok(IdentityBiasResults {
            config: self.clone(),
            points,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        not_empty("variants", &self.variants)?;
        for variant in &self.variants {
            variant.norm.validate()?;
        }
        at_least("blocks", self.blocks, 1)?;
        at_least("width", self.width, 1)?;
        at_least("size", self.size, 1)?;
        at_least("batch_size", self.batch_size, 2)?;
        at_least("seeds", self.seeds, 1)
    }

    super::seeds!(at_initialization);
}

/// One curve per variant of `stat` against the block, with its band over seeds.
fn block_chart(chart: Chart, points: &[BlockPoint], stat: fn(&BlockPoint) -> Stat) -> Chart {
    let mut chart = chart.integer_x();
    for variant in labels_in(points, |p| p.variant.as_str()) {
        let series: Vec<&BlockPoint> = points.iter().filter(|p| p.variant == variant).collect();
        chart.push(stat_series(variant, &series, |p| p.block as f64, stat));
    }
    chart
}

/// The residual branch's share of each block's output variance, per variant: De & Smith's
/// bookkeeping, in the example and in the report.
pub fn branch_share_figure(points: &[BlockPoint]) -> Figure {
    Figure::new(
        "branch_share",
        "De & Smith's bookkeeping: the branch's share of each block's output variance at initialization (mean ± std over seeds).",
        block_chart(
            Chart::new(
                "Residual branch's share of the block output variance",
                "block",
                "branch variance / output variance",
            ),
            points,
            |p| p.branch_share,
        ),
    )
}

impl Results for IdentityBiasResults {
    fn section(&self) -> Section {
        let table = Table::of(
            &[
                "variant",
                "block",
                "skip var",
                "branch var",
                "branch share",
                "avg sq mean",
            ],
            &self.points,
            |p| {
                vec![
                    p.variant.clone(),
                    p.block.to_string(),
                    p.skip_var.show(3),
                    p.branch_var.show(3),
                    p.branch_share.show(3),
                    p.avg_sq_mean.show(3),
                ]
            },
        );
        IdentityBiasConfig::new_section("Identity bias of residual blocks")
            .paragraph(format!(
                "Per-block signal at initialization (average channel variance), mean ± std over {} seeds:",
                self.config.seeds
            ))
            .table(table)
            .paragraph(
                "De & Smith 2020: without normalization the skip variance doubles per block; with BN it grows by about one per block (branch share ≈ 1/(ℓ+1)); SkipInit (α = 0) keeps it constant.",
            )
            .figure(Figure::new(
                "skip_variance",
                "Variance of the skip path entering each block (mean ± std over seeds).",
                block_chart(
                    Chart::new(
                        "Skip-path variance by block",
                        "block",
                        "average channel variance",
                    )
                    .log_y(),
                    &self.points,
                    |p| p.skip_var,
                ),
            ))
            .figure(branch_share_figure(&self.points))
    }

    fn csv(&self) -> Csv {
        Csv::of(
            &[
                "variant",
                "block",
                "skip_var",
                "branch_var",
                "output_var",
                "branch_share",
                "avg_sq_mean",
            ],
            &self.points,
            |p| {
                vec![
                    p.variant.clone(),
                    p.block.to_string(),
                    p.skip_var.mean.to_string(),
                    p.branch_var.mean.to_string(),
                    p.output_var.mean.to_string(),
                    p.branch_share.mean.to_string(),
                    p.avg_sq_mean.mean.to_string(),
                ]
            },
        )
    }
}
