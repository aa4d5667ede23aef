//! `normscope slurm` on a real Slurm cluster: a sweep submitted as a job array, rendered by the
//! `afterok` job, equal to a single-process run of the same configuration; one task cancelled
//! mid-run with `scancel`, then only the missing unit resubmitted, nothing redone or lost.
//!
//! The cluster is Debian's `slurm-wlm` started by `.ci/slurm-up` (slurmctld + slurmd on
//! localhost). Without one the cluster test is skipped with a message — except in CI
//! (`NORMSCOPE_REQUIRE_SLURM` set), where its absence fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

const NORMSCOPE: &str = env!("CARGO_BIN_EXE_normscope");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("normscope-slurm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

/// The script `normscope slurm --dry-run` prints for `args`.
fn dry_run(args: &[&str]) -> String {
    let mut all = vec!["slurm", "--dry-run"];
    all.extend_from_slice(args);
    stdout(&run(NORMSCOPE, &all))
}

#[test]
fn the_dry_run_prints_one_array_task_per_unit_with_the_flags_and_a_gpu_only_for_gpu_backends() {
    let out = temp_dir("dry");
    let out_arg = out.display().to_string();
    let common = [
        "--scale",
        "quick",
        "--partition",
        "gpu",
        "--time",
        "2:00:00",
        "--account",
        "proj42",
        "--max-running",
        "3",
        "--out",
        &out_arg,
    ];
    let with = |backend: &str| {
        let mut args = common.to_vec();
        args.extend(["--backend", backend]);
        dry_run(&args)
    };
    let cuda = with("tch-cuda");
    // Quick: 11 normalizers × 1 seed × (init, train) = 22 units, the learning-rate sweep 2 arms ×
    // 2 rates × 2 seeds = 8, the depth sweep 3 arms × 2 depths × 2 rates × 2 seeds = 24, the
    // batch-size sweep 3 arms × 1 batch size × 2 rates × 2 seeds = 12, the plain-network sweep
    // 3 arms × 2 depths × 2 rates × 2 seeds = 24, the landscape 2 arms × 1 depth × 1 seed = 2:
    // 92, a task each.
    for line in [
        "#SBATCH --array=0-91%3",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=2:00:00",
        "#SBATCH --account=proj42",
        "#SBATCH --cpus-per-task=1",
        "  init-none-0",
        "  train-skipinit-0",
        "  landscape-batchnorm-2-0",
    ] {
        assert!(cuda.contains(line), "no `{line}` in\n{cuda}");
    }
    assert!(cuda.contains(&format!(
        "why-batchnorm --backend tch-cuda --out '{}' --unit \"${{units[$SLURM_ARRAY_TASK_ID]}}\"",
        out.display()
    )));
    assert!(cuda.contains(&format!("why-batchnorm --out '{}' --render", out.display())));
    assert_eq!(
        cuda.matches("#SBATCH --gres").count(),
        1,
        "the render job needs no GPU"
    );
    let cpu = with("ndarray");
    assert!(!cpu.contains("--gres"), "a CPU run asks for no GPU:\n{cpu}");
    let sharded = dry_run(&["--scale", "quick", "--shards", "4", "--out", &out_arg]);
    assert!(sharded.contains("#SBATCH --array=0-3\n"), "{sharded}");
    assert!(
        sharded.contains("--shard \"$SLURM_ARRAY_TASK_ID/4\""),
        "{sharded}"
    );
    assert!(!out.exists(), "a dry run writes nothing");

    // Bad values are refused, naming them.
    let bad = Command::new(NORMSCOPE)
        .args([
            "slurm",
            "--dry-run",
            "--scale",
            "quick",
            "--partition",
            "a b",
            "--out",
            &out_arg,
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--partition `a b`"));
}

/// The arguments sbatch reads from the rest of an `#SBATCH` line, as Slurm's `_get_argument`
/// (src/sbatch/opt.c) splits them: whitespace separates, a backslash escapes the next character,
/// and an unquoted `#` starts a comment. `legacy`: older Slurm, where only `"` quotes and a `#`
/// starts a comment even inside quotes; otherwise `"` and `'` both quote.
fn sbatch_arguments(line: &str, legacy: bool) -> Vec<String> {
    let mut args = vec![];
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return args;
        }
        let (mut arg, mut quote, mut comment) = (String::new(), None::<char>, false);
        while let Some(&c) = chars.peek() {
            if quote.is_none() && c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '\\' => arg.extend(chars.next()),
                '#' if quote.is_none() || legacy => {
                    comment = true;
                    break;
                }
                '"' | '\'' if quote == Some(c) => quote = None,
                '"' if quote.is_none() => quote = Some(c),
                '\'' if quote.is_none() && !legacy => quote = Some(c),
                c => arg.push(c),
            }
        }
        assert!(quote.is_none() || comment, "unmatched quote in `{line}`");
        if !arg.is_empty() {
            args.push(arg);
        }
        if comment {
            return args;
        }
    }
}

