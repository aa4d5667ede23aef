//! Gradient explosion in BatchNorm networks at initialization (Yang et al. 2019): per-layer
//! gradient norms for several batch sizes and the measured per-layer growth against the paper's
//! closed forms, π/(π−1) for ReLU (as the batch grows) and (B−2)/(B−3) for linear networks.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::gradient_explosion::GradientExplosionConfig;
use normscope::cli::Common;

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
    let config = GradientExplosionConfig {
        batch_sizes: args.batch_sizes,
        width: args.width,
        depth: args.depth,
        ..Default::default()
    };
    args.common.run(config)
}
