//! GPU benchmark, one binary, one run, one device: a plain device copy (the bandwidth ceiling),
//! normscope's fused BatchNorm (forward, backward, both) on wgpu (CubeCL kernels) and on
//! libtorch-CUDA (ATen/cuDNN through burn), burn's composed BatchNorm on the same devices, and
//! cuDNN called directly through tch (`Tensor::batch_norm`), on `[256, 256, 56, 56]` and
//! `[32, 64, 56, 56]` fp32; GroupNorm(32) and LayerNorm against their floors.
//!
//! ```text
//! cargo bench --bench gpu --features tch,wgpu          # prints the table, writes gpu-bench.md
//! NORMSCOPE_GPU_BENCH_SMALL=1 ...                      # tiny shapes: a smoke test on lavapipe
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

/// Median milliseconds of `f`, each repetition synchronized by `sync`.
fn time(mut f: impl FnMut(), sync: &dyn Fn()) -> f64 {
    for _ in 0..WARMUP {
        f();
    }
    sync();
    let samples = (0..REPS)
        .map(|_| {
            let start = Instant::now();
            f();
            sync();
            start.elapsed().as_secs_f64() * 1e3
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
}

impl Table {
    fn markdown(&self) -> String {
        let bandwidth = 2.0 * self.bytes / (self.copy_ms * 1e-3);
        let mut s = format!(
            "\n### {} — |x| = {:.1} MB, copy {:.3} ms = {:.0} GB/s (read + write)\n\n| implementation | fwd ms (% of 3\\|x\\|) | bwd ms (% of 5\\|x\\|) | fwd+bwd ms (% of 8\\|x\\|) |\n|---|---|---|---|\n",
            self.title,
            self.bytes / 1e6,
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

/// Our fused path and burn's composed path on one burn device.
fn burn_rows<const D: usize>(
    device: &Device,
    name: &str,
    dims: [usize; D],
    layout: NormLayout,
    rows: &mut Vec<Row>,
) {
    let sync = || device.sync().expect("device sync");
    let x = Tensor::<D>::random(dims, Distribution::Normal(1.0, 2.0), device);
    let dy = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), device);
    let affine = layout.affine_len(&x.shape());
    let w = Tensor::<1>::random([affine], Distribution::Normal(1.0, 0.1), device);
    let b = Tensor::<1>::zeros([affine], device);
    for (tag, kernel) in [
        ("fused (normscope)", Kernel::Fused),
        ("composed (burn ops)", Kernel::Composed),
    ] {
        let saved = normalize(x.clone(), w.clone(), b.clone(), layout, EPS, kernel);
        let fwd = time(
            || {
                let _ = normalize(x.clone(), w.clone(), b.clone(), layout, EPS, kernel);
            },
            &sync,
        );
        let bwd = time(
            || {
                let _ = normalize_backward(
                    x.clone(),
                    w.clone(),
                    saved.mean.clone(),
                    saved.invstd.clone(),
                    dy.clone(),
                    layout,
                    EPS,
                    kernel,
                );
            },
            &sync,
        );
        let both = time(
            || {
                let out = normalize(x.clone(), w.clone(), b.clone(), layout, EPS, kernel);
                let _ = normalize_backward(
                    x.clone(),
                    w.clone(),
                    out.mean,
                    out.invstd,
                    dy.clone(),
                    layout,
                    EPS,
                    kernel,
                );
            },
            &sync,
        );
        rows.push(Row {
            label: format!("{name}: {tag}"),
            fwd: Some(fwd),
            bwd: Some(bwd),
            both: Some(both),
        });
    }
}

/// A plain device copy of |x| (read + write) on a burn device, in ms.
fn burn_copy<const D: usize>(device: &Device, dims: [usize; D]) -> f64 {
    let x = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), device);
    time(
        || {
            let _ = x.clone().add_scalar(0.0);
        },
        &|| device.sync().expect("device sync"),
    )
}

#[cfg(feature = "tch")]
fn cudnn_rows(dims: &[usize], rows: &mut Vec<Row>) -> Option<f64> {
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
    let copy = time(
        || {
            let _ = x.copy();
        },
        &sync,
    );
    let w = T::ones([c], (Kind::Float, dev));
    let b = T::zeros([c], (Kind::Float, dev));
    let rm = T::zeros([c], (Kind::Float, dev));
    let rv = T::ones([c], (Kind::Float, dev));
    let fwd = time(
        || {
            let _ = T::batch_norm(
                &x,
                Some(&w),
                Some(&b),
                Some(&rm),
                Some(&rv),
                true,
                0.1,
                EPS,
                true,
            );
        },
        &sync,
    );
    let xg = x.copy().set_requires_grad(true);
    let wg = w.copy().set_requires_grad(true);
    let bg = b.copy().set_requires_grad(true);
    // torch's autograd needs a scalar to start from: `L = Σ y ⊙ dy` (its `mul` and `sum` are
    // in this row and not in ours; the table says so).
    let both = time(
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
            let _ = T::run_backward(&[loss], &[&xg, &wg, &bg], false, false);
        },
        &sync,
    );
    rows.push(Row {
        label: "cuDNN via tch::Tensor::batch_norm (fwd+bwd: autograd of Σ y⊙dy)".into(),
        fwd: Some(fwd),
        bwd: None,
        both: Some(both),
    });
    Some(copy)
}

fn main() {
    let small = std::env::var_os("NORMSCOPE_GPU_BENCH_SMALL").is_some();
    let shapes: Vec<[usize; 4]> = if small {
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
    let mut tables = vec![];
    for dims in &shapes {
        let bytes = dims.iter().product::<usize>() as f64 * 4.0;
        let mut rows = vec![];
        let mut copy_ms = None;
        for (name, device) in &devices {
            let copy = burn_copy(device, *dims);
            rows.push(Row {
                label: format!("{name}: device copy"),
                fwd: None,
                bwd: None,
                both: None,
            });
            eprintln!("{name} copy {dims:?}: {copy:.3} ms");
            copy_ms = Some(copy_ms.map_or(copy, |c: f64| c.min(copy)));
            burn_rows(device, name, *dims, NormLayout::BATCH, &mut rows);
        }
        #[cfg(feature = "tch")]
        if let Some(copy) = cudnn_rows(dims, &mut rows) {
            eprintln!("tch copy {dims:?}: {copy:.3} ms");
            copy_ms = Some(copy_ms.map_or(copy, |c: f64| c.min(copy)));
        }
        rows.retain(|r| r.fwd.is_some() || r.both.is_some());
        tables.push(Table {
            title: format!("BatchNorm `{dims:?}`"),
            bytes,
            copy_ms: copy_ms.unwrap_or(f64::NAN),
            rows,
        });
        for (layout, label) in [
            (NormLayout::group(32.min(dims[1])), "GroupNorm(32)"),
            (NormLayout::LAYER, "LayerNorm"),
        ] {
            let mut rows = vec![];
            for (name, device) in &devices {
                burn_rows(device, name, *dims, layout, &mut rows);
            }
            tables.push(Table {
                title: format!("{label} `{dims:?}`"),
                bytes,
                copy_ms: copy_ms.unwrap_or(f64::NAN),
                rows,
            });
        }
    }
    let text: String = tables.iter().map(Table::markdown).collect();
    println!("{text}");
    let out = std::env::var_os("NORMSCOPE_GPU_BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".".into());
    std::fs::create_dir_all(&out).expect("output directory");
    std::fs::write(out.join("gpu-bench.md"), text).expect("write gpu-bench.md");
}
