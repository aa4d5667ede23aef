//! The loss landscape and the Hessian spectrum with and without BatchNorm, after training:
//! Li et al. 2018's 1D interpolations (initialisation → trained weights, between two seeds'
//! minima) and 2D filter-normalised contour plot, PyHessian's top-k eigenvalues, trace and
//! eigenvalue density (stochastic Lanczos quadrature), optionally per block and across depth.
//!
//! Defaults (the why_batchnorm report's small ResNet on the 16×16 synthetic task, 200 steps, two
//! seeds) take about a minute on two CPU cores. Real data:
//! `--data-dir /work/shared/data/mnist --dataset mnist`; exact Hessian-vector products:
//! `--features tch -- --hvp exact`.

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use normscope::Mode;
use normscope::analysis::experiments::landscape::{LandscapeConfig, LandscapeResults};
use normscope::analysis::metrics::hessian::HvpMethod;
use normscope::analysis::models::{MlpConfig, NetworkConfig, VggConfig};
use normscope::cli::Comparison;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Network {
    /// The report's pre-activation ResNet (4 blocks of width 8).
    Resnet,
    /// VGG-11 at width ×0.125 (32×32 inputs).
    Vgg,
    /// An MLP of 4 hidden layers of 128 ReLU units.
    Mlp,
}

/// Loss landscape (Li et al. 2018) and Hessian spectrum (PyHessian) with and without BatchNorm.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    compare: Comparison,
    /// The network of the zoo.
    #[arg(long, value_enum, default_value = "resnet")]
    network: Network,
    /// Depths to compare (ResNet blocks, MLP hidden layers), e.g. `1,4,8`.
    #[arg(long, value_delimiter = ',')]
    depths: Vec<usize>,
    /// Grid points per axis of the 2D plane (Li et al.: 51).
    #[arg(long, default_value_t = 15)]
    plane_points: usize,
    /// Points of the 1D interpolations on [-0.5, 1.5] (Li et al.: 401).
    #[arg(long, default_value_t = 21)]
    interpolation_points: usize,
    /// Top Hessian eigenvalues (power iteration with deflation).
    #[arg(long, default_value_t = 3)]
    top_k: usize,
    /// Lanczos steps of the spectral density (PyHessian: 100; 0 for none).
    #[arg(long, default_value_t = 30)]
    lanczos_steps: usize,
    /// Hessian-vector products: by finite differences (any backend) or exact (libtorch double
    /// backward; needs `--features tch`).
    #[arg(long, value_enum, default_value = "finite-difference")]
    hvp: Hvp,
    /// With `--hvp exact`, also the difference to finite differences on this many directions.
    #[arg(long, default_value_t = 0)]
    compare_products: usize,
    /// Batches the Hessian is averaged over (PyHessian's dataloader mode).
    #[arg(long, default_value_t = 1)]
    hessian_batches: usize,
    /// The spectrum of every block's Hessian too.
    #[arg(long)]
    per_block: bool,
    /// Evaluate with batch statistics (train mode) instead of running statistics.
    #[arg(long)]
    train_mode: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Hvp {
    FiniteDifference,
    Exact,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = LandscapeConfig {
        norms: args.compare.norms()?,
        depths: args.depths.clone(),
        mode: if args.train_mode {
            Mode::Train
        } else {
            Mode::Eval
        },
        hvp: match args.hvp {
            Hvp::FiniteDifference => HvpMethod::FiniteDifference,
            Hvp::Exact => HvpMethod::Exact,
        },
        compare_products: args.compare_products,
        hessian_batches: args.hessian_batches,
        per_block: args.per_block,
        ..Default::default()
    };
    config.plane.points = args.plane_points;
    config.interpolation.points = args.interpolation_points;
    config.spectrum.top_k = args.top_k;
    config.spectrum.lanczos_steps = args.lanczos_steps;
    match args.network {
        Network::Resnet => {}
        Network::Vgg => {
            config.setup.network = NetworkConfig::Vgg(VggConfig {
                width: 0.125,
                ..Default::default()
            })
        }
        Network::Mlp => {
            config.setup.network = NetworkConfig::Mlp(MlpConfig {
                depth: 4,
                ..Default::default()
            })
        }
    }
    let common = &args.compare.common;
    let out = normscope::cli::run_experiment(config, common, Some(&args.compare.training))?;
    // The contour plots are not line charts: drawn here from the results just written.
    let path = out.join("landscape.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let results: LandscapeResults = serde_json::from_str(&text)?;
    for (stem, contour) in results.contours() {
        let (_, png) = contour.save(&out, &stem)?;
        println!("wrote {}", png.display());
    }
    Ok(())
}
