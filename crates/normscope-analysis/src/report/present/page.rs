//! The report as a page: the sections in order, each explanation's section and its
//! intervention's subsection, the answer first; written as `index.html` (self-contained), `report.md`
//! and `results.json` through the shared document model ([`crate::output::Page`]).

use std::path::Path;

use serde::Serialize;

use super::{figures, tables, text};
use crate::AnalysisError;
use crate::output::{Block, Chart, Page, Section, Text};
use crate::report::config::{Entry, ReportConfig};
use crate::report::explanation::Explanation;
use crate::report::judge::Summary;
use crate::report::judge::intervention::Intervention;
use crate::report::units::measure::Units;
use crate::train::FINAL_WINDOW;

/// The report's sections, in order: `(id, short name in the navigation bar)`.
pub fn sections() -> Vec<(String, String)> {
    let mut sections = vec![
        ("summary".to_string(), "The answer".to_string()),
        ("speed".into(), "Training speed".into()),
    ];
    for e in Explanation::ALL {
        let i = e.intervention();
        sections.push((e.id().into(), format!("{}. {}", e.number(), e.short_name())));
        sections.push((
            i.id().into(),
            format!("{}b. {}", e.number(), i.short_name()),
        ));
        if e == Explanation::Smoothness {
            sections.push((LANDSCAPE.into(), format!("{}c. Landscape", e.number())));
        }
    }
    sections.extend([
        ("mechanisms".into(), "Mechanism table".into()),
        ("setup".into(), "Setup".into()),
        ("reproducibility".into(), "Reproducibility".into()),
    ]);
    sections
}

/// The landscape subsection's id.
const LANDSCAPE: &str = "landscape";

