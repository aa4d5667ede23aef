//! What every training experiment shares: a run of one network with one normalizer, its curves,
//! and the settings of the network, the data and the optimizer.

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::Stat;
use crate::AnalysisError;
use crate::data::{DataSource, Dataset};
use crate::models::{NetworkConfig, VggConfig};
use crate::output::{Chart, Figure, Series};
use crate::train::{AfterEach, Outcome, RunRecord, TrainConfig, Trainer};

/// The network, data and optimizer of a training experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Setup {
    /// The architecture; its normalizer is replaced by each one compared.
    pub network: NetworkConfig,
    /// The data.
    pub data: DataSource,
    /// Optimizer, steps, batch size, seed.
    pub train: TrainConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            network: NetworkConfig::Vgg(VggConfig {
                width: 0.125,
                ..Default::default()
            }),
            data: DataSource::Synthetic(crate::data::SyntheticConfig {
                size: 32,
                train: 2048,
                test: 512,
                ..Default::default()
            }),
            train: TrainConfig::default(),
        }
    }
}

impl Setup {
    /// The network fitted to the data, with `norm`.
    pub fn network_for(&self, data: &Dataset, norm: &NormConfig) -> NetworkConfig {
        self.network
            .with_norm(norm.clone())
            .for_data(data.shape, data.classes)
    }
}

/// Normalizers as `(label, normalizer)` pairs, each labelled with its own name.
pub fn labelled(norms: &[NormConfig]) -> Vec<(String, NormConfig)> {
    norms.iter().map(|n| (n.label(), n.clone())).collect()
}

/// Every run of a training experiment, normalizer by normalizer and seed by seed: `run(label,
/// network, config)` gets the network fitted to `data` with that normalizer, and the setup's
/// optimizer settings with the seed (`setup.train.seed + s` for `s < seeds`).
pub fn for_each_run(
    setup: &Setup,
    data: &Dataset,
    norms: &[(String, NormConfig)],
    seeds: usize,
    progress: &ProgressBar,
    mut run: impl FnMut(&str, &NetworkConfig, TrainConfig) -> Result<(), AnalysisError>,
) -> Result<(), AnalysisError> {
    for (label, norm) in norms {
        let network = setup.network_for(data, norm);
        for s in 0..seeds {
            progress.set_message(label.clone());
            let config = TrainConfig {
                seed: setup.train.seed + s as u64,
                ..setup.train.clone()
            };
            run(label, &network, config)?;
        }
    }
    Ok(())
}

/// The curves of one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// Training loss per step and the step at which the run diverged, if it did.
    #[serde(flatten)]
    pub run: RunRecord,
    /// `(step, test loss, test accuracy)` in eval mode.
    pub test: Vec<(usize, f64, f64)>,
}

/// Trains `network` for `config.steps` steps, evaluating on `test` every `eval_every` steps (and
/// at the end); `on_step` runs after every step. A divergence ends the run early and is recorded.
#[allow(clippy::too_many_arguments)] // one per input of the run; a struct would only rename them
pub fn train_curves(
    label: &str,
    network: &NetworkConfig,
    config: &TrainConfig,
    train: &Dataset,
    test: &Dataset,
    eval_every: usize,
    device: &Device,
    mut on_step: impl FnMut(&mut Trainer) -> Result<(), AnalysisError>,
) -> Result<Curves, AnalysisError> {
    let mut trainer = Trainer::new(network, config.clone(), device)?;
    let mut evaluations = vec![];
    let run = trainer.run(
        train,
        &mut AfterEach(|trainer: &mut Trainer| {
            on_step(trainer)?;
            if eval_every > 0
                && (trainer.step.is_multiple_of(eval_every) || trainer.step == config.steps)
            {
                let (loss, acc) = trainer.evaluate(test, Mode::Eval)?;
                evaluations.push((trainer.step, loss, acc));
            }
            Ok(())
        }),
    )?;
    Ok(Curves {
        norm: label.to_string(),
        seed: config.seed,
        run,
        test: evaluations,
    })
}

/// The training-loss curves of several runs: per label, the mean over its runs of the running
/// mean of the last `window` losses (a shorter window for the first steps), with the spread
/// over seeds as a band, on a log axis; a run that diverged stops there, marked ×, and the mean
/// goes on over the runs still training.
pub fn loss_figure(title: &str, runs: &[Curves], window: usize) -> Figure {
    let mut chart = Chart::new(title, "step", "training loss")
        .log_y()
        .integer_x();
    for label in super::labels_in(runs, |r| r.norm.as_str()) {
        let group: Vec<&Curves> = runs.iter().filter(|r| r.norm == label).collect();
        let len = group.iter().map(|r| r.run.losses.len()).max().unwrap_or(0);
        let running = |r: &Curves, t: usize| {
            let lo = t.saturating_sub(window.saturating_sub(1));
            r.run.losses[lo..=t].iter().sum::<f64>() / (t - lo + 1) as f64
        };
        let at: Vec<(f64, Stat)> = (0..len)
            .map(|t| {
                let alive: Vec<f64> = group
                    .iter()
                    .filter(|r| t < r.run.losses.len())
                    .map(|r| running(r, t))
                    .collect();
                ((t + 1) as f64, Stat::of(&alive))
            })
            .collect();
        let diverged: Vec<(f64, f64)> = group
            .iter()
            .filter(|r| r.run.diverged_at.is_some())
            .map(|r| {
                let t = r.run.losses.len();
                let y = if t > 0 { running(r, t - 1) } else { f64::NAN };
                (t.max(1) as f64, y)
            })
            .collect();
        chart.push(
            Series::line(label, at.iter().map(|(x, s)| (*x, s.mean)).collect())
                .with_band(
                    at.iter()
                        .filter(|(_, s)| s.n > 1)
                        .map(|(x, s)| {
                            let (lo, hi) = s.band();
                            (*x, lo, hi)
                        })
                        .collect(),
                )
                .with_diverged(diverged),
        );
    }
    Figure::new(
        "training_loss",
        format!(
            "Training loss ({window}-step running mean; mean ± std over seeds, × where a run diverged)."
        ),
        chart,
    )
}

/// The final training loss (mean of the last `window` steps) of the runs of `label` that did
/// not diverge, summarised over seeds, and how many diverged.
pub fn final_losses(runs: &[Curves], label: &str, window: usize) -> (Stat, usize) {
    let outcomes: Vec<Outcome> = runs
        .iter()
        .filter(|r| r.norm == label)
        .map(|r| r.run.outcome(f64::NEG_INFINITY, window))
        .collect();
    (
        Stat::of_finite(outcomes.iter().map(|o| o.final_loss)),
        outcomes.iter().filter(|o| o.diverged).count(),
    )
}
