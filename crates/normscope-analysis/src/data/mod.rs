//! Datasets: a synthetic image task generated in-process (the default), and loaders for the
//! standard files of CIFAR-10 (binary batches) and MNIST / Fashion-MNIST (IDX, raw or gzipped).
//! A missing or corrupt file is an [`AnalysisError::Data`](crate::AnalysisError::Data) naming it.

pub mod cifar10;
mod dataset;
pub mod idx;
mod source;
mod synthetic;

pub use dataset::Dataset;
pub use source::DataSource;
pub use synthetic::SyntheticConfig;
