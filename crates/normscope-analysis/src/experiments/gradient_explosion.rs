//! Gradient explosion in BN networks at initialization (Yang et al. 2019): per-layer gradient
//! norms of deep BatchNorm MLPs for several batch sizes, and the measured per-layer growth
//! against the paper's closed forms.

use burn::tensor::{Device, Distribution, Int, Tensor};
use indicatif::ProgressBar;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::{Csv, Experiment, Points, Results, Stat, at_least, gaussian, not_empty};
use crate::AnalysisError;
use crate::metrics::gradient_explosion::{
    LayerGradient, gradient_norms, linear_growth, mean_growth, relu_growth_limit,
};
use crate::models::{Activation, MlpConfig, Probe};
use crate::output::{Chart, Figure, Section, Series, Table};
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

/// The sweep's configuration and its growth per (activation, batch size).
pub type GradientExplosionResults = Points<GradientExplosionConfig, GrowthPoint>;

impl Experiment for GradientExplosionConfig {
    const NAME: &'static str = "gradient_explosion";
    const LABEL: &'static str = "gradient explosion";
    type Results = GradientExplosionResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        bar.set_length((self.activations.len() * self.batch_sizes.len() * self.seeds) as u64);
        let mut points = vec![];
        for &activation in &self.activations {
            for &batch_size in &self.batch_sizes {
                let mlp = MlpConfig {
                    input: self.width,
                    width: self.width,
                    depth: self.depth,
                    classes: 10,
                    activation,
                    norm: self.norm.clone(),
                    bias: false,
                    ..Default::default()
                };
                let mut growths = vec![];
                let mut logs = vec![0.0; self.depth];
                for s in 0..self.seeds {
                    bar.set_message(format!("{activation:?} B={batch_size}"));
                    let layers = layer_gradients(&mlp, batch_size, self.seed + s as u64, device)?;
                    growths.push(mean_growth(&layers, self.skip_layers));
                    for (l, g) in layers.iter().enumerate() {
                        logs[l] += g.grad_norm_sq.ln() / self.seeds as f64;
                    }
                    bar.inc(1);
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
        Ok(GradientExplosionResults {
            config: self.clone(),
            points,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        self.norm.validate()?;
        not_empty("activations", &self.activations)?;
        not_empty("batch_sizes", &self.batch_sizes)?;
        for &b in &self.batch_sizes {
            // (B − 2)/(B − 3), the linear network's growth, needs B ≥ 4.
            at_least("batch_sizes", b, 4)?;
        }
        at_least("width", self.width, 1)?;
        at_least("depth", self.depth, 2 * self.skip_layers + 1)?;
        at_least("seeds", self.seeds, 1)
    }

    super::seeds!(at_initialization);
}

impl Results for GradientExplosionResults {
    fn section(&self) -> Section {
        let config = &self.config;
        let mut table = Table::new(&["activation", "batch", "growth per layer", "Yang et al."]);
        let mut chart = Chart::new(
            "Gradient norm by layer at initialization (BN MLP)",
            "layer",
            "‖∂L/∂h_ℓ‖²",
        )
        .log_y();
        for p in &self.points {
            table.row(vec![
                p.activation.name().into(),
                p.batch_size.to_string(),
                p.growth.show(3),
                format!("{:.3}", p.theory),
            ]);
            chart.push(Series::line(
                format!("{} B={}", p.activation.name(), p.batch_size),
                p.log_grad_norm_sq
                    .iter()
                    .enumerate()
                    .map(|(l, v)| (l as f64, v.exp()))
                    .collect(),
            ));
        }
        GradientExplosionConfig::new_section("Gradient explosion at initialization")
            .paragraph(format!(
                "Growth of ‖∂L/∂h_ℓ‖² per layer toward the input (geometric mean over layers {}..{}), mean ± std over {} seeds:",
                config.skip_layers,
                config.depth - config.skip_layers,
                config.seeds
            ))
            .table(table)
            .paragraph("Yang et al. 2019: ReLU → π/(π−1) ≈ 1.467 as B → ∞; linear: (B−2)/(B−3).")
            .figure(Figure::new(
                "gradient_norms",
                "‖∂L/∂h_ℓ‖² of each layer of a BatchNorm MLP at initialization (geometric mean over seeds).",
                chart,
            ))
    }

    fn csv(&self) -> Csv {
        Csv::of(
            &["activation", "batch_size", "growth", "growth_std", "theory"],
            &self.points,
            |p| {
                vec![
                    p.activation.name().into(),
                    p.batch_size.to_string(),
                    p.growth.mean.to_string(),
                    p.growth.std.to_string(),
                    p.theory.to_string(),
                ]
            },
        )
    }
}
