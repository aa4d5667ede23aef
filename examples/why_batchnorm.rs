//! Why does BatchNorm work? One command that measures all four explanations — internal covariate
//! shift, landscape smoothness, identity bias of residual blocks, rank collapse — on the same
//! network with every normalizer of the battery, over several seeds, and writes the answer:
//! `index.html` (self-contained), `report.md`, `results.json` and the plots.
//!
//! ```text
//! cargo run --release --example why_batchnorm                 # default scale, ~10 min on 2 cores
//! cargo run --release --example why_batchnorm -- --scale quick
//! cargo run --release --example why_batchnorm -- --resume     # continue an interrupted run
//! cargo run --release --example why_batchnorm -- --plan       # its units; --unit/--shard/--render
//! ```
//!
//! The flags and the run live in `normscope::cli::why_batchnorm`, shared with
//! `normscope why-batchnorm` (what Slurm tasks run, see `normscope slurm`).

use clap::Parser;
use normscope::cli::why_batchnorm::{self, WhyBatchnorm};

#[derive(Parser, Debug)]
#[command(name = "why_batchnorm", version, about = why_batchnorm::ABOUT, long_about = why_batchnorm::LONG_ABOUT)]
struct Args {
    #[command(flatten)]
    args: WhyBatchnorm,
}

fn main() -> anyhow::Result<()> {
    normscope::cli::steady_state_allocator();
    why_batchnorm::run(&Args::parse().args, &[])
}
