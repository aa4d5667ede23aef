//! The training loop: SGD with momentum and weight decay, a learning-rate schedule, seeded
//! shuffling, tracing logs, and checkpoints from which a run resumes.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use normscope_core::Mode;
use serde::{Deserialize, Serialize};

use super::{Schedule, Sgd, SgdConfig, accuracy, cross_entropy};
use crate::AnalysisError;
use crate::data::Dataset;
use crate::error::{in_range, positive_finite};
use crate::models::{Network, NetworkConfig, Probe};

/// Hyper-parameters of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// SGD steps.
    pub steps: usize,
    /// Samples per batch.
    pub batch_size: usize,
    /// Base learning rate.
    pub lr: f64,
    /// How the rate changes with the step.
    pub schedule: Schedule,
    /// Momentum, weight decay, gradient clipping.
    pub sgd: SgdConfig,
    /// Seed of the weights, the data order and the noise.
    pub seed: u64,
    /// Log every this many steps (tracing, target `normscope::train`).
    pub log_every: usize,
    /// A loss above this multiple of the first step's (or not finite) counts as divergence
    /// (finite, at least 1). Default 100.
    pub divergence_factor: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 300,
            batch_size: 64,
            lr: 0.02,
            schedule: Schedule::Constant,
            sgd: SgdConfig::default(),
            seed: 0,
            log_every: 50,
            divergence_factor: 100.0,
        }
    }
}

impl TrainConfig {
    /// Checks the values that would make training meaningless, naming a bad one as
    /// `train.{field}` ([`TrainConfig::validate_at`] for a table elsewhere).
    pub fn validate(&self) -> Result<(), AnalysisError> {
        self.validate_at("train")
    }

    /// [`TrainConfig::validate`] for a training table at another path of its configuration
    /// (`setup.train` in a training experiment's): at least 2 samples per batch; `lr` finite and
    /// `> 0`; `divergence_factor` finite and `≥ 1` (NaN would turn divergence detection off, a
    /// factor below 1 calls the first step diverged); the optimizer's and the schedule's values
    /// ([`SgdConfig::validate_at`], [`Schedule::validate_at`]).
    pub fn validate_at(&self, table: &str) -> Result<(), AnalysisError> {
        let key = |field: &str| format!("{table}.{field}");
        if self.batch_size < 2 {
            return Err(AnalysisError::config(
                key("batch_size"),
                self.batch_size,
                "needs at least 2 samples per batch",
            ));
        }
        positive_finite(key("lr"), self.lr)?;
        in_range(key("divergence_factor"), self.divergence_factor, 1.0..)?;
        self.sgd.validate_at(&key("sgd"))?;
        self.schedule.validate_at(&key("schedule"))
    }
}

/// The bookkeeping a checkpoint saves besides the weights and momentum buffers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TrainerState {
    step: usize,
    epoch: u64,
    cursor: usize,
    losses: Vec<f64>,
    config: TrainConfig,
    network: NetworkConfig,
}

/// A network being trained.
pub struct Trainer {
    /// The run's hyper-parameters.
    pub config: TrainConfig,
    /// The architecture.
    pub network: NetworkConfig,
    /// The model, on an autodiff device.
    pub model: Network,
    /// The optimizer.
    pub sgd: Sgd,
    /// Steps taken.
    pub step: usize,
    /// Training loss at every step taken.
    pub losses: Vec<f64>,
    epoch: u64,
    cursor: usize,
    batches: Vec<Vec<usize>>,
    device: Device,
}

impl Trainer {
    /// A fresh run: the model is drawn from `config.seed` on `device` (made autodiff).
    pub fn new(
        network: &NetworkConfig,
        config: TrainConfig,
        device: &Device,
    ) -> Result<Trainer, AnalysisError> {
        config.validate()?;
        network.norm().validate()?;
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let model = network.init(&device)?;
        Ok(Trainer {
            sgd: Sgd::new(config.sgd),
            config,
            network: network.clone(),
            model,
            step: 0,
            losses: vec![],
            epoch: 0,
            cursor: 0,
            batches: vec![],
            device,
        })
    }

    /// The (autodiff) device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The learning rate of the next step.
    pub fn lr(&self) -> f64 {
        self.config
            .schedule
            .rate(self.config.lr, self.step, self.config.steps)
    }

