//! The one runner behind every experiment example: it applies the shared flags to the
//! experiment's configuration (seeds; data and optimizer for a training experiment), checks it,
//! runs it on the chosen backend with a progress bar, prints its section, and writes into
//! `--out` (default `out/<experiment>`):
//!
//! - `<experiment>.json` — `{ "backend", "config", ...results }`, every number;
//! - `<experiment>.csv` — one row per measurement;
//! - `<figure>.svg` and `<figure>.png` — every figure of the section;
//! - `index.html` and `report.md` — the section as a page, the figures embedded.

use std::path::PathBuf;

use anyhow::{Context, Result};
use normscope_analysis::experiments::{Experiment, Results};
use normscope_analysis::output::{Page, write_csv, write_json};

use super::{Common, Training, progress};

/// Runs `config` (an experiment's configuration with the example's own flags applied) with the
/// shared flags in `common` and, for a training experiment, `training`; returns the output
/// directory.
pub fn run_experiment<E: Experiment>(
    mut config: E,
    common: &Common,
    training: Option<&Training>,
) -> Result<PathBuf> {
    super::steady_state_allocator();
    config.set_seeds(common.seeds, common.seed);
    if let (Some(training), Some(setup)) = (training, config.setup_mut()) {
        training.apply(setup)?;
    }
    config.validate().context("invalid configuration")?;
    let device = common.backend.device()?;
    let out = common.out_dir(E::NAME)?;
    let bar = progress(E::LABEL);
    let results = config
        .run(&device, &bar)
        .with_context(|| format!("{} failed", E::NAME))?;
    bar.finish();

    let section = results.section();
    print!("{}", section.text());
    let csv = results.csv();
    write_csv(
        &out.join(format!("{}.csv", E::NAME)),
        &csv.header,
        &csv.rows,
    )?;
    let mut json = serde_json::to_value(&results).context("serializing the results")?;
    if let serde_json::Value::Object(fields) = &mut json {
        fields.insert("backend".into(), serde_json::to_value(common.backend)?);
    }
    write_json(&out.join(format!("{}.json", E::NAME)), &json)?;
    let title = section.title.clone();
    Page::new(format!("{title} — normscope"), vec![section]).write(&out)?;
    println!("wrote {}", out.display());
    Ok(out)
}
