//! Shared test helpers: devices, seeded data, tensor conversion, f64 references.
#![allow(dead_code, deprecated)]

pub mod fused;
pub mod reference;
pub mod suite;

use burn::tensor::{Device, Tensor, TensorData};

/// burn's backend random generator (what `Device::seed` seeds, and what parameter
/// initialization and noise draw from) is process-wide, and the tests of one binary run on
/// parallel threads: a test whose numbers depend on a seed holds this lock, so that no other
/// test reseeds or draws in between.
pub fn backend_rng() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seeded standard normals (Box–Muller on a 64-bit LCG), rounded to f32 so that the f64
/// references see exactly the values the layers see.
pub fn randn(len: usize, seed: u64, mean: f64, std: f64) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..len)
        .map(|_| {
            let (u1, u2) = (uniform(), uniform());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (mean + std * z) as f32 as f64
        })
        .collect()
}

/// A tensor of `dims` holding `data` (as f32) on `device`.
pub fn tensor<const D: usize>(data: &[f64], dims: [usize; D], device: &Device) -> Tensor<D> {
    let values: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, dims), device)
}

/// The dotted path of every float tensor `module` records, in visiting order (what a burn
/// record, or a PyTorch `state_dict`, names them).
pub fn record_paths<M: burn::module::Module>(module: &M) -> Vec<String> {
    use burn::module::{ModuleVisitor, Param};
    #[derive(Default)]
    struct Paths {
        stack: Vec<String>,
        paths: Vec<String>,
    }
    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.stack.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.stack.pop();
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            self.paths.push(self.stack.join("."));
        }
    }
    let mut visitor = Paths::default();
    module.visit(&mut visitor);
    visitor.paths
}

/// A tensor's values as f64.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

/// The devices this build can test, by name: each backend with and without autodiff.
pub fn devices() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)] // only the flex, tch and wgpu features push more
    let mut list = vec![
        ("ndarray", Device::ndarray()),
        ("ndarray+autodiff", Device::ndarray().autodiff()),
    ];
    #[cfg(feature = "flex")]
    {
        list.push(("flex", Device::flex()));
        list.push(("flex+autodiff", Device::flex().autodiff()));
    }
    #[cfg(feature = "tch")]
    {
        list.push(("libtorch", Device::libtorch()));
        list.push(("libtorch+autodiff", Device::libtorch().autodiff()));
    }
    #[cfg(feature = "wgpu")]
    {
        list.push(("wgpu", wgpu_device()));
        list.push(("wgpu+autodiff", wgpu_device().autodiff()));
    }
    list
}

#[cfg(feature = "wgpu")]
pub fn wgpu_device() -> Device {
    Device::wgpu(Default::default())
}

/// The quick preset cut to two normalizers (none, BatchNorm), two seeds and 12 steps with
/// probes at steps 0 and 6: a whole `why_batchnorm` run in seconds.
pub fn two_normalizer_report() -> normscope::analysis::report::ReportConfig {
    use normscope::analysis::report::{ReportConfig, Scale};
    let mut config = ReportConfig::preset(Scale::Quick);
    config
        .normalizers
        .retain(|e| e.label == "none" || e.label == "BatchNorm");
    config.seeds = 2;
    config.train.steps = 12;
    config.probe_steps = vec![0, 6];
    config
}

/// A symmetric matrix `Q diag(λ) Qᵀ` with `Q` orthonormal (Gram–Schmidt of a fixed matrix).
pub fn symmetric(eigenvalues: &[f64]) -> Vec<f64> {
    let n = eigenvalues.len();
    let mut q: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| ((i * 7 + j * 3) % 11) as f64 - 5.0 + if i == j { 9.0 } else { 0.0 })
                .collect()
        })
        .collect();
    for i in 0..n {
        for k in 0..i {
            let d: f64 = (0..n).map(|j| q[i][j] * q[k][j]).sum();
            let (done, rest) = q.split_at_mut(i);
            for (v, u) in rest[0].iter_mut().zip(&done[k]) {
                *v -= d * u;
            }
        }
        let nrm = q[i].iter().map(|v| v * v).sum::<f64>().sqrt();
        q[i].iter_mut().for_each(|v| *v /= nrm);
    }
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| q[k][i] * eigenvalues[k] * q[k][j]).sum();
        }
    }
    a
}