    /// The indices of the next batch of `data` (epochs reshuffled from the seed).
    pub fn next_batch(&mut self, data: &Dataset) -> Vec<usize> {
        if self.batches.is_empty() || self.cursor >= self.batches.len() {
            if !self.batches.is_empty() {
                self.epoch += 1;
            }
            self.batches = data.epoch_batches(
                self.config.batch_size.min(data.len()),
                self.config.seed,
                self.epoch,
            );
            self.cursor = 0;
        }
        let batch = self.batches[self.cursor].clone();
        self.cursor += 1;
        batch
    }

    /// The next batch of `data` on the device.
    pub fn next_tensors(&mut self, data: &Dataset) -> (Tensor<4>, Tensor<1, Int>) {
        let indices = self.next_batch(data);
        data.batch(&indices, &self.device)
    }

    /// The seed of step `step`'s noise stream (NoisyBatchNorm draws its noise from it).
    pub fn noise_seed(&self, step: usize) -> u64 {
        self.config
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(step as u64)
    }

    /// One SGD step on `(x, y)`; returns the loss before the step, or an error when it diverged.
    pub fn step_on(&mut self, x: Tensor<4>, y: Tensor<1, Int>) -> Result<f64, AnalysisError> {
        // NoisyBatchNorm's noise: a stream per step, so that a resumed run draws what the
        // uninterrupted one would have.
        self.device.seed(self.noise_seed(self.step));
        let logits = self.model.forward(x, Mode::Train, &mut Probe::off())?;
        let loss = cross_entropy(logits, y);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let first = self.losses.first().copied().unwrap_or(value);
        if !value.is_finite() || value > self.config.divergence_factor * first.max(1e-3) {
            return Err(AnalysisError::Diverged {
                step: self.step,
                loss: value,
            });
        }
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.lr();
        // Modules are reference-counted: the clone is cheap, and the step replaces its tensors.
        self.model = self.sgd.step(lr, self.model.clone(), grads);
        self.losses.push(value);
        self.step += 1;
        if self.config.log_every > 0 && self.step.is_multiple_of(self.config.log_every) {
            tracing::info!(target: "normscope::train", step = self.step, loss = value, lr, "step");
        }
        Ok(value)
    }

    /// One SGD step on the next batch of `data`.
    pub fn train_step(&mut self, data: &Dataset) -> Result<f64, AnalysisError> {
        let (x, y) = self.next_tensors(data);
        self.step_on(x, y)
    }

    /// Re-estimates the running statistics at the current weights: `batches` train-mode forwards
    /// over the next training batches of `data`, no step taken, so every running mean and
    /// variance becomes an average over those batches (momentum `m`, weight `(1 − m)^k` left on
    /// the stale value). "Precise BN" (Wu & Johnson 2021, arXiv:2105.07576, §3) with an
    /// exponential average: it separates what the weights learned from how far the running
    /// statistics lag behind weights that moved fast. A network without running statistics is
    /// unchanged.
    pub fn recalibrate(&mut self, data: &Dataset, batches: usize) -> Result<(), AnalysisError> {
        for _ in 0..batches {
            let (x, _) = self.next_tensors(data);
            self.model
                .forward(x.detach(), Mode::Train, &mut Probe::off())?;
        }
        Ok(())
    }

    /// Loss and accuracy over `data` (batches of `batch_size`, the last partial batch kept) in
    /// `mode`, without gradients.
    pub fn evaluate(&self, data: &Dataset, mode: Mode) -> Result<(f64, f64), AnalysisError> {
        let device = self.device.clone().inner();
        let model = self
            .network
            .init(&device)?
            .load_record(self.model.clone().into_record());
        let (mut loss, mut correct, mut count) = (0.0, 0.0, 0usize);
        let indices: Vec<usize> = (0..data.len()).collect();
        for chunk in indices.chunks(self.config.batch_size.max(2)) {
            if chunk.len() < 2 && mode == Mode::Train {
                continue;
            }
            let (x, y) = data.batch(chunk, &device);
            let logits = model.forward(x, mode, &mut Probe::off())?;
            let n = chunk.len();
            loss += cross_entropy(logits.clone(), y.clone()).into_scalar::<f32>() as f64 * n as f64;
            correct += accuracy(logits, y) * n as f64;
            count += n;
        }
        Ok((loss / count.max(1) as f64, correct / count.max(1) as f64))
    }

