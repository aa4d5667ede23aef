//! Stochastic gradient descent with momentum and weight decay, with PyTorch's update rule.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::error::{in_range, non_negative_finite, positive_finite};

/// Hyper-parameters of [`Sgd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SgdConfig {
    /// Momentum `μ`. Default 0.9.
    pub momentum: f64,
    /// L2 weight decay `λ`, added to the gradient. Default 0.
    pub weight_decay: f64,
    /// Adaptive gradient clipping (Brock et al. 2021), unit-wise: when
    /// `‖G_u‖/max(‖W_u‖, 10⁻³) > λ` the unit's gradient is rescaled to
    /// `λ·max(‖W_u‖, 10⁻³)·G_u/‖G_u‖`. Units are output channels / columns; vectors are one unit.
    /// `None` (default): no clipping. NF-ResNets use 0.01.
    pub agc: Option<f64>,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            momentum: 0.9,
            weight_decay: 0.0,
            agc: None,
        }
    }
}

impl SgdConfig {
    /// Checks the values, naming a bad one as `{table}.{field}` (`train.sgd.momentum`):
    /// `momentum` in `[0, 1)`, `weight_decay` finite and `≥ 0` (a negative decay grows the
    /// weights), `agc` finite and `> 0` when set (0 would clip every gradient to zero).
    pub fn validate_at(&self, table: &str) -> Result<(), AnalysisError> {
        in_range(format!("{table}.momentum"), self.momentum, 0.0..1.0)?;
        non_negative_finite(format!("{table}.weight_decay"), self.weight_decay)?;
        if let Some(agc) = self.agc {
            positive_finite(format!("{table}.agc"), agc)?;
        }
        Ok(())
    }
}

/// SGD as `torch.optim.SGD` (no dampening, no Nesterov): `g ← ∇ + λw`, `v ← μv + g`,
/// `w ← w − η v`. The momentum buffers are kept per parameter id.
#[derive(Debug, Clone, Default)]
pub struct Sgd {
    /// Hyper-parameters.
    pub config: SgdConfig,
    velocity: HashMap<ParamId, Tensor<1>>,
}

impl Sgd {
    /// A fresh optimizer.
    pub fn new(config: SgdConfig) -> Sgd {
        Sgd {
            config,
            velocity: HashMap::new(),
        }
    }

    /// One step with learning rate `lr` on every parameter that has a gradient in `grads`.
    pub fn step<M: Module>(&mut self, lr: f64, model: M, grads: GradientsParams) -> M {
        self.step_where(lr, model, grads, |_| true)
    }

    /// One step on the parameters for which `select` is true (the others keep their value and
    /// their momentum).
    pub fn step_where<M: Module>(
        &mut self,
        lr: f64,
        model: M,
        mut grads: GradientsParams,
        select: impl Fn(ParamId) -> bool,
    ) -> M {
        let mut mapper = Step {
            sgd: self,
            grads: &mut grads,
            lr,
            select: &select,
        };
        model.map(&mut mapper)
    }

    /// Forgets the momentum buffers.
    pub fn reset(&mut self) {
        self.velocity.clear();
    }

    /// The momentum buffers, for a checkpoint: `(parameter id, values)`.
    pub fn state(&self) -> Vec<(u64, Vec<f32>)> {
        let mut state: Vec<(u64, Vec<f32>)> = self
            .velocity
            .iter()
            .map(|(id, v)| (id.val(), v.clone().into_data().iter::<f32>().collect()))
            .collect();
        state.sort_by_key(|(id, _)| *id);
        state
    }

    /// Restores momentum buffers saved by [`Sgd::state`] onto `device`.
    pub fn load_state(&mut self, state: Vec<(u64, Vec<f32>)>, device: &burn::tensor::Device) {
        self.velocity = state
            .into_iter()
            .map(|(id, values)| {
                let len = values.len();
                (
                    ParamId::from(id),
                    Tensor::from_data(burn::tensor::TensorData::new(values, [len]), device),
                )
            })
            .collect();
    }
}

/// Unit-wise ℓ2 norms of `t` (`[1, out]` for a `[in, out]` matrix, `[out, 1, 1, 1]` for a
/// convolution kernel, the whole norm for a vector), shaped to broadcast against `t`.
fn unitwise_norm<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let squared = t.square();
    let reduced = match D {
        1 => squared.sum_dim(0),
        2 => squared.sum_dim(0),
        _ => (1..D).fold(squared, |acc, d| acc.sum_dim(d)),
    };
    reduced.sqrt()
}

/// Adaptive gradient clipping of `grad` for the weight `weight` (Brock et al. 2021).
fn clip_adaptive<const D: usize>(grad: Tensor<D>, weight: Tensor<D>, lambda: f64) -> Tensor<D> {
    let max_norm = unitwise_norm(weight).clamp_min(1e-3).mul_scalar(lambda);
    let grad_norm = unitwise_norm(grad.clone()).clamp_min(1e-6);
    let scale = max_norm.div(grad_norm).clamp_max(1.0);
    grad.mul(scale)
}

struct Step<'a, F: Fn(ParamId) -> bool> {
    sgd: &'a mut Sgd,
    grads: &'a mut GradientsParams,
    lr: f64,
    select: &'a F,
}

impl<F: Fn(ParamId) -> bool> ModuleMapper for Step<'_, F> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let id = param.id;
        if !(self.select)(id) {
            return param;
        }
        let Some(grad) = self.grads.remove::<D>(id) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let require_grad = tensor.is_require_grad();
        let weight = tensor.inner();
        let dims = weight.dims();
        let numel = dims.iter().product::<usize>();
        let mut g = grad.to_device(&weight.device());
        let config = self.sgd.config;
        if let Some(lambda) = config.agc {
            g = clip_adaptive(g, weight.clone(), lambda);
        }
        if config.weight_decay != 0.0 {
            g = g.add(weight.clone().mul_scalar(config.weight_decay));
        }
        let v = match self.sgd.velocity.remove(&id) {
            Some(v) if config.momentum != 0.0 => v.reshape(dims).mul_scalar(config.momentum).add(g),
            _ => g,
        };
        let updated = weight.sub(v.clone().mul_scalar(self.lr));
        if config.momentum != 0.0 {
            self.sgd.velocity.insert(id, v.reshape([numel]));
        }
        let mut tensor = Tensor::from_inner(updated);
        if require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}
