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

use burn::tensor::{Int, Tensor};
use normscope_core::Mode;
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::models::{NetworkConfig, ParamLayout};
use crate::train::{BatchObjective, Objective, Trainer, dot, norm};

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
            cosine: if !(na.is_finite() && nb.is_finite()) {
                f64::NAN
            } else if na > 0.0 && nb > 0.0 {
                dot(a, b) / (na * nb)
            } else {
                1.0
            },
            grad_norm: na,
        });
    }
    Ok(shifts)
}

/// Definition 2.1 around one training step: the objective on the step's batch and the weights
/// `W^t` taken before the step ([`ShiftProbe::new`]), then the shift of every layer once the
/// trainer has stepped on that batch ([`ShiftProbe::after`]).
pub struct ShiftProbe {
    /// `L` on the step's batch, in train mode, at any weights.
    pub objective: BatchObjective,
    /// Where each parameter sits in the flat weight vector.
    pub layout: ParamLayout,
    /// `W^t`.
    pub before: Vec<f64>,
}

impl ShiftProbe {
    /// Before the step the trainer is about to take on `(x, y)`.
    pub fn new(
        network: &NetworkConfig,
        trainer: &Trainer,
        (x, y): (Tensor<4>, Tensor<1, Int>),
        seed: u64,
    ) -> Result<ShiftProbe, AnalysisError> {
        let objective = BatchObjective::new(network, &trainer.model, x, y, Mode::Train, seed)?;
        let layout = ParamLayout::of(&trainer.model);
        let before = layout.values(&trainer.model);
        Ok(ShiftProbe {
            objective,
            layout,
            before,
        })
    }

    /// Every weight layer's shift, with `W^{t+1}` the trainer's weights after the step.
    pub fn after(mut self, trainer: &Trainer) -> Result<Vec<LayerShift>, AnalysisError> {
        let after = self.layout.values(&trainer.model);
        internal_covariate_shift(&mut self.objective, &self.layout, &self.before, &after)
    }
}

/// The `q`-th percentiles (0–100, linear interpolation) of `values`: NaN when there is no value
/// or one is not finite (pre-activations that diverged have no distribution to describe).
pub fn percentiles(values: &[f64], qs: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() || !sorted.iter().all(|v| v.is_finite()) {
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
