//! `NormConfig` reads from TOML and JSON, writes back the same, rejects unknown kinds and keys,
//! and builds every normalizer; built layers save and load with burn's records.
#![allow(deprecated)]

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use normscope::{
    BatchNormConfig, GroupNormConfig, LpBatchNormConfig, LpOrder, Mode, Momentum, Norm, NormConfig,
    Normalization,
};

#[test]
fn toml_and_json_round_trip() {
    let toml_text = r#"
        kind = "group_norm"
        groups = 8
        eps = 1e-3
    "#;
    let config: NormConfig = toml::from_str(toml_text).unwrap();
    assert_eq!(
        config,
        NormConfig::GroupNorm(GroupNormConfig::new().with_groups(8).with_eps(1e-3))
    );
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<NormConfig>(&json).unwrap(), config);
    let back: NormConfig = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
    assert_eq!(back, config);

    let json: NormConfig =
        serde_json::from_str(r#"{"kind": "lp_batch_norm", "p": "inf"}"#).unwrap();
    assert_eq!(
        json,
        NormConfig::LpBatchNorm(LpBatchNormConfig::new().with_p(LpOrder::Inf))
    );
    let toml_inf: NormConfig = toml::from_str("kind = \"lp_batch_norm\"\np = inf").unwrap();
    assert_eq!(toml_inf, json);
    let two: NormConfig = toml::from_str("kind = \"lp_batch_norm\"\np = 2").unwrap();
    assert_eq!(
        two,
        NormConfig::LpBatchNorm(LpBatchNormConfig::new().with_p(LpOrder::L2))
    );
    assert_eq!(
        toml::from_str::<NormConfig>("kind = \"identity\"").unwrap(),
        NormConfig::Identity
    );
    // Defaults are PyTorch's.
    let bn: NormConfig = toml::from_str("kind = \"batch_norm\"").unwrap();
    assert_eq!(bn, NormConfig::BatchNorm(BatchNormConfig::new()));
    let NormConfig::BatchNorm(bn) = bn else {
        unreachable!()
    };
    assert_eq!(
        (bn.momentum, bn.eps, bn.affine, bn.track_running_stats),
        (Momentum::Exponential(0.1), 1e-5, true, true)
    );
}

