//! The report: `index.html` (self-contained: styles inline, every plot an SVG embedded as a data
//! URI, PNG beside it), `report.md`, and the plots in `plots/`.

use std::path::Path;

use serde::Serialize;

use super::config::{ReportConfig, roles};
use super::intervention::{Intervention, SweepArm};
use super::run::{InitUnit, Units};
use super::summary::{Mechanism, Summary};
use super::verdict::{Direction, Verdict};
use crate::AnalysisError;
use crate::experiments::Stat;
use crate::output::{Chart, OutputError, Series};

/// A plot of the report: its id (file stem), the section it belongs to, a caption, the chart.
pub struct Figure {
    /// File stem and HTML id.
    pub id: &'static str,
    /// Section id.
    pub section: &'static str,
    /// Caption.
    pub caption: String,
    /// The chart.
    pub chart: Chart,
}

/// The report's sections, in order: `(id, title)`.
pub const SECTIONS: [(&str, &str); 13] = [
    ("summary", "The answer"),
    ("speed", "Training speed"),
    ("covariate-shift", "1. Internal covariate shift"),
    (
        "intervention-noise",
        "1b. Intervention: noise after every BatchNorm",
    ),
    (
        "smoothness",
        "2. Loss landscape and gradient predictiveness",
    ),
    (
        "intervention-lr",
        "2b. Intervention: the learning-rate range",
    ),
    ("identity-bias", "3. Identity bias of residual blocks"),
    (
        "intervention-skipinit",
        "3b. Intervention: depth sweep with SkipInit",
    ),
    ("rank-collapse", "4. Rank collapse"),
    (
        "intervention-orthogonal",
        "4b. Intervention: depth sweep with a rank-preserving init",
    ),
    ("mechanisms", "Mechanism table"),
    ("setup", "Setup"),
    ("reproducibility", "Reproducibility"),
];

fn mean_curve(values: Vec<Vec<f64>>) -> Vec<f64> {
    let len = values.iter().map(|v| v.len()).min().unwrap_or(0);
    (0..len)
        .map(|i| values.iter().map(|v| v[i]).sum::<f64>() / values.len() as f64)
        .collect()
}

