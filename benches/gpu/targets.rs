//! The issues' targets on one BatchNorm shape, checked from one run's medians.

/// The issues' targets on one BatchNorm shape, from the fwd+bwd medians of one run.
pub fn targets(
    dims: &[usize],
    floor_ms: f64,
    both: &[(&str, f64, f64)],
    cudnn: Option<f64>,
) -> String {
    let mut s = format!("\n### Targets, BatchNorm `{dims:?}` fwd+bwd\n\n");
    let mut line = |what: String, ok: bool| {
        s.push_str(&format!(
            "- {what}: **{}**\n",
            if ok { "met" } else { "not met" }
        ));
    };
    for &(name, fused, composed) in both {
        let speedup = composed / fused;
        let floor = 100.0 * floor_ms / fused;
        match name {
            "libtorch-cuda" => {
                if let Some(direct) = cudnn {
                    let ratio = fused / direct;
                    line(
                        format!(
                            "libtorch-cuda, burn + normscope / cuDNN via tch = {ratio:.3} (≤ 1.03)"
                        ),
                        ratio <= 1.03,
                    );
                }
                line(
                    format!(
                        "libtorch-cuda, burn composed / normscope fused = {speedup:.2}× (≥ 3×)"
                    ),
                    speedup >= 3.0,
                );
            }
            _ => {
                line(
                    format!("{name}, normscope fused at {floor:.0}% of the 8·|x| floor (≥ 90%)"),
                    floor >= 90.0,
                );
                if let Some(direct) = cudnn {
                    line(
                        format!(
                            "{name}, normscope fused {fused:.3} ms vs cuDNN via tch {direct:.3} ms (faster)"
                        ),
                        fused < direct,
                    );
                }
                line(
                    format!("{name}, burn composed / normscope fused = {speedup:.2}× (≥ 4×)"),
                    speedup >= 4.0,
                );
            }
        }
    }
    s
}
