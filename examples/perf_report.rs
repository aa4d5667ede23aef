//! Reads criterion's estimates of `benches/normalization.rs` and `benches/training_step.rs` and
//! prints the tables of `docs/performance.md`: every normalizer's fused kernels on each CPU
//! backend (burn-ndarray, burn-flex) against libtorch CPU as ratios, then per shape the times,
//! model GB/s and % of the streaming floor at the copy bandwidth measured in the same run with
//! the composed path and burn-nn's layers beside them, then the training step of
//! `why_batchnorm`'s network on each backend against libtorch CPU, and the machine's load while
//! the benches ran.
//!
//! ```text
//! PATH=<torch venv>/bin:$PATH cargo bench --bench normalization --bench training_step --features tch,flex
//! cargo run --release --example perf_report
//! ```
//!
//! A ratio is libtorch's time over ours (or the other implementation's over ours): above 1, ours
//! is faster. Times are criterion's medians.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;

/// Summarize the normalization and training-step benchmarks.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// criterion's output directory (default: `$CARGO_TARGET_DIR/criterion`, else `target/criterion`).
    #[arg(long)]
    criterion: Option<PathBuf>,
}

/// Our CPU backends, as the benchmark ids name them.
const BACKENDS: [&str; 2] = ["ndarray", "flex"];

fn median_ms(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let path = dir.join(group).join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(value["median"]["point_estimate"].as_f64()? / 1e6)
}

fn cell(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
}

/// `theirs / ours`, bold when ours is at least as fast.
fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b >= a => format!("**{:.2}×**", b / a),
        (Some(a), Some(b)) => format!("{:.2}×", b / a),
        _ => "—".into(),
    }
}

/// The faster of our backends for one benchmark (`<backend>-<id>`), with its name.
fn best(dir: &Path, group: &str, id: &str) -> Option<(&'static str, f64)> {
    BACKENDS
        .iter()
        .filter_map(|b| median_ms(dir, group, &format!("{b}-{id}")).map(|ms| (*b, ms)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

fn groups(dir: &Path, keep: impl Fn(&Path, &str) -> bool) -> Vec<String> {
    let mut groups: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|g| keep(dir, g))
        .collect();
    groups.sort();
    groups
}

fn main() -> Result<()> {
    let args = Args::parse();
    let dir = args.criterion.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target"))
            .join("criterion")
    });
    std::fs::read_dir(&dir).with_context(|| {
        format!(
            "reading {} (run `cargo bench --bench normalization --bench training_step` first)",
            dir.display()
        )
    })?;
    load(&dir);
    let normalizers = groups(&dir, |dir, g| dir.join(g).join("copy").exists());
    against_torch(&dir, &normalizers);
    for group in &normalizers {
        shape_table(&dir, group);
    }
    training_steps(&dir);
    Ok(())
}

/// The machine's load averages at the start and end of each bench's latest run.
fn load(dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join("normscope-load.txt")) else {
        return;
    };
    println!("### Load while the benches ran (1, 5, 15-minute load averages)\n");
    for bench in ["normalization", "training_step"] {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(bench))
            .collect();
        let Some(start) = lines.iter().rposition(|l| l.contains(" start ")) else {
            continue;
        };
        let field = |line: &str| {
            line.split_whitespace()
                .skip(3)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let end = lines[start..].iter().find(|l| l.contains(" end "));
        let minutes = end.and_then(|e| {
            let t = |l: &str| l.split_whitespace().next()?.parse::<u64>().ok();
            Some((t(e)? - t(lines[start])?) as f64 / 60.0)
        });
        println!(
            "- `{bench}`: start {}, end {}{}",
            field(lines[start]),
            end.map_or("— (did not finish)".into(), |e| field(e)),
            minutes.map_or(String::new(), |m| format!(" ({m:.0} min)"))
        );
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    // The CPU's name: the tables of two machines differ more than two runs on one.
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "an unnamed CPU".into());
    println!("\n{cores} cores ({model}) on the machine that prints this report.\n");
}

