//! Smoothness, Bjorck et al.'s way (2018): BatchNorm "primarily enables training with larger
//! learning rates". On a grid of rates, each arm's largest stable rate (the report's
//! [`super::stability`] criterion); the explanation predicts BatchNorm's is the larger.

use super::{
    Facts, Intervention, Reason, SweepArm, arms, chance_loss, loss_or_chance, missing, runs_at,
    stability,
};
use crate::metrics::lr_range::{LrSummary, largest_stable};
use crate::report::config::{MIN_JUDGED_SEEDS, ReportConfig};
use crate::report::explanation::{InterventionKind, Role};
use crate::report::judge::verdict::Direction;
use crate::report::units::UnitKind;
use crate::report::units::measure::Units;
use crate::stats::{Estimate, ratio_of_means, replication};

/// The learning-rate range with and without BatchNorm. `seed` seeds the replication simulation.
pub fn learning_rates(config: &ReportConfig, units: &Units, seed: u64) -> Intervention {
    let kind = InterventionKind::LearningRates;
    let iv = &config.interventions;
    let chance = chance_loss(config.data.classes());
    let grid = UnitKind::Lr.grid(config);
    let arms = arms(&units.lr, &iv.lr_normalizers, &grid, config, |_| iv.steps);
    if let Some(reason) = missing(&iv.lr_normalizers, &[Role::None, Role::BatchNorm]) {
        return Intervention::not_run(kind, reason, arms);
    }
    if grid.is_empty() {
        return Intervention::not_run(kind, Reason::NoGrid, arms);
    }
    if iv.seeds < MIN_JUDGED_SEEDS {
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
                lr: p.point.lr,
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
    let decide = |eta_none: Option<f64>, eta_bn: Option<f64>| match (eta_none, eta_bn) {
        (_, None) | (None, _) => (Direction::TooFew, Reason::NoStableRate),
        (Some(n), Some(b)) if b > n => (Direction::For, Reason::Judged),
        (Some(n), Some(_)) if n >= top => (Direction::Neither, Reason::GridTooNarrow),
        _ => (Direction::Against, Reason::Judged),
    };
    let (direction, reason) = decide(eta_none, eta_bn);
    // A fresh set of seeds: every (arm, rate)'s per-seed losses redrawn, its divergences kept
    // as observed, both η* and the outcome recomputed.
    let cells: Vec<(usize, f64, usize, Vec<f64>)> = [none, bn]
        .iter()
        .enumerate()
        .flat_map(|(k, a)| {
            a.points.iter().map(move |p| {
                let losses = runs_at(&units.lr, &a.label, &p.point)
                    .iter()
                    .map(|u| loss_or_chance(u.final_loss, u.diverged_at.is_some(), chance))
                    .collect();
                (k, p.point.lr, p.diverged, losses)
            })
        })
        .collect();
    let replication = (reason == Reason::Judged).then(|| {
        let groups: Vec<&[f64]> = cells.iter().map(|c| c.3.as_slice()).collect();
        let outcome = |draws: &[&[f64]]| {
            let eta = |k: usize| {
                let grid: Vec<LrSummary> = cells
                    .iter()
                    .zip(draws)
                    .filter(|(c, _)| c.0 == k)
                    .map(|(c, d)| LrSummary {
                        lr: c.1,
                        final_loss: crate::stats::mean(d),
                        diverged: c.2,
                        runs: d.len(),
                    })
                    .collect();
                largest_stable(&grid, stability(config.data.classes()))
            };
            decide(eta(0), eta(1)).0
        };
        replication(&groups, outcome, 2000, seed)
    });
    let at_common = eta_none.zip(eta_bn).map(|(n, b)| {
        let lr = n.min(b);
        let point = grid
            .iter()
            .find(|p| p.lr == lr)
            .expect("a rate of the grid");
        let group = |role: Role| -> Vec<f64> {
            runs_at(&units.lr, role.label(), point)
                .iter()
                .map(|u| loss_or_chance(u.final_loss, u.diverged_at.is_some(), chance))
                .collect()
        };
        (
            lr,
            ratio_of_means(&group(Role::BatchNorm), &group(Role::None)),
        )
    });
    Intervention {
        kind,
        statistic: eta_none.zip(eta_bn).map(|(n, b)| Estimate::point(b / n)),
        check: None,
        direction,
        reason,
        replication,
        facts: Facts::LearningRates {
            eta_none,
            eta_bn,
            at_common,
            best: (best(bn), best(none)),
        },
        arms,
    }
}