/// Builds every figure of the report.
pub fn figures(config: &ReportConfig, units: &Units, summary: &Summary) -> Vec<Figure> {
    let labels: Vec<&str> = config
        .normalizers
        .iter()
        .map(|e| e.label.as_str())
        .collect();
    let mut loss = Chart::new(
        "Training loss (10-step running mean, mean over seeds)",
        "step",
        "loss",
    )
    .log_y();
    let mut beta = Chart::new("Effective β-smoothness at the probe steps", "step", "β").log_y();
    let mut shift = Chart::new(
        "Relative gradient shift ‖G − G′‖/‖G‖ by layer",
        "weight layer",
        "shift",
    );
    let mut share = Chart::new(
        "Residual branch's share of the block output variance (init)",
        "block",
        "branch share",
    );
    let mut rank = Chart::new(
        "Effective rank of block outputs / batch size (init)",
        "block",
        "effective rank / N",
    );
    for &label in &labels {
        let train: Vec<_> = units.train.iter().filter(|u| u.label == label).collect();
        let init: Vec<_> = units.init.iter().filter(|u| u.label == label).collect();
        let smoothed = |losses: &Vec<f64>| -> Vec<f64> {
            (0..losses.len())
                .map(|t| {
                    let lo = t.saturating_sub(9);
                    losses[lo..=t].iter().sum::<f64>() / (t - lo + 1) as f64
                })
                .collect()
        };
        let curve = mean_curve(train.iter().map(|u| smoothed(&u.losses)).collect());
        loss.push(Series::line(
            label,
            curve
                .iter()
                .enumerate()
                .map(|(i, v)| ((i + 1) as f64, *v))
                .collect(),
        ));
        let steps: Vec<usize> = train
            .first()
            .map(|u| u.landscape.iter().map(|(s, _)| *s).collect())
            .unwrap_or_default();
        beta.push(Series::line(
            label,
            steps
                .iter()
                .enumerate()
                .map(|(i, &s)| {
                    (
                        s as f64 + 1.0,
                        train
                            .iter()
                            .filter_map(|u| u.landscape.get(i).map(|l| l.1.beta_smoothness))
                            .sum::<f64>()
                            / train.len().max(1) as f64,
                    )
                })
                .collect(),
        ));
        let layers = train
            .first()
            .and_then(|u| u.shifts.first())
            .map(|(_, l)| l.len())
            .unwrap_or(0);
        shift.push(Series::line(
            label,
            (0..layers)
                .map(|l| {
                    let v: Vec<f64> = train
                        .iter()
                        .flat_map(|u| {
                            u.shifts
                                .iter()
                                .map(move |(_, ls)| ls[l].l2 / ls[l].grad_norm.max(1e-30))
                        })
                        .collect();
                    (l as f64, v.iter().sum::<f64>() / v.len().max(1) as f64)
                })
                .collect(),
        ));
        // Per block, the mean over seeds of an at-initialization quantity.
        let by_block = |len: usize, f: &dyn Fn(&InitUnit, usize) -> f64| -> Vec<(f64, f64)> {
            (0..len)
                .map(|b| {
                    (
                        b as f64,
                        init.iter().map(|u| f(u, b)).sum::<f64>() / init.len() as f64,
                    )
                })
                .collect()
        };
        let blocks = init.first().map(|u| u.blocks.len()).unwrap_or(0);
        share.push(Series::line(
            label,
            by_block(blocks, &|u, b| u.blocks[b].branch_share),
        ));
        let outputs = init.first().map(|u| u.ranks.len()).unwrap_or(0);
        let batch = config.init_batch as f64;
        rank.push(Series::line(
            label,
            by_block(outputs, &|u, b| u.ranks[b].effective_rank / batch),
        ));
    }
    let scatter = |title: &str, x_label: &str, f: fn(&super::summary::NormSummary) -> Stat| {
        let mut chart = Chart::new(title, x_label, "final training loss");
        for n in &summary.norms {
            chart.push(Series::points(
                n.label.clone(),
                vec![(f(n).mean, n.final_loss.mean)],
            ));
        }
        chart
    };
    let caption = |m: &Mechanism| {
        format!(
            "{} against the final training loss, one point per normalizer (ρ = {:.2}).",
            m.metric, m.spearman
        )
    };
    let mech = |id: &str| {
        summary
            .mechanisms
            .iter()
            .find(|m| m.id == id)
            .expect("four mechanisms")
    };
    let extra = intervention_figures(summary, &loss);
    let mut figures = vec![
        Figure { id: "training_loss", section: "speed", caption: "Training loss of every normalizer in the same network.".into(), chart: loss },
        Figure { id: "covariate_shift_by_layer", section: "covariate-shift", caption: "Santurkar et al.'s Definition 2.1 per weight layer, averaged over probe steps and seeds.".into(), chart: shift },
        Figure { id: "scatter_covariate_shift", section: "covariate-shift", caption: caption(mech("covariate-shift")), chart: scatter("Covariate shift vs training speed", "‖G − G′‖/‖G‖", |n| n.covariate_shift) },
        Figure { id: "beta_smoothness", section: "smoothness", caption: "Effective β-smoothness along the gradient at each probe step (step + 1 on a log axis).".into(), chart: beta.log_x() },
        Figure { id: "scatter_smoothness", section: "smoothness", caption: caption(mech("smoothness")), chart: scatter("β-smoothness vs training speed", "β", |n| n.beta_smoothness) },
        Figure { id: "branch_share", section: "identity-bias", caption: "De & Smith's bookkeeping: the branch's share of each block's output variance at initialization.".into(), chart: share },
        Figure { id: "scatter_identity_bias", section: "identity-bias", caption: caption(mech("identity-bias")), chart: scatter("Branch share vs training speed", "branch share", |n| n.branch_share) },
        Figure { id: "rank_by_block", section: "rank-collapse", caption: "Effective rank of each block's output over the batch size, at initialization.".into(), chart: rank },
        Figure { id: "scatter_rank", section: "rank-collapse", caption: caption(mech("rank-collapse")), chart: scatter("Rank vs training speed", "effective rank / N", |n| n.rank) },
    ];
    figures.extend(extra);
    figures
}

