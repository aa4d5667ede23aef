//! Internal covariate shift during training, measured two ways: Santurkar et al.'s Definition 2.1
//! (‖G − G′‖ and cos(G, G′) of each layer's gradient after the preceding layers' update) and
//! Ioffe & Szegedy's Fig. 1 (15th/50th/85th percentiles of the last hidden layer's
//! pre-activations over training). Default network: Ioffe & Szegedy's MNIST MLP (3 × 100
//! sigmoid); `--data-dir` with MNIST's IDX files runs it on MNIST.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::internal_covariate_shift::CovariateShiftConfig;
use normscope::cli::Comparison;

/// Internal covariate shift during training.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    compare: Comparison,
    /// Measure Definition 2.1 every this many steps.
    #[arg(long, default_value_t = 50)]
    probe_every: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let config = CovariateShiftConfig {
        norms: args.compare.norms()?,
        probe_every: args.probe_every,
        ..Default::default()
    };
    args.compare.run(config)
}
