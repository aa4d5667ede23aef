//! Folding normalizers into the layer before them, for inference: the free functions on weights
//! and statistics, each normalizer's eval-mode map, and the analysis models folded, each against
//! the unfolded computation (max |folded − unfolded| over the outputs); shapes that do not match
//! are typed errors. (Against PyTorch's `fuse_conv_bn_weights`: `tests/torch_parity.rs`.)
#![allow(deprecated)]

mod common;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use common::reference::max_abs_diff;
use common::{devices, randn, tensor, values};
use normscope::analysis::models::{
    MlpConfig, Network, NetworkConfig, NormPosition, Probe, ResNetConfig, VggConfig,
};
use normscope::{
    BatchNormConfig, ChannelAffine, GroupNormConfig, LayerNormConfig, Mode, Norm, NormConfig,
    NormError, Normalization, fuse_conv_bn_weights, fuse_linear_bn_weights,
};

/// A trained-looking BatchNorm over `c` channels: random `γ`, `β`, running statistics.
fn batch_norm(c: usize, device: &Device) -> normscope::BatchNorm {
    let mut bn = BatchNormConfig::new().init(c, device).unwrap();
    let p = |v: Vec<f64>| Some(burn::module::Param::from_tensor(tensor(&v, [c], device)));
    bn.weight = p(randn(c, 1, 1.0, 0.4));
    bn.bias = p(randn(c, 2, 0.0, 0.5));
    bn.running_mean = Some(burn::module::RunningState::new(tensor(
        &randn(c, 3, 0.5, 1.0),
        [c],
        device,
    )));
    let var: Vec<f64> = randn(c, 4, 0.0, 1.0).iter().map(|v| 0.2 + v * v).collect();
    bn.running_var = Some(burn::module::RunningState::new(tensor(&var, [c], device)));
    bn
}

fn running(bn: &normscope::BatchNorm) -> (Tensor<1>, Tensor<1>) {
    (
        bn.running_mean.as_ref().unwrap().value_sync(),
        bn.running_var.as_ref().unwrap().value_sync(),
    )
}

/// `max |conv'(x) − BN_eval(conv(x))|` relative to the output's scale.
#[test]
fn fuse_conv_bn_weights_computes_the_unfused_pair() {
    for (name, device) in devices() {
        let (c_in, c_out) = (3, 5);
        let bn = batch_norm(c_out, &device);
        let w = tensor(
            &randn(c_out * c_in * 9, 5, 0.0, 0.3),
            [c_out, c_in, 3, 3],
            &device,
        );
        let b = tensor(&randn(c_out, 6, 0.0, 0.2), [c_out], &device);
        let x = tensor(&randn(2 * c_in * 36, 7, 1.0, 1.0), [2, c_in, 6, 6], &device);
        let options = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let unfused = bn.forward(
            conv2d(x.clone(), w.clone(), Some(b.clone()), options()),
            Mode::Eval,
        );
        let (mean, var) = running(&bn);
        let (w2, b2) = fuse_conv_bn_weights(
            w,
            Some(b),
            mean,
            var,
            bn.eps,
            bn.weight.as_ref().map(|p| p.val()),
            bn.bias.as_ref().map(|p| p.val()),
        )
        .unwrap();
        let fused = conv2d(x, w2, Some(b2), options());
        let (fused, unfused) = (values(fused), values(unfused));
        let diff = max_abs_diff(&fused, &unfused);
        println!("{name}: conv+BN folded, max |Δ| = {diff:.2e}");
        assert!(diff < 1e-5, "{name}: max |fused − unfused| = {diff:.2e}");
    }
}

#[test]
fn fuse_linear_bn_weights_computes_the_unfused_pair() {
    let device = Device::ndarray();
    let (d_in, d_out) = (6, 4);
    let bn = batch_norm(d_out, &device);
    let w = tensor(&randn(d_in * d_out, 8, 0.0, 0.5), [d_in, d_out], &device);
    let x = tensor(&randn(5 * d_in, 9, 0.0, 1.0), [5, d_in], &device);
    let unfused = values(bn.forward(x.clone().matmul(w.clone()), Mode::Eval));
    let (mean, var) = running(&bn);
    let (w2, b2) = fuse_linear_bn_weights(
        w,
        None,
        mean,
        var,
        bn.eps,
        bn.weight.as_ref().map(|p| p.val()),
        None,
    )
    .unwrap();
    // β = 0 in the fused call: the unfused pair's β moves to the bias by hand.
    let beta = bn.bias.as_ref().unwrap().val().unsqueeze_dim(0);
    let fused = values(x.matmul(w2).add(b2.unsqueeze_dim(0)).add(beta));
    let diff = max_abs_diff(&fused, &unfused);
    assert!(diff < 1e-5, "max |fused − unfused| = {diff:.2e}");
}

