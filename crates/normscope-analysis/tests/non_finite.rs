//! Every metric on a non-finite representation (a network that diverged at initialization or
//! in training) returns NaN — a recorded outcome — rather than panicking or returning a finite
//! number that looks like a measurement (issue 29, item 2).
#![allow(deprecated)]

use burn::module::ParamId;
use burn::tensor::{Device, Tensor, TensorData};
use normscope_analysis::data::{DataSource, SyntheticConfig};
use normscope_analysis::metrics::gradient_explosion::{LayerGradient, mean_growth};
use normscope_analysis::metrics::gradient_predictiveness::landscape;
use normscope_analysis::metrics::hessian::{hutchinson_trace, top_eigenvalue};
use normscope_analysis::metrics::identity_bias::identity_bias;
use normscope_analysis::metrics::internal_covariate_shift::{
    internal_covariate_shift, percentiles,
};
use normscope_analysis::metrics::rank_collapse::{
    orthogonality_gap, rank_measures, singular_values, stable_rank_on_device,
};
use normscope_analysis::metrics::sample_similarity::sample_similarity;
use normscope_analysis::models::{ParamLayout, ParamSlot, Probe, Site};
use normscope_analysis::report::units::measure::init_unit;
use normscope_analysis::report::{ReportConfig, Scale};
use normscope_analysis::train::Quadratic;
use normscope_analysis::train::RunRecord;
use normscope_analysis::train::outcome::final_loss;

/// A 4 × 3 matrix of distinct finite values with `bad` at entry 5.
fn matrix_with(bad: f64) -> Vec<f64> {
    let mut h: Vec<f64> = (0..12).map(|i| (i as f64 * 0.7).sin()).collect();
    h[5] = bad;
    h
}

#[test]
fn rank_measures_of_a_non_finite_matrix_are_nan_not_a_panic() {
    // At 181fd25 the SVD's `NoConvergence` panicked ("the SVD of a finite matrix converges").
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let h = matrix_with(bad);
        assert!(singular_values(&h, 4, 3).iter().all(|s| s.is_nan()));
        assert_eq!(singular_values(&h, 4, 3).len(), 3);
        let m = rank_measures(&h, 4, 3);
        assert_eq!(m.numerical_rank, None, "{bad}: {m:?}");
        for v in [
            m.tolerance,
            m.stable_rank,
            m.effective_rank,
            m.orthogonality_gap,
        ] {
            assert!(v.is_nan(), "{bad}: {m:?}");
        }
        assert!(orthogonality_gap(&h, 4, 3).is_nan());
    }
    // The finite matrix still has its measures.
    let m = rank_measures(&matrix_with(0.25), 4, 3);
    assert_eq!(m.numerical_rank, Some(3));
    assert!(m.stable_rank.is_finite() && m.stable_rank >= 1.0);
}

#[test]
fn the_device_stable_rank_of_a_non_finite_tensor_is_nan_not_zero() {
    let device = Device::ndarray();
    for bad in [f32::NAN, f32::INFINITY] {
        let mut values: Vec<f32> = matrix_with(0.0).iter().map(|&v| v as f32).collect();
        values[5] = bad;
        let h = Tensor::<2>::from_data(TensorData::new(values, [4, 3]), &device);
        // 181fd25: 0.0, a rank that looked like total collapse.
        assert!(stable_rank_on_device(h, 20).is_nan());
    }
}

#[test]
fn sample_similarity_of_a_non_finite_or_empty_matrix_is_nan() {
    // 181fd25: a NaN row was treated as a zero row and the rest measured as if nothing happened.
    for bad in [f64::NAN, f64::INFINITY] {
        let s = sample_similarity(&matrix_with(bad), 4, 3);
        assert!(
            s.mean_cosine.is_nan() && s.gram_stable_rank.is_nan(),
            "{s:?}"
        );
    }
    // No feature: 181fd25 panicked in `chunks_exact(0)`.
    let s = sample_similarity(&[], 4, 0);
    assert!(s.mean_cosine.is_nan() && s.gram_stable_rank.is_nan());
    let s = sample_similarity(&matrix_with(0.5), 4, 3);
    assert!(s.mean_cosine.is_finite() && s.gram_stable_rank.is_finite());
}

#[test]
fn a_residual_block_with_a_non_finite_signal_has_a_nan_branch_share() {
    let device = Device::ndarray();
    let mut probe = Probe::values();
    let tensor = |v: f32| {
        let mut values = vec![1.0f32, -2.0, 0.5, 3.0, -1.0, 2.5, 0.0, 1.5];
        values[3] = v;
        Tensor::<4>::from_data(TensorData::new(values, [4, 2, 1, 1]), &device)
    };
    probe.observe("skip", Site::Skip, tensor(1.0));
    probe.observe("branch", Site::Branch, tensor(f32::INFINITY));
    probe.observe("skip", Site::Skip, tensor(f32::NAN));
    probe.observe("branch", Site::Branch, tensor(2.0));
    let blocks = identity_bias(&probe);
    // 181fd25: 0.0 (no branch at all) for both.
    for b in &blocks {
        assert!(b.branch_share.is_nan(), "{b:?}");
    }
}