/// The arms' mean final loss (or another per-point statistic) against the grid point.
fn sweep_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    arms: &[SweepArm],
    f: fn(&super::intervention::SweepPoint) -> f64,
) -> Chart {
    let mut chart = Chart::new(title, x_label, y_label).log_x();
    for arm in arms {
        chart.push(Series::line(
            arm.label.clone(),
            arm.points
                .iter()
                .map(|p| (p.point, f(p)))
                .filter(|(_, v)| v.is_finite())
                .collect(),
        ));
    }
    chart
}

/// The figures of the intervention sections; `loss` is the battery's training-loss chart, of
/// which the noise experiment shows its four arms.
fn intervention_figures(summary: &Summary, loss: &Chart) -> Vec<Figure> {
    let find = |id: &str| summary.interventions.iter().find(|i| i.id == id);
    let mut figures = vec![];
    let mut noise = Chart::new(
        "Training loss with and without noise after BatchNorm",
        "step",
        "loss",
    )
    .log_y();
    for series in &loss.series {
        if [
            roles::NONE,
            roles::BATCH_NORM,
            roles::NOISY,
            roles::NOISE_ONLY,
        ]
        .contains(&series.name.as_str())
        {
            noise.push(series.clone());
        }
    }
    figures.push(Figure {
        id: "noise_training_loss",
        section: "intervention-noise",
        caption: "BatchNorm, BatchNorm with noise after it, the noise alone and no normalization: the battery's runs (10-step running mean, mean over seeds).".into(),
        chart: noise,
    });
    if let Some(i) = find("intervention-lr") {
        figures.push(Figure {
            id: "lr_sweep",
            section: "intervention-lr",
            caption: "Final training loss against the learning rate (mean over seeds; a diverged run counts at the chance loss ln C).".into(),
            chart: sweep_chart("Final training loss across learning rates", "learning rate", "final training loss", &i.arms, |p| p.final_loss.mean),
        });
    }
    for (id, plot, what) in [
        ("intervention-skipinit", "depth_sweep_skipinit", "SkipInit"),
        (
            "intervention-orthogonal",
            "depth_sweep_orthogonal",
            "the delta-orthogonal initialisation",
        ),
    ] {
        if let Some(i) = find(id) {
            figures.push(Figure {
                id: plot,
                section: id,
                caption: format!("Final training loss against the residual blocks per stage: no normalization, BatchNorm and {what} (mean over seeds; a diverged run counts at the chance loss ln C)."),
                chart: sweep_chart("Final training loss across depths", "blocks per stage", "final training loss", &i.arms, |p| p.final_loss.mean),
            });
        }
    }
    if let Some(i) = find("intervention-orthogonal") {
        figures.push(Figure {
            id: "depth_rank",
            section: "intervention-orthogonal",
            caption: "Effective rank of the last block's output over the batch size at initialization, against the depth: the check that the initialisation preserves rank.".into(),
            chart: sweep_chart("Rank at initialization across depths", "blocks per stage", "effective rank / N", &i.arms, |p| p.rank.mean),
        });
    }
    figures
}