#[test]
fn unknown_kinds_and_keys_are_errors_that_name_them() {
    let err = toml::from_str::<NormConfig>("kind = \"batch_normal\"").unwrap_err();
    assert!(err.to_string().contains("batch_normal"), "{err}");
    let err = toml::from_str::<NormConfig>("kind = \"batch_norm\"\nmomentun = 0.2").unwrap_err();
    assert!(err.to_string().contains("momentun"), "{err}");
    let err =
        serde_json::from_str::<NormConfig>(r#"{"kind": "lp_batch_norm", "p": 3}"#).unwrap_err();
    assert!(
        err.to_string().contains("p must be 1, 2 or \"inf\""),
        "{err}"
    );
}

fn every_config() -> Vec<NormConfig> {
    [
        "identity",
        "batch_norm",
        "ghost_batch_norm",
        "batch_renorm",
        "layer_norm",
        "group_norm",
        "instance_norm",
        "rms_norm",
        "lp_batch_norm",
        "variance_only",
        "mean_only",
        "noisy_batch_norm",
        "noise_only",
    ]
    .iter()
    .map(|kind| {
        let extra = match *kind {
            "group_norm" => "groups = 2",
            "ghost_batch_norm" => "virtual_batch_size = 4",
            _ => "",
        };
        toml::from_str(&format!("kind = \"{kind}\"\n{extra}")).unwrap()
    })
    .collect()
}

#[test]
fn every_kind_builds_and_runs() {
    let device = Device::ndarray();
    let configs = every_config();
    assert_eq!(configs.len(), 13);
    for config in configs {
        let norm = config.init(&[4, 3, 3], &device).unwrap();
        assert_eq!(norm.name(), config.name());
        let x = Tensor::<4>::random([8, 4, 3, 3], Distribution::Normal(1.0, 2.0), &device);
        let y = norm.forward(x.clone(), Mode::Train);
        assert_eq!(y.dims(), [8, 4, 3, 3]);
        let y = norm.forward(x, Mode::Eval);
        assert_eq!(y.dims(), [8, 4, 3, 3]);
    }
}

#[test]
fn records_save_and_load_running_statistics_and_parameters() {
    let device = Device::ndarray();
    let dir = std::env::temp_dir().join(format!("normscope-records-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for config in every_config() {
        let trained = config.init(&[4, 3, 3], &device).unwrap();
        for seed in 0..3 {
            device.seed(seed);
            let x = Tensor::<4>::random([8, 4, 3, 3], Distribution::Normal(2.0, 3.0), &device);
            trained.forward(x, Mode::Train);
        }
        let path = dir.join(format!("{}.bpk", config.name()));
        let probe = Tensor::<4>::random([8, 4, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let before = trained.forward(probe.clone(), Mode::Eval).into_data();
        trained.save_file(&path).unwrap();

        let fresh: Norm = config.init(&[4, 3, 3], &device).unwrap();
        let fresh_out = fresh.forward(probe.clone(), Mode::Eval).into_data();
        let loaded = fresh.load_file(&path);
        let after = loaded.forward(probe, Mode::Eval).into_data();
        after.assert_approx_eq::<f32>(&before, Default::default());
        if config.uses_batch_statistics() {
            // The record carried the trained running statistics, not the fresh ones.
            assert_ne!(
                fresh_out,
                before,
                "{}: training did not change eval output",
                config.name()
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn momentum_reads_a_number_or_cumulative() {
    let bn: NormConfig =
        toml::from_str("kind = \"batch_norm\"\nmomentum = \"cumulative\"").unwrap();
    assert_eq!(
        bn,
        NormConfig::BatchNorm(BatchNormConfig::new().with_momentum(None))
    );
    assert_eq!(bn.momentum(), Some(Momentum::Cumulative));
    let json = serde_json::to_string(&bn).unwrap();
    assert!(json.contains(r#""momentum":"cumulative""#), "{json}");
    assert_eq!(serde_json::from_str::<NormConfig>(&json).unwrap(), bn);
    assert_eq!(
        toml::from_str::<NormConfig>(&toml::to_string(&bn).unwrap()).unwrap(),
        bn
    );
    let integer: NormConfig = toml::from_str("kind = \"mean_only\"\nmomentum = 1").unwrap();
    assert_eq!(integer.momentum(), Some(Momentum::Exponential(1.0)));
    for bad in ["\"none\"", "true"] {
        let err = toml::from_str::<NormConfig>(&format!("kind = \"batch_norm\"\nmomentum = {bad}"))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a number in [0, 1] or \"cumulative\""),
            "{err}"
        );
    }
}

/// `identity` takes no keys, and says so naming the key (it used to drop them silently).
#[test]
fn identity_refuses_unknown_keys() {
    let err = toml::from_str::<NormConfig>("kind = \"identity\"\nfoo = 1").unwrap_err();
    assert!(err.to_string().contains("unknown field `foo`"), "{err}");
    let err = serde_json::from_str::<NormConfig>(r#"{"kind": "identity", "foo": 1}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `foo`"), "{err}");
    // Through the report's configuration, the error names the normalizer's table and the key.
    use normscope::analysis::AnalysisError;
    use normscope::analysis::report::{ReportConfig, Scale};
    let text = "[[normalizers]]\nlabel = \"x\"\nnorm = { kind = \"identity\", foo = 1 }\n";
    match ReportConfig::from_toml(Scale::Quick, text) {
        Err(AnalysisError::Config { key, reason, .. }) => {
            assert!(key.starts_with("normalizers[0].norm"), "{key}");
            assert!(reason.contains("unknown field `foo`"), "{reason}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

/// The noise control is its own kind; the spelling of files written before (`noisy_batch_norm`
/// with `normalize = false`) still reads, as that kind, and writes back in the new one.
#[test]
fn noise_only_is_a_kind_and_the_old_spelling_still_reads() {
    use normscope::{NoiseOnlyConfig, NoisyBatchNormConfig};
    let noise = NoiseOnlyConfig::new()
        .with_noise_mean_max(0.25)
        .with_per_sample(true);
    let new: NormConfig =
        toml::from_str("kind = \"noise_only\"\nnoise_mean_max = 0.25\nper_sample = true").unwrap();
    assert_eq!(new, NormConfig::NoiseOnly(noise.clone()));
    assert_eq!(new.label(), "NoiseOnly");
    assert!(!new.uses_batch_statistics());
    let old = r#"{"kind": "noisy_batch_norm", "noise_mean_max": 0.25, "noise_scale_max": 1.5,
        "per_sample": true, "momentum": 0.1, "eps": 1e-5, "affine": true, "normalize": false}"#;
    let old: NormConfig = serde_json::from_str(old).unwrap();
    assert_eq!(old, new);
    assert!(
        serde_json::to_string(&old)
            .unwrap()
            .contains(r#""kind":"noise_only""#)
    );
    let with_bn: NormConfig =
        toml::from_str("kind = \"noisy_batch_norm\"\nnormalize = true\nmomentum = 0.3").unwrap();
    assert_eq!(
        with_bn,
        NormConfig::NoisyBatchNorm(NoisyBatchNormConfig::new().with_momentum(0.3))
    );
    assert_eq!(
        NormConfig::NoisyBatchNorm(NoisyBatchNormConfig::new()).label(),
        "NoisyBatchNorm"
    );
    let err =
        toml::from_str::<NormConfig>("kind = \"noisy_batch_norm\"\nnormalise = false").unwrap_err();
    assert!(err.to_string().contains("normalise"), "{err}");
    let err = toml::from_str::<NormConfig>("kind = \"noise_only\"\nnormalize = false").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `normalize`"),
        "{err}"
    );
    // The noise alone: identity in eval mode, no parameters.
    let device = Device::ndarray();
    let layer = new.init(&[3], &device).unwrap();
    assert_eq!(layer.num_params(), 0);
    let x = Tensor::<2>::random([4, 3], Distribution::Normal(0.0, 1.0), &device);
    layer
        .forward(x.clone(), Mode::Eval)
        .into_data()
        .assert_eq(&x.into_data(), true);
}

#[test]
fn every_config_and_layer_converts_into_the_enums() {
    let device = Device::ndarray();
    let config: NormConfig = GroupNormConfig::new().with_groups(2).into();
    assert_eq!(config.name(), "GroupNorm");
    let layer: Norm = BatchNormConfig::new().init(4, &device).unwrap().into();
    assert!(matches!(layer, Norm::BatchNorm(_)));
    let identity: Norm = normscope::Identity.into();
    assert_eq!(identity.name(), "Identity");
}
