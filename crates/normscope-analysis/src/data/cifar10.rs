//! CIFAR-10 from its binary distribution (`cifar-10-batches-bin`): `data_batch_1.bin` …
//! `data_batch_5.bin` and `test_batch.bin`, each record one label byte and 3072 pixel bytes
//! (the red, green and blue 32×32 planes, row-major). The directory may be
//! `cifar-10-batches-bin` itself or the folder its archive was unpacked in.

use std::path::{Path, PathBuf};

use super::Dataset;
use crate::AnalysisError;

const RECORD: usize = 1 + 3 * 32 * 32;

fn data_error(path: &Path, reason: impl Into<String>) -> AnalysisError {
    AnalysisError::Data {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads one CIFAR-10 binary batch file (pixels scaled to `[0, 1]`).
pub fn read_batch(path: &Path) -> Result<Dataset, AnalysisError> {
    let bytes = std::fs::read(path)
        .map_err(|e| data_error(path, format!("cannot read the CIFAR-10 batch file: {e}")))?;
    parse(path, &bytes)
}

/// The images and labels of a CIFAR-10 binary batch's `bytes` (read from `path`): at least one
/// whole record, labels in `0..=9`; anything else is an [`AnalysisError::Data`] naming `path`.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Dataset, AnalysisError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(data_error(
            path,
            format!(
                "a CIFAR-10 binary batch is a whole number of {RECORD}-byte records, got {} bytes (truncated or not a CIFAR-10 file)",
                bytes.len()
            ),
        ));
    }
    let count = bytes.len() / RECORD;
    let mut images = Vec::with_capacity(count * (RECORD - 1));
    let mut labels = Vec::with_capacity(count);
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0] as usize;
        if label >= 10 {
            return Err(data_error(
                path,
                format!("record {i} has label {label}; CIFAR-10 labels are 0..=9"),
            ));
        }
        labels.push(label);
        images.extend(record[1..].iter().map(|&b| b as f32 / 255.0));
    }
    Ok(Dataset {
        shape: [3, 32, 32],
        classes: 10,
        images,
        labels,
    })
}

/// The folder the archive unpacks to, looked for one level below the directory given.
pub const BATCHES_DIR: &str = "cifar-10-batches-bin";

/// The files the loader reads from `dir` (or from `dir/cifar-10-batches-bin`, where `dir` holds
/// no batch itself): the training batches `data_batch_1.bin` … `data_batch_5.bin` that exist
/// (at least one), then `test_batch.bin`. A missing one is an [`AnalysisError::Data`] naming it.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, AnalysisError> {
    if !dir.is_dir() {
        return Err(data_error(
            dir,
            "not a directory (expected CIFAR-10's `cifar-10-batches-bin` or the folder holding it)",
        ));
    }
    let has_batches = |d: &Path| (1..=5).any(|k| d.join(format!("data_batch_{k}.bin")).is_file());
    let nested = dir.join(BATCHES_DIR);
    let folder = if !has_batches(dir) && has_batches(&nested) {
        nested
    } else {
        dir.to_path_buf()
    };
    let mut paths: Vec<PathBuf> = (1..=5)
        .map(|k| folder.join(format!("data_batch_{k}.bin")))
        .filter(|p| p.is_file())
        .collect();
    if paths.is_empty() {
        return Err(data_error(
            &dir.join("data_batch_1.bin"),
            format!(
                "missing: no CIFAR-10 training batch in the directory or in its {BATCHES_DIR}/"
            ),
        ));
    }
    let test = folder.join("test_batch.bin");
    if !test.is_file() {
        return Err(data_error(&test, "missing: CIFAR-10's test batch"));
    }
    paths.push(test);
    Ok(paths)
}

/// The training set (the `data_batch_k.bin` of [`files`], concatenated) and the test set
/// (`test_batch.bin`).
pub fn load(dir: &Path) -> Result<(Dataset, Dataset), AnalysisError> {
    let mut paths = files(dir)?;
    let test_path = paths.pop().expect("files ends with the test batch");
    let mut train: Option<Dataset> = None;
    for path in &paths {
        let batch = read_batch(path)?;
        match &mut train {
            None => train = Some(batch),
            Some(t) => {
                t.images.extend(batch.images);
                t.labels.extend(batch.labels);
            }
        }
    }
    let train = train.expect("files returns at least one training batch");
    let test = read_batch(&test_path)?;
    Ok((train, test))
}
