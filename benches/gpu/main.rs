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

//!
//! The parts: [`timing`] (synchronized medians, the tables), [`burn_paths`] (the fused and
//! composed paths on a burn device, checked against each other, and the device copy),
//! [`cudnn`] (cuDNN through tch), [`targets`] (the issues' targets from one run's medians).

mod burn_paths;
mod cudnn;
mod targets;
mod timing;

use burn::tensor::Device;
use normscope::ops::NormLayout;

use burn_paths::{burn_copy, burn_rows};
use cudnn::cudnn_rows;
use targets::targets;
use timing::Table;

/// `ε` of every normalization timed.
const EPS: f64 = 1e-5;

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
