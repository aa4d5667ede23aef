//! `why_batchnorm`'s command line, shared by `cargo run --example why_batchnorm` and
//! `normscope why-batchnorm` (the command a Slurm array task runs).
//!
//! Without a mode flag it runs the whole battery in this process. `--plan`, `--unit` / `--shard`
//! and `--render` split that into the three steps of a run spread over jobs: list the units,
//! run some of them into a shared `--out`, build the report from what is there.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use normscope_analysis::report::units::store::{Access, RunLock};
use normscope_analysis::report::{self, ReportConfig, Scale, Summary, UnitId};

use super::{Backend, DataArgs};

/// `--help`'s first line.
pub const ABOUT: &str = "Measure the four explanations of why BatchNorm works and write a report.";

/// `--help`'s text.
pub const LONG_ABOUT: &str =
    "Measure the four explanations of why BatchNorm works and write a report.

Runs the battery — training speed, internal covariate shift (Santurkar et al. 2018, Def. 2.1), \
β-smoothness along the gradient (Santurkar et al. 2018), identity bias of residual blocks \
(De & Smith 2020) and rank collapse (Daneshmand et al. 2020) — for every normalizer, and writes \
OUT/index.html, OUT/report.md, OUT/results.json and OUT/plots/. Every finished unit of work is \
kept in OUT/units/, so `--resume` continues an interrupted run.

Spread over jobs (e.g. a Slurm array, see `normscope slurm`): `--plan` lists the units, \
`--unit ID` or `--shard I/N` runs some of them into a shared OUT, `--render` builds the report \
from the units there and names the missing ones.";

/// The presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleArg {
    /// About a minute on two CPU cores (CI).
    Quick,
    /// Within 10 minutes on two CPU cores.
    Default,
    /// The papers' order of magnitude, for a GPU.
    Full,
}

impl From<ScaleArg> for Scale {
    fn from(scale: ScaleArg) -> Scale {
        match scale {
            ScaleArg::Quick => Scale::Quick,
            ScaleArg::Default => Scale::Default,
            ScaleArg::Full => Scale::Full,
        }
    }
}

/// What configures the battery: a preset, a file laid over it, overrides.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Preset [default: default].
    #[arg(long, value_enum)]
    pub scale: Option<ScaleArg>,
    /// TOML file laid over the preset (e.g. `seeds = 5`, `[train] lr = 0.1`,
    /// `[[normalizers]] label = "BN" norm = { kind = "batch_norm" }`); see `--print-config`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seeds per normalizer of the battery (overrides the preset and the file; the
    /// interventions' sweeps have their own, `[interventions] seeds`).
    #[arg(long, value_name = "N")]
    pub seeds: Option<usize>,
    /// Only these normalizers of the configuration, by label (comma-separated, e.g. `none,BatchNorm`):
    /// in the battery, in the interventions' sweeps and in the landscape.
    #[arg(long, value_delimiter = ',', value_name = "LABELS")]
    pub only: Option<Vec<String>>,
    /// The data (synthetic unless `--data-dir`).
    #[command(flatten)]
    pub data: DataArgs,
}

impl ConfigArgs {
    /// Whether any configuration flag was given.
    pub fn given(&self) -> bool {
        self.scale.is_some()
            || self.config.is_some()
            || self.seeds.is_some()
            || self.only.is_some()
            || self.data.data_dir.is_some()
            || self.data.dataset.is_some()
    }

    /// The configuration: preset, file, then command-line overrides.
    pub fn resolve(&self) -> Result<ReportConfig> {
        let scale = self.scale.unwrap_or(ScaleArg::Default).into();
        // `--data-dir` picks the preset for its dataset (a network and schedule that learn it).
        let data = self
            .data
            .data_dir
            .is_some()
            .then(|| self.data.source(Default::default()))
            .transpose()?;
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("--config {}: cannot read the file", path.display())
                })?;
                ReportConfig::from_toml_for(scale, data.as_ref(), &text)
                    .with_context(|| format!("--config {}", path.display()))?
            }
            None => match &data {
                Some(data) => ReportConfig::preset_for(scale, data),
                None => ReportConfig::preset(scale),
            },
        };
        if let Some(seeds) = self.seeds {
            config.seeds = seeds;
        }
        if let Some(only) = &self.only {
            // The battery's normalizers, the interventions' and the landscape's arms, by label.
            let iv = &config.interventions;
            let mut known: Vec<&str> = vec![];
            for e in config
                .normalizers
                .iter()
                .chain(&iv.lr_normalizers)
                .chain(&iv.depth_normalizers)
                .chain(&config.landscape.normalizers)
            {
                if !known.contains(&e.label.as_str()) {
                    known.push(&e.label);
                }
            }
            for label in only {
                if !known.contains(&label.as_str()) {
                    bail!(
                        "--only: no normalizer labelled `{label}` (the configuration has: {})",
                        known.join(", ")
                    );
                }
            }
            config.normalizers.retain(|e| only.contains(&e.label));
            let iv = &mut config.interventions;
            iv.lr_normalizers.retain(|e| only.contains(&e.label));
            iv.depth_normalizers.retain(|e| only.contains(&e.label));
            config
                .landscape
                .normalizers
                .retain(|e| only.contains(&e.label));
        }
        if let Some(data) = data {
            config.data = data;
        }
        Ok(config)
    }

    /// The configuration of a shared `out`: the one of the run there (its `state.json`) when no
    /// configuration flag is given, else the one the flags give (which joining then checks
    /// against the run there).
    pub fn for_shared(&self, out: &Path) -> Result<ReportConfig> {
        if !self.given() && out.join("state.json").is_file() {
            return Ok(report::open(out, None)?);
        }
        self.resolve()
    }
}

