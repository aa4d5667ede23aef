//! Running statistics at the model level: the record holds PyTorch's BatchNorm `state_dict`
//! names, `freeze_statistics` freezes every normalizer of a model (and only what it should),
//! burn's own `Module::freeze` freezes them too, and a training step on a frozen model moves
//! `γ`, `β` but not the running statistics. (Per layer, against f64 references on every
//! backend: `tests/common/suite/running.rs`.)
#![allow(deprecated)]

mod common;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use common::{record_paths, values};
use normscope::analysis::models::{Network, NetworkConfig, Probe, ResNetConfig};
use normscope::{
    BatchNormConfig, GroupNormConfig, InstanceNormConfig, LayerNormConfig, Mode, Momentum, Norm,
    NormConfig, NormError, Normalization, StatisticsMapper, freeze_statistics, unfreeze_statistics,
};

#[test]
fn batch_norm_records_pytorchs_state_dict_names() {
    let device = Device::ndarray();
    let layer = BatchNormConfig::new().init(3, &device).unwrap();
    // `list(torch.nn.BatchNorm2d(3).state_dict())`, in order.
    assert_eq!(
        record_paths(&layer),
        [
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "num_batches_tracked"
        ]
    );
    // `BatchNorm2d(3, affine=False, track_running_stats=False).state_dict()` is empty.
    let bare = BatchNormConfig::new()
        .with_affine(false)
        .with_track_running_stats(false)
        .init(3, &device)
        .unwrap();
    assert!(record_paths(&bare).is_empty());
}

/// `num_batches_tracked` and the statistics go into the record as of the last step and come
/// back out of it; the cumulative average carries on from the loaded count.
#[test]
fn num_batches_tracked_survives_save_and_load() {
    let device = Device::ndarray();
    let layer = BatchNormConfig::new()
        .with_momentum(None)
        .init(2, &device)
        .unwrap();
    for seed in 0..3 {
        device.seed(seed);
        let x = Tensor::<2>::random([8, 2], Distribution::Normal(1.0, 2.0), &device);
        layer.forward(x, Mode::Train);
    }
    assert_eq!(layer.momentum, Momentum::Cumulative);
    let fresh = BatchNormConfig::new()
        .with_momentum(None)
        .init(2, &device)
        .unwrap();
    let loaded = fresh.load_record(layer.clone().into_record());
    let count =
        |l: &normscope::BatchNorm| values(l.num_batches_tracked.as_ref().unwrap().value_sync());
    assert_eq!(count(&loaded), [3.0]);
    // The record holds the last step's statistics (burn's running state keeps a thread's last
    // update pending until it is read; a record taken right after a step used to miss it).
    let mean = |l: &normscope::BatchNorm| values(l.running_mean.as_ref().unwrap().value_sync());
    assert_eq!(mean(&loaded), mean(&layer));
    // The cumulative average goes on from the loaded count: a fourth batch weighs 1/4.
    let mean_before = values(loaded.running_mean.as_ref().unwrap().value_sync());
    let x = Tensor::<2>::from_floats([[10.0, -10.0], [10.0, -10.0]], &device);
    loaded.forward(x, Mode::Train);
    let mean_after = values(loaded.running_mean.as_ref().unwrap().value_sync());
    for (c, target) in [10.0, -10.0].iter().enumerate() {
        let expected = mean_before[c] + (target - mean_before[c]) / 4.0;
        assert!(
            (mean_after[c] - expected).abs() < 1e-5,
            "channel {c}: {} vs {expected}",
            mean_after[c]
        );
    }
}

fn resnet(norm: NormConfig) -> NetworkConfig {
    NetworkConfig::ResNet(ResNetConfig {
        blocks: 1,
        stages: 2,
        width: 4,
        size: 8,
        channels: 2,
        classes: 3,
        norm,
        ..Default::default()
    })
}

fn norms(network: &Network) -> Vec<&Norm> {
    let Network::ResNet(net) = network else {
        unreachable!()
    };
    let mut list = vec![];
    for block in &net.blocks {
        list.extend(block.norm1.iter());
        list.extend(block.norm2.iter());
    }
    list.extend(net.final_norm.iter());
    list
}

