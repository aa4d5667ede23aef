//! Gradient explosion in BN networks at initialization (Yang et al. 2019): per-layer gradient
//! norms of deep BatchNorm MLPs for several batch sizes, and the measured per-layer growth
//! against the paper's closed forms.

use burn::tensor::{Device, Distribution, Int, Tensor};
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::{Stat, gaussian};
use crate::AnalysisError;
use crate::metrics::gradient_explosion::{
    LayerGradient, gradient_norms, linear_growth, mean_growth, relu_growth_limit,
};
use crate::models::{Activation, MlpConfig, Probe};
use crate::train::cross_entropy;

/// The sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradientExplosionConfig {
    /// Normalizer of every layer (BatchNorm in the paper).
    pub norm: NormConfig,
    /// Nonlinearities.
    pub activations: Vec<Activation>,
    /// Batch sizes `B`.
    pub batch_sizes: Vec<usize>,
    /// Width.
    pub width: usize,
    /// Hidden layers.
    pub depth: usize,
    /// Layers skipped at each end when averaging the growth (transients).
    pub skip_layers: usize,
    /// Seeds averaged over.
    pub seeds: usize,
    /// First seed.
    pub seed: u64,
}

impl Default for GradientExplosionConfig {
    fn default() -> Self {
        GradientExplosionConfig {
            norm: NormConfig::default(),
            activations: vec![Activation::Relu, Activation::Linear],
            batch_sizes: vec![8, 16, 32, 64, 128],
            width: 256,
            depth: 24,
            skip_layers: 3,
            seeds: 4,
            seed: 0,
        }
    }
}

/// One (activation, batch size) setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrowthPoint {
    /// Nonlinearity.
    pub activation: Activation,
    /// Batch size.
    pub batch_size: usize,
    /// Measured per-layer growth (geometric mean over the middle layers), over seeds.
    pub growth: Stat,
    /// Yang et al.'s prediction: `π/(π−1)` for ReLU (the `B → ∞` limit), `(B−2)/(B−3)` linear.
    pub theory: f64,
    /// `log ‖∂L/∂h_ℓ‖²` per layer, averaged over seeds.
    pub log_grad_norm_sq: Vec<f64>,
}

/// Per-layer gradient norms of one network at initialization, for a cross-entropy loss on random
/// labels of `N(0, 1)` inputs.
pub fn layer_gradients(
    config: &MlpConfig,
    batch_size: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<LayerGradient>, AnalysisError> {
    let device = device.clone().autodiff();
    device.seed(seed);
    let model = config.init(&device)?;
    let x = gaussian([batch_size, config.input, 1, 1], &device);
    let labels = Tensor::<1>::random(
        [batch_size],
        Distribution::Uniform(0.0, config.classes as f64),
        &device,
    )
    .floor()
    .int()
    .clamp(0, config.classes as i64 - 1);
    let labels: Tensor<1, Int> = labels;
    let mut probe = Probe::with_gradients();
    let logits = model.forward(x, Mode::Train, &mut probe)?;
    let grads = cross_entropy(logits, labels).backward();
    Ok(gradient_norms(&probe, &grads))
}

/// Runs the sweep.
pub fn run(
    config: &GradientExplosionConfig,
    device: &Device,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<GrowthPoint>, AnalysisError> {
    config.norm.validate()?;
    progress
        .set_length((config.activations.len() * config.batch_sizes.len() * config.seeds) as u64);
    let mut points = vec![];
    for &activation in &config.activations {
        for &batch_size in &config.batch_sizes {
            let mlp = MlpConfig {
                input: config.width,
                width: config.width,
                depth: config.depth,
                classes: 10,
                activation,
                norm: config.norm.clone(),
                bias: false,
                ..Default::default()
            };
            let mut growths = vec![];
            let mut logs = vec![0.0; config.depth];
            for s in 0..config.seeds {
                progress.set_message(format!("{activation:?} B={batch_size}"));
                let layers = layer_gradients(&mlp, batch_size, config.seed + s as u64, device)?;
                growths.push(mean_growth(&layers, config.skip_layers));
                for (l, g) in layers.iter().enumerate() {
                    logs[l] += g.grad_norm_sq.ln() / config.seeds as f64;
                }
                progress.inc(1);
            }
            points.push(GrowthPoint {
                activation,
                batch_size,
                growth: Stat::of(&growths),
                theory: match activation {
                    Activation::Linear => linear_growth(batch_size),
                    _ => relu_growth_limit(),
                },
                log_grad_norm_sq: logs,
            });
        }
    }
    Ok(points)
}
