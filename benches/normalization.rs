//! Fused normalization on the CPU backends (burn-ndarray, and burn-flex with feature `flex`)
//! against the composed path, burn-nn's layers (what a burn user gets today), libtorch CPU
//! (feature `tch`) and a plain copy of the same bytes (the bandwidth ceiling), measured in the
//! same run, one shape after another so that each shape's rows run minutes apart at most.
//!
//! ```text
//! PATH=<torch venv>/bin:$PATH cargo bench --bench normalization --bench training_step --features tch,flex
//! cargo run --release --example perf_report     # the ratios, from criterion's estimates
//! ```
//!
//! Benchmark ids are `<group>/<backend>-<implementation>_<phase>` (`ndarray-fused_fwd`,
//! `flex-burn-nn_step`; libtorch's are `torch_<phase>`), groups `<normalizer>_<shape>`. Phases:
//! `fwd` (training forward), `bwd` (the backward alone, where it can be called alone),
//! `fwd+bwd` (the two kernels back to back) and `step` (forward and backward through autodiff of
//! `L = Σ y ⊙ dy`, the only form in which burn-nn's and torch's backward can be run; the same
//! extra `mul` and `sum` for everyone). `NORMSCOPE_BENCH_BACKENDS=flex` (a comma-separated list)
//! keeps only those of our backends.
//!
//! The allocator runs in steady state: glibc is told (`mallopt`) to keep freed memory instead of
//! returning blocks over 32 MB to the kernel, as a caching allocator would; otherwise every
//! fresh 134 MB output pays ~50 ms of page faults on this VM whatever the kernel.
//! `NORMSCOPE_BENCH_FIRST_TOUCH=1` skips that, to measure the default.
#![allow(deprecated)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use burn::tensor::{Device, Distribution, Tensor};
use criterion::Criterion;
use normscope::Kernel;
use normscope::functional::{normalize, normalize_backward};
use normscope::ops::NormLayout;

const BATCH_NORM_SHAPES: [[usize; 4]; 3] =
    [[32, 64, 56, 56], [64, 256, 28, 28], [128, 256, 32, 32]];
const ROWS: [usize; 2] = [4096, 1024];
const GROUPS: usize = 32;
const EPS: f64 = 1e-5;

fn name(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// A normalizer under test: its layout on our side, and burn-nn / torch equivalents.
#[derive(Clone, Copy)]
#[allow(clippy::enum_variant_names)] // the names are the layers'
enum Op {
    BatchNorm,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    RmsNorm,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::BatchNorm => "batch_norm",
            Op::GroupNorm => "group_norm",
            Op::InstanceNorm => "instance_norm",
            Op::LayerNorm => "layer_norm",
            Op::RmsNorm => "rms_norm",
        }
    }

    /// Our layout for an input of `dims`.
    fn layout(self, dims: &[usize]) -> NormLayout {
        match self {
            Op::BatchNorm => NormLayout::BATCH,
            Op::GroupNorm => NormLayout::group(GROUPS),
            Op::InstanceNorm => NormLayout::group(dims[1]),
            Op::LayerNorm => NormLayout::LAYER,
            Op::RmsNorm => NormLayout::RMS,
        }
    }
}

fn copy_bench<const D: usize>(c: &mut Criterion, group: &str, dims: [usize; D]) {
    let len: usize = dims.iter().product();
    let src = vec![1.0f32; len];
    let mut dst = vec![0.0f32; len];
    c.benchmark_group(group).bench_function("copy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        })
    });
}

/// Our CPU backends in this build, by the name the benchmark ids carry (all of them unless
/// `NORMSCOPE_BENCH_BACKENDS` names some).
fn backends() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)]
    let mut all = vec![("ndarray", Device::ndarray())];
    #[cfg(feature = "flex")]
    all.push(("flex", Device::flex()));
    match std::env::var("NORMSCOPE_BENCH_BACKENDS") {
        Ok(names) => all
            .into_iter()
            .filter(|(name, _)| names.split(',').any(|n| n.trim() == *name))
            .collect(),
        Err(_) => all,
    }
}

