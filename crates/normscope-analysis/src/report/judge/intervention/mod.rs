//! The interventions, judged: one experiment per explanation that changes its mechanism with the
//! rest held fixed, run the way its paper runs it, judged on the outcome the explanation
//! predicts (`docs/metrics.md`, "Interventions"):
//!
//! | explanation | intervention ([`InterventionKind`]) | the explanation predicts |
//! |---|---|---|
//! | covariate shift | noise after every BatchNorm (more activation drift, BN kept; [`noise`](mod@noise)) | noisy BN loses most of BN's advantage |
//! | smoothness | a learning-rate grid with and without BN (Bjorck et al. 2018; [`learning_rates`](mod@learning_rates)) | BN trains at learning rates where the unnormalized network does not |
//! | identity bias | SkipInit vs BN, each at its best learning rate, across depths, budgets, batch sizes (De & Smith 2020; [`identity_bias`](mod@identity_bias)) | SkipInit recovers most of BN's advantage |
//! | rank collapse | plain MLPs, vanilla vs BN vs rank-pre-trained vanilla (Daneshmand et al. 2020; [`rank`]) | pre-training recovers most of BN's advantage |
//!
//! "BN's advantage" is `L_none − L_BN`, the gap in final training loss; an arm's *share* of it is
//! `(L_none − L_arm)/(L_none − L_BN)`, with Fieller's interval over seeds (Welch's for a
//! difference): t-based intervals that keep their level at three seeds, where a percentile
//! bootstrap does not (`stats::tests`). The share is judged against one half: an explanation
//! that is *the* reason BatchNorm trains faster must account for at least half of the gap.
//! Only numbers and decisions are made here; the sentences are `present::text`.

pub mod identity_bias;
pub mod learning_rates;
pub mod noise;
pub mod rank;

pub use identity_bias::identity_bias;
pub use learning_rates::learning_rates;
pub use noise::noise;
pub use rank::rank_collapse;

use serde::{Deserialize, Serialize};

use super::verdict::{Direction, Side, judge_threshold};
use crate::metrics::lr_range::Stability;
use crate::report::config::{Entry, ReportConfig};
use crate::report::explanation::{InterventionKind, Role};
use crate::report::units::GridPoint;
use crate::report::units::measure::SweepUnit;
use crate::stats::{Estimate, Stat};
use crate::train::FINAL_WINDOW;

/// The share of BatchNorm's advantage an explanation must account for.
pub const SHARE_THRESHOLD: f64 = 0.5;

/// A learning rate is stable for an arm of the report's sweep when no seed diverged and its
/// mean final loss is at most this share of the chance loss `ln C` (5% below it: the network
/// learned something; a run that hovers at chance without diverging is not training). The same
/// bound marks a *dead* baseline: an arm whose best rate stays above it did not learn.
pub const TRAINED: f64 = 0.95;

/// The final loss a diverged run counts with: the chance-level cross entropy `ln C` (no
/// progress), so that a diverged seed weighs as a failure instead of dropping out.
pub fn chance_loss(classes: usize) -> f64 {
    (classes as f64).ln()
}

/// The report's [`Stability`] criterion for `classes` classes.
pub fn stability(classes: usize) -> Stability {
    Stability::BelowChance {
        share: TRAINED,
        chance: chance_loss(classes),
    }
}

/// One arm at one grid point of a sweep, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Where.
    pub point: GridPoint,
    /// Final training loss (diverged runs at the chance loss).
    pub final_loss: Stat,
    /// Runs that diverged.
    pub diverged: usize,
    /// Runs that reached the target loss.
    pub reached: usize,
    /// Steps to the target loss (runs that never reached it count as `steps + 1`).
    pub steps_to_target: Stat,
    /// Effective rank / N of the last block (hidden layer) at the start of training.
    pub rank: Stat,
    /// Branch share at initialization (residual networks).
    pub branch_share: Stat,
}

/// One arm of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepArm {
    /// Label.
    pub label: String,
    /// Per grid point.
    pub points: Vec<SweepPoint>,
}

