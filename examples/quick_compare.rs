//! Trains the same small network with and without BatchNorm on the built-in synthetic task and
//! prints both loss curves side by side. A one-minute look at what the rest of normscope
//! measures; `why_batchnorm` is the full battery.

use anyhow::{Context, Result};
use burn::optim::GradientsParams;
use clap::Parser;
use normscope::analysis::data::SyntheticConfig;
use normscope::analysis::models::{MlpConfig, Probe};
use normscope::analysis::train::{Sgd, SgdConfig, cross_entropy};
use normscope::cli::Backend;
use normscope::{Mode, NormConfig};

/// Train an MLP with and without BatchNorm and compare the training loss.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Backend to run on.
    #[arg(long, value_enum, default_value_t = Backend::Ndarray)]
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

fn train(args: &Args, norm: NormConfig) -> Result<Vec<f64>> {
    let device = args.backend.device()?.autodiff();
    let (train, _) = SyntheticConfig {
        seed: args.seed,
        ..Default::default()
    }
    .generate();
    device.seed(args.seed);
    let config = MlpConfig {
        input: train.shape.iter().product(),
        width: args.width,
        depth: args.depth,
        classes: train.classes,
        norm,
        ..Default::default()
    };
    let mut model = config.init(&device).context("building the MLP")?;
    let mut sgd = Sgd::new(SgdConfig::default());
    let mut losses = Vec::with_capacity(args.steps);
    let mut epoch = 0;
    while losses.len() < args.steps {
        for batch in train.epoch_batches(args.batch_size, args.seed, epoch) {
            if losses.len() == args.steps {
                break;
            }
            let (x, y) = train.batch(&batch, &device);
            let logits = model.forward(x, Mode::Train, &mut Probe::off())?;
            let loss = cross_entropy(logits, y);
            losses.push(loss.clone().into_scalar::<f32>() as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = sgd.step(args.lr, model, grads);
        }
        epoch += 1;
    }
    Ok(losses)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let plain = train(&args, NormConfig::Identity)?;
    let batch_norm = train(&args, NormConfig::default())?;
    println!(
        "MLP depth {} width {}, synthetic task, SGD lr {} momentum 0.9, batch {}, backend {}",
        args.depth,
        args.width,
        args.lr,
        args.batch_size,
        args.backend.name()
    );
    println!("{:>6}  {:>14}  {:>14}", "step", "no norm", "BatchNorm");
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for start in (0..args.steps).step_by(args.every.max(1)) {
        let end = (start + args.every.max(1)).min(args.steps);
        println!(
            "{:>6}  {:>14.4}  {:>14.4}",
            end,
            mean(&plain[start..end]),
            mean(&batch_norm[start..end])
        );
    }
    Ok(())
}
