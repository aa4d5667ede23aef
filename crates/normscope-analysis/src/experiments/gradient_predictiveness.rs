//! The loss landscape along the gradient during training (Santurkar et al. 2018, Fig. 4): at
//! chosen steps of a run, the loss band, the gradient-predictiveness band and the effective
//! β-smoothness, with and without normalization.

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::{Mode, NormConfig};
use serde::{Deserialize, Serialize};

use super::training::{Curves, Setup, for_each_run, labelled, loss_figure, train_curves};
use super::{Csv, Experiment, Results, Stat, check_norms, check_training, labels_in, not_empty};
use crate::AnalysisError;
use crate::error::positive_finite;
use crate::metrics::gradient_predictiveness::{Landscape, default_multiples, landscape};
use crate::output::{Chart, Figure, Section, Series, Table};
use crate::train::BatchObjective;

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradientPredictivenessConfig {
    /// Network, data, optimizer.
    pub setup: Setup,
    /// Normalizers compared.
    pub norms: Vec<NormConfig>,
    /// Probe the landscape every this many steps (and before the first step).
    pub probe_every: usize,
    /// Steps along the gradient as multiples of the learning rate.
    pub multiples: Vec<f64>,
    /// Seeds.
    pub seeds: usize,
}

impl Default for GradientPredictivenessConfig {
    fn default() -> Self {
        let mut setup = Setup::default();
        setup.train.steps = 150;
        setup.train.lr = 0.05;
        GradientPredictivenessConfig {
            setup,
            norms: vec![NormConfig::Identity, NormConfig::default()],
            probe_every: 50,
            multiples: default_multiples(),
            seeds: 2,
        }
    }
}

/// One probe of the landscape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandscapePoint {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// Training step at which it was taken.
    pub step: usize,
    /// The landscape.
    pub landscape: Landscape,
}

/// The experiment's configuration, the landscape probes and the training curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientPredictivenessResults {
    /// What ran.
    pub config: GradientPredictivenessConfig,
    /// Every probe.
    pub points: Vec<LandscapePoint>,
    /// Every run's curves.
    pub runs: Vec<Curves>,
}

