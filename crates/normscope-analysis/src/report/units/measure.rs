//! What one unit measures: the at-initialization metrics of a network ([`InitUnit`]), a
//! training run with its probes ([`TrainUnit`]), a sweep's run ([`SweepUnit`]), a trained
//! network's loss landscape and Hessian spectrum ([`LandscapeUnit`]).

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use normscope_core::Mode;
use serde::{Deserialize, Serialize};

use super::{GridPoint, UnitKind};
use crate::AnalysisError;
use crate::data::Dataset;
use crate::experiments::landscape::{LandscapeConfig, LandscapeRun};
use crate::experiments::training::Setup;
use crate::metrics::gradient_predictiveness::{Landscape, default_multiples, landscape};
use crate::metrics::hessian::HvpMethod;
use crate::metrics::identity_bias::{BlockSignal, identity_bias};
use crate::metrics::internal_covariate_shift::{DriftProbe, LayerDrift, LayerShift, ShiftProbe};
use crate::metrics::rank_collapse::{RankMeasures, rank_measures_of};
use crate::metrics::rank_pretraining::{Pretrained, pretrain_rank};
use crate::metrics::training_probe::{TrainingProbe, training_probe};
use crate::models::{Activation, Init, MlpConfig, NetworkConfig, NormPosition, Probe, Site};
use crate::report::config::{Entry, ReportConfig};
use crate::stats::mean;
use crate::train::{
    AfterEach, Batch, FINAL_WINDOW, StepHooks, TrainConfig, Trainer, cross_entropy,
};

/// The at-initialization measurements of one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitUnit {
    /// Normalizer label.
    pub label: String,
    /// Seed.
    pub seed: u64,
    /// Identity bias per residual block.
    pub blocks: Vec<BlockSignal>,
    /// Rank measures of every block output.
    pub ranks: Vec<RankMeasures>,
    /// `‖∂L/∂h‖²` of every block output.
    pub grad_norms: Vec<f64>,
    /// Some block output was not finite at initialization (the activations overflowed, as in
    /// a very deep unnormalized network): its metrics are NaN, an outcome, not an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_finite: bool,
}

/// One training run with its probes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainUnit {
    /// Normalizer label.
    pub label: String,
    /// Seed.
    pub seed: u64,
    /// Training loss per step.
    pub losses: Vec<f64>,
    /// Step at which training diverged.
    pub diverged_at: Option<usize>,
    /// First step at which the running mean (10 steps) reached the target loss.
    pub steps_to_target: Option<usize>,
    /// Mean training loss over the last 10 steps.
    pub final_loss: f64,
    /// Test accuracy at the end (eval mode, running statistics as training left them: PyTorch's
    /// `model.eval()`).
    pub test_accuracy: f64,
    /// Test accuracy at the end after [`Trainer::recalibrate`] (`RECALIBRATION_BATCHES`
    /// train-mode forwards at the final weights): far above `test_accuracy` when the running
    /// statistics lagged the weights.
    #[serde(default = "nan")]
    pub test_accuracy_recalibrated: f64,
    /// Test loss at the end (eval mode).
    pub test_loss: f64,
    /// `(step, landscape)` probes.
    pub landscape: Vec<(usize, Landscape)>,
    /// `(step, per-layer shift)` probes.
    pub shifts: Vec<(usize, Vec<LayerShift>)>,
    /// `(step, per-layer activation drift)` probes.
    #[serde(default)]
    pub drifts: Vec<(usize, Vec<LayerDrift>)>,
    /// The mechanisms' quantities (rank, sample similarity, branch share, per-layer gradient
    /// norms) at each probe step, on the at-initialization batch (the first `init_batch`
    /// training samples, train mode): [`training_probe`]. Empty in a run directory written
    /// before they were measured.
    #[serde(default)]
    pub probes: Vec<TrainingProbe>,
}

fn network(config: &ReportConfig, entry: &Entry, data: &Dataset) -> NetworkConfig {
    let [c, h, _] = data.shape;
    NetworkConfig::ResNet(config.network_for(entry, c, h, data.classes))
}

