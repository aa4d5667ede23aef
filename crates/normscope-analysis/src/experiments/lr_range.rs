//! The learning-rate range (Bjorck et al. 2018): final loss or divergence on a grid of learning
//! rates, with and without normalization.

use burn::tensor::Device;
use indicatif::ProgressBar;
use normscope_core::NormConfig;
use serde::{Deserialize, Serialize};

use super::training::{Setup, train_curves};
use super::{
    Csv, Experiment, Points, Results, at_least, check_norms, check_training, labels_in, not_empty,
};
use crate::AnalysisError;
use crate::error::positive_finite;
use crate::metrics::lr_range::{LrOutcome, LrSummary, Stability, largest_stable};
use crate::output::{Chart, Figure, Section, Series, Table};

/// What this example calls a stable learning rate: within 2× of the best final loss of the grid,
/// no run diverged. The report uses [`Stability::BelowChance`] instead, since its grid is judged
/// for whether a network learns at all (`docs/metrics.md`, "Learning-rate range").
pub const STABILITY: Stability = Stability::WithinFactorOfBest(2.0);

/// The experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LrRangeConfig {
    /// Network, data, optimizer (its `lr` is replaced by each rate of the grid).
    pub setup: Setup,
    /// Normalizers compared.
    pub norms: Vec<NormConfig>,
    /// Learning rates.
    pub lrs: Vec<f64>,
    /// Loss target for the steps-to-target count.
    pub target_loss: f64,
    /// Window of the running mean for the final loss and the target.
    pub window: usize,
    /// Seeds.
    pub seeds: usize,
}

impl Default for LrRangeConfig {
    fn default() -> Self {
        let mut setup = Setup::default();
        setup.train.steps = 150;
        LrRangeConfig {
            setup,
            norms: vec![NormConfig::Identity, NormConfig::default()],
            lrs: vec![0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
            target_loss: 0.5,
            window: 10,
            seeds: 1,
        }
    }
}

/// One (normalizer, rate, seed) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrPoint {
    /// Normalizer label.
    pub norm: String,
    /// Seed.
    pub seed: u64,
    /// The outcome.
    pub outcome: LrOutcome,
    /// Training losses.
    pub losses: Vec<f64>,
}

/// The grid's configuration and every (normalizer, rate, seed) run.
pub type LrRangeResults = Points<LrRangeConfig, LrPoint>;

impl Experiment for LrRangeConfig {
    const NAME: &'static str = "lr_range";
    const LABEL: &'static str = "learning-rate range";
    type Results = LrRangeResults;

    fn measure(&self, device: &Device, bar: &ProgressBar) -> Result<Self::Results, AnalysisError> {
        let (train, test) = self.setup.data.load()?;
        let mut points = vec![];
        bar.set_length((self.norms.len() * self.lrs.len() * self.seeds) as u64);
        for norm in &self.norms {
            let network = self.setup.network_for(&train, norm);
            for &lr in &self.lrs {
                for s in 0..self.seeds {
                    let seed = self.setup.train.seed + s as u64;
                    bar.set_message(format!("{} lr {lr}", norm.label()));
                    let train_config = crate::train::TrainConfig {
                        lr,
                        seed,
                        ..self.setup.train.clone()
                    };
                    let curves = train_curves(
                        &norm.label(),
                        &network,
                        &train_config,
                        &train,
                        &test,
                        0,
                        device,
                        |_| Ok(()),
                    )?;
                    points.push(LrPoint {
                        norm: norm.label(),
                        seed,
                        outcome: LrOutcome::new(
                            lr,
                            curves.run.outcome(self.target_loss, self.window),
                        ),
                        losses: curves.run.losses,
                    });
                    bar.inc(1);
                }
            }
        }
        Ok(LrRangeResults {
            config: self.clone(),
            points,
        })
    }

    fn validate(&self) -> Result<(), AnalysisError> {
        check_norms("norms", &self.norms)?;
        not_empty("lrs", &self.lrs)?;
        for (i, &lr) in self.lrs.iter().enumerate() {
            positive_finite(format!("lrs[{i}]"), lr)?;
        }
        positive_finite("target_loss", self.target_loss)?;
        at_least("window", self.window, 1)?;
        check_training(&self.setup, self.seeds)
    }

    super::seeds!(training);
}

impl Results for LrRangeResults {
    fn section(&self) -> Section {
        let config = &self.config;
        let mut table = Table::new(&["norm", "lr", "final loss", "diverged", "steps to target"]);
        let mut chart = Chart::new(
            "Final training loss by learning rate (gaps: diverged)",
            "learning rate",
            "final loss",
        )
        .log_x()
        .log_y();
        let mut stable = vec![];
        for label in labels_in(&self.points, |p| p.norm.as_str()) {
            let outcomes: Vec<LrOutcome> = self
                .points
                .iter()
                .filter(|p| p.norm == label)
                .map(|p| p.outcome.clone())
                .collect();
            for o in &outcomes {
                table.row(vec![
                    label.to_string(),
                    format!("{}", o.lr),
                    if o.diverged {
                        "—".into()
                    } else {
                        format!("{:.4}", o.final_loss)
                    },
                    o.diverged.to_string(),
                    o.steps_to_target
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "—".into()),
                ]);
            }
            stable.push(format!(
                "{label}: largest stable learning rate ({}): {}.",
                STABILITY.describe(),
                largest_stable(&LrSummary::of(&outcomes), STABILITY)
                    .map(|lr| lr.to_string())
                    .unwrap_or_else(|| "none".into())
            ));
            chart.push(Series::line(
                label,
                outcomes
                    .iter()
                    .filter(|o| !o.diverged)
                    .map(|o| (o.lr, o.final_loss))
                    .collect(),
            ));
        }
        let mut section = Section::new(
            <LrRangeConfig as Experiment>::NAME,
            "The learning-rate range",
        )
        .paragraph(format!(
            "{} steps per run (target loss {}):",
            config.setup.train.steps, config.target_loss
        ))
        .table(table);
        for line in stable {
            section = section.paragraph(line);
        }
        section
            .paragraph(
                "Bjorck et al. 2018: BatchNorm primarily enables training with larger learning rates.",
            )
            .figure(Figure::new(
                "lr_range",
                "Final training loss against the learning rate; a diverged run leaves a gap.",
                chart,
            ))
    }

    fn csv(&self) -> Csv {
        Csv::of(
            &[
                "norm",
                "seed",
                "lr",
                "final_loss",
                "diverged",
                "steps_to_target",
            ],
            &self.points,
            |p| {
                let o = &p.outcome;
                vec![
                    p.norm.clone(),
                    p.seed.to_string(),
                    o.lr.to_string(),
                    o.final_loss.to_string(),
                    o.diverged.to_string(),
                    o.steps_to_target.map(|s| s.to_string()).unwrap_or_default(),
                ]
            },
        )
    }
}
