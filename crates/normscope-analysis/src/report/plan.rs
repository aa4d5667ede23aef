//! The plan of a run and its units on disk.
//!
//! A configuration's **plan** is the list of its units — one per normalizer × seed × kind (the
//! at-initialization measurements, the training run with its probes) — in a fixed order. Each
//! unit is a file `OUT/units/<id>.toml` (`train-batchnorm-3.toml`) holding the configuration's
//! hash, the backend, its compute time and its numbers. `OUT/state.json` holds the configuration
//! itself. Any number of processes — one machine's run, `--resume`, Slurm array tasks on a shared
//! filesystem — fill the same `OUT`; the report is rendered from whatever units are there.
//!
//! A unit is written to a temporary file of its own process and then hard-linked into place
//! (an atomic create that fails when the file exists, also on NFS): a reader never sees part of a
//! unit, and when two jobs run the same unit the first finished copy is kept, never replaced.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::config::{Entry, ReportConfig};
use super::run::{
    InitUnit, Progress, SweepUnit, TrainUnit, Units, init_unit, sweep_unit, train_unit,
};
use crate::AnalysisError;

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitKind {
    /// Identity bias, rank and gradient norms at initialization ([`InitUnit`]).
    Init,
    /// One training run with its probes ([`TrainUnit`]).
    Train,
    /// One run of the learning-rate sweep ([`SweepUnit`]).
    Lr,
    /// One run of the depth sweep ([`SweepUnit`]).
    Depth,
}

impl UnitKind {
    /// `init` or `train`, as in the unit's id.
    pub fn name(self) -> &'static str {
        match self {
            UnitKind::Init => "init",
            UnitKind::Train => "train",
            UnitKind::Lr => "lr",
            UnitKind::Depth => "depth",
        }
    }
}

/// One unit of a plan: a kind, a normalizer (by label), for a sweep the grid point, and a
/// seed. Its [`id`](UnitId::id), `<kind>-<label slug>-<seed>` (`<kind>-<label slug>-<point>-<seed>`
/// in a sweep), names its file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitId {
    /// What it measures.
    pub kind: UnitKind,
    /// The normalizer's label in the configuration.
    pub label: String,
    /// A sweep's grid point, as written in the id (the learning rate, the blocks per stage).
    pub point: Option<String>,
    /// The seed.
    pub seed: u64,
}

impl UnitId {
    /// `train-batchnorm-3`, `lr-none-0.5-0`, `depth-skipinit-16-1`.
    pub fn id(&self) -> String {
        match &self.point {
            Some(point) => format!(
                "{}-{}-{point}-{}",
                self.kind.name(),
                slug(&self.label),
                self.seed
            ),
            None => format!("{}-{}-{}", self.kind.name(), slug(&self.label), self.seed),
        }
    }

