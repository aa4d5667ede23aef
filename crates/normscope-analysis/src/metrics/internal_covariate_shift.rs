//! Internal covariate shift as Santurkar et al. 2018 define it (Definition 2.1), and the classic
//! distributional view of Ioffe & Szegedy 2015 (Fig. 1).
//!
//! **Definition 2.1.** At step `t` on the batch `(x_t, y_t)`, for each layer `i`:
//! `G_{t,i} = ∇_{W_i} L(W_1^t, …, W_k^t)` and `G′_{t,i} = ∇_{W_i} L(W_1^{t+1}, …, W_{i−1}^{t+1},
//! W_i^t, …, W_k^t)`: the same gradient after all *preceding* layers took their update. We record
//! `‖G − G′‖₂` and `cos(G, G′)` (ideal value 1). "Layers" are the weight matrices and convolution
//! kernels; "preceding" are all trainable parameters that act before layer `i`'s weight (models
//! visit their parameters in forward order).
//!
//! **Distributional view.** Percentiles (15th, 50th, 85th) of a layer's pre-activations over
//! training (the sigmoid inputs of Ioffe & Szegedy's Fig. 1b/c).

use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::models::ParamLayout;
use crate::train::{Objective, dot, norm};

/// The shift of one layer's gradient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerShift {
    /// Index among the weight layers.
    pub layer: usize,
    /// `‖G − G′‖₂`.
    pub l2: f64,
    /// `cos(G, G′)`.
    pub cosine: f64,
    /// `‖G‖₂`.
    pub grad_norm: f64,
}

/// Definition 2.1 for every weight layer: `before` are the parameters `W^t`, `after` the
/// parameters `W^{t+1}` the optimizer produced from them on the same batch.
pub fn internal_covariate_shift(
    objective: &mut dyn Objective,
    layout: &ParamLayout,
    before: &[f64],
    after: &[f64],
) -> Result<Vec<LayerShift>, AnalysisError> {
    let (_, g) = objective.evaluate(before)?;
    let mut shifts = vec![];
    for (layer, slot) in layout.slots.iter().filter(|s| s.is_weight()).enumerate() {
        let mut point = before.to_vec();
        point[..slot.offset].copy_from_slice(&after[..slot.offset]);
        let (_, g_shifted) = objective.evaluate(&point)?;
        let (a, b) = (&g[slot.range()], &g_shifted[slot.range()]);
        let diff: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
        let (na, nb) = (norm(a), norm(b));
        shifts.push(LayerShift {
            layer,
            l2: norm(&diff),
            cosine: if na > 0.0 && nb > 0.0 {
                dot(a, b) / (na * nb)
            } else {
                1.0
            },
            grad_norm: na,
        });
    }
    Ok(shifts)
}

/// The `q`-th percentiles (0–100, linear interpolation) of `values`.
pub fn percentiles(values: &[f64], qs: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return vec![f64::NAN; qs.len()];
    }
    qs.iter()
        .map(|q| {
            let pos = q / 100.0 * (sorted.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        })
        .collect()
}
