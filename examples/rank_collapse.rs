//! Rank collapse with depth (Daneshmand et al. 2020): the rank of a batch's representation at every
//! layer of MLPs at initialization, with and without normalization, over widths and seeds.
//!
//! Defaults finish in about a minute on two CPU cores; `--widths 1024 --max-depth 64 --seeds 10
//! --batch-size 64 --backend tch-cuda` approaches the paper's scale.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::rank_collapse::{RankCollapseConfig, RankPoint, run};
use normscope::analysis::models::Activation;
use normscope::analysis::output::{Chart, Series, Table, write_csv, write_json};
use normscope::cli::{Common, parse_norm, progress};

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
    /// Nonlinearities: linear, relu, tanh.
    #[arg(long, value_delimiter = ',', default_value = "linear,relu")]
    activations: Vec<String>,
}

fn activation(name: &str) -> Result<Activation> {
    Ok(match name {
        "linear" => Activation::Linear,
        "relu" => Activation::Relu,
        "tanh" => Activation::Tanh,
        other => anyhow::bail!("activation `{other}`: expected linear, relu or tanh"),
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = args.common.backend.device()?;
    let out = args.common.out_dir("rank_collapse")?;
    let defaults = RankCollapseConfig::default();
    let config = RankCollapseConfig {
        norms: args
            .norms
            .iter()
            .map(|n| parse_norm(n))
            .collect::<Result<_>>()?,
        activations: args
            .activations
            .iter()
            .map(|a| activation(a))
            .collect::<Result<_>>()?,
        widths: args.widths.clone(),
        max_depth: args.max_depth,
        batch_size: args.batch_size,
        seeds: args.common.seeds.unwrap_or(defaults.seeds),
        seed: args.common.seed,
    };
    let bar = progress("rank collapse");
    let points = run(&config, &device, &bar)?;
    bar.finish();

    let mut table = Table::new(&[
        "norm",
        "activation",
        "width",
        "depth",
        "numerical rank",
        "stable rank",
        "effective rank",
        "orth. gap",
    ]);
    for p in points
        .iter()
        .filter(|p| p.depth.is_power_of_two() || p.depth == config.max_depth)
    {
        table.row(vec![
            p.norm.clone(),
            format!("{:?}", p.activation).to_lowercase(),
            p.width.to_string(),
            p.depth.to_string(),
            p.numerical_rank.show(1),
            p.stable_rank.show(2),
            p.effective_rank.show(2),
            p.orthogonality_gap.show(3),
        ]);
    }
    println!(
        "\nRank of the hidden representation H (N = {} samples × width) at initialization, mean ± std over {} seeds:\n",
        config.batch_size, config.seeds
    );
    println!("{table}");

    let all_rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            vec![
                p.norm.clone(),
                format!("{:?}", p.activation).to_lowercase(),
                p.width.to_string(),
                p.depth.to_string(),
                p.numerical_rank.mean.to_string(),
                p.stable_rank.mean.to_string(),
                p.stable_rank.std.to_string(),
                p.effective_rank.mean.to_string(),
                p.orthogonality_gap.mean.to_string(),
            ]
        })
        .collect();
    write_csv(
        &out.join("rank_collapse.csv"),
        &[
            "norm",
            "activation",
            "width",
            "depth",
            "numerical_rank",
            "stable_rank",
            "stable_rank_std",
            "effective_rank",
            "orthogonality_gap",
        ],
        &all_rows,
    )?;
    write_json(
        &out.join("rank_collapse.json"),
        &serde_json::json!({ "config": config, "points": points, "backend": args.common.backend }),
    )?;

    for (metric, title, stem, log) in [
        (
            "stable",
            "Stable rank ‖H‖²_F/‖H‖²₂ by depth",
            "stable_rank",
            true,
        ),
        (
            "gap",
            "Orthogonality gap ‖HHᵀ/‖H‖²_F − I/N‖_F by depth",
            "orthogonality_gap",
            false,
        ),
    ] {
        let mut chart = Chart::new(
            title,
            "depth (hidden layers)",
            if metric == "stable" {
                "stable rank"
            } else {
                "orthogonality gap"
            },
        );
        if log {
            chart = chart.log_y();
        }
        let mut keys: Vec<(String, Activation, usize)> = points
            .iter()
            .map(|p| (p.norm.clone(), p.activation, p.width))
            .collect();
        keys.dedup();
        for (norm, act, width) in keys {
            let series: Vec<&RankPoint> = points
                .iter()
                .filter(|p| p.norm == norm && p.activation == act && p.width == width)
                .collect();
            let value = |p: &RankPoint| {
                if metric == "stable" {
                    p.stable_rank
                } else {
                    p.orthogonality_gap
                }
            };
            chart.push(
                Series::line(
                    format!("{norm} {} d={width}", format!("{act:?}").to_lowercase()),
                    series
                        .iter()
                        .map(|p| (p.depth as f64, value(p).mean))
                        .collect(),
                )
                .with_band(
                    series
                        .iter()
                        .map(|p| {
                            (
                                p.depth as f64,
                                value(p).mean - value(p).std,
                                value(p).mean + value(p).std,
                            )
                        })
                        .collect(),
                ),
            );
        }
        chart.save(&out, stem)?;
    }
    println!("wrote {}", out.display());
    Ok(())
}