fn ours<const D: usize>(
    c: &mut Criterion,
    group: &str,
    op: Op,
    dims: [usize; D],
    backend: &str,
    device: &Device,
) {
    let x = Tensor::<D>::random(dims, Distribution::Normal(1.0, 2.0), device);
    let dy = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), device);
    let layout = op.layout(&dims);
    let affine = layout.affine_len(&x.shape());
    let w = Tensor::<1>::random([affine], Distribution::Normal(1.0, 0.1), device);
    let b = Tensor::<1>::zeros([affine], device);
    for (kind, kernel) in [("fused", Kernel::Fused), ("composed", Kernel::Composed)] {
        let tag = format!("{backend}-{kind}");
        let saved = normalize(x.clone(), w.clone(), b.clone(), layout, EPS, kernel);
        c.benchmark_group(group)
            .bench_function(format!("{tag}_fwd"), |bench| {
                bench.iter(|| {
                    let out = normalize(x.clone(), w.clone(), b.clone(), layout, EPS, kernel);
                    black_box(out.output);
                })
            });
        c.benchmark_group(group)
            .bench_function(format!("{tag}_bwd"), |bench| {
                bench.iter(|| {
                    let (dx, dw, _) = normalize_backward(
                        x.clone(),
                        w.clone(),
                        saved.mean.clone(),
                        saved.invstd.clone(),
                        dy.clone(),
                        layout,
                        EPS,
                        kernel,
                    );
                    black_box((dx, dw));
                })
            });
        c.benchmark_group(group)
            .bench_function(format!("{tag}_fwd+bwd"), |bench| {
                bench.iter(|| {
                    let out = normalize(x.clone(), w.clone(), b.clone(), layout, EPS, kernel);
                    let (dx, dw, _) = normalize_backward(
                        x.clone(),
                        w.clone(),
                        out.mean,
                        out.invstd,
                        dy.clone(),
                        layout,
                        EPS,
                        kernel,
                    );
                    black_box((out.output, dx, dw));
                })
            });
        let (xa, dya) = (x.clone().autodiff().require_grad(), dy.clone().autodiff());
        let (wa, ba) = (
            w.clone().autodiff().require_grad(),
            b.clone().autodiff().require_grad(),
        );
        c.benchmark_group(group)
            .bench_function(format!("{tag}_step"), |bench| {
                bench.iter(|| {
                    let out = normalize(xa.clone(), wa.clone(), ba.clone(), layout, EPS, kernel);
                    let grads = out.output.mul(dya.clone()).sum().backward();
                    black_box(xa.grad(&grads));
                })
            });
    }
}

/// burn-nn's layer of the same kind, in training mode (autodiff device).
fn burn_nn<const D: usize>(
    c: &mut Criterion,
    group: &str,
    op: Op,
    dims: [usize; D],
    backend: &str,
    device: &Device,
) {
    use burn::nn;
    let device = device.clone().autodiff();
    let x = Tensor::<D>::random(dims, Distribution::Normal(1.0, 2.0), &device).require_grad();
    let dy = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), &device);
    let forward: Box<dyn Fn(Tensor<D>) -> Tensor<D>> = match op {
        Op::BatchNorm => {
            let layer = nn::BatchNormConfig::new(dims[1]).init(&device);
            Box::new(move |x| layer.forward(x))
        }
        Op::GroupNorm => {
            let layer = nn::GroupNormConfig::new(GROUPS, dims[1]).init(&device);
            Box::new(move |x| layer.forward(x))
        }
        Op::InstanceNorm => {
            let layer = nn::InstanceNormConfig::new(dims[1]).init(&device);
            Box::new(move |x| layer.forward(x))
        }
        Op::LayerNorm => {
            let layer = nn::LayerNormConfig::new(dims[D - 1]).init(&device);
            Box::new(move |x| layer.forward(x))
        }
        Op::RmsNorm => {
            let layer = nn::RmsNormConfig::new(dims[D - 1]).init(&device);
            Box::new(move |x| layer.forward(x))
        }
    };
    c.benchmark_group(group)
        .bench_function(format!("{backend}-burn-nn_fwd"), |bench| {
            bench.iter(|| black_box(forward(x.clone())))
        });
    c.benchmark_group(group)
        .bench_function(format!("{backend}-burn-nn_step"), |bench| {
            bench.iter(|| {
                let grads = forward(x.clone()).mul(dy.clone()).sum().backward();
                black_box(x.grad(&grads));
            })
        });
}