/// At initialization: identity bias, rank and gradient norms of every block, on a batch of `data`.
pub fn init_unit(
    config: &ReportConfig,
    entry: &Entry,
    seed: u64,
    data: &Dataset,
    device: &Device,
) -> Result<InitUnit, AnalysisError> {
    let device = device.clone().autodiff();
    device.seed(seed);
    let model = network(config, entry, data).init(&device)?;
    if config.init_batch > data.len() {
        return Err(AnalysisError::Config {
            key: "init_batch".into(),
            value: config.init_batch.to_string(),
            reason: format!("is more than the training set's {} samples", data.len()),
        });
    }
    let indices: Vec<usize> = (0..config.init_batch).collect();
    let (x, y): (Tensor<4>, Tensor<1, Int>) = data.batch(&indices, &device);
    let mut probe = Probe::with_gradients();
    let logits = model.forward(x, Mode::Train, &mut probe)?;
    let grads = cross_entropy(logits, y).backward();
    let non_finite = probe
        .at(Site::Hidden)
        .any(|o| !(o.value.clone().abs().max().into_scalar::<f32>()).is_finite());
    Ok(InitUnit {
        label: entry.label.clone(),
        seed,
        non_finite,
        blocks: identity_bias(&probe),
        ranks: probe
            .at(Site::Hidden)
            .map(|o| rank_measures_of(o.value.clone()))
            .collect(),
        grad_norms: probe
            .at(Site::Hidden)
            .map(|o| {
                o.gradient(&grads)
                    .map(|g| g.square().sum().into_scalar::<f32>() as f64)
                    .unwrap_or(f64::NAN)
            })
            .collect(),
    })
}

/// The probes of a training unit: at each of `config.probe_steps`, the landscape along the
/// gradient before the step and the covariate shift the step causes.
struct Probes<'a> {
    network: &'a NetworkConfig,
    steps: &'a [usize],
    seed: u64,
    /// The shift and drift probes of the step under way.
    pending: Option<(usize, ShiftProbe, DriftProbe)>,
    landscape: Vec<(usize, Landscape)>,
    shifts: Vec<(usize, Vec<LayerShift>)>,
    drifts: Vec<(usize, Vec<LayerDrift>)>,
    /// The at-initialization batch the training probes are measured on.
    probe_batch: (Tensor<4>, Tensor<1, Int>),
    probes: Vec<TrainingProbe>,
    bar: &'a indicatif::ProgressBar,
}

impl StepHooks for Probes<'_> {
    fn before(&mut self, trainer: &Trainer, batch: &Batch) -> Result<(), AnalysisError> {
        if self.steps.contains(&trainer.step) {
            let mut probe = ShiftProbe::new(self.network, trainer, batch.clone(), self.seed)?;
            self.landscape.push((
                trainer.step,
                landscape(
                    &mut probe.objective,
                    &probe.before,
                    trainer.lr(),
                    &default_multiples(),
                )?,
            ));
            let drift = DriftProbe::new(self.network, trainer, &batch.0)?;
            self.pending = Some((trainer.step, probe, drift));
            let (x, y) = self.probe_batch.clone();
            self.probes.push(training_probe(
                self.network,
                &trainer.model,
                x,
                y,
                trainer.step,
                self.seed,
            )?);
        }
        Ok(())
    }

    fn after(&mut self, trainer: &mut Trainer) -> Result<(), AnalysisError> {
        if let Some((step, probe, drift)) = self.pending.take() {
            self.shifts.push((step, probe.after(trainer)?));
            self.drifts.push((step, drift.after(trainer)?));
        }
        self.bar.inc(1);
        Ok(())
    }
}

