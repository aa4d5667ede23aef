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
//! training (the sigmoid inputs of Ioffe & Szegedy's Fig. 1b/c), and the *activation drift* of
//! one step: how far the distribution each layer hands to the next moves between `W^t` and
//! `W^{t+1}` on the same batch — Ioffe & Szegedy's "change in the distribution of network
//! activations due to the change in network parameters", per channel in mean and variance:
//!
//! ```text
//! drift_mean(ℓ) = √(mean_c (μ_c^{t+1} − μ_c^t)²) / √(mean_c (σ_c^t)²)
//! drift_var(ℓ)  = √(mean_c (ln σ_c^{t+1}² − ln σ_c^t²)²)
//! ```
//!
//! (moments over the batch and spatial positions; scale-free, so networks with and without a
//! normalizer compare). Each forward runs with the noise of its own step (a noisy BatchNorm
//! draws new noise every step: that change is what it injects), on a copy of the network so that
//! the running statistics of the run are untouched.

use burn::module::Module;
use burn::tensor::{Int, Tensor};
use normscope_core::Mode;
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::models::{NetworkConfig, ParamLayout, Probe, Site};
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

/// How far one layer's output distribution moved in one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerDrift {
    /// Index among the hidden representations ([`Site::Hidden`]).
    pub layer: usize,
    /// RMS over channels of the change of the channel means, over the RMS channel std before.
    pub mean: f64,
    /// RMS over channels of the change of the log channel variances.
    pub variance: f64,
}

impl LayerDrift {
    /// Both changes as one number, `√(drift_mean² + drift_var²)`.
    pub fn total(&self) -> f64 {
        self.mean.hypot(self.variance)
    }
}

/// One hidden representation's per-channel means and variances, each of length `C`.
type ChannelMoments = (Vec<f64>, Vec<f64>);

/// Per-channel means and variances of every hidden representation of `network` (a copy of the
/// trained model) on `x`, in train mode, with the device's generator seeded to `noise_seed`.
fn hidden_moments(
    config: &NetworkConfig,
    trainer: &Trainer,
    x: &Tensor<4>,
    noise_seed: u64,
) -> Result<Vec<ChannelMoments>, AnalysisError> {
    let device = trainer.device().clone().inner();
    let model = config
        .init(&device)?
        .load_record(trainer.model.clone().into_record());
    device.seed(noise_seed);
    let mut probe = Probe::values();
    model.forward(x.clone().to_device(&device), Mode::Train, &mut probe)?;
    Ok(probe
        .at(Site::Hidden)
        .map(|o| {
            let [n, c, h, w] = o.value.dims();
            // [C, N·H·W]
            let per_channel = o.value.clone().swap_dims(0, 1).reshape([c, n * h * w]);
            let mean = per_channel.clone().mean_dim(1);
            let var = (per_channel - mean.clone()).square().mean_dim(1);
            let values = |t: Tensor<2>| -> Vec<f64> {
                t.into_data().iter::<f32>().map(|v| v as f64).collect()
            };
            (values(mean), values(var))
        })
        .collect())
}

/// The drift of every hidden representation between the moments `before` and `after`.
pub fn activation_drift(
    before: &[(Vec<f64>, Vec<f64>)],
    after: &[(Vec<f64>, Vec<f64>)],
) -> Vec<LayerDrift> {
    let rms = |v: &mut dyn Iterator<Item = f64>| {
        let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x * x, n + 1));
        (sum / n.max(1) as f64).sqrt()
    };
    before
        .iter()
        .zip(after)
        .enumerate()
        .map(|(layer, ((m0, v0), (m1, v1)))| {
            let scale = rms(&mut v0.iter().map(|v| v.max(0.0).sqrt()));
            LayerDrift {
                layer,
                mean: rms(&mut m0.iter().zip(m1).map(|(a, b)| b - a)) / scale,
                variance: rms(&mut v0
                    .iter()
                    .zip(v1)
                    .map(|(a, b)| (b.max(1e-30)).ln() - (a.max(1e-30)).ln())),
            }
        })
        .collect()
}

/// The activation drift around one training step: the moments at `W^t` with step `t`'s noise
/// ([`DriftProbe::new`]), then at `W^{t+1}` with step `t + 1`'s ([`DriftProbe::after`]), on the
/// step's batch.
pub struct DriftProbe {
    config: NetworkConfig,
    x: Tensor<4>,
    before: Vec<(Vec<f64>, Vec<f64>)>,
}

impl DriftProbe {
    /// Before the step the trainer is about to take on `x`.
    pub fn new(
        config: &NetworkConfig,
        trainer: &Trainer,
        x: &Tensor<4>,
    ) -> Result<DriftProbe, AnalysisError> {
        let before = hidden_moments(config, trainer, x, trainer.noise_seed(trainer.step))?;
        Ok(DriftProbe {
            config: config.clone(),
            x: x.clone(),
            before,
        })
    }

    /// Every hidden representation's drift, with the trainer's weights after the step.
    pub fn after(self, trainer: &Trainer) -> Result<Vec<LayerDrift>, AnalysisError> {
        let after = hidden_moments(
            &self.config,
            trainer,
            &self.x,
            trainer.noise_seed(trainer.step),
        )?;
        Ok(activation_drift(&self.before, &after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drift_is_scale_free_and_zero_without_a_change() {
        let before = vec![(vec![0.0, 2.0], vec![1.0, 4.0])];
        assert_eq!(activation_drift(&before, &before)[0].total(), 0.0);
        // Means moved by (1, 1) against an RMS std of √2.5; variances doubled.
        let after = vec![(vec![1.0, 3.0], vec![2.0, 8.0])];
        let d = &activation_drift(&before, &after)[0];
        assert!((d.mean - 1.0 / 2.5f64.sqrt()).abs() < 1e-12);
        assert!((d.variance - 2f64.ln()).abs() < 1e-12);
        // The same change, every value ×10: the same drift.
        let scaled = |m: &[(Vec<f64>, Vec<f64>)]| -> Vec<(Vec<f64>, Vec<f64>)> {
            m.iter()
                .map(|(mu, var)| {
                    (
                        mu.iter().map(|x| 10.0 * x).collect(),
                        var.iter().map(|x| 100.0 * x).collect(),
                    )
                })
                .collect()
        };
        let e = &activation_drift(&scaled(&before), &scaled(&after))[0];
        assert!((e.mean - d.mean).abs() < 1e-12 && (e.variance - d.variance).abs() < 1e-12);
    }
}