#[cfg(feature = "tch")]
fn torch<const D: usize>(c: &mut Criterion, group: &str, op: Op, dims: [usize; D]) {
    use tch::{Kind, Tensor as T};
    let shape: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    let opts = (Kind::Float, tch::Device::Cpu);
    let x = T::randn(shape.as_slice(), opts);
    let dy = T::randn(shape.as_slice(), opts);
    let channels = shape[1];
    let affine: Vec<i64> = match op {
        Op::LayerNorm | Op::RmsNorm => vec![shape[D - 1]],
        _ => vec![channels],
    };
    let w = T::ones(affine.as_slice(), opts);
    let b = T::zeros(affine.as_slice(), opts);
    let rm = T::zeros([channels], opts);
    let rv = T::ones([channels], opts);
    let forward = |x: &T, w: &T, b: &T| -> T {
        match op {
            Op::BatchNorm => x.batch_norm(
                Some(w),
                Some(b),
                Some(&rm),
                Some(&rv),
                true,
                0.1,
                EPS,
                false,
            ),
            Op::GroupNorm => x.group_norm(GROUPS as i64, Some(w), Some(b), EPS, false),
            // `nn.InstanceNorm2d(affine=True)`: ATen runs it as BatchNorm over the `[1, N·C, …]`
            // view with γ, β repeated per sample.
            Op::InstanceNorm => x.instance_norm(
                Some(w),
                Some(b),
                None::<&T>,
                None::<&T>,
                true,
                0.1,
                EPS,
                false,
            ),
            Op::LayerNorm => x.layer_norm([shape[D - 1]].as_slice(), Some(w), Some(b), EPS, false),
            Op::RmsNorm => x.rms_norm([shape[D - 1]].as_slice(), Some(w), Some(EPS)),
        }
    };
    c.benchmark_group(group)
        .bench_function("torch_fwd", |bench| {
            bench.iter(|| black_box(forward(&x, &w, &b)))
        });
    // The backward kernel alone: the ATen backward PyTorch's autograd calls (through
    // normscope-tch, which binds what tch does not), from the forward's saved statistics.
    use normscope_tch::ops::{AtenNorm, backward as aten_backward, forward as aten_forward};
    let norm = match op {
        Op::BatchNorm | Op::InstanceNorm => AtenNorm::BatchNorm,
        Op::GroupNorm => AtenNorm::GroupNorm(GROUPS),
        Op::LayerNorm => AtenNorm::LayerNorm,
        Op::RmsNorm => AtenNorm::RmsNorm,
    };
    let (wf, bf) = (w.reshape([-1]), b.reshape([-1]));
    // InstanceNorm's kernels as `instance_norm` calls them: BatchNorm on `[1, N·C, …]`.
    let (ax, ady, wf, bf) = match op {
        Op::InstanceNorm => {
            let mut view = shape.clone();
            view[1] *= view[0];
            view[0] = 1;
            (
                x.reshape(view.as_slice()),
                dy.reshape(view.as_slice()),
                wf.repeat([shape[0]]),
                bf.repeat([shape[0]]),
            )
        }
        _ => (x.shallow_clone(), dy.shallow_clone(), wf, bf),
    };
    let (_, mean, invstd) = aten_forward(norm, &ax, &wf, &bf, EPS).expect("ATen forward");
    c.benchmark_group(group)
        .bench_function("torch_bwd", |bench| {
            bench.iter(|| {
                black_box(
                    aten_backward(norm, &ax, &wf, &mean, &invstd, &ady, EPS)
                        .expect("ATen backward"),
                )
            })
        });
    c.benchmark_group(group)
        .bench_function("torch_fwd+bwd", |bench| {
            bench.iter(|| {
                let (y, mean, invstd) =
                    aten_forward(norm, &ax, &wf, &bf, EPS).expect("ATen forward");
                black_box((
                    y,
                    aten_backward(norm, &ax, &wf, &mean, &invstd, &ady, EPS)
                        .expect("ATen backward"),
                ))
            })
        });
    let xg = x.copy().set_requires_grad(true);
    let wg = w.copy().set_requires_grad(true);
    let bg = b.copy().set_requires_grad(true);
    c.benchmark_group(group)
        .bench_function("torch_step", |bench| {
            bench.iter(|| {
                let loss = (forward(&xg, &wg, &bg) * &dy).sum(Kind::Float);
                black_box(T::run_backward(&[loss], &[&xg, &wg, &bg], false, false));
            })
        });
}

fn run<const D: usize>(c: &mut Criterion, op: Op, dims: [usize; D]) {
    let group = format!("{}_{}", op.label(), name(&dims));
    copy_bench(c, &group, dims);
    for (backend, device) in backends() {
        ours(c, &group, op, dims, backend, &device);
        burn_nn(c, &group, op, dims, backend, &device);
    }
    #[cfg(feature = "tch")]
    torch(c, &group, op, dims);
}

fn main() {
    if std::env::var_os("NORMSCOPE_BENCH_FIRST_TOUCH").is_none() {
        normscope::cli::steady_state_allocator();
    }
    common::record_load("normalization", "start");
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    for dims in BATCH_NORM_SHAPES {
        run(&mut c, Op::BatchNorm, dims);
    }
    for dims in BATCH_NORM_SHAPES {
        run(&mut c, Op::GroupNorm, dims);
    }
    for dims in BATCH_NORM_SHAPES {
        run(&mut c, Op::InstanceNorm, dims);
    }
    run(&mut c, Op::LayerNorm, ROWS);
    run(&mut c, Op::RmsNorm, ROWS);
    c.final_summary();
    common::record_load("normalization", "end");
}