/// The landscape subsection under smoothness: the table, the sentence, the planes of every arm
/// side by side at each depth on one colour scale, λ_max and the trace across depth, the
/// spectral density and the interpolation from the initialisation.
fn landscape_section(summary: &Summary, config: &ReportConfig, units: &Units) -> Section {
    let l = &config.landscape;
    let mut section = Section::new(LANDSCAPE, "The loss landscape and the Hessian spectrum")
        .nested()
        .paragraph_class(
            "what",
            Text::new()
                .strong("Measured:")
                .plain(format!(" {}", text::landscape_measured(config))),
        );
    if l.depths.is_empty() || l.normalizers.is_empty() {
        return section.paragraph(text::landscape(summary, config));
    }
    section = section
        .table(tables::landscape(summary))
        .paragraph(text::landscape(summary, config));
    for row in figures::landscape_planes(config, units) {
        section = section.contours(row);
    }
    section.figures(figures::landscape_figures(config, summary, units))
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

/// One explanation's section: claim, effect, verdict, its metric's figure and the scatter of the
/// metric against the final training loss.
fn mechanism_section(
    explanation: Explanation,
    summary: &Summary,
    config: &ReportConfig,
    units: &Units,
) -> Section {
    let m = summary.mechanism(explanation);
    let mut section = Section::new(explanation.id(), explanation.name()).paragraph_class(
        "what",
        Text::new()
            .strong("Claim")
            .plain(format!(" ({}). ", explanation.paper()))
            .strong("Measured:")
            .plain(format!(" {}.", explanation.metric())),
    );
    if let Some(e) = &m.effect {
        section = section.paragraph(Text::new().strong("With vs without BatchNorm:").plain(
            format!(
                " {} vs {} (ratio {:.2}×, Cohen's d {:.2}).",
                e.with_bn.show(4),
                e.without.show(4),
                e.ratio,
                e.cohens_d
            ),
        ));
    }
    section
        .paragraph_class(
            "verdict",
            tables::verdict_badge(m.verdict)
                .plain(format!(" {}", text::mechanism(m, summary, config))),
        )
        .figure(figures::metric(explanation, config, units))
        .figures(figures::along_training(explanation, config, units))
        .figure(figures::scatter(explanation, summary, config))
}

/// An intervention's subsection: prediction, table, outcome, figures.
fn intervention_section(
    i: &Intervention,
    config: &ReportConfig,
    loss: &Chart,
    units: &Units,
) -> Section {
    Section::new(i.kind.id(), format!("Intervention: {}", i.kind.name()))
        .nested()
        .paragraph_class(
            "what",
            Text::new()
                .strong("Prediction:")
                .plain(format!(" {}.", text::prediction(i.kind))),
        )
        .table(tables::sweep(i))
        .paragraph_class(
            "verdict",
            tables::direction_badge(i).plain(format!(" {}", text::intervention(i, config))),
        )
        .figures(figures::intervention(i, loss, units))
}

/// `none, BatchNorm`.
fn labels_of(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| e.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report's first section: the bottom line set apart, then the details, the verdict per
/// explanation and how to read it (also what `why_batchnorm` prints when it is done).
pub fn answer(summary: &Summary, config: &ReportConfig) -> Section {
    Section::new("summary", "The answer")
            .paragraph_class("bottom-line", Text::new().strong("Bottom line.").plain(format!(" {}", text::bottom_line(summary, config))))
            .paragraph_class("conclusion", text::details(summary, config))
            .table(tables::answer(summary))
            .paragraph_class("how", Text::new().plain("How to read this: each explanation has an intervention — an experiment that changes its mechanism with the rest held fixed (its subsection) — whose outcome, where significant, decides the verdict. Besides, each explanation predicts that BatchNorm moves one quantity (the metric) and that the quantity governs how fast a network trains. The ratio shows how BatchNorm moves it against no normalization, with Fieller's 95% interval over seeds (t-based, honest at three seeds); ρ is the Spearman rank correlation between the metric and the final training loss across all normalizers of the battery, with its permutation p-value — an explanation that accounts for why normalizers differ in speed shows a significant ρ of the predicted sign. The verdict rules (docs/metrics.md) count only significant evidence: an interval that excludes 1, a p below 0.05; an explanation is ").emphasis("contradicted").plain(" only when its paper's own test comes out against it."))
}

/// The network, data, optimizer and interventions, with the whole configuration as TOML.
fn setup_section(config: &ReportConfig) -> Section {
    Section::new("setup", "Setup")
            .paragraph(format!(
                "A pre-activation ResNet ({} stage(s) × {} blocks, width {}, {}×{} inputs{}) with each normalizer inside every block; data: {} (the battery: {}); SGD (momentum {}, weight decay {}), learning rate {}, batch {}, {} steps, {} seed(s). Landscape, covariate shift and activation drift probed at steps {:?}; the at-initialization metrics use a batch of {}. Interventions, {} seed(s) per arm and grid point: the noise experiment uses the battery's runs; the learning-rate sweep trains {} at learning rates {:?} for {} steps; the identity-bias sweep trains {} at {:?} blocks per stage and learning rates {:?} for {} steps (read at budgets {:?}), and at the deepest depth at batch sizes {:?} for as many samples as {} steps at batch {}; the rank sweep trains plain MLPs {} wide ({}) with {:?} hidden layers at learning rates {:?} for {} steps.",
                config.network.stages,
                config.network.blocks,
                config.network.width,
                config.network.size,
                config.network.size,
                if config.network.stem_stride > 1 {
                    format!(", stride-{} stem", config.network.stem_stride)
                } else {
                    String::new()
                },
                config.data.name(),
                labels_of(&config.normalizers),
                config.train.sgd.momentum,
                config.train.sgd.weight_decay,
                config.train.lr,
                config.train.batch_size,
                config.train.steps,
                config.seeds,
                config.probe_steps,
                config.init_batch,
                config.interventions.seeds,
                labels_of(&config.interventions.lr_normalizers),
                config.interventions.learning_rates,
                config.interventions.steps,
                labels_of(&config.interventions.depth_normalizers),
                config.interventions.depths,
                config.interventions.depth_learning_rates,
                config.interventions.steps,
                config.interventions.budgets,
                config.interventions.batch_sizes,
                config.interventions.batch_budget,
                config.train.batch_size,
                config.interventions.rank.width,
                labels_of(&config.interventions.rank.normalizers),
                config.interventions.rank.depths,
                config.interventions.rank.learning_rates,
                config.interventions.rank.steps,
            ))
            .preformatted(toml::to_string(config).unwrap_or_default())
}

/// Versions, backend and times, and where every number and unit is.
fn reproducibility_section(provenance: &Provenance) -> Section {
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
        )
}

/// The whole report as a page of sections.
pub fn page(
    config: &ReportConfig,
    units: &Units,
    summary: &Summary,
    provenance: &Provenance,
) -> Page {
    let mut body = vec![answer(summary, config)];
    let loss = figures::training_loss(config, units);
    let loss_chart = loss.chart.clone();
    body.push(
        Section::new("speed", "Training speed")
            .paragraph(format!(
                "Target loss {} ({FINAL_WINDOW}-step running mean of the training loss). In the means, a run that never reached it counts as {} steps; a run that diverged counts as slowest in the correlations.",
                config.target_loss,
                config.train.steps + 1
            ))
            .table(tables::speed(summary, config.train.steps))
            .figure(loss),
    );
    for e in Explanation::ALL {
        body.push(mechanism_section(e, summary, config, units));
        body.push(intervention_section(
            summary.intervention(e.intervention()),
            config,
            &loss_chart,
            units,
        ));
        if e == Explanation::Smoothness {
            body.push(landscape_section(summary, config, units));
        }
    }
    body.push(
        Section::new("mechanisms", "Mechanism table")
            .paragraph(format!(
                "For each normalizer: its training speed beside each mechanism's metric (mean ± std over {} seed(s)). The rows at the foot say how well each metric accounts for the speed differences across the normalizers: Spearman's ρ between the column and the final training loss, and the steps to the target loss. An explanation that accounts for the differences shows a large |ρ| with the predicted sign.",
                config.seeds
            ))
            .table(tables::mechanisms(summary, config.train.steps)),
    );
    body.push(setup_section(config));
    body.push(reproducibility_section(provenance));
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
        sections: body,
        nav: sections(),
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
        &serde_json::json!({
            "provenance": provenance,
            "config": config,
            "summary": summary,
            "text": text::all(summary, config),
            "units": units,
        }),
    )?;
    Ok(())
}