/// Training with the landscape and covariate-shift probes at `config.probe_steps`.
pub fn train_unit(
    config: &ReportConfig,
    entry: &Entry,
    seed: u64,
    train: &Dataset,
    test: &Dataset,
    device: &Device,
    bar: &indicatif::ProgressBar,
) -> Result<TrainUnit, AnalysisError> {
    let network = network(config, entry, train);
    let train_config = TrainConfig {
        seed,
        ..config.train.clone()
    };
    let mut trainer = Trainer::new(&network, train_config, device)?;
    let probe_indices: Vec<usize> = (0..config.init_batch.min(train.len())).collect();
    let mut probes = Probes {
        network: &network,
        steps: &config.probe_steps,
        seed,
        pending: None,
        landscape: vec![],
        shifts: vec![],
        drifts: vec![],
        probe_batch: train.batch(&probe_indices, device),
        probes: vec![],
        bar,
    };
    let run = trainer.run(train, &mut probes)?;
    let (test_loss, test_accuracy, test_accuracy_recalibrated) = if run.diverged_at.is_none() {
        let (loss, accuracy) = trainer.evaluate(test, Mode::Eval)?;
        trainer.recalibrate(train, RECALIBRATION_BATCHES)?;
        (loss, accuracy, trainer.evaluate(test, Mode::Eval)?.1)
    } else {
        (f64::NAN, f64::NAN, f64::NAN)
    };
    let outcome = run.outcome(config.target_loss, FINAL_WINDOW);
    Ok(TrainUnit {
        label: entry.label.clone(),
        seed,
        final_loss: outcome.final_loss,
        steps_to_target: outcome.steps_to_target,
        losses: run.losses,
        diverged_at: run.diverged_at,
        test_accuracy,
        test_accuracy_recalibrated,
        test_loss,
        landscape: probes.landscape,
        shifts: probes.shifts,
        drifts: probes.drifts,
        probes: probes.probes,
    })
}

/// Train-mode forwards of [`Trainer::recalibrate`] before the recalibrated test accuracy: with
/// momentum 0.1 the stale running statistics keep a weight of `0.9^50 ≈ 0.5%`.
pub const RECALIBRATION_BATCHES: usize = 50;

fn nan() -> f64 {
    f64::NAN
}

/// One run of an intervention sweep: a network trained without probes at one grid point, with
/// its rank (and, for a residual network, its identity bias) at the start of training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepUnit {
    /// Normalizer label.
    pub label: String,
    /// Seed.
    pub seed: u64,
    /// Where on the grid it was trained.
    pub point: GridPoint,
    /// Training loss per step.
    pub losses: Vec<f64>,
    /// Step at which training diverged.
    pub diverged_at: Option<usize>,
    /// First step at which the running mean (10 steps) reached the target loss.
    pub steps_to_target: Option<usize>,
    /// Mean training loss over the last 10 steps (NaN when diverged).
    pub final_loss: f64,
    /// Effective rank of the last block's (or hidden layer's) output at the start of training,
    /// over the batch size (after rank pre-training, for an arm that has it).
    pub rank: f64,
    /// Branch share of the block output variance at initialization, mean over blocks (NaN for
    /// a plain network).
    pub branch_share: f64,
    /// The soft rank before and after rank pre-training, for an arm that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<Pretrained>,
}

/// The plain MLP of the rank sweep for `entry`, `depth` hidden layers, fitted to `data`.
fn plain_network(
    config: &ReportConfig,
    entry: &Entry,
    depth: usize,
    data: &Dataset,
) -> NetworkConfig {
    NetworkConfig::Mlp(MlpConfig {
        input: data.shape.iter().product(),
        width: config.interventions.rank.width,
        depth,
        classes: data.classes,
        activation: Activation::Relu,
        norm: entry.norm.clone(),
        norm_position: NormPosition::BeforeActivation,
        init: entry.init.unwrap_or(Init::Kaiming),
        bias: true,
    })
}

/// Effective rank over the batch size of the last hidden representation of `trainer`'s model on
/// the first `n` training samples (train mode, on a copy: the run's statistics stay as they are).
fn rank_at_start(
    network: &NetworkConfig,
    trainer: &Trainer,
    data: &Dataset,
    n: usize,
) -> Result<f64, AnalysisError> {
    let device = trainer.device().clone().inner();
    let model = network
        .init(&device)?
        .load_record(trainer.model.clone().into_record());
    let indices: Vec<usize> = (0..n).collect();
    let (x, _): (Tensor<4>, Tensor<1, Int>) = data.batch(&indices, &device);
    let mut probe = Probe::values();
    model.forward(x, Mode::Train, &mut probe)?;
    Ok(probe
        .at(Site::Hidden)
        .last()
        .map(|o| rank_measures_of(o.value.clone()).effective_rank / n as f64)
        .unwrap_or(f64::NAN))
}

