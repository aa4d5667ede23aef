//! `normscope`: the report and its cluster runs from one executable.
//!
//! ```text
//! normscope why-batchnorm --scale quick            # the report, as `--example why_batchnorm`
//! normscope slurm --scale full --backend tch-cuda --partition gpu --time 4:00:00 --out /shared/run
//! ```

use anyhow::Result;
use clap::Parser;
use normscope::cli::{slurm, why_batchnorm};

/// Measure why BatchNorm works.
#[derive(Parser, Debug)]
#[command(name = "normscope", version)]
enum Command {
    /// Measure the four explanations of why BatchNorm works and write a report (the example
    /// `why_batchnorm`; the command each Slurm task runs).
    #[command(long_about = why_batchnorm::LONG_ABOUT)]
    WhyBatchnorm(why_batchnorm::WhyBatchnorm),
    /// Submit why_batchnorm's units as a Slurm job array, then a job that renders the report
    /// when they have all succeeded; again after a failure, only the missing units.
    Slurm(slurm::Slurm),
}

fn main() -> Result<()> {
    normscope::cli::steady_state_allocator();
    match Command::parse() {
        Command::WhyBatchnorm(args) => why_batchnorm::run(&args, &["why-batchnorm"]),
        Command::Slurm(args) => slurm::run(&args),
    }
}