/// Why an intervention points the way it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Reason {
    /// An arm it needs is not in the configuration.
    NotRun {
        /// The missing arm's label.
        missing: String,
    },
    /// No grid (learning rates, depths) was configured.
    NoGrid,
    /// Fewer than [`crate::report::config::MIN_JUDGED_SEEDS`] seeds per arm.
    TooFewSeeds,
    /// BatchNorm has no significant advantage over no normalization, so there is nothing to
    /// take away or recover.
    NoAdvantage,
    /// The intervention did not move its mechanism significantly (the manipulation check), so
    /// it does not test the explanation.
    CheckFailed,
    /// Some arm trains at no learning rate of the grid.
    NoStableRate,
    /// Both arms train at the top of the grid: it does not reach the unnormalized limit.
    GridTooNarrow,
    /// The judged statistic decided.
    Judged,
}

/// An arm at its own best learning rate at one grid point (depth, budget, batch size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestRate {
    /// The arm.
    pub label: String,
    /// The rate with the lowest mean final loss over seeds (ties: the smaller rate).
    pub lr: f64,
    /// Its final losses per seed (a diverged run at the chance loss).
    pub losses: Vec<f64>,
}

impl BestRate {
    /// The mean final loss at the best rate.
    pub fn mean(&self) -> f64 {
        crate::stats::mean(&self.losses)
    }
}

/// One comparison of a sweep: at one depth (and budget, and batch size), every arm at its best
/// learning rate, BatchNorm's advantage and the share of it the tested arm recovers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Residual blocks per stage, or hidden layers.
    pub depth: usize,
    /// The budget, in steps at the battery's batch size.
    pub budget: usize,
    /// The batch size.
    pub batch_size: usize,
    /// Each arm at its best rate: `none`, `BatchNorm`, the tested arm.
    pub arms: Vec<BestRate>,
    /// `none` learned nothing at any rate (its best mean final loss above `TRAINED · ln C`): the
    /// comparison is then the tested arm against BatchNorm directly, `none` counted at chance.
    pub baseline_dead: bool,
    /// `L_none − L_BN` with its Welch interval.
    pub advantage: Estimate,
    /// `(L_none − L_arm)/(L_none − L_BN)` with Fieller's interval.
    pub share: Estimate,
}

/// The numbers an intervention's outcome rests on, besides its statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Facts {
    /// Not run.
    None,
    /// Noise after BatchNorm.
    Noise {
        /// `L_none − L_BN`.
        advantage: Estimate,
        /// The activation drift of noisy over plain BatchNorm (the manipulation check).
        drift: Estimate,
        /// Definition 2.1's relative gradient shift of noisy over plain BatchNorm, beside it.
        relative_shift: Estimate,
        /// The same for the absolute shift of Def. 2.1.
        absolute_shift: Estimate,
        /// Mean final loss of the noise without BatchNorm and of no normalization, when the
        /// battery has the control arm.
        noise_only: Option<(f64, f64)>,
    },
    /// The learning-rate range.
    LearningRates {
        /// The largest stable learning rate of each arm, by [`stability`].
        eta_none: Option<f64>,
        /// With BatchNorm.
        eta_bn: Option<f64>,
        /// At the largest rate both train at: that rate and BN's final loss over none's.
        at_common: Option<(f64, Estimate)>,
        /// Each arm's best mean final loss over the grid: `(BatchNorm, none)`.
        best: (f64, f64),
    },
    /// A sweep judged at its deepest significant depth: identity bias or rank collapse.
    Sweep {
        /// Per depth at the largest budget (and the battery's batch size).
        depths: Vec<Comparison>,
        /// At the judged depth, per budget.
        budgets: Vec<Comparison>,
        /// At the deepest depth and largest budget, per batch size.
        batch_sizes: Vec<Comparison>,
        /// The comparison judged (the deepest depth with a significant advantage, the largest
        /// budget, the battery's batch size).
        judged: Option<Comparison>,
        /// For rank pre-training: the soft rank before and after it at the judged depth.
        soft_rank: Option<(Stat, Stat)>,
    },
}