/// `none, BatchNorm`.
fn labels_of(entries: &[super::config::Entry]) -> String {
    entries
        .iter()
        .map(|e| e.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The badge of an intervention's outcome.
fn direction_badge(d: Direction) -> (&'static str, &'static str) {
    match d {
        Direction::For => ("for the explanation", "#1a7f37"),
        Direction::Against => ("against the explanation", "#cf222e"),
        Direction::Neither => ("not significant", "#57606a"),
        Direction::TooFew => ("not judged", "#57606a"),
    }
}

/// The sweep's table: a header and one row of cells per arm and grid point.
fn sweep_rows(i: &Intervention, point_name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let header = [
        "arm",
        point_name,
        "final train loss",
        "diverged",
        "reached target",
        "steps to target",
        "eff. rank / N (init)",
        "branch share (init)",
    ]
    .map(String::from)
    .to_vec();
    let rows = i
        .arms
        .iter()
        .flat_map(|arm| {
            arm.points.iter().map(|p| {
                vec![
                    arm.label.clone(),
                    p.point.to_string(),
                    stat(&p.final_loss, 3),
                    format!("{}/{}", p.diverged, p.final_loss.n),
                    format!("{}/{}", p.reached, p.final_loss.n),
                    stat(&p.steps_to_target, 0),
                    stat(&p.rank, 3),
                    stat(&p.branch_share, 3),
                ]
            })
        })
        .collect();
    (header, rows)
}

/// The sweep's table as HTML (empty without arms).
fn sweep_table_html(i: &Intervention, point_name: &str) -> String {
    if i.arms.is_empty() {
        return String::new();
    }
    let (header, rows) = sweep_rows(i, point_name);
    let cells = |row: &[String], tag: &str| -> String {
        row.iter()
            .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
            .collect()
    };
    let mut html = format!(
        "<table><thead><tr>{}</tr></thead><tbody>",
        cells(&header, "th")
    );
    for row in &rows {
        html.push_str(&format!("<tr>{}</tr>", cells(row, "td")));
    }
    html.push_str("</tbody></table>");
    html
}

/// The same as Markdown.
fn sweep_table_md(i: &Intervention, point_name: &str) -> String {
    if i.arms.is_empty() {
        return String::new();
    }
    let (header, rows) = sweep_rows(i, point_name);
    let line = |row: &[String]| format!("| {} |\n", row.join(" | "));
    let mut md = line(&header);
    md.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for row in &rows {
        md.push_str(&line(row));
    }
    md.push('\n');
    md
}

fn point_name(i: &Intervention) -> &'static str {
    if i.id == "intervention-lr" {
        "learning rate"
    } else {
        "blocks per stage"
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn verdict_badge(v: Verdict) -> (&'static str, &'static str) {
    let colour = match v {
        Verdict::Supported => "#1a7f37",
        Verdict::Partial => "#9a6700",
        Verdict::Inconclusive => "#57606a",
        Verdict::Contradicted => "#cf222e",
    };
    (v.label(), colour)
}

fn stat(s: &Stat, digits: usize) -> String {
    if s.n == 0 || !s.mean.is_finite() {
        "—".into()
    } else if s.n > 1 {
        format!("{:.digits$} ± {:.digits$}", s.mean, s.std)
    } else {
        format!("{:.digits$}", s.mean)
    }
}

/// Versions and environment, for `results.json` and the page.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// normscope's version.
    pub normscope: &'static str,
    /// burn's version.
    pub burn: &'static str,
    /// The backend.
    pub backend: String,
    /// Seconds since the Unix epoch at the end of the run.
    pub finished_at: u64,
    /// Wall time of this invocation, seconds.
    pub wall_seconds: f64,
    /// The units' own compute time, summed over every process that ran them, seconds.
    pub compute_seconds: f64,
    /// Ids of the plan's units that were not there when the report was written (empty for a
    /// complete report).
    pub missing: Vec<String>,
}

impl Provenance {
    /// A sentence saying the report is incomplete, or `None` when it is not.
    pub fn incomplete(&self) -> Option<String> {
        (!self.missing.is_empty()).then(|| {
            format!(
                "Incomplete: {} unit(s) of the plan are missing ({}); the numbers below are over the units present. Run them (`--unit ID`) and render again.",
                self.missing.len(),
                self.missing.join(", ")
            )
        })
    }
}

/// `0.41× [0.35, 0.48]`: a mechanism's BatchNorm/none ratio with its bootstrap interval.
fn ratio_cell(m: &Mechanism) -> String {
    match &m.effect {
        Some(e) if e.ci.0.is_finite() => {
            format!("{:.2}× [{:.2}, {:.2}]", e.ratio, e.ci.0, e.ci.1)
        }
        Some(e) => format!("{:.2}× (one seed)", e.ratio),
        None => "—".into(),
    }
}

/// `against: 0.89 [0.80, 0.97]`: the outcome of a mechanism's intervention and its statistic.
fn intervention_cell(summary: &Summary, m: &Mechanism) -> String {
    summary
        .interventions
        .iter()
        .find(|i| i.mechanism == m.id)
        .map(|i| {
            let value = i
                .statistic
                .map(|e| {
                    if e.has_interval() {
                        format!(" {:.2} [{:.2}, {:.2}]", e.value, e.ci.0, e.ci.1)
                    } else if e.value.is_finite() {
                        format!(" {:.2}", e.value)
                    } else {
                        String::new()
                    }
                })
                .unwrap_or_default();
            format!("{}{value}", direction_badge(i.direction).0)
        })
        .unwrap_or_else(|| "—".into())
}

/// `−0.43 (p 0.21)`: a mechanism's correlation with its permutation p-value.
fn rho_cell(m: &Mechanism) -> String {
    format!("{:.2} (p {:.3})", m.spearman, m.p_value)
}

/// Training speed per normalizer.
fn speed_table_html(summary: &Summary, steps: usize) -> String {
    let mut html = String::from(
        "<table><thead><tr><th>normalizer</th><th>steps to target</th><th>reached</th><th>final train loss</th><th>test accuracy</th><th>test accuracy, recalibrated</th><th>diverged</th></tr></thead><tbody>",
    );
    for n in &summary.norms {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&n.label),
            if n.reached == 0 {
                format!("&gt; {steps}")
            } else {
                stat(&n.steps_to_target, 0)
            },
            n.reached,
            n.steps_to_target.n,
            stat(&n.final_loss, 3),
            stat(&n.test_accuracy, 3),
            stat(&n.test_accuracy_recalibrated, 3),
            n.diverged,
        ));
    }
    html.push_str("</tbody></table>");
    html
}

