//! Sample similarity across the GroupNorm group-size sweep (Lubana et al. 2021, §5): from
//! InstanceNorm (one channel per group) to LayerNorm-like GroupNorm(1), the mean pairwise cosine
//! similarity of samples and the stable rank of their Gram matrix at every layer of a VGG at
//! initialization.

use burn::tensor::Device;
use normscope_core::{GroupNormConfig, InstanceNormConfig, Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::{Stat, gaussian};
use crate::AnalysisError;
use crate::metrics::sample_similarity::sample_similarity_of;
use crate::models::{Probe, Site, VggConfig};

/// The sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleSimilarityConfig {
    /// Normalizers compared, from InstanceNorm to GroupNorm(1).
    pub norms: Vec<NormConfig>,
    /// The network.
    pub network: VggConfig,
    /// Batch size.
    pub batch_size: usize,
    /// Seeds averaged over.
    pub seeds: usize,
    /// First seed.
    pub seed: u64,
}

impl SampleSimilarityConfig {
    /// InstanceNorm, GroupNorm(16, 8, 4, 2, 1), BatchNorm for reference.
    pub fn group_sweep() -> Vec<NormConfig> {
        let mut norms = vec![NormConfig::InstanceNorm(
            InstanceNormConfig::new().with_affine(true),
        )];
        for groups in [16, 8, 4, 2, 1] {
            norms.push(NormConfig::GroupNorm(
                GroupNormConfig::new().with_groups(groups),
            ));
        }
        norms.push(NormConfig::default());
        norms
    }
}

impl Default for SampleSimilarityConfig {
    fn default() -> Self {
        SampleSimilarityConfig {
            norms: SampleSimilarityConfig::group_sweep(),
            network: VggConfig::default(),
            batch_size: 32,
            seeds: 3,
            seed: 0,
        }
    }
}

/// One normalizer at one layer, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarityPoint {
    /// Normalizer label.
    pub norm: String,
    /// Layer index.
    pub layer: usize,
    /// Mean pairwise cosine similarity.
    pub mean_cosine: Stat,
    /// Stable rank of the cosine Gram matrix.
    pub gram_stable_rank: Stat,
}

/// Runs the sweep.
pub fn run(
    config: &SampleSimilarityConfig,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<SimilarityPoint>, AnalysisError> {
    progress.set_length((config.norms.len() * config.seeds) as u64);
    let mut points = vec![];
    for norm in &config.norms {
        norm.validate()?;
        let vgg = VggConfig {
            norm: norm.clone(),
            ..config.network.clone()
        };
        let mut per_seed: Vec<Vec<(f64, f64)>> = vec![];
        for s in 0..config.seeds {
            progress.set_message(norm.label());
            device.seed(config.seed + s as u64);
            let model = vgg.init(device)?;
            let x = gaussian(
                [config.batch_size, vgg.channels, vgg.size, vgg.size],
                device,
            );
            let mut probe = Probe::values();
            model.forward(x, Mode::Train, &mut probe)?;
            per_seed.push(
                probe
                    .at(Site::Hidden)
                    .map(|o| {
                        let s = sample_similarity_of(o.value.clone());
                        (s.mean_cosine, s.gram_stable_rank)
                    })
                    .collect(),
            );
            progress.inc(1);
        }
        for layer in 0..per_seed[0].len() {
            points.push(SimilarityPoint {
                norm: norm.label(),
                layer,
                mean_cosine: Stat::of(&per_seed.iter().map(|p| p[layer].0).collect::<Vec<_>>()),
                gram_stable_rank: Stat::of(
                    &per_seed.iter().map(|p| p[layer].1).collect::<Vec<_>>(),
                ),
            });
        }
    }
    Ok(points)
}
