//! Synchronized medians and the markdown tables of the GPU bench.

use std::time::Instant;

/// Timed repetitions per measurement.
const REPS: usize = 20;
/// Untimed repetitions before them.
const WARMUP: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median milliseconds of `f`, each repetition synchronized by `sync`. What `f` returns is
/// held until the device has synchronized: a result dropped unread could let a lazy backend
/// (burn's fusion) skip the work that produced it.
pub fn time<T>(mut f: impl FnMut() -> T, sync: &dyn Fn()) -> f64 {
    for _ in 0..WARMUP {
        let out = f();
        sync();
        drop(out);
    }
    let samples = (0..REPS)
        .map(|_| {
            let start = Instant::now();
            let out = f();
            sync();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            drop(out);
            ms
        })
        .collect();
    median(samples)
}

pub struct Row {
    pub label: String,
    pub fwd: Option<f64>,
    pub bwd: Option<f64>,
    pub both: Option<f64>,
}

pub struct Table {
    pub title: String,
    pub bytes: f64,
    pub copy_ms: f64,
    pub rows: Vec<Row>,
    /// One line per device: the fused path against the composed path on this shape.
    pub checks: Vec<String>,
}

impl Table {
    pub fn markdown(&self, check_only: bool) -> String {
        let mut s = format!("\n### {} — |x| = {:.1} MB", self.title, self.bytes / 1e6);
        if !check_only {
            s.push_str(&self.timings());
        }
        s.push('\n');
        for check in &self.checks {
            s.push_str(&format!("\n- {check}"));
        }
        s.push('\n');
        s
    }

    fn timings(&self) -> String {
        let bandwidth = 2.0 * self.bytes / (self.copy_ms * 1e-3);
        let mut s = format!(
            ", copy {:.3} ms = {:.0} GB/s (read + write)\n\n| implementation | fwd ms (% of 3\\|x\\|) | bwd ms (% of 5\\|x\\|) | fwd+bwd ms (% of 8\\|x\\|) |\n|---|---|---|---|\n",
            self.copy_ms,
            bandwidth / 1e9
        );
        let cell = |passes: f64, ms: Option<f64>| match ms {
            Some(ms) => format!(
                "{ms:.3} ({:.0}%)",
                100.0 * passes * self.bytes / bandwidth / (ms * 1e-3)
            ),
            None => "—".into(),
        };
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                r.label,
                cell(3.0, r.fwd),
                cell(5.0, r.bwd),
                cell(8.0, r.both)
            ));
        }
        s
    }
}
