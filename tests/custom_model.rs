//! `examples/custom_model.rs` — a user's own burn model with normscope layers from a TOML
//! `NormConfig` — does what it promises: training lowers the loss, the frozen fine-tuning steps
//! leave the running statistics alone, and the folded model computes the eval-mode logits.
#![allow(deprecated)]

#[allow(dead_code)]
#[path = "../examples/custom_model.rs"]
mod custom_model;

use normscope::NormConfig;

#[test]
fn the_custom_model_example_trains_freezes_and_folds() {
    let norm: NormConfig = toml::from_str(custom_model::DEFAULT_NORM).unwrap();
    let outcome = custom_model::run(&norm, 40, 5).unwrap();
    let losses = &outcome.losses;
    assert_eq!(losses.len(), 45);
    let first = losses[0];
    let trained = losses[35..40].iter().sum::<f64>() / 5.0;
    println!("{norm:?}: loss {first:.3} → {trained:.3}, {outcome:?}");
    assert!(trained < 0.6 * first, "loss {first} → {trained}");
    // The freeze is not vacuous: there are statistics, training moved them, freezing stopped them.
    assert!(outcome.statistics > 0 && outcome.statistics_moved_in_training);
    assert!(outcome.frozen_statistics_unchanged);
    assert!(
        outcome.fold_max_abs_diff < 1e-4,
        "folded vs unfolded: {}",
        outcome.fold_max_abs_diff
    );
    assert!(outcome.accuracy > 0.8, "accuracy {}", outcome.accuracy);

    // GroupNorm keeps no running statistics: nothing to freeze or fold, the same logits.
    let group: NormConfig = toml::from_str("kind = \"group_norm\"\ngroups = 4").unwrap();
    let outcome = custom_model::run(&group, 5, 2).unwrap();
    assert_eq!(outcome.statistics, 0);
    assert!(outcome.frozen_statistics_unchanged);
    assert_eq!(outcome.fold_max_abs_diff, 0.0);
}
