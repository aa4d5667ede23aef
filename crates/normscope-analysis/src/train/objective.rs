//! Losses as functions of a flat parameter vector, for the metrics that move along directions
//! in parameter space (landscape, covariate shift, Hessian).

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use normscope_core::Mode;

use super::cross_entropy;
use crate::AnalysisError;
use crate::models::{Network, NetworkConfig, ParamLayout, Probe};

/// A differentiable loss `L(w)` of a flat parameter vector.
pub trait Objective {
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// `(L(w), ∇L(w))`.
    fn evaluate(&mut self, w: &[f64]) -> Result<(f64, Vec<f64>), AnalysisError>;
}

/// A network's cross-entropy on one fixed batch as a function of its trainable parameters.
///
/// It owns an independent copy of the network (its own running statistics), so evaluating it in
/// train mode never touches the model being trained. Before every evaluation the device's
/// generator is reseeded, so that stochastic layers (NoisyBatchNorm) see the same noise at every
/// point: the objective is a deterministic function of `w`.
pub struct BatchObjective {
    model: Network,
    layout: ParamLayout,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    mode: Mode,
    device: Device,
    noise_seed: u64,
}

impl BatchObjective {
    /// The loss of (a copy of) `model`, built from `config`, on the batch `(x, y)` in `mode`.
    pub fn new(
        config: &NetworkConfig,
        model: &Network,
        x: Tensor<4>,
        y: Tensor<1, Int>,
        mode: Mode,
        noise_seed: u64,
    ) -> Result<BatchObjective, AnalysisError> {
        let device = x.device();
        let copy = config
            .init(&device)?
            .load_record(model.clone().into_record());
        let layout = ParamLayout::of(&copy);
        Ok(BatchObjective {
            model: copy,
            layout,
            x,
            y,
            mode,
            device,
            noise_seed,
        })
    }

    /// The parameter layout.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// The copy's current parameters.
    pub fn point(&self) -> Vec<f64> {
        self.layout.values(&self.model)
    }

    /// The mode the network runs in.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

impl Objective for BatchObjective {
    fn dim(&self) -> usize {
        self.layout.len()
    }

    fn evaluate(&mut self, w: &[f64]) -> Result<(f64, Vec<f64>), AnalysisError> {
        let model = self.layout.assign(self.model.clone(), w, &self.device);
        self.device.seed(self.noise_seed);
        let logits = model.forward(self.x.clone(), self.mode, &mut Probe::off())?;
        let loss = cross_entropy(logits, self.y.clone());
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = loss.backward();
        let gradient = self.layout.gradients(grads, &model);
        Ok((value, gradient))
    }
}

/// `L(w) = ½ (w − c)ᵀ A (w − c)` with a symmetric `A` given row-major: the objective with a known
/// Hessian that the metrics are tested on.
#[derive(Debug, Clone, PartialEq)]
pub struct Quadratic {
    /// `A`, row-major `n × n`, symmetric.
    pub a: Vec<f64>,
    /// The minimum `c`.
    pub center: Vec<f64>,
}

impl Quadratic {
    /// `A x`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let n = x.len();
        (0..n)
            .map(|i| (0..n).map(|j| self.a[i * n + j] * x[j]).sum())
            .collect()
    }
}

impl Objective for Quadratic {
    fn dim(&self) -> usize {
        self.center.len()
    }

    fn evaluate(&mut self, w: &[f64]) -> Result<(f64, Vec<f64>), AnalysisError> {
        let d: Vec<f64> = w.iter().zip(&self.center).map(|(a, b)| a - b).collect();
        let g = self.apply(&d);
        let value = 0.5 * d.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>();
        Ok((value, g))
    }
}

/// `‖v‖₂`.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `⟨a, b⟩`.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `a + s·b`.
pub fn axpy(a: &[f64], s: f64, b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + s * y).collect()
}
