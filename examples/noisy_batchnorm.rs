//! The noisy-BatchNorm experiment (Santurkar et al. 2018, §2.1): the same network trained
//! standard, with BatchNorm, with BatchNorm plus per-step distributional noise, and with the same
//! noise but no BatchNorm. If BatchNorm worked by keeping layer input distributions stable, the
//! noisy variant should train like the standard network; the paper finds it trains like BN.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::Stat;
use normscope::analysis::experiments::noisy_batchnorm::{NoisyBatchNormExperiment, run};
use normscope::analysis::output::{Chart, Series, Table, write_csv, write_json};
use normscope::cli::{Common, DataArgs, TrainArgs, loss_chart, progress, training_setup};

/// Standard vs BatchNorm vs noisy BatchNorm vs noise alone.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    train: TrainArgs,
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
    normscope::cli::steady_state_allocator();
    let args = Args::parse();
    let device = args.common.backend.device()?;
    let out = args.common.out_dir("noisy_batchnorm")?;
    let defaults = NoisyBatchNormExperiment::default();
    let config = NoisyBatchNormExperiment {
        setup: training_setup(&defaults.setup, &args.common, &args.data, &args.train)?,
        noise: defaults
            .noise
            .clone()
            .with_noise_mean_max(args.noise_mean_max)
            .with_noise_scale_max(args.noise_scale_max)
            .with_per_sample(args.per_sample),
        seeds: args.common.seeds.unwrap_or(defaults.seeds),
        ..defaults
    };
    let bar = progress("noisy BatchNorm");
    let runs = run(&config, &device, &bar)?;
    bar.finish();
    let mut table = Table::new(&[
        "variant",
        "final train loss",
        "final test accuracy",
        "diverged",
    ]);
    let mut rows = vec![];
    for (label, _) in config.variants() {
        let group: Vec<_> = runs.iter().filter(|r| r.norm == label).collect();
        let loss = Stat::of(
            &group
                .iter()
                .map(|r| {
                    let t = &r.losses[r.losses.len().saturating_sub(20)..];
                    t.iter().sum::<f64>() / t.len().max(1) as f64
                })
                .collect::<Vec<_>>(),
        );
        let acc = Stat::of(
            &group
                .iter()
                .filter_map(|r| r.test.last().map(|t| t.2))
                .collect::<Vec<_>>(),
        );
        let diverged = group.iter().filter(|r| r.diverged_at.is_some()).count();
        table.row(vec![
            label.clone(),
            loss.show(4),
            acc.show(3),
            format!("{diverged}/{}", group.len()),
        ]);
        rows.push(vec![
            label.clone(),
            loss.mean.to_string(),
            acc.mean.to_string(),
            diverged.to_string(),
        ]);
    }
    println!(
        "\n{} steps, lr {}, mean ± std over {} seeds:\n",
        config.setup.train.steps, config.setup.train.lr, config.seeds
    );
    println!("{table}");
    println!(
        "Santurkar et al. 2018: noisy BatchNorm trains nearly as well as BatchNorm; the same noise without BatchNorm prevents training."
    );
    write_csv(
        &out.join("noisy_batchnorm.csv"),
        &[
            "variant",
            "final_train_loss",
            "final_test_accuracy",
            "diverged_runs",
        ],
        &rows,
    )?;
    write_json(
        &out.join("noisy_batchnorm.json"),
        &serde_json::json!({ "config": config, "runs": runs, "backend": args.common.backend }),
    )?;
    loss_chart("Training loss", &runs, 10).save(&out, "training_loss")?;
    let mut acc = Chart::new("Test accuracy (eval mode)", "step", "accuracy");
    for (label, _) in config.variants() {
        let group: Vec<_> = runs.iter().filter(|r| r.norm == label).collect();
        let len = group.iter().map(|r| r.test.len()).min().unwrap_or(0);
        acc.push(Series::line(
            label.clone(),
            (0..len)
                .map(|i| {
                    (
                        group[0].test[i].0 as f64,
                        group.iter().map(|r| r.test[i].2).sum::<f64>() / group.len() as f64,
                    )
                })
                .collect(),
        ));
    }
    acc.save(&out, "test_accuracy")?;
    println!("wrote {}", out.display());
    Ok(())
}
