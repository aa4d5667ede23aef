//! Covariate shift, Santurkar et al.'s way (2018, §2.1): noise injected after every BatchNorm —
//! a shift and a scale per channel, redrawn every step — makes the distribution each layer
//! hands to the next drift far more than plain BatchNorm's. If reducing that drift (Ioffe &
//! Szegedy's internal covariate shift) were why BatchNorm helps, noisy BatchNorm would lose most
//! of BatchNorm's advantage. The manipulation check measures what the noise moves: the
//! activation drift between consecutive steps (`metrics::internal_covariate_shift`,
//! `LayerDrift`), noisy over plain BatchNorm; Definition 2.1's gradient shift is reported beside
//! it. The arms are the battery's own runs.

use super::{Facts, Intervention, Reason, SHARE_THRESHOLD, chance_loss, loss_or_chance, missing};
use crate::report::config::{MIN_JUDGED_SEEDS, ReportConfig};
use crate::report::explanation::{InterventionKind, Role};
use crate::report::judge::per_norm::{absolute_shift, activation_drift, relative_shift};
use crate::report::judge::verdict::{Direction, Side, judge_threshold};
use crate::report::units::measure::{TrainUnit, Units};
use crate::stats::{difference_of_means, finite, mean, ratio_of_means, replication, share_of_gap};

fn battery_losses(units: &Units, role: Role, chance: f64) -> Vec<f64> {
    units
        .train
        .iter()
        .filter(|u| u.label == role.label())
        .map(|u| loss_or_chance(u.final_loss, u.diverged_at.is_some(), chance))
        .collect()
}

/// The noise experiment, from the battery's runs of `none`, `BatchNorm` and `NoisyBatchNorm`
/// (and `NoiseOnly`, reported). `seed` seeds the replication simulation.
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
    let per_seed = |role: Role, f: fn(&TrainUnit) -> f64| -> Vec<f64> {
        finite(
            units
                .train
                .iter()
                .filter(|u| u.label == role.label())
                .map(f),
        )
    };
    let ratio_of = |f: fn(&TrainUnit) -> f64| {
        ratio_of_means(&per_seed(Role::Noisy, f), &per_seed(Role::BatchNorm, f))
    };
    let advantage = difference_of_means(&none, &bn);
    let kept = share_of_gap(&none, &bn, &noisy);
    let drift = ratio_of(activation_drift);
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
    let enough = [&none, &bn, &noisy]
        .iter()
        .all(|g| g.len() >= MIN_JUDGED_SEEDS);
    // The share the noisy arm keeps, judged against one half: *for* the explanation when the
    // whole interval is below (the noise took most of BatchNorm's advantage away).
    let decide = |groups: &[&[f64]]| -> Direction {
        judge_threshold(
            &share_of_gap(groups[0], groups[1], groups[2]),
            SHARE_THRESHOLD,
            Side::Below,
        )
    };
    let (direction, reason) = if !enough {
        (Direction::TooFew, Reason::TooFewSeeds)
    } else if !(advantage.has_interval() && advantage.ci.0 > 0.0) {
        (Direction::Neither, Reason::NoAdvantage)
    } else if !(drift.has_interval() && drift.ci.0 > 1.0) {
        (Direction::Neither, Reason::CheckFailed)
    } else {
        (decide(&[&none, &bn, &noisy]), Reason::Judged)
    };
    let replication =
        (reason == Reason::Judged).then(|| replication(&[&none, &bn, &noisy], decide, 2000, seed));
    Intervention {
        kind,
        statistic: Some(kept),
        check: Some(drift),
        direction,
        reason,
        replication,
        facts: Facts::Noise {
            advantage,
            drift,
            relative_shift: ratio_of(relative_shift),
            absolute_shift: ratio_of(absolute_shift),
            noise_only,
        },
        arms: vec![],
    }
}
