//! Each normalizer of the battery summarised over its seeds: training speed, test accuracy and
//! every explanation's metric, with the per-seed values the effect sizes resample.

use serde::{Deserialize, Serialize};

use crate::metrics::internal_covariate_shift::LayerShift;
use crate::report::config::ReportConfig;
use crate::report::explanation::Explanation;
use crate::report::units::measure::{InitUnit, TrainUnit, Units};
use crate::stats::{Stat, finite, finite_mean};

/// One normalizer, summarised over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormSummary {
    /// Label.
    pub label: String,
    /// Steps to the target loss (runs that never reached it count as `steps + 1`).
    pub steps_to_target: Stat,
    /// Runs that reached the target.
    pub reached: usize,
    /// Mean training loss over the last 10 steps.
    pub final_loss: Stat,
    /// Test accuracy at the end (running statistics as trained).
    pub test_accuracy: Stat,
    /// Test accuracy at the end after re-estimating the running statistics at the final weights.
    pub test_accuracy_recalibrated: Stat,
    /// Runs that diverged.
    pub diverged: usize,
    /// Seeds whose activations were not finite at initialization.
    #[serde(default)]
    pub non_finite_at_init: usize,
    /// Internal covariate shift: `‖G − G′‖/‖G‖`, mean over probes and layers.
    pub covariate_shift: Stat,
    /// Santurkar et al.'s Definition 2.1 as the paper states it, `‖G − G′‖₂`, mean over probes
    /// and layers.
    pub covariate_shift_abs: Stat,
    /// `cos(G, G′)`, mean over probes and layers.
    pub shift_cosine: Stat,
    /// Activation drift per step (mean and variance of each layer's output), mean over probes
    /// and layers.
    #[serde(default = "no_stat")]
    pub activation_drift: Stat,
    /// Effective β-smoothness, mean over probes.
    pub beta_smoothness: Stat,
    /// Width of the loss band along the gradient, mean over probes.
    pub loss_band: Stat,
    /// Branch share of the block output variance at initialization, mean over blocks.
    pub branch_share: Stat,
    /// Effective rank of the last block's output at initialization, over the batch size.
    pub rank: Stat,
}

impl NormSummary {
    /// The metric of `explanation`.
    pub fn metric(&self, explanation: Explanation) -> Stat {
        match explanation {
            Explanation::CovariateShift => self.covariate_shift,
            Explanation::Smoothness => self.beta_smoothness,
            Explanation::IdentityBias => self.branch_share,
            Explanation::RankCollapse => self.rank,
        }
    }
}

fn no_stat() -> Stat {
    Stat::of(&[])
}

/// One value per seed of every metric of one normalizer (non-finite values dropped): what the
/// bootstrap resamples.
#[derive(Debug, Clone, PartialEq)]
pub struct Seeds {
    /// Final training loss.
    pub final_loss: Vec<f64>,
    /// `‖G − G′‖/‖G‖`.
    pub covariate_shift: Vec<f64>,
    /// `‖G − G′‖₂`.
    pub covariate_shift_abs: Vec<f64>,
    /// β-smoothness.
    pub beta_smoothness: Vec<f64>,
    /// Branch share.
    pub branch_share: Vec<f64>,
    /// Effective rank / N.
    pub rank: Vec<f64>,
}

impl Seeds {
    /// The per-seed values of `explanation`'s metric.
    pub fn metric(&self, explanation: Explanation) -> &[f64] {
        match explanation {
            Explanation::CovariateShift => &self.covariate_shift,
            Explanation::Smoothness => &self.beta_smoothness,
            Explanation::IdentityBias => &self.branch_share,
            Explanation::RankCollapse => &self.rank,
        }
    }
}

/// `f` of every layer of every covariate-shift probe of a run, averaged (finite values).
pub fn shift_of(unit: &TrainUnit, f: &dyn Fn(&LayerShift) -> f64) -> f64 {
    finite_mean(
        &unit
            .shifts
            .iter()
            .flat_map(|(_, layers)| layers.iter().map(f))
            .collect::<Vec<_>>(),
    )
}

