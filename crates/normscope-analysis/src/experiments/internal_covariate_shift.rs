//! Internal covariate shift during training: Santurkar et al.'s Definition 2.1 (gradient change
//! of each layer after the preceding layers' update) and Ioffe & Szegedy's distributional view
//! (percentiles of the last hidden layer's pre-activations over training).

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::{Curves, Setup, for_each_run, labelled, loss_figure, train_curves};
use super::{Csv, Experiment, Results, Stat, check_norms, check_training, labels_in};
use crate::AnalysisError;
use crate::data::SyntheticConfig;
use crate::metrics::internal_covariate_shift::{LayerShift, ShiftProbe, percentiles};
use crate::models::{Activation, MlpConfig, NetworkConfig, Probe, Site};
use crate::output::{Chart, Figure, Section, Series, Table};

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

/// The experiment's configuration and its measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovariateShiftResults {
    /// What ran.
    pub config: CovariateShiftConfig,
    /// Definition 2.1 measurements.
    pub shifts: Vec<ShiftPoint>,
    /// The distributional view.
    pub percentiles: Vec<PercentilePoint>,
    /// Training curves.
    pub runs: Vec<Curves>,
}

impl Experiment for CovariateShiftConfig {
    const NAME: &'static str = "internal_covariate_shift";
    const LABEL: &'static str = "covariate shift";
    type Results = CovariateShiftResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        let (train, test) = self.setup.data.load()?;
        let (mut shifts, mut pcts, mut runs) = (vec![], vec![], vec![]);
        bar.set_length((self.norms.len() * self.seeds * self.setup.train.steps) as u64);
        // A fixed batch on which the pre-activation distribution is followed.
        let probe_indices: Vec<usize> = (0..self.setup.train.batch_size.min(train.len())).collect();
        let norms = labelled(&self.norms);
        for_each_run(
            &self.setup,
            &train,
            &norms,
            self.seeds,
            bar,
            |label, network, train_config| {
                let seed = train_config.seed;
                let mut hook = |trainer: &mut crate::train::Trainer| -> Result<(), AnalysisError> {
                    let step = trainer.step;
                    if step.is_multiple_of(self.percentile_every.max(1)) {
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
                                norm: label.to_string(),
                                seed,
                                step,
                                percentiles: [p[0], p[1], p[2]],
                            });
                        }
                    }
                    if step.is_multiple_of(self.probe_every.max(1)) && step < self.setup.train.steps
                    {
                        // Definition 2.1 at step t = `step`: W^t now, W^{t+1} after the step on the same batch.
                        let (x, y) = trainer.next_tensors(&train);
                        let probe =
                            ShiftProbe::new(network, trainer, (x.clone(), y.clone()), seed)?;
                        trainer.step_on(x, y)?;
                        bar.inc(1);
                        shifts.push(ShiftPoint {
                            norm: label.to_string(),
                            seed,
                            step,
                            layers: probe.after(trainer)?,
                        });
                    }
                    bar.inc(1);
                    Ok(())
                };
                runs.push(train_curves(
                    label,
                    network,
                    &train_config,
                    &train,
                    &test,
                    0,
                    device,
                    &mut hook,
                )?);
                Ok(())
            },
        )?;
        Ok(CovariateShiftResults {
            config: self.clone(),
            shifts,
            percentiles: pcts,
            runs,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        check_norms("norms", &self.norms)?;
        check_training(&self.setup, self.seeds)
    }

    super::seeds!(training);
}

