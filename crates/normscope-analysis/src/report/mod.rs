//! The `why_batchnorm` battery: every explanation measured on one network with every normalizer,
//! summarised into verdicts and written as a self-contained report.
//!
//! The data flows `config → plan → units/ → render`: [`plan`] lists a configuration's units,
//! [`run_selected`] fills `OUT/units/` with any of them (one process, `--resume`, or many jobs on
//! a shared filesystem), [`render`] builds the report from whatever units are there.

mod config;
mod intervention;
mod plan;
mod render;
mod run;
mod summary;
mod verdict;

pub use config::{
    Entry, InterventionConfig, ReportConfig, Scale, default_normalizers, roles, skip_init,
};
pub use intervention::{Intervention, SHARE_THRESHOLD, SweepArm, SweepPoint, chance_loss};
pub use plan::{
    Collected, Ran, UnitId, UnitKind, collect, fingerprint, join, open, plan, prepare,
    run_selected, select, shard, slug,
};
pub use render::{Provenance, SECTIONS, answer, page, write};
pub use run::{
    InitUnit, Progress, Silent, SweepUnit, TrainUnit, Units, init_unit, sweep_unit, train_unit,
};
pub use summary::{Effect, Mechanism, NormSummary, Summary, spearman, summarize};
pub use verdict::{
    Direction, Estimate, Evidence, Kind, Ratio, Verdict, bootstrap, bootstrap_ratio,
    judge_correlation, judge_effect, judge_threshold, permutation_p, verdict,
};

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
    let summary = summarize(config, &collected.units);
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
    write(out, config, &collected.units, &summary, &provenance)?;
    Ok(Rendered {
        summary,
        missing: collected.missing,
    })
}
