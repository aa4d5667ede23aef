//! The loss landscape (Li et al. 2018), the Hessian spectra (PyHessian) and the probes along
//! training: closed forms on quadratics, known spectra, the zoo's networks, the at-init
//! measurements, and (with `tch`) exact against finite-difference Hessian-vector products.
#![allow(deprecated)]

mod common;

use burn::tensor::{Device, Int, Tensor};
use normscope::analysis::AnalysisError;
use normscope::analysis::data::{DataSource, Dataset, SyntheticConfig};
use normscope::analysis::experiments::landscape::LandscapeConfig;
use normscope::analysis::experiments::{Experiment, Results, no_progress};
use normscope::analysis::metrics::hessian::{
    BatchAverage, FiniteDifference, HessianVectorProduct, HvpMethod, Restricted, SpectrumConfig,
    block_spectra, lanczos, network_hessian, spectral_density, spectrum, top_eigenpairs, trace,
    tridiagonal_quadrature,
};
use normscope::analysis::metrics::landscape::{
    LossSurface, barrier, filter_normalize, filters, interpolation, linspace, plane,
    random_direction,
};
use normscope::analysis::metrics::training_probe::training_probe;
use normscope::analysis::models::{MlpConfig, NetworkConfig, ParamLayout, ResNetConfig, VggConfig};
use normscope::analysis::output::contour::{Contour, shared_range};
use normscope::analysis::report::units::measure::init_unit;
use normscope::analysis::report::{ReportConfig, Scale, default_normalizers};
use normscope::analysis::train::{
    BatchObjective, Objective, Quadratic, TrainConfig, Trainer, dot, norm,
};
use normscope::{Mode, NormConfig};

/// `H diag(λ) H` with the Householder reflection `H = I − 2uuᵀ` of a fixed unit `u`: a dense
/// symmetric matrix whose eigenvalues are exactly `λ`.
fn reflected(eigenvalues: &[f64]) -> Vec<f64> {
    let n = eigenvalues.len();
    let u: Vec<f64> = (0..n)
        .map(|i| ((i * 37 % 11) as f64 - 4.5) + 0.1 * i as f64)
        .collect();
    let u: Vec<f64> = u.iter().map(|x| x / norm(&u)).collect();
    let h = |i: usize, j: usize| f64::from(u8::from(i == j)) - 2.0 * u[i] * u[j];
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| h(i, k) * eigenvalues[k] * h(k, j)).sum();
        }
    }
    a
}

