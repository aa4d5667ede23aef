//! Every bad input gives its typed error, naming the layer, what was expected and what came.
#![allow(deprecated)]

use burn::tensor::{Device, Tensor};
use normscope::{
    BatchNormConfig, GhostBatchNormConfig, GroupNormConfig, InstanceNormConfig, LayerNormConfig,
    Mode, NormConfig, NormError, Normalization,
};

fn device() -> Device {
    Device::ndarray()
}

fn every_channelwise_config() -> Vec<NormConfig> {
    let all = r#"
        [[norm]]
        kind = "batch_norm"
        [[norm]]
        kind = "ghost_batch_norm"
        virtual_batch_size = 2
        [[norm]]
        kind = "batch_renorm"
        [[norm]]
        kind = "group_norm"
        groups = 1
        [[norm]]
        kind = "instance_norm"
        [[norm]]
        kind = "lp_batch_norm"
        [[norm]]
        kind = "variance_only"
        [[norm]]
        kind = "mean_only"
        [[norm]]
        kind = "noisy_batch_norm"
        [[norm]]
        kind = "noise_only"
    "#;
    #[derive(serde::Deserialize)]
    struct List {
        norm: Vec<NormConfig>,
    }
    toml::from_str::<List>(all).unwrap().norm
}

#[test]
fn zero_features() {
    for config in every_channelwise_config() {
        let err = config.init(&[0], &device()).unwrap_err();
        assert_eq!(
            err,
            NormError::ZeroFeatures {
                layer: config.name()
            },
            "{}",
            config.name()
        );
        assert!(err.to_string().contains("num_features = 0"), "{err}");
    }
    for config in [
        NormConfig::LayerNorm(Default::default()),
        NormConfig::RmsNorm(Default::default()),
    ] {
        let err = config.init(&[4, 0], &device()).unwrap_err();
        assert!(matches!(err, NormError::EmptyShape { .. }), "{err}");
    }
}

#[test]
fn groups_that_do_not_divide() {
    for groups in [0, 3, 5] {
        let err = GroupNormConfig::new()
            .with_groups(groups)
            .init(4, &device())
            .unwrap_err();
        assert_eq!(
            err,
            NormError::GroupsDontDivide {
                layer: "GroupNorm",
                groups,
                channels: 4
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "GroupNorm: expected a group count that divides num_channels = 4, got groups = {groups}"
            )
        );
    }
}

#[test]
fn invalid_eps() {
    for eps in [0.0, -1e-5, f64::NAN, f64::INFINITY] {
        let errors = [
            (
                "BatchNorm",
                BatchNormConfig::new()
                    .with_eps(eps)
                    .init(3, &device())
                    .err(),
            ),
            (
                "LayerNorm",
                LayerNormConfig::new()
                    .with_eps(eps)
                    .init(&[3], &device())
                    .err(),
            ),
            (
                "GroupNorm",
                GroupNormConfig::new()
                    .with_groups(1)
                    .with_eps(eps)
                    .init(3, &device())
                    .err(),
            ),
        ];
        for (name, err) in errors {
            let err = err.unwrap_or_else(|| panic!("{name} accepted eps = {eps}"));
            assert!(
                matches!(err, NormError::InvalidEps { layer, .. } if layer == name),
                "{err}"
            );
        }
    }
    let err = BatchNormConfig::new()
        .with_eps(-1.0)
        .init(3, &device())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm: expected eps finite and > 0, got eps = -1"
    );
}

#[test]
fn invalid_momentum() {
    for momentum in [-0.1, 1.5, f64::NAN] {
        for config in every_channelwise_config() {
            let config = match config {
                NormConfig::BatchNorm(c) => NormConfig::BatchNorm(c.with_momentum(momentum)),
                NormConfig::InstanceNorm(c) => NormConfig::InstanceNorm(c.with_momentum(momentum)),
                NormConfig::MeanOnly(c) => NormConfig::MeanOnly(c.with_momentum(momentum)),
                _ => continue,
            };
            let err = config.init(&[3], &device()).unwrap_err();
            assert!(matches!(err, NormError::InvalidMomentum { .. }), "{err}");
        }
    }
    // The boundaries are valid.
    for momentum in [0.0, 1.0] {
        BatchNormConfig::new()
            .with_momentum(momentum)
            .init(3, &device())
            .unwrap();
    }
}

#[test]
fn virtual_batch_size() {
    let err = GhostBatchNormConfig::new()
        .with_virtual_batch_size(0)
        .init(3, &device())
        .unwrap_err();
    assert_eq!(
        err,
        NormError::ZeroVirtualBatch {
            layer: "GhostBatchNorm"
        }
    );
    let layer = GhostBatchNormConfig::new()
        .with_virtual_batch_size(4)
        .init(3, &device())
        .unwrap();
    let err = layer
        .try_forward(Tensor::<2>::ones([6, 3], &device()), Mode::Train)
        .unwrap_err();
    assert_eq!(
        err,
        NormError::VirtualBatchDoesNotDivide {
            layer: "GhostBatchNorm",
            virtual_batch_size: 4,
            batch_size: 6
        }
    );
    assert!(err.to_string().contains("batch size 6"), "{err}");
}