#[test]
fn freezing_a_model_freezes_every_normalizer_with_statistics_and_nothing_else() {
    let device = Device::ndarray().autodiff();
    device.seed(0);
    let network = resnet(NormConfig::BatchNorm(BatchNormConfig::new()))
        .init(&device)
        .unwrap();
    assert_eq!(norms(&network).len(), 5);
    assert!(norms(&network).iter().all(|n| !n.statistics_frozen()));
    let mut mapper = StatisticsMapper::new(false);
    let frozen = network.clone().map(&mut mapper);
    assert_eq!(mapper.changed(), 5);
    assert!(norms(&frozen).iter().all(|n| n.statistics_frozen()));
    // Parameters keep requiring gradients.
    let Network::ResNet(net) = &frozen else {
        unreachable!()
    };
    let Norm::BatchNorm(bn) = net.final_norm.as_ref().unwrap() else {
        unreachable!()
    };
    assert!(bn.weight.as_ref().unwrap().val().is_require_grad());
    assert!(net.stem.weight.val().is_require_grad());
    let thawed = unfreeze_statistics(frozen);
    assert!(norms(&thawed).iter().all(|n| !n.statistics_frozen()));

    // burn's own freeze (parameters and training flags) freezes the statistics too, as it does
    // burn-nn's BatchNorm; its unfreeze undoes it.
    let burn_frozen = network.clone().freeze();
    assert!(norms(&burn_frozen).iter().all(|n| n.statistics_frozen()));
    assert!(
        norms(&burn_frozen.unfreeze())
            .iter()
            .all(|n| !n.statistics_frozen())
    );

    // Layers without running statistics have nothing to freeze: the mapper passes them by.
    for norm in [
        NormConfig::GroupNorm(GroupNormConfig::new().with_groups(2)),
        NormConfig::LayerNorm(LayerNormConfig::new()),
        NormConfig::InstanceNorm(InstanceNormConfig::new()),
    ] {
        let mut mapper = StatisticsMapper::new(false);
        let _ = resnet(norm).init(&device).unwrap().map(&mut mapper);
        assert_eq!(mapper.changed(), 0);
    }
}

/// One SGD step (learning rate 0.1) of a frozen network in train mode: `γ` and `β` move (their
/// gradients are there), the running statistics and `num_batches_tracked` stay. Unfrozen, the
/// same step moves the statistics.
#[test]
fn a_training_step_of_a_frozen_model_moves_the_affine_parameters_not_the_statistics() {
    let device = Device::ndarray().autodiff();
    device.seed(1);
    let config = resnet(NormConfig::BatchNorm(BatchNormConfig::new()));
    let network = config.init(&device).unwrap();
    let x = Tensor::<4>::random([6, 2, 8, 8], Distribution::Normal(0.5, 2.0), &device);
    let stats = |network: &Network| -> Vec<Vec<f64>> {
        norms(network)
            .iter()
            .flat_map(|n| {
                let Norm::BatchNorm(bn) = n else {
                    unreachable!()
                };
                [
                    values(bn.running_mean.as_ref().unwrap().value_sync()),
                    values(bn.running_var.as_ref().unwrap().value_sync()),
                    values(bn.num_batches_tracked.as_ref().unwrap().value_sync()),
                ]
            })
            .collect()
    };
    for frozen in [true, false] {
        let model = if frozen {
            freeze_statistics(network.clone())
        } else {
            network.clone()
        };
        let before = stats(&model);
        let logits = model
            .forward(x.clone(), Mode::Train, &mut Probe::off())
            .unwrap();
        let grads = logits.square().mean().backward();
        let Network::ResNet(net) = &model else {
            unreachable!()
        };
        let Norm::BatchNorm(bn) = net.final_norm.as_ref().unwrap() else {
            unreachable!()
        };
        let gamma = bn.weight.as_ref().unwrap().val();
        let grad = values(gamma.grad(&grads).expect("γ has a gradient"));
        assert!(grad.iter().any(|g| g.abs() > 1e-6), "∂L/∂γ = {grad:?}");
        let after = stats(&model);
        if frozen {
            assert_eq!(before, after, "frozen statistics moved");
        } else {
            assert_ne!(before, after, "unfrozen statistics did not move");
        }
    }
}

#[test]
fn freezing_a_layer_without_running_statistics_is_an_error() {
    let device = Device::ndarray();
    let err = BatchNormConfig::new()
        .with_track_running_stats(false)
        .init(3, &device)
        .unwrap()
        .freeze_statistics()
        .unwrap_err();
    assert_eq!(
        err,
        NormError::NoRunningStatistics {
            layer: "BatchNorm",
            operation: "freeze its statistics"
        }
    );
    assert!(
        err.to_string()
            .contains("BatchNorm: cannot freeze its statistics"),
        "{err}"
    );
    for config in [
        NormConfig::LayerNorm(LayerNormConfig::new()),
        NormConfig::GroupNorm(GroupNormConfig::new().with_groups(1)),
        NormConfig::InstanceNorm(InstanceNormConfig::new()),
        NormConfig::Identity,
    ] {
        let norm = config.init(&[4, 2], &device).unwrap();
        let err = norm.freeze_statistics().unwrap_err();
        assert!(
            matches!(err, NormError::NoRunningStatistics { layer, .. } if layer == config.name()),
            "{err}"
        );
    }
}
