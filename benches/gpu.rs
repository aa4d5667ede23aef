//! GPU benchmark, one binary, one run, one device: a plain device copy (the bandwidth ceiling),
//! normscope's fused BatchNorm (forward, backward, both) on wgpu (CubeCL kernels) and on
//! libtorch-CUDA (ATen/cuDNN through burn), burn's composed BatchNorm on the same devices, and
//! cuDNN called directly through tch (`Tensor::batch_norm`), on `[256, 256, 56, 56]` and
//! `[32, 64, 56, 56]` fp32; GroupNorm(32) on the same tensors and LayerNorm over their channels
//! (`[N·H·W, C]` rows), against their floors. Before it times a shape, it checks that the fused
//! path computes what the composed path does on that shape (`y`, `dx`, `dγ`, `dβ`).
//!
//! ```text
//! cargo bench --bench gpu --features tch,wgpu          # prints the table, writes gpu-bench.md
//! NORMSCOPE_GPU_BENCH_SMALL=1 ...                      # tiny shapes: a smoke test on lavapipe
//! NORMSCOPE_GPU_BENCH_CHECK_ONLY=1 ...                 # the checks alone, no timings
//! NORMSCOPE_GPU_BENCH_SHAPES=32x256x56x56,... ...      # other NCHW shapes
//! NORMSCOPE_GPU_BENCH_OUT=DIR ...                      # where gpu-bench.md goes (default: .)
//! ```
//!
//! Timing: every measurement is the median of ≥ 20 synchronized repetitions after 5 warm-ups
//! (`Device::sync` for burn devices, `tch::Cuda::synchronize` for tch). Floors: 3·|x| forward,
//! 5·|x| backward, 8·|x| both, at the copy bandwidth measured in the same run (read + write).
#![allow(deprecated)]

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use normscope::Kernel;
use normscope::functional::{normalize, normalize_backward};
use normscope::ops::NormLayout;

