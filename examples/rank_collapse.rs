//! Rank collapse with depth (Daneshmand et al. 2020): the rank of a batch's representation at every
//! layer of MLPs at initialization, with and without normalization, over widths and seeds.
//!
//! Defaults finish in about a minute on two CPU cores; `--widths 1024 --max-depth 64 --seeds 10
//! --batch-size 64 --backend tch-cuda` approaches the paper's scale.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::rank_collapse::RankCollapseConfig;
use normscope::analysis::models::Activation;
use normscope::cli::{Common, parse_norms};

/// Rank of the hidden representations of MLPs at initialization, by depth.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Normalizers (`identity`, `batch_norm`, `variance_only`, `layer_norm`, `group_norm:4`, ...).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "identity,batch_norm,variance_only"
    )]
    norms: Vec<String>,
    /// Hidden widths.
    #[arg(long, value_delimiter = ',', default_values_t = vec![32usize, 128])]
    widths: Vec<usize>,
    /// Largest depth (every depth up to it is reported).
    #[arg(long, default_value_t = 32)]
    max_depth: usize,
    /// Samples in the batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Nonlinearities: linear, relu, tanh, sigmoid.
    #[arg(long, value_delimiter = ',', default_value = "linear,relu")]
    activations: Vec<Activation>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let config = RankCollapseConfig {
        norms: parse_norms(&args.norms)?,
        activations: args.activations,
        widths: args.widths,
        max_depth: args.max_depth,
        batch_size: args.batch_size,
        ..Default::default()
    };
    args.common.run(config)
}