/// One intervention, measured and judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervention {
    /// Which one.
    #[serde(rename = "id")]
    pub kind: InterventionKind,
    /// The judged statistic (a share of BatchNorm's advantage; for the learning-rate sweep the
    /// ratio of the largest stable learning rates) with its interval, when there is one.
    pub statistic: Option<Estimate>,
    /// The check that the intervention moved its mechanism (noise raised the activation drift;
    /// pre-training raised the rank), when it has one.
    pub check: Option<Estimate>,
    /// Which way it points.
    pub direction: Direction,
    /// Why.
    pub reason: Reason,
    /// How often a fresh set of seeds would give the same direction (parametric simulation from
    /// the per-seed means and spreads, learning rates as selected), when it was judged.
    pub replication: Option<f64>,
    /// The numbers behind it.
    pub facts: Facts,
    /// The arms, for tables and figures (empty for the noise experiment, whose arms are in the
    /// battery).
    pub arms: Vec<SweepArm>,
}

impl Intervention {
    fn not_run(kind: InterventionKind, reason: Reason, arms: Vec<SweepArm>) -> Intervention {
        Intervention {
            kind,
            statistic: None,
            check: None,
            direction: Direction::TooFew,
            reason,
            replication: None,
            facts: Facts::None,
            arms,
        }
    }
}

/// A run's final loss, a diverged (or non-finite) one at `chance`.
fn loss_or_chance(final_loss: f64, diverged: bool, chance: f64) -> f64 {
    if diverged || !final_loss.is_finite() {
        chance
    } else {
        final_loss
    }
}

/// The final loss of a sweep run at `steps` (the mean of the `FINAL_WINDOW` losses before it),
/// at `chance` when the run diverged before.
pub fn loss_at(unit: &SweepUnit, steps: usize, chance: f64) -> f64 {
    if steps == 0 || unit.losses.len() < steps {
        // It diverged before `steps` (a diverged run's losses stop there).
        return chance;
    }
    let tail = &unit.losses[steps.saturating_sub(FINAL_WINDOW)..steps];
    loss_or_chance(crate::stats::mean(tail), false, chance)
}

/// The runs of `label` at `point`.
fn runs_at<'a>(units: &'a [SweepUnit], label: &str, point: &GridPoint) -> Vec<&'a SweepUnit> {
    units
        .iter()
        .filter(|u| u.label == label && u.point == *point)
        .collect()
}

/// The first role of `roles` that `entries` lacks.
fn missing(entries: &[Entry], roles: &[Role]) -> Option<Reason> {
    roles
        .iter()
        .find(|r| !entries.iter().any(|e| e.role() == Some(**r)))
        .map(|r| Reason::NotRun {
            missing: r.label().into(),
        })
}

/// The per-point summaries of every arm of a sweep over `grid`.
fn arms(
    units: &[SweepUnit],
    entries: &[Entry],
    grid: &[GridPoint],
    config: &ReportConfig,
    steps: impl Fn(&GridPoint) -> usize,
) -> Vec<SweepArm> {
    let chance = chance_loss(config.data.classes());
    entries
        .iter()
        .map(|entry| SweepArm {
            label: entry.label.clone(),
            points: grid
                .iter()
                .map(|point| {
                    let runs = runs_at(units, &entry.label, point);
                    let never = (steps(point) + 1) as f64;
                    SweepPoint {
                        point: *point,
                        final_loss: Stat::of(
                            &runs
                                .iter()
                                .map(|u| {
                                    loss_or_chance(u.final_loss, u.diverged_at.is_some(), chance)
                                })
                                .collect::<Vec<_>>(),
                        ),
                        diverged: runs.iter().filter(|u| u.diverged_at.is_some()).count(),
                        reached: runs.iter().filter(|u| u.steps_to_target.is_some()).count(),
                        steps_to_target: Stat::of(
                            &runs
                                .iter()
                                .map(|u| u.steps_to_target.map_or(never, |s| s as f64))
                                .collect::<Vec<_>>(),
                        ),
                        rank: Stat::of_finite(runs.iter().map(|u| u.rank)),
                        branch_share: Stat::of_finite(runs.iter().map(|u| u.branch_share)),
                    }
                })
                .collect(),
        })
        .collect()
}

