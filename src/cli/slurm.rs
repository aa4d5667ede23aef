//! `normscope slurm`: why_batchnorm's units as a Slurm job array.
//!
//! Writes two `sbatch` scripts into `OUT/slurm/` and submits them: a job array with one task per
//! unit of the plan that `OUT` does not hold yet (or one per shard, `--shards N`), each running
//! `normscope why-batchnorm --unit ID --out OUT`, and a render job that starts when every task
//! has succeeded (`--dependency=afterok`) and builds the report. Run it again after a task
//! failed or was cancelled: only the missing units are submitted. `--dry-run` prints the scripts.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use normscope_analysis::report::{self, ReportConfig, UnitId};

use super::Backend;
use super::why_batchnorm::{ConfigArgs, validation_device};

/// `normscope slurm`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct Slurm {
    /// Backend the tasks run on; `tch-cuda`, `wgpu` and `vulkan` ask for one GPU per task
    /// (`--gres=gpu:1`).
    #[arg(long, value_enum, default_value_t)]
    pub backend: Backend,
    /// The configuration (as `why-batchnorm` takes it).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Directory of the run, on a filesystem every node sees (units, report, scripts, logs).
    #[arg(long, value_name = "DIR", default_value = "report")]
    pub out: PathBuf,
    /// Partition (`sbatch --partition`).
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of each task (`sbatch --time`, e.g. `2:00:00`).
    #[arg(long)]
    pub time: Option<String>,
    /// Account to charge (`sbatch --account`).
    #[arg(long)]
    pub account: Option<String>,
    /// CPUs per task (`--cpus-per-task`; also the task's thread count).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub cpus_per_task: usize,
    /// Memory per task (`sbatch --mem`, e.g. `8G`).
    #[arg(long)]
    pub mem: Option<String>,
    /// Run at most N tasks at once (`--array=…%N`).
    #[arg(long, value_name = "N")]
    pub max_running: Option<usize>,
    /// N array tasks, each running one shard of the plan (`--shard I/N`), instead of one task
    /// per missing unit.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// Another `sbatch` option for both jobs, e.g. `--sbatch-arg=--qos=long` (repeatable).
    #[arg(long = "sbatch-arg", value_name = "OPTION", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Print the scripts instead of writing and submitting them.
    #[arg(long)]
    pub dry_run: bool,
}

/// What the array runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tasks {
    /// One task per unit, these.
    Units(Vec<UnitId>),
    /// One task per shard of the plan.
    Shards(usize),
}