/// Shard `index` of `count` of a plan, written `I/N` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// `I`.
    pub index: usize,
    /// `N`.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}`: expected I/N, e.g. 0/8"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|e| format!("`{text}`: `{s}` is not a count ({e})"))
        };
        let shard = Shard {
            index: parse(i)?,
            count: parse(n)?,
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(format!("`{text}`: needs 0 ≤ I < N"));
        }
        Ok(shard)
    }
}

/// `why_batchnorm`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct WhyBatchnorm {
    /// Backend to run on.
    #[arg(long, value_enum, default_value_t)]
    pub backend: Backend,
    /// The configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Directory of the report (and of its units; shared by every job of a spread run).
    #[arg(long, value_name = "DIR", default_value = "report")]
    pub out: PathBuf,
    /// Continue the run in `--out`: finished units are read back, not redone. Refused when the
    /// configuration differs from the interrupted run's.
    #[arg(long, conflicts_with_all = ["plan", "unit", "shard", "render"])]
    pub resume: bool,
    /// Print the configuration that would run, as TOML, and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Print the plan — the id of every unit of the configuration, one per line, in order — and
    /// record the configuration in OUT/state.json for the jobs that share OUT. Done units are
    /// marked on stderr.
    #[arg(long, conflicts_with_all = ["unit", "shard", "render"])]
    pub plan: bool,
    /// Run only these units of the plan (comma-separated ids, see `--plan`) into `--out`, which
    /// other jobs may share; units already there are skipped. Without configuration flags, the
    /// configuration is the one recorded in OUT/state.json.
    #[arg(long, value_delimiter = ',', value_name = "ID", conflicts_with_all = ["shard", "render"])]
    pub unit: Vec<String>,
    /// Run shard I of N (0-based) of the plan — units I, I+N, I+2N, … — into `--out`, as
    /// `--unit` does.
    #[arg(long, value_name = "I/N", conflicts_with = "render")]
    pub shard: Option<Shard>,
    /// Build the report in `--out` from the units there (with the configuration recorded in
    /// OUT/state.json) and name the missing ones.
    #[arg(long)]
    pub render: bool,
    /// Worker processes of a whole run: the plan is split into N shards, each run by a child
    /// process of this program into `--out` (logs in OUT/logs/), then the report is rendered.
    /// Every unit seeds its own backend, so the numbers equal a single process's. Default: the
    /// CPU cores on the CPU backends (`ndarray`, `flex`), 1 on the others.
    #[arg(long, value_name = "N", conflicts_with_all = ["plan", "unit", "shard", "render"])]
    pub jobs: Option<usize>,
}

/// A device to check a configuration on when the run's own may be absent (a login node without
/// a GPU): a CPU backend's when built with one (`ndarray`, `flex`).
pub fn validation_device(backend: Backend) -> Result<burn::tensor::Device> {
    [Backend::default(), Backend::Ndarray, Backend::Flex]
        .into_iter()
        .find_map(|cpu| cpu.device().ok())
        .map_or_else(|| backend.device(), Ok)
}

/// What an invocation does, from its flags.
enum Mode {
    /// `--print-config`: print the configuration that would run.
    PrintConfig,
    /// `--render`: build the report from the units in `--out`.
    Render,
    /// `--plan`: list the units and record the configuration for the jobs sharing `--out`.
    Plan,
    /// `--unit` / `--shard`: run some units of a shared run.
    Units,
    /// No mode flag: the whole battery, in this process or in `--jobs` workers.
    Whole,
}

impl Mode {
    fn of(args: &WhyBatchnorm) -> Mode {
        if args.print_config {
            Mode::PrintConfig
        } else if args.render {
            Mode::Render
        } else if args.plan {
            Mode::Plan
        } else if !args.unit.is_empty() || args.shard.is_some() {
            Mode::Units
        } else {
            Mode::Whole
        }
    }
}

