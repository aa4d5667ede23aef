//! Internal covariate shift during training: Santurkar et al.'s Definition 2.1 (gradient change
//! of each layer after the preceding layers' update) and Ioffe & Szegedy's distributional view
//! (percentiles of the last hidden layer's pre-activations over training).

use burn::tensor::Device;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::{Curves, Setup, train_curves};
use crate::AnalysisError;
use crate::data::SyntheticConfig;
use crate::metrics::internal_covariate_shift::{LayerShift, internal_covariate_shift, percentiles};
use crate::models::{Activation, MlpConfig, NetworkConfig, ParamLayout, Probe, Site};
use crate::train::BatchObjective;

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CovariateShiftConfig {
    /// Network, data, optimizer.
    pub setup: Setup,
    /// Normalizers compared.
    pub norms: Vec<NormConfig>,
    /// Measure Definition 2.1 every this many steps.
    pub probe_every: usize,
    /// Record the pre-activation percentiles every this many steps.
    pub percentile_every: usize,
    /// Seeds.
    pub seeds: usize,
}

impl Default for CovariateShiftConfig {
    fn default() -> Self {
        // Ioffe & Szegedy's MNIST network: three hidden layers of 100 sigmoid units.
        let setup = Setup {
            network: NetworkConfig::Mlp(MlpConfig {
                width: 100,
                depth: 3,
                activation: Activation::Sigmoid,
                ..Default::default()
            }),
            data: crate::data::DataSource::Synthetic(SyntheticConfig {
                channels: 1,
                size: 16,
                train: 2048,
                test: 512,
                ..Default::default()
            }),
            train: crate::train::TrainConfig {
                steps: 300,
                batch_size: 60,
                lr: 0.1,
                ..Default::default()
            },
        };
        CovariateShiftConfig {
            setup,
            norms: vec![NormConfig::Identity, NormConfig::default()],
            probe_every: 50,
            percentile_every: 10,
            seeds: 2,
        }
    }
}

/// Definition 2.1 at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftPoint {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// Step `t`.
    pub step: usize,
    /// Per weight layer.
    pub layers: Vec<LayerShift>,
}

/// The 15th, 50th and 85th percentiles of the last hidden layer's pre-activations at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// Step.
    pub step: usize,
    /// `[p15, p50, p85]`.
    pub percentiles: [f64; 3],
}

/// Results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovariateShiftResult {
    /// Definition 2.1 measurements.
    pub shifts: Vec<ShiftPoint>,
    /// The distributional view.
    pub percentiles: Vec<PercentilePoint>,
    /// Training curves.
    pub runs: Vec<Curves>,
}

/// Runs the experiment.
pub fn run(
    config: &CovariateShiftConfig,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<CovariateShiftResult, AnalysisError> {
    let (train, test) = config.setup.data.load()?;
    let (mut shifts, mut pcts, mut runs) = (vec![], vec![], vec![]);
    progress.set_length((config.norms.len() * config.seeds * config.setup.train.steps) as u64);
    // A fixed batch on which the pre-activation distribution is followed.
    let probe_indices: Vec<usize> = (0..config.setup.train.batch_size.min(train.len())).collect();
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
            let label = norm.label();
            let mut hook = |trainer: &mut crate::train::Trainer| -> Result<(), AnalysisError> {
                let step = trainer.step;
                if step.is_multiple_of(config.percentile_every.max(1)) {
                    let (x, _) = train.batch(&probe_indices, trainer.device());
                    let mut probe = Probe::values();
                    // Train mode on a copy: the statistics are the batch's, the running ones untouched.
                    let model = network.init(trainer.device())?;
                    let model = burn::module::Module::load_record(
                        model,
                        burn::module::Module::into_record(trainer.model.clone()),
                    );
                    model.forward(x, Mode::Train, &mut probe)?;
                    if let Some(last) = probe.at(Site::PreActivation).last() {
                        let values: Vec<f64> =
                            last.value.clone().into_data().iter::<f64>().collect();
                        let p = percentiles(&values, &[15.0, 50.0, 85.0]);
                        pcts.push(PercentilePoint {
                            norm: label.clone(),
                            seed,
                            step,
                            percentiles: [p[0], p[1], p[2]],
                        });
                    }
                }
                if step.is_multiple_of(config.probe_every.max(1)) && step < config.setup.train.steps
                {
                    // Definition 2.1 at step t = `step`: W^t now, W^{t+1} after the step on the same batch.
                    let (x, y) = trainer.next_tensors(&train);
                    let layout = ParamLayout::of(&trainer.model);
                    let before = layout.values(&trainer.model);
                    let mut objective = BatchObjective::new(
                        &network,
                        &trainer.model,
                        x.clone(),
                        y.clone(),
                        Mode::Train,
                        seed,
                    )?;
                    trainer.step_on(x, y)?;
                    progress.inc(1);
                    let after = layout.values(&trainer.model);
                    let layers =
                        internal_covariate_shift(&mut objective, &layout, &before, &after)?;
                    shifts.push(ShiftPoint {
                        norm: label.clone(),
                        seed,
                        step,
                        layers,
                    });
                }
                progress.inc(1);
                Ok(())
            };
            runs.push(train_curves(
                &label,
                &network,
                &train_config,
                &train,
                &test,
                0,
                device,
                &mut hook,
            )?);
        }
    }
    Ok(CovariateShiftResult {
        shifts,
        percentiles: pcts,
        runs,
    })
}
