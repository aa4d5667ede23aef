//! Training dynamics: the landscape, Hessian and covariate-shift metrics on objectives with known
//! answers, a short BN-vs-plain run at a learning rate picked from the measured range, and
//! checkpoint/resume. (The loaders' tests are in `crates/normscope-analysis/tests/data_files.rs`.)
#![allow(deprecated)]

mod common;

use burn::tensor::{Device, Tensor};
use normscope::NormConfig;
use normscope::analysis::data::{DataSource, SyntheticConfig};
use normscope::analysis::experiments;
use normscope::analysis::experiments::Experiment;
use normscope::analysis::experiments::lr_range::LrRangeConfig;
use normscope::analysis::experiments::training::Setup;
use normscope::analysis::metrics::gradient_predictiveness::{default_multiples, landscape};
use normscope::analysis::metrics::hessian::{hessian_vector, hutchinson_trace, top_eigenvalue};
use normscope::analysis::metrics::internal_covariate_shift::internal_covariate_shift;
use normscope::analysis::metrics::lr_range::LrOutcome;
use normscope::analysis::models::{MlpConfig, NetworkConfig, ParamLayout, ResNetConfig};
use normscope::analysis::train::outcome::steps_to_target;
use normscope::analysis::train::{
    BatchObjective, Objective, Quadratic, TrainConfig, Trainer, norm,
};

#[test]
fn beta_smoothness_is_the_curvature_along_the_gradient_on_a_quadratic() {
    let _rng = common::backend_rng();
    // A = diag(1, 4, 9): at w − c = e₃ the gradient is 9e₃, an eigenvector, and
    // ‖∇L(w) − ∇L(w − ηg)‖/‖ηg‖ = ‖A g‖/‖g‖ = 9 for every η.
    let mut q = Quadratic {
        a: vec![1.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 9.0],
        center: vec![0.5, -1.0, 2.0],
    };
    let w = [0.5, -1.0, 3.0];
    let l = landscape(&mut q, &w, 0.01, &default_multiples()).unwrap();
    assert!(
        (l.beta_smoothness - 9.0).abs() < 1e-9,
        "β = {}",
        l.beta_smoothness
    );
    // Off an eigenvector it is ‖Ag‖/‖g‖, between the extreme eigenvalues.
    let w = [1.5, 0.0, 2.5];
    let (_, g) = q.evaluate(&w).unwrap();
    let expected = norm(&q.apply(&g)) / norm(&g);
    let l = landscape(&mut q, &w, 0.01, &default_multiples()).unwrap();
    assert!((l.beta_smoothness - expected).abs() < 1e-9 && expected > 1.0 && expected < 9.0);
    // The loss band of a quadratic along −g: L(w − ηg) for the grid's η.
    let lo = l.losses.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    assert_eq!(l.loss_band.0, lo);
}

#[test]
fn power_iteration_and_hutchinson_recover_a_known_spectrum() {
    let _rng = common::backend_rng();
    let eigenvalues = [5.0, 2.0, 1.0, 0.5, -0.3, 0.1];
    let mut q = Quadratic {
        a: common::symmetric(&eigenvalues),
        center: vec![0.0; 6],
    };
    let w = vec![0.3, -0.2, 0.1, 0.0, 0.5, -0.4];
    // The finite-difference Hessian-vector product is exact on a quadratic (up to rounding).
    let v = [1.0, 2.0, -1.0, 0.0, 0.5, 3.0];
    let hv = hessian_vector(&mut q, &w, &v).unwrap();
    let exact = q.apply(&v);
    assert!(hv.iter().zip(&exact).all(|(a, b)| (a - b).abs() < 1e-8));

    let top = top_eigenvalue(&mut q, &w, 200, 1e-10, 3).unwrap();
    assert!(
        top.converged && (top.value - 5.0).abs() < 1e-6,
        "top eigenvalue {top:?}"
    );

    // Rademacher probes: Var(vᵀAv) = 2 Σ_{i≠j} A_ij², so 4000 probes give a standard error of
    // ~0.03 here; the estimate must fall within 4 standard errors of tr A = 8.3.
    let trace = hutchinson_trace(&mut q, &w, 4000, 7).unwrap();
    let true_trace: f64 = eigenvalues.iter().sum();
    assert!(
        (trace.value - true_trace).abs() < 4.0 * trace.std_error + 1e-9,
        "trace {trace:?} vs {true_trace}"
    );
    assert!(trace.std_error < 0.1);
}

fn small_mlp(norm: NormConfig) -> NetworkConfig {
    NetworkConfig::Mlp(MlpConfig {
        width: 32,
        depth: 4,
        norm,
        ..Default::default()
    })
}

