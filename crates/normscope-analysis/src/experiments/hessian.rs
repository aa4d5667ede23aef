//! The Hessian's top eigenvalue and trace (Yao et al. 2020, PyHessian), with and without
//! normalization, at initialization and after training, with the normalizers in train mode
//! (batch statistics) and in eval mode (running statistics, as PyHessian).

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::{Setup, for_each_run, labelled};
use super::{Csv, Experiment, Results, at_least, check_norms, check_training};
use crate::AnalysisError;
use crate::error::positive_finite;
use crate::metrics::hessian::{TopEigenvalue, TraceEstimate, hutchinson_trace, top_eigenvalue};
use crate::output::{Section, Table};
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

/// The experiment's configuration, its measurements, and the runs that diverged before the
/// trained one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HessianResults {
    /// What ran.
    pub config: HessianConfig,
    /// Every measurement.
    pub points: Vec<HessianPoint>,
    /// Runs with no measurement after training.
    pub diverged: Vec<DivergedRun>,
}

impl Experiment for HessianConfig {
    const NAME: &'static str = "hessian";
    const LABEL: &'static str = "Hessian";
    type Results = HessianResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        let (train, _) = self.setup.data.load()?;
        let mut points = vec![];
        let mut diverged = vec![];
        bar.set_length((self.norms.len() * self.seeds * 4) as u64);
        let batch: Vec<usize> = (0..self.batch_size.min(train.len())).collect();
        let norms = labelled(&self.norms);
        for_each_run(
            &self.setup,
            &train,
            &norms,
            self.seeds,
            bar,
            |label, network, train_config| {
                let seed = train_config.seed;
                let mut trainer = Trainer::new(network, train_config, device)?;
                'phases: for phase in 0..2 {
                    if phase == 1
                        && let Some(step) = trainer.run(&train, &mut ())?.diverged_at
                    {
                        diverged.push(DivergedRun {
                            norm: label.to_string(),
                            seed,
                            step,
                        });
                        bar.inc(2);
                        break 'phases;
                    }
                    for mode in [Mode::Train, Mode::Eval] {
                        bar.set_message(format!("{label} step {} {mode:?}", trainer.step));
                        let (x, y) = train.batch(&batch, trainer.device());
                        let mut objective =
                            BatchObjective::new(network, &trainer.model, x, y, mode, seed)?;
                        let w = objective.point();
                        let top = top_eigenvalue(
                            &mut objective,
                            &w,
                            self.max_iterations,
                            self.tolerance,
                            seed,
                        )?;
                        let trace = hutchinson_trace(&mut objective, &w, self.trace_samples, seed)?;
                        points.push(HessianPoint {
                            norm: label.to_string(),
                            seed,
                            step: trainer.step,
                            mode,
                            top,
                            trace,
                        });
                        bar.inc(1);
                    }
                }
                Ok(())
            },
        )?;
        Ok(HessianResults {
            config: self.clone(),
            points,
            diverged,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        check_norms("norms", &self.norms)?;
        at_least("batch_size", self.batch_size, 2)?;
        at_least("max_iterations", self.max_iterations, 1)?;
        at_least("trace_samples", self.trace_samples, 1)?;
        positive_finite("tolerance", self.tolerance)?;
        check_training(&self.setup, self.seeds)
    }

    super::seeds!(training);
}

fn mode_name(mode: Mode) -> String {
    format!("{mode:?}").to_lowercase()
}

impl Results for HessianResults {
    fn section(&self) -> Section {
        let table = Table::of(
            &[
                "norm",
                "step",
                "BN mode",
                "top eigenvalue",
                "iterations",
                "trace",
                "± s.e.",
            ],
            &self.points,
            |p| {
                vec![
                    p.norm.clone(),
                    p.step.to_string(),
                    mode_name(p.mode),
                    format!("{:.4}", p.top.value),
                    format!(
                        "{}{}",
                        p.top.iterations,
                        if p.top.converged { "" } else { " (cap)" }
                    ),
                    format!("{:.3}", p.trace.value),
                    format!("{:.3}", p.trace.std_error),
                ]
            },
        );
        let mut section = HessianConfig::new_section("The Hessian with and without normalization")
            .paragraph(format!(
                "Hessian of the training loss on a batch of {} (finite-difference Hessian-vector products):",
                self.config.batch_size
            ))
            .table(table);
        for d in &self.diverged {
            section = section.paragraph(format!(
                "{} (seed {}): training diverged at step {}; no measurement after training.",
                d.norm, d.seed, d.step
            ));
        }
        section.paragraph(
            "Yao et al. 2020: BN does not necessarily make the landscape smoother, especially in shallow networks; PyHessian measures in eval mode.",
        )
    }

    fn csv(&self) -> Csv {
        Csv::of(
            &[
                "norm",
                "seed",
                "step",
                "mode",
                "top_eigenvalue",
                "trace",
                "trace_std_error",
            ],
            &self.points,
            |p| {
                vec![
                    p.norm.clone(),
                    p.seed.to_string(),
                    p.step.to_string(),
                    mode_name(p.mode),
                    p.top.value.to_string(),
                    p.trace.value.to_string(),
                    p.trace.std_error.to_string(),
                ]
            },
        )
    }
}
