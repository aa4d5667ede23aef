//! Where an experiment's data comes from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Dataset, SyntheticConfig, cifar10, idx};
use crate::AnalysisError;

/// A dataset: generated in-process (the default) or read from standard files in a directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataSource {
    /// The synthetic image task.
    Synthetic(SyntheticConfig),
    /// CIFAR-10's binary batches in `dir`.
    Cifar10 {
        /// Directory of `data_batch_*.bin` and `test_batch.bin`.
        dir: PathBuf,
    },
    /// MNIST's IDX files in `dir`.
    Mnist {
        /// Directory of the four IDX files.
        dir: PathBuf,
    },
    /// Fashion-MNIST's IDX files in `dir`.
    FashionMnist {
        /// Directory of the four IDX files.
        dir: PathBuf,
    },
}

impl Default for DataSource {
    fn default() -> Self {
        DataSource::Synthetic(SyntheticConfig::default())
    }
}

impl DataSource {
    /// Checks the values of the data's table, naming a bad one as `data.{field}` (see
    /// [`SyntheticConfig::validate`]); the files of a directory source are checked by
    /// [`DataSource::check`] and read by [`DataSource::load`].
    pub fn validate(&self) -> Result<(), AnalysisError> {
        self.validate_at("data")
    }

    /// [`DataSource::validate`] for a data table at another path of its configuration
    /// (`setup.data` in a training experiment's).
    pub fn validate_at(&self, table: &str) -> Result<(), AnalysisError> {
        match self {
            DataSource::Synthetic(config) => config.validate(table),
            DataSource::Cifar10 { .. }
            | DataSource::Mnist { .. }
            | DataSource::FashionMnist { .. } => Ok(()),
        }
    }

    /// `(train, test)`, every channel standardized with the training set's mean and std. A
    /// file that is missing or corrupt is an [`AnalysisError::Data`] naming it; images of
    /// another shape than [`DataSource::image_shape`] (what the network is built and validated
    /// for), one naming the directory.
    pub fn load(&self) -> Result<(Dataset, Dataset), AnalysisError> {
        let (mut train, mut test) = match self {
            DataSource::Synthetic(config) => config.generate()?,
            DataSource::Cifar10 { dir } => cifar10::load(dir)?,
            DataSource::Mnist { dir } | DataSource::FashionMnist { dir } => {
                let (train, test) = idx::load(dir)?;
                let [c, h, w] = self.image_shape();
                if train.shape != [c, h, w] {
                    return Err(AnalysisError::Data {
                        path: dir.clone(),
                        reason: format!(
                            "images of {}×{}; {} images are {h}×{w}",
                            train.shape[1],
                            train.shape[2],
                            self.name()
                        ),
                    });
                }
                (train, test)
            }
        };
        let stats = train.channel_stats();
        train.standardize(&stats);
        test.standardize(&stats);
        Ok((train, test))
    }

    /// The files [`DataSource::load`] reads, found under the distributions' names (see
    /// [`idx::files`], [`cifar10::files`]); none for the synthetic task. A missing file is an
    /// [`AnalysisError::Data`] naming it.
    pub fn files(&self) -> Result<Vec<PathBuf>, AnalysisError> {
        match self {
            DataSource::Synthetic(_) => Ok(vec![]),
            DataSource::Cifar10 { dir } => cifar10::files(dir),
            DataSource::Mnist { dir } | DataSource::FashionMnist { dir } => {
                Ok(idx::files(dir)?.to_vec())
            }
        }
    }

    /// Checks, without loading them, that the data's files are there and readable (see
    /// [`DataSource::files`]).
    pub fn check(&self) -> Result<(), AnalysisError> {
        for path in self.files()? {
            std::fs::File::open(&path).map_err(|e| AnalysisError::Data {
                path: path.clone(),
                reason: format!("cannot be read: {e}"),
            })?;
        }
        Ok(())
    }

    /// The directory of a file source; `None` for the synthetic task.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match self {
            DataSource::Synthetic(_) => None,
            DataSource::Cifar10 { dir }
            | DataSource::Mnist { dir }
            | DataSource::FashionMnist { dir } => Some(dir),
        }
    }

    /// `[channels, height, width]` of the images.
    pub fn image_shape(&self) -> [usize; 3] {
        match self {
            DataSource::Synthetic(s) => [s.channels, s.size, s.size],
            DataSource::Cifar10 { .. } => [3, 32, 32],
            DataSource::Mnist { .. } | DataSource::FashionMnist { .. } => [1, 28, 28],
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        match self {
            DataSource::Synthetic(s) => s.classes,
            _ => 10,
        }
    }

    /// A short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            DataSource::Synthetic(_) => "synthetic",
            DataSource::Cifar10 { .. } => "CIFAR-10",
            DataSource::Mnist { .. } => "MNIST",
            DataSource::FashionMnist { .. } => "Fashion-MNIST",
        }
    }
}
