//! The loss landscape along the gradient during training (Santurkar et al. 2018, Fig. 4): loss
//! band, gradient-predictiveness band and effective β-smoothness at chosen steps, with and
//! without BatchNorm.
//!
//! Defaults (a VGG-11 at width ×0.125 on the 32×32 synthetic task, 150 steps) finish in a few
//! minutes on two CPU cores; `--data-dir cifar-10-batches-bin --steps 10000 --backend tch-cuda`
//! and a wider VGG approach the paper.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::gradient_predictiveness::{
    GradientPredictivenessConfig, run,
};
use normscope::analysis::experiments::{Stat, training::Setup};
use normscope::analysis::output::{Chart, Series, Table, write_csv, write_json};
use normscope::cli::{
    Common, DataArgs, TrainArgs, loss_chart, parse_norms, progress, training_setup,
};

/// Landscape along the gradient during training.
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
    /// Probe the landscape every this many steps.
    #[arg(long, default_value_t = 50)]
    probe_every: usize,
    /// VGG width multiplier.
    #[arg(long, default_value_t = 0.125)]
    width: f64,
}

fn main() -> Result<()> {
    normscope::cli::steady_state_allocator();
    let args = Args::parse();
    let device = args.common.backend.device()?;
    let out = args.common.out_dir("gradient_predictiveness")?;
    let defaults = GradientPredictivenessConfig::default();
    let mut network = defaults.setup.network.clone();
    if let normscope::analysis::models::NetworkConfig::Vgg(v) = &mut network {
        v.width = args.width;
    }
    let config = GradientPredictivenessConfig {
        setup: Setup {
            network,
            ..training_setup(&defaults.setup, &args.common, &args.data, &args.train)?
        },
        norms: parse_norms(&args.norms)?,
        probe_every: args.probe_every,
        seeds: args.common.seeds.unwrap_or(defaults.seeds),
        ..defaults
    };
    let bar = progress("gradient predictiveness");
    let result = run(&config, &device, &bar)?;
    bar.finish();

    let mut steps: Vec<usize> = result.points.iter().map(|p| p.step).collect();
    steps.sort();
    steps.dedup();
    let mut table = Table::new(&[
        "norm",
        "step",
        "loss band (max−min)",
        "‖∇L(w)−∇L(w−ηg)‖ max",
        "β-smoothness",
    ]);
    let mut rows = vec![];
    for norm in &config.norms {
        for &step in &steps {
            let at: Vec<_> = result
                .points
                .iter()
                .filter(|p| p.norm == norm.label() && p.step == step)
                .collect();
            if at.is_empty() {
                continue;
            }
            let width = Stat::of(
                &at.iter()
                    .map(|p| p.landscape.loss_band.1 - p.landscape.loss_band.0)
                    .collect::<Vec<_>>(),
            );
            let grad = Stat::of(
                &at.iter()
                    .map(|p| p.landscape.grad_band.1)
                    .collect::<Vec<_>>(),
            );
            let beta = Stat::of(
                &at.iter()
                    .map(|p| p.landscape.beta_smoothness)
                    .collect::<Vec<_>>(),
            );
            table.row(vec![
                norm.label(),
                step.to_string(),
                width.show(4),
                grad.show(4),
                beta.show(3),
            ]);
            rows.push(vec![
                norm.label(),
                step.to_string(),
                width.mean.to_string(),
                grad.mean.to_string(),
                beta.mean.to_string(),
            ]);
        }
    }
    println!(
        "\nLandscape along the gradient, η = s·lr, s ∈ [0.5, 4.1] (mean ± std over {} seeds):\n",
        config.seeds
    );
    println!("{table}");
    println!(
        "Santurkar et al. 2018: with BatchNorm the loss band, the gradient change and β are much smaller, most of all early in training."
    );
    write_csv(
        &out.join("gradient_predictiveness.csv"),
        &[
            "norm",
            "step",
            "loss_band_width",
            "grad_change_max",
            "beta_smoothness",
        ],
        &rows,
    )?;
    write_json(
        &out.join("gradient_predictiveness.json"),
        &serde_json::json!({ "config": config, "result": result, "backend": args.common.backend }),
    )?;
    let mut beta_chart = Chart::new(
        "Effective β-smoothness along training",
        "step",
        "max ‖Δ∇L‖ / ‖ηg‖",
    )
    .log_y();
    let mut band_chart = Chart::new(
        "Loss variation along the gradient (max − min of L(w − ηg))",
        "step",
        "loss band width",
    )
    .log_y();
    for norm in &config.norms {
        let series = |f: &dyn Fn(
            &normscope::analysis::metrics::gradient_predictiveness::Landscape,
        ) -> f64|
         -> Vec<(f64, f64)> {
            steps
                .iter()
                .filter_map(|&step| {
                    let v: Vec<f64> = result
                        .points
                        .iter()
                        .filter(|p| p.norm == norm.label() && p.step == step)
                        .map(|p| f(&p.landscape))
                        .collect();
                    (!v.is_empty()).then(|| (step as f64, Stat::of(&v).mean))
                })
                .collect()
        };
        beta_chart.push(Series::line(norm.label(), series(&|l| l.beta_smoothness)));
        band_chart.push(Series::line(
            norm.label(),
            series(&|l| l.loss_band.1 - l.loss_band.0),
        ));
    }
    beta_chart.save(&out, "beta_smoothness")?;
    band_chart.save(&out, "loss_band")?;
    loss_chart("Training loss", &result.runs, 10).save(&out, "training_loss")?;
    println!("wrote {}", out.display());
    Ok(())
}
