//! The Hessian's top eigenvalue and trace (Yao et al. 2020, PyHessian), with and without
//! normalization, at initialization and after training, with the normalizers in train mode
//! (batch statistics) and in eval mode (running statistics, as PyHessian).

use burn::tensor::Device;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::Setup;
use crate::AnalysisError;
use crate::metrics::hessian::{TopEigenvalue, TraceEstimate, hutchinson_trace, top_eigenvalue};
use crate::train::{BatchObjective, Trainer};

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HessianConfig {
    /// Network, data, optimizer (the training before the second measurement).
    pub setup: Setup,
    /// Normalizers compared.
    pub norms: Vec<NormConfig>,
    /// Samples in the batch the Hessian is taken on (PyHessian: 200).
    pub batch_size: usize,
    /// Power-iteration cap (PyHessian: 100).
    pub max_iterations: usize,
    /// Relative tolerance of the power iteration (PyHessian: 1e-3).
    pub tolerance: f64,
    /// Hutchinson probes.
    pub trace_samples: usize,
    /// Seeds.
    pub seeds: usize,
}

impl Default for HessianConfig {
    fn default() -> Self {
        let mut setup = Setup::default();
        setup.train.steps = 100;
        setup.train.lr = 0.05;
        HessianConfig {
            setup,
            norms: vec![NormConfig::Identity, NormConfig::default()],
            batch_size: 128,
            max_iterations: 50,
            tolerance: 1e-3,
            trace_samples: 10,
            seeds: 1,
        }
    }
}

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HessianPoint {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// Training steps taken before the measurement.
    pub step: usize,
    /// The normalizers' mode during the measurement.
    pub mode: Mode,
    /// Top eigenvalue.
    pub top: TopEigenvalue,
    /// Trace estimate.
    pub trace: TraceEstimate,
}

/// A run whose training diverged before the second measurement (common without normalization
/// at a learning rate BatchNorm takes in its stride): recorded, not measured — a Hessian at a
/// non-finite point means nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DivergedRun {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// The step whose loss diverged.
    pub step: usize,
}

/// The measurements, and the runs that diverged before the trained one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HessianResult {
    /// Every measurement.
    pub points: Vec<HessianPoint>,
    /// Runs with no measurement after training.
    pub diverged: Vec<DivergedRun>,
}

/// Runs the experiment.
pub fn run(
    config: &HessianConfig,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<HessianResult, AnalysisError> {
    let (train, _) = config.setup.data.load()?;
    let mut points = vec![];
    let mut diverged = vec![];
    progress.set_length((config.norms.len() * config.seeds * 4) as u64);
    let batch: Vec<usize> = (0..config.batch_size.min(train.len())).collect();
    for norm in &config.norms {
        norm.validate()?;
        let network = config.setup.network_for(&train, norm);
        for s in 0..config.seeds {
            let seed = config.setup.train.seed + s as u64;
            let mut trainer = Trainer::new(
                &network,
                crate::train::TrainConfig {
                    seed,
                    ..config.setup.train.clone()
                },
                device,
            )?;
            'phases: for phase in 0..2 {
                if phase == 1 {
                    while trainer.step < config.setup.train.steps {
                        match trainer.train_step(&train) {
                            Ok(_) => {}
                            Err(AnalysisError::Diverged { step, .. }) => {
                                diverged.push(DivergedRun {
                                    norm: norm.label(),
                                    seed,
                                    step,
                                });
                                progress.inc(2);
                                break 'phases;
                            }
                            Err(error) => return Err(error),
                        }
                    }
                }
                for mode in [Mode::Train, Mode::Eval] {
                    progress.set_message(format!(
                        "{} step {} {mode:?}",
                        norm.label(),
                        trainer.step
                    ));
                    let (x, y) = train.batch(&batch, trainer.device());
                    let mut objective =
                        BatchObjective::new(&network, &trainer.model, x, y, mode, seed)?;
                    let w = objective.point();
                    let top = top_eigenvalue(
                        &mut objective,
                        &w,
                        config.max_iterations,
                        config.tolerance,
                        seed,
                    )?;
                    let trace = hutchinson_trace(&mut objective, &w, config.trace_samples, seed)?;
                    points.push(HessianPoint {
                        norm: norm.label(),
                        seed,
                        step: trainer.step,
                        mode,
                        top,
                        trace,
                    });
                    progress.inc(1);
                }
            }
        }
    }
    Ok(HessianResult { points, diverged })
}
