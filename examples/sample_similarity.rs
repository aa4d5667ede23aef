//! Sample similarity across the GroupNorm group-size sweep (Lubana et al. 2021): how alike the
//! samples of a batch look at every layer of a VGG at initialization, from InstanceNorm to
//! GroupNorm(1) (LayerNorm-like), with BatchNorm for reference.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::sample_similarity::SampleSimilarityConfig;
use normscope::cli::Common;

/// Mean pairwise cosine similarity of samples by layer, across normalizers.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// VGG width multiplier (0.25: 16 channels in the first layer).
    #[arg(long, default_value_t = 0.25)]
    width: f64,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = SampleSimilarityConfig {
        batch_size: args.batch_size,
        ..Default::default()
    };
    config.network.width = args.width;
    args.common.run(config)
}