fn quadratic(a: Vec<f64>) -> Quadratic {
    let n = (a.len() as f64).sqrt() as usize;
    Quadratic {
        a,
        center: vec![0.0; n],
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

// ---------------------------------------------------------------- Li et al.'s landscape

#[test]
fn interpolation_and_plane_of_a_quadratic_match_their_closed_forms() {
    let a = common::symmetric(&[3.0, 1.0, 0.5, 2.0]);
    let mut q = Quadratic {
        a,
        center: vec![0.2, -0.1, 0.4, 0.0],
    };
    let half_quad = |q: &Quadratic, d: &[f64]| 0.5 * dot(d, &q.apply(d));
    let (from, to) = (vec![1.0, 0.0, -1.0, 0.5], vec![-0.3, 0.8, 0.2, -0.6]);
    let alphas = linspace(-0.5, 1.5, 9);
    let q2 = q.clone();
    let mut loss = |w: &[f64]| q.evaluate(w).map(|(l, _)| l);
    let path = interpolation(&mut loss, &from, &to, &alphas).unwrap();
    for (alpha, l) in &path {
        let d: Vec<f64> = (0..4)
            .map(|i| (1.0 - alpha) * from[i] + alpha * to[i] - q2.center[i])
            .collect();
        assert!(close(*l, half_quad(&q2, &d), 1e-12), "α = {alpha}: {l}");
    }
    // On the plane through the minimum, L = ½(xδ + yη)ᵀA(xδ + yη) and the second differences
    // at the center are δᵀAδ and ηᵀAη exactly.
    let (delta, eta) = (vec![1.0, 0.5, 0.0, -1.0], vec![0.0, 1.0, 2.0, 0.3]);
    let grid = linspace(-1.0, 1.0, 5);
    let surface = plane(&mut loss, &q2.center, &delta, &eta, &grid, &grid).unwrap();
    for (j, y) in grid.iter().enumerate() {
        for (i, x) in grid.iter().enumerate() {
            let d: Vec<f64> = (0..4).map(|k| x * delta[k] + y * eta[k]).collect();
            assert!(close(surface.loss[j][i], half_quad(&q2, &d), 1e-12));
        }
    }
    let (cx, cy) = surface.curvature().unwrap();
    assert!(close(cx, dot(&delta, &q2.apply(&delta)), 1e-9), "{cx}");
    assert!(close(cy, dot(&eta, &q2.apply(&eta)), 1e-9), "{cy}");
    assert_eq!(surface.at_center(), 0.0);
}

#[test]
fn barrier_is_zero_on_a_convex_path_and_the_rise_over_a_saddle() {
    // Convex: L along any segment is convex, so its maximum on [0, 1] is at an end.
    let mut convex = quadratic(vec![2.0, 0.0, 0.0, 1.0]);
    let mut f = |w: &[f64]| convex.evaluate(w).map(|(l, _)| l);
    let path = interpolation(&mut f, &[1.0, 1.0], &[-1.0, 0.5], &linspace(-0.5, 1.5, 41)).unwrap();
    assert_eq!(barrier(&path), 0.0);
    // L = −x²/2 from x = −1 to x = 1: the ends at −0.5, the middle at 0.
    let mut saddle = quadratic(vec![-1.0]);
    let mut f = |w: &[f64]| saddle.evaluate(w).map(|(l, _)| l);
    let path = interpolation(&mut f, &[-1.0], &[1.0], &linspace(0.0, 1.0, 11)).unwrap();
    assert!(close(barrier(&path), 0.5, 1e-12), "{}", barrier(&path));
}

fn autodiff() -> Device {
    Device::ndarray().autodiff()
}

fn small_resnet(norm: NormConfig) -> NetworkConfig {
    NetworkConfig::ResNet(ResNetConfig {
        blocks: 2,
        stages: 2,
        width: 4,
        channels: 3,
        size: 8,
        classes: 10,
        norm,
        ..Default::default()
    })
}

fn small_mlp(norm: NormConfig) -> NetworkConfig {
    NetworkConfig::Mlp(MlpConfig {
        input: 3 * 8 * 8,
        width: 16,
        depth: 3,
        norm,
        ..Default::default()
    })
}

#[test]
fn the_layout_names_blocks_and_buffers() {
    let _rng = common::backend_rng();
    let model = small_resnet(NormConfig::default())
        .init(&autodiff())
        .unwrap();
    let trainable = ParamLayout::of(&model);
    let state = ParamLayout::with_buffers(&model);
    assert!(trainable.slots.iter().all(|s| !s.buffer));
    let buffers: Vec<&str> = state
        .slots
        .iter()
        .filter(|s| s.buffer)
        .map(|s| s.path.as_str())
        .collect();
    // Two BatchNorms per block, four blocks, and the final one: two statistics each.
    assert_eq!(buffers.len(), 2 * (2 * 4 + 1), "{buffers:?}");
    assert!(
        buffers.contains(&"blocks.0.norm1.running_mean"),
        "{buffers:?}"
    );
    assert!(buffers.contains(&"final_norm.running_var"), "{buffers:?}");
    assert_eq!(
        state.len() - trainable.len(),
        state
            .slots
            .iter()
            .filter(|s| s.buffer)
            .map(|s| s.len())
            .sum::<usize>()
    );
    let blocks: Vec<String> = trainable.blocks().into_iter().map(|(b, _)| b).collect();
    assert_eq!(
        blocks,
        [
            "stem",
            "blocks.0",
            "blocks.1",
            "blocks.2",
            "blocks.3",
            "final_norm",
            "head"
        ]
    );
    // The state vector of a model is the trainable one with the buffers in their places.
    let (w, s) = (trainable.values(&model), state.values(&model));
    let kept: Vec<f64> = state
        .slots
        .iter()
        .filter(|x| !x.buffer)
        .flat_map(|x| s[x.range()].to_vec())
        .collect();
    assert_eq!(kept, w);
}

#[test]
fn filter_normalised_directions_have_the_weights_filter_norms() {
    let _rng = common::backend_rng();
    for network in [
        small_resnet(NormConfig::default()),
        small_mlp(NormConfig::default()),
    ] {
        let model = network.init(&autodiff()).unwrap();
        let layout = ParamLayout::with_buffers(&model);
        let center = layout.values(&model);
        let d = random_direction(&layout, &center, 7);
        let mut filtered = 0;
        for slot in &layout.slots {
            let fs = filters(slot);
            if fs.is_empty() {
                // Biases, γ, β and running statistics: Li et al.'s `ignore = biasbn`.
                assert!(d[slot.range()].iter().all(|&x| x == 0.0), "{}", slot.path);
                continue;
            }
            assert_eq!(fs.iter().map(|f| f.len()).sum::<usize>(), slot.len());
            for f in fs {
                let n = |v: &[f64]| f.iter().map(|&i| v[i] * v[i]).sum::<f64>().sqrt();
                assert!(
                    close(n(&d), n(&center), 1e-9),
                    "{}: {} vs {}",
                    slot.path,
                    n(&d),
                    n(&center)
                );
                filtered += 1;
            }
        }
        assert!(filtered > 0);
    }
    // A linear weight is [d_in, d_out] in burn: a filter (one output neuron) is a column.
    let model = small_mlp(NormConfig::Identity).init(&autodiff()).unwrap();
    let layout = ParamLayout::of(&model);
    let head = layout
        .slots
        .iter()
        .find(|s| s.path == "head.weight")
        .unwrap();
    let (rows, cols) = (head.shape[0], head.shape[1]);
    let fs = filters(head);
    assert_eq!(fs.len(), cols);
    assert_eq!(
        fs[1],
        (0..rows)
            .map(|i| head.offset + i * cols + 1)
            .collect::<Vec<_>>()
    );
    // A rescaled filter direction keeps its own direction.
    let mut d = vec![1.0; layout.len()];
    let center = vec![2.0; layout.len()];
    filter_normalize(&mut d, &center, &layout);
    let w = &layout.slots[0];
    assert!(d[w.range()].iter().all(|&x| close(x, 2.0, 1e-9)));
}

fn data(size: usize, train: usize) -> Dataset {
    DataSource::Synthetic(SyntheticConfig {
        size,
        train,
        test: 64,
        ..Default::default()
    })
    .load()
    .unwrap()
    .0
}

fn batches(
    data: &Dataset,
    n: usize,
    size: usize,
    device: &Device,
) -> Vec<(Tensor<4>, Tensor<1, Int>)> {
    (0..n)
        .map(|b| data.batch(&(b * size..(b + 1) * size).collect::<Vec<_>>(), device))
        .collect()
}

#[test]
fn the_loss_surface_moves_the_running_statistics_along_as_li_et_al() {
    let _rng = common::backend_rng();
    let network = small_resnet(NormConfig::default());
    let train = data(8, 256);
    let device = Device::ndarray();
    let mut trainer = Trainer::new(
        &network,
        TrainConfig {
            steps: 15,
            batch_size: 32,
            lr: 0.1,
            log_every: 0,
            ..Default::default()
        },
        &device,
    )
    .unwrap();
    let init_state = ParamLayout::with_buffers(&trainer.model).values(&trainer.model);
    let init_model = network
        .init(&device.clone().autodiff())
        .map(|m| ParamLayout::with_buffers(&m).assign(m, &init_state, &device.clone().autodiff()))
        .unwrap();
    trainer.run(&train, &mut ()).unwrap();
    let eval = batches(&train, 2, 64, &device);
    let mut surface =
        LossSurface::new(&network, &trainer.model, eval.clone(), Mode::Eval, 0).unwrap();
    // Its loss at the trained state is the trained network's eval-mode loss on those samples.
    let subset = Dataset {
        images: train.images[..128 * 3 * 64].to_vec(),
        labels: train.labels[..128].to_vec(),
        ..train.clone()
    };
    let (expected, _) = trainer.evaluate(&subset, Mode::Eval).unwrap();
    let center = surface.center();
    let at_center = surface.loss(&center).unwrap();
    assert!(
        close(at_center, expected, 1e-5),
        "{at_center} vs {expected}"
    );
    // α = 0 is the initialisation with its running statistics (0, 1), not the trained ones.
    let path = interpolation(
        &mut |w: &[f64]| surface.loss(w),
        &init_state,
        &center,
        &[0.0, 1.0],
    )
    .unwrap();
    let mut at_init = LossSurface::new(&network, &init_model, eval, Mode::Eval, 0).unwrap();
    let init_loss = at_init.loss(&at_init.center()).unwrap();
    assert!(
        close(path[0].1, init_loss, 1e-6),
        "{} vs {init_loss}",
        path[0].1
    );
    assert!(close(path[1].1, at_center, 1e-9));
    // The weights at the trained point with the initial running statistics are another network.
    let layout = surface.layout().clone();
    let mixed: Vec<f64> = layout
        .slots
        .iter()
        .flat_map(|s| {
            if s.buffer {
                init_state[s.range()].to_vec()
            } else {
                center[s.range()].to_vec()
            }
        })
        .collect();
    let stale = surface.loss(&mixed).unwrap();
    assert!((stale - at_center).abs() > 1e-3, "{stale} vs {at_center}");
}

// ---------------------------------------------------------------- PyHessian's spectra

#[test]
fn top_k_eigenvalues_with_deflation_recover_a_known_spectrum() {
    let eigenvalues = [10.0, 7.0, 4.0, 2.0, 1.0, 0.5, -0.2, 0.1];
    let mut q = quadratic(reflected(&eigenvalues));
    let pairs = top_eigenpairs(&mut q, 3, 5000, 1e-13, 11).unwrap();
    for ((top, u), expected) in pairs.iter().zip([10.0, 7.0, 4.0]) {
        assert!(
            top.converged && close(top.value, expected, 1e-8),
            "{top:?} vs {expected}"
        );
        let au = q.apply(u);
        let residual: Vec<f64> = au.iter().zip(u).map(|(a, b)| a - expected * b).collect();
        assert!(norm(&residual) < 1e-4, "‖Au − λu‖ = {}", norm(&residual));
    }
    assert!(
        dot(&pairs[0].1, &pairs[1].1).abs() < 1e-10 && dot(&pairs[1].1, &pairs[2].1).abs() < 1e-10
    );
}

#[test]
fn lanczos_quadrature_reproduces_the_moments_of_a_known_spectrum() {
    let n = 40;
    let eigenvalues: Vec<f64> = (0..n)
        .map(|i| -1.0 + 0.37 * i as f64 + 0.01 * (i * i) as f64)
        .collect();
    let mut q = quadratic(reflected(&eigenvalues));
    let mean = eigenvalues.iter().sum::<f64>() / n as f64;
    let mean_sq = eigenvalues.iter().map(|l| l * l).sum::<f64>() / n as f64;
    // Full Lanczos (m = n): the Ritz values are the eigenvalues.
    let full = spectral_density(&mut q, n, 1, 3).unwrap();
    let mut sorted = eigenvalues.clone();
    sorted.sort_by(f64::total_cmp);
    for (theta, lambda) in full.runs[0].nodes.iter().zip(&sorted) {
        assert!(close(*theta, *lambda, 1e-8), "{theta} vs {lambda}");
    }
    assert!(close(full.runs[0].weights.iter().sum(), 1.0, 1e-12));
    // m = 8 < n: Gauss quadrature is still exact for degree ≤ 15, so Σ τθ^k = vᵀA^k v for the
    // run's own start v; averaged over runs it estimates tr(A^k)/n.
    let runs = 400;
    let density = spectral_density(&mut q, 8, runs, 5).unwrap();
    let per_run = |k: i32| {
        density
            .runs
            .iter()
            .map(|r| r.moment(k))
            .collect::<Vec<f64>>()
    };
    for (k, truth) in [(1, mean), (2, mean_sq)] {
        let values = per_run(k);
        let m = values.iter().sum::<f64>() / runs as f64;
        let se =
            (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (runs - 1) as f64 / runs as f64)
                .sqrt();
        assert!(
            (m - truth).abs() < 4.0 * se + 1e-12,
            "moment {k}: {m} ± {se} vs {truth}"
        );
        assert!(close(density.moment(k), m, 1e-12));
    }
    // One run's moments are exactly vᵀAv and vᵀA²v of its start (the quadrature's identity).
    let v: Vec<f64> = (0..n)
        .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
        .collect();
    let v: Vec<f64> = v.iter().map(|x| x / norm(&v)).collect();
    let (alpha, beta) = lanczos(&mut q, v.clone(), 6).unwrap();
    let quad = tridiagonal_quadrature(&alpha, &beta);
    let av = q.apply(&v);
    assert!(close(quad.moment(1), dot(&v, &av), 1e-10));
    assert!(close(quad.moment(2), dot(&av, &av), 1e-10));
    // PyHessian's broadened density keeps the mean (Gaussian broadening is symmetric).
    let grid = full.broadened(4000, 1e-5);
    let step = grid[1].0 - grid[0].0;
    let first: f64 = grid.iter().map(|p| p.0 * p.1).sum::<f64>() * step;
    assert!(
        close(first, full.moment(1), 1e-3),
        "{first} vs {}",
        full.moment(1)
    );
}

#[test]
fn trace_average_and_restriction_are_what_they_claim() {
    // Hutchinson on a diagonal matrix is exact: vᵀDv = tr D for every Rademacher v.
    let mut d = quadratic(vec![2.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, -1.0]);
    let t = trace(&mut d, 3, 1).unwrap();
    assert!(close(t.value, 6.0, 1e-12) && t.std_error == 0.0);
    // The batch average is the size-weighted mean of the Hessians.
    let (a, b) = (
        common::symmetric(&[1.0, 2.0, 3.0]),
        common::symmetric(&[4.0, -1.0, 0.5]),
    );
    let mut avg = BatchAverage::new(vec![(quadratic(a.clone()), 1), (quadratic(b.clone()), 3)]);
    let v = [0.3, -1.0, 2.0];
    let got = avg.apply(&v).unwrap();
    let (qa, qb) = (quadratic(a), quadratic(b));
    let want: Vec<f64> = qa
        .apply(&v)
        .iter()
        .zip(qb.apply(&v))
        .map(|(x, y)| 0.25 * x + 0.75 * y)
        .collect();
    assert!(got.iter().zip(&want).all(|(x, y)| close(*x, *y, 1e-12)));
    // A restriction to coordinates {0, 2} is the 2×2 submatrix.
    let mut full = quadratic(common::symmetric(&[1.0, 2.0, 3.0]));
    let a = full.a.clone();
    let mut block = Restricted::new(&mut full, vec![0..1, 2..3]);
    assert_eq!(block.dim(), 2);
    let hv = block.apply(&[1.0, -2.0]).unwrap();
    assert!(close(hv[0], a[0] - 2.0 * a[2], 1e-12) && close(hv[1], a[6] - 2.0 * a[8], 1e-12));
}

#[test]
fn block_spectra_of_a_block_diagonal_hessian_are_its_blocks() {
    let _rng = common::backend_rng();
    // A layout of the small MLP gives the blocks; a diagonal "Hessian" whose entries are the
    // block index + 1 has λ_max = trace/size = index + 1 on each block.
    let model = small_mlp(NormConfig::Identity).init(&autodiff()).unwrap();
    let layout = ParamLayout::of(&model);
    let blocks = layout.blocks();
    let n = layout.len();
    let mut diag = vec![0.0; n];
    for (k, (_, slots)) in blocks.iter().enumerate() {
        for s in slots {
            diag[s.range()].iter_mut().for_each(|x| *x = (k + 1) as f64);
        }
    }
    struct Diagonal(Vec<f64>);
    impl HessianVectorProduct for Diagonal {
        fn dim(&self) -> usize {
            self.0.len()
        }
        fn apply(&mut self, v: &[f64]) -> Result<Vec<f64>, AnalysisError> {
            Ok(self.0.iter().zip(v).map(|(a, b)| a * b).collect())
        }
    }
    let config = SpectrumConfig {
        top_k: 1,
        max_iterations: 5,
        trace_samples: 2,
        lanczos_steps: 3,
        ..Default::default()
    };
    let spectra = block_spectra(&mut Diagonal(diag), &layout, &config, 0).unwrap();
    assert_eq!(spectra.len(), blocks.len());
    for (k, b) in spectra.iter().enumerate() {
        assert_eq!(b.block, blocks[k].0);
        let size = blocks[k].1.iter().map(|s| s.len()).sum::<usize>();
        assert_eq!(b.spectrum.dim, size);
        assert!(close(b.spectrum.lambda_max(), (k + 1) as f64, 1e-12));
        assert!(close(
            b.spectrum.trace.unwrap().value,
            ((k + 1) * size) as f64,
            1e-12
        ));
    }
}

#[test]
fn network_spectrum_by_finite_differences_is_consistent_on_a_smooth_network() {
    let _rng = common::backend_rng();
    let device = autodiff();
    let train = data(8, 128);
    // tanh: no kinks for the differences to cross (a ReLU network's finite-difference products
    // jump where a unit changes sign between w − εv and w + εv; docs/metrics.md).
    for normalizer in [NormConfig::Identity, NormConfig::default()] {
        let network = NetworkConfig::Mlp(MlpConfig {
            input: 3 * 8 * 8,
            width: 16,
            depth: 3,
            activation: normscope::analysis::models::Activation::Tanh,
            norm: normalizer,
            ..Default::default()
        });
        device.seed(3);
        let model = network.init(&device).unwrap();
        let data = batches(&train, 2, 32, &device);
        // A smooth network takes a larger step than the default (which is sized for kinks).
        let parts = data
            .iter()
            .map(|(x, y)| {
                let objective =
                    BatchObjective::new(&network, &model, x.clone(), y.clone(), Mode::Train, 0)
                        .unwrap();
                let point = objective.point();
                (FiniteDifference::new(objective, point).with_step(1e-3), 32)
            })
            .collect();
        let mut h: Box<dyn HessianVectorProduct> = Box::new(BatchAverage::new(parts));
        assert_eq!(h.dim(), ParamLayout::of(&model).len());
        // uᵀHv = vᵀHu up to the finite differences' error.
        let u: Vec<f64> = (0..h.dim())
            .map(|i| ((i * 13 % 7) as f64 - 3.0) / 3.0)
            .collect();
        let v: Vec<f64> = (0..h.dim())
            .map(|i| ((i * 5 % 11) as f64 - 5.0) / 5.0)
            .collect();
        let (hu, hv) = (h.apply(&u).unwrap(), h.apply(&v).unwrap());
        let (a, b) = (dot(&u, &hv), dot(&v, &hu));
        assert!((a - b).abs() < 1e-3 * (a.abs() + b.abs()), "{a} vs {b}");
        // The network's Hessian at the default step: the same products up to f32 rounding.
        let mut default = network_hessian(
            &network,
            &model,
            &data,
            Mode::Train,
            0,
            HvpMethod::FiniteDifference,
        )
        .unwrap();
        let hu_default = default.apply(&u).unwrap();
        let diff: Vec<f64> = hu.iter().zip(&hu_default).map(|(x, y)| x - y).collect();
        assert!(
            norm(&diff) < 0.2 * norm(&hu),
            "{} vs {}",
            norm(&diff),
            norm(&hu)
        );
        let config = SpectrumConfig::default();
        let s = spectrum(h.as_mut(), &config, 1).unwrap();
        assert!(s.products <= config.max_products());
        // Power iteration finds the eigenvalue of largest magnitude, Lanczos the extremes of
        // the spectrum: on the same network they agree.
        let power = top_eigenpairs(h.as_mut(), 1, 400, 1e-7, 2).unwrap()[0].0;
        let (lo, hi) = spectral_density(h.as_mut(), 40, 1, 3).unwrap().range();
        let extreme = if lo.abs() > hi.abs() { lo } else { hi };
        assert!(power.converged, "{power:?}");
        assert!(
            close(power.value, extreme, 0.01),
            "power {} vs Lanczos {extreme}",
            power.value
        );
    }
}

#[cfg(not(feature = "tch"))]
#[test]
fn exact_products_without_libtorch_are_a_configuration_error() {
    let device = autodiff();
    let network = small_mlp(NormConfig::Identity);
    let model = network.init(&device).unwrap();
    let data = batches(&data(8, 64), 1, 16, &device);
    let error = network_hessian(&network, &model, &data, Mode::Eval, 0, HvpMethod::Exact)
        .err()
        .unwrap();
    assert!(
        matches!(error, AnalysisError::Config { ref key, .. } if key == "hvp"),
        "{error}"
    );
}

/// Exact (libtorch double backward) against finite-difference products on the same networks:
/// the difference is the finite differences' error, measured here (printed for several steps)
/// and stated in docs/metrics.md.
#[cfg(feature = "tch")]
#[test]
fn exact_products_agree_with_finite_differences_on_the_zoo() {
    use normscope::analysis::metrics::hessian::FD_STEP;
    let _rng = common::backend_rng();
    let device = autodiff();
    let (train8, train32) = (data(8, 128), data(32, 64));
    let networks = [
        ("MLP none", small_mlp(NormConfig::Identity)),
        ("MLP BN", small_mlp(NormConfig::default())),
        ("ResNet none", small_resnet(NormConfig::Identity)),
        ("ResNet BN", small_resnet(NormConfig::default())),
        (
            "VGG BN",
            NetworkConfig::Vgg(VggConfig {
                width: 0.0625,
                size: 32,
                ..Default::default()
            }),
        ),
    ];
    let steps = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2];
    let mut at_default = vec![];
    for (name, network) in networks {
        let data = if name.starts_with("VGG") {
            &train32
        } else {
            &train8
        };
        for mode in [Mode::Train, Mode::Eval] {
            device.seed(5);
            let model = network.init(&device).unwrap();
            let bs = batches(data, 1, 32, &device);
            let mut exact =
                network_hessian(&network, &model, &bs, mode, 0, HvpMethod::Exact).unwrap();
            let n = exact.dim();
            let vs: Vec<Vec<f64>> = (0..3)
                .map(|k| {
                    let v: Vec<f64> = (0..n)
                        .map(|i| (((i + k) * 7919 % 13) as f64 - 6.0) / 6.0)
                        .collect();
                    v.iter().map(|x| x / norm(&v)).collect()
                })
                .collect();
            let exact_products: Vec<Vec<f64>> =
                vs.iter().map(|v| exact.apply(v).unwrap()).collect();
            let mut row = vec![];
            for step in steps {
                let objective = BatchObjective::new(
                    &network,
                    &model,
                    bs[0].0.clone(),
                    bs[0].1.clone(),
                    mode,
                    0,
                )
                .unwrap();
                let point = objective.point();
                let mut fd = FiniteDifference::new(objective, point).with_step(step);
                let relative = vs
                    .iter()
                    .zip(&exact_products)
                    .map(|(v, he)| {
                        let hf = fd.apply(v).unwrap();
                        let diff: Vec<f64> = he.iter().zip(&hf).map(|(a, b)| a - b).collect();
                        norm(&diff) / norm(he)
                    })
                    .sum::<f64>()
                    / vs.len() as f64;
                row.push(format!("{step:.0e}: {relative:.2e}"));
                if step == FD_STEP {
                    at_default.push((name, mode, relative));
                }
            }
            println!(
                "{name:12} {mode:?}: mean ‖Hv_fd − Hv_exact‖/‖Hv_exact‖ by step: {}",
                row.join(", ")
            );
            // The exact product is symmetric to f32 rounding.
            let (a, b) = (
                dot(&vs[0], &exact_products[1]),
                dot(&vs[1], &exact_products[0]),
            );
            assert!(
                (a - b).abs() < 1e-4 * (a.abs() + b.abs()),
                "{name} {mode:?}: {a} vs {b}"
            );
        }
    }
    // At the default step: f32 rounding (3–11 % measured), no kink crossed.
    for (name, mode, relative) in at_default {
        assert!(
            relative < 0.2,
            "{name} {mode:?}: ‖Hv_fd − Hv_exact‖/‖Hv_exact‖ = {relative:.2e}"
        );
    }
    // Several batches: the exact average is the size-weighted mean of the batches' products.
    let network = small_resnet(NormConfig::default());
    device.seed(5);
    let model = network.init(&device).unwrap();
    let bs = batches(&train8, 2, 16, &device);
    let v: Vec<f64> = (0..ParamLayout::of(&model).len())
        .map(|i| ((i % 5) as f64 - 2.0) / 2.0)
        .collect();
    let single = |b: usize| {
        network_hessian(
            &network,
            &model,
            &bs[b..b + 1],
            Mode::Eval,
            0,
            HvpMethod::Exact,
        )
        .unwrap()
        .apply(&v)
        .unwrap()
    };
    let (h0, h1) = (single(0), single(1));
    let both = network_hessian(&network, &model, &bs, Mode::Eval, 0, HvpMethod::Exact)
        .unwrap()
        .apply(&v)
        .unwrap();
    for ((a, b), c) in h0.iter().zip(&h1).zip(&both) {
        assert!(
            (0.5 * (a + b) - c).abs() <= 1e-4 * (1.0 + c.abs()),
            "{a} {b} {c}"
        );
    }
}

// ---------------------------------------------------------------- probes along training

#[test]
fn the_training_probe_at_step_zero_is_the_at_init_measurement() {
    let _rng = common::backend_rng();
    let config = ReportConfig::preset(Scale::Quick);
    let (train, _) = config.data.load().unwrap();
    let device = Device::ndarray();
    for entry in default_normalizers()
        .iter()
        .filter(|e| e.label == "none" || e.label == "BatchNorm")
    {
        let seed = 4;
        let at_init = init_unit(&config, entry, seed, &train, &device).unwrap();
        let [c, h, _] = train.shape;
        let network = NetworkConfig::ResNet(config.network_for(entry, c, h, train.classes));
        let mut trainer = Trainer::new(
            &network,
            TrainConfig {
                seed,
                ..config.train.clone()
            },
            &device,
        )
        .unwrap();
        let indices: Vec<usize> = (0..config.init_batch).collect();
        let (x, y) = train.batch(&indices, trainer.device());
        let before = ParamLayout::with_buffers(&trainer.model).values(&trainer.model);
        let probe =
            training_probe(&network, &trainer.model, x.clone(), y.clone(), 0, seed).unwrap();
        assert_eq!(probe.blocks, at_init.blocks, "{}", entry.label);
        assert_eq!(probe.ranks, at_init.ranks, "{}", entry.label);
        assert_eq!(probe.grad_norms, at_init.grad_norms, "{}", entry.label);
        assert_eq!(
            probe.rank,
            at_init.ranks.last().unwrap().effective_rank / config.init_batch as f64
        );
        assert_eq!(probe.batch, config.init_batch);
        assert!(probe.mean_cosine() > -1.0 && probe.mean_cosine() < 1.0);
        // It leaves the model (its running statistics) as it was.
        assert_eq!(
            ParamLayout::with_buffers(&trainer.model).values(&trainer.model),
            before
        );
        // Along training it reads the current weights.
        for _ in 0..10 {
            trainer.train_step(&train).unwrap();
        }
        let later = training_probe(&network, &trainer.model, x, y, trainer.step, seed).unwrap();
        assert_eq!(later.step, 10);
        assert_ne!(later.grad_norms, probe.grad_norms);
        assert_ne!(later.blocks, probe.blocks);
    }
}

// ---------------------------------------------------------------- the contour plot

#[test]
fn contour_lines_of_a_paraboloid_are_circles_and_the_plot_renders() {
    let grid = linspace(-1.0, 1.0, 41);
    let values: Vec<Vec<f64>> = grid
        .iter()
        .map(|y| grid.iter().map(|x| x * x + y * y + 0.1).collect())
        .collect();
    let contour = Contour::new(
        "paraboloid",
        "x",
        "y",
        "loss",
        grid.clone(),
        grid.clone(),
        values,
    );
    for level in [0.35, 0.6] {
        let segments = contour.segments(level);
        assert!(!segments.is_empty());
        for s in segments {
            for (x, y) in s {
                let r2 = x * x + y * y + 0.1;
                // Linear interpolation of a quadratic on a grid of step 0.05.
                assert!(
                    (r2 - level).abs() < 2e-3,
                    "({x}, {y}) at {r2} for level {level}"
                );
            }
        }
    }
    let other = Contour::new(
        "shifted",
        "x",
        "y",
        "loss",
        grid.clone(),
        grid.clone(),
        vec![vec![5.0; 41]; 41],
    );
    let range = shared_range(&[&contour, &other]);
    assert_eq!(range, (0.1, 5.0));
    let dir = std::env::temp_dir().join(format!("normscope-contour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg, png) = contour
        .with_range(range)
        .log_scale()
        .with_marker((0.0, 0.0), "minimum")
        .save(&dir, "paraboloid")
        .unwrap();
    let text = std::fs::read_to_string(svg).unwrap();
    assert!(text.contains("paraboloid") && text.contains("minimum"));
    assert!(std::fs::metadata(png).unwrap().len() > 1000);
    std::fs::remove_dir_all(dir).unwrap();
}

// ---------------------------------------------------------------- the experiment

fn tiny_experiment() -> LandscapeConfig {
    let mut config = LandscapeConfig::default();
    config.setup.network = small_resnet(NormConfig::Identity);
    config.setup.data = DataSource::Synthetic(SyntheticConfig {
        size: 8,
        train: 256,
        test: 64,
        ..Default::default()
    });
    config.setup.train.steps = 6;
    config.eval_batch_size = 32;
    config.interpolation.points = 5;
    config.plane.points = 3;
    config.spectrum = SpectrumConfig {
        top_k: 2,
        max_iterations: 4,
        trace_samples: 2,
        lanczos_steps: 4,
        ..Default::default()
    };
    config.hessian_batch_size = 32;
    config.per_block = true;
    config
}

#[test]
fn the_landscape_experiment_measures_every_run_and_renders() {
    let _rng = common::backend_rng();
    let config = tiny_experiment();
    let results = config.run(&Device::ndarray(), &no_progress()).unwrap();
    assert_eq!(results.runs.len(), 4);
    assert_eq!(results.between.len(), 2);
    for r in &results.runs {
        let s = r.surface.as_ref().unwrap();
        assert_eq!((s.xs.len(), s.ys.len()), (3, 3));
        assert_eq!(r.init_to_final.len(), 5);
        let spectrum = r.spectrum.as_ref().unwrap();
        assert_eq!(spectrum.top.len(), 2);
        assert!(spectrum.products <= config.spectrum.max_products());
        // stem, four blocks, head, and the final normalizer when there is one.
        let none = NormConfig::Identity.label();
        assert_eq!(
            r.blocks.len(),
            if r.norm == none { 6 } else { 7 },
            "{}",
            r.norm
        );
        // α = 1 is the trained state: the plane's center.
        let at_one = r
            .init_to_final
            .iter()
            .find(|p| (p.0 - 1.0).abs() < 1e-12)
            .unwrap()
            .1;
        assert!(close(at_one, s.at_center(), 1e-9));
    }
    let section = results.section();
    let stem = format!(
        "landscape_plane_{}",
        NormConfig::Identity.label().to_lowercase()
    );
    assert!(section.text().contains(&stem), "{stem}");
    assert_eq!(results.csv().rows.len(), 4);
    let contours = results.contours();
    assert_eq!(contours.len(), 2);
    assert_eq!(contours[0].1.range, contours[1].1.range);
}

#[test]
fn the_landscape_experiment_refuses_bad_settings() {
    let mut config = tiny_experiment();
    config.plane.points = 1;
    assert!(
        matches!(config.validate(), Err(AnalysisError::Config { ref key, .. }) if key == "plane.points")
    );
    let mut config = tiny_experiment();
    config.setup.network = NetworkConfig::Vgg(VggConfig::default());
    config.depths = vec![2];
    assert!(
        matches!(config.validate(), Err(AnalysisError::Config { ref key, .. }) if key == "depths")
    );
    let mut config = tiny_experiment();
    config.spectrum.tolerance = 0.0;
    assert!(
        matches!(config.validate(), Err(AnalysisError::Config { ref key, .. }) if key == "spectrum.tolerance")
    );
}
