//! Identity bias of residual blocks at initialization (De & Smith 2020): skip-path and
//! residual-branch variance per block of a pre-activation ResNet, with BatchNorm, without
//! normalization and with SkipInit.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::identity_bias::IdentityBiasConfig;
use normscope::cli::Common;

/// Signal propagation through residual blocks at initialization.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Residual blocks (one stage).
    #[arg(long, default_value_t = 12)]
    blocks: usize,
    /// Channels.
    #[arg(long, default_value_t = 16)]
    width: usize,
    /// Image side of the N(0, 1) inputs (zero padding loses variance at small sizes).
    #[arg(long, default_value_t = 16)]
    size: usize,
    /// Batch size.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let config = IdentityBiasConfig {
        blocks: args.blocks,
        width: args.width,
        size: args.size,
        batch_size: args.batch_size,
        ..Default::default()
    };
    args.common.run(config)
}