impl Tasks {
    /// The number of array tasks.
    pub fn len(&self) -> usize {
        match self {
            Tasks::Units(units) => units.len(),
            Tasks::Shards(n) => *n,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything the two scripts say.
#[derive(Debug, Clone)]
pub struct Job {
    /// The `normscope` executable the tasks run (absolute; it must be visible on the nodes).
    pub program: PathBuf,
    /// The run directory (absolute).
    pub out: PathBuf,
    /// The tasks' backend.
    pub backend: Backend,
    /// The configuration's hash.
    pub fingerprint: String,
    /// The configuration.
    pub config: ReportConfig,
    /// The plan's size.
    pub plan: usize,
    /// How many of the plan's units `out` does not hold.
    pub missing: usize,
    /// The array's tasks.
    pub tasks: Tasks,
    /// `#SBATCH` options of both jobs (partition, time, account, extra).
    pub common: Vec<String>,
    /// `#SBATCH` options of the array only (CPUs, memory, GPU).
    pub per_task: Vec<String>,
    /// `%N` of `--array`.
    pub max_running: Option<usize>,
}

/// `'text'` for bash (any bytes but NUL are safe between single quotes; a `'` is written
/// `'\''`). The path must be UTF-8 ([`check_path`]).
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Refuses a path that the scripts cannot hold safely: not UTF-8 (the scripts are text), a
/// control character (a line break would end an `#SBATCH` line or a comment and start a
/// command), or a backslash (Slurm stops expanding `%A`, `%a` and `%j` in a file name that has
/// one).
fn check_path(flag: &str, path: &Path) -> Result<()> {
    let Some(text) = path.to_str() else {
        bail!("{flag} {path:?}: not UTF-8; the Slurm scripts need a path they can write as text");
    };
    if let Some(c) = text.chars().find(|c| c.is_control() || *c == '\\') {
        bail!(
            "{flag} {path:?}: a path with {c:?} cannot be written safely into the scripts' #SBATCH lines \
             (line breaks and other control characters would start a command, and Slurm reads a backslash \
             as \"do not expand %A/%a/%j\"); choose a directory without it"
        );
    }
    Ok(())
}

/// A log file name (with Slurm's `%A`, `%a`, `%j` patterns in `pattern`) under `dir` for an
/// `#SBATCH --output=` line: in double quotes, which sbatch removes, with `"` and `#` (a comment
/// outside quotes in older Slurm) escaped by a backslash and `%` of the path doubled (Slurm's
/// file-name pattern for `%`). `dir` passed [`check_path`].
fn sbatch_file_name(dir: &Path, pattern: &str) -> String {
    let dir = dir
        .display()
        .to_string()
        .replace('%', "%%")
        .replace('"', "\\\"")
        .replace('#', "\\#");
    format!("\"{dir}/{pattern}\"")
}

fn header(name: &str, output: &str, options: &[String]) -> String {
    let mut text = format!("#!/bin/bash\n#SBATCH --job-name={name}\n#SBATCH --output={output}\n");
    for option in options {
        text.push_str(&format!("#SBATCH {option}\n"));
    }
    text
}

impl Job {
    /// The array job's script.
    pub fn units_script(&self) -> String {
        let logs = self.out.join("slurm").join("logs");
        let mut options = vec![format!(
            "--array=0-{}{}",
            self.tasks.len().saturating_sub(1),
            self.max_running
                .map(|n| format!("%{n}"))
                .unwrap_or_default()
        )];
        options.extend(self.per_task.iter().cloned());
        options.extend(self.common.iter().cloned());
        let mut text = header(
            "normscope-units",
            &sbatch_file_name(&logs, "units-%A_%a.out"),
            &options,
        );
        text.push_str(&format!(
            "# normscope slurm: why_batchnorm's units of configuration {} ({} in the plan) into {}.\n\
             # A unit already in units/ is skipped and a finished one is never replaced, so a task\n\
             # run twice redoes nothing.\nset -euo pipefail\nexport RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-1}}\"\n",
            self.fingerprint,
            self.plan,
            quote(&self.out)
        ));
        let run = format!(
            "exec {} why-batchnorm --backend {} --out {}",
            quote(&self.program),
            self.backend.name(),
            quote(&self.out)
        );
        match &self.tasks {
            Tasks::Units(units) => {
                text.push_str("units=(\n");
                for unit in units {
                    text.push_str(&format!("  {unit}\n"));
                }
                text.push_str(&format!(
                    ")\n{run} --unit \"${{units[$SLURM_ARRAY_TASK_ID]}}\"\n"
                ));
            }
            Tasks::Shards(n) => {
                text.push_str(&format!("{run} --shard \"$SLURM_ARRAY_TASK_ID/{n}\"\n"));
            }
        }
        text
    }

    /// The render job's script.
    pub fn render_script(&self) -> String {
        let logs = self.out.join("slurm").join("logs");
        let mut text = header(
            "normscope-render",
            &sbatch_file_name(&logs, "render-%j.out"),
            &self.common,
        );
        text.push_str(&format!(
            "# normscope slurm: the report of configuration {} from the units in {}.\nset -euo pipefail\nexec {} why-batchnorm --out {} --render\n",
            self.fingerprint,
            quote(&self.out),
            quote(&self.program),
            quote(&self.out)
        ));
        text
    }
}

/// A job id from `sbatch --parsable` (`123` or `123;cluster`).
fn job_id(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let id = text.trim().split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

fn sbatch(script: &Path, extra: &[String]) -> Result<String> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .context("cannot run `sbatch` (is Slurm installed and on PATH?)")?;
    if !output.status.success() {
        bail!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    job_id(&output.stdout).with_context(|| {
        format!(
            "sbatch {}: no job id in its output `{}`",
            script.display(),
            String::from_utf8_lossy(&output.stdout).trim()
        )
    })
}

/// The job the flags describe, and the configuration's plan against what `out` holds.
pub fn job(args: &Slurm, program: PathBuf) -> Result<Job> {
    let out =
        std::path::absolute(&args.out).with_context(|| format!("--out {}", args.out.display()))?;
    check_path("--out", &out)?;
    if program.to_str().is_none() {
        bail!(
            "this executable's path {program:?} is not UTF-8; the Slurm scripts need a path they can write as text"
        );
    }
    let config = args.config.for_shared(&out)?;
    config.validate(&validation_device(args.backend)?)?;
    let plan = report::plan(&config);
    let missing = if out.join("state.json").is_file() {
        report::open(&out, Some(&config))?;
        report::collect(&config, &out)?.missing
    } else {
        plan.clone()
    };
    let missing_count = missing.len();
    let tasks = match args.shards {
        Some(0) => bail!("--shards 0: needs at least one shard"),
        Some(n) => Tasks::Shards(if missing.is_empty() { 0 } else { n }),
        None => Tasks::Units(missing),
    };
    let value = |flag: &str, v: &str| -> Result<String> {
        if v.is_empty() || v.contains(char::is_whitespace) {
            bail!("--{flag} `{v}`: an sbatch value has no spaces or line breaks");
        }
        Ok(format!("--{flag}={v}"))
    };
    let mut common = vec![];
    for (flag, v) in [
        ("partition", &args.partition),
        ("time", &args.time),
        ("account", &args.account),
    ] {
        if let Some(v) = v {
            common.push(value(flag, v)?);
        }
    }
    for option in &args.sbatch_args {
        if !option.starts_with('-') || option.contains('\n') {
            bail!("--sbatch-arg `{option}`: expected one sbatch option, e.g. --qos=long");
        }
        common.push(option.clone());
    }
    if args.cpus_per_task == 0 {
        bail!("--cpus-per-task 0: needs at least one CPU");
    }
    let mut per_task = vec![format!("--cpus-per-task={}", args.cpus_per_task)];
    if let Some(mem) = &args.mem {
        per_task.push(value("mem", mem)?);
    }
    if matches!(
        args.backend,
        Backend::TchCuda | Backend::Wgpu | Backend::Vulkan
    ) {
        per_task.push("--gres=gpu:1".into());
    }
    if args.max_running == Some(0) {
        bail!("--max-running 0: needs at least one task at a time");
    }
    Ok(Job {
        program,
        out,
        backend: args.backend,
        fingerprint: report::fingerprint(&config),
        config,
        plan: plan.len(),
        missing: missing_count,
        tasks,
        common,
        per_task,
        max_running: args.max_running,
    })
}

/// Runs `normscope slurm`: prints the scripts (`--dry-run`) or writes and submits them.
pub fn run(args: &Slurm) -> Result<()> {
    let program = std::env::current_exe().context("cannot find this executable's path")?;
    let job = job(args, program)?;
    if args.dry_run {
        if !job.tasks.is_empty() {
            println!("{}", job.units_script());
        }
        print!("{}", job.render_script());
        eprintln!(
            "normscope slurm: dry run, nothing written or submitted ({} array task(s); {} of the plan's {} units missing)",
            job.tasks.len(),
            job.missing,
            job.plan
        );
        return Ok(());
    }
    report::join(&job.out, &job.config)?;
    let dir = job.out.join("slurm");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let n = (1..)
        .find(|n| !dir.join(format!("render-{n}.sbatch")).exists())
        .expect("a free number");
    let write = |name: String, text: String| -> Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };
    let render = write(format!("render-{n}.sbatch"), job.render_script())?;
    if job.tasks.is_empty() {
        let id = sbatch(&render, &[])?;
        println!("{id}");
        eprintln!(
            "normscope slurm: every unit of the plan is in {}; submitted the render job {id} ({})",
            job.out.display(),
            render.display()
        );
        return Ok(());
    }
    let units = write(format!("units-{n}.sbatch"), job.units_script())?;
    let array = sbatch(&units, &[])?;
    let after = sbatch(
        &render,
        &[
            format!("--dependency=afterok:{array}"),
            "--kill-on-invalid-dep=yes".into(),
        ],
    )?;
    println!("{array}\n{after}");
    eprintln!(
        "normscope slurm: submitted array job {array} ({} task(s), {}) and render job {after} after it.\n  \
         watch: squeue -j {array},{after}   logs: {}\n  report: {}\n  \
         if a task fails or is cancelled, the render job is dropped: run the same command again to submit only the missing units",
        job.tasks.len(),
        units.display(),
        logs.display(),
        job.out.join("index.html").display()
    );
    Ok(())
}
