//! The Hessian of the loss with and without BatchNorm (Yao et al. 2020, PyHessian): top
//! eigenvalue by power iteration and trace by Hutchinson's estimator, at initialization and after
//! training, with the normalizers in train mode (batch statistics) and eval mode (running
//! statistics, as PyHessian does).

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::hessian::{HessianConfig, run};
use normscope::analysis::output::{Table, write_csv, write_json};
use normscope::cli::{Common, DataArgs, TrainArgs, parse_norms, progress, training_setup};

/// Top Hessian eigenvalue and trace.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    train: TrainArgs,
    /// Normalizers compared.
    #[arg(long, value_delimiter = ',', default_value = "identity,batch_norm")]
    norms: Vec<String>,
    /// Power-iteration cap (PyHessian: 100).
    #[arg(long, default_value_t = 50)]
    max_iterations: usize,
    /// Hutchinson probes.
    #[arg(long, default_value_t = 10)]
    trace_samples: usize,
    /// Samples in the Hessian batch (PyHessian: 200).
    #[arg(long, default_value_t = 128)]
    hessian_batch: usize,
}

fn main() -> Result<()> {
    normscope::cli::steady_state_allocator();
    let args = Args::parse();
    let device = args.common.backend.device()?;
    let out = args.common.out_dir("hessian")?;
    let defaults = HessianConfig::default();
    let config = HessianConfig {
        setup: training_setup(&defaults.setup, &args.common, &args.data, &args.train)?,
        norms: parse_norms(&args.norms)?,
        batch_size: args.hessian_batch,
        max_iterations: args.max_iterations,
        trace_samples: args.trace_samples,
        seeds: args.common.seeds.unwrap_or(defaults.seeds),
        ..defaults
    };
    let bar = progress("Hessian");
    let result = run(&config, &device, &bar)?;
    bar.finish();
    let points = &result.points;
    let mut table = Table::new(&[
        "norm",
        "step",
        "BN mode",
        "top eigenvalue",
        "iterations",
        "trace",
        "± s.e.",
    ]);
    let mut rows = vec![];
    for p in points {
        let mode = format!("{:?}", p.mode).to_lowercase();
        table.row(vec![
            p.norm.clone(),
            p.step.to_string(),
            mode.clone(),
            format!("{:.4}", p.top.value),
            format!(
                "{}{}",
                p.top.iterations,
                if p.top.converged { "" } else { " (cap)" }
            ),
            format!("{:.3}", p.trace.value),
            format!("{:.3}", p.trace.std_error),
        ]);
        rows.push(vec![
            p.norm.clone(),
            p.seed.to_string(),
            p.step.to_string(),
            mode,
            p.top.value.to_string(),
            p.trace.value.to_string(),
            p.trace.std_error.to_string(),
        ]);
    }
    println!(
        "\nHessian of the training loss on a batch of {} (finite-difference Hessian-vector products):\n",
        config.batch_size
    );
    println!("{table}");
    for d in &result.diverged {
        println!(
            "{} (seed {}): training diverged at step {}; no measurement after training.",
            d.norm, d.seed, d.step
        );
    }
    println!(
        "Yao et al. 2020: BN does not necessarily make the landscape smoother, especially in shallow networks; PyHessian measures in eval mode."
    );
    write_csv(
        &out.join("hessian.csv"),
        &[
            "norm",
            "seed",
            "step",
            "mode",
            "top_eigenvalue",
            "trace",
            "trace_std_error",
        ],
        &rows,
    )?;
    write_json(
        &out.join("hessian.json"),
        &serde_json::json!({ "config": config, "points": points, "diverged": result.diverged, "backend": args.common.backend }),
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
