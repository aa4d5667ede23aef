//! The interventions, judged: one experiment per explanation that changes its mechanism with the
//! rest held fixed, judged on the outcome the explanation predicts (`docs/metrics.md`,
//! "Interventions"):
//!
//! | explanation | intervention | the explanation predicts |
//! |---|---|---|
//! | covariate shift | noise after every BatchNorm (more shift, BN kept) | noisy BN loses most of BN's advantage |
//! | smoothness | a learning-rate grid with and without BN (Bjorck et al. 2018) | BN trains at learning rates where the unnormalized network does not |
//! | identity bias | a depth sweep with SkipInit (identity at init, no normalizer) | SkipInit recovers most of BN's advantage |
//! | rank collapse | a depth sweep with a rank-preserving init, no normalizer | it recovers most of BN's advantage |
//!
//! "BN's advantage" is `L_none − L_BN`, the gap in final training loss; an arm's *share* of it is
//! `(L_none − L_arm)/(L_none − L_BN)`, with a bootstrap interval over seeds. The share is
//! judged against one half: an explanation that is *the* reason BatchNorm trains faster must
//! account for at least half of the gap. Only numbers and decisions are made here; the sentences
//! are `present::text`.

use serde::{Deserialize, Serialize};

use super::per_norm::{absolute_shift, relative_shift};
use super::verdict::{Direction, Side, judge_threshold};
use crate::metrics::lr_range::{LrSummary, Stability, largest_stable};
use crate::report::config::{Entry, ReportConfig};
use crate::report::explanation::{InterventionKind, Role};
use crate::report::units::measure::{SweepUnit, TrainUnit, Units};
use crate::stats::{Estimate, Stat, bootstrap, bootstrap_ratio, finite, mean};

/// The share of BatchNorm's advantage an explanation must account for.
pub const SHARE_THRESHOLD: f64 = 0.5;

/// A learning rate is stable for an arm of the report's sweep when no seed diverged and its
/// mean final loss is at most this share of the chance loss `ln C` (5% below it: the network
/// learned something; a run that hovers at chance without diverging is not training).
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
    /// The learning rate or the blocks per stage.
    pub point: f64,
    /// Final training loss (diverged runs at the chance loss).
    pub final_loss: Stat,
    /// Runs that diverged.
    pub diverged: usize,
    /// Runs that reached the target loss.
    pub reached: usize,
    /// Steps to the target loss (runs that never reached it count as `steps + 1`).
    pub steps_to_target: Stat,
    /// Effective rank / N of the last block at initialization.
    pub rank: Stat,
    /// Branch share at initialization.
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
    /// Fewer than two seeds per arm: no interval.
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
        /// The relative shift of noisy over plain BatchNorm (the manipulation check).
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
    /// A depth sweep.
    Depth {
        /// `L_none − L_BN` (means) per depth, `(blocks per stage, gap)`.
        gaps: Vec<(usize, f64)>,
        /// The deepest depth at which BatchNorm's advantage is significant, with it.
        judged: Option<(usize, Estimate)>,
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
    /// The check that the intervention moved its mechanism (noise raised the shift; the
    /// initialisation raised the rank), when it has one.
    pub check: Option<Estimate>,
    /// Which way it points.
    pub direction: Direction,
    /// Why.
    pub reason: Reason,
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
            facts: Facts::None,
            arms,
        }
    }
}

/// Final losses per seed, a diverged run at the chance loss.
fn losses_of<'a>(runs: impl Iterator<Item = (&'a f64, bool)>, chance: f64) -> Vec<f64> {
    runs.map(|(l, diverged)| {
        if diverged || !l.is_finite() {
            chance
        } else {
            *l
        }
    })
    .collect()
}

fn battery_losses(units: &Units, role: Role, chance: f64) -> Vec<f64> {
    losses_of(
        units
            .train
            .iter()
            .filter(|u| u.label == role.label())
            .map(|u| (&u.final_loss, u.diverged_at.is_some())),
        chance,
    )
}