impl Experiment for GradientPredictivenessConfig {
    const NAME: &'static str = "gradient_predictiveness";
    const LABEL: &'static str = "gradient predictiveness";
    type Results = GradientPredictivenessResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        let (train, test) = self.setup.data.load()?;
        let mut points = vec![];
        let mut runs = vec![];
        bar.set_length((self.norms.len() * self.seeds * self.setup.train.steps) as u64);
        let norms = labelled(&self.norms);
        for_each_run(
            &self.setup,
            &train,
            &norms,
            self.seeds,
            bar,
            |label, network, train_config| {
                let seed = train_config.seed;
                let mut probe = |trainer: &mut crate::train::Trainer| -> Result<(), AnalysisError> {
                    if trainer.step == 1 || trainer.step.is_multiple_of(self.probe_every.max(1)) {
                        let indices = trainer.next_batch(&train);
                        let (x, y) = train.batch(&indices, trainer.device());
                        let mut objective =
                            BatchObjective::new(network, &trainer.model, x, y, Mode::Train, seed)?;
                        let w = objective.point();
                        let l = landscape(&mut objective, &w, trainer.lr(), &self.multiples)?;
                        points.push(LandscapePoint {
                            norm: label.to_string(),
                            seed,
                            step: trainer.step,
                            landscape: l,
                        });
                    }
                    bar.inc(1);
                    Ok(())
                };
                runs.push(train_curves(
                    label,
                    network,
                    &train_config,
                    &train,
                    &test,
                    0,
                    device,
                    &mut probe,
                )?);
                Ok(())
            },
        )?;
        Ok(GradientPredictivenessResults {
            config: self.clone(),
            points,
            runs,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        check_norms("norms", &self.norms)?;
        not_empty("multiples", &self.multiples)?;
        for (i, &m) in self.multiples.iter().enumerate() {
            positive_finite(format!("multiples[{i}]"), m)?;
        }
        check_training(&self.setup, self.seeds)
    }

    super::seeds!(training);
}

/// The probe steps, ascending, each once.
fn steps_of(points: &[LandscapePoint]) -> Vec<usize> {
    let mut steps: Vec<usize> = points.iter().map(|p| p.step).collect();
    steps.sort();
    steps.dedup();
    steps
}

/// Per normalizer, `f` of the landscape at each probe step (mean over seeds), against step + 1
/// on a log axis.
fn probe_chart(chart: Chart, points: &[LandscapePoint], f: fn(&Landscape) -> f64) -> Chart {
    let steps = steps_of(points);
    let mut chart = chart
        .log_x()
        .log_y()
        .integer_x()
        .with_x_ticks(steps.iter().map(|&s| s as f64 + 1.0).collect());
    for label in labels_in(points, |p| p.norm.as_str()) {
        let at: Vec<(f64, Stat)> = steps
            .iter()
            .filter_map(|&step| {
                let v: Vec<f64> = points
                    .iter()
                    .filter(|p| p.norm == label && p.step == step)
                    .map(|p| f(&p.landscape))
                    .collect();
                (!v.is_empty()).then(|| (step as f64 + 1.0, Stat::of(&v)))
            })
            .collect();
        chart.push(
            Series::line(label, at.iter().map(|(x, s)| (*x, s.mean)).collect()).with_y_errors(
                at.iter()
                    .map(|(x, s)| {
                        let (lo, hi) = s.band();
                        (*x, lo, hi)
                    })
                    .collect(),
            ),
        );
    }
    chart
}

/// The effective β-smoothness along the gradient at each probe step, per normalizer: in the
/// example and in the report.
pub fn beta_figure(points: &[LandscapePoint]) -> Figure {
    Figure::new(
        "beta_smoothness",
        "Effective β-smoothness along the gradient at each probe step (mean ± std over seeds; step + 1 on a log axis).",
        probe_chart(
            Chart::new(
                "Effective β-smoothness at the probe steps",
                "step + 1",
                "max ‖Δ∇L‖ / ‖ηg‖",
            ),
            points,
            |l| l.beta_smoothness,
        ),
    )
}

impl GradientPredictivenessResults {
    /// Per normalizer and probe step, over seeds: the loss band's width, the largest gradient
    /// change and the β-smoothness.
    fn per_step(&self) -> Vec<(&str, usize, [Stat; 3])> {
        let mut rows = vec![];
        for label in labels_in(&self.points, |p| p.norm.as_str()) {
            for step in steps_of(&self.points) {
                let at: Vec<&Landscape> = self
                    .points
                    .iter()
                    .filter(|p| p.norm == label && p.step == step)
                    .map(|p| &p.landscape)
                    .collect();
                if at.is_empty() {
                    continue;
                }
                let stat = |f: fn(&Landscape) -> f64| {
                    Stat::of(&at.iter().map(|l| f(l)).collect::<Vec<_>>())
                };
                rows.push((
                    label,
                    step,
                    [
                        stat(|l| l.loss_band.1 - l.loss_band.0),
                        stat(|l| l.grad_band.1),
                        stat(|l| l.beta_smoothness),
                    ],
                ));
            }
        }
        rows
    }
}

impl Results for GradientPredictivenessResults {
    fn section(&self) -> Section {
        let config = &self.config;
        let table = Table::of(
            &[
                "norm",
                "step",
                "loss band (max−min)",
                "‖∇L(w)−∇L(w−ηg)‖ max",
                "β-smoothness",
            ],
            self.per_step(),
            |(label, step, [band, grad, beta])| {
                vec![
                    label.to_string(),
                    step.to_string(),
                    band.show(4),
                    grad.show(4),
                    beta.show(3),
                ]
            },
        );
        GradientPredictivenessConfig::new_section("Gradient predictiveness and smoothness")
            .paragraph(format!(
                "Landscape along the gradient, η = s·lr, s ∈ [{:.2}, {:.2}] (mean ± std over {} seeds):",
                config.multiples.iter().copied().fold(f64::INFINITY, f64::min),
                config.multiples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                config.seeds
            ))
            .table(table)
            .paragraph(
                "Santurkar et al. 2018: with BatchNorm the loss band, the gradient change and β are much smaller, most of all early in training.",
            )
            .figure(beta_figure(&self.points))
            .figure(Figure::new(
                "loss_band",
                "Variation of the loss along the gradient at each probe step (mean over seeds).",
                probe_chart(
                    Chart::new(
                        "Loss variation along the gradient (max − min of L(w − ηg))",
                        "step + 1",
                        "loss band width",
                    ),
                    &self.points,
                    |l| l.loss_band.1 - l.loss_band.0,
                ),
            ))
            .figure(loss_figure("Training loss", &self.runs, 10))
    }

    fn csv(&self) -> Csv {
        Csv::of(
            &[
                "norm",
                "step",
                "loss_band_width",
                "grad_change_max",
                "beta_smoothness",
            ],
            self.per_step(),
            |(label, step, stats)| {
                let mut row = vec![label.to_string(), step.to_string()];
                row.extend(stats.iter().map(|s| s.mean.to_string()));
                row
            },
        )
    }
}
