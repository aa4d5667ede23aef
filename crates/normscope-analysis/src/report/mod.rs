//! The `why_batchnorm` battery: every explanation measured on one network with every normalizer,
//! summarised into verdicts and written as a self-contained report.

mod config;
mod render;
mod run;
mod summary;

pub use config::{Entry, ReportConfig, Scale, default_normalizers};
pub use render::{Figure, Provenance, SECTIONS, figures, write};
pub use run::{
    InitUnit, Progress, Silent, TrainUnit, Units, init_unit, prepare, run_units, train_unit,
};
pub use summary::{Effect, Mechanism, NormSummary, Summary, Verdict, spearman, summarize};

use std::path::Path;

use burn::tensor::Device;

use crate::AnalysisError;

/// Runs (or, with `resume`, continues) the battery into `out` and writes the report; returns the
/// summary.
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
    let units = run_units(config, device, out, progress)?;
    let summary = summarize(config, &units);
    let provenance = Provenance {
        normscope: env!("CARGO_PKG_VERSION"),
        burn: "0.22.1",
        backend: backend.to_string(),
        finished_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        wall_seconds: start.elapsed().as_secs_f64(),
    };
    write(out, config, &units, &summary, &provenance)?;
    Ok(summary)
}
