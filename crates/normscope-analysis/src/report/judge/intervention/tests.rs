//! Synthetic results that reach every outcome of every intervention (the rules can come out
//! either way), the best-rate selection, the budgets and the dead baseline.

use super::*;
use crate::metrics::internal_covariate_shift::{LayerDrift, LayerShift};
use crate::metrics::rank_pretraining::Pretrained;
use crate::report::config::Scale;
use crate::report::judge::verdict::Direction;
use crate::report::units::measure::{TrainUnit, Units};

fn config() -> ReportConfig {
    let mut c = ReportConfig::preset(Scale::Quick);
    c.interventions.seeds = 3;
    c
}

const WOBBLE: [f64; 3] = [-0.01, 0.0, 0.01];

fn train(label: &str, seed: u64, loss: f64, drift: f64) -> TrainUnit {
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
                l2: 0.3,
                cosine: 1.0,
                grad_norm: 1.0,
            }],
        )],
        drifts: vec![(
            0,
            vec![LayerDrift {
                layer: 0,
                mean: drift,
                variance: 0.0,
            }],
        )],
        probes: vec![],
    }
}

/// Three seeds of each arm around the given losses and activation drifts.
fn noise_units(none: f64, bn: f64, noisy: f64, drift_bn: f64, drift_noisy: f64) -> Units {
    let mut runs = vec![];
    for (seed, w) in WOBBLE.iter().enumerate() {
        runs.push(train(Role::None.label(), seed as u64, none + w, 0.5));
        runs.push(train(
            Role::BatchNorm.label(),
            seed as u64,
            bn + w,
            drift_bn + w,
        ));
        runs.push(train(
            Role::Noisy.label(),
            seed as u64,
            noisy + w,
            drift_noisy + w,
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
    let judge = |u: &Units| noise(&c, u, 1);
    // Noisy BN keeps ~90% of the gap with 3× the drift: against the explanation.
    let i = judge(&noise_units(2.0, 0.4, 0.55, 0.1, 0.3));
    assert_eq!(
        (i.direction, &i.reason),
        (Direction::Against, &Reason::Judged),
        "{i:?}"
    );
    assert!((i.statistic.unwrap().value - 1.45 / 1.6).abs() < 1e-9);
    assert!(i.replication.unwrap() > 0.9);
    // It loses most of it: for.
    assert_eq!(
        judge(&noise_units(2.0, 0.4, 1.8, 0.1, 0.3)).direction,
        Direction::For
    );
    // Half of it, within noise: neither.
    let mut half = noise_units(2.0, 0.4, 1.2, 0.1, 0.3);
    for u in half
        .train
        .iter_mut()
        .filter(|u| u.label == Role::Noisy.label())
    {
        u.final_loss += [-0.6, 0.0, 0.6][u.seed as usize];
    }
    assert_eq!(judge(&half).direction, Direction::Neither);
    // The noise did not raise the drift: the experiment tests nothing.
    let i = judge(&noise_units(2.0, 0.4, 0.55, 0.2, 0.2));
    assert_eq!(
        (i.direction, i.reason),
        (Direction::Neither, Reason::CheckFailed)
    );
    // BatchNorm has no advantage to lose.
    let i = judge(&noise_units(1.0, 1.0, 1.0, 0.1, 0.3));
    assert_eq!(
        (i.direction, i.reason),
        (Direction::Neither, Reason::NoAdvantage)
    );
    // Two seeds: too few.
    let mut two = noise_units(2.0, 0.4, 0.55, 0.1, 0.3);
    two.train.retain(|u| u.seed < 2);
    assert_eq!(judge(&two).reason, Reason::TooFewSeeds);
}

fn point(depth: usize, lr: f64, batch_size: usize) -> GridPoint {
    GridPoint {
        depth,
        lr,
        batch_size,
    }
}

fn sweep(label: &str, seed: u64, at: GridPoint, losses: Vec<f64>, rank: f64) -> SweepUnit {
    let diverged = losses.iter().any(|l| !l.is_finite());
    let kept: Vec<f64> = losses
        .iter()
        .copied()
        .take_while(|l| l.is_finite())
        .collect();
    SweepUnit {
        label: label.into(),
        seed,
        point: at,
        diverged_at: diverged.then_some(kept.len()),
        steps_to_target: None,
        final_loss: if diverged {
            f64::NAN
        } else {
            crate::stats::mean(&kept[kept.len().saturating_sub(10)..])
        },
        losses: kept,
        rank,
        branch_share: 0.3,
        pretrained: None,
    }
}

/// The identity-bias grid of `c` (depths 1 and 4, rates 0.03 and 0.3, budgets 15 and 30): at
/// each arm's rate `good` its loss is `loss(depth, arm)`, at the other 0.3 higher; flat curves.
fn identity_units(c: &ReportConfig, loss: impl Fn(usize, Role) -> f64, good: [f64; 3]) -> Units {
    let iv = &c.interventions;
    let roles = [Role::None, Role::BatchNorm, Role::SkipInit];
    let mut depth = vec![];
    for &d in &iv.depths {
        for &lr in &iv.depth_learning_rates {
            for (k, role) in roles.iter().enumerate() {
                for (seed, w) in WOBBLE.iter().enumerate() {
                    let l = loss(d, *role) + w + if lr == good[k] { 0.0 } else { 0.3 };
                    depth.push(sweep(
                        role.label(),
                        seed as u64,
                        point(d, lr, c.train.batch_size),
                        vec![l; iv.steps],
                        0.5,
                    ));
                }
            }
        }
    }
    Units {
        depth,
        ..Units::default()
    }
}

fn arm(c: &Comparison, role: Role) -> &BestRate {
    c.arms.iter().find(|a| a.label == role.label()).unwrap()
}

#[test]
fn identity_bias_reaches_every_outcome_and_picks_each_arms_best_rate() {
    let mut c = config();
    c.interventions.batch_sizes = vec![];
    let good = [0.03, 0.3, 0.03];
    // At depth 4 SkipInit closes 90% of the gap, at its own best rate 0.03 (BN's is 0.3).
    let gap = |skip: f64| {
        move |d: usize, r: Role| match (d, r) {
            (1, _) => 1.0,
            (_, Role::None) => 2.0,
            (_, Role::BatchNorm) => 1.0,
            _ => skip,
        }
    };
    let i = identity_bias(&c, &identity_units(&c, gap(1.1), good), 3);
    assert_eq!(
        (i.direction, &i.reason),
        (Direction::For, &Reason::Judged),
        "{i:?}"
    );
    assert!((i.statistic.unwrap().value - 0.9).abs() < 1e-9);
    let Facts::Sweep {
        judged: Some(j),
        budgets,
        ..
    } = &i.facts
    else {
        panic!("{i:?}")
    };
    assert_eq!(j.depth, 4);
    assert_eq!(
        (
            arm(j, Role::BatchNorm).lr,
            arm(j, Role::SkipInit).lr,
            arm(j, Role::None).lr
        ),
        (0.3, 0.03, 0.03)
    );
    assert_eq!(budgets.len(), c.interventions.budgets.len());
    assert!(!j.baseline_dead);
    // 10% of the gap: against; half of it: neither.
    assert_eq!(
        identity_bias(&c, &identity_units(&c, gap(1.9), good), 3).direction,
        Direction::Against
    );
    let mut half = identity_units(&c, gap(1.5), good);
    for u in half.depth.iter_mut().filter(|u| u.label == "SkipInit") {
        let shift = [-0.5, 0.0, 0.5][u.seed as usize];
        u.losses.iter_mut().for_each(|l| *l += shift);
    }
    assert_eq!(identity_bias(&c, &half, 3).direction, Direction::Neither);
    // No gap at any depth: nothing to recover.
    let i = identity_bias(&c, &identity_units(&c, |_, _| 1.0, good), 3);
    assert_eq!(
        (i.direction, &i.reason),
        (Direction::Neither, &Reason::NoAdvantage)
    );
    // A dead baseline (none at chance at every rate) is flagged, the comparison is SkipInit
    // against BatchNorm with none counted at chance.
    let chance = chance_loss(c.data.classes());
    let dead = move |d: usize, r: Role| match (d, r) {
        (4, Role::None) => chance,
        (4, Role::SkipInit) => 1.2,
        _ => 1.0,
    };
    let i = identity_bias(&c, &identity_units(&c, dead, [0.03, 0.03, 0.03]), 3);
    let Facts::Sweep {
        judged: Some(j), ..
    } = &i.facts
    else {
        panic!("{i:?}")
    };
    assert!(j.baseline_dead);
    assert!(
        (j.share.value - (chance - 1.2) / (chance - 1.0)).abs() < 1e-9,
        "{j:?}"
    );
    // Two seeds: too few.
    let mut two = c.clone();
    two.interventions.seeds = 2;
    assert_eq!(
        identity_bias(&two, &identity_units(&c, gap(1.1), good), 3).reason,
        Reason::TooFewSeeds
    );
}

#[test]
fn the_share_is_read_at_each_budget_from_the_same_runs() {
    let mut c = config();
    c.interventions.batch_sizes = vec![];
    let mut units = identity_units(&c, |_, _| 1.0, [0.03, 0.03, 0.03]);
    // At depth 4: none stays at 2; BN reaches 1 by step 15; SkipInit is at 2 until step 15,
    // then at 1.1 — it recovers nothing at the first budget and 90% at the last.
    for u in units.depth.iter_mut().filter(|u| u.point.depth == 4) {
        let w = WOBBLE[u.seed as usize];
        u.losses = (0..30)
            .map(|t| {
                w + match u.label.as_str() {
                    "none" => 2.0,
                    "BatchNorm" => 1.0,
                    _ if t < 15 => 2.0,
                    _ => 1.1,
                }
            })
            .collect();
        u.final_loss = crate::stats::mean(&u.losses[20..]);
    }
    let i = identity_bias(&c, &units, 3);
    let Facts::Sweep { budgets, .. } = &i.facts else {
        panic!("{i:?}")
    };
    let shares: Vec<(usize, f64)> = budgets.iter().map(|b| (b.budget, b.share.value)).collect();
    assert!(
        (shares[0].1).abs() < 1e-9 && (shares[1].1 - 0.9).abs() < 1e-9,
        "{shares:?}"
    );
    // A run that diverged before a budget counts at the chance loss there.
    let chance = chance_loss(c.data.classes());
    let run = sweep("x", 0, point(4, 0.03, 32), vec![1.0, 1.0, f64::NAN], 0.5);
    assert_eq!(loss_at(&run, 2, chance), 1.0);
    assert_eq!(loss_at(&run, 3, chance), chance);
}

/// The rank sweep of `c` (depths 2 and 8, rates 0.01 and 0.1) with the given losses and
/// effective ranks at depth 8 (none, BN, pre-trained), nothing to gain at depth 2.
fn rank_units(c: &ReportConfig, losses: [f64; 3], ranks: [f64; 3]) -> Units {
    let roles = [Role::None, Role::BatchNorm, Role::Pretrained];
    let iv = &c.interventions.rank;
    let mut rank = vec![];
    for &d in &iv.depths {
        for &lr in &iv.learning_rates {
            for (k, role) in roles.iter().enumerate() {
                for (seed, w) in WOBBLE.iter().enumerate() {
                    let (l, r) = if d == 8 {
                        (losses[k], ranks[k])
                    } else {
                        (1.0, 0.8)
                    };
                    let bump = if lr == 0.01 { 0.0 } else { 0.2 };
                    let mut u = sweep(
                        role.label(),
                        seed as u64,
                        point(d, lr, c.train.batch_size),
                        vec![l + w + bump; iv.steps],
                        r + w / 10.0,
                    );
                    if *role == Role::Pretrained {
                        u.pretrained = Some(Pretrained {
                            before: 1.5,
                            after: 6.0,
                        });
                    }
                    rank.push(u);
                }
            }
        }
    }
    Units {
        rank,
        ..Units::default()
    }
}

#[test]
fn rank_pretraining_reaches_every_outcome() {
    let c = config();
    let raised = [0.1, 0.8, 0.6];
    let judge = |u: &Units| rank_collapse(&c, u, 3);
    let i = judge(&rank_units(&c, [2.0, 1.0, 1.1], raised));
    assert_eq!(
        (i.direction, &i.reason),
        (Direction::For, &Reason::Judged),
        "{i:?}"
    );
    assert!(i.check.unwrap().ci.0 > 1.0);
    let Facts::Sweep {
        soft_rank: Some((before, after)),
        ..
    } = &i.facts
    else {
        panic!("{i:?}")
    };
    assert_eq!((before.mean, after.mean), (1.5, 6.0));
    assert_eq!(
        judge(&rank_units(&c, [2.0, 1.0, 1.9], raised)).direction,
        Direction::Against
    );
    // Pre-training recovered the gap but did not raise the rank: not a test of the explanation.
    let i = judge(&rank_units(&c, [2.0, 1.0, 1.1], [0.1, 0.8, 0.1]));
    assert_eq!(
        (i.direction, i.reason),
        (Direction::Neither, Reason::CheckFailed)
    );
    let i = judge(&rank_units(&c, [1.0, 1.0, 1.0], raised));
    assert_eq!(i.reason, Reason::NoAdvantage);
}

#[test]
fn the_learning_rate_sweep_reaches_every_outcome() {
    let mut c = config();
    c.interventions.learning_rates = vec![0.01, 0.1, 1.0];
    let units = |none: [f64; 3], bn: [f64; 3]| {
        let mut lr = vec![];
        for (i, &rate) in c.interventions.learning_rates.iter().enumerate() {
            for seed in 0..3 {
                let at = point(c.network.blocks, rate, c.train.batch_size);
                lr.push(sweep("none", seed, at, vec![none[i]; 10], 0.5));
                lr.push(sweep("BatchNorm", seed, at, vec![bn[i]; 10], 0.5));
            }
        }
        Units {
            lr,
            ..Units::default()
        }
    };
    let judge = |u: &Units| learning_rates(&c, u, 7).direction;
    let nan = f64::NAN;
    let i = learning_rates(&c, &units([1.5, 1.0, nan], [1.2, 0.5, 0.4]), 7);
    assert_eq!(i.direction, Direction::For, "{i:?}");
    assert!((i.statistic.unwrap().value - 10.0).abs() < 1e-12);
    // Seeds that agree exactly replicate every time; an outcome that was not judged has none.
    assert_eq!(i.replication, Some(1.0));
    let i = learning_rates(&c, &units([1.5, 1.0, 0.9], [1.2, 0.5, 0.4]), 7);
    assert_eq!((i.direction, i.replication), (Direction::Neither, None));
    assert_eq!(
        judge(&units([1.5, 1.0, nan], [1.2, 0.5, nan])),
        Direction::Against
    );
    assert_eq!(
        judge(&units([1.5, 1.0, 3.0], [1.2, 0.5, 0.4])),
        Direction::For
    );
    assert_eq!(
        judge(&units([1.5, 1.0, 0.9], [1.2, 0.5, 0.4])),
        Direction::Neither
    );
    assert_eq!(
        judge(&units([1.5, 1.0, 0.9], [nan, nan, nan])),
        Direction::TooFew
    );
}
