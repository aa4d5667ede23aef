//! What every training experiment shares: a run of one network with one normalizer, its curves,
//! and the settings of the network, the data and the optimizer.

use burn::tensor::Device;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::data::{DataSource, Dataset};
use crate::models::{NetworkConfig, VggConfig};
use crate::train::{TrainConfig, Trainer};

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

/// The curves of one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// Training loss per step.
    pub losses: Vec<f64>,
    /// `(step, test loss, test accuracy)` in eval mode.
    pub test: Vec<(usize, f64, f64)>,
    /// The step at which the run diverged, if it did.
    pub diverged_at: Option<usize>,
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
    let mut curves = Curves {
        norm: label.to_string(),
        seed: config.seed,
        losses: vec![],
        test: vec![],
        diverged_at: None,
    };
    while trainer.step < config.steps {
        match trainer.train_step(train) {
            Ok(_) => {}
            Err(AnalysisError::Diverged { step, .. }) => {
                curves.diverged_at = Some(step);
                break;
            }
            Err(e) => return Err(e),
        }
        on_step(&mut trainer)?;
        if eval_every > 0 && (trainer.step % eval_every == 0 || trainer.step == config.steps) {
            let (loss, acc) = trainer.evaluate(test, Mode::Eval)?;
            curves.test.push((trainer.step, loss, acc));
        }
    }
    curves.losses = trainer.losses.clone();
    Ok(curves)
}
