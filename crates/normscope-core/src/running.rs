//! Running statistics: how they are updated ([`Momentum`]), how many batches they have seen
//! (`num_batches_tracked`), and freezing them ([`freeze_statistics`], PyTorch's
//! `FrozenBatchNorm2d` semantics for any layer that keeps running statistics).

use std::fmt;

use burn::module::{Flag, Module, ModuleMapper, Param, RunningState};
use burn::tensor::{Device, Tensor};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::NormError;

/// How a batch statistic enters a running statistic, as PyTorch's `momentum` argument.
///
/// Serialized as a number (`momentum = 0.1`) or the string `"cumulative"` (`momentum =
/// "cumulative"`, PyTorch's `momentum=None`); an absent key is the layer's default, 0.1.
/// `From<f64>` and `From<Option<f64>>` (`None` → [`Momentum::Cumulative`]) let the builders take
/// PyTorch's spelling: `BatchNormConfig::new().with_momentum(None)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Momentum {
    /// `running = (1 − m)·running + m·batch` with `m ∈ [0, 1]` (PyTorch's `momentum=m`).
    Exponential(f64),
    /// The cumulative (equal-weight) average of every batch statistic seen since the running
    /// statistics were initialized: the update above with `m = 1/num_batches_tracked`
    /// (PyTorch's `momentum=None`).
    Cumulative,
}

impl Default for Momentum {
    /// PyTorch's default, `0.1`.
    fn default() -> Self {
        Momentum::Exponential(0.1)
    }
}

impl From<f64> for Momentum {
    fn from(m: f64) -> Self {
        Momentum::Exponential(m)
    }
}

impl From<Option<f64>> for Momentum {
    /// PyTorch's convention: `None` is the cumulative average.
    fn from(m: Option<f64>) -> Self {
        m.map_or(Momentum::Cumulative, Momentum::Exponential)
    }
}

impl fmt::Display for Momentum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Momentum::Exponential(m) => write!(f, "{m}"),
            Momentum::Cumulative => f.write_str("\"cumulative\""),
        }
    }
}

impl Momentum {
    /// The weight `m` of the batch statistic, or `None` for the cumulative average.
    pub fn exponential(self) -> Option<f64> {
        match self {
            Momentum::Exponential(m) => Some(m),
            Momentum::Cumulative => None,
        }
    }

    /// `Ok` for the cumulative average and for a finite `m ∈ [0, 1]`.
    pub(crate) fn check(self, layer: &'static str) -> Result<(), NormError> {
        match self {
            Momentum::Exponential(m) if !(m.is_finite() && (0.0..=1.0).contains(&m)) => {
                Err(NormError::InvalidMomentum { layer, momentum: m })
            }
            _ => Ok(()),
        }
    }
}

const CUMULATIVE: &str = "cumulative";

impl Serialize for Momentum {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Momentum::Exponential(m) => serializer.serialize_f64(*m),
            Momentum::Cumulative => serializer.serialize_str(CUMULATIVE),
        }
    }
}

impl<'de> Deserialize<'de> for Momentum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MomentumVisitor;

        impl Visitor<'_> for MomentumVisitor {
            type Value = Momentum;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number in [0, 1] or \"cumulative\"")
            }

            fn visit_f64<E: de::Error>(self, m: f64) -> Result<Momentum, E> {
                Ok(Momentum::Exponential(m))
            }

            fn visit_i64<E: de::Error>(self, m: i64) -> Result<Momentum, E> {
                Ok(Momentum::Exponential(m as f64))
            }

            fn visit_u64<E: de::Error>(self, m: u64) -> Result<Momentum, E> {
                Ok(Momentum::Exponential(m as f64))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Momentum, E> {
                if text == CUMULATIVE {
                    Ok(Momentum::Cumulative)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(text), &self))
                }
            }
        }

        deserializer.deserialize_any(MomentumVisitor)
    }
}

/// The running state of one layer at initialization: PyTorch's `running_mean = 0`,
/// `running_var = 1`, `num_batches_tracked = 0`, and the statistics' training flag (enabled).
pub(crate) struct RunningInit {
    pub mean: RunningState<Tensor<1>>,
    pub var: RunningState<Tensor<1>>,
    pub count: RunningState<Tensor<1>>,
    pub training: Param<Flag>,
}

impl RunningInit {
    /// Mean `0` and variance `1` of length `len`.
    pub fn new(len: usize, device: &Device) -> Self {
        RunningInit {
            mean: RunningState::new(Tensor::zeros([len], device)),
            var: RunningState::new(Tensor::ones([len], device)),
            count: batches_tracked(device),
            training: Param::from_bool(true),
        }
    }
}

/// The running fields of a layer whose statistics are optional (`track_running_stats`):
/// `(running_mean, running_var, num_batches_tracked, training)`, all `None` without them.
pub(crate) type OptionalRunning = (
    Option<RunningState<Tensor<1>>>,
    Option<RunningState<Tensor<1>>>,
    Option<RunningState<Tensor<1>>>,
    Option<Param<Flag>>,
);

impl RunningInit {
    /// [`RunningInit::new`] as a layer's optional fields, when `track`.
    pub fn optional(len: usize, track: bool, device: &Device) -> OptionalRunning {
        match track.then(|| RunningInit::new(len, device)) {
            Some(r) => (Some(r.mean), Some(r.var), Some(r.count), Some(r.training)),
            None => (None, None, None, None),
        }
    }
}

