//! `NormConfig` reads from TOML and JSON, writes back the same, rejects unknown kinds and keys,
//! and builds every normalizer; built layers save and load with burn's records.
#![allow(deprecated)]

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use normscope::{
    BatchNormConfig, GroupNormConfig, LpBatchNormConfig, LpOrder, Mode, Norm, NormConfig,
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
        (0.1, 1e-5, true, true)
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
    assert_eq!(configs.len(), 12);
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
