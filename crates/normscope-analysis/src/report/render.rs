//! The report as sections of the shared document model ([`crate::output::Page`]): one renderer
//! writes `index.html` (self-contained: styles inline, every plot an SVG embedded as a data URI,
//! PNG beside it) and `report.md` from the same sections, and the per-explanation figures come
//! from the experiments' own results types (`experiments::*::…_figure`), so the example of a
//! metric and the report show it the same way.

use std::path::Path;

use serde::Serialize;

use super::config::{Entry, ReportConfig, roles};
use super::intervention::{Intervention, SweepArm, SweepPoint};
use super::run::{TrainUnit, Units};
use super::summary::{Mechanism, NormSummary, Summary};
use super::verdict::{Direction, Verdict};
use crate::AnalysisError;
use crate::experiments::gradient_predictiveness::{LandscapePoint, beta_figure};
use crate::experiments::identity_bias::{self, branch_share_figure};
use crate::experiments::internal_covariate_shift::{ShiftPoint, shift_by_layer_figure};
use crate::experiments::rank_collapse::{self, effective_rank_figure};
use crate::experiments::training::{Curves, loss_figure};
use crate::experiments::{Stat, labels_in};
use crate::models::Activation;
use crate::output::{Block, Chart, Figure, Page, Section, Series, Table, Text};

/// The report's sections, in order: `(id, short name in the navigation bar)`.
pub const SECTIONS: [(&str, &str); 13] = [
    ("summary", "The answer"),
    ("speed", "Training speed"),
    ("covariate-shift", "1. Internal covariate shift"),
    ("intervention-noise", "1b. Noise after BatchNorm"),
    ("smoothness", "2. Smoothness"),
    ("intervention-lr", "2b. Learning-rate range"),
    ("identity-bias", "3. Identity bias"),
    ("intervention-skipinit", "3b. SkipInit depth sweep"),
    ("rank-collapse", "4. Rank collapse"),
    ("intervention-orthogonal", "4b. Orthogonal depth sweep"),
    ("mechanisms", "Mechanism table"),
    ("setup", "Setup"),
    ("reproducibility", "Reproducibility"),
];

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

fn verdict_badge(v: Verdict) -> Text {
    let colour = match v {
        Verdict::Supported => "#1a7f37",
        Verdict::Partial => "#9a6700",
        Verdict::Inconclusive => "#57606a",
        Verdict::Contradicted => "#cf222e",
    };
    Text::new().badge(v.label(), colour)
}

