//! The "noisy BatchNorm" experiment (Santurkar et al. 2018, §2.1, Fig. 2): the same network
//! trained standard (no normalization), with BatchNorm, with BatchNorm followed by distributional
//! noise redrawn at every step, and with the same noise but no BatchNorm.

use burn::tensor::Device;
use normscope_core::{NoisyBatchNormConfig, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::{Curves, Setup, train_curves};
use crate::AnalysisError;

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoisyBatchNormExperiment {
    /// Network, data, optimizer.
    pub setup: Setup,
    /// The noise (its normalize flag is set per variant).
    pub noise: NoisyBatchNormConfig,
    /// Evaluate on the test set every this many steps.
    pub eval_every: usize,
    /// Seeds.
    pub seeds: usize,
}

impl Default for NoisyBatchNormExperiment {
    fn default() -> Self {
        let mut setup = Setup::default();
        setup.train.steps = 300;
        setup.train.lr = 0.05;
        NoisyBatchNormExperiment {
            setup,
            noise: NoisyBatchNormConfig::default(),
            eval_every: 50,
            seeds: 2,
        }
    }
}

impl NoisyBatchNormExperiment {
    /// The four variants: `(label, normalizer)`.
    pub fn variants(&self) -> Vec<(String, NormConfig)> {
        vec![
            ("standard".into(), NormConfig::Identity),
            ("BatchNorm".into(), NormConfig::default()),
            (
                "noisy BatchNorm".into(),
                NormConfig::NoisyBatchNorm(self.noise.clone().with_normalize(true)),
            ),
            (
                "noise, no BatchNorm".into(),
                NormConfig::NoisyBatchNorm(self.noise.clone().with_normalize(false)),
            ),
        ]
    }
}

/// Runs the experiment: one curve set per variant and seed.
pub fn run(
    config: &NoisyBatchNormExperiment,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<Curves>, AnalysisError> {
    let (train, test) = config.setup.data.load()?;
    let variants = config.variants();
    progress.set_length((variants.len() * config.seeds * config.setup.train.steps) as u64);
    let mut runs = vec![];
    for (label, norm) in variants {
        norm.validate()?;
        let network = config.setup.network_for(&train, &norm);
        for s in 0..config.seeds {
            let train_config = crate::train::TrainConfig {
                seed: config.setup.train.seed + s as u64,
                ..config.setup.train.clone()
            };
            progress.set_message(label.clone());
            runs.push(train_curves(
                &label,
                &network,
                &train_config,
                &train,
                &test,
                config.eval_every,
                device,
                |_| {
                    progress.inc(1);
                    Ok(())
                },
            )?);
        }
    }
    Ok(runs)
}
