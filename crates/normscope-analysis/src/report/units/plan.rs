//! A configuration's **plan**: the list of its units — one per normalizer × seed × kind (the
//! at-initialization measurements, the training run with its probes, the sweeps' runs) — in a
//! fixed order, and the selections of it that one job runs (`--unit`, `--shard`).

use super::{GridPoint, UnitId, UnitKind};
use crate::AnalysisError;
use crate::report::config::ReportConfig;

/// The units of `config`, in the order a single process runs them: every at-initialization unit
/// (normalizer by normalizer, seed by seed), every training unit, then the sweeps — learning
/// rate, depth, batch size, plain networks — arm by arm, point by point, seed by seed.
pub fn plan(config: &ReportConfig) -> Vec<UnitId> {
    let mut units = vec![];
    for kind in UnitKind::ALL {
        let points: Vec<Option<GridPoint>> = match kind {
            UnitKind::Init | UnitKind::Train => vec![None],
            _ => kind.grid(config).into_iter().map(Some).collect(),
        };
        for entry in kind.entries(config) {
            for point in &points {
                for s in 0..kind.seeds(config) as u64 {
                    units.push(UnitId {
                        kind,
                        label: entry.label.clone(),
                        point: *point,
                        seed: config.train.seed + s,
                    });
                }
            }
        }
    }
    units
}

/// The units of `plan` named by `ids` (as `--unit` gives them), in the plan's order.
pub fn select(plan: &[UnitId], ids: &[String]) -> Result<Vec<UnitId>, AnalysisError> {
    for id in ids {
        if !plan.iter().any(|u| &u.id() == id) {
            return Err(AnalysisError::Config {
                key: "--unit".into(),
                value: id.clone(),
                reason: format!(
                    "not a unit of this configuration's plan ({} units, {} … {}; list them with --plan)",
                    plan.len(),
                    plan.first().map(UnitId::id).unwrap_or_default(),
                    plan.last().map(UnitId::id).unwrap_or_default()
                ),
            });
        }
    }
    Ok(plan
        .iter()
        .filter(|u| ids.contains(&u.id()))
        .cloned()
        .collect())
}

/// Shard `index` of `count` (0-based): units `index`, `index + count`, `index + 2·count`, … of
/// `plan` — round robin, so that every shard gets its share of the cheap at-initialization units
/// and of the training runs.
pub fn shard(plan: &[UnitId], index: usize, count: usize) -> Result<Vec<UnitId>, AnalysisError> {
    if count == 0 || index >= count {
        return Err(AnalysisError::Config {
            key: "--shard".into(),
            value: format!("{index}/{count}"),
            reason: "needs I/N with 0 ≤ I < N".into(),
        });
    }
    Ok(plan.iter().skip(index).step_by(count).cloned().collect())
}