/// A sweep's run at `point`: [`UnitKind::Lr`], [`UnitKind::Depth`] and [`UnitKind::Batch`]
/// train `entry` in the battery's residual network with `point.depth` blocks per stage, at
/// `point.lr` and `point.batch_size`, after measuring its rank and branch share at
/// initialization on the battery's `init_batch`; [`UnitKind::Rank`] trains a plain MLP of
/// `point.depth` hidden layers, rank pre-trained first when the arm says so. Each runs for
/// [`UnitKind::steps`] steps.
#[allow(clippy::too_many_arguments)]
pub fn sweep_unit(
    config: &ReportConfig,
    entry: &Entry,
    kind: UnitKind,
    point: &GridPoint,
    seed: u64,
    train: &Dataset,
    device: &Device,
    bar: &indicatif::ProgressBar,
) -> Result<SweepUnit, AnalysisError> {
    let steps = kind.steps(config, Some(point));
    let train_config = TrainConfig {
        seed,
        steps,
        lr: point.lr,
        batch_size: point.batch_size,
        ..config.train.clone()
    };
    let (network, branch_share, mut pretrained) = match kind {
        UnitKind::Rank => (
            plain_network(config, entry, point.depth, train),
            f64::NAN,
            None,
        ),
        _ => {
            let mut deeper = config.clone();
            deeper.network.blocks = point.depth;
            let at_init = init_unit(&deeper, entry, seed, train, device)?;
            (
                self::network(&deeper, entry, train),
                mean(
                    &at_init
                        .blocks
                        .iter()
                        .map(|b| b.branch_share)
                        .collect::<Vec<_>>(),
                ),
                None,
            )
        }
    };
    let mut trainer = Trainer::new(&network, train_config, device)?;
    if let Some(pretraining) = &entry.pretrain {
        pretrained = Some(pretrain_rank(&mut trainer, train, pretraining)?);
    }
    let rank = rank_at_start(
        &network,
        &trainer,
        train,
        config.init_batch.min(train.len()),
    )?;
    let run = trainer.run(
        train,
        &mut AfterEach(|_: &mut Trainer| {
            bar.inc(1);
            Ok(())
        }),
    )?;
    if run.diverged_at.is_some() {
        bar.inc(steps.saturating_sub(run.losses.len()) as u64);
    }
    let outcome = run.outcome(config.target_loss, FINAL_WINDOW);
    Ok(SweepUnit {
        label: entry.label.clone(),
        seed,
        point: *point,
        final_loss: outcome.final_loss,
        steps_to_target: outcome.steps_to_target,
        losses: run.losses,
        diverged_at: run.diverged_at,
        rank,
        branch_share,
        pretrained,
    })
}

/// A trained network's loss landscape and Hessian spectrum at one depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandscapeUnit {
    /// Normalizer label.
    pub label: String,
    /// Seed.
    pub seed: u64,
    /// The depth (and the battery's rate and batch size) it was trained at.
    pub point: GridPoint,
    /// What `experiments::landscape` measured.
    pub run: LandscapeRun,
}

/// The landscape experiment as the report runs it: the battery's data and training, eval mode,
/// finite-difference Hessian-vector products, the sizes of `config.landscape`.
pub fn landscape_experiment(config: &ReportConfig) -> LandscapeConfig {
    let l = &config.landscape;
    LandscapeConfig {
        setup: Setup {
            network: NetworkConfig::ResNet(config.network.clone()),
            data: config.data.clone(),
            train: config.train.clone(),
        },
        norms: l.normalizers.iter().map(|e| e.norm.clone()).collect(),
        depths: l.depths.clone(),
        seeds: l.seeds,
        mode: Mode::Eval,
        eval_batches: l.eval_batches,
        eval_batch_size: l.eval_batch_size,
        interpolation: l.interpolation.clone(),
        plane: l.plane.clone(),
        spectrum: l.spectrum.clone(),
        hvp: HvpMethod::FiniteDifference,
        hessian_batches: l.hessian_batches,
        hessian_batch_size: l.hessian_batch_size,
        per_block: false,
        compare_products: 0,
    }
}

