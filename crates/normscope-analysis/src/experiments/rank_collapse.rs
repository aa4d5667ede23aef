//! Rank collapse with depth (Daneshmand et al. 2020, Fig. 1): the rank of the batch's
//! representation at each layer of an MLP at initialization, with and without normalization.
//!
//! One network of the largest depth per (normalizer, activation, width, seed): the
//! representation at layer `ℓ` is the last hidden layer of the depth-`ℓ + 1` network (layers above
//! do not change it).

use burn::tensor::Device;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::{Stat, gaussian};
use crate::AnalysisError;
use crate::metrics::rank_collapse::{RankMeasures, rank_measures_of};
use crate::models::{Activation, MlpConfig, Probe, Site};

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

/// Runs the sweep.
pub fn run(
    config: &RankCollapseConfig,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<RankPoint>, AnalysisError> {
    let total = config.norms.len() * config.activations.len() * config.widths.len() * config.seeds;
    progress.set_length(total as u64);
    let mut points = vec![];
    for norm in &config.norms {
        norm.validate()?;
        for &activation in &config.activations {
            for &width in &config.widths {
                let mlp = MlpConfig {
                    input: width,
                    width,
                    depth: config.max_depth,
                    classes: 2,
                    activation,
                    norm: norm.clone(),
                    bias: false,
                    ..Default::default()
                };
                let mut per_seed = vec![];
                for s in 0..config.seeds {
                    progress.set_message(format!("{} {activation:?} width {width}", norm.label()));
                    per_seed.push(rank_profile(
                        &mlp,
                        config.batch_size,
                        config.seed + s as u64,
                        device,
                    )?);
                    progress.inc(1);
                }
                for depth in 1..=config.max_depth {
                    let at = |f: fn(&RankMeasures) -> f64| {
                        Stat::of(
                            &per_seed
                                .iter()
                                .map(|p| f(&p[depth - 1]))
                                .collect::<Vec<_>>(),
                        )
                    };
                    points.push(RankPoint {
                        norm: norm.label(),
                        activation,
                        width,
                        depth,
                        numerical_rank: at(|m| m.numerical_rank as f64),
                        stable_rank: at(|m| m.stable_rank),
                        effective_rank: at(|m| m.effective_rank),
                        orthogonality_gap: at(|m| m.orthogonality_gap),
                    });
                }
            }
        }
    }
    Ok(points)
}
