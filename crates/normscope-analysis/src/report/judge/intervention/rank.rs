//! Rank collapse, Daneshmand et al.'s way (2020, Fig. 4 and the authors'
//! `code_fig_4_pre_training.py`): in deep *plain* networks (no skip connections) without
//! normalization the representations of a batch collapse toward rank one; BatchNorm keeps them
//! spread. Their intervention: pre-train the vanilla network to maximise the soft rank of its
//! last hidden layer, then train as usual. If avoiding rank collapse were why BatchNorm helps,
//! the pre-trained vanilla network would recover most of BatchNorm's advantage where it is
//! largest, the deepest network — each arm at its own best learning rate, as the authors grid
//! the step size. The manipulation check: pre-training raised the effective rank at the start of
//! training above the vanilla network's.

use super::{
    At, Facts, Intervention, Reason, arms, chance_loss, compare, deepest_significant,
    judge_comparison, missing, runs_at,
};
use crate::report::config::{MIN_JUDGED_SEEDS, ReportConfig};
use crate::report::explanation::{InterventionKind, Role};
use crate::report::judge::verdict::Direction;
use crate::report::units::measure::Units;
use crate::report::units::{GridPoint, UnitKind};
use crate::stats::{Stat, finite, ratio_of_means};

/// Plain networks with rank pre-training.
pub fn rank_collapse(config: &ReportConfig, units: &Units, seed: u64) -> Intervention {
    let kind = InterventionKind::RankPretraining;
    let rank = &config.interventions.rank;
    let roles = [Role::None, Role::BatchNorm, Role::Pretrained];
    let base = config.train.batch_size;
    let grid = UnitKind::Rank.grid(config);
    let arms = arms(&units.rank, &rank.normalizers, &grid, config, |_| {
        rank.steps
    });
    if let Some(reason) = missing(&rank.normalizers, &roles) {
        return Intervention::not_run(kind, reason, arms);
    }
    if rank.depths.is_empty() || rank.learning_rates.is_empty() {
        return Intervention::not_run(kind, Reason::NoGrid, arms);
    }
    let depths: Vec<_> = rank
        .depths
        .iter()
        .filter_map(|&depth| {
            compare(
                &units.rank,
                roles,
                &rank.learning_rates,
                At {
                    depth,
                    batch_size: base,
                    budget: rank.steps,
                    base_batch: base,
                    chance: chance_loss(config.data.classes()),
                },
            )
        })
        .collect();
    let judged = deepest_significant(&depths).cloned();
    // The check, at the judged depth and each arm's best rate: the effective rank at the start of
    // training, pre-trained over vanilla; and the soft rank before and after pre-training.
    let at_best = |role: Role| {
        judged.as_ref().map(|j| {
            let lr = j
                .arms
                .iter()
                .find(|a| a.label == role.label())
                .map_or(f64::NAN, |a| a.lr);
            runs_at(
                &units.rank,
                role.label(),
                &GridPoint {
                    depth: j.depth,
                    lr,
                    batch_size: base,
                },
            )
        })
    };
    let ranks = |role: Role| -> Vec<f64> {
        finite(at_best(role).unwrap_or_default().iter().map(|u| u.rank))
    };
    let check = judged
        .as_ref()
        .map(|_| ratio_of_means(&ranks(Role::Pretrained), &ranks(Role::None)));
    let soft_rank = at_best(Role::Pretrained).map(|runs| {
        let pre: Vec<_> = runs.iter().filter_map(|u| u.pretrained).collect();
        (
            Stat::of_finite(pre.iter().map(|p| p.before)),
            Stat::of_finite(pre.iter().map(|p| p.after)),
        )
    });
    let (direction, reason, replication) = match (&judged, check) {
        _ if config.interventions.seeds < MIN_JUDGED_SEEDS => {
            (Direction::TooFew, Reason::TooFewSeeds, None)
        }
        (None, _) => (Direction::Neither, Reason::NoAdvantage, None),
        (Some(_), Some(c)) if !(c.has_interval() && c.ci.0 > 1.0) => {
            (Direction::Neither, Reason::CheckFailed, None)
        }
        (Some(j), _) => {
            let (d, r) = judge_comparison(j, seed);
            (d, Reason::Judged, Some(r))
        }
    };
    Intervention {
        kind,
        statistic: judged.as_ref().map(|j| j.share),
        check,
        direction,
        reason,
        replication,
        facts: Facts::Sweep {
            depths,
            budgets: vec![],
            batch_sizes: vec![],
            judged,
            soft_rank,
        },
        arms,
    }
}
