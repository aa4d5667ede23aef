//! The noisy-BatchNorm experiment (Santurkar et al. 2018, §2.1): the same network trained
//! standard, with BatchNorm, with BatchNorm plus per-step distributional noise, and with the same
//! noise but no BatchNorm. If BatchNorm worked by keeping layer input distributions stable, the
//! noisy variant should train like the standard network; the paper finds it trains like BN.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::noisy_batchnorm::NoisyBatchNormExperiment;
use normscope::cli::{Common, Training, run_experiment};

/// Standard vs BatchNorm vs noisy BatchNorm vs noise alone.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    training: Training,
    /// n_μ: each step, each channel's shift is drawn from U(−n_μ, n_μ).
    #[arg(long, default_value_t = 0.5)]
    noise_mean_max: f64,
    /// n_σ: each step, each channel's scale is drawn from U(1, n_σ).
    #[arg(long, default_value_t = 1.5)]
    noise_scale_max: f64,
    /// Draw shift and scale for every activation of every sample, not once per channel.
    #[arg(long)]
    per_sample: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = NoisyBatchNormExperiment::default();
    config.noise = config
        .noise
        .with_noise_mean_max(args.noise_mean_max)
        .with_noise_scale_max(args.noise_scale_max)
        .with_per_sample(args.per_sample);
    run_experiment(config, &args.common, Some(&args.training))?;
    Ok(())
}