#[test]
fn channel_mismatch() {
    for config in every_channelwise_config() {
        let layer = config.init(&[3], &device()).unwrap();
        let err = layer
            .try_forward(Tensor::<3>::ones([4, 5, 2], &device()), Mode::Train)
            .unwrap_err();
        assert_eq!(
            err,
            NormError::ChannelMismatch {
                layer: config.name(),
                expected: 3,
                shape: vec![4, 5, 2]
            },
            "{}",
            config.name()
        );
    }
    let err = LayerNormConfig::new()
        .init(&[3, 2], &device())
        .unwrap()
        .try_forward(Tensor::<3>::ones([4, 3, 5], &device()), Mode::Train)
        .unwrap_err();
    assert!(matches!(err, NormError::ShapeMismatch { .. }), "{err}");
    let err = BatchNormConfig::new()
        .init(3, &device())
        .unwrap()
        .try_forward(Tensor::<1>::ones([3], &device()), Mode::Train)
        .unwrap_err();
    assert!(matches!(err, NormError::RankTooLow { .. }), "{err}");
}

#[test]
fn one_value_per_channel_in_train_mode() {
    for config in every_channelwise_config() {
        if !config.uses_batch_statistics() {
            continue;
        }
        let config = match config {
            NormConfig::GhostBatchNorm(c) => {
                NormConfig::GhostBatchNorm(c.with_virtual_batch_size(1))
            }
            other => other,
        };
        let layer = config.init(&[3], &device()).unwrap();
        let err = layer
            .try_forward(Tensor::<2>::ones([1, 3], &device()), Mode::Train)
            .unwrap_err();
        assert!(
            matches!(err, NormError::SingleValuePerChannel { .. }),
            "{}: {err}",
            config.name()
        );
        assert!(
            err.to_string()
                .contains("Expected more than 1 value per channel when training"),
            "{err}"
        );
        // Eval mode uses the running statistics and is fine.
        layer
            .try_forward(Tensor::<2>::ones([1, 3], &device()), Mode::Eval)
            .unwrap();
    }
    let layer = InstanceNormConfig::new().init(3, &device()).unwrap();
    let err = layer
        .try_forward(Tensor::<3>::ones([4, 3, 1], &device()), Mode::Train)
        .unwrap_err();
    assert!(
        matches!(err, NormError::SingleSpatialElement { .. }),
        "{err}"
    );
}

#[test]
#[should_panic(expected = "BatchNorm: expected 3 channels at dim 1, got input of shape [2, 4]")]
fn forward_panics_with_the_same_message() {
    let layer = BatchNormConfig::new().init(3, &device()).unwrap();
    let _ = layer.forward(Tensor::<2>::ones([2, 4], &device()), Mode::Train);
}

#[test]
fn other_parameters() {
    let err = "kind = \"batch_renorm\"\nr_max = 0.5";
    let config: NormConfig = toml::from_str(err).unwrap();
    let err = config.validate().unwrap_err();
    assert!(err.to_string().contains("r_max"), "{err}");
    let config: NormConfig =
        toml::from_str("kind = \"noisy_batch_norm\"\nnoise_scale_max = 0.5").unwrap();
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("noise_scale_max")
    );
}

/// InstanceNorm without running statistics normalizes with the input's own statistics in eval
/// mode too, so one spatial element per channel is refused there as in train mode (PyTorch
/// raises in both) instead of coming out as `β` (zeros). With running statistics eval mode uses
/// them and takes `[N, C]`.
#[test]
fn instance_norm_one_spatial_element_in_eval_mode() {
    let layer = InstanceNormConfig::new().init(3, &device()).unwrap();
    for mode in [Mode::Train, Mode::Eval] {
        let err = layer
            .try_forward(Tensor::<2>::ones([4, 3], &device()), mode)
            .unwrap_err();
        assert_eq!(
            err,
            NormError::SingleSpatialElement {
                layer: "InstanceNorm",
                shape: vec![4, 3]
            },
            "{mode:?}"
        );
        let err = layer
            .try_forward(Tensor::<3>::ones([4, 3, 1], &device()), mode)
            .unwrap_err();
        assert!(
            matches!(err, NormError::SingleSpatialElement { .. }),
            "{err}"
        );
    }
    let tracked = InstanceNormConfig::new()
        .with_track_running_stats(true)
        .init(3, &device())
        .unwrap();
    tracked
        .try_forward(Tensor::<2>::ones([4, 3], &device()), Mode::Eval)
        .unwrap();
}

#[test]
fn momentum_outside_the_unit_interval_names_the_cumulative_alternative() {
    let err = BatchNormConfig::new()
        .with_momentum(1.5)
        .init(3, &device())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm: expected momentum in [0, 1] (or \"cumulative\"), got momentum = 1.5"
    );
    BatchNormConfig::new()
        .with_momentum(None)
        .init(3, &device())
        .unwrap();
}