    /// `out/units/<id>.toml`.
    pub fn path(&self, out: &Path) -> PathBuf {
        out.join("units").join(format!("{}.toml", self.id()))
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// A label as it appears in file names: ASCII alphanumerics lower-cased, anything else `-`.
pub fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The units of `config`, in the order a single process runs them: every at-initialization unit
/// (normalizer by normalizer, seed by seed), every training unit, then the learning-rate sweep
/// and the depth sweep (arm by arm, point by point, seed by seed).
pub fn plan(config: &ReportConfig) -> Vec<UnitId> {
    let mut units = vec![];
    for kind in [UnitKind::Init, UnitKind::Train] {
        for entry in &config.normalizers {
            for s in 0..config.seeds as u64 {
                units.push(UnitId {
                    kind,
                    label: entry.label.clone(),
                    point: None,
                    seed: config.train.seed + s,
                });
            }
        }
    }
    let iv = &config.interventions;
    let lrs: Vec<String> = iv.learning_rates.iter().map(|lr| lr.to_string()).collect();
    let depths: Vec<String> = iv.depths.iter().map(|d| d.to_string()).collect();
    for (kind, entries, points) in [
        (UnitKind::Lr, &iv.lr_normalizers, &lrs),
        (UnitKind::Depth, &iv.depth_normalizers, &depths),
    ] {
        for entry in entries {
            for point in points {
                for s in 0..iv.seeds as u64 {
                    units.push(UnitId {
                        kind,
                        label: entry.label.clone(),
                        point: Some(point.clone()),
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

/// The hash of a configuration (FNV-1a, 64 bits, of its canonical JSON): every unit and the
/// state carry it, and a run refuses units of another hash.
pub fn fingerprint(config: &ReportConfig) -> String {
    let text = serde_json::to_string(config).expect("a configuration serializes");
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// A unit as stored: the numbers with what made them.
#[derive(Serialize, Deserialize)]
struct Stored<T> {
    /// [`fingerprint`] of the configuration.
    config: String,
    /// The backend it ran on.
    backend: String,
    /// Its compute time, seconds.
    seconds: f64,
    unit: T,
}

impl<T> Stored<T> {
    fn new(config: &str, backend: &str, start: std::time::Instant, unit: T) -> Stored<T> {
        Stored {
            config: config.to_string(),
            backend: backend.to_string(),
            seconds: start.elapsed().as_secs_f64(),
            unit,
        }
    }
}

/// `OUT/state.json`: the configuration of the run in a directory.
#[derive(Serialize, Deserialize)]
struct State {
    fingerprint: String,
    config: ReportConfig,
    /// Started by [`join`] (`--plan`, `--unit`, `--shard`, Slurm): jobs may be writing into it,
    /// so a whole run never clears it.
    #[serde(default)]
    shared: bool,
}

fn io_error(path: &Path, source: std::io::Error) -> AnalysisError {
    crate::output::OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
    .into()
}

/// Creates `path` with `text` atomically and without replacing it: written to a temporary file
/// of this process, synced, then hard-linked to `path`. `Ok(false)` when `path` already existed
/// (another writer finished first; its copy is kept). Where the filesystem has no hard links, a
/// rename (atomic as well) takes their place.
fn create_atomically(path: &Path, text: &str) -> Result<bool, AnalysisError> {
    let dir = path.parent().expect("a file in a directory");
    let name = path.file_name().expect("a file name").to_string_lossy();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(&tmp, e))?;
    drop(file);
    let created = match std::fs::hard_link(&tmp, path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(_) if path.exists() => false,
        Err(_) => {
            std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
            return Ok(true);
        }
    };
    std::fs::remove_file(&tmp).map_err(|e| io_error(&tmp, e))?;
    Ok(created)
}

/// The unit at `path`, `None` when there is none; an error naming the file when it is truncated,
/// corrupt or another configuration's.
fn read_unit<T: DeserializeOwned>(
    path: &Path,
    fingerprint: &str,
) -> Result<Option<Stored<T>>, AnalysisError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    let stored: Stored<T> = toml::from_str(&text).map_err(|e| AnalysisError::Run {
        path: path.to_path_buf(),
        reason: format!(
            "not a complete unit file (truncated or corrupt: {}); delete it to run the unit again",
            e.message()
        ),
    })?;
    if stored.config != fingerprint {
        return Err(AnalysisError::Run {
            path: path.to_path_buf(),
            reason: format!(
                "a unit of another configuration (hash {}; this one's is {fingerprint}): use another --out",
                stored.config
            ),
        });
    }
    Ok(Some(stored))
}

/// Writes a finished unit (TOML, which unlike JSON keeps the NaN and infinities of a diverged
/// run); `Ok(false)` when another writer had already stored it.
fn write_unit<T: Serialize>(path: &Path, stored: &Stored<T>) -> Result<bool, AnalysisError> {
    let text = toml::to_string(stored).map_err(|e| crate::output::OutputError::Serialize {
        what: path.display().to_string(),
        message: e.to_string(),
    })?;
    create_atomically(path, &text)
}

fn read_state(out: &Path) -> Result<Option<State>, AnalysisError> {
    let path = out.join("state.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| AnalysisError::Run {
            path,
            reason: format!("corrupt run state: {e}"),
        })
}

fn another_configuration(out: &Path, theirs: &str, ours: &str) -> AnalysisError {
    AnalysisError::Config {
        key: "--out".into(),
        value: out.display().to_string(),
        reason: format!(
            "holds the run of another configuration (hash {theirs} in its state.json; this configuration's is {ours}): choose another --out, or give no configuration options to use the one there"
        ),
    }
}

/// Prepares `out` for a whole run in one process: with `resume`, the run there must have the
/// same configuration; without it, previous units are cleared — unless `out` holds a shared run
/// (made by [`join`]), which is refused, so that a plain run never deletes what other jobs made.
pub fn prepare(out: &Path, config: &ReportConfig, resume: bool) -> Result<(), AnalysisError> {
    let previous = read_state(out)?;
    let shared = previous.as_ref().is_some_and(|p| p.shared);
    match &previous {
        Some(p) if resume && p.fingerprint != fingerprint(config) => {
            return Err(AnalysisError::Config {
                key: "--resume".into(),
                value: out.display().to_string(),
                reason: "the run in this directory used another configuration; resume with the same options or choose another --out".into(),
            });
        }
        Some(p) if !resume && p.shared => {
            return Err(AnalysisError::Config {
                key: "--out".into(),
                value: out.display().to_string(),
                reason: format!(
                    "holds a shared run (configuration {}, started by --plan, --unit, --shard or `normscope slurm`; jobs may still be writing into it): continue it with --unit, --shard or --resume, build its report with --render, or choose another --out",
                    p.fingerprint
                ),
            });
        }
        _ if !resume && out.join("units").exists() => {
            std::fs::remove_dir_all(out.join("units"))
                .map_err(|e| io_error(&out.join("units"), e))?;
        }
        _ => {}
    }
    std::fs::create_dir_all(out.join("units")).map_err(|e| io_error(&out.join("units"), e))?;
    crate::output::write_json(
        &out.join("state.json"),
        &State {
            fingerprint: fingerprint(config),
            config: config.clone(),
            shared,
        },
    )?;
    Ok(())
}

/// Joins the shared run in `out` (`--plan`, `--unit`, `--shard`, a Slurm array task): writes its
/// state when `out` has none, checks that it is `config`'s otherwise. Deletes nothing, so jobs
/// that start together on a shared filesystem can all call it.
pub fn join(out: &Path, config: &ReportConfig) -> Result<(), AnalysisError> {
    std::fs::create_dir_all(out.join("units")).map_err(|e| io_error(&out.join("units"), e))?;
    let ours = fingerprint(config);
    if read_state(out)?.is_none() {
        let state = State {
            fingerprint: ours.clone(),
            config: config.clone(),
            shared: true,
        };
        let text = serde_json::to_string_pretty(&state).expect("a configuration serializes");
        create_atomically(&out.join("state.json"), &text)?;
    }
    let theirs = read_state(out)?
        .expect("state.json was just created")
        .fingerprint;
    if theirs != ours {
        return Err(another_configuration(out, &theirs, &ours));
    }
    Ok(())
}

/// The configuration of the run in `out` (its `state.json`); when `given`, it must be that one.
pub fn open(out: &Path, given: Option<&ReportConfig>) -> Result<ReportConfig, AnalysisError> {
    let state = read_state(out)?.ok_or_else(|| AnalysisError::Run {
        path: out.join("state.json"),
        reason:
            "no run here (no state.json): start one with --plan, --unit, --shard or a plain run"
                .into(),
    })?;
    if let Some(config) = given
        && fingerprint(config) != state.fingerprint
    {
        return Err(another_configuration(
            out,
            &state.fingerprint,
            &fingerprint(config),
        ));
    }
    Ok(state.config)
}

/// What a run directory holds of a plan.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The finished units, in the plan's order.
    pub units: Units,
    /// The plan's units not (yet) there.
    pub missing: Vec<UnitId>,
    /// The backends the units ran on.
    pub backends: BTreeSet<String>,
    /// The units' compute time, summed, seconds.
    pub compute_seconds: f64,
}

/// Reads back every unit of `config`'s plan that `out` holds. A unit file that is truncated,
/// corrupt, another configuration's or outside the plan is an error naming it.
pub fn collect(config: &ReportConfig, out: &Path) -> Result<Collected, AnalysisError> {
    let plan = plan(config);
    let ours = fingerprint(config);
    let dir = out.join("units");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let known: BTreeSet<String> = plan.iter().map(|u| format!("{}.toml", u.id())).collect();
        for entry in entries {
            let path = entry.map_err(|e| io_error(&dir, e))?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.ends_with(".toml") && !name.starts_with('.') && !known.contains(name.as_ref()) {
                return Err(AnalysisError::Run {
                    path,
                    reason: format!(
                        "not a unit of this configuration's plan (hash {ours}, {} units): it belongs to another run; use another --out",
                        plan.len()
                    ),
                });
            }
        }
    }
    let mut collected = Collected {
        units: Units {
            init: vec![],
            train: vec![],
            lr: vec![],
            depth: vec![],
        },
        missing: vec![],
        backends: BTreeSet::new(),
        compute_seconds: 0.0,
    };
    for id in plan {
        let path = id.path(out);
        let found = match id.kind {
            UnitKind::Init => read_unit::<InitUnit>(&path, &ours)?.map(|s| {
                collected.units.init.push(s.unit);
                (s.backend, s.seconds)
            }),
            UnitKind::Train => read_unit::<TrainUnit>(&path, &ours)?.map(|s| {
                collected.units.train.push(s.unit);
                (s.backend, s.seconds)
            }),
            UnitKind::Lr => read_unit::<SweepUnit>(&path, &ours)?.map(|s| {
                collected.units.lr.push(s.unit);
                (s.backend, s.seconds)
            }),
            UnitKind::Depth => read_unit::<SweepUnit>(&path, &ours)?.map(|s| {
                collected.units.depth.push(s.unit);
                (s.backend, s.seconds)
            }),
        };
        match found {
            Some((backend, seconds)) => {
                collected.backends.insert(backend);
                collected.compute_seconds += seconds;
            }
            None => collected.missing.push(id),
        }
    }
    Ok(collected)
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
/// must have been [`prepare`]d or [`join`]ed for `config`. A unit already there is read (and so
/// checked), not redone.
pub fn run_selected(
    config: &ReportConfig,
    device: &Device,
    backend: &str,
    out: &Path,
    units: &[UnitId],
    progress: &dyn Progress,
) -> Result<Ran, AnalysisError> {
    let ours = fingerprint(config);
    let mut ran = Ran::default();
    let mut data = None;
    let mut bar: Option<(String, indicatif::ProgressBar)> = None;
    let iv = &config.interventions;
    for id in units {
        let entries = match id.kind {
            UnitKind::Init | UnitKind::Train => &config.normalizers,
            UnitKind::Lr => &iv.lr_normalizers,
            UnitKind::Depth => &iv.depth_normalizers,
        };
        let entry: &Entry = entries
            .iter()
            .find(|e| e.label == id.label)
            .expect("a unit of the plan names a normalizer of the configuration");
        let group = match id.kind {
            UnitKind::Init => "at initialization".to_string(),
            UnitKind::Train => format!("training {}", id.label),
            UnitKind::Lr => "learning-rate sweep".to_string(),
            UnitKind::Depth => "depth sweep".to_string(),
        };
        let per_unit = match id.kind {
            UnitKind::Init => 1,
            UnitKind::Train => config.train.steps,
            UnitKind::Lr | UnitKind::Depth => iv.steps,
        };
        if bar.as_ref().is_none_or(|(g, _)| *g != group) {
            if let Some((_, b)) = bar.take() {
                b.finish();
            }
            let in_group = units
                .iter()
                .filter(|u| u.kind == id.kind && (u.kind != UnitKind::Train || u.label == id.label))
                .count();
            bar = Some((
                group.clone(),
                progress.bar(&group, (in_group * per_unit) as u64),
            ));
        }
        let (_, b) = bar.as_ref().expect("a bar for the group");
        let path = id.path(out);
        let done = match id.kind {
            UnitKind::Init => read_unit::<InitUnit>(&path, &ours)?.is_some(),
            UnitKind::Train => read_unit::<TrainUnit>(&path, &ours)?.is_some(),
            UnitKind::Lr | UnitKind::Depth => read_unit::<SweepUnit>(&path, &ours)?.is_some(),
        };
        if done {
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
            UnitKind::Lr | UnitKind::Depth => {
                let point = id.point.as_deref().expect("a sweep unit has a point");
                b.set_message(format!("{} at {point}", entry.label));
                let unit = sweep_unit(config, entry, id.kind, point, id.seed, train, device, b)?;
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

#[cfg(test)]
mod tests {
    use super::create_atomically;

    #[test]
    fn of_many_writers_racing_for_one_file_exactly_one_wins_and_its_copy_stays_whole() {
        let dir = std::env::temp_dir().join(format!("normscope-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("unit.toml");
        let barrier = std::sync::Barrier::new(8);
        let won: Vec<(usize, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (path, barrier) = (&path, &barrier);
                    s.spawn(move || {
                        let text = format!("writer = {i}\n{}", "x".repeat(1 << 16));
                        barrier.wait();
                        (i, create_atomically(path, &text).unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<usize> = won.iter().filter(|w| w.1).map(|w| w.0).collect();
        assert_eq!(winners.len(), 1, "{won:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("writer = {}\n{}", winners[0], "x".repeat(1 << 16))
        );
        // A later writer never replaces it.
        assert!(!create_atomically(&path, "late").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files, 1, "temporary files left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