fn sweep_losses(runs: &[&SweepUnit], chance: f64) -> Vec<f64> {
    losses_of(
        runs.iter()
            .map(|u| (&u.final_loss, u.diverged_at.is_some())),
        chance,
    )
}

fn runs_at<'a>(units: &'a [SweepUnit], label: &str, point: f64) -> Vec<&'a SweepUnit> {
    units
        .iter()
        .filter(|u| u.label == label && u.point == point)
        .collect()
}

/// `(L_none − L_arm)/(L_none − L_BN)` over group means `[none, BN, arm]`.
fn share(m: &[f64]) -> f64 {
    (m[0] - m[2]) / (m[0] - m[1])
}

/// `L_none − L_BN` over group means `[none, BN]`.
fn gap(m: &[f64]) -> f64 {
    m[0] - m[1]
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

/// The per-point summaries of every arm of a sweep.
fn arms(
    units: &[SweepUnit],
    entries: &[Entry],
    points: &[f64],
    config: &ReportConfig,
) -> Vec<SweepArm> {
    let chance = chance_loss(config.data.classes());
    let never = (config.interventions.steps + 1) as f64;
    entries
        .iter()
        .map(|entry| SweepArm {
            label: entry.label.clone(),
            points: points
                .iter()
                .map(|&point| {
                    let runs = runs_at(units, &entry.label, point);
                    SweepPoint {
                        point,
                        final_loss: Stat::of(&sweep_losses(&runs, chance)),
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

/// Covariate shift: noise after every BatchNorm, from the battery's runs. The manipulation
/// check is that the noise raised the relative shift `‖G − G′‖/‖G‖`; Definition 2.1's absolute
/// shift is reported beside it.
pub fn noise(config: &ReportConfig, units: &Units, seed: u64) -> Intervention {
    let kind = InterventionKind::Noise;
    let chance = chance_loss(config.data.classes());
    if let Some(reason) = missing(
        &config.normalizers,
        &[Role::None, Role::BatchNorm, Role::Noisy],
    ) {
        return Intervention::not_run(kind, reason, vec![]);
    }
    let (none, bn, noisy) = (
        battery_losses(units, Role::None, chance),
        battery_losses(units, Role::BatchNorm, chance),
        battery_losses(units, Role::Noisy, chance),
    );
    let shifts = |role: Role, f: fn(&TrainUnit) -> f64| -> Vec<f64> {
        finite(
            units
                .train
                .iter()
                .filter(|u| u.label == role.label())
                .map(f),
        )
    };
    let ratio_of = |f: fn(&TrainUnit) -> f64| {
        bootstrap_ratio(&shifts(Role::Noisy, f), &shifts(Role::BatchNorm, f), seed)
    };
    let advantage = bootstrap(&[&none, &bn], gap, seed);
    let kept = bootstrap(&[&none, &bn, &noisy], share, seed);
    let check = ratio_of(relative_shift);
    let noise_only = config
        .normalizers
        .iter()
        .any(|e| e.role() == Some(Role::NoiseOnly))
        .then(|| {
            (
                mean(&battery_losses(units, Role::NoiseOnly, chance)),
                mean(&none),
            )
        });
    let (direction, reason) = if !advantage.has_interval() {
        (Direction::TooFew, Reason::TooFewSeeds)
    } else if advantage.ci.0 <= 0.0 {
        (Direction::Neither, Reason::NoAdvantage)
    } else if !kept.has_interval() {
        (Direction::TooFew, Reason::TooFewSeeds)
    } else if !(check.has_interval() && check.ci.0 > 1.0) {
        (Direction::Neither, Reason::CheckFailed)
    } else {
        (
            judge_threshold(&kept, SHARE_THRESHOLD, Side::Below),
            Reason::Judged,
        )
    };
    Intervention {
        kind,
        statistic: Some(kept),
        check: Some(check),
        direction,
        reason,
        facts: Facts::Noise {
            advantage,
            relative_shift: check,
            absolute_shift: ratio_of(absolute_shift),
            noise_only,
        },
        arms: vec![],
    }
}

/// Smoothness: the learning-rate range with and without BatchNorm (Bjorck et al. 2018), each
/// arm's largest stable learning rate by the report's [`stability`] criterion.
pub fn learning_rates(config: &ReportConfig, units: &Units, seed: u64) -> Intervention {
    let kind = InterventionKind::LearningRates;
    let iv = &config.interventions;
    let chance = chance_loss(config.data.classes());
    let arms = arms(&units.lr, &iv.lr_normalizers, &iv.learning_rates, config);
    if let Some(reason) = missing(&iv.lr_normalizers, &[Role::None, Role::BatchNorm]) {
        return Intervention::not_run(kind, reason, arms);
    }
    if iv.learning_rates.is_empty() {
        return Intervention::not_run(kind, Reason::NoGrid, arms);
    }
    if iv.seeds < 2 {
        return Intervention::not_run(kind, Reason::TooFewSeeds, arms);
    }
    let arm = |role: Role| {
        arms.iter()
            .find(|a| a.label == role.label())
            .expect("checked above")
    };
    let (none, bn) = (arm(Role::None), arm(Role::BatchNorm));
    let largest = |a: &SweepArm| {
        let grid: Vec<LrSummary> = a
            .points
            .iter()
            .map(|p| LrSummary {
                lr: p.point,
                final_loss: p.final_loss.mean,
                diverged: p.diverged,
                runs: p.final_loss.n,
            })
            .collect();
        largest_stable(&grid, stability(config.data.classes()))
    };
    let (eta_none, eta_bn) = (largest(none), largest(bn));
    let top = *iv.learning_rates.last().expect("a grid");
    let best = |a: &SweepArm| {
        a.points
            .iter()
            .map(|p| p.final_loss.mean)
            .fold(f64::INFINITY, f64::min)
    };
    let (direction, reason) = match (eta_none, eta_bn) {
        (_, None) | (None, _) => (Direction::TooFew, Reason::NoStableRate),
        (Some(n), Some(b)) if b > n => (Direction::For, Reason::Judged),
        (Some(n), Some(_)) if n >= top => (Direction::Neither, Reason::GridTooNarrow),
        _ => (Direction::Against, Reason::Judged),
    };
    let at_common = eta_none.zip(eta_bn).map(|(n, b)| {
        let lr = n.min(b);
        let group = |role: Role| sweep_losses(&runs_at(&units.lr, role.label(), lr), chance);
        (
            lr,
            bootstrap_ratio(&group(Role::BatchNorm), &group(Role::None), seed),
        )
    });
    Intervention {
        kind,
        statistic: eta_none.zip(eta_bn).map(|(n, b)| Estimate::point(b / n)),
        check: None,
        direction,
        reason,
        facts: Facts::LearningRates {
            eta_none,
            eta_bn,
            at_common,
            best: (best(bn), best(none)),
        },
        arms,
    }
}

/// Identity bias ([`InterventionKind::SkipInitDepth`]) or rank collapse
/// ([`InterventionKind::OrthogonalDepth`], with the check that the initialisation raised the
/// rank at initialization): the depth sweep, judged at the deepest depth where BatchNorm's
/// advantage is significant.
pub fn depth(
    config: &ReportConfig,
    units: &Units,
    kind: InterventionKind,
    seed: u64,
) -> Intervention {
    let iv = &config.interventions;
    let chance = chance_loss(config.data.classes());
    let depths: Vec<f64> = iv.depths.iter().map(|&d| d as f64).collect();
    let role = kind.arm();
    let shown: Vec<Entry> = iv
        .depth_normalizers
        .iter()
        .filter(|e| matches!(e.role(), Some(r) if [Role::None, Role::BatchNorm, role].contains(&r)))
        .cloned()
        .collect();
    let arms = arms(&units.depth, &shown, &depths, config);
    if let Some(reason) = missing(&iv.depth_normalizers, &[Role::None, Role::BatchNorm, role]) {
        return Intervention::not_run(kind, reason, arms);
    }
    if depths.is_empty() {
        return Intervention::not_run(kind, Reason::NoGrid, arms);
    }
    if iv.seeds < 2 {
        return Intervention::not_run(kind, Reason::TooFewSeeds, arms);
    }
    let group = |r: Role, d: f64| sweep_losses(&runs_at(&units.depth, r.label(), d), chance);
    let gaps: Vec<(usize, f64)> = iv
        .depths
        .iter()
        .map(|&d| {
            let d_f = d as f64;
            (
                d,
                mean(&group(Role::None, d_f)) - mean(&group(Role::BatchNorm, d_f)),
            )
        })
        .collect();
    // The deepest network at which BatchNorm's advantage is significant.
    let judged = iv.depths.iter().rev().find_map(|&d| {
        let d_f = d as f64;
        let advantage = bootstrap(
            &[&group(Role::None, d_f), &group(Role::BatchNorm, d_f)],
            gap,
            seed,
        );
        (advantage.has_interval() && advantage.ci.0 > 0.0).then_some((d, advantage))
    });
    let Some((d, _)) = judged else {
        return Intervention {
            kind,
            statistic: None,
            check: None,
            direction: Direction::Neither,
            reason: Reason::NoAdvantage,
            facts: Facts::Depth { gaps, judged },
            arms,
        };
    };
    let d_f = d as f64;
    let recovered = bootstrap(
        &[
            &group(Role::None, d_f),
            &group(Role::BatchNorm, d_f),
            &group(role, d_f),
        ],
        share,
        seed,
    );
    let ranks = |r: Role| -> Vec<f64> {
        finite(runs_at(&units.depth, r.label(), d_f).iter().map(|u| u.rank))
    };
    let check = match kind {
        InterventionKind::OrthogonalDepth => {
            Some(bootstrap_ratio(&ranks(role), &ranks(Role::None), seed))
        }
        _ => None,
    };
    let (direction, reason) = match check {
        Some(c) if !(c.has_interval() && c.ci.0 > 1.0) => (Direction::Neither, Reason::CheckFailed),
        _ => (
            judge_threshold(&recovered, SHARE_THRESHOLD, Side::Above),
            Reason::Judged,
        ),
    };
    Intervention {
        kind,
        statistic: Some(recovered),
        check,
        direction,
        reason,
        facts: Facts::Depth { gaps, judged },
        arms,
    }
}
#[cfg(test)]
mod tests {
    //! Synthetic results that reach every outcome of every intervention: the rules can come out
    //! either way.
    use super::*;
    use crate::metrics::internal_covariate_shift::LayerShift;
    use crate::report::config::Scale;
    use crate::report::judge::verdict::Direction;

    fn config() -> ReportConfig {
        ReportConfig::preset(Scale::Quick)
    }

    fn train(label: &str, seed: u64, loss: f64, shift: f64) -> TrainUnit {
        TrainUnit {
            label: label.into(),
            seed,
            losses: vec![loss; 10],
            diverged_at: None,
            steps_to_target: None,
            final_loss: loss,
            test_accuracy: f64::NAN,
            test_accuracy_recalibrated: f64::NAN,
            test_loss: f64::NAN,
            landscape: vec![],
            shifts: vec![(
                0,
                vec![LayerShift {
                    layer: 0,
                    l2: shift,
                    cosine: 1.0,
                    grad_norm: 1.0,
                }],
            )],
        }
    }

    fn sweep(label: &str, seed: u64, point: f64, loss: f64, rank: f64) -> SweepUnit {
        SweepUnit {
            label: label.into(),
            seed,
            point,
            losses: vec![loss; 10],
            diverged_at: (!loss.is_finite()).then_some(3),
            steps_to_target: None,
            final_loss: loss,
            rank,
            branch_share: 0.3,
        }
    }

    /// Three seeds of each arm around the given losses (±0.01) and shifts.
    fn noise_units(none: f64, bn: f64, noisy: f64, shift_bn: f64, shift_noisy: f64) -> Units {
        let mut runs = vec![];
        for (seed, wobble) in [(0, -0.01), (1, 0.0), (2, 0.01)] {
            runs.push(train(Role::None.label(), seed, none + wobble, 0.4));
            runs.push(train(
                Role::BatchNorm.label(),
                seed,
                bn + wobble,
                shift_bn + wobble,
            ));
            runs.push(train(
                Role::Noisy.label(),
                seed,
                noisy + wobble,
                shift_noisy + wobble,
            ));
        }
        Units {
            train: runs,
            ..Units::default()
        }
    }

    #[test]
    fn the_noise_experiment_reaches_every_outcome() {
        let c = config();
        let judge = |u: &Units| noise(&c, u, 1).direction;
        // Noisy BN keeps ~90% of the gap with 1.5× the shift: against the explanation.
        let kept = noise_units(2.0, 0.4, 0.55, 0.2, 0.3);
        let i = noise(&c, &kept, 1);
        assert_eq!(i.direction, Direction::Against, "{i:?}");
        assert!((i.statistic.unwrap().value - 1.45 / 1.6).abs() < 1e-9);
        // Noisy BN loses most of it: for.
        assert_eq!(judge(&noise_units(2.0, 0.4, 1.8, 0.2, 0.3)), Direction::For);
        // Half of it, within noise: neither.
        let mut half = noise_units(2.0, 0.4, 1.2, 0.2, 0.3);
        for u in half
            .train
            .iter_mut()
            .filter(|u| u.label == Role::Noisy.label())
        {
            u.final_loss += [-0.6, 0.0, 0.6][u.seed as usize];
        }
        assert_eq!(judge(&half), Direction::Neither);
        // The noise did not raise the shift: the experiment tests nothing.
        assert_eq!(
            judge(&noise_units(2.0, 0.4, 0.55, 0.2, 0.2)),
            Direction::Neither
        );
        // BatchNorm has no advantage to lose.
        assert_eq!(
            judge(&noise_units(1.0, 1.0, 1.0, 0.2, 0.3)),
            Direction::Neither
        );
        // One seed: not judged.
        let mut one = noise_units(2.0, 0.4, 0.55, 0.2, 0.3);
        one.train.retain(|u| u.seed == 0);
        assert_eq!(judge(&one), Direction::TooFew);
        // A diverged noisy run counts at the chance loss, not as missing.
        let mut diverged = noise_units(2.0, 0.4, 0.55, 0.2, 0.3);
        for u in diverged
            .train
            .iter_mut()
            .filter(|u| u.label == Role::Noisy.label())
        {
            u.diverged_at = Some(5);
            u.final_loss = f64::NAN;
        }
        let i = noise(&c, &diverged, 1);
        let chance = chance_loss(c.data.classes());
        assert!((i.statistic.unwrap().value - (2.0 - chance) / 1.6).abs() < 1e-9);
        assert_eq!(i.direction, Direction::For);
    }

    /// The learning-rate grid of `config()`'s interventions with per-lr losses of each arm
    /// (NaN: diverged).
    fn lr_units(c: &ReportConfig, none: &[f64], bn: &[f64]) -> Units {
        let mut lr = vec![];
        for (i, &rate) in c.interventions.learning_rates.iter().enumerate() {
            for seed in 0..2 {
                lr.push(sweep(Role::None.label(), seed, rate, none[i], 0.5));
                lr.push(sweep(Role::BatchNorm.label(), seed, rate, bn[i], 0.5));
            }
        }
        Units {
            lr,
            ..Units::default()
        }
    }

    #[test]
    fn the_learning_rate_sweep_reaches_every_outcome() {
        let mut c = config();
        c.interventions.learning_rates = vec![0.01, 0.1, 1.0];
        let judge = |u: &Units| learning_rates(&c, u, 1).direction;
        let nan = f64::NAN;
        // BN trains at 1.0, none diverges there: for.
        let i = learning_rates(&c, &lr_units(&c, &[1.5, 1.0, nan], &[1.2, 0.5, 0.4]), 1);
        assert_eq!(i.direction, Direction::For, "{i:?}");
        assert!((i.statistic.unwrap().value - 10.0).abs() < 1e-12);
        // Both stop at 0.1: against.
        assert_eq!(
            judge(&lr_units(&c, &[1.5, 1.0, nan], &[1.2, 0.5, nan])),
            Direction::Against
        );
        // A final loss above chance is not stable either.
        assert_eq!(
            judge(&lr_units(&c, &[1.5, 1.0, 3.0], &[1.2, 0.5, 0.4])),
            Direction::For
        );
        // Both train at the top of the grid: the grid decides nothing.
        assert_eq!(
            judge(&lr_units(&c, &[1.5, 1.0, 0.9], &[1.2, 0.5, 0.4])),
            Direction::Neither
        );
        // BatchNorm trains at no rate: not judged.
        assert_eq!(
            judge(&lr_units(&c, &[1.5, 1.0, 0.9], &[nan, nan, nan])),
            Direction::TooFew
        );
    }

    /// The depth sweep of `config()` (depths 1 and 4) with the losses and ranks at the deepest
    /// network given, the shallow one without any gap.
    fn depth_units(c: &ReportConfig, losses: [f64; 4], ranks: [f64; 4]) -> Units {
        let labels = [
            Role::None,
            Role::BatchNorm,
            Role::SkipInit,
            Role::Orthogonal,
        ]
        .map(Role::label);
        let mut depth = vec![];
        let deepest = *c.interventions.depths.last().unwrap() as f64;
        for &d in &c.interventions.depths {
            for (seed, wobble) in [(0, -0.01), (1, 0.01)] {
                for (k, label) in labels.iter().enumerate() {
                    let (loss, rank) = if d as f64 == deepest {
                        (losses[k] + wobble, ranks[k] + wobble / 10.0)
                    } else {
                        (1.0 + wobble, 0.8)
                    };
                    depth.push(sweep(label, seed, d as f64, loss, rank));
                }
            }
        }
        Units {
            depth,
            ..Units::default()
        }
    }

    #[test]
    fn the_depth_sweeps_reach_every_outcome() {
        let c = config();
        let skip = |u: &Units| depth(&c, u, InterventionKind::SkipInitDepth, 3).direction;
        let orth = |u: &Units| depth(&c, u, InterventionKind::OrthogonalDepth, 3).direction;
        let ranks = [0.3, 0.8, 0.3, 0.7];
        // SkipInit closes 90% of the gap, the orthogonal init 10% though it raises the rank.
        let u = depth_units(&c, [2.0, 1.0, 1.1, 1.9], ranks);
        let i = depth(&c, &u, InterventionKind::SkipInitDepth, 3);
        assert_eq!(i.direction, Direction::For, "{i:?}");
        assert!((i.statistic.unwrap().value - 0.9).abs() < 1e-9);
        assert_eq!(orth(&u), Direction::Against);
        // The other way round.
        let u = depth_units(&c, [2.0, 1.0, 1.9, 1.1], ranks);
        assert_eq!(skip(&u), Direction::Against);
        assert_eq!(orth(&u), Direction::For);
        // The init recovers the gap but did not raise the rank: not a test of the explanation.
        let u = depth_units(&c, [2.0, 1.0, 1.9, 1.1], [0.3, 0.8, 0.3, 0.3]);
        assert_eq!(orth(&u), Direction::Neither);
        // Half the gap: neither.
        assert_eq!(
            skip(&depth_units(&c, [2.0, 1.0, 1.5, 1.5], ranks)),
            Direction::Neither
        );
        // No gap at any depth: nothing to recover.
        let u = depth_units(&c, [1.0, 1.0, 1.0, 1.0], ranks);
        let i = depth(&c, &u, InterventionKind::SkipInitDepth, 3);
        assert_eq!(i.direction, Direction::Neither);
        assert!(
            i.statistic.is_none() && i.reason == Reason::NoAdvantage,
            "{i:?}"
        );
        // One seed: not judged.
        let mut one = c.clone();
        one.interventions.seeds = 1;
        assert_eq!(
            depth(
                &one,
                &depth_units(&c, [2.0, 1.0, 1.1, 1.9], ranks),
                InterventionKind::SkipInitDepth,
                3
            )
            .direction,
            Direction::TooFew
        );
    }
}
