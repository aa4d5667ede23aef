//! The report's tables: training speed per normalizer, the mechanism table (each normalizer's
//! speed beside every explanation's metric, the correlations and verdicts at its foot), and each
//! sweep's table.

use crate::output::{Table, Text};
use crate::report::explanation::{Explanation, InterventionKind, Sign};
use crate::report::judge::intervention::{Comparison, Facts, Intervention};
use crate::report::judge::per_norm::NormSummary;
use crate::report::judge::verdict::Verdict;
use crate::report::judge::{Mechanism, Summary};

/// A verdict as a coloured badge.
pub fn verdict_badge(v: Verdict) -> Text {
    let colour = match v {
        Verdict::Supported => "#1a7f37",
        Verdict::Partial => "#9a6700",
        Verdict::Inconclusive => "#57606a",
        Verdict::Contradicted => "#cf222e",
    };
    Text::new().badge(v.label(), colour)
}

/// An intervention's outcome as a coloured badge.
pub fn direction_badge(i: &Intervention) -> Text {
    use crate::report::judge::verdict::Direction;
    let colour = match i.direction {
        Direction::For => "#1a7f37",
        Direction::Against => "#cf222e",
        Direction::Neither | Direction::TooFew => "#57606a",
    };
    Text::new().badge(super::text::direction(i.direction), colour)
}

/// `0.41× [0.35, 0.48]`: a mechanism's BatchNorm/none ratio with its bootstrap interval.
fn ratio_cell(m: &Mechanism) -> String {
    match &m.effect {
        Some(e) if e.ratio.has_interval() => format!(
            "{:.2}× [{:.2}, {:.2}]",
            e.ratio.value, e.ratio.ci.0, e.ratio.ci.1
        ),
        Some(e) => format!("{:.2}× (one seed)", e.ratio.value),
        None => "—".into(),
    }
}

/// `against: 0.89 [0.80, 0.97]`: the outcome of an intervention and its statistic.
fn intervention_cell(i: &Intervention) -> String {
    let value = i
        .statistic
        .filter(|e| e.value.is_finite())
        .map(|e| format!(" {e:.2}"))
        .unwrap_or_default();
    format!("{}{value}", super::text::direction(i.direction))
}

/// `> 200` for a normalizer that never reached the target, else its mean steps.
fn steps_cell(n: &NormSummary, steps: usize) -> String {
    if n.reached == 0 {
        format!("> {steps}")
    } else {
        n.steps_to_target.show(0)
    }
}

/// Runs that diverged in training, and seeds whose activations were already not finite at
/// initialization (`2, 1 at init`).
fn diverged_cell(n: &NormSummary) -> String {
    if n.non_finite_at_init > 0 {
        format!("{}, {} at init", n.diverged, n.non_finite_at_init)
    } else {
        n.diverged.to_string()
    }
}

/// The summary table of the answer: one row per explanation.
pub fn answer(summary: &Summary) -> Table {
    let mut table = Table::new(&[
        "explanation",
        "intervention",
        "metric",
        "BN / none [95% CI]",
        "ρ with final loss (p)",
        "verdict",
    ]);
    for e in Explanation::ALL {
        let m = summary.mechanism(e);
        table.row_text(vec![
            Text::new().link(e.name(), format!("#{}", e.id())),
            intervention_cell(summary.intervention(e.intervention())).into(),
            e.metric().into(),
            ratio_cell(m).into(),
            format!("{:.2} (p {:.3})", m.spearman, m.p_value).into(),
            verdict_badge(m.verdict),
        ]);
    }
    table
}

/// A column of the per-normalizer tables: header, cell, and the explanation it measures.
struct Column {
    header: &'static str,
    cell: fn(&NormSummary) -> String,
    explanation: Option<Explanation>,
}

/// The training-speed columns every per-normalizer table starts with.
fn speed_rows(summary: &Summary, steps: usize, extra: &[Column]) -> Table {
    let mut header = vec![
        "normalizer",
        "steps to target",
        "reached",
        "final train loss",
        "test accuracy",
    ];
    header.extend(extra.iter().map(|c| c.header));
    Table::of(&header, &summary.norms, |n| {
        let mut cells = vec![
            n.label.clone(),
            steps_cell(n, steps),
            format!("{}/{}", n.reached, n.steps_to_target.n),
            n.final_loss.show(3),
            n.test_accuracy.show(3),
        ];
        cells.extend(extra.iter().map(|c| (c.cell)(n)));
        cells
    })
}

/// Training speed per normalizer.
pub fn speed(summary: &Summary, steps: usize) -> Table {
    speed_rows(
        summary,
        steps,
        &[
            Column {
                header: "test accuracy, recalibrated",
                cell: |n| n.test_accuracy_recalibrated.show(3),
                explanation: None,
            },
            Column {
                header: "diverged",
                cell: diverged_cell,
                explanation: None,
            },
        ],
    )
}