const EPS: f64 = 1e-5;
const REPS: usize = 20;
const WARMUP: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median milliseconds of `f`, each repetition synchronized by `sync`. What `f` returns is
/// held until the device has synchronized: a result dropped unread could let a lazy backend
/// (burn's fusion) skip the work that produced it.
fn time<T>(mut f: impl FnMut() -> T, sync: &dyn Fn()) -> f64 {
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

struct Row {
    label: String,
    fwd: Option<f64>,
    bwd: Option<f64>,
    both: Option<f64>,
}

struct Table {
    title: String,
    bytes: f64,
    copy_ms: f64,
    rows: Vec<Row>,
    /// One line per device: the fused path against the composed path on this shape.
    checks: Vec<String>,
}

impl Table {
    fn markdown(&self, check_only: bool) -> String {
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

/// `max |t|`, reduced on the device.
fn max_abs<const D: usize>(t: Tensor<D>) -> f64 {
    let max = t.abs().max().into_data();
    max.iter::<f64>().next().unwrap_or(f64::NAN)
}

/// `max |a − b| / max |b|` over every element.
fn rel_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f64 {
    max_abs(a - b.clone()) / max_abs(b)
}

/// The largest `max |fused − composed| / max |composed|` (of `y`, `dx`, `dγ`, `dβ`) the check
/// of [`burn_rows`] accepts.
const CHECK_TOLERANCE: f64 = 1e-4;

/// Our fused path and burn's composed path on one burn device: their outputs and gradients
/// compared (`max |fused − composed| / max |composed|` of `y`, `dx`, `dγ`, `dβ`, one line for
/// `checks`), then, unless `check_only`, their timings (rows) and fwd+bwd medians (returned).
#[allow(clippy::too_many_arguments)]
fn burn_rows<const D: usize>(
    device: &Device,
    name: &str,
    dims: [usize; D],
    layout: NormLayout,
    check_only: bool,
    rows: &mut Vec<Row>,
    checks: &mut Vec<String>,
) -> (f64, f64) {
    let sync = || device.sync().expect("device sync");
    let x = Tensor::<D>::random(dims, Distribution::Normal(1.0, 2.0), device);
    let dy = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), device);
    let affine = layout.affine_len(&x.shape());
    let w = Tensor::<1>::random([affine], Distribution::Normal(1.0, 0.1), device);
    let b = Tensor::<1>::zeros([affine], device);
    let kernels = [
        ("fused (normscope)", Kernel::Fused),
        ("composed (burn ops)", Kernel::Composed),
    ];
    let forward = |kernel| normalize(x.clone(), w.clone(), b.clone(), layout, EPS, kernel);
    let backward = |mean, invstd, kernel| {
        normalize_backward(
            x.clone(),
            w.clone(),
            mean,
            invstd,
            dy.clone(),
            layout,
            EPS,
            kernel,
        )
    };
    let results: Vec<_> = kernels
        .iter()
        .map(|&(_, kernel)| {
            let out = forward(kernel);
            let (dx, dw, db) = backward(out.mean.clone(), out.invstd.clone(), kernel);
            (out.output, dx, dw, db)
        })
        .collect();
    let [(fy, fdx, fdw, fdb), (cy, cdx, cdw, cdb)] =
        <[_; 2]>::try_from(results).unwrap_or_else(|_| unreachable!("two kernels"));
    let diffs = [
        ("y", rel_diff(fy, cy)),
        ("dx", rel_diff(fdx, cdx)),
        ("dγ", rel_diff(fdw, cdw)),
        ("dβ", rel_diff(fdb, cdb)),
    ];
    let worst = diffs.iter().map(|d| d.1).fold(0.0f64, |a, b| a.max(b));
    checks.push(format!(
        "{name}: fused vs composed, max |Δ| / max |composed|: {} — {}",
        diffs
            .iter()
            .map(|(what, d)| format!("{what} {d:.1e}"))
            .collect::<Vec<_>>()
            .join(", "),
        if worst < CHECK_TOLERANCE {
            format!("**agree** (< {CHECK_TOLERANCE:.0e})")
        } else {
            format!("**DISAGREE** (≥ {CHECK_TOLERANCE:.0e})")
        }
    ));
    if check_only {
        return (f64::NAN, f64::NAN);
    }
    let mut totals = vec![];
    for (tag, kernel) in kernels {
        let saved = forward(kernel);
        let fwd = time(|| forward(kernel), &sync);
        let bwd = time(
            || backward(saved.mean.clone(), saved.invstd.clone(), kernel),
            &sync,
        );
        let both = time(
            || {
                let out = forward(kernel);
                (out.output, backward(out.mean, out.invstd, kernel))
            },
            &sync,
        );
        rows.push(Row {
            label: format!("{name}: {tag}"),
            fwd: Some(fwd),
            bwd: Some(bwd),
            both: Some(both),
        });
        totals.push(both);
    }
    (totals[0], totals[1])
}

/// A plain device copy of |x| (read + write) on a burn device, in ms.
fn burn_copy<const D: usize>(device: &Device, dims: [usize; D]) -> f64 {
    let x = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), device);
    time(|| x.clone().add_scalar(0.0), &|| {
        device.sync().expect("device sync")
    })
}