/// `entry` in the battery's network with `point.depth` blocks per stage, trained as the
/// battery trains, then its landscape and spectrum ([`landscape_experiment`]); a run that
/// diverges is recorded so, with nothing else measured.
pub fn landscape_unit(
    config: &ReportConfig,
    entry: &Entry,
    point: &GridPoint,
    seed: u64,
    train: &Dataset,
    device: &Device,
    bar: &indicatif::ProgressBar,
) -> Result<LandscapeUnit, AnalysisError> {
    let mut deeper = config.clone();
    deeper.network.blocks = point.depth;
    let network = network(&deeper, entry, train);
    let (run, _) = landscape_experiment(config).run_one(
        &entry.label,
        Some(point.depth),
        &network,
        seed,
        train,
        device,
    )?;
    bar.inc(UnitKind::Landscape.steps(config, Some(point)) as u64);
    Ok(LandscapeUnit {
        label: entry.label.clone(),
        seed,
        point: *point,
        run,
    })
}

/// One stored unit of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyUnit {
    /// At initialization.
    Init(InitUnit),
    /// A training run.
    Train(TrainUnit),
    /// A learning-rate sweep run.
    Lr(SweepUnit),
    /// A depth sweep run.
    Depth(SweepUnit),
    /// A batch-size sweep run.
    Batch(SweepUnit),
    /// A plain-network sweep run.
    Rank(SweepUnit),
    /// A landscape (boxed: it is several times the size of the others).
    Landscape(Box<LandscapeUnit>),
}

impl AnyUnit {
    /// The label, seed and (for a sweep) grid point the unit says it measured.
    pub(crate) fn identity(&self) -> (&str, u64, Option<GridPoint>) {
        match self {
            AnyUnit::Init(u) => (&u.label, u.seed, None),
            AnyUnit::Train(u) => (&u.label, u.seed, None),
            AnyUnit::Lr(u) | AnyUnit::Depth(u) | AnyUnit::Batch(u) | AnyUnit::Rank(u) => {
                (&u.label, u.seed, Some(u.point))
            }
            AnyUnit::Landscape(u) => (&u.label, u.seed, Some(u.point)),
        }
    }
}

/// Every unit of the battery, read back from `units/` when already done.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Units {
    /// At-initialization units.
    pub init: Vec<InitUnit>,
    /// Training units.
    pub train: Vec<TrainUnit>,
    /// Learning-rate sweep units.
    #[serde(default)]
    pub lr: Vec<SweepUnit>,
    /// Depth sweep units.
    #[serde(default)]
    pub depth: Vec<SweepUnit>,
    /// Batch-size sweep units.
    #[serde(default)]
    pub batch: Vec<SweepUnit>,
    /// Plain-network (rank) sweep units.
    #[serde(default)]
    pub rank: Vec<SweepUnit>,
    /// Landscape units.
    #[serde(default)]
    pub landscape: Vec<LandscapeUnit>,
}

impl Units {
    /// Adds a unit where its kind belongs.
    pub fn push(&mut self, unit: AnyUnit) {
        match unit {
            AnyUnit::Init(u) => self.init.push(u),
            AnyUnit::Train(u) => self.train.push(u),
            AnyUnit::Lr(u) => self.lr.push(u),
            AnyUnit::Depth(u) => self.depth.push(u),
            AnyUnit::Batch(u) => self.batch.push(u),
            AnyUnit::Rank(u) => self.rank.push(u),
            AnyUnit::Landscape(u) => self.landscape.push(*u),
        }
    }
}
