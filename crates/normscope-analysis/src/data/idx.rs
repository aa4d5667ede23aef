//! MNIST and Fashion-MNIST from their IDX files (raw or gzipped): `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each with or
//! without `.gz`, with a dash or a dot before `idx` (`train-images.idx3-ubyte`, as Kaggle's copies
//! name them), in the directory or in its `raw/` (torchvision's `MNIST/raw`).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Dataset;
use crate::AnalysisError;

fn data_error(path: &Path, reason: impl Into<String>) -> AnalysisError {
    AnalysisError::Data {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The four files, each raw or with `.gz`: training images and labels, test images and labels.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The spellings of one of [`FILES`] that the distributions use, in the order they are tried:
/// a dash or a dot before `idx`, each raw or with `.gz`.
pub fn spellings(name: &str) -> Vec<String> {
    let dotted = match name.rfind("-idx") {
        Some(i) => format!("{}.{}", &name[..i], &name[i + 1..]),
        None => name.to_string(),
    };
    let mut names = vec![];
    for base in [name.to_string(), dotted] {
        for file in [base.clone(), format!("{base}.gz")] {
            if !names.contains(&file) {
                names.push(file);
            }
        }
    }
    names
}

/// The first spelling of `name` (see [`spellings`]) in `dir` or in `dir/raw`.
fn find(dir: &Path, name: &str) -> Result<PathBuf, AnalysisError> {
    for folder in [dir.to_path_buf(), dir.join("raw")] {
        for file in spellings(name) {
            let path = folder.join(file);
            if path.is_file() {
                return Ok(path);
            }
        }
    }
    Err(data_error(
        &dir.join(name),
        format!(
            "missing: none of {} is in the directory or in its raw/",
            spellings(name).join(", ")
        ),
    ))
}

/// The four files the loader reads from `dir`, in the order of [`FILES`]: each found as
/// [`spellings`] lists, in `dir` or `dir/raw`. A missing one is an [`AnalysisError::Data`]
/// naming it and the spellings tried.
pub fn files(dir: &Path) -> Result<[PathBuf; 4], AnalysisError> {
    if !dir.is_dir() {
        return Err(data_error(
            dir,
            "not a directory (expected the four MNIST/Fashion-MNIST IDX files)",
        ));
    }
    Ok([
        find(dir, FILES[0])?,
        find(dir, FILES[1])?,
        find(dir, FILES[2])?,
        find(dir, FILES[3])?,
    ])
}

/// The file's bytes, gunzipped when they start with the gzip magic.
fn read_bytes(path: &Path) -> Result<Vec<u8>, AnalysisError> {
    let bytes = std::fs::read(path).map_err(|e| data_error(path, format!("cannot read: {e}")))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = vec![];
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| data_error(path, format!("corrupt gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Parses an IDX file of unsigned bytes with `expected_dims` dimensions: `(dims, data)`, with
/// `data.len()` the product of `dims`. Any input is either that or an [`AnalysisError::Data`]
/// naming `path`.
pub fn parse(
    path: &Path,
    bytes: &[u8],
    expected_dims: u8,
) -> Result<(Vec<usize>, Vec<u8>), AnalysisError> {
    if bytes.len() < 4 {
        return Err(data_error(
            path,
            format!("too short for an IDX header ({} bytes)", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(data_error(
            path,
            "not an IDX file (the magic number must start with two zero bytes)",
        ));
    }
    if bytes[2] != 0x08 {
        return Err(data_error(
            path,
            format!(
                "IDX element type 0x{:02x}; expected 0x08 (unsigned byte)",
                bytes[2]
            ),
        ));
    }
    if bytes[3] != expected_dims {
        return Err(data_error(
            path,
            format!(
                "IDX file with {} dimensions; expected {expected_dims}",
                bytes[3]
            ),
        ));
    }
    let header = 4 + 4 * expected_dims as usize;
    if bytes.len() < header {
        return Err(data_error(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..expected_dims as usize)
        .map(|d| {
            u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().expect("4 bytes")) as usize
        })
        .collect();
    // Checked: dimensions whose product overflows would otherwise wrap to a small length that
    // the file can match.
    let len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            data_error(
                path,
                format!("the header announces {dims:?}, more values than an address space holds (corrupt)"),
            )
        })?;
    let data = &bytes[header..];
    if data.len() != len {
        return Err(data_error(
            path,
            format!(
                "the header announces {dims:?} = {len} values but the file holds {} (truncated or corrupt)",
                data.len()
            ),
        ));
    }
    Ok((dims, data.to_vec()))
}

fn load_split(images_path: &Path, labels_path: &Path) -> Result<Dataset, AnalysisError> {
    images_and_labels(
        images_path,
        &read_bytes(images_path)?,
        labels_path,
        &read_bytes(labels_path)?,
    )
}

/// A dataset from the (gunzipped) bytes of an images file (`N × H × W`, at least one image of
/// at least one pixel) and of its labels file (`N` labels in `0..=9`); anything else is an
/// [`AnalysisError::Data`] naming the file at fault.
pub fn images_and_labels(
    images_path: &Path,
    images: &[u8],
    labels_path: &Path,
    labels: &[u8],
) -> Result<Dataset, AnalysisError> {
    let (dims, pixels) = parse(images_path, images, 3)?;
    if dims[0] == 0 {
        return Err(data_error(images_path, "the file holds no image"));
    }
    if dims[1] == 0 || dims[2] == 0 {
        return Err(data_error(
            images_path,
            format!("images of {}×{} pixels", dims[1], dims[2]),
        ));
    }
    let (ldims, labels) = parse(labels_path, labels, 1)?;
    if dims[0] != ldims[0] {
        return Err(data_error(
            labels_path,
            format!(
                "{} labels for {} images in {}",
                ldims[0],
                dims[0],
                images_path.display()
            ),
        ));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, l)| **l >= 10) {
        return Err(data_error(
            labels_path,
            format!("label {i} is {l}; expected 0..=9"),
        ));
    }
    Ok(Dataset {
        shape: [1, dims[1], dims[2]],
        classes: 10,
        images: pixels.iter().map(|&b| b as f32 / 255.0).collect(),
        labels: labels.iter().map(|&l| l as usize).collect(),
    })
}

/// `(train, test)` from the four IDX files in `dir` (MNIST and Fashion-MNIST share the names),
/// whose images must have one size.
pub fn load(dir: &Path) -> Result<(Dataset, Dataset), AnalysisError> {
    let [train_images, train_labels, test_images, test_labels] = files(dir)?;
    let train = load_split(&train_images, &train_labels)?;
    let test = load_split(&test_images, &test_labels)?;
    if test.shape != train.shape {
        return Err(data_error(
            &test_images,
            format!(
                "test images of {}×{} beside training images of {}×{}",
                test.shape[1], test.shape[2], train.shape[1], train.shape[2]
            ),
        ));
    }
    Ok((train, test))
}