/// A Slurm file-name pattern with job 7, array task 0: `%A`, `%j` → 7, `%a` → 0, `%%` → `%`.
fn slurm_file_name(pattern: &str) -> String {
    assert!(
        !pattern.contains('\\'),
        "a backslash turns Slurm's patterns off: {pattern}"
    );
    let (mut out, mut chars) = (String::new(), pattern.chars());
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('A' | 'j') => out.push('7'),
            Some('a') => out.push('0'),
            Some('%') => out.push('%'),
            other => panic!("unexpected pattern %{other:?} in {pattern}"),
        }
    }
    out
}

/// The arguments the script's `exec` line runs, by bash with `exec` replaced by a printer (and
/// array task 0).
fn exec_arguments(script: &str, dir: &Path) -> Vec<String> {
    let file = dir.join("script.sh");
    std::fs::write(&file, script).unwrap();
    let output = Command::new("bash")
        .args([
            "-c",
            "exec() { printf '%s\\0' \"$@\"; }; . \"$0\"",
            file.to_str().unwrap(),
        ])
        .current_dir(dir)
        .env("SLURM_ARRAY_TASK_ID", "0")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}\n{script}");
    let text = String::from_utf8(output.stdout).unwrap();
    text.split_terminator('\0').map(String::from).collect()
}

#[test]
fn out_paths_are_quoted_in_the_scripts_and_a_line_break_is_refused() {
    let base = temp_dir("quoting");
    std::fs::create_dir_all(&base).unwrap();
    // A line break in --out became a command of the .sbatch files at 181fd25 (issue 29,
    // item 8): refused, naming the flag, before anything is written.
    let marker = base.join("injected");
    for bad in [
        format!("run\ntouch {}", marker.display()),
        "run\rx".to_string(),
        "back\\slash".to_string(),
    ] {
        let out = base.join(&bad);
        let output = Command::new(NORMSCOPE)
            .args(["slurm", "--dry-run", "--scale", "quick", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{bad:?} accepted:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(
            stderr.contains("--out") && stderr.contains("cannot be written safely"),
            "{stderr}"
        );
        assert!(!out.exists() && !marker.exists());
    }
    // Quotes, `%`, `#`, `$(…)`, backquotes, `;` and spaces are kept as they are, in the
    // #SBATCH lines (as sbatch and Slurm's file-name patterns read them) and the shell lines.
    let out = base.join("it's \"100%\" #1 $(touch injected) `touch injected`; a  b");
    let out_arg = out.to_str().unwrap();
    let scripts = dry_run(&["--scale", "quick", "--out", out_arg]);
    let (units, render) = scripts
        .split_once("#!/bin/bash\n#SBATCH --job-name=normscope-render")
        .map(|(u, r)| {
            (
                u.to_string(),
                format!("#!/bin/bash\n#SBATCH --job-name=normscope-render{r}"),
            )
        })
        .unwrap();
    for (script, log) in [(&units, "units-7_0.out"), (&render, "render-7.out")] {
        let line = script
            .lines()
            .find_map(|l| l.strip_prefix("#SBATCH --output="))
            .unwrap_or_else(|| panic!("no --output line in\n{script}"));
        for legacy in [false, true] {
            let args = sbatch_arguments(&format!("--output={line}"), legacy);
            assert_eq!(args.len(), 1, "{line}: {args:?}");
            let name = slurm_file_name(args[0].strip_prefix("--output=").unwrap());
            assert_eq!(
                name,
                format!("{out_arg}/slurm/logs/{log}"),
                "legacy {legacy}"
            );
        }
        let args = exec_arguments(script, &base);
        let at = args.iter().position(|a| a == "--out").unwrap();
        assert_eq!(args[at + 1], out_arg, "{args:?}");
        assert_eq!(args[1], "why-batchnorm");
    }
    assert!(exec_arguments(&units, &base).contains(&"init-none-0".to_string()));
    assert!(!marker.exists(), "a command in the path ran");
    assert!(!out.exists(), "a dry run writes nothing");
    std::fs::remove_dir_all(&base).unwrap();
}

fn slurm_up() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%t"])
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("idle"))
        .unwrap_or(false)
}

/// `(task, state)` of every task of `jobs` still in the queue.
fn queue(jobs: &str) -> Vec<(String, String)> {
    let output = Command::new("squeue")
        .args(["-h", "-r", "-j", jobs, "-o", "%i %t"])
        .output()
        .expect("squeue runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| {
            let (id, state) = l.trim().split_once(' ')?;
            Some((id.to_string(), state.to_string()))
        })
        .collect()
}

