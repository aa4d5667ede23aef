//! Exact Hessian-vector products of a zoo network's loss by double backward through libtorch's
//! autograd (feature `tch`): PyHessian's `torch.autograd.grad(gradsH, params, grad_outputs=v)`.
//!
//! burn has no second derivatives, but on `Device::libtorch()` (without burn's autodiff) every
//! burn operation is an ATen call on the `tch::Tensor` inside burn's `TchTensor`, and libtorch's
//! autograd records those calls when an input requires grad. So the network here is *the same
//! burn module* that trains — no second implementation of its forward — with its trainable
//! parameters replaced by `tch` leaves that require grad:
//!
//! 1. copy the model onto `Device::libtorch()` (its parameters and running statistics);
//! 2. swap every trainable parameter for a leaf `w_i` (`requires_grad`), keeping its `ParamId`;
//! 3. forward in `mode`, `L = cross_entropy_for_logits` in torch, `g = ∂L/∂w` with
//!    `create_graph` (`Tensor::run_backward(&[L], &w, true, true)`);
//! 4. `Hv = ∂(Σ_i ⟨g_i, v_i⟩)/∂w` (a second `run_backward`).
//!
//! With one batch the graph of `g` is kept and each product is one backward through it
//! (PyHessian's single-batch mode); with several, each product recomputes each batch's forward
//! and gradient (its `dataloader_hv_product`), averaged with weights `n_b`.
//!
//! burn's libtorch backend reuses a tensor's storage in place when nothing else holds it; an
//! in-place write into a tensor that autograd saved for the backward would make libtorch refuse
//! the backward. The forward therefore runs with [`Probe::values`], whose recorded views keep
//! every layer output, skip path and branch alive (never written in place), and in train mode on
//! a copy that tracks no running statistics (their update scales the saved batch mean in place;
//! the loss does not depend on them). What libtorch still refuses — an in-place write inside a
//! block (Fixup's scalar biases on a ReLU output, NF-ResNet's `1/β`), the running update of
//! ℓp-BatchNorm, MeanOnly and VarianceOnly in train mode — is an [`AnalysisError::Backend`],
//! never a silently wrong number. `tests/landscape.rs` checks the
//! products against finite differences on the zoo's networks with and without BatchNorm.

use burn::backend::LibTorch;
use burn::backend::libtorch::TchTensor;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::{Device, Int, Tensor};
use normscope_core::Mode;

use super::hessian::HessianVectorProduct;
use crate::AnalysisError;
use crate::models::{Network, NetworkConfig, ParamLayout, Probe};

fn backend(what: &str, reason: impl std::fmt::Display) -> AnalysisError {
    AnalysisError::Backend {
        what: what.into(),
        reason: reason.to_string(),
    }
}

/// `config` with `track_running_stats = false` in every normalizer that has the option (the
/// BatchNorm family, InstanceNorm).
fn without_running_statistics(config: &NetworkConfig) -> Result<NetworkConfig, AnalysisError> {
    fn clear(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(fields) => {
                for (key, field) in fields.iter_mut() {
                    if key == "track_running_stats" {
                        *field = serde_json::Value::Bool(false);
                    } else {
                        clear(field);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(clear),
            _ => {}
        }
    }
    let invalid = |e: serde_json::Error| backend("the network without running statistics", e);
    let mut value = serde_json::to_value(config).map_err(invalid)?;
    clear(&mut value);
    serde_json::from_value(value).map_err(invalid)
}

/// Replaces each trainable parameter by a fresh `tch` leaf that requires grad.
struct Leaves<'a> {
    ids: &'a [ParamId],
    leaves: Vec<Option<tch::Tensor>>,
}

impl ModuleMapper for Leaves<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(index) = self.ids.iter().position(|id| *id == param.id) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let primitive = tensor
            .try_into_primitive::<LibTorch>()
            .expect("the copy lives on the libtorch device");
        let leaf = primitive.tensor.detach().copy().set_requires_grad(true);
        self.leaves[index] = Some(leaf.shallow_clone());
        let value = Tensor::<D>::from_primitive::<LibTorch>(TchTensor::new(leaf));
        Param::from_mapped_value(id, value, mapper)
    }
}

/// The Hessian of a network's mean cross-entropy over batches, in `mode`, by double backward on
/// libtorch (CPU). Cost per product: one backward through the kept graph (one batch), or one
/// forward, one gradient with its graph and one backward per batch (several).
pub struct ExactHessian {
    model: Network,
    leaves: Vec<tch::Tensor>,
    layout: ParamLayout,
    batches: Vec<(Tensor<4>, tch::Tensor)>,
    mode: Mode,
    device: Device,
    noise_seed: u64,
    kept: Option<Vec<tch::Tensor>>,
}