fn small_data() -> (
    normscope::analysis::data::Dataset,
    normscope::analysis::data::Dataset,
) {
    DataSource::Synthetic(SyntheticConfig {
        size: 8,
        train: 512,
        test: 128,
        ..Default::default()
    })
    .load()
    .unwrap()
}

#[test]
fn covariate_shift_is_exactly_zero_when_the_preceding_layers_are_frozen() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let (train, _) = small_data();
    let network = small_mlp(NormConfig::default()).for_data(train.shape, train.classes);
    let mut trainer = Trainer::new(
        &network,
        TrainConfig {
            lr: 0.1,
            batch_size: 32,
            ..Default::default()
        },
        &device,
    )
    .unwrap();
    let (x, y) = trainer.next_tensors(&train);
    let layout = ParamLayout::of(&trainer.model);
    let before = layout.values(&trainer.model);
    let mut objective = BatchObjective::new(
        &network,
        &trainer.model,
        x.clone(),
        y.clone(),
        normscope::Mode::Train,
        0,
    )
    .unwrap();
    let head_weight = layout.slots.iter().rfind(|s| s.is_weight()).unwrap().offset;

    // Only the classifier (the last weight layer and what follows it) takes a step.
    let grads = objective.evaluate(&before).unwrap().1;
    let mut frozen = before.clone();
    for i in head_weight..frozen.len() {
        frozen[i] -= 0.1 * grads[i];
    }
    for shift in internal_covariate_shift(&mut objective, &layout, &before, &frozen).unwrap() {
        assert_eq!(shift.l2, 0.0, "layer {}: {shift:?}", shift.layer);
        // G = G′ exactly; their cosine is 1 up to the rounding of the norms.
        assert!((shift.cosine - 1.0).abs() < 1e-12, "{shift:?}");
    }
    // A real step of every layer shifts the gradients of the layers after the first.
    trainer.step_on(x, y).unwrap();
    let after = layout.values(&trainer.model);
    let shifts = internal_covariate_shift(&mut objective, &layout, &before, &after).unwrap();
    assert_eq!(shifts[0].l2, 0.0, "nothing precedes the first layer");
    assert!(shifts[1..].iter().all(|s| s.l2 > 0.0), "{shifts:?}");
}

/// BatchNorm reaches a loss target in fewer steps than no normalization at a learning rate at
/// which both train — the largest such rate of a measured range — and its β-smoothness over the
/// first steps is lower. The network is a small pre-activation ResNet, the convolutional kind of
/// network of Santurkar et al.'s experiments.
#[test]
fn batch_norm_trains_faster_and_smoother_at_a_shared_learning_rate() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let data = DataSource::Synthetic(SyntheticConfig {
        size: 8,
        train: 1024,
        test: 128,
        ..Default::default()
    });
    let setup = Setup {
        network: NetworkConfig::ResNet(ResNetConfig {
            blocks: 2,
            stages: 2,
            width: 8,
            size: 8,
            ..Default::default()
        }),
        data: data.clone(),
        train: TrainConfig {
            steps: 120,
            batch_size: 32,
            ..Default::default()
        },
    };
    let config = LrRangeConfig {
        setup: setup.clone(),
        norms: vec![NormConfig::Identity, NormConfig::default()],
        lrs: vec![0.01, 0.03, 0.1, 0.3],
        target_loss: 1.0,
        window: 10,
        seeds: 1,
    };
    let points = config
        .run(&device, &experiments::no_progress())
        .unwrap()
        .points;
    for p in &points {
        eprintln!(
            "{:>9} lr {:<5} final loss {:.3} steps to 1.0 {:?} diverged {}",
            p.norm,
            p.outcome.lr,
            p.outcome.final_loss,
            p.outcome.steps_to_target,
            p.outcome.diverged
        );
    }
    let outcome = |norm: &str, lr: f64| -> LrOutcome {
        points
            .iter()
            .find(|p| p.norm == norm && p.outcome.lr == lr)
            .unwrap()
            .outcome
            .clone()
    };
    let trains = |o: &LrOutcome| !o.diverged && o.final_loss < 1.5;
    let shared = config
        .lrs
        .iter()
        .copied()
        .filter(|&lr| trains(&outcome("Identity", lr)) && trains(&outcome("BatchNorm", lr)))
        .fold(f64::NAN, f64::max);
    assert!(
        shared.is_finite(),
        "no learning rate at which both train: {points:?}"
    );
    let (plain, bn) = (outcome("Identity", shared), outcome("BatchNorm", shared));
    let never = usize::MAX;
    assert!(
        bn.steps_to_target.unwrap_or(never) < plain.steps_to_target.unwrap_or(never),
        "at lr {shared}: BN reached loss 1.0 after {:?} steps, no normalization after {:?}",
        bn.steps_to_target,
        plain.steps_to_target
    );

    // β-smoothness along the gradient over the first 10 steps at that rate.
    let (train, _) = data.load().unwrap();
    let beta = |norm: NormConfig| -> f64 {
        let network = setup.network_for(&train, &norm);
        let mut trainer = Trainer::new(
            &network,
            TrainConfig {
                lr: shared,
                ..setup.train.clone()
            },
            &device,
        )
        .unwrap();
        let mut total = 0.0;
        for _ in 0..10 {
            let (x, y) = trainer.next_tensors(&train);
            let mut objective = BatchObjective::new(
                &network,
                &trainer.model,
                x.clone(),
                y.clone(),
                normscope::Mode::Train,
                0,
            )
            .unwrap();
            let w = objective.point();
            total += landscape(&mut objective, &w, shared, &default_multiples())
                .unwrap()
                .beta_smoothness;
            trainer.step_on(x, y).unwrap();
        }
        total / 10.0
    };
    let (beta_plain, beta_bn) = (beta(NormConfig::Identity), beta(NormConfig::default()));
    eprintln!(
        "shared lr {shared}: β over the first 10 steps BN {beta_bn:.2}, none {beta_plain:.2}"
    );
    assert!(
        beta_bn < beta_plain,
        "β-smoothness over the first steps: BN {beta_bn} vs none {beta_plain}"
    );
}

