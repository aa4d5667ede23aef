//! The loss landscape along the gradient during training (Santurkar et al. 2018, Fig. 4): at
//! chosen steps of a run, the loss band, the gradient-predictiveness band and the effective
//! β-smoothness, with and without normalization.

use burn::tensor::Device;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::{Curves, Setup, train_curves};
use crate::AnalysisError;
use crate::metrics::gradient_predictiveness::{Landscape, default_multiples, landscape};
use crate::train::BatchObjective;

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradientPredictivenessConfig {
    /// Network, data, optimizer.
    pub setup: Setup,
    /// Normalizers compared.
    pub norms: Vec<NormConfig>,
    /// Probe the landscape every this many steps (and before the first step).
    pub probe_every: usize,
    /// Steps along the gradient as multiples of the learning rate.
    pub multiples: Vec<f64>,
    /// Seeds.
    pub seeds: usize,
}

impl Default for GradientPredictivenessConfig {
    fn default() -> Self {
        let mut setup = Setup::default();
        setup.train.steps = 150;
        setup.train.lr = 0.05;
        GradientPredictivenessConfig {
            setup,
            norms: vec![NormConfig::Identity, NormConfig::default()],
            probe_every: 50,
            multiples: default_multiples(),
            seeds: 2,
        }
    }
}

/// One probe of the landscape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandscapePoint {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// Training step at which it was taken.
    pub step: usize,
    /// The landscape.
    pub landscape: Landscape,
}

/// Results: the landscape probes and the training curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientPredictivenessResult {
    /// Every probe.
    pub points: Vec<LandscapePoint>,
    /// Every run's curves.
    pub runs: Vec<Curves>,
}

/// Runs the experiment.
pub fn run(
    config: &GradientPredictivenessConfig,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<GradientPredictivenessResult, AnalysisError> {
    let (train, test) = config.setup.data.load()?;
    let mut points = vec![];
    let mut runs = vec![];
    progress.set_length((config.norms.len() * config.seeds * config.setup.train.steps) as u64);
    for norm in &config.norms {
        norm.validate()?;
        let network = config.setup.network_for(&train, norm);
        for s in 0..config.seeds {
            let seed = config.setup.train.seed + s as u64;
            let train_config = crate::train::TrainConfig {
                seed,
                ..config.setup.train.clone()
            };
            progress.set_message(norm.label());
            let mut probe = |trainer: &mut crate::train::Trainer| -> Result<(), AnalysisError> {
                if trainer.step == 1 || trainer.step.is_multiple_of(config.probe_every.max(1)) {
                    let indices = trainer.next_batch(&train);
                    let (x, y) = train.batch(&indices, trainer.device());
                    let mut objective =
                        BatchObjective::new(&network, &trainer.model, x, y, Mode::Train, seed)?;
                    let w = objective.point();
                    let l = landscape(&mut objective, &w, trainer.lr(), &config.multiples)?;
                    points.push(LandscapePoint {
                        norm: norm.label(),
                        seed,
                        step: trainer.step,
                        landscape: l,
                    });
                }
                progress.inc(1);
                Ok(())
            };
            runs.push(train_curves(
                &norm.label(),
                &network,
                &train_config,
                &train,
                &test,
                0,
                device,
                &mut probe,
            )?);
        }
    }
    Ok(GradientPredictivenessResult { points, runs })
}
