//! why_batchnorm's units outside one process: the plan and its shards, `--unit` jobs writing
//! into one shared `--out` (concurrently, atomically), a report rendered from a partial set, and
//! the bad inputs — a unit outside the plan, another configuration's `--out`, a truncated unit —
//! each an error naming the value or the file, with nothing finished overwritten.
#![allow(deprecated)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::Device;
use normscope::analysis::AnalysisError;
use normscope::analysis::report::{self, ReportConfig, Silent, UnitKind};

const NORMSCOPE: &str = env!("CARGO_BIN_EXE_normscope");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("normscope-units-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A run directory's `results.json` without what differs between runs of the same units: the
/// provenance (times, processes) and a landscape unit's wall-clock seconds per phase.
fn results(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("provenance");
    if let Some(units) = v["units"]["landscape"].as_array_mut() {
        for unit in units {
            unit["run"].as_object_mut().unwrap().remove("seconds");
        }
    }
    v
}

fn small() -> ReportConfig {
    let mut config = common::two_normalizer_report();
    // One unit of each sweep.
    let iv = &mut config.interventions;
    iv.learning_rates = vec![0.05];
    iv.depths = vec![2];
    iv.depth_learning_rates = vec![0.05];
    iv.depth_lr = 0.05;
    iv.steps = 10;
    iv.budgets = vec![10];
    iv.batch_sizes = vec![];
    iv.rank.depths = vec![];
    iv.seeds = 1;
    iv.lr_normalizers.retain(|e| e.label == "BatchNorm");
    iv.depth_normalizers.retain(|e| e.label == "none");
    // One landscape unit.
    config.landscape.depths = vec![2];
    config
        .landscape
        .normalizers
        .retain(|e| e.label == "BatchNorm");
    config
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn the_plan_lists_every_unit_once_and_its_shards_partition_it() {
    let config = small();
    let plan = report::plan(&config);
    let ids: Vec<String> = plan.iter().map(|u| u.id()).collect();
    assert_eq!(
        ids,
        [
            "init-none-0",
            "init-none-1",
            "init-batchnorm-0",
            "init-batchnorm-1",
            "train-none-0",
            "train-none-1",
            "train-batchnorm-0",
            "train-batchnorm-1",
            "lr-batchnorm-0.05-0",
            "depth-none-2_0.05-0",
            "landscape-batchnorm-2-0"
        ]
    );
    assert_eq!(plan[7].kind, UnitKind::Train);
    assert_eq!(plan[8].kind, UnitKind::Lr);
    assert_eq!(plan[9].kind, UnitKind::Depth);
    assert_eq!(plan[10].kind, UnitKind::Landscape);
    assert_eq!(
        plan[9].path(Path::new("/r")),
        Path::new("/r/units/depth-none-2_0.05-0.toml")
    );
    assert_eq!(
        plan[7].path(Path::new("/r")),
        Path::new("/r/units/train-batchnorm-1.toml")
    );
    for n in 1..=9 {
        let mut seen: Vec<String> = (0..n)
            .flat_map(|i| report::shard(&plan, i, n).unwrap())
            .map(|u| u.id())
            .collect();
        seen.sort();
        let mut all = ids.clone();
        all.sort();
        assert_eq!(seen, all, "the {n} shards must cover the plan exactly once");
    }
    let first: Vec<String> = report::shard(&plan, 1, 3)
        .unwrap()
        .iter()
        .map(|u| u.id())
        .collect();
    assert_eq!(
        first,
        [
            "init-none-1",
            "train-none-0",
            "train-batchnorm-1",
            "landscape-batchnorm-2-0"
        ]
    );
    match report::shard(&plan, 3, 3) {
        Err(AnalysisError::Config { key, value, .. }) => {
            assert_eq!((key.as_str(), value.as_str()), ("--shard", "3/3"))
        }
        other => panic!("expected a --shard error, got {other:?}"),
    }
    match report::select(&plan, &["train-none-0".into(), "train-nine-0".into()]) {
        Err(AnalysisError::Config { key, value, .. }) => {
            assert_eq!((key.as_str(), value.as_str()), ("--unit", "train-nine-0"))
        }
        other => panic!("expected a --unit error, got {other:?}"),
    }
    // Labels whose files would collide are refused.
    let mut clash = small();
    let mut bn = clash.normalizers[1].clone();
    bn.label = "batch norm".into();
    clash.normalizers.push(bn.clone());
    bn.label = "Batch-Norm".into();
    clash.normalizers.push(bn);
    match clash.validate(&Device::ndarray()) {
        Err(AnalysisError::Config { key, value, .. }) => {
            assert_eq!(
                (key.as_str(), value.as_str()),
                ("normalizers[3].label", "Batch-Norm")
            )
        }
        other => panic!("expected a label clash, got {other:?}"),
    }
}

#[test]
fn units_run_piecemeal_render_the_report_of_one_process_and_a_partial_set_names_what_is_missing() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let config = small();
    let whole = temp_dir("whole");
    let summary = report::run(&config, &device, "ndarray", &whole, false, &Silent).unwrap();

    let shared = temp_dir("shared");
    let plan = report::plan(&config);
    report::join(&shared, &config).unwrap();
    // Half of the plan, in reverse order: the report names the other half.
    let half: Vec<_> = report::shard(&plan, 1, 2)
        .unwrap()
        .into_iter()
        .rev()
        .collect();
    let ran = report::run_selected(&config, &device, "ndarray", &shared, &half, &Silent).unwrap();
    assert_eq!((ran.ran, ran.found), (5, 0));
    let partial = report::render(&config, &shared).unwrap();
    let missing: Vec<String> = partial.missing.iter().map(|u| u.id()).collect();
    assert_eq!(
        missing,
        [
            "init-none-0",
            "init-batchnorm-0",
            "train-none-0",
            "train-batchnorm-0",
            "lr-batchnorm-0.05-0",
            "landscape-batchnorm-2-0"
        ]
    );
    let md = std::fs::read_to_string(shared.join("report.md")).unwrap();
    assert!(
        md.contains("Incomplete: 6 unit(s) of the plan are missing (init-none-0, init-batchnorm-0"),
        "{md}"
    );
    // The rest; the units already there are found, not redone.
    let kept = modified(&half[0].path(&shared));
    let ran = report::run_selected(&config, &device, "ndarray", &shared, &plan, &Silent).unwrap();
    assert_eq!((ran.ran, ran.found), (6, 5));
    assert_eq!(modified(&half[0].path(&shared)), kept);
    let rendered = report::render(&config, &shared).unwrap();
    assert!(rendered.missing.is_empty());
    assert_eq!(
        serde_json::to_value(&rendered.summary).unwrap(),
        serde_json::to_value(&summary).unwrap(),
        "units run piecemeal must give the numbers of one whole run"
    );
    assert_eq!(results(&shared), results(&whole));
    std::fs::remove_dir_all(&whole).unwrap();
    std::fs::remove_dir_all(&shared).unwrap();
}

#[test]
fn bad_units_and_another_configurations_out_are_refused_naming_them_and_nothing_is_overwritten() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let config = small();
    let out = temp_dir("bad");
    report::join(&out, &config).unwrap();
    let plan = report::plan(&config);
    let first = report::select(&plan, &["init-none-0".into(), "train-none-0".into()]).unwrap();
    report::run_selected(&config, &device, "ndarray", &out, &first, &Silent).unwrap();
    let unit = first[1].path(&out);
    let good = std::fs::read(&unit).unwrap();

    // Another configuration joining the same --out.
    let mut other = config.clone();
    other.train.lr *= 2.0;
    match report::join(&out, &other) {
        Err(AnalysisError::Config { key, value, reason }) => {
            assert_eq!(
                (key.as_str(), value.as_str()),
                ("--out", out.to_str().unwrap())
            );
            assert!(reason.contains(&report::fingerprint(&config)), "{reason}");
        }
        r => panic!("expected an --out error, got {r:?}"),
    }
    match report::open(&out, Some(&other)) {
        Err(AnalysisError::Config { key, .. }) => assert_eq!(key, "--out"),
        r => panic!("expected an --out error, got {r:?}"),
    }
    // A whole run never clears a shared run.
    match report::run(&config, &device, "ndarray", &out, false, &Silent) {
        Err(AnalysisError::Config { key, reason, .. }) => {
            assert_eq!(key, "--out");
            assert!(reason.contains("shared run"), "{reason}");
        }
        r => panic!("expected a shared-run error, got {r:?}"),
    }
    assert_eq!(std::fs::read(&unit).unwrap(), good);

    // A unit of another configuration, put where one of ours belongs.
    let foreign = temp_dir("foreign");
    report::join(&foreign, &other).unwrap();
    report::run_selected(&other, &device, "ndarray", &foreign, &first[..1], &Silent).unwrap();
    let ours = first[0].path(&out);
    std::fs::copy(first[0].path(&foreign), &ours).unwrap();
    match report::collect(&config, &out) {
        Err(AnalysisError::Run { path, reason }) => {
            assert_eq!(path, ours);
            assert!(reason.contains("another configuration"), "{reason}");
        }
        r => panic!("expected a unit error, got {r:?}"),
    }
    std::fs::remove_file(&ours).unwrap();
    // A file outside the plan.
    let stray = out.join("units").join("init-groupnorm-0.toml");
    std::fs::copy(first[0].path(&foreign), &stray).unwrap();
    match report::render(&config, &out) {
        Err(AnalysisError::Run { path, reason }) => {
            assert_eq!(path, stray);
            assert!(
                reason.contains("not a unit of this configuration's plan"),
                "{reason}"
            );
        }
        r => panic!("expected a stray-unit error, got {r:?}"),
    }
    std::fs::remove_file(&stray).unwrap();

    // A truncated unit: rendering and running it both stop, naming it, and leave it alone.
    std::fs::write(&unit, &good[..good.len() / 2]).unwrap();
    let truncated = std::fs::read(&unit).unwrap();
    for result in [
        report::render(&config, &out).map(|_| ()),
        report::run_selected(&config, &device, "ndarray", &out, &first, &Silent).map(|_| ()),
    ] {
        match result {
            Err(AnalysisError::Run { path, reason }) => {
                assert_eq!(path, unit);
                assert!(reason.contains("truncated"), "{reason}");
            }
            r => panic!("expected a truncated-unit error, got {r:?}"),
        }
    }
    assert_eq!(std::fs::read(&unit).unwrap(), truncated);
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&foreign).unwrap();
}

