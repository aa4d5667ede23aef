//! The loss landscape along the gradient during training (Santurkar et al. 2018, Fig. 4): loss
//! band, gradient-predictiveness band and effective β-smoothness at chosen steps, with and
//! without BatchNorm.
//!
//! Defaults (a VGG-11 at width ×0.125 on the 32×32 synthetic task, 150 steps) finish in a few
//! minutes on two CPU cores; `--data-dir cifar-10-batches-bin --steps 10000 --backend tch-cuda`
//! and a wider VGG approach the paper.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::gradient_predictiveness::GradientPredictivenessConfig;
use normscope::analysis::models::NetworkConfig;
use normscope::cli::Comparison;

/// Landscape along the gradient during training.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    compare: Comparison,
    /// Probe the landscape every this many steps.
    #[arg(long, default_value_t = 50)]
    probe_every: usize,
    /// VGG width multiplier.
    #[arg(long, default_value_t = 0.125)]
    width: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = GradientPredictivenessConfig {
        norms: args.compare.norms()?,
        probe_every: args.probe_every,
        ..Default::default()
    };
    if let NetworkConfig::Vgg(vgg) = &mut config.setup.network {
        vgg.width = args.width;
    }
    args.compare.run(config)
}
