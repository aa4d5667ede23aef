//! The `why_batchnorm` battery: every explanation measured on one network with every normalizer,
//! judged into verdicts and written as a self-contained report.
//!
//! The data flows one way, each step in one module:
//!
//! - [`config`]: what a run does — the battery, the network, data and training, the
//!   interventions' sweeps; presets, TOML overrides, validation before any work;
//! - [`explanation`]: the registries — the four explanations, the intervention that tests each,
//!   the roles of the arms;
//! - [`units`]: the work — the plan of units, the run directory that stores them, what one unit
//!   measures, and the executor that runs a selection of them;
//! - [`judge`](mod@judge): the decisions — per-normalizer summaries, effect sizes, interventions and
//!   verdicts, as numbers (the statistics themselves are [`crate::stats`]);
//! - [`present`]: what a reader sees — sentences, tables, figures, the page.
//!
//! [`run`] does it all in one process; [`units::execute::run_selected`] fills a run directory
//! with any selection of units (one process, `--resume`, many jobs on a shared filesystem), and
//! [`render`] builds the report from whatever units are there.

pub mod config;
pub mod explanation;
pub mod judge;
pub mod present;
pub mod units;
pub mod validate;

pub use config::{Entry, InterventionConfig, ReportConfig, Scale, default_normalizers, skip_init};
pub use explanation::{Explanation, InterventionKind, Role};
pub use judge::{Summary, judge};
pub use present::page::{Provenance, answer, sections};
pub use units::execute::{Progress, Ran, Silent, run_selected};
pub use units::plan::{plan, select, shard};
pub use units::store::{Collected, collect, fingerprint, join, open, prepare};
pub use units::{UnitId, UnitKind};

use std::path::Path;

use burn::tensor::Device;

use crate::AnalysisError;

/// A written report.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The verdicts and per-normalizer numbers.
    pub summary: Summary,
    /// The plan's units that were missing (the report covers the others).
    pub missing: Vec<UnitId>,
}

/// Runs (or, with `resume`, continues) the whole battery in this process into `out` and writes
/// the report; returns the summary.
pub fn run(
    config: &ReportConfig,
    device: &Device,
    backend: &str,
    out: &Path,
    resume: bool,
    progress: &dyn Progress,
) -> Result<Summary, AnalysisError> {
    let start = std::time::Instant::now();
    config.validate(device)?;
    prepare(out, config, resume)?;
    run_selected(config, device, backend, out, &plan(config), progress)?;
    let rendered = render_since(config, out, start)?;
    debug_assert!(rendered.missing.is_empty(), "a whole run misses no unit");
    Ok(rendered.summary)
}

/// Writes the report of the run in `out` (`index.html`, `report.md`, `results.json`, `plots/`)
/// from the units there; the ones missing are named in the report and returned.
pub fn render(config: &ReportConfig, out: &Path) -> Result<Rendered, AnalysisError> {
    render_since(config, out, std::time::Instant::now())
}

/// [`render`], with the wall time of the run counted from `start` (for a run whose units other
/// processes computed).
pub fn render_since(
    config: &ReportConfig,
    out: &Path,
    start: std::time::Instant,
) -> Result<Rendered, AnalysisError> {
    let collected = collect(config, out)?;
    let summary = judge(config, &collected.units);
    let provenance = Provenance {
        normscope: env!("CARGO_PKG_VERSION"),
        burn: "0.22.1",
        backend: collected
            .backends
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        finished_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        wall_seconds: start.elapsed().as_secs_f64(),
        compute_seconds: collected.compute_seconds,
        missing: collected.missing.iter().map(UnitId::id).collect(),
    };
    present::page::write(out, config, &collected.units, &summary, &provenance)?;
    Ok(Rendered {
        summary,
        missing: collected.missing,
    })
}