/// Santurkar et al.'s Definition 2.1 relative to the gradient, `‖G − G′‖/‖G‖`, per weight layer
/// and normalizer (mean over probe steps and seeds): in the example and in the report.
pub fn shift_by_layer_figure(shifts: &[ShiftPoint]) -> Figure {
    let mut chart = Chart::new(
        "Relative gradient shift ‖G − G′‖/‖G‖ by layer",
        "weight layer",
        "shift",
    )
    .integer_x();
    for label in labels_in(shifts, |p| p.norm.as_str()) {
        let points: Vec<&ShiftPoint> = shifts.iter().filter(|p| p.norm == label).collect();
        let layers = points.first().map(|p| p.layers.len()).unwrap_or(0);
        let mut seeds: Vec<u64> = points.iter().map(|p| p.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        // Per layer: each seed's mean over its probe steps, then the spread over seeds.
        let per_layer: Vec<(f64, Stat)> = (0..layers)
            .map(|l| {
                let per_seed: Vec<f64> = seeds
                    .iter()
                    .map(|&seed| {
                        crate::stats::finite_mean(
                            &points
                                .iter()
                                .filter(|p| p.seed == seed && l < p.layers.len())
                                .map(|p| p.layers[l].l2 / p.layers[l].grad_norm.max(1e-30))
                                .collect::<Vec<_>>(),
                        )
                    })
                    .collect();
                (l as f64, Stat::of_finite(per_seed))
            })
            .collect();
        let refs: Vec<&(f64, Stat)> = per_layer.iter().collect();
        chart.push(super::stat_series(label, &refs, |p| p.0, |p| p.1));
    }
    Figure::new(
        "covariate_shift_by_layer",
        "Santurkar et al.'s Definition 2.1 (relative) per weight layer: mean over probe steps, mean ± std over seeds.",
        chart,
    )
}

impl Results for CovariateShiftResults {
    fn section(&self) -> Section {
        let config = &self.config;
        let mut table = Table::new(&["norm", "layer", "‖G − G′‖", "cos(G, G′)", "‖G‖"]);
        for label in labels_in(&self.shifts, |p| p.norm.as_str()) {
            let points: Vec<&ShiftPoint> = self.shifts.iter().filter(|p| p.norm == label).collect();
            let layers = points.first().map(|p| p.layers.len()).unwrap_or(0);
            for layer in 0..layers {
                let stat = |f: fn(&LayerShift) -> f64| {
                    Stat::of(
                        &points
                            .iter()
                            .map(|p| f(&p.layers[layer]))
                            .collect::<Vec<_>>(),
                    )
                };
                table.row(vec![
                    label.to_string(),
                    layer.to_string(),
                    stat(|l| l.l2).show(5),
                    stat(|l| l.cosine).show(4),
                    stat(|l| l.grad_norm).show(4),
                ]);
            }
        }
        let mut percentiles = Chart::new(
            "Last hidden layer's pre-activations: 15th, 50th, 85th percentiles",
            "step",
            "pre-activation",
        );
        for label in labels_in(&self.percentiles, |p| p.norm.as_str()) {
            for (i, q) in ["p15", "p50", "p85"].iter().enumerate() {
                percentiles.push(Series::line(
                    format!("{label} {q}"),
                    self.percentiles
                        .iter()
                        .filter(|p| p.norm == label && p.seed == config.setup.train.seed)
                        .map(|p| (p.step as f64, p.percentiles[i]))
                        .collect(),
                ));
            }
        }
        CovariateShiftConfig::new_section("Internal covariate shift")
            .paragraph(format!(
                "Definition 2.1 (Santurkar et al. 2018), averaged over probe steps and {} seeds:",
                config.seeds
            ))
            .table(table)
            .paragraph(
                "Santurkar et al.: BatchNorm does not reduce this shift; in deep linear networks with BN, G and G′ are nearly uncorrelated.",
            )
            .figure(shift_by_layer_figure(&self.shifts))
            .figure(Figure::new(
                "pre_activation_percentiles",
                "Ioffe & Szegedy's Fig. 1: the last hidden layer's pre-activation percentiles over training (first seed).",
                percentiles,
            ))
            .figure(loss_figure("Training loss", &self.runs, 10))
    }

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&["norm", "seed", "step", "layer", "l2", "cosine", "grad_norm"]);
        for p in &self.shifts {
            for l in &p.layers {
                csv.row(vec![
                    p.norm.clone(),
                    p.seed.to_string(),
                    p.step.to_string(),
                    l.layer.to_string(),
                    l.l2.to_string(),
                    l.cosine.to_string(),
                    l.grad_norm.to_string(),
                ]);
            }
        }
        csv
    }
}