#[cfg(feature = "tch")]
fn cudnn_rows(dims: &[usize], rows: &mut Vec<Row>, direct: &mut Option<f64>) -> Option<f64> {
    use tch::{Cuda, Device as TDevice, Kind, Tensor as T};
    if !Cuda::is_available() {
        eprintln!("no CUDA device: skipping the tch rows");
        return None;
    }
    let dev = TDevice::Cuda(0);
    let shape: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    let c = shape[1];
    let sync = || Cuda::synchronize(0);
    let x = T::randn(shape.as_slice(), (Kind::Float, dev));
    let dy = T::randn(shape.as_slice(), (Kind::Float, dev));
    let copy = time(|| x.copy(), &sync);
    let w = T::ones([c], (Kind::Float, dev));
    let b = T::zeros([c], (Kind::Float, dev));
    let rm = T::zeros([c], (Kind::Float, dev));
    let rv = T::ones([c], (Kind::Float, dev));
    let fwd = time(
        || {
            T::batch_norm(
                &x,
                Some(&w),
                Some(&b),
                Some(&rm),
                Some(&rv),
                true,
                0.1,
                EPS,
                true,
            )
        },
        &sync,
    );
    // What `batch_norm` and its autograd node run on CUDA, called directly: `cudnn_batch_norm`
    // forward and `cudnn_batch_norm_backward` with the saved statistics and reserve space.
    let (_, save_mean, save_var, reserve) =
        x.cudnn_batch_norm(&w, Some(&b), Some(&rm), Some(&rv), true, 0.1, EPS);
    let bwd = time(
        || {
            x.cudnn_batch_norm_backward(
                &dy,
                &w,
                Some(&rm),
                Some(&rv),
                Some(&save_mean),
                Some(&save_var),
                EPS,
                &reserve,
            )
        },
        &sync,
    );
    let both = time(
        || {
            let (_, m, v, r) =
                x.cudnn_batch_norm(&w, Some(&b), Some(&rm), Some(&rv), true, 0.1, EPS);
            x.cudnn_batch_norm_backward(&dy, &w, Some(&rm), Some(&rv), Some(&m), Some(&v), EPS, &r)
        },
        &sync,
    );
    rows.push(Row {
        label: "cuDNN via tch: `Tensor::batch_norm`; bwd = `cudnn_batch_norm_backward` (what its autograd runs)".into(),
        fwd: Some(fwd),
        bwd: Some(bwd),
        both: Some(both),
    });
    let xg = x.copy().set_requires_grad(true);
    let wg = w.copy().set_requires_grad(true);
    let bg = b.copy().set_requires_grad(true);
    // Through torch's autograd, which needs a scalar to start from: `L = Σ y ⊙ dy` (its `mul`
    // and `sum` add passes that no other row has).
    let autograd = time(
        || {
            let y = T::batch_norm(
                &xg,
                Some(&wg),
                Some(&bg),
                Some(&rm),
                Some(&rv),
                true,
                0.1,
                EPS,
                true,
            );
            let loss = (y * &dy).sum(Kind::Float);
            T::run_backward(&[loss], &[&xg, &wg, &bg], false, false)
        },
        &sync,
    );
    rows.push(Row {
        label: "cuDNN via tch autograd of Σ y⊙dy (includes the loss's mul + sum)".into(),
        fwd: None,
        bwd: None,
        both: Some(autograd),
    });
    *direct = Some(both);
    Some(copy)
}

