//! Trains the same small network with and without BatchNorm on the built-in synthetic task and
//! prints both loss curves side by side. A one-minute look at what the rest of normscope
//! measures; `why_batchnorm` is the full battery.

use anyhow::Result;
use clap::Parser;
use normscope::NormConfig;
use normscope::analysis::data::{DataSource, SyntheticConfig};
use normscope::analysis::experiments::training::{Setup, train_curves};
use normscope::analysis::models::{MlpConfig, NetworkConfig};
use normscope::analysis::train::TrainConfig;
use normscope::cli::Backend;

/// Train an MLP with and without BatchNorm and compare the training loss.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Backend to run on.
    #[arg(long, value_enum, default_value_t)]
    backend: Backend,
    /// Hidden layers.
    #[arg(long, default_value_t = 8)]
    depth: usize,
    /// Hidden width.
    #[arg(long, default_value_t = 128)]
    width: usize,
    /// SGD steps.
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Learning rate (SGD with momentum 0.9).
    #[arg(long, default_value_t = 0.005)]
    lr: f64,
    /// Print every this many steps.
    #[arg(long, default_value_t = 20)]
    every: usize,
    /// Seed of the data and the weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = args.backend.device()?;
    let setup = Setup {
        network: NetworkConfig::Mlp(MlpConfig {
            width: args.width,
            depth: args.depth,
            ..Default::default()
        }),
        data: DataSource::Synthetic(SyntheticConfig {
            seed: args.seed,
            ..Default::default()
        }),
        train: TrainConfig {
            steps: args.steps,
            batch_size: args.batch_size,
            lr: args.lr,
            seed: args.seed,
            ..Default::default()
        },
    };
    let (train, test) = setup.data.load()?;
    let mut curves = vec![];
    for norm in [NormConfig::Identity, NormConfig::default()] {
        let network = setup.network_for(&train, &norm);
        curves.push(train_curves(
            &norm.label(),
            &network,
            &setup.train,
            &train,
            &test,
            0,
            &device,
            |_| Ok(()),
        )?);
    }
    println!(
        "MLP depth {} width {}, synthetic task, SGD lr {} momentum 0.9, batch {}, backend {}",
        args.depth,
        args.width,
        args.lr,
        args.batch_size,
        args.backend.name()
    );
    println!("{:>6}  {:>14}  {:>14}", "step", "no norm", "BatchNorm");
    let every = args.every.max(1);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for start in (0..args.steps).step_by(every) {
        let end = (start + every).min(args.steps);
        let window = |c: &[f64]| c.get(start..end.min(c.len())).map(mean).unwrap_or(f64::NAN);
        println!(
            "{end:>6}  {:>14.4}  {:>14.4}",
            window(&curves[0].run.losses),
            window(&curves[1].run.losses)
        );
    }
    Ok(())
}
