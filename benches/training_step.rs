//! The training step of `why_batchnorm`'s default network — the pre-activation ResNet (1 stage ×
//! 4 blocks, width 8, 16×16 inputs, batch 32, SGD with momentum) that every unit of the default
//! report trains — on burn-ndarray and, with feature `tch`, on libtorch CPU through burn's own
//! LibTorch backend: the same model code, the same batch, so the ratio is what the backend and
//! normscope's kernels make of it.
//!
//! ```text
//! PATH=<torch venv>/bin:$PATH cargo bench --bench training_step --features tch
//! cargo run --release --example perf_report     # the ratios, from criterion's estimates
//! ```
//!
//! Per normalizer and device: `step` (forward, cross-entropy, backward, the SGD update and the
//! loss read back: `Trainer::step_on`, exactly what a unit of the report runs per step, from the
//! initial weights each time) and `forward` (the forward and the loss alone, on the device
//! without autodiff: `step − forward` is the backward and the update).
#![allow(deprecated)]

use std::hint::black_box;
use std::time::Duration;

use burn::module::Module;
use burn::tensor::Device;
use criterion::Criterion;
use normscope::Mode;
use normscope::analysis::models::{NetworkConfig, Probe};
use normscope::analysis::report::{Entry, ReportConfig, Scale, default_normalizers};
use normscope::analysis::train::{TrainConfig, Trainer, cross_entropy};

/// The normalizers timed: no normalization, BatchNorm, and the per-sample ones of the battery.
const LABELS: [&str; 4] = ["none", "BatchNorm", "GroupNorm", "LayerNorm"];

fn devices() -> Vec<(&'static str, Device)> {
    #[cfg_attr(not(feature = "tch"), allow(unused_mut))]
    let mut devices = vec![("ndarray", Device::ndarray())];
    #[cfg(feature = "tch")]
    {
        // One intra-op thread per core, as burn-ndarray's rayon pool.
        devices.push(("libtorch", Device::libtorch()));
    }
    devices
}

fn bench(c: &mut Criterion, config: &ReportConfig, entry: &Entry, name: &str, device: &Device) {
    let (train, _) = config.data.load().expect("synthetic data");
    let [channels, size, _] = train.shape;
    let network = NetworkConfig::ResNet(config.network_for(entry, channels, size, train.classes));
    let train_config = TrainConfig {
        seed: 0,
        ..config.train.clone()
    };
    let mut trainer = Trainer::new(&network, train_config, device).expect("a valid network");
    let (x, y) = trainer.next_tensors(&train);
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

fn main() {
    normscope::cli::steady_state_allocator();
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let config = ReportConfig::preset(Scale::Default);
    for entry in default_normalizers()
        .iter()
        .filter(|e| LABELS.contains(&e.label.as_str()))
    {
        for (name, device) in devices() {
            bench(&mut c, &config, entry, name, &device);
        }
    }
    c.final_summary();
}