/// The per-normalizer table; with `summary.mechanisms`' correlations as its last rows when
/// `with_correlations` (the mechanism table).
fn norm_table_html(summary: &Summary, steps: usize, with_correlations: bool) -> String {
    let mut html = String::from(
        "<table><thead><tr><th>normalizer</th><th>steps to target</th><th>reached</th><th>final train loss</th><th>test accuracy</th><th>diverged</th><th>‖G−G′‖/‖G‖</th><th>‖G−G′‖₂</th><th>cos(G,G′)</th><th>β-smoothness</th><th>branch share</th><th>eff. rank / N</th></tr></thead><tbody>",
    );
    for n in &summary.norms {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&n.label),
            if n.reached == 0 { format!("&gt; {steps}") } else { stat(&n.steps_to_target, 0) },
            n.reached,
            n.steps_to_target.n,
            stat(&n.final_loss, 3),
            stat(&n.test_accuracy, 3),
            n.diverged,
            stat(&n.covariate_shift, 3),
            stat(&n.covariate_shift_abs, 3),
            stat(&n.shift_cosine, 3),
            stat(&n.beta_smoothness, 2),
            stat(&n.branch_share, 3),
            stat(&n.rank, 3),
        ));
    }
    html.push_str("</tbody>");
    if with_correlations {
        let cells = |f: &dyn Fn(&Mechanism) -> String| -> String {
            let m = |id: &str| {
                summary
                    .mechanisms
                    .iter()
                    .find(|m| m.id == id)
                    .map(f)
                    .unwrap_or_default()
            };
            format!(
                "<td>{}</td><td></td><td></td><td>{}</td><td>{}</td><td>{}</td>",
                m("covariate-shift"),
                m("smoothness"),
                m("identity-bias"),
                m("rank-collapse")
            )
        };
        html.push_str(&format!(
            "<tfoot><tr><th colspan=\"6\">ρ with the final training loss</th>{}</tr><tr><th colspan=\"6\">ρ with the steps to target</th>{}</tr><tr><th colspan=\"6\">predicted sign of ρ</th>{}</tr><tr><th colspan=\"6\">verdict</th>{}</tr></tfoot>",
            cells(&|m| format!("{:.2}", m.spearman)),
            cells(&|m| format!("{:.2}", m.spearman_steps)),
            cells(&|m| if m.expected_sign > 0.0 { "+".into() } else { "−".into() }),
            cells(&|m| verdict_badge(m.verdict).0.into()),
        ));
    }
    html.push_str("</table>");
    html
}

