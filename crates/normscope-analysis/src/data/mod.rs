//! Datasets: a synthetic image task generated in-process (the default), and loaders for the
//! standard files of CIFAR-10, MNIST and Fashion-MNIST.

mod dataset;
mod synthetic;

pub use dataset::Dataset;
pub use synthetic::SyntheticConfig;
