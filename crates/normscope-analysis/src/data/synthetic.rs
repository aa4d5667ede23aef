//! A synthetic image classification task, generated in-process from a seed, on which
//! normalization visibly matters.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::Dataset;

/// Configuration of the synthetic task.
///
/// Each class has a smooth template image (a sum of random plane waves per channel). A sample is
/// its class template times a random contrast, plus a random brightness offset and pixel noise.
/// [`DataSource::load`](super::DataSource::load) standardizes every channel over the training set,
/// as is usual for image data, so what a network has to cope with is the per-sample contrast and
/// brightness and the noise: a deep network without normalization trains visibly slower on it
/// (see `tests/analysis_training.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticConfig {
    /// Number of classes. Default 10.
    pub classes: usize,
    /// Channels per image. Default 3.
    pub channels: usize,
    /// Image side (images are `size × size`). Default 16.
    pub size: usize,
    /// Training images. Default 4096.
    pub train: usize,
    /// Test images. Default 1024.
    pub test: usize,
    /// Standard deviation of the pixel noise, relative to the template's. Default 1.0.
    pub noise: f64,
    /// Per-sample contrast is drawn log-uniformly in `[1/contrast, contrast]`. Default 3.
    pub contrast: f64,
    /// Standard deviation of the per-sample brightness offset. Default 1.0.
    pub brightness: f64,
    /// Seed of the templates and samples.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            classes: 10,
            channels: 3,
            size: 16,
            train: 4096,
            test: 1024,
            noise: 1.0,
            contrast: 3.0,
            brightness: 1.0,
            seed: 0,
        }
    }
}

impl SyntheticConfig {
    /// The `(train, test)` datasets.
    pub fn generate(&self) -> (Dataset, Dataset) {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let templates = self.templates(&mut rng);
        let train = self.samples(&templates, self.train, &mut rng);
        let test = self.samples(&templates, self.test, &mut rng);
        (train, test)
    }

    fn templates(&self, rng: &mut StdRng) -> Vec<Vec<f32>> {
        let (c, s) = (self.channels, self.size);
        (0..self.classes)
            .map(|_| {
                let mut image = vec![0.0f32; c * s * s];
                for ch in 0..c {
                    for _ in 0..3 {
                        let (fx, fy): (f64, f64) =
                            (rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0));
                        let phase: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                        let amp: f64 = rng.random_range(0.5..1.0);
                        for y in 0..s {
                            for x in 0..s {
                                let t = std::f64::consts::TAU * (fx * x as f64 + fy * y as f64)
                                    / s as f64;
                                image[(ch * s + y) * s + x] += (amp * (t + phase).sin()) as f32;
                            }
                        }
                    }
                }
                image
            })
            .collect()
    }

    fn samples(&self, templates: &[Vec<f32>], count: usize, rng: &mut StdRng) -> Dataset {
        let (c, s) = (self.channels, self.size);
        let plane = s * s;
        let mut images = Vec::with_capacity(count * c * plane);
        let mut labels = Vec::with_capacity(count);
        let log_contrast = self.contrast.max(1.0).ln();
        for _ in 0..count {
            let label = rng.random_range(0..self.classes);
            let contrast = (rng.random_range(-log_contrast..=log_contrast)).exp();
            let offset: f64 = rng.sample::<f64, _>(StandardNormal) * self.brightness;
            for ch in 0..c {
                for p in 0..plane {
                    let noise: f64 = rng.sample::<f64, _>(StandardNormal) * self.noise;
                    let v = templates[label][ch * plane + p] as f64 * contrast + offset + noise;
                    images.push(v as f32);
                }
            }
            labels.push(label);
        }
        Dataset {
            shape: [c, s, s],
            classes: self.classes,
            images,
            labels,
        }
    }
}