/// The issues' targets on one BatchNorm shape, from the fwd+bwd medians of one run.
fn targets(dims: &[usize], floor_ms: f64, both: &[(&str, f64, f64)], cudnn: Option<f64>) -> String {
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

/// `NxCxHxW` (e.g. `256x256x56x56`) as dimensions.
fn parse_shape(text: &str) -> [usize; 4] {
    let dims: Vec<usize> = text
        .trim()
        .split('x')
        .map(|d| d.parse().ok().filter(|&d| d > 0))
        .collect::<Option<_>>()
        .unwrap_or_default();
    <[usize; 4]>::try_from(dims).unwrap_or_else(|_| {
        panic!("NORMSCOPE_GPU_BENCH_SHAPES: `{text}` is not NxCxHxW with four positive sizes")
    })
}

fn main() {
    let small = std::env::var_os("NORMSCOPE_GPU_BENCH_SMALL").is_some();
    let check_only = std::env::var_os("NORMSCOPE_GPU_BENCH_CHECK_ONLY").is_some();
    let shapes: Vec<[usize; 4]> = if let Ok(list) = std::env::var("NORMSCOPE_GPU_BENCH_SHAPES") {
        list.split(',').map(parse_shape).collect()
    } else if small {
        vec![[8, 16, 14, 14], [4, 8, 9, 9]]
    } else {
        vec![[256, 256, 56, 56], [32, 64, 56, 56]]
    };
    let mut devices: Vec<(&str, Device)> = vec![];
    #[cfg(feature = "wgpu")]
    devices.push(("wgpu", Device::wgpu(Default::default())));
    #[cfg(feature = "tch")]
    if tch::Cuda::is_available() {
        devices.push(("libtorch-cuda", Device::libtorch_cuda(0)));
    }
    let mut text = String::new();
    if check_only {
        text.push_str("\nCheck only (`NORMSCOPE_GPU_BENCH_CHECK_ONLY`): no timings.\n");
    }
    for dims in &shapes {
        let bytes = dims.iter().product::<usize>() as f64 * 4.0;
        let mut rows = vec![];
        let mut checks = vec![];
        let mut copy_ms = None;
        let mut both = vec![];
        let mut copies = vec![];
        for (name, device) in &devices {
            if !check_only {
                let copy = burn_copy(device, *dims);
                copies.push(format!("{name} {copy:.3} ms"));
                copy_ms = Some(copy_ms.map_or(copy, |c: f64| c.min(copy)));
            }
            let (fused, composed) = burn_rows(
                device,
                name,
                *dims,
                NormLayout::BATCH,
                check_only,
                &mut rows,
                &mut checks,
            );
            both.push((*name, fused, composed));
        }
        #[allow(unused_mut)]
        let mut cudnn = None;
        #[cfg(feature = "tch")]
        if !check_only && let Some(copy) = cudnn_rows(dims, &mut rows, &mut cudnn) {
            copies.push(format!("tch {copy:.3} ms"));
            copy_ms = Some(copy_ms.map_or(copy, |c: f64| c.min(copy)));
        }
        let copy_ms = copy_ms.unwrap_or(f64::NAN);
        let mut tables = vec![Table {
            title: format!("BatchNorm `{dims:?}`"),
            bytes,
            copy_ms,
            rows,
            checks,
        }];
        // GroupNorm(32) on the same NCHW tensor; LayerNorm as transformers and ConvNeXt use it,
        // over the channels of each position: the same values as `[N·H·W, C]` rows.
        let [n, c, h, w] = *dims;
        let (mut rows, mut checks) = (vec![], vec![]);
        for (name, device) in &devices {
            let layout = NormLayout::group(32.min(c));
            burn_rows(
                device,
                name,
                *dims,
                layout,
                check_only,
                &mut rows,
                &mut checks,
            );
        }
        tables.push(Table {
            title: format!("GroupNorm(32) `{dims:?}`"),
            bytes,
            copy_ms,
            rows,
            checks,
        });
        let (mut rows, mut checks) = (vec![], vec![]);
        for (name, device) in &devices {
            let layout = NormLayout::LAYER;
            burn_rows(
                device,
                name,
                [n * h * w, c],
                layout,
                check_only,
                &mut rows,
                &mut checks,
            );
        }
        tables.push(Table {
            title: format!("LayerNorm over C, `[{}, {c}]`", n * h * w),
            bytes,
            copy_ms,
            rows,
            checks,
        });
        if !check_only {
            // 8·|x| at the copy's bandwidth: the copy moves 2·|x| in `copy_ms`.
            text.push_str(&format!(
                "\nDevice copies of `{dims:?}` (the fastest sets the floors): {}\n",
                copies.join(", ")
            ));
            text.push_str(&targets(dims, 4.0 * copy_ms, &both, cudnn));
        }
        text.extend(tables.iter().map(|t| t.markdown(check_only)));
        eprintln!("{text}");
    }
    println!("{text}");
    let out = std::env::var_os("NORMSCOPE_GPU_BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".".into());
    std::fs::create_dir_all(&out).expect("output directory");
    std::fs::write(out.join("gpu-bench.md"), text).expect("write gpu-bench.md");
}
