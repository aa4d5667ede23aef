//! Gradient explosion at initialization (Yang et al. 2019, "A Mean Field Theory of Batch
//! Normalization"): in a BN network at initialization the gradient norm grows by a constant
//! factor `λ` per layer going from the output toward the input.
//!
//! Per hidden layer `ℓ` we record `‖∂L/∂h_ℓ‖²` (summed over the batch) and the growth ratio
//! `‖∂L/∂h_ℓ‖² / ‖∂L/∂h_{ℓ+1}‖²`. The paper's closed forms for the ratio: ReLU →
//! `π/(π − 1) ≈ 1.467` as the batch size `B → ∞`; linear activation: `(B − 2)/(B − 3)`.

use burn::tensor::Gradients;
use serde::{Deserialize, Serialize};

use crate::models::{Probe, Site};

/// Yang et al.'s limit of the per-layer gradient growth of a ReLU BN network, `π/(π − 1)`.
pub fn relu_growth_limit() -> f64 {
    std::f64::consts::PI / (std::f64::consts::PI - 1.0)
}

/// Yang et al.'s per-layer gradient growth of a linear BN network with batch size `b`,
/// `(B − 2)/(B − 3)`.
pub fn linear_growth(batch: usize) -> f64 {
    let b = batch as f64;
    (b - 2.0) / (b - 3.0)
}

/// One layer's gradient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerGradient {
    /// Hidden layer index.
    pub layer: usize,
    /// `‖∂L/∂h_ℓ‖²`.
    pub grad_norm_sq: f64,
    /// `‖∂L/∂h_ℓ‖² / ‖∂L/∂h_{ℓ+1}‖²` (none for the last layer).
    pub growth: Option<f64>,
}

/// `‖∂L/∂h_ℓ‖²` of every hidden representation of a probe built with
/// [`Probe::with_gradients`], from the gradients of a backward through that forward.
pub fn gradient_norms(probe: &Probe, grads: &Gradients) -> Vec<LayerGradient> {
    let norms: Vec<f64> = probe
        .at(Site::Hidden)
        .map(|o| {
            o.gradient(grads)
                .map(|g| g.square().sum().into_scalar::<f32>() as f64)
                .unwrap_or(f64::NAN)
        })
        .collect();
    norms
        .iter()
        .enumerate()
        .map(|(layer, &grad_norm_sq)| LayerGradient {
            layer,
            grad_norm_sq,
            growth: norms.get(layer + 1).map(|next| grad_norm_sq / next),
        })
        .collect()
}

/// The geometric mean of the per-layer growth over layers `skip..len − skip` (the first and last
/// layers are transients).
pub fn mean_growth(layers: &[LayerGradient], skip: usize) -> f64 {
    let ratios: Vec<f64> = layers.iter().filter_map(|l| l.growth).skip(skip).collect();
    let keep = ratios.len().saturating_sub(skip);
    let logs: Vec<f64> = ratios[..keep].iter().map(|r| r.ln()).collect();
    if logs.is_empty() {
        return f64::NAN;
    }
    (logs.iter().sum::<f64>() / logs.len() as f64).exp()
}