#[test]
fn steps_to_target_uses_a_running_mean() {
    let losses = [3.0, 2.0, 1.0, 0.4, 2.0, 0.3, 0.2, 0.1];
    assert_eq!(steps_to_target(&losses, 0.5, 1), Some(4));
    assert_eq!(steps_to_target(&losses, 0.5, 3), Some(8));
    assert_eq!(steps_to_target(&losses, 0.01, 2), None);
}

#[test]
fn checkpoint_and_resume_continue_the_same_run() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let (train, _) = small_data();
    let network = small_mlp(NormConfig::default()).for_data(train.shape, train.classes);
    let config = TrainConfig {
        steps: 20,
        lr: 0.05,
        batch_size: 32,
        ..Default::default()
    };
    let mut straight = Trainer::new(&network, config.clone(), &device).unwrap();
    for _ in 0..20 {
        straight.train_step(&train).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("normscope-checkpoint-{}", std::process::id()));
    let mut first = Trainer::new(&network, config, &device).unwrap();
    for _ in 0..10 {
        first.train_step(&train).unwrap();
    }
    first.save_checkpoint(&dir).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(&dir, &train, &device).unwrap();
    assert_eq!(resumed.step, 10);
    for _ in 0..10 {
        resumed.train_step(&train).unwrap();
    }
    for (a, b) in straight.losses.iter().zip(&resumed.losses) {
        assert!(
            (a - b).abs() <= 1e-6 * a.abs().max(1.0),
            "losses differ after resume: {a} vs {b}"
        );
    }
    let layout = ParamLayout::of(&straight.model);
    let (pa, pb) = (
        layout.values(&straight.model),
        layout.values(&resumed.model),
    );
    let diff = pa
        .iter()
        .zip(&pb)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-5, "parameters differ after resume by {diff}");
    // A damaged checkpoint is an error naming the file.
    std::fs::write(dir.join("optimizer.bin"), [1u8, 2, 3]).unwrap();
    let err = Trainer::resume(&dir, &train, &device)
        .err()
        .expect("a truncated checkpoint must not load");
    assert!(err.to_string().contains("optimizer.bin"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Every normalizer of the battery, in the report's own network: once the running statistics
/// have been re-estimated on one batch at fixed weights, eval mode on that batch gives the loss
/// train mode gives. A wrong eval path (a sign in MeanOnly's folded shift, a running statistic
/// that `Trainer::evaluate` does not carry over, a biased/unbiased mix-up beyond `m/(m−1)`) breaks
/// it. Before the re-estimation the two differ for every normalizer that keeps running
/// statistics, which shows the comparison can fail.
#[test]
fn every_normalizer_agrees_between_train_and_eval_mode_on_the_batch_its_statistics_came_from() {
    use normscope::analysis::report::{ReportConfig, Scale, default_normalizers};
    use normscope::{GhostBatchNormConfig, Mode, NoiseOnlyConfig, NoisyBatchNormConfig};
    let device = Device::ndarray();
    let config = ReportConfig::preset(Scale::Quick);
    let (data, _) = DataSource::Synthetic(SyntheticConfig {
        size: config.network.size,
        train: 32,
        test: 2,
        ..Default::default()
    })
    .load()
    .unwrap();
    let mut checked = 0;
    for mut entry in default_normalizers() {
        // Train mode equals eval mode only where train mode is deterministic in the batch: ghost
        // batches the size of the batch, noise switched off.
        entry.norm = match entry.norm {
            NormConfig::GhostBatchNorm(_) => {
                NormConfig::GhostBatchNorm(GhostBatchNormConfig::new().with_virtual_batch_size(32))
            }
            NormConfig::NoisyBatchNorm(_) => NormConfig::NoisyBatchNorm(
                NoisyBatchNormConfig::new()
                    .with_noise_mean_max(0.0)
                    .with_noise_scale_max(1.0),
            ),
            NormConfig::NoiseOnly(_) => NormConfig::NoiseOnly(
                NoiseOnlyConfig::new()
                    .with_noise_mean_max(0.0)
                    .with_noise_scale_max(1.0),
            ),
            norm => norm,
        };
        let [c, h, _] = data.shape;
        let network = NetworkConfig::ResNet(config.network_for(&entry, c, h, data.classes));
        let train = TrainConfig {
            batch_size: 32,
            seed: 3,
            ..config.train.clone()
        };
        let mut trainer = Trainer::new(&network, train, &device).unwrap();
        let fresh = trainer.evaluate(&data, Mode::Eval).unwrap().0;
        trainer.recalibrate(&data, 150).unwrap();
        let (eval, _) = trainer.evaluate(&data, Mode::Eval).unwrap();
        let (batch, _) = trainer.evaluate(&data, Mode::Train).unwrap();
        let keeps_running_stats = !matches!(
            entry.label.as_str(),
            "none" | "LayerNorm" | "GroupNorm" | "SkipInit" | "NoiseOnly"
        );
        assert!(
            ((eval - batch) / batch).abs() < 2e-3,
            "{}: eval-mode loss {eval} vs train-mode {batch} on the same batch",
            entry.label
        );
        if keeps_running_stats {
            assert!(
                ((fresh - batch) / batch).abs() > 1e-2,
                "{}: with the initial running statistics eval mode should differ ({fresh} vs {batch})",
                entry.label
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 11);
}

/// Daneshmand et al.'s rank pre-training raises the soft rank of a deep plain MLP's last hidden
/// layer — collapsed at initialization without a normalizer — toward BatchNorm's, and a soft
/// rank is what its definition says on matrices of known rank.
#[test]
fn rank_pretraining_raises_a_collapsed_plain_networks_rank_toward_batch_norms() {
    use normscope::analysis::metrics::rank_pretraining::{
        RankPretrainingConfig, pretrain_rank, soft_rank,
    };
    use normscope::analysis::models::{Activation, Init, NormPosition};
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    // Soft rank tr(M)²/‖M‖_F² of M = HHᵀ: N for orthonormal rows, 1 for rank one.
    let eye = Tensor::<2>::eye(4, &device);
    assert!((soft_rank(eye) - 4.0).abs() < 1e-5);
    let ones = Tensor::<2>::ones([5, 3], &device);
    assert!((soft_rank(ones) - 1.0).abs() < 1e-5);

    let (train, _) = small_data();
    let mlp = |norm: NormConfig| {
        NetworkConfig::Mlp(MlpConfig {
            input: train.shape.iter().product(),
            width: 32,
            depth: 16,
            classes: train.classes,
            activation: Activation::Relu,
            norm,
            norm_position: NormPosition::BeforeActivation,
            init: Init::Kaiming,
            bias: true,
        })
    };
    let config = TrainConfig {
        steps: 10,
        batch_size: 32,
        lr: 0.01,
        ..Default::default()
    };
    let pretraining = RankPretrainingConfig {
        steps: 150,
        lr: 0.01,
    };
    let mut vanilla = Trainer::new(&mlp(NormConfig::Identity), config.clone(), &device).unwrap();
    let p = pretrain_rank(&mut vanilla, &train, &pretraining).unwrap();
    let mut bn = Trainer::new(&mlp(NormConfig::default()), config, &device).unwrap();
    let bn_rank = pretrain_rank(
        &mut bn,
        &train,
        &RankPretrainingConfig { steps: 0, lr: 0.01 },
    )
    .unwrap()
    .before;
    eprintln!(
        "soft rank of the last hidden layer: vanilla {:.2} → {:.2} after pre-training; BatchNorm {bn_rank:.2}",
        p.before, p.after
    );
    assert!(
        p.before < 0.5 * bn_rank,
        "the vanilla net had not collapsed: {p:?} vs {bn_rank}"
    );
    assert!(
        p.after > 2.0 * p.before,
        "pre-training did not raise the rank: {p:?}"
    );
    // The run itself is untouched: no training step was taken.
    assert_eq!((vanilla.step, vanilla.losses.len()), (0, 0));
}
