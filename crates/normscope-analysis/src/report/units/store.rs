//! A run directory on disk: `OUT/state.json` holds the configuration (and its hash) of the run
//! in `OUT`, and each finished unit is a file `OUT/units/<id>.toml` holding the configuration's
//! hash, the backend, its compute time and its numbers. Any number of processes — one machine's
//! run, `--resume`, Slurm array tasks on a shared filesystem — fill the same `OUT`; the report is
//! rendered from whatever units are there.
//!
//! A unit is written to a temporary file of its own process and then hard-linked into place
//! (an atomic create that fails when the file exists, also on NFS): a reader never sees part of a
//! unit, and when two jobs run the same unit the first finished copy is kept, never replaced.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::measure::{AnyUnit, Units};
use super::plan::plan;
use super::{UnitId, UnitKind};
use crate::AnalysisError;
use crate::report::config::ReportConfig;

/// The hash of a configuration (FNV-1a, 64 bits, of its canonical JSON): every unit and the
/// state carry it, and a run refuses units of another hash.
pub fn fingerprint(config: &ReportConfig) -> String {
    let text = serde_json::to_string(config).expect("a configuration serializes");
    let hash = crate::stats::fnv1a(text.as_bytes());
    format!("{hash:016x}")
}

/// A unit as stored: the numbers with what made them.
#[derive(Serialize, Deserialize)]
pub(crate) struct Stored<T> {
    /// [`fingerprint`] of the configuration.
    pub(crate) config: String,
    /// The backend it ran on.
    pub(crate) backend: String,
    /// Its compute time, seconds.
    pub(crate) seconds: f64,
    pub(crate) unit: T,
}

impl<T> Stored<T> {
    pub(crate) fn new(
        config: &str,
        backend: &str,
        start: std::time::Instant,
        unit: T,
    ) -> Stored<T> {
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
pub(crate) fn read_unit<T: DeserializeOwned>(
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

/// The unit `id` at `path` (see [`read_unit`]), checked against its name: a unit file copied
/// under another unit's name (merging shard directories by hand) is an error naming it, not a
/// result attributed to the wrong normalizer.
pub(crate) fn read_any(
    id: &UnitId,
    path: &Path,
    fingerprint: &str,
) -> Result<Option<Stored<AnyUnit>>, AnalysisError> {
    fn wrap<T>(s: Option<Stored<T>>, f: fn(T) -> AnyUnit) -> Option<Stored<AnyUnit>> {
        s.map(|s| Stored {
            config: s.config,
            backend: s.backend,
            seconds: s.seconds,
            unit: f(s.unit),
        })
    }
    let stored = match id.kind {
        UnitKind::Init => wrap(read_unit(path, fingerprint)?, AnyUnit::Init),
        UnitKind::Train => wrap(read_unit(path, fingerprint)?, AnyUnit::Train),
        UnitKind::Lr => wrap(read_unit(path, fingerprint)?, AnyUnit::Lr),
        UnitKind::Depth => wrap(read_unit(path, fingerprint)?, AnyUnit::Depth),
        UnitKind::Batch => wrap(read_unit(path, fingerprint)?, AnyUnit::Batch),
        UnitKind::Rank => wrap(read_unit(path, fingerprint)?, AnyUnit::Rank),
        UnitKind::Landscape => wrap(read_unit(path, fingerprint)?, |u| {
            AnyUnit::Landscape(Box::new(u))
        }),
    };
    if let Some(s) = &stored {
        let (label, seed, point) = s.unit.identity();
        if label != id.label || seed != id.seed || point != id.point {
            return Err(AnalysisError::Run {
                path: path.to_path_buf(),
                reason: format!(
                    "holds the unit of `{label}`, seed {seed}{}, not {id}: a unit file renamed or copied under another unit's name; delete it to run the unit again",
                    point
                        .map(|p| format!(", point {}", id.kind.point_id(&p)))
                        .unwrap_or_default()
                ),
            });
        }
    }
    Ok(stored)
}

/// Writes a finished unit (TOML, which unlike JSON keeps the NaN and infinities of a diverged
/// run); `Ok(false)` when another writer had already stored it.
pub(crate) fn write_unit<T: Serialize>(
    path: &Path,
    stored: &Stored<T>,
) -> Result<bool, AnalysisError> {
    let text = toml::to_string(stored).map_err(|e| crate::output::OutputError::Serialize {
        what: path.display().to_string(),
        message: e.to_string(),
    })?;
    create_atomically(path, &text)
}

/// The run state in `out`: `Ok(None)` when there is none, an error when it is unreadable.
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

impl State {
    /// Whether this is the run of `config`: the same hash, or — for a directory written before
    /// a change of how configurations serialize — the same configuration once read back.
    fn is_of(&self, config: &ReportConfig) -> bool {
        self.fingerprint == fingerprint(config) || self.config == *config
    }
}

/// The hash the units in `out` carry for `config`: the one its state records when that state is
/// `config`'s (see [`State::is_of`]), else `config`'s own.
pub(crate) fn fingerprint_in(out: &Path, config: &ReportConfig) -> String {
    match read_state(out) {
        Ok(Some(state)) if state.is_of(config) => state.fingerprint,
        _ => fingerprint(config),
    }
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

/// The files a run writes into `out` besides `units/` and `state.json`: a plain run replaces
/// them, so it only ever does so in a directory that `owned` says is a run's.
pub const RUN_FILES: [&str; 6] = [
    "index.html",
    "report.md",
    "results.json",
    "plots",
    "logs",
    LOCK_FILE,
];

/// The lock file of a run directory.
pub const LOCK_FILE: &str = ".normscope.lock";

/// Whether `out` may hold a run: it does not exist, holds a run's `state.json`, or holds
/// nothing but what runs write (`units/`, a temporary file of a job that is writing its state,
/// the lock, ...: two jobs starting together see each other's). A directory with anything else
/// and no state is a user's, and is refused before anything in it is touched.
fn owned(out: &Path) -> Result<(), AnalysisError> {
    let entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(out, e)),
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let ours = |n: &String| {
        RUN_FILES.contains(&n.as_str())
            || ["state.json", "units", "slurm"].contains(&n.as_str())
            || (n.starts_with('.') && n.ends_with(".tmp"))
    };
    if names.iter().any(|n| n == "state.json") {
        return Ok(());
    }
    match names.iter().find(|n| !ours(n)) {
        None => Ok(()),
        Some(foreign) => Err(AnalysisError::Config {
            key: "--out".into(),
            value: out.display().to_string(),
            reason: format!(
                "is not a normscope run directory (no state.json; it holds `{foreign}`): a run writes units/, index.html, report.md and results.json there, so it only uses a new, empty or earlier run's directory; choose another --out"
            ),
        }),
    }
}

/// A held lock on a run directory (released when dropped, or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    file: std::fs::File,
}

/// How a process uses a run directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A whole run (it clears earlier units): no other process may use the directory.
    Exclusive,
    /// A job of a shared run (`--plan`, `--unit`, `--shard`, `--render`, a worker of
    /// `--jobs`): any number of them together, but not beside an exclusive one.
    Shared,
}

impl RunLock {
    /// Takes the lock of `out` (created when missing) without waiting: an error naming the
    /// directory when another process holds it in a conflicting way.
    pub fn take(out: &Path, access: Access) -> Result<RunLock, AnalysisError> {
        std::fs::create_dir_all(out).map_err(|e| io_error(out, e))?;
        let path = out.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        let taken = match access {
            Access::Exclusive => file.try_lock(),
            Access::Shared => file.try_lock_shared(),
        };
        match taken {
            Ok(()) => Ok(RunLock { file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(AnalysisError::Config {
                key: "--out".into(),
                value: out.display().to_string(),
                reason: match access {
                    Access::Exclusive => "another normscope process is using this directory (a run, or a job of a shared run, holds its lock): wait for it to finish, or choose another --out".into(),
                    Access::Shared => "a whole run in another process is using this directory (it holds its lock): wait for it to finish, or choose another --out".into(),
                },
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io_error(&path, e)),
        }
    }

    /// Turns an exclusive lock into a shared one (a run that has prepared its directory and
    /// hands the units to worker processes, which take shared locks).
    pub fn share(&self) -> Result<(), AnalysisError> {
        self.file
            .lock_shared()
            .map_err(|e| io_error(Path::new(LOCK_FILE), e))
    }
}

/// Removes the unit files (and temporary files of unit writers) in `dir`; any other file there
/// is a user's, and is refused before anything is removed.
fn clear_units(dir: &Path) -> Result<(), AnalysisError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(dir, e)),
    };
    let paths: Vec<std::path::PathBuf> = entries
        .map(|e| e.map(|e| e.path()).map_err(|e| io_error(dir, e)))
        .collect::<Result<_, _>>()?;
    let is_unit = |p: &Path| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        p.is_file()
            && ((name.ends_with(".toml") && !name.starts_with('.'))
                || (name.starts_with('.') && name.ends_with(".tmp")))
    };
    if let Some(foreign) = paths.iter().find(|p| !is_unit(p)) {
        return Err(AnalysisError::Run {
            path: foreign.clone(),
            reason: "not a unit file: a run clears units/ before it starts, and this is not its to delete; move it, or choose another --out".into(),
        });
    }
    for path in paths {
        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
    }
    Ok(())
}