/// Every normalizer with running statistics, trained a few steps: its eval-mode map applied
/// with [`ChannelAffine::forward`] is its eval-mode output.
#[test]
fn every_eval_affine_map_is_the_eval_mode_output() {
    let device = Device::ndarray();
    for kind in [
        "kind = \"batch_norm\"",
        "kind = \"ghost_batch_norm\"\nvirtual_batch_size = 4",
        "kind = \"batch_renorm\"",
        "kind = \"instance_norm\"\ntrack_running_stats = true\naffine = true",
        "kind = \"lp_batch_norm\"\np = \"inf\"",
        "kind = \"variance_only\"",
        "kind = \"mean_only\"",
        "kind = \"noisy_batch_norm\"",
    ] {
        let config: NormConfig = toml::from_str(kind).unwrap();
        let norm = config.init(&[3, 4], &device).unwrap();
        for seed in 0..3 {
            device.seed(seed);
            let x = Tensor::<3>::random([8, 3, 4], Distribution::Normal(2.0, 3.0), &device);
            norm.forward(x, Mode::Train);
        }
        let x = Tensor::<3>::random([8, 3, 4], Distribution::Normal(2.0, 3.0), &device);
        let affine = norm.eval_affine().unwrap();
        assert_eq!((affine.layer, affine.channels()), (config.name(), 3));
        let diff = max_abs_diff(
            &values(affine.forward(x.clone())),
            &values(norm.forward(x, Mode::Eval)),
        );
        assert!(diff < 1e-5, "{}: max |Δ| = {diff:.2e}", config.name());
    }
    for config in [
        NormConfig::LayerNorm(LayerNormConfig::new()),
        NormConfig::GroupNorm(GroupNormConfig::new().with_groups(1)),
        NormConfig::BatchNorm(BatchNormConfig::new().with_track_running_stats(false)),
        NormConfig::Identity,
    ] {
        let err = config
            .init(&[3, 4], &device)
            .unwrap()
            .eval_affine()
            .unwrap_err();
        assert_eq!(
            err,
            NormError::NoRunningStatistics {
                layer: config.name(),
                operation: "fold it into a weight layer"
            }
        );
    }
}

#[test]
fn shapes_that_do_not_match_are_typed_errors() {
    let device = Device::ndarray();
    let bn = batch_norm(4, &device);
    let affine = bn.eval_affine().unwrap();
    let err = affine
        .fold_into_conv(Tensor::<4>::ones([5, 3, 3, 3], &device), None)
        .unwrap_err();
    assert_eq!(
        err,
        NormError::FoldShapeMismatch {
            layer: "BatchNorm",
            what: "a conv weight [C_out, C_in, k...]",
            expected: 4,
            shape: vec![5, 3, 3, 3]
        }
    );
    assert_eq!(
        err.to_string(),
        "BatchNorm: cannot fold: expected a conv weight [C_out, C_in, k...] with 4 channels, got shape [5, 3, 3, 3]"
    );
    let err = affine
        .fold_into_conv(
            Tensor::<4>::ones([4, 3, 3, 3], &device),
            Some(Tensor::ones([3], &device)),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            NormError::FoldShapeMismatch {
                what: "a bias [C_out]",
                ..
            }
        ),
        "{err}"
    );
    // A linear weight is [d_in, d_out]: PyTorch's [d_out, d_in] is refused, not misread.
    let err = affine
        .fold_into_linear(Tensor::<2>::ones([4, 6], &device), None)
        .unwrap_err();
    assert!(
        matches!(&err, NormError::FoldShapeMismatch { shape, .. } if shape == &vec![4, 6]),
        "{err}"
    );
    let (mean, _) = running(&bn);
    let err =
        ChannelAffine::from_statistics(mean.clone(), Tensor::ones([3], &device), 1e-5, None, None)
            .unwrap_err();
    assert!(
        matches!(
            err,
            NormError::FoldShapeMismatch {
                what: "a running_var",
                expected: 4,
                ..
            }
        ),
        "{err}"
    );
    let err = ChannelAffine::from_statistics(mean.clone(), mean, 0.0, None, None).unwrap_err();
    assert!(matches!(err, NormError::InvalidEps { .. }), "{err}");
}