/// A share of BatchNorm's advantage against [`SHARE_THRESHOLD`]: *for* when the whole interval
/// is above one half.
fn judge_share(share: &Estimate) -> Direction {
    judge_threshold(share, SHARE_THRESHOLD, Side::Above)
}

/// Where and how one comparison of a tuned sweep is read.
#[derive(Debug, Clone, Copy)]
struct At {
    depth: usize,
    batch_size: usize,
    /// Steps at the battery's batch size; a run at another batch size is read after as many
    /// samples.
    budget: usize,
    base_batch: usize,
    chance: f64,
}

/// The final losses of `label` at learning rate `lr` and `at`, one per seed.
fn losses(units: &[SweepUnit], label: &str, lr: f64, at: &At) -> Vec<f64> {
    let point = GridPoint {
        depth: at.depth,
        lr,
        batch_size: at.batch_size,
    };
    let steps = (at.budget * at.base_batch).div_ceil(at.batch_size.max(1));
    runs_at(units, label, &point)
        .iter()
        .map(|u| loss_at(u, steps, at.chance))
        .collect()
}

/// `label` at its best rate of `lrs` (lowest mean final loss; ties: the smaller rate), `None`
/// when it has no runs there.
fn best_rate(units: &[SweepUnit], label: &str, lrs: &[f64], at: &At) -> Option<BestRate> {
    lrs.iter()
        .map(|&lr| (lr, losses(units, label, lr, at)))
        .filter(|(_, l)| !l.is_empty())
        .min_by(|a, b| crate::stats::mean(&a.1).total_cmp(&crate::stats::mean(&b.1)))
        .map(|(lr, losses)| BestRate {
            label: label.to_string(),
            lr,
            losses,
        })
}

/// Every arm of `roles` (`none`, `BatchNorm`, the tested arm) at its best rate `at` one point,
/// BatchNorm's advantage and the share of it the tested arm recovers; with a dead baseline,
/// `none` counts at chance.
fn compare(units: &[SweepUnit], roles: [Role; 3], lrs: &[f64], at: At) -> Option<Comparison> {
    let mut arms: Vec<BestRate> = roles
        .iter()
        .map(|r| best_rate(units, r.label(), lrs, &at))
        .collect::<Option<_>>()?;
    let baseline_dead = arms[0].mean() >= TRAINED * at.chance;
    if baseline_dead {
        arms[0].losses = vec![at.chance; arms[0].losses.len()];
    }
    Some(Comparison {
        depth: at.depth,
        budget: at.budget,
        batch_size: at.batch_size,
        advantage: crate::stats::difference_of_means(&arms[0].losses, &arms[1].losses),
        share: crate::stats::share_of_gap(&arms[0].losses, &arms[1].losses, &arms[2].losses),
        baseline_dead,
        arms,
    })
}

/// A comparison's share against one half, and how often fresh seeds would decide the same.
fn judge_comparison(c: &Comparison, seed: u64) -> (Direction, f64) {
    let decide = |groups: &[&[f64]]| {
        judge_share(&crate::stats::share_of_gap(groups[0], groups[1], groups[2]))
    };
    let groups: Vec<&[f64]> = c.arms.iter().map(|a| a.losses.as_slice()).collect();
    (
        decide(&groups),
        crate::stats::replication(&groups, decide, 2000, seed),
    )
}

/// The deepest comparison of `depths` at which BatchNorm's advantage is significant.
fn deepest_significant(depths: &[Comparison]) -> Option<&Comparison> {
    depths
        .iter()
        .rev()
        .find(|c| c.advantage.has_interval() && c.advantage.ci.0 > 0.0)
}

#[cfg(test)]
mod tests;
