//! Runs a selection of a plan's units in this process, writing each into the run directory as
//! soon as it finishes; a unit already there is read (and so checked), not redone.

use std::path::Path;

use burn::tensor::Device;

use super::measure::{init_unit, landscape_unit, sweep_unit, train_unit};
use super::store::{Stored, fingerprint_in, read_any, write_unit};
use super::{UnitId, UnitKind};
use crate::AnalysisError;
use crate::report::config::ReportConfig;

/// The progress bars of a run (one per experiment).
pub trait Progress {
    /// A bar for an experiment of `total` units.
    fn bar(&self, label: &str, total: u64) -> indicatif::ProgressBar;
}

/// No bars.
pub struct Silent;

impl Progress for Silent {
    fn bar(&self, _: &str, _: u64) -> indicatif::ProgressBar {
        indicatif::ProgressBar::hidden()
    }
}

impl Progress for indicatif::MultiProgress {
    fn bar(&self, label: &str, total: u64) -> indicatif::ProgressBar {
        let bar = self.add(indicatif::ProgressBar::new(total));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:>24} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }
}

/// How many of the units asked for were run, and how many were found done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ran {
    /// Run and written by this call.
    pub ran: usize,
    /// Already in `out` (or written by a concurrent job while this one ran them).
    pub found: usize,
}

/// Runs the `units` that `out` does not hold yet, writing each as soon as it finishes; `out`
/// must have been [`prepare`](super::store::prepare)d or [`join`](super::store::join)ed for `config`. A unit already there is read (and so
/// checked), not redone.
pub fn run_selected(
    config: &ReportConfig,
    device: &Device,
    backend: &str,
    out: &Path,
    units: &[UnitId],
    progress: &dyn Progress,
) -> Result<Ran, AnalysisError> {
    let ours = fingerprint_in(out, config);
    let mut ran = Ran::default();
    let mut data = None;
    let mut bar: Option<(String, indicatif::ProgressBar)> = None;
    for id in units {
        let entry = id
            .entry(config)
            .expect("a unit of the plan names a normalizer of the configuration");
        let group = id.group();
        let per_unit = id.steps(config);
        if bar.as_ref().is_none_or(|(g, _)| *g != group) {
            if let Some((_, b)) = bar.take() {
                b.finish();
            }
            let in_group: usize = units
                .iter()
                .filter(|u| u.group() == group)
                .map(|u| u.steps(config))
                .sum();
            bar = Some((group.clone(), progress.bar(&group, in_group as u64)));
        }
        let (_, b) = bar.as_ref().expect("a bar for the group");
        let path = id.path(out);
        if read_any(id, &path, &ours)?.is_some() {
            ran.found += 1;
            b.inc(per_unit as u64);
            continue;
        }
        if data.is_none() {
            data = Some(config.data.load()?);
        }
        let (train, test) = data.as_ref().expect("loaded");
        let start = std::time::Instant::now();
        let written = match id.kind {
            UnitKind::Init => {
                b.set_message(entry.label.clone());
                let unit = init_unit(config, entry, id.seed, train, device)?;
                b.inc(1);
                write_unit(&path, &Stored::new(&ours, backend, start, unit))?
            }
            UnitKind::Train => {
                let unit = train_unit(config, entry, id.seed, train, test, device, b)?;
                write_unit(&path, &Stored::new(&ours, backend, start, unit))?
            }
            UnitKind::Lr | UnitKind::Depth | UnitKind::Batch | UnitKind::Rank => {
                let point = id.point.as_ref().expect("a sweep unit has a point");
                b.set_message(format!("{} at {}", entry.label, id.kind.point_id(point)));
                let unit = sweep_unit(config, entry, id.kind, point, id.seed, train, device, b)?;
                write_unit(&path, &Stored::new(&ours, backend, start, unit))?
            }
            UnitKind::Landscape => {
                let point = id.point.as_ref().expect("a landscape unit has a point");
                b.set_message(format!("{} at depth {}", entry.label, point.depth));
                let unit = landscape_unit(config, entry, point, id.seed, train, device, b)?;
                write_unit(&path, &Stored::new(&ours, backend, start, unit))?
            }
        };
        if written {
            ran.ran += 1;
        } else {
            ran.found += 1;
        }
    }
    if let Some((_, b)) = bar {
        b.finish();
    }
    Ok(ran)
}