/// Trains `config`'s network for a few steps (train mode, so the running statistics move), then
/// compares its eval-mode logits with the folded network's in both modes. Returns how many
/// normalizers folded.
fn fold_case(config: NetworkConfig, device: &Device) -> usize {
    device.seed(3);
    let network = config.init(device).unwrap();
    let size = match &config {
        NetworkConfig::Vgg(c) => c.size,
        _ => 8,
    };
    let x = Tensor::<4>::random([8, 3, size, size], Distribution::Normal(0.5, 1.5), device);
    for _ in 0..3 {
        network
            .forward(x.clone().add_scalar(0.3), Mode::Train, &mut Probe::off())
            .unwrap();
    }
    let unfolded = values(
        network
            .forward(x.clone(), Mode::Eval, &mut Probe::off())
            .unwrap(),
    );
    let (before, _) = identities(&network);
    let folded = network.fold_norms().unwrap();
    let (after, total) = identities(&folded);
    let folded_count = after - before;
    // Where every normalizer folded, train mode has no batch statistics left to use either.
    let modes: &[Mode] = if after == total {
        &[Mode::Eval, Mode::Train]
    } else {
        &[Mode::Eval]
    };
    for &mode in modes {
        let got = values(folded.forward(x.clone(), mode, &mut Probe::off()).unwrap());
        let scale = unfolded.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = max_abs_diff(&got, &unfolded);
        println!(
            "{:?} {mode:?}: {folded_count} folded, max |Δ| = {diff:.2e} (max |logit| {scale:.2})",
            config.norm().name()
        );
        assert!(
            diff <= 1e-5 * scale.max(1.0),
            "{:?} folded in {mode:?}: max |Δ| = {diff:.2e}",
            config.norm().name()
        );
    }
    folded_count
}

/// How many of the network's normalizers are the identity, and how many it has.
fn identities(network: &Network) -> (usize, usize) {
    let norms: Vec<&Norm> = match network {
        Network::Vgg(m) => m.layers.iter().map(|l| &l.norm).collect(),
        Network::Mlp(m) => m.layers.iter().map(|l| &l.norm).collect(),
        Network::ResNet(m) => m
            .blocks
            .iter()
            .flat_map(|b| b.norm1.iter().chain(b.norm2.iter()))
            .chain(m.final_norm.iter())
            .collect(),
    };
    let identity = norms
        .iter()
        .filter(|n| matches!(n, Norm::Identity(_)))
        .count();
    (identity, norms.len())
}

#[test]
fn folded_analysis_models_compute_the_unfolded_eval_output() {
    let device = Device::ndarray();
    let bn = NormConfig::BatchNorm(BatchNormConfig::new());
    let vgg = VggConfig {
        width: 0.0625,
        channels: 3,
        size: 32,
        classes: 4,
        norm: bn.clone(),
        ..Default::default()
    };
    // VGG-11 has 8 convolutions, each followed by its normalizer.
    assert_eq!(fold_case(NetworkConfig::Vgg(vgg.clone()), &device), 8);
    for kind in [
        "kind = \"variance_only\"",
        "kind = \"lp_batch_norm\"",
        "kind = \"batch_renorm\"",
    ] {
        let norm: NormConfig = toml::from_str(kind).unwrap();
        let config = NetworkConfig::Vgg(VggConfig {
            norm,
            ..vgg.clone()
        });
        assert_eq!(fold_case(config, &device), 8);
    }
    let mlp = MlpConfig {
        input: 3 * 8 * 8,
        width: 16,
        depth: 3,
        classes: 4,
        norm: bn.clone(),
        ..Default::default()
    };
    assert_eq!(fold_case(NetworkConfig::Mlp(mlp.clone()), &device), 3);
    // After the activation there is no layer right before the normalizer.
    let after = MlpConfig {
        norm_position: NormPosition::AfterActivation,
        ..mlp
    };
    assert_eq!(fold_case(NetworkConfig::Mlp(after), &device), 0);
    // A pre-activation ResNet folds each block's second normalizer into its first convolution.
    let resnet = ResNetConfig {
        blocks: 2,
        stages: 2,
        width: 4,
        channels: 3,
        size: 8,
        classes: 4,
        norm: bn,
        ..Default::default()
    };
    assert_eq!(fold_case(NetworkConfig::ResNet(resnet.clone()), &device), 4);
    // Per-sample normalizers have no fixed map and stay.
    let group = ResNetConfig {
        norm: NormConfig::GroupNorm(GroupNormConfig::new().with_groups(2)),
        ..resnet
    };
    assert_eq!(fold_case(NetworkConfig::ResNet(group), &device), 0);
}