/// One row per normalizer and shape: fwd, bwd and fwd+bwd of our fused kernels on each backend
/// against libtorch's, and burn-nn's layer (the composed BatchNorm a burn user gets) against
/// ours on the same backend.
fn against_torch(dir: &Path, groups: &[String]) {
    println!("### Every normalizer against libtorch CPU (ratio = libtorch's time / ours)\n");
    println!(
        "| normalizer, shape | fwd ms ndarray / flex / torch | bwd ms ndarray / flex / torch | fwd+bwd ms ndarray / flex / torch | fwd ratio (best) | bwd ratio (best) | fwd+bwd ratio ndarray / flex | burn-nn step / ours, flex |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for group in groups {
        let ms = |id: &str| median_ms(dir, group, id);
        let three = |phase: &str| {
            format!(
                "{} / {} / {}",
                cell(ms(&format!("ndarray-fused_{phase}"))),
                cell(ms(&format!("flex-fused_{phase}"))),
                cell(ms(&format!("torch_{phase}")))
            )
        };
        let best_ratio = |phase: &str| match best(dir, group, &format!("fused_{phase}")) {
            Some((backend, t)) => format!(
                "{} ({backend})",
                ratio(Some(t), ms(&format!("torch_{phase}")))
            ),
            None => "—".into(),
        };
        let torch = ms("torch_fwd+bwd");
        println!(
            "| {group} | {} | {} | {} | {} | {} | {} / {} | {} |",
            three("fwd"),
            three("bwd"),
            three("fwd+bwd"),
            best_ratio("fwd"),
            best_ratio("bwd"),
            ratio(ms("ndarray-fused_fwd+bwd"), torch),
            ratio(ms("flex-fused_fwd+bwd"), torch),
            ratio(ms("flex-fused_step"), ms("flex-burn-nn_step")),
        );
    }
}

/// Times, bandwidth and % of the streaming floor of every implementation on one shape.
fn shape_table(dir: &Path, group: &str) {
    let dims: Vec<usize> = group
        .rsplit('_')
        .next()
        .unwrap_or("")
        .split('x')
        .filter_map(|d| d.parse().ok())
        .collect();
    let bytes = dims.iter().product::<usize>() as f64 * 4.0;
    let Some(copy) = median_ms(dir, group, "copy") else {
        return;
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
    let rate = |passes: f64, v: Option<f64>| {
        v.map(|v| format!("{:.1} ({:.0}%)", gbs(passes, v), pct(passes, v)))
            .unwrap_or_else(|| "—".into())
    };
    let mut implementations: Vec<String> = ["fused", "composed", "burn-nn"]
        .iter()
        .flat_map(|kind| BACKENDS.map(|b| format!("{b}-{kind}")))
        .collect();
    implementations.push("torch".into());
    for imp in implementations {
        let ms = |phase: &str| median_ms(dir, group, &format!("{imp}_{phase}"));
        let (fwd, bwd, both, step) = (ms("fwd"), ms("bwd"), ms("fwd+bwd"), ms("step"));
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
}

/// The training step of `why_batchnorm`'s network per normalizer: each CPU backend against
/// libtorch CPU, and Flex against burn-ndarray (the measurement behind the default backend).
fn training_steps(dir: &Path) {
    let groups = groups(dir, |_, g| g.starts_with("training_step_"));
    if groups.is_empty() {
        return;
    }
    println!(
        "\n### The training step of `why_batchnorm`'s network (ratio = libtorch's time / ours)\n"
    );
    println!(
        "| normalizer | forward ms ndarray / flex / libtorch | step ms ndarray / flex / libtorch | step ratio ndarray | step ratio flex | step ratio, faster of ours | step, ndarray / flex |"
    );
    println!("|---|---|---|---|---|---|---|");
    for group in groups {
        let ms = |id: &str| median_ms(dir, &group, id);
        let three = |phase: &str| {
            format!(
                "{} / {} / {}",
                cell(ms(&format!("ndarray_{phase}"))),
                cell(ms(&format!("flex_{phase}"))),
                cell(ms(&format!("libtorch_{phase}")))
            )
        };
        let torch = ms("libtorch_step");
        let faster = BACKENDS
            .iter()
            .filter_map(|b| ms(&format!("{b}_step")).map(|t| (*b, t)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            group.trim_start_matches("training_step_"),
            three("forward"),
            three("step"),
            ratio(ms("ndarray_step"), torch),
            ratio(ms("flex_step"), torch),
            faster.map_or("—".into(), |(b, t)| format!(
                "{} ({b})",
                ratio(Some(t), torch)
            )),
            // Which CPU backend is the default: above 1, Flex's step is the faster.
            ratio(ms("flex_step"), ms("ndarray_step")),
        );
    }
}
