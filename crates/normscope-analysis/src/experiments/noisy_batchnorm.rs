//! The "noisy BatchNorm" experiment (Santurkar et al. 2018, §2.1, Fig. 2): the same network
//! trained standard (no normalization), with BatchNorm, with BatchNorm followed by distributional
//! noise redrawn at every step, and with the same noise but no BatchNorm.

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::{NoisyBatchNormConfig, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::{Curves, Setup, final_losses, for_each_run, loss_figure, train_curves};
use super::{Csv, Experiment, Results, Stat, check_training};
use crate::AnalysisError;
use crate::output::{Chart, Figure, Section, Series, Table};

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoisyBatchNormExperiment {
    /// Network, data, optimizer.
    pub setup: Setup,
    /// The noise (the noise-only variant takes its [`NoisyBatchNormConfig::noise_only`]).
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
                NormConfig::NoisyBatchNorm(self.noise.clone()),
            ),
            (
                "noise, no BatchNorm".into(),
                NormConfig::NoiseOnly(self.noise.noise_only()),
            ),
        ]
    }
}

/// The experiment's configuration and every run's curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoisyBatchNormResults {
    /// What ran.
    pub config: NoisyBatchNormExperiment,
    /// One per variant and seed.
    pub runs: Vec<Curves>,
}

impl Experiment for NoisyBatchNormExperiment {
    const NAME: &'static str = "noisy_batchnorm";
    const LABEL: &'static str = "noisy BatchNorm";
    type Results = NoisyBatchNormResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        let (train, test) = self.setup.data.load()?;
        let variants = self.variants();
        bar.set_length((variants.len() * self.seeds * self.setup.train.steps) as u64);
        let mut runs = vec![];
        for_each_run(
            &self.setup,
            &train,
            &variants,
            self.seeds,
            bar,
            |label, network, train_config| {
                runs.push(train_curves(
                    label,
                    network,
                    &train_config,
                    &train,
                    &test,
                    self.eval_every,
                    device,
                    |_| {
                        bar.inc(1);
                        Ok(())
                    },
                )?);
                Ok(())
            },
        )?;
        Ok(NoisyBatchNormResults {
            config: self.clone(),
            runs,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        for (_, norm) in self.variants() {
            norm.validate()?;
        }
        check_training(&self.setup, self.seeds)
    }

    super::seeds!(training);
}

/// Final training loss over the last this many steps.
const FINAL_WINDOW: usize = 20;

impl Results for NoisyBatchNormResults {
    fn section(&self) -> Section {
        let config = &self.config;
        let mut table = Table::new(&[
            "variant",
            "final train loss",
            "final test accuracy",
            "diverged",
        ]);
        let mut accuracy = Chart::new("Test accuracy (eval mode)", "step", "accuracy");
        for (label, _) in config.variants() {
            let group: Vec<&Curves> = self.runs.iter().filter(|r| r.norm == label).collect();
            let (loss, diverged) = final_losses(&self.runs, &label, FINAL_WINDOW);
            let acc = Stat::of(
                &group
                    .iter()
                    .filter_map(|r| r.test.last().map(|t| t.2))
                    .collect::<Vec<_>>(),
            );
            table.row(vec![
                label.clone(),
                loss.show(4),
                acc.show(3),
                format!("{diverged}/{}", group.len()),
            ]);
            let len = group.iter().map(|r| r.test.len()).min().unwrap_or(0);
            accuracy.push(Series::line(
                label.clone(),
                (0..len)
                    .map(|i| {
                        (
                            group[0].test[i].0 as f64,
                            group.iter().map(|r| r.test[i].2).sum::<f64>() / group.len() as f64,
                        )
                    })
                    .collect(),
            ));
        }
        NoisyBatchNormExperiment::new_section("Noisy BatchNorm")
            .paragraph(format!(
                "{} steps, lr {}, mean ± std over {} seeds:",
                config.setup.train.steps, config.setup.train.lr, config.seeds
            ))
            .table(table)
            .paragraph(
                "Santurkar et al. 2018: noisy BatchNorm trains nearly as well as BatchNorm; the same noise without BatchNorm prevents training.",
            )
            .figure(loss_figure("Training loss", &self.runs, 10))
            .figure(Figure::new(
                "test_accuracy",
                "Test accuracy in eval mode during training (mean over seeds).",
                accuracy,
            ))
    }

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "variant",
            "final_train_loss",
            "final_test_accuracy",
            "diverged_runs",
        ]);
        for (label, _) in self.config.variants() {
            let (loss, diverged) = final_losses(&self.runs, &label, FINAL_WINDOW);
            let acc = Stat::of(
                &self
                    .runs
                    .iter()
                    .filter(|r| r.norm == label)
                    .filter_map(|r| r.test.last().map(|t| t.2))
                    .collect::<Vec<_>>(),
            );
            csv.row(vec![
                label.clone(),
                loss.mean.to_string(),
                acc.mean.to_string(),
                diverged.to_string(),
            ]);
        }
        csv
    }
}