/// Writes `plots/`, `index.html`, `report.md` and `results.json` into `out`.
pub fn write(
    out: &Path,
    config: &ReportConfig,
    units: &Units,
    summary: &Summary,
    provenance: &Provenance,
) -> Result<(), AnalysisError> {
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|source| OutputError::Io {
        path: plots.clone(),
        source,
    })?;
    let figures = figures(config, units, summary);
    let mut svgs = vec![];
    for figure in &figures {
        figure.chart.save(&plots, figure.id)?;
        svgs.push(figure.chart.svg()?);
    }
    let figure_html = |section: &str| -> String {
        figures
            .iter()
            .zip(&svgs)
            .filter(|(f, _)| f.section == section)
            .map(|(f, svg)| {
                format!(
                    "<figure class=\"plot\" id=\"plot-{id}\"><img src=\"data:image/svg+xml;base64,{data}\" alt=\"{alt}\" width=\"720\" height=\"440\"><figcaption>{caption} <a href=\"plots/{id}.png\">PNG</a> · <a href=\"plots/{id}.svg\">SVG</a></figcaption></figure>",
                    id = f.id,
                    data = base64(svg.as_bytes()),
                    alt = escape(&f.chart.title),
                    caption = escape(&f.caption)
                )
            })
            .collect()
    };
    let mechanism_html = |m: &Mechanism| {
        let (badge, colour) = verdict_badge(m.verdict);
        let effect = match &m.effect {
            Some(e) => format!(
                "<p><b>With vs without BatchNorm:</b> {} vs {} (ratio {}, Cohen's d {:.2}).</p>",
                stat(&e.with_bn, 4),
                stat(&e.without, 4),
                ratio_cell(m),
                e.cohens_d
            ),
            None => String::new(),
        };
        format!(
            "<p class=\"what\"><b>Claim</b> ({}). <b>Measured:</b> {}.</p>{effect}<p class=\"verdict\"><span class=\"badge\" style=\"background:{colour}\">{badge}</span> {}</p>{}",
            escape(&m.paper),
            escape(&m.metric),
            escape(&m.text),
            figure_html(&m.id)
        )
    };
    let section_body = |id: &str| -> String {
        match id {
            "summary" => {
                let mut rows = String::new();
                for m in &summary.mechanisms {
                    let (badge, colour) = verdict_badge(m.verdict);
                    rows.push_str(&format!(
                        "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"badge\" style=\"background:{colour}\">{badge}</span></td></tr>",
                        m.id,
                        escape(&m.name),
                        intervention_cell(summary, m),
                        escape(&m.metric),
                        ratio_cell(m),
                        rho_cell(m)
                    ));
                }
                format!(
                    "<p class=\"conclusion\">{}</p><table><thead><tr><th>explanation</th><th>intervention</th><th>metric</th><th>BN / none [95% CI]</th><th>ρ with final loss (p)</th><th>verdict</th></tr></thead><tbody>{rows}</tbody></table><p class=\"how\">How to read this: each explanation has an intervention — an experiment that changes its mechanism with the rest held fixed (sections 1b–4b) — whose outcome, where significant, decides the verdict. Besides, each explanation predicts that BatchNorm moves one quantity (the metric) and that the quantity governs how fast a network trains. The ratio shows how BatchNorm moves it against no normalization, with a bootstrap interval over seeds; ρ is the Spearman rank correlation between the metric and the final training loss across all normalizers of the battery, with its permutation p-value — an explanation that accounts for why normalizers differ in speed shows a significant ρ of the predicted sign. The verdict rules (docs/metrics.md) count only significant evidence: an interval that excludes 1, a p below 0.05.</p>",
                    escape(&summary.conclusion)
                )
            }
            "speed" => format!(
                "<p>Target loss {} (10-step running mean of the training loss). In the means, a run that never reached it counts as {} steps; a run that diverged counts as slowest in the correlations.</p>{}{}",
                config.target_loss,
                config.train.steps + 1,
                speed_table_html(summary, config.train.steps),
                figure_html("speed")
            ),
            "mechanisms" => format!(
                "<p>For each normalizer: its training speed beside each mechanism's metric (mean ± std over {} seed(s)). The rows at the foot say how well each metric accounts for the speed differences across the normalizers: Spearman's ρ between the column and the final training loss, and the steps to the target loss. An explanation that accounts for the differences shows a large |ρ| with the predicted sign.</p>{}",
                config.seeds,
                norm_table_html(summary, config.train.steps, true)
            ),
            "setup" => format!(
                "<p>A pre-activation ResNet ({} stage(s) × {} blocks, width {}, {}×{} inputs) with each normalizer inside every block; data: {}; SGD (momentum {}, weight decay {}), learning rate {}, batch {}, {} steps, {} seed(s). Landscape and covariate shift probed at steps {:?}; the at-initialization metrics use a batch of {}. Interventions: the noise experiment uses the battery's runs; the learning-rate sweep trains {} at learning rates {:?}, the depth sweep {} with {:?} blocks per stage at learning rate {}, each for {} steps over {} seed(s).</p><pre>{}</pre>",
                config.network.stages,
                config.network.blocks,
                config.network.width,
                config.network.size,
                config.network.size,
                config.data.name(),
                config.train.sgd.momentum,
                config.train.sgd.weight_decay,
                config.train.lr,
                config.train.batch_size,
                config.train.steps,
                config.seeds,
                config.probe_steps,
                config.init_batch,
                escape(&labels_of(&config.interventions.lr_normalizers)),
                config.interventions.learning_rates,
                escape(&labels_of(&config.interventions.depth_normalizers)),
                config.interventions.depths,
                config.interventions.depth_lr,
                config.interventions.steps,
                config.interventions.seeds,
                escape(&toml::to_string(config).unwrap_or_default())
            ),
            "reproducibility" => format!(
                "<p>normscope {}, burn {}, backend <code>{}</code>; {:.0} s of compute in the units, {:.0} s of wall time in this invocation. Every number of this page, with the configuration, is in <a href=\"results.json\">results.json</a>; the units of work are in <code>units/</code> (rerun with <code>--resume</code> to continue an interrupted run, <code>--plan</code> / <code>--unit</code> / <code>--render</code> to spread them over jobs).</p>",
                provenance.normscope,
                provenance.burn,
                escape(&provenance.backend),
                provenance.compute_seconds,
                provenance.wall_seconds
            ),
            id if id.starts_with("intervention-") => summary
                .interventions
                .iter()
                .find(|i| i.id == id)
                .map(|i| {
                    let (badge, colour) = direction_badge(i.direction);
                    format!(
                        "<p class=\"what\"><b>Prediction:</b> {}.</p>{}<p class=\"verdict\"><span class=\"badge\" style=\"background:{colour}\">{badge}</span> {}</p>{}",
                        escape(&i.prediction),
                        sweep_table_html(i, point_name(i)),
                        escape(&i.text),
                        figure_html(id)
                    )
                })
                .unwrap_or_default(),
            id => summary
                .mechanisms
                .iter()
                .find(|m| m.id == id)
                .map(mechanism_html)
                .unwrap_or_default(),
        }
    };
    let mut html = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Why does BatchNorm work? — normscope report</title><style>\
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.5}\
h1{font-size:1.8em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3em;margin-top:2em}\
table{border-collapse:collapse;font-size:.85em;margin:1em 0}td,th{border:1px solid #d0d7de;padding:.3em .5em;text-align:right}td:first-child,th:first-child{text-align:left}\
.badge{color:#fff;border-radius:1em;padding:.1em .7em;font-size:.85em;white-space:nowrap}.conclusion{font-size:1.1em}\
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #d0d7de}figcaption{font-size:.85em;color:#57606a}\
pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.8em}nav a{margin-right:1em}</style></head><body>",
    );
    html.push_str("<h1>Why does BatchNorm work?</h1><p>normscope measured the four competing explanations on one network, with every normalizer of the battery.</p>");
    if let Some(text) = provenance.incomplete() {
        html.push_str(&format!(
            "<p class=\"incomplete\"><b>{}</b></p>",
            escape(&text)
        ));
    }
    html.push_str("<nav>");
    for (id, title) in SECTIONS {
        html.push_str(&format!("<a href=\"#{id}\">{}</a>", escape(title)));
    }
    html.push_str("</nav>");
    for (id, title) in SECTIONS {
        html.push_str(&format!(
            "<section id=\"{id}\"><h2>{}</h2>{}</section>",
            escape(title),
            section_body(id)
        ));
    }
    // For headless checks: after load, the body records the sections, the figures and the number
    // of images that failed to decode.
    html.push_str(
        "<script>window.addEventListener('load',function(){var imgs=[].slice.call(document.images);\
var broken=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0)}).length;\
document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-broken',broken);\
document.body.setAttribute('data-sections',[].map.call(document.querySelectorAll('section'),function(s){return s.id}).join(' '));\
document.body.setAttribute('data-plots',[].map.call(document.querySelectorAll('figure.plot'),function(f){return f.id}).join(' '));});</script></body></html>",
    );
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text)
            .map_err(|source| AnalysisError::from(OutputError::Io { path, source }))
    };
    write("index.html", html)?;

    let mut md = format!(
        "# Why does BatchNorm work? — normscope report\n\n{}{}\n\n## Verdicts\n\n| explanation | intervention | metric | BN / none [95% CI] | ρ with final loss (p) | verdict |\n|---|---|---|---|---|---|\n",
        provenance
            .incomplete()
            .map(|t| format!("**{t}**\n\n"))
            .unwrap_or_default(),
        summary.conclusion
    );
    for m in &summary.mechanisms {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            m.name,
            intervention_cell(summary, m),
            m.metric,
            ratio_cell(m),
            rho_cell(m),
            verdict_badge(m.verdict).0
        ));
    }
    md.push_str(&format!("\n## Mechanism table\n\nMean ± std over {} seed(s); the last rows: Spearman's ρ of each metric with the training speed across normalizers.\n\n| normalizer | steps to target | final train loss | test accuracy | test accuracy, recalibrated | ‖G−G′‖/‖G‖ | ‖G−G′‖₂ | β-smoothness | branch share | eff. rank / N |\n|---|---|---|---|---|---|---|---|---|---|\n", config.seeds));
    for n in &summary.norms {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            n.label,
            if n.reached == 0 {
                format!("> {}", config.train.steps)
            } else {
                stat(&n.steps_to_target, 0)
            },
            stat(&n.final_loss, 3),
            stat(&n.test_accuracy, 3),
            stat(&n.test_accuracy_recalibrated, 3),
            stat(&n.covariate_shift, 3),
            stat(&n.covariate_shift_abs, 3),
            stat(&n.beta_smoothness, 2),
            stat(&n.branch_share, 3),
            stat(&n.rank, 3)
        ));
    }
    let rho_row = |name: &str, f: &dyn Fn(&Mechanism) -> String| {
        let m = |id: &str| {
            summary
                .mechanisms
                .iter()
                .find(|m| m.id == id)
                .map(f)
                .unwrap_or_default()
        };
        format!(
            "| *{name}* | | | | | {} | | {} | {} | {} |\n",
            m("covariate-shift"),
            m("smoothness"),
            m("identity-bias"),
            m("rank-collapse")
        )
    };
    md.push_str(&rho_row("ρ with final loss", &|m| {
        format!("{:.2}", m.spearman)
    }));
    md.push_str(&rho_row("ρ with steps to target", &|m| {
        format!("{:.2}", m.spearman_steps)
    }));
    md.push_str(&rho_row("verdict", &|m| verdict_badge(m.verdict).0.into()));
    for m in &summary.mechanisms {
        md.push_str(&format!(
            "\n## {}\n\n*{}* — measured: {}.\n\n{}\n\n",
            m.name, m.paper, m.metric, m.text
        ));
        for f in figures.iter().filter(|f| f.section == m.id) {
            md.push_str(&format!("![{}](plots/{}.svg)\n\n", f.chart.title, f.id));
        }
        if let Some(i) = summary.interventions.iter().find(|i| i.mechanism == m.id) {
            md.push_str(&format!(
                "### Intervention: {}\n\n*Prediction:* {}.\n\n{}**{}.** {}\n\n",
                i.name,
                i.prediction,
                sweep_table_md(i, point_name(i)),
                direction_badge(i.direction).0,
                i.text
            ));
            for f in figures.iter().filter(|f| f.section == i.id) {
                md.push_str(&format!("![{}](plots/{}.svg)\n\n", f.chart.title, f.id));
            }
        }
    }
    md.push_str(&format!("\n## Training\n\n![training loss](plots/training_loss.svg)\n\nnormscope {}, burn {}, backend `{}`. All numbers: `results.json`.\n", provenance.normscope, provenance.burn, provenance.backend));
    write("report.md", md)?;

    crate::output::write_json(
        &out.join("results.json"),
        &serde_json::json!({ "provenance": provenance, "config": config, "summary": summary, "units": units }),
    )?;
    Ok(())
}