#[test]
fn covariate_shift_and_percentiles_of_non_finite_values_are_nan() {
    // Two 1×1 weight "layers" of a quadratic; the second layer's gradient after the first
    // layer's update is NaN.
    let slot = |offset| ParamSlot {
        id: ParamId::new(),
        shape: vec![1, 1],
        offset,
        path: format!("layers.{offset}.weight"),
        buffer: false,
    };
    let layout = ParamLayout::from_slots(vec![slot(0), slot(1)]);
    let mut q = Quadratic {
        a: vec![2.0, 0.5, 0.5, 1.0],
        center: vec![0.0, 0.0],
    };
    let shifts = internal_covariate_shift(&mut q, &layout, &[1.0, 1.0], &[f64::NAN, 1.0]).unwrap();
    assert_eq!(shifts[0].cosine, 1.0, "nothing precedes the first layer");
    // 181fd25: 1.0, the ideal value.
    assert!(
        shifts[1].cosine.is_nan() && shifts[1].l2.is_nan(),
        "{shifts:?}"
    );
    // 181fd25: the NaN was dropped and the others' percentiles returned.
    let p = percentiles(&[1.0, 2.0, f64::NAN, 4.0], &[15.0, 50.0, 85.0]);
    assert!(p.iter().all(|v| v.is_nan()), "{p:?}");
    assert_eq!(percentiles(&[1.0, 2.0, 3.0], &[50.0]), vec![2.0]);
}

#[test]
fn the_landscape_at_non_finite_weights_is_nan_not_perfectly_smooth() {
    let mut q = Quadratic {
        a: vec![1.0, 0.0, 0.0, 3.0],
        center: vec![0.0, 0.0],
    };
    let l = landscape(&mut q, &[f64::NAN, 1.0], 0.1, &[0.5, 1.0, 2.0]).unwrap();
    // 181fd25: β-smoothness 0 and bands (∞, −∞) from folds that skip NaN.
    assert!(l.beta_smoothness.is_nan(), "{l:?}");
    assert!(l.loss_band.0.is_nan() && l.loss_band.1.is_nan(), "{l:?}");
    assert!(l.grad_band.0.is_nan() && l.grad_band.1.is_nan(), "{l:?}");
    let l = landscape(&mut q, &[1.0, 1.0], 0.1, &[0.5, 1.0]).unwrap();
    assert!(l.beta_smoothness.is_finite() && l.loss_band.0.is_finite());
}

#[test]
fn hessian_growth_and_loss_metrics_of_non_finite_values_are_nan() {
    let mut q = Quadratic {
        a: vec![1.0, 0.0, 0.0, 3.0],
        center: vec![0.0, 0.0],
    };
    let w = [f64::INFINITY, 0.0];
    let top = top_eigenvalue(&mut q, &w, 5, 1e-3, 0).unwrap();
    assert!(top.value.is_nan() && !top.converged, "{top:?}");
    assert!(hutchinson_trace(&mut q, &w, 3, 0).unwrap().value.is_nan());
    let layer = |grad_norm_sq, growth| LayerGradient {
        layer: 0,
        grad_norm_sq,
        growth,
    };
    let layers = [
        layer(4.0, Some(2.0)),
        layer(2.0, Some(f64::NAN)),
        layer(f64::NAN, None),
    ];
    assert!(mean_growth(&layers, 0).is_nan());
    // No loss recorded: 181fd25 returned 0.0, a perfect loss.
    assert!(final_loss(&[], 10).is_nan());
    assert!(final_loss(&[1.0, f64::NAN], 10).is_nan());
    let diverged = RunRecord {
        losses: vec![1.0, 2.0],
        diverged_at: Some(2),
    };
    assert!(diverged.outcome(0.5, 10).final_loss.is_nan());
}

#[test]
fn a_500_block_resnet_without_normalization_diverges_at_initialization_into_nan_measures() {
    // The reproduction (`[network] blocks = 500`): the report's at-initialization unit,
    // whose rank measures panicked at 181fd25.
    let config = ReportConfig::from_toml(Scale::Quick, "[network]\nblocks = 500\n").unwrap();
    let (data, _) = DataSource::Synthetic(SyntheticConfig {
        size: 8,
        train: 16,
        test: 1,
        ..Default::default()
    })
    .load()
    .unwrap();
    let none = &config.normalizers[0];
    assert_eq!(none.label, "none");
    let unit = init_unit(&config, none, 0, &data, &Device::ndarray()).unwrap();
    // Recorded as an outcome of the run: not finite at initialization.
    assert!(unit.non_finite);
    let last = unit.ranks.last().unwrap();
    assert_eq!(last.numerical_rank, None, "{last:?}");
    assert!(last.effective_rank.is_nan() && last.orthogonality_gap.is_nan());
    // The early blocks are still finite: only what diverged is NaN.
    assert!(
        unit.ranks[0].effective_rank.is_finite(),
        "{:?}",
        unit.ranks[0]
    );
    assert!(unit.blocks.last().unwrap().branch_share.is_nan());
}