/// The relative gradient shift `‖G − G′‖/‖G‖` of a run: the covariate-shift metric.
pub fn relative_shift(unit: &TrainUnit) -> f64 {
    shift_of(unit, &|l| l.l2 / l.grad_norm.max(1e-30))
}

/// The activation drift of a run: `√(drift_mean² + drift_var²)` of every hidden representation
/// at every probe step, averaged (Ioffe & Szegedy's internal covariate shift, per step).
pub fn activation_drift(unit: &TrainUnit) -> f64 {
    finite_mean(
        &unit
            .drifts
            .iter()
            .flat_map(|(_, layers)| layers.iter().map(|l| l.total()))
            .collect::<Vec<_>>(),
    )
}

/// The absolute shift `‖G − G′‖₂` of a run (Definition 2.1 as stated).
pub fn absolute_shift(unit: &TrainUnit) -> f64 {
    shift_of(unit, &|l| l.l2)
}

/// The mean branch share over the blocks of an at-initialization unit.
pub fn branch_share(unit: &InitUnit) -> f64 {
    finite_mean(
        &unit
            .blocks
            .iter()
            .map(|b| b.branch_share)
            .collect::<Vec<_>>(),
    )
}

/// Effective rank of the last block's output over the batch size `n`.
pub fn last_rank(unit: &InitUnit, n: usize) -> Option<f64> {
    unit.ranks.last().map(|r| r.effective_rank / n as f64)
}

/// Every normalizer of the battery, summarised, with its per-seed values, in the battery's order.
pub fn summarize_norms(config: &ReportConfig, units: &Units) -> (Vec<NormSummary>, Vec<Seeds>) {
    config
        .normalizers
        .iter()
        .map(|entry| {
            let train: Vec<&TrainUnit> = units
                .train
                .iter()
                .filter(|u| u.label == entry.label)
                .collect();
            let init: Vec<&InitUnit> = units
                .init
                .iter()
                .filter(|u| u.label == entry.label)
                .collect();
            let per = |f: &dyn Fn(&TrainUnit) -> f64| finite(train.iter().map(|u| f(u)));
            let per_probe = |f: &dyn Fn(&TrainUnit) -> Vec<f64>| per(&|u| finite_mean(&f(u)));
            let seeds = Seeds {
                final_loss: per(&|u| u.final_loss),
                covariate_shift: per(&relative_shift),
                covariate_shift_abs: per(&absolute_shift),
                beta_smoothness: per_probe(&|u| {
                    u.landscape.iter().map(|(_, l)| l.beta_smoothness).collect()
                }),
                branch_share: finite(init.iter().map(|u| branch_share(u))),
                rank: finite(init.iter().filter_map(|u| last_rank(u, config.init_batch))),
            };
            let never = (config.train.steps + 1) as f64;
            let summary = NormSummary {
                label: entry.label.clone(),
                steps_to_target: Stat::of(
                    &train
                        .iter()
                        .map(|u| u.steps_to_target.map_or(never, |s| s as f64))
                        .collect::<Vec<_>>(),
                ),
                reached: train.iter().filter(|u| u.steps_to_target.is_some()).count(),
                final_loss: Stat::of(&seeds.final_loss),
                test_accuracy: Stat::of(&per(&|u| u.test_accuracy)),
                test_accuracy_recalibrated: Stat::of(&per(&|u| u.test_accuracy_recalibrated)),
                diverged: train.iter().filter(|u| u.diverged_at.is_some()).count(),
                non_finite_at_init: init.iter().filter(|u| u.non_finite).count(),
                covariate_shift: Stat::of(&seeds.covariate_shift),
                covariate_shift_abs: Stat::of(&seeds.covariate_shift_abs),
                shift_cosine: Stat::of(&per(&|u| shift_of(u, &|l| l.cosine))),
                activation_drift: Stat::of(&per(&activation_drift)),
                beta_smoothness: Stat::of(&seeds.beta_smoothness),
                loss_band: Stat::of(&per_probe(&|u| {
                    u.landscape
                        .iter()
                        .map(|(_, l)| l.loss_band.1 - l.loss_band.0)
                        .collect()
                })),
                branch_share: Stat::of(&seeds.branch_share),
                rank: Stat::of(&seeds.rank),
            };
            (summary, seeds)
        })
        .unzip()
}