impl ExactHessian {
    /// The Hessian of (a libtorch copy of) `model`, built from `config`, on `batches` in `mode`;
    /// stochastic layers see the device's generator seeded with `noise_seed` before every
    /// forward. `model` may live on any device.
    pub fn new(
        config: &NetworkConfig,
        model: &Network,
        batches: &[(Tensor<4>, Tensor<1, Int>)],
        mode: Mode,
        noise_seed: u64,
    ) -> Result<ExactHessian, AnalysisError> {
        if batches.is_empty() {
            return Err(AnalysisError::Config {
                key: "batches".into(),
                value: "[]".into(),
                reason: "the Hessian needs at least one batch".into(),
            });
        }
        let device = Device::libtorch();
        let autodiff = device.clone().autodiff();
        // The whole state of `model` (parameters and running statistics) into a libtorch copy.
        let full = config.init(&autodiff)?;
        let state = ParamLayout::with_buffers(&full);
        let full = state.assign(full, &state.values(model), &autodiff);
        let layout = ParamLayout::of(&full);
        let copy = if mode == Mode::Train {
            // Train mode normalizes with batch statistics; the running ones only get updated,
            // and that update multiplies the batch mean — a tensor autograd saved — in place.
            // A copy that tracks no running statistics computes the same loss without it.
            let plain = without_running_statistics(config)?.init(&autodiff)?;
            let trainable = ParamLayout::of(&plain);
            trainable.assign(plain, &layout.values(&full), &autodiff)
        } else {
            full
        };
        let layout = ParamLayout::of(&copy);
        let ids: Vec<ParamId> = layout.slots.iter().map(|s| s.id).collect();
        let mut mapper = Leaves {
            ids: &ids,
            leaves: (0..ids.len()).map(|_| None).collect(),
        };
        let model = copy.valid().map(&mut mapper);
        let leaves = mapper
            .leaves
            .into_iter()
            .map(|l| l.expect("every trainable parameter was mapped"))
            .collect();
        let batches = batches
            .iter()
            .map(|(x, y)| {
                let x = Tensor::<4>::from_data(x.to_data(), &device);
                let labels: Vec<i64> = y.to_data().iter::<i64>().collect();
                (x, tch::Tensor::from_slice(&labels))
            })
            .collect::<Vec<_>>();
        let mut hessian = ExactHessian {
            model,
            leaves,
            layout,
            batches,
            mode,
            device,
            noise_seed,
            kept: None,
        };
        if hessian.batches.len() == 1 {
            hessian.kept = Some(hessian.gradient(0)?);
        }
        Ok(hessian)
    }

    /// The trainable parameters' layout (the order of `v` and `Hv`).
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// `(L, ∂L/∂w)` of batch `b` with the graph of `∂L/∂w` (an undefined tensor for a
    /// parameter the loss does not reach).
    fn gradient(&self, b: usize) -> Result<Vec<tch::Tensor>, AnalysisError> {
        let (x, labels) = &self.batches[b];
        self.device.seed(self.noise_seed);
        // The probe's recorded views keep each layer's output from being overwritten in place.
        let mut probe = Probe::values();
        let logits = self.model.forward(x.clone(), self.mode, &mut probe)?;
        let logits = logits
            .try_into_primitive::<LibTorch>()
            .map_err(|e| backend("the logits", format!("{e:?}")))?
            .tensor;
        let loss = logits.cross_entropy_for_logits(labels);
        tch::Tensor::f_run_backward(&[&loss], &self.leaves, true, true)
            .map_err(|e| backend("the gradient with its graph (libtorch autograd)", e))
    }

    /// `Σ_i ⟨g_i, v_i⟩` over the parameters whose gradient depends on the weights.
    fn directional(grads: &[tch::Tensor], v: &[tch::Tensor]) -> Option<tch::Tensor> {
        grads
            .iter()
            .zip(v)
            .filter(|(g, _)| g.defined() && g.requires_grad())
            .map(|(g, v)| (g * v).sum(tch::Kind::Float))
            .reduce(|a, b| a + b)
    }
}

impl HessianVectorProduct for ExactHessian {
    fn dim(&self) -> usize {
        self.layout.len()
    }

    fn apply(&mut self, v: &[f64]) -> Result<Vec<f64>, AnalysisError> {
        let vs: Vec<tch::Tensor> = self
            .layout
            .slots
            .iter()
            .map(|s| {
                let values: Vec<f32> = v[s.range()].iter().map(|&x| x as f32).collect();
                let shape: Vec<i64> = s.shape.iter().map(|&d| d as i64).collect();
                tch::Tensor::from_slice(&values).reshape(shape.as_slice())
            })
            .collect();
        let total: f64 = self.batches.iter().map(|(x, _)| x.dims()[0] as f64).sum();
        let mut hv = vec![0.0; v.len()];
        for b in 0..self.batches.len() {
            let fresh;
            let grads = match &self.kept {
                Some(kept) => kept,
                None => {
                    fresh = self.gradient(b)?;
                    &fresh
                }
            };
            let Some(directional) = Self::directional(grads, &vs) else {
                continue; // the gradient is constant in the weights: H = 0
            };
            let keep = self.kept.is_some();
            let second = tch::Tensor::f_run_backward(&[&directional], &self.leaves, keep, false)
                .map_err(|e| backend("the Hessian-vector product (libtorch autograd)", e))?;
            let weight = self.batches[b].0.dims()[0] as f64 / total;
            for (slot, h) in self.layout.slots.iter().zip(&second) {
                if !h.defined() {
                    continue;
                }
                let flat = h.flatten(0, -1).to_kind(tch::Kind::Double);
                let values =
                    Vec::<f64>::try_from(&flat).map_err(|e| backend("reading the product", e))?;
                for (out, x) in hv[slot.range()].iter_mut().zip(values) {
                    *out += weight * x;
                }
            }
        }
        Ok(hv)
    }
}
