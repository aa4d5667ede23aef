//! Reads criterion's estimates of `benches/normalization.rs` and `benches/training_step.rs` and
//! prints the tables of `docs/performance.md`: times, model GB/s and % of the streaming floor at
//! the copy bandwidth measured in the same run, the ratios against burn-nn and libtorch, and the
//! training step of `why_batchnorm`'s network on ndarray against libtorch CPU.
//!
//! `cargo bench --bench normalization --bench training_step [--features tch]`, then
//! `cargo run --release --example perf_report`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;

/// Summarize the normalization benchmarks.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// criterion's output directory (default: `$CARGO_TARGET_DIR/criterion`, else `target/criterion`).
    #[arg(long)]
    criterion: Option<PathBuf>,
}

fn median_ms(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let path = dir.join(group).join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(value["median"]["point_estimate"].as_f64()? / 1e6)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let dir = args.criterion.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"))
            .join("criterion")
    });
    let mut groups: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| {
            format!(
                "reading {} (run `cargo bench --bench normalization` first)",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("copy").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    groups.sort();
    for group in groups {
        let dims: Vec<usize> = group
            .rsplit('_')
            .next()
            .unwrap_or("")
            .split('x')
            .filter_map(|d| d.parse().ok())
            .collect();
        let bytes = dims.iter().product::<usize>() as f64 * 4.0;
        let Some(copy) = median_ms(&dir, &group, "copy") else {
            continue;
        };
        let bandwidth = 2.0 * bytes / (copy * 1e-3); // bytes/s, read + write
        let pct = |passes: f64, ms: f64| 100.0 * passes * bytes / bandwidth / (ms * 1e-3);
        let gbs = |passes: f64, ms: f64| passes * bytes / (ms * 1e-3) / 1e9;
        println!(
            "\n### `{group}` — |x| = {:.1} MB, copy {copy:.2} ms = {:.1} GB/s (read + write)\n",
            bytes / 1e6,
            bandwidth / 1e9
        );
        println!(
            "| implementation | fwd ms | bwd ms | fwd+bwd ms | step ms | fwd GB/s (% of 3\\|x\\|) | bwd GB/s (% of 5\\|x\\|) | fwd+bwd GB/s (% of 8\\|x\\|) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let cell = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into());
        let rate = |passes: f64, v: Option<f64>| {
            v.map(|v| format!("{:.1} ({:.0}%)", gbs(passes, v), pct(passes, v)))
                .unwrap_or_else(|| "—".into())
        };
        for imp in ["fused", "composed", "burn-nn", "torch"] {
            let fwd = median_ms(&dir, &group, &format!("{imp}_fwd"));
            let bwd = median_ms(&dir, &group, &format!("{imp}_bwd"));
            let both = median_ms(&dir, &group, &format!("{imp}_fwd+bwd"));
            let step = median_ms(&dir, &group, &format!("{imp}_step"));
            if fwd.is_none() && step.is_none() {
                continue;
            }
            println!(
                "| {imp} | {} | {} | {} | {} | {} | {} | {} |",
                cell(fwd),
                cell(bwd),
                cell(both),
                cell(step),
                rate(3.0, fwd),
                rate(5.0, bwd),
                rate(8.0, both)
            );
        }
        let ratio =
            |a: &str, b: &str| match (median_ms(&dir, &group, a), median_ms(&dir, &group, b)) {
                (Some(a), Some(b)) => format!("{:.2}×", b / a),
                _ => "—".into(),
            };
        println!(
            "\nfused vs burn-nn: step {}, fwd {}; fused vs composed: step {}; fused vs torch: fwd {}, bwd {}, fwd+bwd {}, step {}",
            ratio("fused_step", "burn-nn_step"),
            ratio("fused_fwd", "burn-nn_fwd"),
            ratio("fused_step", "composed_step"),
            ratio("fused_fwd", "torch_fwd"),
            ratio("fused_bwd", "torch_bwd"),
            ratio("fused_fwd+bwd", "torch_fwd+bwd"),
            ratio("fused_step", "torch_step"),
        );
    }
    training_steps(&dir);
    Ok(())
}

/// The training step of `why_batchnorm`'s network per normalizer: ndarray against libtorch CPU.
fn training_steps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut groups: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|g| g.starts_with("training_step_"))
        .collect();
    if groups.is_empty() {
        return;
    }
    groups.sort();
    println!("\n### The training step of `why_batchnorm`'s network\n");
    println!(
        "| normalizer | ndarray forward ms | ndarray step ms | libtorch forward ms | libtorch step ms | step, libtorch / ndarray |"
    );
    println!("|---|---|---|---|---|---|");
    let cell = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into());
    for group in groups {
        let ms = |id: &str| median_ms(dir, &group, id);
        let (step, torch) = (ms("ndarray_step"), ms("libtorch_step"));
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            group.trim_start_matches("training_step_"),
            cell(ms("ndarray_forward")),
            cell(step),
            cell(ms("libtorch_forward")),
            cell(torch),
            match (step, torch) {
                (Some(a), Some(b)) => format!("{:.2}×", b / a),
                _ => "—".into(),
            }
        );
    }
}
