//! Gradient explosion in BatchNorm networks at initialization (Yang et al. 2019): per-layer
//! gradient norms for several batch sizes and the measured per-layer growth against the paper's
//! closed forms, π/(π−1) for ReLU (as the batch grows) and (B−2)/(B−3) for linear networks.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::gradient_explosion::{GradientExplosionConfig, run};
use normscope::analysis::output::{Chart, Series, Table, write_csv, write_json};
use normscope::cli::{Common, progress};

/// Per-layer gradient growth of deep BN networks at initialization.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![8usize, 16, 32, 64, 128])]
    batch_sizes: Vec<usize>,
    /// Width (the paper's Monte Carlo checks use 1000).
    #[arg(long, default_value_t = 256)]
    width: usize,
    /// Hidden layers.
    #[arg(long, default_value_t = 24)]
    depth: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = args.common.backend.device()?;
    let out = args.common.out_dir("gradient_explosion")?;
    let defaults = GradientExplosionConfig::default();
    let config = GradientExplosionConfig {
        batch_sizes: args.batch_sizes.clone(),
        width: args.width,
        depth: args.depth,
        seeds: args.common.seeds.unwrap_or(defaults.seeds),
        seed: args.common.seed,
        ..defaults
    };
    let bar = progress("gradient explosion");
    let points = run(&config, &device, &bar)?;
    bar.finish();
    let mut table = Table::new(&["activation", "batch", "growth per layer", "Yang et al."]);
    let mut rows = vec![];
    for p in &points {
        let act = format!("{:?}", p.activation).to_lowercase();
        table.row(vec![
            act.clone(),
            p.batch_size.to_string(),
            p.growth.show(3),
            format!("{:.3}", p.theory),
        ]);
        rows.push(vec![
            act,
            p.batch_size.to_string(),
            p.growth.mean.to_string(),
            p.growth.std.to_string(),
            p.theory.to_string(),
        ]);
    }
    println!(
        "\nGrowth of ‖∂L/∂h_ℓ‖² per layer toward the input (geometric mean over layers {}..{}), mean ± std over {} seeds:\n",
        config.skip_layers,
        config.depth - config.skip_layers,
        config.seeds
    );
    println!("{table}");
    println!("Yang et al. 2019: ReLU → π/(π−1) ≈ 1.467 as B → ∞; linear: (B−2)/(B−3).");
    write_csv(
        &out.join("gradient_explosion.csv"),
        &["activation", "batch_size", "growth", "growth_std", "theory"],
        &rows,
    )?;
    write_json(
        &out.join("gradient_explosion.json"),
        &serde_json::json!({ "config": config, "points": points, "backend": args.common.backend }),
    )?;
    let mut chart = Chart::new(
        "Gradient norm by layer at initialization (BN MLP)",
        "layer",
        "‖∂L/∂h_ℓ‖²",
    )
    .log_y();
    for p in &points {
        chart.push(Series::line(
            format!(
                "{} B={}",
                format!("{:?}", p.activation).to_lowercase(),
                p.batch_size
            ),
            p.log_grad_norm_sq
                .iter()
                .enumerate()
                .map(|(l, v)| (l as f64, v.exp()))
                .collect(),
        ));
    }
    chart.save(&out, "gradient_norms")?;
    println!("wrote {}", out.display());
    Ok(())
}
