//! Stochastic gradient descent with momentum and weight decay, with PyTorch's update rule.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Hyper-parameters of [`Sgd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SgdConfig {
    /// Momentum `μ`. Default 0.9.
    pub momentum: f64,
    /// L2 weight decay `λ`, added to the gradient. Default 0.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            momentum: 0.9,
            weight_decay: 0.0,
        }
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
