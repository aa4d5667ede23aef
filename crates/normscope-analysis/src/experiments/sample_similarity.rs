//! Sample similarity across the GroupNorm group-size sweep (Lubana et al. 2021, §5): from
//! InstanceNorm (one channel per group) to LayerNorm-like GroupNorm(1), the mean pairwise cosine
//! similarity of samples and the stable rank of their Gram matrix at every layer of a VGG at
//! initialization.

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::{GroupNormConfig, InstanceNormConfig, Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::{Csv, Experiment, Points, Results, Stat, at_least, check_norms, gaussian, labels_in};
use crate::AnalysisError;
use crate::metrics::sample_similarity::sample_similarity_of;
use crate::models::{Probe, Site, VggConfig};
use crate::output::{Chart, Figure, Section, Series, Table};

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

/// The sweep's configuration and every layer of every normalizer.
pub type SampleSimilarityResults = Points<SampleSimilarityConfig, SimilarityPoint>;

impl Experiment for SampleSimilarityConfig {
    const NAME: &'static str = "sample_similarity";
    const LABEL: &'static str = "sample similarity";
    type Results = SampleSimilarityResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        bar.set_length((self.norms.len() * self.seeds) as u64);
        let mut points = vec![];
        for norm in &self.norms {
            let vgg = VggConfig {
                norm: norm.clone(),
                ..self.network.clone()
            };
            let mut per_seed: Vec<Vec<(f64, f64)>> = vec![];
            for s in 0..self.seeds {
                bar.set_message(norm.label());
                device.seed(self.seed + s as u64);
                let model = vgg.init(device)?;
                let x = gaussian([self.batch_size, vgg.channels, vgg.size, vgg.size], device);
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
                bar.inc(1);
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
        Ok(SampleSimilarityResults {
            config: self.clone(),
            points,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        check_norms("norms", &self.norms)?;
        at_least("batch_size", self.batch_size, 2)?;
        at_least("seeds", self.seeds, 1)
    }

    super::seeds!(at_initialization);
}

impl Results for SampleSimilarityResults {
    fn section(&self) -> Section {
        let last = self.points.iter().map(|p| p.layer).max().unwrap_or(0);
        let mut table = Table::new(&[
            "norm",
            "mean cosine (last layer)",
            "Gram stable rank (last layer)",
            "mean cosine (avg over layers)",
        ]);
        let mut chart = Chart::new(
            "Mean pairwise cosine similarity of samples by layer",
            "layer",
            "mean cosine similarity",
        );
        for label in labels_in(&self.points, |p| p.norm.as_str()) {
            let layers: Vec<&SimilarityPoint> =
                self.points.iter().filter(|p| p.norm == label).collect();
            if let Some(at_last) = layers.iter().find(|p| p.layer == last) {
                let avg =
                    layers.iter().map(|p| p.mean_cosine.mean).sum::<f64>() / layers.len() as f64;
                table.row(vec![
                    label.to_string(),
                    at_last.mean_cosine.show(3),
                    at_last.gram_stable_rank.show(2),
                    format!("{avg:.3}"),
                ]);
            }
            chart.push(Series::line(
                label,
                layers
                    .iter()
                    .map(|p| (p.layer as f64, p.mean_cosine.mean))
                    .collect(),
            ));
        }
        SampleSimilarityConfig::new_section("Sample similarity across group sizes")
            .paragraph(format!(
                "Similarity of the {} samples of a batch at initialization, mean ± std over {} seeds:",
                self.config.batch_size, self.config.seeds
            ))
            .table(table)
            .paragraph("Lubana et al. 2021: larger groups (toward LayerNorm) make samples more similar.")
            .figure(Figure::new(
                "mean_cosine",
                "Mean pairwise cosine similarity of the batch's samples at each layer (mean over seeds).",
                chart,
            ))
    }

    fn csv(&self) -> Csv {
        Csv::of(
            &["norm", "layer", "mean_cosine", "gram_stable_rank"],
            &self.points,
            |p| {
                vec![
                    p.norm.clone(),
                    p.layer.to_string(),
                    p.mean_cosine.mean.to_string(),
                    p.gram_stable_rank.mean.to_string(),
                ]
            },
        )
    }
}
