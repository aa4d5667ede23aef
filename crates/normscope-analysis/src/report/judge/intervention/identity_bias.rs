//! Identity bias, De & Smith's way (2020): SkipInit — residual branches scaled by a learnable
//! scalar at initialization, no normalizer — against BatchNorm and no normalization, **each at its
//! own best learning rate** of a grid (chosen on the training loss, over seeds), across depths,
//! at several training budgets, and across batch sizes at the deepest depth (their claim:
//! SkipInit matches BatchNorm at small batch; BatchNorm's edge is the larger learning rate it
//! allows at large batch). The verdict is the share of BatchNorm's advantage SkipInit recovers
//! at the deepest depth where the advantage is significant, at the largest budget and the
//! battery's batch size; where `none` learns nothing at any rate (a dead baseline) that share is
//! SkipInit's progress from chance relative to BatchNorm's, and the report says so.

use super::{
    At, Facts, Intervention, Reason, arms, chance_loss, compare, deepest_significant,
    judge_comparison, missing,
};
use crate::report::config::{MIN_JUDGED_SEEDS, ReportConfig};
use crate::report::explanation::{InterventionKind, Role};
use crate::report::judge::verdict::Direction;
use crate::report::units::GridPoint;
use crate::report::units::measure::{SweepUnit, Units};

/// SkipInit against BatchNorm, each at its best learning rate.
pub fn identity_bias(config: &ReportConfig, units: &Units, seed: u64) -> Intervention {
    let kind = InterventionKind::SkipInitDepth;
    let iv = &config.interventions;
    let roles = [Role::None, Role::BatchNorm, Role::SkipInit];
    let base = config.train.batch_size;
    // The fixed-rate sweep (every arm at `depth_lr`) for the tables and the figure.
    let fixed: Vec<GridPoint> = iv
        .depths
        .iter()
        .map(|&depth| GridPoint {
            depth,
            lr: iv.depth_lr,
            batch_size: base,
        })
        .collect();
    let arms = arms(&units.depth, &iv.depth_normalizers, &fixed, config, |_| {
        iv.steps
    });
    if let Some(reason) = missing(&iv.depth_normalizers, &roles) {
        return Intervention::not_run(kind, reason, arms);
    }
    if iv.depths.is_empty() || iv.depth_learning_rates.is_empty() {
        return Intervention::not_run(kind, Reason::NoGrid, arms);
    }
    let at = |depth, budget, batch_size| At {
        depth,
        batch_size,
        budget,
        base_batch: base,
        chance: chance_loss(config.data.classes()),
    };
    let last_budget = *iv.budgets.last().unwrap_or(&iv.steps);
    let lrs = &iv.depth_learning_rates;
    let depths: Vec<_> = iv
        .depths
        .iter()
        .filter_map(|&d| compare(&units.depth, roles, lrs, at(d, last_budget, base)))
        .collect();
    let judged = deepest_significant(&depths).cloned();
    // The budgets at the judged depth (the deepest, when none is judged).
    let deepest = *iv.depths.last().expect("checked above");
    let budget_depth = judged.as_ref().map_or(deepest, |j| j.depth);
    let budgets = iv
        .budgets
        .iter()
        .filter_map(|&b| compare(&units.depth, roles, lrs, at(budget_depth, b, base)))
        .collect();
    let mut sizes: Vec<usize> = iv.batch_sizes.iter().copied().chain([base]).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let batch_units: Vec<SweepUnit> = units.batch.iter().chain(&units.depth).cloned().collect();
    let batch_sizes = if iv.batch_sizes.is_empty() {
        vec![]
    } else {
        sizes
            .iter()
            .filter_map(|&b| compare(&batch_units, roles, lrs, at(deepest, iv.batch_budget, b)))
            .collect()
    };
    let (direction, reason, replication) = match &judged {
        _ if iv.seeds < MIN_JUDGED_SEEDS => (Direction::TooFew, Reason::TooFewSeeds, None),
        None => (Direction::Neither, Reason::NoAdvantage, None),
        Some(j) => {
            let (d, r) = judge_comparison(j, seed);
            (d, Reason::Judged, Some(r))
        }
    };
    Intervention {
        kind,
        statistic: judged.as_ref().map(|j| j.share),
        check: None,
        direction,
        reason,
        replication,
        facts: Facts::Sweep {
            depths,
            budgets,
            batch_sizes,
            judged,
            soft_rank: None,
        },
        arms,
    }
}