/// Prepares `out` for a whole run in one process (which holds its [`Access::Exclusive`] lock):
/// with `resume`, the run there must have the same configuration; without it, previous units
/// are cleared — unless `out` holds a shared run (made by [`join`]), which is refused, so that a
/// plain run never deletes what other jobs made. A directory that is not a run's is refused.
pub fn prepare(out: &Path, config: &ReportConfig, resume: bool) -> Result<(), AnalysisError> {
    owned(out)?;
    let previous = match read_state(out) {
        // A state a crash (a full disk) left unreadable: the directory is a run's, its
        // configuration unknown; a fresh run replaces it, a resume cannot use it.
        Err(AnalysisError::Run { .. }) if !resume => None,
        other => other?,
    };
    let shared = previous.as_ref().is_some_and(|p| p.shared);
    match &previous {
        Some(p) if resume && !p.is_of(config) => {
            return Err(AnalysisError::Config {
                key: "--resume".into(),
                value: out.display().to_string(),
                reason: "the run in this directory used another configuration; resume with the same options (or none, to use the one it recorded) or choose another --out".into(),
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
        _ if !resume => clear_units(&out.join("units"))?,
        _ => {}
    }
    std::fs::create_dir_all(out.join("units")).map_err(|e| io_error(&out.join("units"), e))?;
    let fingerprint = match &previous {
        Some(p) if resume => p.fingerprint.clone(),
        _ => fingerprint(config),
    };
    crate::output::write_json(
        &out.join("state.json"),
        &State {
            fingerprint,
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
    owned(out)?;
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
    let state = read_state(out)?.expect("state.json was just created");
    if !state.is_of(config) {
        return Err(another_configuration(out, &state.fingerprint, &ours));
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
        && !state.is_of(config)
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
    let ours = fingerprint_in(out, config);
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
        units: Units::default(),
        missing: vec![],
        backends: BTreeSet::new(),
        compute_seconds: 0.0,
    };
    for id in plan {
        let path = id.path(out);
        let found = read_any(&id, &path, &ours)?.map(|s| {
            collected.units.push(s.unit);
            (s.backend, s.seconds)
        });
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
