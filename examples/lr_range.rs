//! The learning-rate range with and without normalization (Bjorck et al. 2018): the final
//! training loss or divergence for a grid of learning rates.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::lr_range::{LrRangeConfig, run};
use normscope::analysis::metrics::lr_range::largest_stable;
use normscope::analysis::output::{Chart, Series, Table, write_csv, write_json};
use normscope::cli::{Common, DataArgs, TrainArgs, parse_norms, progress, training_setup};

/// Final loss or divergence over a grid of learning rates.
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
    /// Learning rates.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.003, 0.01, 0.03, 0.1, 0.3, 1.0])]
    lrs: Vec<f64>,
}

fn main() -> Result<()> {
    normscope::cli::steady_state_allocator();
    let args = Args::parse();
    let device = args.common.backend.device()?;
    let out = args.common.out_dir("lr_range")?;
    let defaults = LrRangeConfig::default();
    let config = LrRangeConfig {
        setup: training_setup(&defaults.setup, &args.common, &args.data, &args.train)?,
        norms: parse_norms(&args.norms)?,
        lrs: args.lrs.clone(),
        seeds: args.common.seeds.unwrap_or(defaults.seeds),
        ..defaults
    };
    let bar = progress("learning-rate range");
    let points = run(&config, &device, &bar)?;
    bar.finish();
    let mut table = Table::new(&["norm", "lr", "final loss", "diverged", "steps to target"]);
    let mut rows = vec![];
    let mut chart = Chart::new(
        "Final training loss by learning rate (gaps: diverged)",
        "learning rate",
        "final loss",
    )
    .log_x()
    .log_y();
    for norm in &config.norms {
        let at: Vec<_> = points.iter().filter(|p| p.norm == norm.label()).collect();
        for p in &at {
            let o = &p.outcome;
            table.row(vec![
                norm.label(),
                format!("{}", o.lr),
                if o.diverged {
                    "—".into()
                } else {
                    format!("{:.4}", o.final_loss)
                },
                o.diverged.to_string(),
                o.steps_to_target
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "—".into()),
            ]);
            rows.push(vec![
                norm.label(),
                p.seed.to_string(),
                o.lr.to_string(),
                o.final_loss.to_string(),
                o.diverged.to_string(),
                o.steps_to_target.map(|s| s.to_string()).unwrap_or_default(),
            ]);
        }
        let outcomes: Vec<_> = at.iter().map(|p| p.outcome.clone()).collect();
        println!(
            "{}: largest learning rate within 2× of the best final loss: {:?}",
            norm.label(),
            largest_stable(&outcomes, 2.0)
        );
        chart.push(Series::line(
            norm.label(),
            outcomes
                .iter()
                .filter(|o| !o.diverged)
                .map(|o| (o.lr, o.final_loss))
                .collect(),
        ));
    }
    println!(
        "\n{} steps per run (target loss {}):\n",
        config.setup.train.steps, config.target_loss
    );
    println!("{table}");
    println!(
        "Bjorck et al. 2018: BatchNorm primarily enables training with larger learning rates."
    );
    write_csv(
        &out.join("lr_range.csv"),
        &[
            "norm",
            "seed",
            "lr",
            "final_loss",
            "diverged",
            "steps_to_target",
        ],
        &rows,
    )?;
    write_json(
        &out.join("lr_range.json"),
        &serde_json::json!({ "config": config, "points": points, "backend": args.common.backend }),
    )?;
    chart.save(&out, "lr_range")?;
    println!("wrote {}", out.display());
    Ok(())
}
