//! What the benchmarks share: the record of the machine's load while they ran.

use std::io::Write;
use std::path::PathBuf;

/// criterion's output directory (`$CARGO_TARGET_DIR/criterion`, else `target/criterion`), where
/// `perf_report` reads the estimates and the load.
fn criterion_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// Appends `<unix time> <bench> <phase> <1, 5, 15-minute load averages>` to
/// `criterion/normscope-load.txt`, so that `perf_report` can say how busy the machine was while
/// a bench ran (`phase` is `start` or `end`; `perf_report` reads each bench's latest pair).
pub fn record_load(bench: &str, phase: &str) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = criterion_dir();
    let _ = std::fs::create_dir_all(&dir);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("normscope-load.txt"));
    if let Ok(mut file) = file {
        let _ = writeln!(file, "{time} {bench} {phase} {}", load.join(" "));
    }
}