/// The per-normalizer table with each mechanism's correlations and verdict as footer rows, each
/// under its explanation's column.
pub fn mechanisms(summary: &Summary, steps: usize) -> Table {
    let columns = [
        Column {
            header: "diverged",
            cell: diverged_cell,
            explanation: None,
        },
        Column {
            header: "‖G−G′‖/‖G‖",
            cell: |n| n.covariate_shift.show(3),
            explanation: Some(Explanation::CovariateShift),
        },
        Column {
            header: "‖G−G′‖₂",
            cell: |n| n.covariate_shift_abs.show(3),
            explanation: None,
        },
        Column {
            header: "cos(G,G′)",
            cell: |n| n.shift_cosine.show(3),
            explanation: None,
        },
        Column {
            header: "β-smoothness",
            cell: |n| n.beta_smoothness.show(2),
            explanation: Some(Explanation::Smoothness),
        },
        Column {
            header: "branch share",
            cell: |n| n.branch_share.show(3),
            explanation: Some(Explanation::IdentityBias),
        },
        Column {
            header: "eff. rank / N",
            cell: |n| n.rank.show(3),
            explanation: Some(Explanation::RankCollapse),
        },
    ];
    let mut table = speed_rows(summary, steps, &columns);
    let leading = table.header().len() - columns.len();
    let footer = |name: &str, f: &dyn Fn(&Mechanism) -> Text| {
        let mut row = vec![Text::from(name)];
        row.extend((1..leading).map(|_| Text::new()));
        row.extend(columns.iter().map(|c| {
            c.explanation
                .map(|e| f(summary.mechanism(e)))
                .unwrap_or_default()
        }));
        row
    };
    table.footer_row(footer("ρ with the final training loss", &|m| {
        format!("{:.2}", m.spearman).into()
    }));
    table.footer_row(footer("ρ with the steps to target", &|m| {
        format!("{:.2}", m.spearman_steps).into()
    }));
    table.footer_row(footer("predicted sign of ρ", &|m| {
        match m.explanation.predicts() {
            Sign::SlowsTraining => "+",
            Sign::SpeedsTraining => "−",
        }
        .into()
    }));
    table.footer_row(footer("verdict", &|m| verdict_badge(m.verdict)));
    table
}

/// A sweep's table: for a tuned sweep, one row per comparison (depth, budget, batch size) with
/// each arm at its best rate; otherwise one row per arm and grid point.
pub fn sweep(i: &Intervention) -> Table {
    match &i.facts {
        Facts::Sweep {
            depths,
            budgets,
            batch_sizes,
            ..
        } => comparisons(i, depths, budgets, batch_sizes),
        Facts::None | Facts::Noise { .. } | Facts::LearningRates { .. } => grid(i),
    }
}

/// Every comparison of a tuned sweep.
fn comparisons(
    i: &Intervention,
    depths: &[Comparison],
    budgets: &[Comparison],
    batch_sizes: &[Comparison],
) -> Table {
    let depth = match i.kind {
        InterventionKind::RankPretraining => "hidden layers",
        _ => "blocks",
    };
    let mut table = Table::new(&[
        "comparison",
        depth,
        "steps",
        "batch",
        "none: loss @ best lr",
        "BatchNorm: loss @ best lr",
        &format!("{}: loss @ best lr", i.kind.arm().label()),
        "advantage L_none − L_BN",
        "share [95% CI]",
    ]);
    let rows = [
        ("by depth", depths),
        ("by budget", budgets),
        ("by batch size", batch_sizes),
    ];
    for (what, comparisons) in rows {
        for c in comparisons {
            let mut cells = vec![
                what.to_string(),
                c.depth.to_string(),
                c.budget.to_string(),
                c.batch_size.to_string(),
            ];
            cells.extend(c.arms.iter().map(|a| format!("{:.3} @ {}", a.mean(), a.lr)));
            cells.push(format!("{:.3}", c.advantage));
            cells.push(format!(
                "{:.2}{}",
                c.share,
                if c.baseline_dead {
                    " (dead baseline)"
                } else {
                    ""
                }
            ));
            table.row(cells);
        }
    }
    table
}

/// A plain sweep: one row per arm and grid point.
fn grid(i: &Intervention) -> Table {
    let mut table = Table::new(&[
        "arm",
        "blocks / layers",
        "learning rate",
        "batch",
        "final train loss",
        "diverged",
        "reached target",
        "steps to target",
        "eff. rank / N (start)",
        "branch share (init)",
    ]);
    for arm in &i.arms {
        for p in &arm.points {
            table.row(vec![
                arm.label.clone(),
                p.point.depth.to_string(),
                p.point.lr.to_string(),
                p.point.batch_size.to_string(),
                p.final_loss.show(3),
                format!("{}/{}", p.diverged, p.final_loss.n),
                format!("{}/{}", p.reached, p.final_loss.n),
                p.steps_to_target.show(0),
                p.rank.show(3),
                p.branch_share.show(3),
            ]);
        }
    }
    table
}

/// The landscape per arm and depth: runs, final loss, λ_max, trace, the plane's curvature and
/// the barrier from the initialisation (mean ± std over the seeds that trained).
pub fn landscape(summary: &Summary) -> Table {
    let mut table = Table::new(&[
        "normalizer",
        "depth",
        "runs (diverged)",
        "final train loss",
        "λ_max",
        "trace",
        "plane curvature",
        "barrier from init",
    ]);
    for c in &summary.landscape.cells {
        table.row(vec![
            c.label.clone(),
            c.depth.to_string(),
            if c.diverged > 0 {
                format!("{} ({})", c.runs, c.diverged)
            } else {
                c.runs.to_string()
            },
            c.final_loss.show(3),
            c.lambda_max.show(2),
            c.trace.show(1),
            c.curvature.show(2),
            c.barrier.show(3),
        ]);
    }
    table
}
