//! The learning-rate range with and without normalization (Bjorck et al. 2018): the final
//! training loss or divergence for a grid of learning rates.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::lr_range::LrRangeConfig;
use normscope::cli::Comparison;

/// Final loss or divergence over a grid of learning rates.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    compare: Comparison,
    /// Learning rates.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.003, 0.01, 0.03, 0.1, 0.3, 1.0])]
    lrs: Vec<f64>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let config = LrRangeConfig {
        norms: args.compare.norms()?,
        lrs: args.lrs,
        ..Default::default()
    };
    args.compare.run(config)
}
