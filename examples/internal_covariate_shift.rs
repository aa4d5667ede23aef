//! Internal covariate shift during training, measured two ways: Santurkar et al.'s Definition 2.1
//! (‖G − G′‖ and cos(G, G′) of each layer's gradient after the preceding layers' update) and
//! Ioffe & Szegedy's Fig. 1 (15th/50th/85th percentiles of the last hidden layer's
//! pre-activations over training). Default network: Ioffe & Szegedy's MNIST MLP (3 × 100
//! sigmoid); `--data-dir` with MNIST's IDX files runs it on MNIST.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::Stat;
use normscope::analysis::experiments::internal_covariate_shift::{CovariateShiftConfig, run};
use normscope::analysis::output::{Chart, Series, Table, write_csv, write_json};
use normscope::cli::{
    Common, DataArgs, TrainArgs, loss_chart, parse_norms, progress, training_setup,
};

/// Internal covariate shift during training.
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
    /// Measure Definition 2.1 every this many steps.
    #[arg(long, default_value_t = 50)]
    probe_every: usize,
}

fn main() -> Result<()> {
    normscope::cli::steady_state_allocator();
    let args = Args::parse();
    let device = args.common.backend.device()?;
    let out = args.common.out_dir("internal_covariate_shift")?;
    let defaults = CovariateShiftConfig::default();
    let config = CovariateShiftConfig {
        setup: training_setup(&defaults.setup, &args.common, &args.data, &args.train)?,
        norms: parse_norms(&args.norms)?,
        probe_every: args.probe_every,
        seeds: args.common.seeds.unwrap_or(defaults.seeds),
        ..defaults
    };
    let bar = progress("covariate shift");
    let result = run(&config, &device, &bar)?;
    bar.finish();

    let mut table = Table::new(&["norm", "layer", "‖G − G′‖", "cos(G, G′)", "‖G‖"]);
    let mut rows = vec![];
    for norm in &config.norms {
        let points: Vec<_> = result
            .shifts
            .iter()
            .filter(|p| p.norm == norm.label())
            .collect();
        let layers = points.first().map(|p| p.layers.len()).unwrap_or(0);
        for layer in 0..layers {
            let l2 = Stat::of(
                &points
                    .iter()
                    .map(|p| p.layers[layer].l2)
                    .collect::<Vec<_>>(),
            );
            let cos = Stat::of(
                &points
                    .iter()
                    .map(|p| p.layers[layer].cosine)
                    .collect::<Vec<_>>(),
            );
            let g = Stat::of(
                &points
                    .iter()
                    .map(|p| p.layers[layer].grad_norm)
                    .collect::<Vec<_>>(),
            );
            table.row(vec![
                norm.label(),
                layer.to_string(),
                l2.show(5),
                cos.show(4),
                g.show(4),
            ]);
        }
        for p in &points {
            for l in &p.layers {
                rows.push(vec![
                    norm.label(),
                    p.seed.to_string(),
                    p.step.to_string(),
                    l.layer.to_string(),
                    l.l2.to_string(),
                    l.cosine.to_string(),
                    l.grad_norm.to_string(),
                ]);
            }
        }
    }
    println!(
        "\nDefinition 2.1 (Santurkar et al. 2018), averaged over probe steps and {} seeds:\n",
        config.seeds
    );
    println!("{table}");
    println!(
        "Santurkar et al.: BatchNorm does not reduce this shift; in deep linear networks with BN, G and G′ are nearly uncorrelated."
    );
    write_csv(
        &out.join("internal_covariate_shift.csv"),
        &["norm", "seed", "step", "layer", "l2", "cosine", "grad_norm"],
        &rows,
    )?;
    write_json(
        &out.join("internal_covariate_shift.json"),
        &serde_json::json!({ "config": config, "result": result, "backend": args.common.backend }),
    )?;
    let mut chart = Chart::new(
        "Last hidden layer's pre-activations: 15th, 50th, 85th percentiles",
        "step",
        "pre-activation",
    );
    for norm in &config.norms {
        for (i, q) in ["p15", "p50", "p85"].iter().enumerate() {
            let points: Vec<(f64, f64)> = result
                .percentiles
                .iter()
                .filter(|p| p.norm == norm.label() && p.seed == config.setup.train.seed)
                .map(|p| (p.step as f64, p.percentiles[i]))
                .collect();
            chart.push(Series::line(format!("{} {q}", norm.label()), points));
        }
    }
    chart.save(&out, "pre_activation_percentiles")?;
    loss_chart("Training loss", &result.runs, 10).save(&out, "training_loss")?;
    println!("wrote {}", out.display());
    Ok(())
}
