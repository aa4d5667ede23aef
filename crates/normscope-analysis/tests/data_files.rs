//! The dataset loaders: on files written here in the real formats, and on crafted and random
//! files (issue 29, items 1 and 3): every input is a dataset or an `AnalysisError::Data` naming
//! the file, never a panic. And the data settings are refused by validation naming the key and
//! the value.
//!
//! The property tests generate IDX and CIFAR-10 inputs around their headers — valid files
//! truncated anywhere, headers announcing other sizes (up to products that overflow `usize`),
//! random bytes — and check the parsers' contract: `Ok` with a consistent dataset, or a typed
//! error naming the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use normscope_analysis::AnalysisError;
use normscope_analysis::data::{DataSource, Dataset, SyntheticConfig, cifar10, idx};
use proptest::prelude::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "normscope-data-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An IDX file of unsigned bytes: the magic number, `dims` as big-endian u32, then `data`.
fn idx_file(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `n` MNIST-shaped images (28×28, pixel = index mod 256) and their labels (`i mod 10`).
fn mnist_split(n: u32) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n as usize * 784).map(|i| i as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    (idx_file(&[n, 28, 28], &pixels), idx_file(&[n], &labels))
}

/// Writes the four MNIST files into `dir`.
fn write_mnist(dir: &Path, train: (Vec<u8>, Vec<u8>), test: (Vec<u8>, Vec<u8>)) {
    for (name, bytes) in idx::FILES.iter().zip([train.0, train.1, test.0, test.1]) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// The path of an `AnalysisError::Data`, or a panic naming what came instead.
fn data_error_path<T: std::fmt::Debug>(result: Result<T, AnalysisError>) -> PathBuf {
    match result {
        Err(AnalysisError::Data { path, reason }) => {
            assert!(!reason.is_empty());
            path
        }
        other => panic!("expected a data error, got {other:?}"),
    }
}

fn config_error<T: std::fmt::Debug>(result: Result<T, AnalysisError>) -> (String, String) {
    match result {
        Err(AnalysisError::Config { key, value, .. }) => (key, value),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

/// The dataset's own invariants: `N` labels in `0..classes`, `N·C·H·W` pixels.
fn check_dataset(d: &Dataset) {
    let [c, h, w] = d.shape;
    assert_eq!(d.images.len(), d.len() * c * h * w);
    assert!(d.labels.iter().all(|&l| l < d.classes));
}

// ---- the loaders on files written here in the real formats ----

fn cifar_records(count: usize, seed: u8) -> Vec<u8> {
    let mut bytes = vec![];
    for i in 0..count {
        bytes.push(((i + seed as usize) % 10) as u8);
        bytes.extend((0..3072).map(|p| ((p * 7 + i * 13 + seed as usize) % 256) as u8));
    }
    bytes
}

#[test]
fn cifar10_loader_reads_the_binary_format_and_names_bad_files() {
    let dir = temp_dir("cifar");
    std::fs::write(dir.join("data_batch_1.bin"), cifar_records(6, 0)).unwrap();
    std::fs::write(dir.join("data_batch_2.bin"), cifar_records(4, 1)).unwrap();
    std::fs::write(dir.join("test_batch.bin"), cifar_records(3, 2)).unwrap();
    let (train, test) = cifar10::load(&dir).unwrap();
    assert_eq!((train.len(), test.len(), train.shape), (10, 3, [3, 32, 32]));
    assert_eq!(train.labels[..6], [0, 1, 2, 3, 4, 5]);
    assert_eq!(train.labels[6..], [1, 2, 3, 4]);
    // Pixel 5 of record 2 of batch 1: (5·7 + 2·13) % 256 = 61, scaled to [0, 1].
    assert!((train.images[2 * 3072 + 5] - 61.0 / 255.0).abs() < 1e-7);
    // A source loads standardized data (per channel mean 0, std 1 on the training set).
    let (std_train, _) = DataSource::Cifar10 { dir: dir.clone() }.load().unwrap();
    for (mean, std) in std_train.channel_stats() {
        assert!(mean.abs() < 1e-5 && (std - 1.0).abs() < 1e-4);
    }

    let mut truncated = cifar_records(2, 0);
    truncated.truncate(3000);
    std::fs::write(dir.join("test_batch.bin"), truncated).unwrap();
    let err = cifar10::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("test_batch.bin") && err.contains("3073-byte records"),
        "{err}"
    );
    let mut bad_label = cifar_records(1, 0);
    bad_label[0] = 42;
    std::fs::write(dir.join("test_batch.bin"), bad_label).unwrap();
    let err = cifar10::load(&dir).unwrap_err().to_string();
    assert!(err.contains("label 42"), "{err}");
    std::fs::remove_file(dir.join("test_batch.bin")).unwrap();
    let err = cifar10::load(&dir).unwrap_err().to_string();
    assert!(err.contains("test_batch.bin"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn idx_loader_reads_raw_and_gzipped_files_and_names_bad_ones() {
    let dir = temp_dir("idx");
    let pixels: Vec<u8> = (0..5 * 4 * 4).map(|i| (i * 3 % 256) as u8).collect();
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx_file(&[5, 4, 4], &pixels),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte.gz"),
        gzip(&idx_file(&[5], &[3, 1, 4, 1, 5])),
    )
    .unwrap();
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte.gz"),
        gzip(&idx_file(&[2, 4, 4], &pixels[..32])),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx_file(&[2], &[9, 0])).unwrap();
    let (train, test) = idx::load(&dir).unwrap();
    assert_eq!((train.len(), test.len(), train.shape), (5, 2, [1, 4, 4]));
    assert_eq!(train.labels, vec![3, 1, 4, 1, 5]);
    assert_eq!(test.labels, vec![9, 0]);
    assert!((train.images[7] - 21.0 / 255.0).abs() < 1e-7);

    // Truncated data, wrong magic, corrupt gzip, label count mismatch: each names its file.
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx_file(&[3], &[9, 0])).unwrap();
    let err = idx::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("t10k-labels-idx1-ubyte") && err.contains("truncated"),
        "{err}"
    );
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        [1u8, 2, 3, 4, 5, 6, 7, 8],
    )
    .unwrap();
    let err = idx::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("t10k-labels-idx1-ubyte") && err.contains("not an IDX file"),
        "{err}"
    );
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        idx_file(&[3], &[9, 0, 1]),
    )
    .unwrap();
    let err = idx::load(&dir).unwrap_err().to_string();
    assert!(err.contains("3 labels for 2 images"), "{err}");
    let mut corrupt = gzip(&idx_file(&[2, 4, 4], &pixels[..32]));
    let len = corrupt.len();
    corrupt[len / 2] ^= 0xff;
    corrupt.truncate(len - 6);
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), corrupt).unwrap();
    let err = idx::load(&dir).unwrap_err().to_string();
    assert!(err.contains("t10k-images-idx3-ubyte.gz"), "{err}");
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let err = idx::load(&dir).unwrap_err();
    assert!(
        matches!(err, AnalysisError::Data { .. }) && err.to_string().contains("missing"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---- regressions: each of these panicked (or loaded nonsense) at 181fd25 ----

#[test]
fn an_idx_header_whose_dimensions_overflow_is_an_error_naming_the_file() {
    // 4 × 2³¹ × 2³¹ = 2⁶⁴ wraps to 0 in a `usize` product: an empty body used to match it.
    let path = Path::new("train-images-idx3-ubyte");
    let bytes = idx_file(&[4, 1 << 31, 1 << 31], &[]);
    assert_eq!(data_error_path(idx::parse(path, &bytes, 3)), path);
    // ... and as a whole directory it panicked in the channel statistics.
    let dir = temp_dir("overflow");
    let (test_images, test_labels) = mnist_split(2);
    write_mnist(
        &dir,
        (bytes, idx_file(&[4], &[0, 1, 2, 3])),
        (test_images, test_labels),
    );
    assert_eq!(
        data_error_path(DataSource::Mnist { dir: dir.clone() }.load()),
        dir.join(idx::FILES[0])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_idx_file_without_images_or_of_another_size_is_an_error_naming_it() {
    let dir = temp_dir("shapes");
    // No training image: the loader returned an empty set (a division by zero later).
    write_mnist(&dir, mnist_split(0), mnist_split(3));
    let source = DataSource::Mnist { dir: dir.clone() };
    assert_eq!(data_error_path(source.load()), dir.join(idx::FILES[0]));
    // Test images of 20×20 beside 28×28 training images: the shapes disagreed silently.
    let pixels = vec![0u8; 3 * 400];
    write_mnist(
        &dir,
        mnist_split(5),
        (idx_file(&[3, 20, 20], &pixels), idx_file(&[3], &[1, 2, 3])),
    );
    assert_eq!(data_error_path(source.load()), dir.join(idx::FILES[2]));
    // 20×20 throughout: the IDX loader reads it, but an MNIST source is 28×28 (the network
    // is validated for that size).
    write_mnist(
        &dir,
        (idx_file(&[3, 20, 20], &pixels), idx_file(&[3], &[1, 2, 3])),
        (idx_file(&[3, 20, 20], &pixels), idx_file(&[3], &[4, 5, 6])),
    );
    assert_eq!(idx::load(&dir).unwrap().0.shape, [1, 20, 20]);
    assert_eq!(data_error_path(source.load()), dir);
    // A well-formed directory loads, gzipped or not.
    let (images, labels) = mnist_split(5);
    write_mnist(&dir, (images.clone(), labels), mnist_split(3));
    std::fs::remove_file(dir.join(idx::FILES[0])).unwrap();
    std::fs::write(dir.join(format!("{}.gz", idx::FILES[0])), gzip(&images)).unwrap();
    let (train, test) = source.load().unwrap();
    assert_eq!((train.len(), test.len(), train.shape), (5, 3, [1, 28, 28]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_synthetic_data_settings_are_refused_naming_the_key_and_the_value() {
    let refused = |edit: fn(&mut SyntheticConfig)| {
        let mut config = SyntheticConfig::default();
        edit(&mut config);
        let by_validate = config_error(DataSource::Synthetic(config.clone()).validate());
        // `load` checks too, so that a library caller gets the error rather than a panic.
        assert_eq!(
            config_error(DataSource::Synthetic(config).load()),
            by_validate
        );
        by_validate
    };
    let key = |k: &str, v: &str| (k.to_string(), v.to_string());
    // Each of these panicked in generation or training at 181fd25 (issue 29, item 1).
    assert_eq!(refused(|c| c.train = 0), key("data.train", "0"));
    assert_eq!(refused(|c| c.classes = 0), key("data.classes", "0"));
    assert_eq!(refused(|c| c.classes = 1), key("data.classes", "1"));
    assert_eq!(refused(|c| c.channels = 0), key("data.channels", "0"));
    assert_eq!(refused(|c| c.noise = f64::NAN), key("data.noise", "NaN"));
    // The other numeric fields, by the same rules.
    assert_eq!(refused(|c| c.train = 1), key("data.train", "1"));
    assert_eq!(refused(|c| c.test = 0), key("data.test", "0"));
    assert_eq!(refused(|c| c.size = 0), key("data.size", "0"));
    assert_eq!(refused(|c| c.noise = -1.0), key("data.noise", "-1"));
    assert_eq!(
        refused(|c| c.noise = f64::INFINITY),
        key("data.noise", "inf")
    );
    assert_eq!(refused(|c| c.noise = 1e308), key("data.noise", "1e308"));
    // A contrast below 1 was silently raised to 1.
    assert_eq!(refused(|c| c.contrast = 0.5), key("data.contrast", "0.5"));
    assert_eq!(
        refused(|c| c.brightness = f64::NEG_INFINITY),
        key("data.brightness", "-inf")
    );
    // Sizes whose images cannot be addressed: refused before any allocation.
    assert_eq!(
        refused(|c| c.size = usize::MAX),
        key("data.size", &usize::MAX.to_string())
    );
    assert_eq!(
        refused(|c| c.train = usize::MAX / 2),
        key("data.train", &(usize::MAX / 2).to_string())
    );
    assert_eq!(
        refused(|c| c.classes = usize::MAX / 2),
        key("data.classes", &(usize::MAX / 2).to_string())
    );
    // Elsewhere in a configuration the key says where the table is.
    assert_eq!(
        config_error(
            DataSource::Synthetic(SyntheticConfig {
                train: 0,
                ..Default::default()
            })
            .validate_at("setup.data")
        ),
        key("setup.data.train", "0")
    );
    // The smallest valid task loads.
    let (train, test) = DataSource::Synthetic(SyntheticConfig {
        classes: 2,
        channels: 1,
        size: 1,
        train: 2,
        test: 1,
        noise: 0.0,
        contrast: 1.0,
        brightness: 0.0,
        seed: 0,
    })
    .load()
    .unwrap();
    assert_eq!((train.len(), test.len(), train.shape), (2, 1, [1, 1, 1]));
    assert!(
        train
            .images
            .iter()
            .chain(&test.images)
            .all(|v| v.is_finite())
    );
}

// ---- properties: any bytes are a dataset or a typed error naming the file ----

/// IDX inputs around the header: a valid file cut anywhere, random dimensions over a short
/// body (products up to ones that overflow), a random magic number, random bytes.
fn idx_input() -> impl Strategy<Value = (Vec<u8>, u8)> {
    let dim = || {
        prop_oneof![
            0u32..4,
            Just(28u32),
            any::<u32>(),
            Just(u32::MAX),
            Just(1u32 << 31),
        ]
    };
    prop_oneof![
        // A valid file truncated (or not) at any length.
        (1u32..4, any::<prop::sample::Index>()).prop_map(|(n, cut)| {
            let (images, _) = mnist_split(n);
            let len = cut.index(images.len() + 1);
            (images[..len].to_vec(), 3)
        }),
        // A header announcing random dimensions over a body of 0..64 bytes.
        (
            prop::collection::vec(dim(), 0..5),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(dims, body)| (idx_file(&dims, &body), 3)),
        (dim(), prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(n, body)| (idx_file(&[n], &body), 1)),
        // A random magic number, element type or dimension count, or no header at all.
        (
            any::<[u8; 4]>(),
            prop::collection::vec(any::<u8>(), 0..40),
            1u8..4
        )
            .prop_map(|(magic, rest, dims)| {
                let mut bytes = magic.to_vec();
                bytes.extend(rest);
                (bytes, dims)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn idx_parse_is_ok_with_consistent_sizes_or_an_error_naming_the_file(
        (bytes, dims) in idx_input()
    ) {
        let path = Path::new("fuzz-idx");
        match idx::parse(path, &bytes, dims) {
            Ok((shape, data)) => {
                prop_assert_eq!(shape.len(), dims as usize);
                prop_assert_eq!(shape.iter().product::<usize>(), data.len());
            }
            Err(e) => prop_assert_eq!(data_error_path(Err::<(), _>(e)), path),
        }
    }

    #[test]
    fn idx_splits_are_a_consistent_dataset_or_an_error_naming_one_of_the_files(
        (images, _) in idx_input(),
        (labels, _) in idx_input(),
    ) {
        let (ip, lp) = (Path::new("images"), Path::new("labels"));
        match idx::images_and_labels(ip, &images, lp, &labels) {
            Ok(d) => {
                check_dataset(&d);
                prop_assert!(!d.is_empty());
            }
            Err(e) => {
                let path = data_error_path(Err::<(), _>(e));
                prop_assert!(path == ip || path == lp, "{}", path.display());
            }
        }
    }

    #[test]
    fn cifar10_batches_are_a_consistent_dataset_or_an_error_naming_the_file(
        records in 0usize..3,
        extra in prop::collection::vec(any::<u8>(), 0..8),
        label in any::<u8>(),
        cut in any::<bool>(),
    ) {
        // Whole records with a (possibly invalid) label, a few stray bytes, or a cut record.
        let mut bytes = vec![];
        for r in 0..records {
            bytes.push(if r == 0 { label } else { (r % 10) as u8 });
            bytes.extend((0..3072).map(|i| i as u8));
        }
        if cut && !bytes.is_empty() {
            bytes.truncate(bytes.len() - 1);
        }
        bytes.extend(extra);
        let path = Path::new("data_batch_1.bin");
        match cifar10::parse(path, &bytes) {
            Ok(d) => {
                check_dataset(&d);
                prop_assert_eq!(d.len() * 3073, bytes.len());
            }
            Err(e) => prop_assert_eq!(data_error_path(Err::<(), _>(e)), path),
        }
    }
}

#[test]
fn random_directories_of_idx_and_cifar10_files_load_or_name_a_file_in_them() {
    // Whole directories through `DataSource::load` (file lookup, gzip, both splits), from a
    // fixed seed: each file valid, truncated, gzipped, a corrupt gzip stream or missing.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let dir = temp_dir("random");
    let check_load = |source: DataSource| match source.load() {
        Ok((train, test)) => {
            check_dataset(&train);
            check_dataset(&test);
        }
        Err(e) => assert!(data_error_path(Err::<(), _>(e)).starts_with(&dir)),
    };
    let variant = || 0u8..6;
    let strategy = (prop::collection::vec(variant(), 4), 1u32..4, any::<u8>());
    for _ in 0..200 {
        let (variants, n, byte) = strategy.new_tree(&mut runner).unwrap().current();
        for entry in std::fs::read_dir(&dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        let (images, labels) = mnist_split(n);
        for ((name, bytes), v) in idx::FILES
            .iter()
            .zip([images.clone(), labels.clone(), images, labels])
            .zip(&variants)
        {
            let (file, content) = match v {
                0 => (name.to_string(), bytes),
                1 => (name.to_string(), bytes[..bytes.len() / 2].to_vec()),
                2 => (format!("{name}.gz"), gzip(&bytes)),
                3 => (format!("{name}.gz"), {
                    let mut z = gzip(&bytes);
                    let mid = z.len() / 2;
                    z[mid] ^= byte | 1;
                    z.truncate(z.len() - 3);
                    z
                }),
                4 => continue,
                _ => (name.to_string(), vec![byte; 7]),
            };
            std::fs::write(dir.join(file), content).unwrap();
        }
        check_load(DataSource::Mnist { dir: dir.clone() });
        for entry in std::fs::read_dir(&dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        let record: Vec<u8> = std::iter::once(byte % 11)
            .chain((0..3072).map(|i| i as u8))
            .collect();
        for (k, v) in variants.iter().enumerate() {
            let name = if k == 3 {
                "test_batch.bin".to_string()
            } else {
                format!("data_batch_{}.bin", k + 1)
            };
            let content = match v {
                0 | 2 => record.repeat(n as usize),
                1 | 3 => record[..1000].to_vec(),
                4 => continue,
                _ => vec![],
            };
            std::fs::write(dir.join(name), content).unwrap();
        }
        check_load(DataSource::Cifar10 { dir: dir.clone() });
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The distributions' spellings (issue 34, item 1): a dot or a dash before `idx`, raw or `.gz`,
/// in the directory or in its `raw/`; CIFAR-10's `cifar-10-batches-bin/` one level down; and
/// the loader says which files it read (`DataSource::files`), the ones it then loads.
#[test]
fn loaders_find_the_distributions_spellings_and_say_which_files_they_read() {
    assert_eq!(
        idx::spellings("train-images-idx3-ubyte"),
        [
            "train-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "train-images.idx3-ubyte",
            "train-images.idx3-ubyte.gz"
        ]
    );
    // Kaggle's dotted names, two gzipped, in torchvision's raw/.
    let dir = temp_dir("spellings");
    let raw = dir.join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let (train, test) = (mnist_split(3), mnist_split(2));
    let names = [
        "train-images.idx3-ubyte",
        "train-labels.idx1-ubyte.gz",
        "t10k-images.idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte",
    ];
    for (name, bytes) in names.iter().zip([train.0, train.1, test.0, test.1]) {
        let bytes = if name.ends_with(".gz") {
            gzip(&bytes)
        } else {
            bytes
        };
        std::fs::write(raw.join(name), bytes).unwrap();
    }
    let source = DataSource::Mnist { dir: dir.clone() };
    let read = source.files().unwrap();
    assert_eq!(read, names.map(|n| raw.join(n)).to_vec());
    let (train, test) = source.load().unwrap();
    assert_eq!((train.len(), test.len()), (3, 2));
    // One file gone: the error names it and the spellings tried.
    std::fs::remove_file(raw.join(names[2])).unwrap();
    let err = source.load().unwrap_err().to_string();
    assert!(
        err.contains("t10k-images-idx3-ubyte") && err.contains("t10k-images.idx3-ubyte.gz"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();

    // CIFAR-10 unpacked as its archive does: the batches one level down.
    let dir = temp_dir("cifar-nested");
    let batches = dir.join(cifar10::BATCHES_DIR);
    std::fs::create_dir_all(&batches).unwrap();
    std::fs::write(batches.join("data_batch_1.bin"), cifar_records(4, 0)).unwrap();
    std::fs::write(batches.join("data_batch_3.bin"), cifar_records(2, 1)).unwrap();
    std::fs::write(batches.join("test_batch.bin"), cifar_records(3, 2)).unwrap();
    let source = DataSource::Cifar10 { dir: dir.clone() };
    assert_eq!(
        source.files().unwrap(),
        ["data_batch_1.bin", "data_batch_3.bin", "test_batch.bin"]
            .map(|n| batches.join(n))
            .to_vec()
    );
    let (train, test) = source.load().unwrap();
    assert_eq!((train.len(), test.len()), (6, 3));
    std::fs::remove_file(batches.join("test_batch.bin")).unwrap();
    assert_eq!(
        data_error_path(source.load()),
        batches.join("test_batch.bin")
    );
    std::fs::remove_dir_all(&dir).ok();
}