fn wait_until_gone(jobs: &str, out: &Path) {
    let start = Instant::now();
    while !queue(jobs).is_empty() {
        if start.elapsed() > Duration::from_secs(600) {
            let logs: Vec<String> = std::fs::read_dir(out.join("slurm").join("logs"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                        .collect()
                })
                .unwrap_or_default();
            panic!(
                "jobs {jobs} still queued after 10 minutes: {:?}\nlogs:\n{}",
                queue(jobs),
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn unit_times(out: &Path) -> BTreeMap<String, SystemTime> {
    std::fs::read_dir(out.join("units"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            (name, std::fs::metadata(&p).unwrap().modified().unwrap())
        })
        .collect()
}

fn numbers(out: &Path) -> serde_json::Value {
    let mut results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    results.as_object_mut().unwrap().remove("provenance");
    results
}

#[test]
fn a_sweep_on_slurm_equals_one_process_and_a_cancelled_task_is_resubmitted_alone() {
    if !slurm_up() {
        assert!(
            std::env::var_os("NORMSCOPE_REQUIRE_SLURM").is_none(),
            "NORMSCOPE_REQUIRE_SLURM is set but no Slurm cluster answers `sinfo` (start one with .ci/slurm-up)"
        );
        eprintln!(
            "SKIPPED: no Slurm cluster answers `sinfo` (.ci/slurm-up starts one; CI requires it)"
        );
        return;
    }
    let base = temp_dir("sweep");
    std::fs::create_dir_all(&base).unwrap();
    // The quick preset with three normalizers × two seeds and no sweeps (12 units, so 12 array
    // tasks) and training long enough (~5 s a unit; 200 steps finished before the cancel landed
    // once the direct convolution made them faster) for a cancel to land mid-unit.
    let config = base.join("sweep.toml");
    std::fs::write(
        &config,
        "[train]\nsteps = 800\n[interventions]\nlearning_rates = []\ndepths = []\nbatch_sizes = []\n[interventions.rank]\ndepths = []\n[landscape]\ndepths = []\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let flags = [
        "--scale",
        "quick",
        "--config",
        &config,
        "--only",
        "none,BatchNorm,LayerNorm",
        "--seeds",
        "2",
    ];
    let with = |first: &[&str], out: &Path| -> Vec<String> {
        let mut args: Vec<String> = first.iter().map(|s| s.to_string()).collect();
        args.extend(flags.iter().map(|s| s.to_string()));
        args.extend(["--out".to_string(), out.display().to_string()]);
        args
    };
    let call = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        run(NORMSCOPE, &refs)
    };

    // The reference: the same configuration in one process.
    let single = base.join("single");
    call(with(&["why-batchnorm"], &single));

    // Submit; cancel the first training task as soon as it runs.
    let cluster = base.join("cluster");
    let submitted = stdout(&call(with(&["slurm", "--max-running", "2"], &cluster)));
    let ids: Vec<&str> = submitted.lines().collect();
    assert_eq!(ids.len(), 2, "array and render job ids: {submitted}");
    let (array, render) = (ids[0], ids[1]);
    let script = std::fs::read_to_string(cluster.join("slurm").join("units-1.sbatch")).unwrap();
    let units: Vec<&str> = script
        .lines()
        .skip_while(|l| *l != "units=(")
        .skip(1)
        .take_while(|l| *l != ")")
        .map(str::trim)
        .collect();
    assert_eq!(units.len(), 12, "one task per unit: {units:?}");
    let task = units.iter().position(|u| u.starts_with("train-")).unwrap();
    let victim = format!("{array}_{task}");
    let start = Instant::now();
    loop {
        if queue(array)
            .iter()
            .any(|(id, state)| *id == victim && state == "R")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "task {victim} never ran: {:?}",
            queue(array)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run("scancel", &[&victim]);
    let all = format!("{array},{render}");
    wait_until_gone(&all, &cluster);

    // The cancelled unit is missing, every other is there; the render job never ran.
    let cancelled = units[task];
    let before = unit_times(&cluster);
    let missing: Vec<&str> = units
        .iter()
        .copied()
        .filter(|u| !before.contains_key(*u))
        .collect();
    assert_eq!(
        missing,
        vec![cancelled],
        "scancel of {victim} while it ran should leave exactly its unit missing"
    );
    assert!(
        !cluster.join("index.html").exists(),
        "the afterok render job ran although a task was cancelled"
    );

    // Resubmit: only the missing unit becomes a task.
    let dry = stdout(&call(with(&["slurm", "--dry-run"], &cluster)));
    assert!(dry.contains("#SBATCH --array=0-0\n"), "{dry}");
    assert!(dry.contains(&format!("units=(\n  {cancelled}\n)")), "{dry}");
    let submitted = stdout(&call(with(&["slurm"], &cluster)));
    wait_until_gone(&submitted.lines().collect::<Vec<_>>().join(","), &cluster);

    // Nothing redone, nothing lost, the report equals the single-process run.
    let after = unit_times(&cluster);
    assert_eq!(after.len(), 12);
    for (unit, time) in &before {
        assert_eq!(after.get(unit), Some(time), "{unit} was redone");
    }
    assert!(
        cluster.join("index.html").is_file(),
        "the render job wrote no report"
    );
    assert_eq!(
        numbers(&cluster),
        numbers(&single),
        "the cluster's report differs from one process's"
    );
    let leftovers: Vec<_> = std::fs::read_dir(cluster.join("units"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    eprintln!(
        "cancelled {victim} ({cancelled}); temporary files it left: {leftovers:?} (ignored by readers)"
    );
    std::fs::remove_dir_all(&base).unwrap();
}