/// The outcome of an intervention in words, and its badge colour.
fn direction_badge(d: Direction) -> (&'static str, &'static str) {
    match d {
        Direction::For => ("for the explanation", "#1a7f37"),
        Direction::Against => ("against the explanation", "#cf222e"),
        Direction::Neither => ("not significant", "#57606a"),
        Direction::TooFew => ("not judged", "#57606a"),
    }
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

/// `> 200` for a normalizer that never reached the target, else its mean steps.
fn steps_cell(n: &NormSummary, steps: usize) -> String {
    if n.reached == 0 {
        format!("> {steps}")
    } else {
        stat(&n.steps_to_target, 0)
    }
}

/// The training-speed columns of a normalizer's row, then `extra` of it.
fn speed_rows(
    summary: &Summary,
    steps: usize,
    header: &[&str],
    extra: impl Fn(&NormSummary) -> Vec<String>,
) -> Table {
    let mut columns = vec![
        "normalizer",
        "steps to target",
        "reached",
        "final train loss",
        "test accuracy",
    ];
    columns.extend(header);
    Table::of(&columns, &summary.norms, |n| {
        let mut cells = vec![
            n.label.clone(),
            steps_cell(n, steps),
            format!("{}/{}", n.reached, n.steps_to_target.n),
            stat(&n.final_loss, 3),
            stat(&n.test_accuracy, 3),
        ];
        cells.extend(extra(n));
        cells
    })
}

fn speed_table(summary: &Summary, steps: usize) -> Table {
    speed_rows(
        summary,
        steps,
        &["test accuracy, recalibrated", "diverged"],
        |n| {
            vec![
                stat(&n.test_accuracy_recalibrated, 3),
                n.diverged.to_string(),
            ]
        },
    )
}

/// The per-normalizer table with each mechanism's correlations and verdict as footer rows.
fn mechanism_table(summary: &Summary, steps: usize) -> Table {
    let mut table = speed_rows(
        summary,
        steps,
        &[
            "diverged",
            "‖G−G′‖/‖G‖",
            "‖G−G′‖₂",
            "cos(G,G′)",
            "β-smoothness",
            "branch share",
            "eff. rank / N",
        ],
        |n| {
            vec![
                n.diverged.to_string(),
                stat(&n.covariate_shift, 3),
                stat(&n.covariate_shift_abs, 3),
                stat(&n.shift_cosine, 3),
                stat(&n.beta_smoothness, 2),
                stat(&n.branch_share, 3),
                stat(&n.rank, 3),
            ]
        },
    );
    let footer = |name: &str, f: &dyn Fn(&Mechanism) -> Text| {
        let m = |id: &str| {
            summary
                .mechanisms
                .iter()
                .find(|m| m.id == id)
                .map(f)
                .unwrap_or_default()
        };
        let blank = || Text::new();
        vec![
            Text::from(name),
            blank(),
            blank(),
            blank(),
            blank(),
            blank(),
            m("covariate-shift"),
            blank(),
            blank(),
            m("smoothness"),
            m("identity-bias"),
            m("rank-collapse"),
        ]
    };
    table.footer_row(footer("ρ with the final training loss", &|m| {
        format!("{:.2}", m.spearman).into()
    }));
    table.footer_row(footer("ρ with the steps to target", &|m| {
        format!("{:.2}", m.spearman_steps).into()
    }));
    table.footer_row(footer("predicted sign of ρ", &|m| {
        if m.expected_sign > 0.0 { "+" } else { "−" }.into()
    }));
    table.footer_row(footer("verdict", &|m| verdict_badge(m.verdict)));
    table
}

/// The sweep's table: one row per arm and grid point.
fn sweep_table(i: &Intervention) -> Table {
    let mut table = Table::new(&[
        "arm",
        if i.id == "intervention-lr" {
            "learning rate"
        } else {
            "blocks per stage"
        },
        "final train loss",
        "diverged",
        "reached target",
        "steps to target",
        "eff. rank / N (init)",
        "branch share (init)",
    ]);
    for arm in &i.arms {
        for p in &arm.points {
            table.row(vec![
                arm.label.clone(),
                p.point.to_string(),
                stat(&p.final_loss, 3),
                format!("{}/{}", p.diverged, p.final_loss.n),
                format!("{}/{}", p.reached, p.final_loss.n),
                stat(&p.steps_to_target, 0),
                stat(&p.rank, 3),
                stat(&p.branch_share, 3),
            ]);
        }
    }
    table
}

/// The arms' mean of a per-point statistic against the grid point.
fn sweep_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    arms: &[SweepArm],
    f: fn(&SweepPoint) -> f64,
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

/// The figures of an intervention's section; `loss` is the battery's training-loss chart, of
/// which the noise experiment shows its four arms.
fn intervention_figures(i: &Intervention, loss: &Chart) -> Vec<Figure> {
    let final_loss = |id: &str, what: &str| {
        Figure::new(
            id,
            format!(
                "Final training loss against the residual blocks per stage: no normalization, BatchNorm and {what} (mean over seeds; a diverged run counts at the chance loss ln C)."
            ),
            sweep_chart(
                "Final training loss across depths",
                "blocks per stage",
                "final training loss",
                &i.arms,
                |p| p.final_loss.mean,
            ),
        )
    };
    match i.id.as_str() {
        "intervention-noise" => {
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
            vec![Figure::new(
                "noise_training_loss",
                "BatchNorm, BatchNorm with noise after it, the noise alone and no normalization: the battery's runs (10-step running mean, mean over seeds).",
                noise,
            )]
        }
        "intervention-lr" => vec![Figure::new(
            "lr_sweep",
            "Final training loss against the learning rate (mean over seeds; a diverged run counts at the chance loss ln C).",
            sweep_chart(
                "Final training loss across learning rates",
                "learning rate",
                "final training loss",
                &i.arms,
                |p| p.final_loss.mean,
            ),
        )],
        "intervention-skipinit" => vec![final_loss("depth_sweep_skipinit", "SkipInit")],
        "intervention-orthogonal" => vec![
            final_loss(
                "depth_sweep_orthogonal",
                "the delta-orthogonal initialisation",
            ),
            Figure::new(
                "depth_rank",
                "Effective rank of the last block's output over the batch size at initialization, against the depth: the check that the initialisation preserves rank.",
                sweep_chart(
                    "Rank at initialization across depths",
                    "blocks per stage",
                    "effective rank / N",
                    &i.arms,
                    |p| p.rank.mean,
                ),
            ),
        ],
        _ => vec![],
    }
}

/// The battery's runs as the training experiments' curves.
fn curves(train: &[TrainUnit]) -> Vec<Curves> {
    train
        .iter()
        .map(|u| Curves {
            norm: u.label.clone(),
            seed: u.seed,
            losses: u.losses.clone(),
            test: vec![],
            diverged_at: u.diverged_at,
        })
        .collect()
}

/// The per-explanation figures, built by the experiments that define each metric (the same
/// functions draw them in the examples), in the battery's normalizer order.
fn metric_figures(config: &ReportConfig, units: &Units) -> [Figure; 4] {
    let order = |label: &str| config.normalizers.iter().position(|e| e.label == label);
    let mut train: Vec<&TrainUnit> = units.train.iter().collect();
    train.sort_by_key(|u| order(&u.label));
    let mut init: Vec<_> = units.init.iter().collect();
    init.sort_by_key(|u| order(&u.label));
    let shifts: Vec<ShiftPoint> = train
        .iter()
        .flat_map(|u| {
            u.shifts.iter().map(|(step, layers)| ShiftPoint {
                norm: u.label.clone(),
                seed: u.seed,
                step: *step,
                layers: layers.clone(),
            })
        })
        .collect();
    let landscape: Vec<LandscapePoint> = train
        .iter()
        .flat_map(|u| {
            u.landscape.iter().map(|(step, l)| LandscapePoint {
                norm: u.label.clone(),
                seed: u.seed,
                step: *step,
                landscape: l.clone(),
            })
        })
        .collect();
    let (mut blocks, mut ranks) = (vec![], vec![]);
    for label in labels_in(&init, |u| u.label.as_str()) {
        let of: Vec<_> = init.iter().filter(|u| u.label == label).collect();
        let signals: Vec<_> = of.iter().map(|u| u.blocks.clone()).collect();
        blocks.extend(identity_bias::summarize(label, &signals));
        let profiles: Vec<_> = of.iter().map(|u| u.ranks.clone()).collect();
        ranks.extend(rank_collapse::summarize(
            label,
            Activation::Relu,
            config.network.width,
            &profiles,
        ));
    }
    let mut rank = effective_rank_figure(&ranks, config.init_batch);
    rank.id = "rank_by_block".into();
    rank.chart.title = "Effective rank of block outputs / batch size (init)".into();
    rank.chart.x_label = "block".into();
    rank.caption = "Effective rank of each block's output over the batch size, at initialization (mean ± std over seeds).".into();
    [
        shift_by_layer_figure(&shifts),
        beta_figure(&landscape),
        branch_share_figure(&blocks),
        rank,
    ]
}

/// One explanation's section: claim, effect, verdict, its metric's figure and the scatter of the
/// metric against the final training loss.
fn mechanism_section(m: &Mechanism, summary: &Summary, figure: Figure) -> Section {
    let metric: fn(&NormSummary) -> Stat = match m.id.as_str() {
        "covariate-shift" => |n| n.covariate_shift,
        "smoothness" => |n| n.beta_smoothness,
        "identity-bias" => |n| n.branch_share,
        _ => |n| n.rank,
    };
    let (id, title, x_label) = match m.id.as_str() {
        "covariate-shift" => (
            "scatter_covariate_shift",
            "Covariate shift vs training speed",
            "‖G − G′‖/‖G‖",
        ),
        "smoothness" => ("scatter_smoothness", "β-smoothness vs training speed", "β"),
        "identity-bias" => (
            "scatter_identity_bias",
            "Branch share vs training speed",
            "branch share",
        ),
        _ => (
            "scatter_rank",
            "Rank vs training speed",
            "effective rank / N",
        ),
    };
    let mut scatter = Chart::new(title, x_label, "final training loss");
    for n in &summary.norms {
        scatter.push(Series::points(
            n.label.clone(),
            vec![(metric(n).mean, n.final_loss.mean)],
        ));
    }
    let mut section = Section::new(m.id.clone(), m.name.clone()).paragraph_class(
        "what",
        Text::new()
            .strong("Claim")
            .plain(format!(" ({}). ", m.paper))
            .strong("Measured:")
            .plain(format!(" {}.", m.metric)),
    );
    if let Some(e) = &m.effect {
        section = section.paragraph(Text::new().strong("With vs without BatchNorm:").plain(
            format!(
                " {} vs {} (ratio {}, Cohen's d {:.2}).",
                stat(&e.with_bn, 4),
                stat(&e.without, 4),
                ratio_cell(m),
                e.cohens_d
            ),
        ));
    }
    section
        .paragraph_class(
            "verdict",
            verdict_badge(m.verdict).plain(format!(" {}", m.text)),
        )
        .figure(figure)
        .figure(Figure::new(
            id,
            format!(
                "{} against the final training loss, one point per normalizer (ρ = {:.2}).",
                m.metric, m.spearman
            ),
            scatter,
        ))
}

/// An intervention's subsection: prediction, table, outcome, figures.
fn intervention_section(i: &Intervention, loss: &Chart) -> Section {
    let (badge, colour) = direction_badge(i.direction);
    Section::new(i.id.clone(), format!("Intervention: {}", i.name))
        .nested()
        .paragraph_class(
            "what",
            Text::new()
                .strong("Prediction:")
                .plain(format!(" {}.", i.prediction)),
        )
        .table(sweep_table(i))
        .paragraph_class(
            "verdict",
            Text::new()
                .badge(badge, colour)
                .plain(format!(" {}", i.text)),
        )
        .figures(intervention_figures(i, loss))
}

/// `none, BatchNorm`.
fn labels_of(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| e.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report's first section: the one-paragraph answer, the verdict per explanation and how to
/// read it (also what `why_batchnorm` prints when it is done).
pub fn answer(summary: &Summary) -> Section {
    let mut summary_table = Table::new(&[
        "explanation",
        "intervention",
        "metric",
        "BN / none [95% CI]",
        "ρ with final loss (p)",
        "verdict",
    ]);
    for m in &summary.mechanisms {
        summary_table.row_text(vec![
            Text::new().link(m.name.clone(), format!("#{}", m.id)),
            intervention_cell(summary, m).into(),
            m.metric.clone().into(),
            ratio_cell(m).into(),
            rho_cell(m).into(),
            verdict_badge(m.verdict),
        ]);
    }
    Section::new("summary", "The answer")
            .paragraph_class("conclusion", summary.conclusion.clone())
            .table(summary_table)
            .paragraph_class("how", "How to read this: each explanation has an intervention — an experiment that changes its mechanism with the rest held fixed (its subsection) — whose outcome, where significant, decides the verdict. Besides, each explanation predicts that BatchNorm moves one quantity (the metric) and that the quantity governs how fast a network trains. The ratio shows how BatchNorm moves it against no normalization, with a bootstrap interval over seeds; ρ is the Spearman rank correlation between the metric and the final training loss across all normalizers of the battery, with its permutation p-value — an explanation that accounts for why normalizers differ in speed shows a significant ρ of the predicted sign. The verdict rules (docs/metrics.md) count only significant evidence: an interval that excludes 1, a p below 0.05.")
}

/// The whole report as a page of sections.
pub fn page(
    config: &ReportConfig,
    units: &Units,
    summary: &Summary,
    provenance: &Provenance,
) -> Page {
    let mut sections = vec![answer(summary)];
    let mut loss = loss_figure(
        "Training loss (10-step running mean, mean over seeds)",
        &curves(&units.train),
        10,
    );
    loss.caption = "Training loss of every normalizer in the same network.".into();
    // In the battery's order, whatever order the units came in.
    let order = |label: &str| config.normalizers.iter().position(|e| e.label == label);
    loss.chart.series.sort_by_key(|s| order(&s.name));
    let loss_chart = loss.chart.clone();
    sections.push(
        Section::new("speed", "Training speed")
            .paragraph(format!(
                "Target loss {} (10-step running mean of the training loss). In the means, a run that never reached it counts as {} steps; a run that diverged counts as slowest in the correlations.",
                config.target_loss,
                config.train.steps + 1
            ))
            .table(speed_table(summary, config.train.steps))
            .figure(loss),
    );
    let [shift, beta, share, rank] = metric_figures(config, units);
    for m in &summary.mechanisms {
        let figure = match m.id.as_str() {
            "covariate-shift" => shift.clone(),
            "smoothness" => beta.clone(),
            "identity-bias" => share.clone(),
            _ => rank.clone(),
        };
        sections.push(mechanism_section(m, summary, figure));
        if let Some(i) = summary.interventions.iter().find(|i| i.mechanism == m.id) {
            sections.push(intervention_section(i, &loss_chart));
        }
    }
    sections.push(
        Section::new("mechanisms", "Mechanism table")
            .paragraph(format!(
                "For each normalizer: its training speed beside each mechanism's metric (mean ± std over {} seed(s)). The rows at the foot say how well each metric accounts for the speed differences across the normalizers: Spearman's ρ between the column and the final training loss, and the steps to the target loss. An explanation that accounts for the differences shows a large |ρ| with the predicted sign.",
                config.seeds
            ))
            .table(mechanism_table(summary, config.train.steps)),
    );
    sections.push(
        Section::new("setup", "Setup")
            .paragraph(format!(
                "A pre-activation ResNet ({} stage(s) × {} blocks, width {}, {}×{} inputs) with each normalizer inside every block; data: {}; SGD (momentum {}, weight decay {}), learning rate {}, batch {}, {} steps, {} seed(s). Landscape and covariate shift probed at steps {:?}; the at-initialization metrics use a batch of {}. Interventions: the noise experiment uses the battery's runs; the learning-rate sweep trains {} at learning rates {:?}, the depth sweep {} with {:?} blocks per stage at learning rate {}, each for {} steps over {} seed(s).",
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
                labels_of(&config.interventions.lr_normalizers),
                config.interventions.learning_rates,
                labels_of(&config.interventions.depth_normalizers),
                config.interventions.depths,
                config.interventions.depth_lr,
                config.interventions.steps,
                config.interventions.seeds,
            ))
            .preformatted(toml::to_string(config).unwrap_or_default()),
    );
    sections.push(
        Section::new("reproducibility", "Reproducibility").paragraph(
            Text::new()
                .plain(format!(
                    "normscope {}, burn {}, backend ",
                    provenance.normscope, provenance.burn
                ))
                .code(provenance.backend.clone())
                .plain(format!(
                    "; {:.0} s of compute in the units, {:.0} s of wall time in this invocation. Every number of this page, with the configuration, is in ",
                    provenance.compute_seconds, provenance.wall_seconds
                ))
                .link("results.json", "results.json")
                .plain("; the units of work are in ")
                .code("units/")
                .plain(" (rerun with ")
                .code("--resume")
                .plain(" to continue an interrupted run, ")
                .code("--plan")
                .plain(" / ")
                .code("--unit")
                .plain(" / ")
                .code("--render")
                .plain(" to spread them over jobs)."),
        ),
    );
    let mut intro = vec![Block::Paragraph {
        class: None,
        text: "normscope measured the four competing explanations on one network, with every normalizer of the battery.".into(),
    }];
    if let Some(text) = provenance.incomplete() {
        intro.push(Block::Paragraph {
            class: Some("incomplete"),
            text: Text::new().strong(text),
        });
    }
    Page {
        title: "Why does BatchNorm work? — normscope report".into(),
        intro,
        sections,
        nav: SECTIONS
            .iter()
            .map(|(id, name)| (id.to_string(), name.to_string()))
            .collect(),
        plots: "plots".into(),
    }
}

/// Writes `plots/`, `index.html`, `report.md` and `results.json` into `out`.
pub fn write(
    out: &Path,
    config: &ReportConfig,
    units: &Units,
    summary: &Summary,
    provenance: &Provenance,
) -> Result<(), AnalysisError> {
    page(config, units, summary, provenance).write(out)?;
    crate::output::write_json(
        &out.join("results.json"),
        &serde_json::json!({ "provenance": provenance, "config": config, "summary": summary, "units": units }),
    )?;
    Ok(())
}