/// A fresh `num_batches_tracked`: one value, `0`. burn keeps running state as float tensors, so
/// the count is a float (exact up to 2²⁴ batches in f32); PyTorch's is an `int64` scalar.
pub(crate) fn batches_tracked(device: &Device) -> RunningState<Tensor<1>> {
    RunningState::new(Tensor::zeros([1], device))
}

/// Sets a running state to `value` at once. burn's `RunningState::update` keeps a thread's last
/// update pending until the next read on that thread (`value_sync`), and a record
/// (`Module::into_record`, `save_file`) does not read through it: without the sync, a model
/// saved or copied right after a training step would hold the statistics of the step before.
fn set(state: &RunningState<Tensor<1>>, value: Tensor<1>) {
    state.update(value);
    state.value_sync();
}

/// Counts one more batch in `count` and folds each `(state, batch statistic)` pair into its
/// running statistic with `momentum` (the weight `1/num_batches_tracked` after the increment for
/// [`Momentum::Cumulative`], as PyTorch). Batch statistics are detached.
pub(crate) fn update_running<const N: usize>(
    count: &RunningState<Tensor<1>>,
    momentum: Momentum,
    updates: [(&RunningState<Tensor<1>>, Tensor<1>); N],
) {
    let seen = count.value_sync().add_scalar(1.0).detach();
    set(count, seen.clone());
    for (state, batch) in updates {
        let old = state.value_sync();
        let device = old.device();
        let batch = batch.detach().to_device(&device);
        let new = match momentum {
            Momentum::Exponential(m) => old.mul_scalar(1.0 - m).add(batch.mul_scalar(m)),
            Momentum::Cumulative => {
                // `old + (batch − old)/n`, the weight kept on the device (no host round trip).
                let [len] = old.dims();
                let weight = seen.clone().to_device(&device).recip().expand([len]);
                old.clone().add(batch.sub(old).mul(weight))
            }
        };
        set(state, new.detach());
    }
}

/// The current value of a running statistic on `device`.
pub(crate) fn running_value(state: &RunningState<Tensor<1>>, device: &Device) -> Tensor<1> {
    state.value_sync().to_device(device)
}

/// Whether a layer's statistics flag says "frozen" (present and disabled).
pub(crate) fn is_frozen(training: Option<&Param<Flag>>) -> bool {
    training.is_some_and(|flag| !flag.is_enabled())
}

/// The flag set to `enabled`, or [`NormError::NoRunningStatistics`] when the layer has none.
pub(crate) fn set_training(
    layer: &'static str,
    operation: &'static str,
    training: Option<Param<Flag>>,
    enabled: bool,
) -> Result<Param<Flag>, NormError> {
    training
        .map(|flag| flag.with_value(enabled))
        .ok_or(NormError::NoRunningStatistics { layer, operation })
}

/// The types whose `training` flag is the statistics' flag: normscope's layers that keep running
/// statistics (GhostBatchNorm, BatchRenorm and NoisyBatchNorm keep theirs in an inner
/// BatchNorm). burn-nn's `BatchNorm` (`Struct:BatchNorm` with a `training` flag too) means the
/// same by it and is frozen alike.
const LAYERS_WITH_STATISTICS: [&str; 5] = [
    "Struct:BatchNorm",
    "Struct:InstanceNorm",
    "Struct:VarianceOnly",
    "Struct:MeanOnly",
    "Struct:LpBatchNorm",
];

/// A burn [`ModuleMapper`] that sets the statistics flag of every normalizer with running
/// statistics in a module tree, and nothing else: parameters keep requiring gradients, other
/// flags (dropout's) are untouched. [`freeze_statistics`] and [`unfreeze_statistics`] run it;
/// [`StatisticsMapper::changed`] says how many layers it reached.
#[derive(Debug, Clone)]
pub struct StatisticsMapper {
    training: bool,
    path: Vec<(String, String)>,
    changed: usize,
}

impl StatisticsMapper {
    /// A mapper that freezes (`training = false`) or unfreezes (`true`) the statistics.
    pub fn new(training: bool) -> Self {
        StatisticsMapper {
            training,
            path: vec![],
            changed: 0,
        }
    }

    /// How many layers' flags the mapper has set so far.
    pub fn changed(&self) -> usize {
        self.changed
    }
}

impl ModuleMapper for StatisticsMapper {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
        match self.path.last() {
            Some((field, container))
                if field == "training" && LAYERS_WITH_STATISTICS.contains(&container.as_str()) =>
            {
                self.changed += 1;
                flag.with_value(self.training)
            }
            _ => flag,
        }
    }
}

/// Freezes the running statistics of every normalizer in `module` (a whole model, or one layer):
/// in [`Mode::Train`](crate::Mode::Train) they then normalize with their running statistics and
/// leave them unchanged — torchvision's `FrozenBatchNorm2d`, or a PyTorch BatchNorm in `eval()`
/// inside a model in `train()` — while `γ`, `β` keep training (use burn's `Module::no_grad` or
/// `Module::freeze` to stop those too; `Module::freeze` also freezes the statistics). Layers
/// without running statistics (LayerNorm, GroupNorm, …) are left as they are. Undo with
/// [`unfreeze_statistics`].
pub fn freeze_statistics<M: Module>(module: M) -> M {
    module.map(&mut StatisticsMapper::new(false))
}

/// Undoes [`freeze_statistics`] (and the statistics half of burn's `Module::freeze`): every
/// normalizer with running statistics in `module` again normalizes with batch statistics in
/// [`Mode::Train`](crate::Mode::Train) and updates its running ones.
pub fn unfreeze_statistics<M: Module>(module: M) -> M {
    module.map(&mut StatisticsMapper::new(true))
}
