//! The loss landscape along the gradient (Santurkar et al. 2018, Fig. 4): loss variation,
//! gradient predictiveness and effective β-smoothness.
//!
//! At parameters `w` with `g = ∇L(w)` on the batch, for each step `η` of a range (multiples of
//! the learning rate), evaluate `L(w − ηg)` and `∇L(w − ηg)`:
//! - **loss band**: `[min_η L(w − ηg), max_η L(w − ηg)]`;
//! - **gradient-predictiveness band**: `[min_η, max_η] ‖∇L(w) − ∇L(w − ηg)‖₂`;
//! - **effective β-smoothness**: `max_η ‖∇L(w) − ∇L(w − ηg)‖₂ / ‖ηg‖₂`, the largest change in the
//!   gradient per distance moved.
//!
//! The range of `η` is ours: the paper's is not stated. We use `η = s·lr` with
//! `s ∈ {0.5, 0.8, …, 4.1}` (0.5 to 4.2 in steps of 0.3), as a public re-implementation does: from
//! half the step SGD takes to about four steps, which is where the losses of BN and non-BN
//! networks separate in the paper's plots.

use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::train::{Objective, axpy, norm};

/// The default step multiples `0.5, 0.8, …, 4.1` of the learning rate.
pub fn default_multiples() -> Vec<f64> {
    (0..13).map(|k| 0.5 + 0.3 * k as f64).collect()
}

/// The landscape along the gradient at one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Landscape {
    /// `L(w)`.
    pub loss: f64,
    /// `‖∇L(w)‖₂`.
    pub grad_norm: f64,
    /// `(η, L(w − ηg))`.
    pub losses: Vec<(f64, f64)>,
    /// `(η, ‖∇L(w) − ∇L(w − ηg)‖₂)`.
    pub grad_changes: Vec<(f64, f64)>,
    /// `(min, max)` of the losses.
    pub loss_band: (f64, f64),
    /// `(min, max)` of the gradient changes.
    pub grad_band: (f64, f64),
    /// `max_η ‖∇L(w) − ∇L(w − ηg)‖₂ / ‖ηg‖₂`.
    pub beta_smoothness: f64,
}

/// `(min, max)`, NaN when a value is NaN (`f64::min` would skip it).
fn band(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        if v.is_nan() || lo.is_nan() {
            (f64::NAN, f64::NAN)
        } else {
            (lo.min(v), hi.max(v))
        }
    })
}

/// Probes the landscape of `objective` along its gradient at `w`, at `η = s·lr` for every
/// `s` in `multiples`. A loss or gradient that is not finite (a network that diverged) makes the
/// bands and the smoothness it enters NaN: recorded, not an error.
pub fn landscape(
    objective: &mut dyn Objective,
    w: &[f64],
    lr: f64,
    multiples: &[f64],
) -> Result<Landscape, AnalysisError> {
    let (loss, g) = objective.evaluate(w)?;
    let grad_norm = norm(&g);
    let mut losses = vec![];
    let mut grad_changes = vec![];
    let mut beta: f64 = if grad_norm.is_finite() { 0.0 } else { f64::NAN };
    for &s in multiples {
        let eta = s * lr;
        let (l, g_eta) = objective.evaluate(&axpy(w, -eta, &g))?;
        let change = norm(&axpy(&g, -1.0, &g_eta));
        losses.push((eta, l));
        grad_changes.push((eta, change));
        if grad_norm > 0.0 {
            let ratio = change / (eta * grad_norm);
            // `f64::max` would skip a NaN ratio.
            beta = if ratio.is_nan() || beta.is_nan() {
                f64::NAN
            } else {
                beta.max(ratio)
            };
        }
    }
    Ok(Landscape {
        loss,
        grad_norm,
        loss_band: band(losses.iter().map(|p| p.1)),
        grad_band: band(grad_changes.iter().map(|p| p.1)),
        losses,
        grad_changes,
        beta_smoothness: beta,
    })
}
