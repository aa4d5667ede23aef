//! Sample similarity across the GroupNorm group-size sweep (Lubana et al. 2021): how alike the
//! samples of a batch look at every layer of a VGG at initialization, from InstanceNorm to
//! GroupNorm(1) (LayerNorm-like), with BatchNorm for reference.

use anyhow::Result;
use clap::Parser;
use normscope::analysis::experiments::sample_similarity::{SampleSimilarityConfig, run};
use normscope::analysis::output::{Chart, Series, Table, write_csv, write_json};
use normscope::cli::{Common, progress};

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
    let device = args.common.backend.device()?;
    let out = args.common.out_dir("sample_similarity")?;
    let defaults = SampleSimilarityConfig::default();
    let config = SampleSimilarityConfig {
        network: normscope::analysis::models::VggConfig {
            width: args.width,
            ..defaults.network.clone()
        },
        batch_size: args.batch_size,
        seeds: args.common.seeds.unwrap_or(defaults.seeds),
        seed: args.common.seed,
        ..defaults
    };
    let bar = progress("sample similarity");
    let points = run(&config, &device, &bar)?;
    bar.finish();
    let last = points.iter().map(|p| p.layer).max().unwrap_or(0);
    let mut table = Table::new(&[
        "norm",
        "mean cosine (last layer)",
        "Gram stable rank (last layer)",
        "mean cosine (avg over layers)",
    ]);
    let mut rows = vec![];
    for norm in &config.norms {
        let label = norm.label();
        let layers: Vec<_> = points.iter().filter(|p| p.norm == label).collect();
        let at_last = layers
            .iter()
            .find(|p| p.layer == last)
            .expect("every norm reports every layer");
        let avg = layers.iter().map(|p| p.mean_cosine.mean).sum::<f64>() / layers.len() as f64;
        table.row(vec![
            label.clone(),
            at_last.mean_cosine.show(3),
            at_last.gram_stable_rank.show(2),
            format!("{avg:.3}"),
        ]);
        for p in &layers {
            rows.push(vec![
                label.clone(),
                p.layer.to_string(),
                p.mean_cosine.mean.to_string(),
                p.gram_stable_rank.mean.to_string(),
            ]);
        }
    }
    println!(
        "\nSimilarity of the {} samples of a batch at initialization, mean ± std over {} seeds:\n",
        config.batch_size, config.seeds
    );
    println!("{table}");
    println!("Lubana et al. 2021: larger groups (toward LayerNorm) make samples more similar.");
    write_csv(
        &out.join("sample_similarity.csv"),
        &["norm", "layer", "mean_cosine", "gram_stable_rank"],
        &rows,
    )?;
    write_json(
        &out.join("sample_similarity.json"),
        &serde_json::json!({ "config": config, "points": points, "backend": args.common.backend }),
    )?;
    let mut chart = Chart::new(
        "Mean pairwise cosine similarity of samples by layer",
        "layer",
        "mean cosine similarity",
    );
    for norm in &config.norms {
        let label = norm.label();
        chart.push(Series::line(
            label.clone(),
            points
                .iter()
                .filter(|p| p.norm == label)
                .map(|p| (p.layer as f64, p.mean_cosine.mean))
                .collect(),
        ));
    }
    chart.save(&out, "mean_cosine")?;
    println!("wrote {}", out.display());
    Ok(())
}
