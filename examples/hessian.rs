//! The Hessian of the loss with and without BatchNorm (Yao et al. 2020, PyHessian): top
//! eigenvalue by power iteration and trace by Hutchinson's estimator, at initialization and after
//! training, with the normalizers in train mode (batch statistics) and eval mode (running
//! statistics, as PyHessian does).

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::hessian::HessianConfig;
use normscope::cli::Comparison;

/// Top Hessian eigenvalue and trace.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    compare: Comparison,
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
    let args = Args::parse();
    let config = HessianConfig {
        norms: args.compare.norms()?,
        batch_size: args.hessian_batch,
        max_iterations: args.max_iterations,
        trace_samples: args.trace_samples,
        ..Default::default()
    };
    args.compare.run(config)
}