/// The environment variable by which a worker of `--jobs` learns its parent's pid: it exits when
/// that parent is gone (killed with -9, say), so that no orphan keeps writing into `--out`.
const PARENT_ENV: &str = "NORMSCOPE_PARENT_PID";

/// In a worker of `--jobs`: ends this process as soon as its parent is gone.
fn die_with_parent() {
    let Some(parent) = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return;
    };
    #[cfg(unix)]
    std::thread::spawn(move || {
        loop {
            // SAFETY: getppid has no preconditions.
            let now = unsafe { libc::getppid() } as u32;
            if now != parent {
                eprintln!("why_batchnorm: the parent process {parent} is gone; this worker stops");
                std::process::exit(143);
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
    #[cfg(not(unix))]
    let _ = parent;
}

/// Runs `why_batchnorm`; `subcommand` is what follows this executable on the command line of
/// `why_batchnorm` itself (`["why-batchnorm"]` for `normscope`, nothing for the example), for the
/// worker processes of `--jobs`.
pub fn run(args: &WhyBatchnorm, subcommand: &[&str]) -> Result<()> {
    die_with_parent();
    match Mode::of(args) {
        Mode::PrintConfig => print_config(args),
        Mode::Render => render(args),
        Mode::Plan => plan(args),
        Mode::Units => units(args),
        Mode::Whole => whole(args, subcommand),
    }
}

fn print_config(args: &WhyBatchnorm) -> Result<()> {
    let config = if args.plan || !args.unit.is_empty() || args.shard.is_some() || args.render {
        args.config.for_shared(&args.out)?
    } else {
        args.config.resolve()?
    };
    print!("{}", toml::to_string(&config)?);
    Ok(())
}

fn render(args: &WhyBatchnorm) -> Result<()> {
    let out = &args.out;
    let given = args
        .config
        .given()
        .then(|| args.config.resolve())
        .transpose()?;
    let config = report::open(out, given.as_ref())?;
    let _lock = RunLock::take(out, Access::Shared)?;
    let rendered = report::render(&config, out)?;
    if !rendered.missing.is_empty() {
        eprintln!(
            "why_batchnorm: {} of {} units are missing from {}; the report covers the others. Missing: {}",
            rendered.missing.len(),
            report::plan(&config).len(),
            out.display(),
            ids(&rendered.missing)
        );
    }
    print_summary(&rendered.summary, &config, out);
    Ok(())
}

fn plan(args: &WhyBatchnorm) -> Result<()> {
    let out = &args.out;
    let config = args.config.for_shared(out)?;
    config.validate(&validation_device(args.backend)?)?;
    let _lock = RunLock::take(out, Access::Shared)?;
    report::join(out, &config)?;
    let collected = report::collect(&config, out)?;
    let plan = report::plan(&config);
    for id in &plan {
        println!("{id}");
    }
    eprintln!(
        "why_batchnorm: {} units (configuration {}) in {}: {} done, {} to run",
        plan.len(),
        report::fingerprint(&config),
        out.display(),
        plan.len() - collected.missing.len(),
        collected.missing.len()
    );
    Ok(())
}

fn units(args: &WhyBatchnorm) -> Result<()> {
    let out = &args.out;
    let config = args.config.for_shared(out)?;
    let device = args.backend.device()?;
    config.validate(&device)?;
    let plan = report::plan(&config);
    let units = match args.shard {
        Some(Shard { index, count }) => report::shard(&plan, index, count)?,
        None => report::select(&plan, &args.unit)?,
    };
    let _lock = RunLock::take(out, Access::Shared)?;
    report::join(out, &config)?;
    let bars = indicatif::MultiProgress::new();
    let ran = report::run_selected(&config, &device, args.backend.name(), out, &units, &bars)?;
    bars.clear().ok();
    let missing = report::collect(&config, out)?.missing.len();
    eprintln!(
        "why_batchnorm: ran {} unit(s), {} already done, into {}; {missing} of the plan's {} units remain{}",
        ran.ran,
        ran.found,
        out.display(),
        plan.len(),
        if missing == 0 {
            format!(" — render with: --render --out {}", out.display())
        } else {
            String::new()
        }
    );
    Ok(())
}

fn whole(args: &WhyBatchnorm, subcommand: &[&str]) -> Result<()> {
    let out = &args.out;
    // `--resume` without configuration flags continues with the configuration the run recorded.
    let config = if args.resume && !args.config.given() && out.join("state.json").is_file() {
        report::open(out, None)?
    } else {
        args.config.resolve()?
    };
    let device = args.backend.device()?;
    let jobs = args.jobs.unwrap_or(match args.backend {
        cpu if cpu.is_cpu() => std::thread::available_parallelism().map_or(1, |n| n.get()),
        _ => 1,
    });
    if jobs == 0 {
        bail!("--jobs: needs at least 1 worker");
    }
    eprintln!(
        "why_batchnorm: {} normalizers × {} seed(s), {} steps each; the interventions' sweeps: {} unit(s); {} units in all, on {} ({:?} scale, {} data, {jobs} process(es)) → {}",
        config.normalizers.len(),
        config.seeds,
        config.train.steps,
        report::plan(&config)
            .iter()
            .filter(|u| u.point.is_some())
            .count(),
        report::plan(&config).len(),
        args.backend.name(),
        config.scale,
        config.data.name(),
        out.display()
    );
    let start = std::time::Instant::now();
    config.validate(&device)?;
    let lock = RunLock::take(out, Access::Exclusive)?;
    report::prepare(out, &config, args.resume)?;
    if jobs > 1 {
        // The workers join the run with shared locks; this process keeps one, so no other whole
        // run can start here until they are done.
        lock.share()?;
        run_workers(args, subcommand, &config, jobs)?;
    } else {
        let bars = indicatif::MultiProgress::new();
        report::run_selected(
            &config,
            &device,
            args.backend.name(),
            out,
            &report::plan(&config),
            &bars,
        )?;
        bars.clear().ok();
    }
    let rendered = report::render_since(&config, out, start)?;
    if !rendered.missing.is_empty() {
        bail!(
            "{} unit(s) were left undone ({}); see {}",
            rendered.missing.len(),
            ids(&rendered.missing),
            out.join("logs").display()
        );
    }
    print_summary(&rendered.summary, &config, out);
    Ok(())
}

/// Runs the plan of `config` (already prepared in `--out`) in `jobs` child processes, shard `i`
/// of `jobs` each, with a progress bar over the units written; each child's output goes to
/// OUT/logs/worker-I.log. An error names the first worker that failed and its log. The workers
/// end with this process (see [`PARENT_ENV`]), and are killed when this process stops on an
/// error.
fn run_workers(
    args: &WhyBatchnorm,
    subcommand: &[&str],
    config: &report::ReportConfig,
    jobs: usize,
) -> Result<()> {
    let out = &args.out;
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let exe = std::env::current_exe().context("the path of this executable")?;
    let mut children = vec![];
    for i in 0..jobs {
        let log_path = logs.join(format!("worker-{i}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let child = std::process::Command::new(&exe)
            .args(subcommand)
            .arg("--backend")
            .arg(args.backend.name())
            .arg("--out")
            .arg(out)
            .arg("--shard")
            .arg(format!("{i}/{jobs}"))
            .env(PARENT_ENV, std::process::id().to_string())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting worker {i} ({})", exe.display()))?;
        children.push((i, child, log_path));
    }
    let total = report::plan(config).len() as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>24} [{bar:30}] {pos}/{len} units ({elapsed})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("{jobs} workers"));
    // Finished units, by their files (cheap enough to poll; `collect` would parse every unit).
    let count = || {
        std::fs::read_dir(out.join("units"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| {
                        let name = e.file_name();
                        let name = name.to_string_lossy();
                        name.ends_with(".toml") && !name.starts_with('.')
                    })
                    .count() as u64
            })
            .unwrap_or(0)
    };
    let mut failed = None;
    while !children.is_empty() {
        let mut running = vec![];
        for (i, mut child, log) in children {
            match child.try_wait()? {
                Some(status) if !status.success() => {
                    failed.get_or_insert((i, status, log));
                }
                Some(_) => {}
                None => running.push((i, child, log)),
            }
        }
        children = running;
        if failed.is_some() {
            // One worker failed: the others stop too, and the finished units stay.
            for (_, child, _) in &mut children {
                let _ = child.kill();
                let _ = child.wait();
            }
            break;
        }
        bar.set_position(count());
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    bar.finish_and_clear();
    if let Some((i, status, log)) = failed {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(5).collect();
        bail!(
            "worker {i} of {jobs} failed ({status}); its log {}: {}\nThe finished units are kept: continue with --resume.",
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(())
}

/// `a, b, c` (at most 20, then how many more).
pub fn ids(units: &[UnitId]) -> String {
    let mut text: Vec<String> = units.iter().take(20).map(UnitId::id).collect();
    if units.len() > 20 {
        text.push(format!("… {} more", units.len() - 20));
    }
    text.join(", ")
}

fn print_summary(summary: &Summary, config: &ReportConfig, out: &Path) {
    print!("{}", report::answer(summary, config).text());
    println!("report: {}", out.join("index.html").display());
}
