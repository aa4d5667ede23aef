//! The learning-rate range (Bjorck et al. 2018): final loss or divergence on a grid of learning
//! rates, with and without normalization.

use burn::tensor::Device;
use normscope_core::NormConfig;
use serde::{Deserialize, Serialize};

use super::training::{Setup, train_curves};
use crate::AnalysisError;
use crate::metrics::lr_range::{LrOutcome, final_loss, steps_to_target};

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LrRangeConfig {
    /// Network, data, optimizer (its `lr` is replaced by each rate of the grid).
    pub setup: Setup,
    /// Normalizers compared.
    pub norms: Vec<NormConfig>,
    /// Learning rates.
    pub lrs: Vec<f64>,
    /// Loss target for the steps-to-target count.
    pub target_loss: f64,
    /// Window of the running mean for the final loss and the target.
    pub window: usize,
    /// Seeds.
    pub seeds: usize,
}

impl Default for LrRangeConfig {
    fn default() -> Self {
        let mut setup = Setup::default();
        setup.train.steps = 150;
        LrRangeConfig {
            setup,
            norms: vec![NormConfig::Identity, NormConfig::default()],
            lrs: vec![0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
            target_loss: 0.5,
            window: 10,
            seeds: 1,
        }
    }
}

/// One (normalizer, rate, seed) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrPoint {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// The outcome.
    pub outcome: LrOutcome,
    /// Training losses.
    pub losses: Vec<f64>,
}

/// Runs the grid.
pub fn run(
    config: &LrRangeConfig,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<LrPoint>, AnalysisError> {
    let (train, test) = config.setup.data.load()?;
    let mut points = vec![];
    progress.set_length((config.norms.len() * config.lrs.len() * config.seeds) as u64);
    for norm in &config.norms {
        norm.validate()?;
        let network = config.setup.network_for(&train, norm);
        for &lr in &config.lrs {
            for s in 0..config.seeds {
                let seed = config.setup.train.seed + s as u64;
                progress.set_message(format!("{} lr {lr}", norm.label()));
                let train_config = crate::train::TrainConfig {
                    lr,
                    seed,
                    ..config.setup.train.clone()
                };
                let curves = train_curves(
                    &norm.label(),
                    &network,
                    &train_config,
                    &train,
                    &test,
                    0,
                    device,
                    |_| Ok(()),
                )?;
                let diverged = curves.diverged_at.is_some();
                points.push(LrPoint {
                    norm: norm.label(),
                    seed,
                    outcome: LrOutcome {
                        lr,
                        final_loss: if diverged {
                            f64::NAN
                        } else {
                            final_loss(&curves.losses, config.window)
                        },
                        diverged,
                        steps_to_target: if diverged {
                            None
                        } else {
                            steps_to_target(&curves.losses, config.target_loss, config.window)
                        },
                    },
                    losses: curves.losses,
                });
                progress.inc(1);
            }
        }
    }
    Ok(points)
}