#[test]
fn two_jobs_running_the_same_unit_at_once_leave_one_good_copy() {
    let out = temp_dir("race");
    let args = [
        "why-batchnorm",
        "--scale",
        "quick",
        "--only",
        "none",
        "--out",
        out.to_str().unwrap(),
        "--unit",
        "train-none-0,init-none-0",
    ];
    let jobs: Vec<_> = (0..3)
        .map(|_| {
            Command::new(NORMSCOPE)
                .args(args)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Each job says how many units it stored itself: together exactly the two, whoever won each
    // race (a job that finds a unit stored by another keeps that copy and counts it as found).
    let mut stored = 0;
    for job in jobs {
        let output = job.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{stderr}");
        let ran = stderr.split("ran ").nth(1).expect("a `ran N unit(s)` line");
        stored += ran.split(' ').next().unwrap().parse::<usize>().unwrap();
    }
    assert_eq!(stored, 2, "a finished unit was stored twice");
    let names: Vec<String> = std::fs::read_dir(out.join("units"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["init-none-0.toml", "train-none-0.toml"],
        "one copy of each unit and no temporary file left"
    );
    // Each copy is whole and of this configuration: the report renders from them.
    let status = Command::new(NORMSCOPE)
        .args(["why-batchnorm", "--render", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_whole_run_in_two_worker_processes_equals_one_process() {
    let config = temp_dir("jobs-config.toml");
    // Train long enough that both workers are busy at once.
    std::fs::write(&config, "[train]\nsteps = 60\n").unwrap();
    let run = |jobs: &str, out: &Path| {
        let output = Command::new(NORMSCOPE)
            .args(["why-batchnorm", "--scale", "quick", "--config"])
            .arg(&config)
            .args(["--only", "none,BatchNorm,SkipInit", "--jobs", jobs, "--out"])
            .arg(out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "--jobs {jobs}: {stderr}");
        stderr
    };
    let (one, two) = (temp_dir("jobs-1"), temp_dir("jobs-2"));
    run("1", &one);
    let stderr = run("2", &two);
    assert!(stderr.contains("2 process(es)"), "{stderr}");
    // Without `--backend` the run is on the default CPU backend: Flex when built with it (the
    // faster on the report's training step, docs/performance.md), it says which.
    let default_backend = if cfg!(feature = "flex") {
        "flex"
    } else {
        "ndarray"
    };
    assert!(
        stderr.contains(&format!("on {default_backend} (")),
        "{stderr}"
    );
    // Both workers ran units: each log says how many it stored.
    for i in 0..2 {
        let log =
            std::fs::read_to_string(two.join("logs").join(format!("worker-{i}.log"))).unwrap();
        let ran: usize = log
            .split("ran ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("worker {i}: {log}"));
        assert!(ran > 0, "worker {i} ran nothing: {log}");
    }
    assert_eq!(
        results(&two),
        results(&one),
        "units computed in two processes must give one process's numbers"
    );
    for dir in [one, two] {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::remove_file(config).unwrap();
}

/// A run never touches a directory that is not a run's: a user's notes in `--out` stop it before
/// anything is written, and a file of theirs in `units/` is not deleted by a fresh run.
#[test]
fn out_onto_a_users_directory_is_refused_and_nothing_in_it_is_touched() {
    let config = small();
    let device = Device::ndarray();
    let notes = temp_dir("notes");
    std::fs::create_dir_all(notes.join("units")).unwrap();
    std::fs::write(notes.join("todo.txt"), "mine").unwrap();
    std::fs::write(notes.join("units").join("important.txt"), "mine").unwrap();
    match report::run(&config, &device, "ndarray", &notes, false, &Silent) {
        Err(AnalysisError::Config { key, reason, .. }) => {
            assert_eq!(key, "--out");
            assert!(reason.contains("not a normscope run directory"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let names: Vec<String> = std::fs::read_dir(&notes)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n == "state.json" || n == "index.html"),
        "{names:?}"
    );
    assert_eq!(
        std::fs::read_to_string(notes.join("units/important.txt")).unwrap(),
        "mine"
    );
    // A directory that holds only `units/` (as a run's would) with a user's file there: a fresh
    // run refuses to clear it, naming the file.
    std::fs::remove_file(notes.join("todo.txt")).unwrap();
    match report::run(&config, &device, "ndarray", &notes, false, &Silent) {
        Err(AnalysisError::Run { path, .. }) => assert!(path.ends_with("units/important.txt")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(notes.join("units/important.txt")).unwrap(),
        "mine"
    );
    std::fs::remove_dir_all(&notes).unwrap();
}

/// One writer at a time: a whole run holds the directory's lock exclusively, jobs of a shared run
/// hold it shared; a conflicting second taker is refused at once, naming `--out`.
#[test]
fn two_runs_cannot_share_one_out() {
    use normscope::analysis::report::units::store::{Access, RunLock};
    let out = temp_dir("lock");
    let whole = RunLock::take(&out, Access::Exclusive).unwrap();
    for access in [Access::Exclusive, Access::Shared] {
        match RunLock::take(&out, access) {
            Err(AnalysisError::Config { key, .. }) => assert_eq!(key, "--out"),
            other => panic!("{access:?} beside a whole run: expected a refusal, got {other:?}"),
        }
    }
    // The run hands its units to workers: it keeps a shared lock, so workers may join while
    // another whole run still may not start.
    whole.share().unwrap();
    let worker = RunLock::take(&out, Access::Shared).unwrap();
    assert!(RunLock::take(&out, Access::Exclusive).is_err());
    drop((whole, worker));
    RunLock::take(&out, Access::Exclusive).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

/// A unit file renamed to another unit's name (as when shard directories are merged by hand) is
/// named, not attributed to the wrong normalizer.
#[test]
fn a_unit_under_another_units_name_is_refused() {
    let config = small();
    let device = Device::ndarray();
    let out = temp_dir("renamed");
    report::run(&config, &device, "ndarray", &out, false, &Silent).unwrap();
    let units = out.join("units");
    std::fs::copy(
        units.join("train-none-0.toml"),
        units.join("train-batchnorm-0.toml"),
    )
    .unwrap();
    match report::collect(&config, &out) {
        Err(AnalysisError::Run { path, reason }) => {
            assert!(
                path.ends_with("train-batchnorm-0.toml"),
                "{}",
                path.display()
            );
            assert!(reason.contains("`none`"), "{reason}");
        }
        other => panic!("expected the renamed unit to be named, got {other:?}"),
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// A state file a crash left half-written blocks no fresh run (it replaces it), and a resume
/// says why it cannot continue.
#[test]
fn a_corrupt_state_is_replaced_by_a_fresh_run_and_named_by_a_resume() {
    let config = small();
    let out = temp_dir("corrupt-state");
    std::fs::create_dir_all(out.join("units")).unwrap();
    std::fs::write(out.join("state.json"), "{\"fingerprint\": \"ab").unwrap();
    match report::prepare(&out, &config, true) {
        Err(AnalysisError::Run { path, reason }) => {
            assert!(
                path.ends_with("state.json") && reason.contains("corrupt"),
                "{reason}"
            );
        }
        other => panic!("expected the corrupt state to be named, got {other:?}"),
    }
    report::prepare(&out, &config, false).unwrap();
    assert_eq!(report::open(&out, None).unwrap(), config);
    std::fs::remove_dir_all(&out).unwrap();
}

/// `kill -9` of a run's parent ends its `--jobs` workers too (they watch their parent), and a
/// new run can then use the directory; `--resume` without configuration flags continues with
/// the configuration the run recorded.
#[cfg(unix)]
#[test]
fn killing_the_parent_ends_its_workers_and_resume_needs_no_flags() {
    let out = temp_dir("orphans");
    let config = out.with_extension("toml");
    // Long enough to be killed mid-way: no sweeps, a few hundred steps.
    std::fs::write(
        &config,
        "seeds = 2\n[train]\nsteps = 400\n[interventions]\nlearning_rates = []\ndepths = []\nbatch_sizes = []\n[interventions.rank]\ndepths = []\n[landscape]\ndepths = []\n",
    )
    .unwrap();
    let mut parent = Command::new(NORMSCOPE)
        .args(["why-batchnorm", "--scale", "quick", "--jobs", "2", "--out"])
        .arg(&out)
        .arg("--config")
        .arg(&config)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let workers = || -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("--shard") && c.contains(out.to_str().unwrap())
                })
            })
            .collect()
    };
    let start = std::time::Instant::now();
    while workers().len() < 2 {
        assert!(start.elapsed().as_secs() < 60, "the workers never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    parent.kill().unwrap(); // SIGKILL
    parent.wait().unwrap();
    let killed = std::time::Instant::now();
    while !workers().is_empty() {
        assert!(
            killed.elapsed().as_secs() < 10,
            "workers outlived their parent: {:?}",
            workers()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The directory is free again: a resume, without the configuration flags, finishes it.
    let status = Command::new(NORMSCOPE)
        .args(["why-batchnorm", "--jobs", "1", "--resume", "--out"])
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(out.join("index.html").is_file());
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_file(&config).unwrap();
}

/// A run directory written before `NoiseOnly` was its own kind (181fd25 and earlier: a
/// `noisy_batch_norm` with `normalize = false`, and the fingerprint that spelling hashed to)
/// renders to the numbers and verdicts of the same run written today (issue 28, item 2).
#[test]
fn a_run_directory_in_the_old_format_renders_the_same_report() {
    let _rng = common::backend_rng();
    let mut config = small();
    config.normalizers = normscope::analysis::report::default_normalizers()
        .into_iter()
        .filter(|e| ["none", "BatchNorm", "NoiseOnly"].contains(&e.label.as_str()))
        .collect();
    let new = temp_dir("format-new");
    report::run(&config, &Device::ndarray(), "ndarray", &new, false, &Silent).unwrap();

    // The same directory as the old code wrote it.
    let old = temp_dir("format-old");
    std::fs::create_dir_all(old.join("units")).unwrap();
    let old_fingerprint = "00c0ffee0badf00d";
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(new.join("state.json")).unwrap()).unwrap();
    let new_fingerprint = state["fingerprint"].as_str().unwrap().to_string();
    state["fingerprint"] = old_fingerprint.into();
    let noise_only = state["config"]["normalizers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["label"] == "NoiseOnly")
        .unwrap();
    assert_eq!(noise_only["norm"]["kind"], "noise_only");
    noise_only["norm"] = serde_json::json!({
        "kind": "noisy_batch_norm", "noise_mean_max": 0.5, "noise_scale_max": 1.5,
        "per_sample": false, "momentum": 0.1, "eps": 1e-5, "affine": true, "normalize": false
    });
    std::fs::write(
        old.join("state.json"),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();
    for file in std::fs::read_dir(new.join("units")).unwrap() {
        let file = file.unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        let needle = format!("config = \"{new_fingerprint}\"");
        assert!(text.contains(&needle), "{text}");
        std::fs::write(
            old.join("units").join(file.file_name()),
            text.replace(&needle, &format!("config = \"{old_fingerprint}\"")),
        )
        .unwrap();
    }

    let rendered = report::render(&config, &old).unwrap();
    assert!(rendered.missing.is_empty(), "{:?}", rendered.missing);
    assert_eq!(results(&old), results(&new));
    std::fs::remove_dir_all(&new).unwrap();
    std::fs::remove_dir_all(&old).unwrap();
}
