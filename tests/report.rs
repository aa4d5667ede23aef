//! `why_batchnorm`'s report: a quick run rendered in headless Chromium with every section and
//! plot present and no broken image; resuming without redoing finished work; bad
//! configurations stopped before any work with the key and the value named.
#![allow(deprecated)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::Device;
use normscope::analysis::AnalysisError;
use normscope::analysis::report::{self, ReportConfig, Scale, Silent};
use normscope::analysis::stats::spearman;

/// The plots of the report, by id.
const PLOTS: [&str; 26] = [
    "training_loss",
    "covariate_shift_by_layer",
    "scatter_covariate_shift",
    "noise_training_loss",
    "activation_drift",
    "beta_smoothness",
    "scatter_smoothness",
    "lr_sweep",
    "branch_share",
    "scatter_identity_bias",
    "identity_share_by_depth",
    "identity_share_by_budget",
    "identity_share_by_batch",
    "depth_sweep_skipinit",
    "rank_by_block",
    "scatter_rank",
    "rank_sweep",
    "rank_at_start",
    "rank_along_training",
    "branch_share_along_training",
    "landscape_lambda_max_depth",
    "landscape_trace_depth",
    "landscape_density",
    "landscape_init_to_final",
    "plane_none_depth2",
    "plane_batchnorm_depth2",
];

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("normscope-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn chromium() -> Option<PathBuf> {
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// The `data-…` attributes the page's load script sets on `<body>`, from Chromium's DOM dump.
fn body_attributes(dom: &str) -> std::collections::HashMap<String, String> {
    let start = dom.find("<body").expect("a body element");
    let tag = &dom[start..start + dom[start..].find('>').expect("the body tag closes")];
    let mut attributes = std::collections::HashMap::new();
    for part in tag.split(" data-").skip(1) {
        let (key, rest) = part.split_once("=\"").expect("key=\"value\"");
        attributes.insert(key.to_string(), rest[..rest.find('"').unwrap()].to_string());
    }
    attributes
}

/// The check the test adds to a copy of the page (the report itself carries no test code):
/// after load, the body records the sections, the figures, the images and how many of them
/// failed to decode or have no size.
const LOAD_SCRIPT: &str = "<script>window.addEventListener('load',function(){var imgs=[].slice.call(document.images);\
var broken=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0&&i.naturalHeight>0)}).length;\
document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-broken',broken);\
document.body.setAttribute('data-sections',[].map.call(document.querySelectorAll('section'),function(s){return s.id}).join(' '));\
document.body.setAttribute('data-plots',[].map.call(document.querySelectorAll('figure.plot'),function(f){return f.id+':'+f.querySelectorAll('img').length}).join(' '));});</script>";

/// `page` as headless Chromium loads it, with [`LOAD_SCRIPT`] added: the body's `data-…`
/// attributes.
fn load(chromium: &Path, page: &Path) -> std::collections::HashMap<String, String> {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = page.with_file_name(".load-check.html");
    std::fs::write(
        &probe,
        html.replace("</body>", &format!("{LOAD_SCRIPT}</body>")),
    )
    .unwrap();
    let body = body_attributes(&render(chromium, &probe));
    std::fs::remove_file(&probe).unwrap();
    body
}

/// Whether the loaded page has exactly `sections` and one decoded image per figure of `plots`;
/// the first thing missing or broken otherwise.
fn check_page(
    body: &std::collections::HashMap<String, String>,
    sections: &[&str],
    plots: &[&str],
) -> Result<(), String> {
    let got = body.get("sections").ok_or("the load check did not run")?;
    if got.split(' ').collect::<Vec<_>>() != sections {
        return Err(format!("sections {got:?}, expected {sections:?}"));
    }
    let figures: Vec<&str> = body["plots"].split(' ').collect();
    for id in plots {
        let figure = format!("plot-{id}:1");
        if !figures.contains(&figure.as_str()) {
            return Err(format!(
                "figure {id} missing or without its image ({figures:?})"
            ));
        }
    }
    if figures.len() != plots.len() {
        return Err(format!(
            "{} figures, expected {}: {figures:?}",
            figures.len(),
            plots.len()
        ));
    }
    if body["images"] != plots.len().to_string() {
        return Err(format!(
            "{} images for {} figures",
            body["images"],
            plots.len()
        ));
    }
    if body["broken"] != "0" {
        return Err(format!("{} image(s) failed to decode", body["broken"]));
    }
    Ok(())
}

fn render(chromium: &Path, page: &Path) -> String {
    let profile = temp_dir("chromium-profile");
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(profile);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 DOM")
}

#[test]
fn quick_report_has_every_section_and_plot_and_renders_in_headless_chromium() {
    let _rng = common::backend_rng();
    let out = temp_dir("quick");
    let config = ReportConfig::preset(Scale::Quick);
    let summary =
        report::run(&config, &Device::ndarray(), "ndarray", &out, false, &Silent).unwrap();

    // The files: page, markdown, numbers, every plot as SVG and PNG, one unit per piece of work.
    for file in ["index.html", "report.md", "results.json", "state.json"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    for id in PLOTS {
        for ext in ["svg", "png"] {
            let path = out.join("plots").join(format!("{id}.{ext}"));
            assert!(
                std::fs::metadata(&path)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{} missing or empty",
                path.display()
            );
        }
    }
    let units = std::fs::read_dir(out.join("units")).unwrap().count();
    let iv = &config.interventions;
    // The battery, then the sweeps: learning rates; depth × rate; batch size (besides the
    // battery's) × rate at the deepest depth; plain-network depth × rate.
    let other_batches = iv
        .batch_sizes
        .iter()
        .filter(|&&b| b != config.train.batch_size)
        .count();
    assert_eq!(
        units,
        2 * config.normalizers.len() * config.seeds
            + iv.seeds
                * (iv.learning_rates.len() * iv.lr_normalizers.len()
                    + (iv.depths.len() + other_batches)
                        * iv.depth_learning_rates.len()
                        * iv.depth_normalizers.len()
                    + iv.rank.depths.len()
                        * iv.rank.learning_rates.len()
                        * iv.rank.normalizers.len())
            + config.landscape.seeds
                * config.landscape.depths.len()
                * config.landscape.normalizers.len()
    );

    // results.json holds every number with the configuration and the provenance.
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(
        results["config"]["normalizers"].as_array().unwrap().len(),
        11
    );
    assert_eq!(results["units"]["train"].as_array().unwrap().len(), 11);
    assert_eq!(results["units"]["lr"].as_array().unwrap().len(), 8);
    assert_eq!(results["units"]["depth"].as_array().unwrap().len(), 24);
    assert_eq!(results["units"]["batch"].as_array().unwrap().len(), 12);
    assert_eq!(results["units"]["rank"].as_array().unwrap().len(), 24);
    assert_eq!(results["units"]["landscape"].as_array().unwrap().len(), 2);
    // The training probes at every probe step, on the at-initialization batch.
    for unit in results["units"]["train"].as_array().unwrap() {
        let steps: Vec<u64> = unit["probes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["step"].as_u64().unwrap())
            .collect();
        assert_eq!(steps, [0, 20], "{}", unit["label"]);
    }
    assert_eq!(
        results["summary"]["landscape"]["cells"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        results["summary"]["interventions"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        results["summary"]["mechanisms"].as_array().unwrap().len(),
        4
    );
    assert_eq!(results["provenance"]["backend"], "ndarray");
    assert_eq!(results["provenance"]["burn"], "0.22.1");
    assert_eq!(summary.norms.len(), 11);
    let labels: Vec<&str> = summary.norms.iter().map(|n| n.label.as_str()).collect();
    for required in [
        "none",
        "BatchNorm",
        "GhostBatchNorm",
        "LayerNorm",
        "GroupNorm",
        "NoisyBatchNorm",
        "NoiseOnly",
        "MeanOnly",
        "VarianceOnly",
        "l1-BatchNorm",
        "SkipInit",
    ] {
        assert!(
            labels.contains(&required),
            "{required} missing from {labels:?}"
        );
    }

    // The markdown report has each explanation and the mechanism table.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for heading in [
        "## Mechanism table",
        "## Reduction of internal covariate shift",
        "## A smoother loss landscape",
        "## Residual blocks biased toward the identity",
        "## Avoidance of rank collapse",
        "### Intervention: Noise after every BatchNorm",
        "### Intervention: The learning-rate range",
        "### Intervention: SkipInit against BatchNorm, each at its best learning rate",
        "### Intervention: Plain networks with rank pre-training",
        "### The loss landscape and the Hessian spectrum",
    ] {
        assert!(md.contains(heading), "report.md lacks {heading}");
    }

    // The page as a browser sees it.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the page must not reach the network"
    );
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("NORMSCOPE_REQUIRE_CHROMIUM").is_none(),
            "NORMSCOPE_REQUIRE_CHROMIUM is set but no chromium is on PATH"
        );
        eprintln!(
            "SKIPPED the headless rendering: no chromium on PATH (CI installs Debian's `chromium`)"
        );
        return;
    };
    let sections = report::sections();
    let sections: Vec<&str> = sections.iter().map(|s| s.0.as_str()).collect();
    let page = out.join("index.html");
    let body = load(&chromium, &page);
    assert_eq!(check_page(&body, &sections, &PLOTS), Ok(()));
    // The check fails when a figure is missing from the page, or its image is broken.
    let html = std::fs::read_to_string(&page).unwrap();
    let start = html
        .find("<figure class=\"plot\" id=\"plot-lr_sweep\"")
        .expect("the lr sweep's figure");
    let end = start + html[start..].find("</figure>").unwrap() + "</figure>".len();
    let without = out.join("without-a-figure.html");
    std::fs::write(&without, format!("{}{}", &html[..start], &html[end..])).unwrap();
    let error = check_page(&load(&chromium, &without), &sections, &PLOTS).unwrap_err();
    assert!(error.contains("lr_sweep"), "{error}");
    let broken = out.join("broken-image.html");
    let data =
        html.find("data:image/svg+xml;base64,").unwrap() + "data:image/svg+xml;base64,".len();
    std::fs::write(
        &broken,
        format!("{}AAAA{}", &html[..data], &html[data + 40..]),
    )
    .unwrap();
    let error = check_page(&load(&chromium, &broken), &sections, &PLOTS).unwrap_err();
    assert!(error.contains("decode"), "{error}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_interrupted_run_resumes_without_redoing_finished_units() {
    let _rng = common::backend_rng();
    let device = Device::ndarray();
    let out = temp_dir("resume");
    let config = common::two_normalizer_report();
    let first = report::run(&config, &device, "ndarray", &out, false, &Silent).unwrap();
    let units = out.join("units");
    let modified = |name: &str| {
        std::fs::metadata(units.join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let kept = modified("train-none-0.toml");
    // An interruption during BatchNorm's second seed: its unit (and the report) never got written.
    std::fs::remove_file(units.join("train-batchnorm-1.toml")).unwrap();
    std::fs::remove_file(out.join("index.html")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let resumed = report::run(&config, &device, "ndarray", &out, true, &Silent).unwrap();
    assert_eq!(
        modified("train-none-0.toml"),
        kept,
        "a finished unit was redone"
    );
    assert!(units.join("train-batchnorm-1.toml").is_file() && out.join("index.html").is_file());
    // Seeded: the resumed run's numbers are the uninterrupted run's.
    assert_eq!(
        serde_json::to_value(&first).unwrap(),
        serde_json::to_value(&resumed).unwrap()
    );

    // Resuming under another configuration is refused before anything is touched.
    let mut other = config.clone();
    other.train.lr *= 2.0;
    match report::run(&other, &device, "ndarray", &out, true, &Silent) {
        Err(AnalysisError::Config { key, .. }) => assert_eq!(key, "--resume"),
        other => panic!("expected a --resume error, got {other:?}"),
    }
    assert_eq!(modified("train-none-0.toml"), kept);
    // Without --resume a run starts afresh.
    report::run(&config, &device, "ndarray", &out, false, &Silent).unwrap();
    assert_ne!(modified("train-none-0.toml"), kept);
    std::fs::remove_dir_all(&out).unwrap();
}

/// `(key, value)` of the configuration error `text` (TOML over the quick preset) causes, checked
/// before any work: the output directory is never created.
fn config_error(text: &str) -> (String, String) {
    let out = temp_dir("bad");
    let result = ReportConfig::from_toml(Scale::Quick, text).and_then(|config| {
        report::run(&config, &Device::ndarray(), "ndarray", &out, false, &Silent)
    });
    assert!(
        !out.exists(),
        "work started before the configuration was checked: {text}"
    );
    match result {
        Err(AnalysisError::Config { key, value, reason }) => {
            eprintln!("{key} = {value}: {reason}");
            (key, value)
        }
        other => panic!("expected a configuration error for {text:?}, got {other:?}"),
    }
}

#[test]
fn bad_configurations_stop_before_any_work_naming_the_key_and_the_value() {
    let unknown_norm = "[[normalizers]]\nlabel = \"x\"\nnorm = { kind = \"batch_nrom\" }\n";
    assert_eq!(
        config_error(unknown_norm),
        ("normalizers[0].norm.kind".into(), "\"batch_nrom\"".into())
    );
    let (key, _) = config_error("[train]\nlearning_rate = 0.1\n");
    assert!(key.starts_with("train"), "{key}");
    assert_eq!(
        config_error("seeds = \"three\"\n"),
        ("seeds".into(), "\"three\"".into())
    );
    assert_eq!(config_error("seeds = 0\n"), ("seeds".into(), "0".into()));
    // Impossible sizes.
    assert_eq!(
        config_error("[network]\nstages = 5\n"),
        ("network.size".into(), "8".into())
    );
    assert_eq!(
        config_error("[network]\nwidth = 0\n"),
        ("network.width".into(), "0".into())
    );
    let groups = "[[normalizers]]\nlabel = \"GN\"\nnorm = { kind = \"group_norm\", groups = 3 }\n";
    assert_eq!(config_error(groups), ("normalizers[0]".into(), "GN".into()));
    let ghost = "[[normalizers]]\nlabel = \"G\"\nnorm = { kind = \"ghost_batch_norm\", virtual_batch_size = 5 }\n";
    assert_eq!(
        config_error(ghost).0,
        "normalizers[0].norm.virtual_batch_size"
    );
    assert_eq!(
        config_error("probe_steps = [0, 400]\n"),
        ("probe_steps".into(), "400".into())
    );
    // Unreadable data.
    let (key, value) =
        config_error("[data]\nkind = \"cifar10\"\ndir = \"/nonexistent/cifar-10-batches-bin\"\n");
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("data.dir", "/nonexistent/cifar-10-batches-bin")
    );
    let empty = temp_dir("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    let (key, value) = config_error(&format!(
        "[data]\nkind = \"mnist\"\ndir = \"{}\"\n",
        empty.display()
    ));
    assert_eq!(
        (key.as_str(), value.as_str()),
        ("data.dir", empty.to_str().unwrap())
    );
    std::fs::remove_dir_all(&empty).unwrap();
    // Not TOML at all.
    assert_eq!(
        config_error("seeds = 3\nseeds = 4\n"),
        ("(TOML syntax)".into(), "line 2: seeds = 4".into())
    );
}

#[test]
fn spearman_matches_the_definition_with_ties() {
    // Ranks (1, 2, 3, 4, 5) and (1, 2, 3.5, 5, 3.5): ρ = 8 / √(10 · 9.5).
    let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]);
    assert!((rho - 8.0 / 95f64.sqrt()).abs() < 1e-12, "{rho}");
    assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
    // A diverged normalizer (infinite) ranks last.
    assert_eq!(spearman(&[1.0, 2.0, 3.0], &[0.1, 0.2, f64::INFINITY]), 1.0);
    assert!(spearman(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
}

/// The experiment runs as the report says it does: a batch larger than the data, a label or a
/// learning rate that cannot name a file are refused before any work, naming the key.
#[test]
fn settings_that_would_silently_change_the_experiment_are_refused() {
    let (key, _) = config_error("[train]\nbatch_size = 100000\n");
    assert_eq!(key, "train.batch_size");
    let (key, _) = config_error("init_batch = 4096\n");
    assert_eq!(key, "init_batch");
    let long = format!(
        "[[normalizers]]\nlabel = \"{}\"\nnorm = {{ kind = \"identity\" }}\n",
        "x".repeat(300)
    );
    assert_eq!(config_error(&long).0, "normalizers[0].label");
    let (key, value) = config_error("[interventions]\nlearning_rates = [0.1, 1e308]\n");
    assert_eq!(key, "interventions.learning_rates[1]");
    assert_eq!(value, "1e308");
}

/// The README's example configuration is one the report takes, and it sets what it says.
#[test]
fn the_readmes_example_configuration_parses_and_sets_its_keys() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```toml\nseeds = 5")
        .expect("the README's TOML example")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let config = ReportConfig::from_toml(Scale::Default, &readme[start..end]).unwrap();
    config.validate(&Device::ndarray()).unwrap();
    let labels: Vec<&str> = config
        .normalizers
        .iter()
        .map(|e| e.label.as_str())
        .collect();
    assert_eq!(labels, ["none", "BatchNorm", "GN(8)"]);
    let iv = &config.interventions;
    assert_eq!(iv.depths, [1, 4, 16, 32]);
    assert_eq!(iv.depth_learning_rates, [0.03, 0.1, 0.3]);
    assert_eq!(iv.budgets, [50, 100, 200]);
    assert_eq!(iv.rank.depths, [2, 8, 32]);
}
