//! The training step of `why_batchnorm`'s default network — the pre-activation ResNet (1 stage ×
//! 4 blocks, width 8, 16×16 inputs, batch 32, SGD with momentum) that every unit of the default
//! report trains — on burn-ndarray, on burn-flex (feature `flex`) and on libtorch CPU (feature
//! `tch`) through burn's own LibTorch backend: the same model code, the same batch, so the ratio
//! is what the backend and normscope's kernels make of it. The three backends run one after the
//! other for each normalizer.
//!
//! ```text
//! PATH=<torch venv>/bin:$PATH cargo bench --bench normalization --bench training_step --features tch,flex
//! cargo run --release --example perf_report     # the ratios, from criterion's estimates
//! ```
//!
//! Per normalizer and device: `step` (forward, cross-entropy, backward, the SGD update and the
//! loss read back: `Trainer::step_on`, exactly what a unit of the report runs per step, from the
//! initial weights each time) and `forward` (the forward and the loss alone, on the device
//! without autodiff: `step − forward` is the backward and the update).
//!
//! For profilers: `NORMSCOPE_PROFILE=BatchNorm/flex NORMSCOPE_PROFILE_STEPS=5` runs one step of
//! that normalizer on that device to warm up, then 5 more, and exits without criterion; two
//! runs with different step counts under `valgrind --tool=callgrind` give the instructions of
//! one step by difference (`docs/performance.md`).
#![allow(deprecated)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use criterion::Criterion;
use normscope::Mode;
use normscope::analysis::models::{NetworkConfig, Probe};
use normscope::analysis::report::{Entry, ReportConfig, Scale, default_normalizers};
use normscope::analysis::train::{TrainConfig, Trainer, cross_entropy};

/// The normalizers timed: no normalization, BatchNorm, and the per-sample ones of the battery.
const LABELS: [&str; 4] = ["none", "BatchNorm", "GroupNorm", "LayerNorm"];

fn devices() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)]
    let mut devices = vec![("ndarray", Device::ndarray())];
    #[cfg(feature = "flex")]
    devices.push(("flex", Device::flex()));
    #[cfg(feature = "tch")]
    {
        // One intra-op thread per core, as burn-ndarray's rayon pool.
        devices.push(("libtorch", Device::libtorch()));
    }
    devices
}

/// The network of `entry`, its trainer on `device` and one batch.
fn setup(
    config: &ReportConfig,
    entry: &Entry,
    device: &Device,
) -> (NetworkConfig, Trainer, Tensor<4>, Tensor<1, Int>) {
    let (train, _) = config.data.load().expect("synthetic data");
    let [channels, size, _] = train.shape;
    let network = NetworkConfig::ResNet(config.network_for(entry, channels, size, train.classes));
    let train_config = TrainConfig {
        seed: 0,
        ..config.train.clone()
    };
    let mut trainer = Trainer::new(&network, train_config, device).expect("a valid network");
    let (x, y) = trainer.next_tensors(&train);
    (network, trainer, x, y)
}

fn bench(c: &mut Criterion, config: &ReportConfig, entry: &Entry, name: &str, device: &Device) {
    let (network, mut trainer, x, y) = setup(config, entry, device);
    let group = format!("training_step_{}", entry.label);
    // The forward alone, on the device without autodiff (no graph recorded): the same weights.
    let inner = device.clone().inner();
    let model = network
        .init(&inner)
        .expect("a valid network")
        .load_record(trainer.model.clone().into_record());
    let (xi, yi) = (x.clone().inner(), y.clone().inner());
    c.benchmark_group(&group)
        .bench_function(format!("{name}_forward"), |b| {
            b.iter(|| {
                let logits = model
                    .forward(xi.clone(), Mode::Train, &mut Probe::off())
                    .expect("forward");
                black_box(cross_entropy(logits, yi.clone()).into_scalar::<f32>())
            })
        });
    // Every step starts from the initial weights (the momentum buffers still carry over):
    // stepping on one batch thousands of times would drive a network without normalization to
    // divergence, and the step's cost does not depend on where the weights are.
    let initial = trainer.model.clone();
    c.benchmark_group(&group)
        .bench_function(format!("{name}_step"), |b| {
            b.iter(|| {
                trainer.model = initial.clone();
                black_box(
                    trainer
                        .step_on(x.clone(), y.clone())
                        .expect("a finite loss"),
                )
            })
        });
}

/// `NORMSCOPE_PROFILE=<normalizer>/<device>`: one warm-up step and `NORMSCOPE_PROFILE_STEPS`
/// (default 1) more, outside criterion.
fn profile(config: &ReportConfig, which: &str) {
    let steps: usize = std::env::var("NORMSCOPE_PROFILE_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (label, device_name) = which
        .split_once('/')
        .expect("NORMSCOPE_PROFILE=<normalizer>/<device>, e.g. BatchNorm/flex");
    let entry = default_normalizers()
        .into_iter()
        .find(|e| e.label == label)
        .unwrap_or_else(|| panic!("no normalizer {label} in the report's battery"));
    let (_, device) = devices()
        .into_iter()
        .find(|(name, _)| *name == device_name)
        .unwrap_or_else(|| panic!("no device {device_name} in this build"));
    let (_, mut trainer, x, y) = setup(config, &entry, &device);
    let initial = trainer.model.clone();
    for _ in 0..=steps {
        trainer.model = initial.clone();
        black_box(
            trainer
                .step_on(x.clone(), y.clone())
                .expect("a finite loss"),
        );
    }
}

fn main() {
    normscope::cli::steady_state_allocator();
    let config = ReportConfig::preset(Scale::Default);
    if let Ok(which) = std::env::var("NORMSCOPE_PROFILE") {
        return profile(&config, &which);
    }
    common::record_load("training_step", "start");
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for entry in default_normalizers()
        .iter()
        .filter(|e| LABELS.contains(&e.label.as_str()))
    {
        for (name, device) in devices() {
            bench(&mut c, &config, entry, name, &device);
        }
    }
    c.final_summary();
    common::record_load("training_step", "end");
}
