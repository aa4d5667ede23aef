//! Identity bias of residual blocks at initialization (De & Smith 2020, Fig. 2; Brock et al.'s
//! signal-propagation plots): skip-path and branch variance per block of a single-stage
//! pre-activation ResNet, for BatchNorm, no normalization and SkipInit.

use burn::tensor::Device;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::{Stat, gaussian};
use crate::AnalysisError;
use crate::metrics::identity_bias::{BlockSignal, identity_bias};
use crate::models::{Probe, ResNetConfig, Residual};

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

/// Runs the sweep.
pub fn run(
    config: &IdentityBiasConfig,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<BlockPoint>, AnalysisError> {
    progress.set_length((config.variants.len() * config.seeds) as u64);
    let mut points = vec![];
    for variant in &config.variants {
        variant.norm.validate()?;
        let resnet = ResNetConfig {
            blocks: config.blocks,
            stages: 1,
            width: config.width,
            size: config.size,
            norm: variant.norm.clone(),
            residual: variant.residual,
            ..Default::default()
        };
        let mut per_seed = vec![];
        for s in 0..config.seeds {
            progress.set_message(variant.label.clone());
            per_seed.push(block_signals(
                &resnet,
                config.batch_size,
                config.seed + s as u64,
                device,
            )?);
            progress.inc(1);
        }
        for block in 0..config.blocks {
            let at = |f: fn(&BlockSignal) -> f64| {
                Stat::of(&per_seed.iter().map(|p| f(&p[block])).collect::<Vec<_>>())
            };
            points.push(BlockPoint {
                variant: variant.label.clone(),
                block,
                skip_var: at(|b| b.skip_var),
                branch_var: at(|b| b.branch_var),
                output_var: at(|b| b.output_var),
                branch_share: at(|b| b.branch_share),
                avg_sq_mean: at(|b| b.avg_sq_mean),
                skip_power: at(|b| b.skip_power),
                branch_power: at(|b| b.branch_power),
            });
        }
    }
    Ok(points)
}
