//! Why does BatchNorm work? One command that measures all four explanations — internal covariate
//! shift, landscape smoothness, identity bias of residual blocks, rank collapse — on the same
//! network with every normalizer of the battery, over several seeds, and writes the answer:
//! `index.html` (self-contained), `report.md`, `results.json` and the plots.
//!
//! ```text
//! cargo run --release --example why_batchnorm                 # default scale, ~10 min on 2 cores
//! cargo run --release --example why_batchnorm -- --scale quick
//! cargo run --release --example why_batchnorm -- --resume     # continue an interrupted run
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use normscope::analysis::report::{self, ReportConfig, Scale};
use normscope::cli::{Backend, DataArgs};

/// Measure the four explanations of why BatchNorm works and write a report.
///
/// Runs the battery — training speed, internal covariate shift (Santurkar et al. 2018, Def. 2.1),
/// β-smoothness along the gradient (Santurkar et al. 2018), identity bias of residual blocks
/// (De & Smith 2020) and rank collapse (Daneshmand et al. 2020) — for every normalizer, and
/// writes OUT/index.html, OUT/report.md, OUT/results.json and OUT/plots/. Every finished unit of
/// work is kept in OUT/units/, so `--resume` continues an interrupted run.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Backend to run on.
    #[arg(long, value_enum, default_value_t = Backend::Ndarray)]
    backend: Backend,
    /// Preset: `quick` (about a minute, for CI), `default` (within 10 minutes on two CPU cores),
    /// `full` (the papers' order of magnitude, for a GPU).
    #[arg(long, value_enum, default_value = "default")]
    scale: ScaleArg,
    /// TOML file laid over the preset (e.g. `seeds = 5`, `[train] lr = 0.1`,
    /// `[[normalizers]] label = "BN" norm = { kind = "batch_norm" }`); see `--print-config`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the report.
    #[arg(long, value_name = "DIR", default_value = "report")]
    out: PathBuf,
    /// Seeds per normalizer (overrides the preset and the file).
    #[arg(long, value_name = "N")]
    seeds: Option<usize>,
    /// Only these normalizers of the configuration, by label (comma-separated, e.g. `none,BatchNorm`).
    #[arg(long, value_delimiter = ',', value_name = "LABELS")]
    only: Option<Vec<String>>,
    #[command(flatten)]
    data: DataArgs,
    /// Continue the run in `--out`: finished units are read back, not redone. Refused when the
    /// configuration differs from the interrupted run's.
    #[arg(long)]
    resume: bool,
    /// Print the configuration that would run, as TOML, and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ScaleArg {
    Quick,
    Default,
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

/// The configuration: preset, file, then command-line overrides.
fn configuration(args: &Args) -> Result<ReportConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--config {}: cannot read the file", path.display()))?;
            ReportConfig::from_toml(args.scale.into(), &text)
                .with_context(|| format!("--config {}", path.display()))?
        }
        None => ReportConfig::preset(args.scale.into()),
    };
    if let Some(seeds) = args.seeds {
        config.seeds = seeds;
    }
    if let Some(only) = &args.only {
        for label in only {
            if !config.normalizers.iter().any(|e| &e.label == label) {
                let known: Vec<&str> = config
                    .normalizers
                    .iter()
                    .map(|e| e.label.as_str())
                    .collect();
                bail!(
                    "--only: no normalizer labelled `{label}` (the configuration has: {})",
                    known.join(", ")
                );
            }
        }
        config.normalizers.retain(|e| only.contains(&e.label));
    }
    config.data = args.data.source(config.data.clone())?;
    Ok(config)
}

fn main() -> Result<()> {
    normscope::cli::steady_state_allocator();
    let args = Args::parse();
    let config = configuration(&args)?;
    if args.print_config {
        print!("{}", toml::to_string(&config)?);
        return Ok(());
    }
    let device = args.backend.device()?;
    let bars = indicatif::MultiProgress::new();
    eprintln!(
        "why_batchnorm: {} normalizers × {} seed(s), {} steps each, on {} ({:?} scale) → {}",
        config.normalizers.len(),
        config.seeds,
        config.train.steps,
        args.backend.name(),
        config.scale,
        args.out.display()
    );
    let summary = report::run(
        &config,
        &device,
        args.backend.name(),
        &args.out,
        args.resume,
        &bars,
    )?;
    bars.clear().ok();

    println!("\n{}\n", summary.conclusion);
    let mut table = normscope::analysis::output::Table::new(&[
        "explanation",
        "metric",
        "BN / none",
        "ρ with final loss",
        "verdict",
    ]);
    for m in &summary.mechanisms {
        table.row(vec![
            m.name.clone(),
            m.metric.clone(),
            m.effect
                .as_ref()
                .map(|e| format!("{:.2}×", e.ratio))
                .unwrap_or_else(|| "—".into()),
            format!("{:.2}", m.spearman),
            m.verdict.label().to_string(),
        ]);
    }
    println!("{table}");
    println!("report: {}", args.out.join("index.html").display());
    Ok(())
}