    /// Writes `model.bpk`, `optimizer.bin` and `trainer.json` into `dir`.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<(), AnalysisError> {
        let io = |path: &Path, e: String| AnalysisError::Data {
            path: path.to_path_buf(),
            reason: format!("cannot write the checkpoint: {e}"),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e.to_string()))?;
        let model_path = dir.join("model.bpk");
        self.model
            .clone()
            .save_file(&model_path)
            .map_err(|e| io(&model_path, e.to_string()))?;
        let mut bytes = vec![];
        for (id, values) in self.sgd.state() {
            bytes.extend(id.to_le_bytes());
            bytes.extend((values.len() as u64).to_le_bytes());
            for v in values {
                bytes.extend(v.to_le_bytes());
            }
        }
        let optimizer_path = dir.join("optimizer.bin");
        std::fs::write(&optimizer_path, bytes).map_err(|e| io(&optimizer_path, e.to_string()))?;
        let state = TrainerState {
            step: self.step,
            epoch: self.epoch,
            cursor: self.cursor,
            losses: self.losses.clone(),
            config: self.config.clone(),
            network: self.network.clone(),
        };
        let state_path = dir.join("trainer.json");
        let text =
            serde_json::to_string_pretty(&state).map_err(|e| io(&state_path, e.to_string()))?;
        std::fs::write(&state_path, text).map_err(|e| io(&state_path, e.to_string()))
    }

    /// Resumes the run checkpointed in `dir` on `device`.
    pub fn resume(dir: &Path, data: &Dataset, device: &Device) -> Result<Trainer, AnalysisError> {
        let fail = |path: &Path, reason: String| AnalysisError::Data {
            path: path.to_path_buf(),
            reason,
        };
        let state_path = dir.join("trainer.json");
        let text = std::fs::read_to_string(&state_path)
            .map_err(|e| fail(&state_path, format!("cannot read the checkpoint: {e}")))?;
        let state: TrainerState = serde_json::from_str(&text)
            .map_err(|e| fail(&state_path, format!("corrupt checkpoint: {e}")))?;
        let mut trainer = Trainer::new(&state.network, state.config.clone(), device)?;
        let model_path = dir.join("model.bpk");
        let record = burn::store::ModuleRecord::load(&model_path)
            .map_err(|e| fail(&model_path, format!("cannot load the weights: {e}")))?;
        trainer.model = trainer
            .model
            .clone()
            .try_load_record(record)
            .map_err(|e| fail(&model_path, format!("weights do not fit the network: {e}")))?;
        let optimizer_path = dir.join("optimizer.bin");
        let bytes = std::fs::read(&optimizer_path)
            .map_err(|e| fail(&optimizer_path, format!("cannot read: {e}")))?;
        let mut buffers = vec![];
        let mut at = 0;
        let read_u64 = |bytes: &[u8], at: &mut usize| -> Result<u64, AnalysisError> {
            let chunk = bytes
                .get(*at..*at + 8)
                .ok_or_else(|| fail(&optimizer_path, "truncated momentum buffers".into()))?;
            *at += 8;
            Ok(u64::from_le_bytes(chunk.try_into().expect("8 bytes")))
        };
        while at < bytes.len() {
            let id = read_u64(&bytes, &mut at)?;
            let len = read_u64(&bytes, &mut at)? as usize;
            let chunk = bytes
                .get(at..at + 4 * len)
                .ok_or_else(|| fail(&optimizer_path, "truncated momentum buffers".into()))?;
            at += 4 * len;
            buffers.push((
                id,
                chunk
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .collect(),
            ));
        }
        trainer
            .sgd
            .load_state(buffers, &trainer.device.clone().inner());
        trainer.step = state.step;
        trainer.losses = state.losses;
        trainer.epoch = state.epoch;
        trainer.batches = data.epoch_batches(
            trainer.config.batch_size.min(data.len()),
            trainer.config.seed,
            trainer.epoch,
        );
        trainer.cursor = state.cursor;
        Ok(trainer)
    }
}
