//! A synthetic image classification task, generated in-process from a seed, on which
//! normalization visibly matters.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::AnalysisError;
use crate::error::{at_least, in_range, short};

/// The largest `noise`, `contrast` and `brightness` accepted: the pixels are f32, and a scale
/// near `f32::MAX` (3.4·10³⁸) would turn them into ±∞.
pub const MAX_SCALE: f64 = 1e30;

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
    /// Checks every value, naming a bad one as `{table}.{field}` (`data.train`): at least 2
    /// classes (a classification task), 1 channel, an image side of 1, 2 training images (a
    /// batch), 1 test image (the test accuracy); `noise` and `brightness` finite and `≥ 0`,
    /// `contrast` finite and `≥ 1` (the range `[1/contrast, contrast]`), each at most
    /// `MAX_SCALE`; and images that fit in memory's address space (`N·C·size²` f32 values).
    pub fn validate(&self, table: &str) -> Result<(), AnalysisError> {
        let key = |field: &str| format!("{table}.{field}");
        at_least(key("classes"), self.classes, 2)?;
        at_least(key("channels"), self.channels, 1)?;
        at_least(key("size"), self.size, 1)?;
        at_least(key("train"), self.train, 2)?;
        at_least(key("test"), self.test, 1)?;
        for (field, value, low) in [
            ("noise", self.noise, 0.0),
            ("contrast", self.contrast, 1.0),
            ("brightness", self.brightness, 0.0),
        ] {
            in_range(key(field), value, low..)?;
            if value > MAX_SCALE {
                return Err(AnalysisError::config(
                    key(field),
                    short(value),
                    format!(
                        "must be at most {MAX_SCALE:e} (the pixels are f32: larger values overflow to infinity)"
                    ),
                ));
            }
        }
        // Bytes of one image, then of each set of images (the class templates too).
        let too_big = |field: &str, value: usize, what: &str| {
            AnalysisError::config(
                key(field),
                value,
                format!("{what} would not fit in memory's address space"),
            )
        };
        let image = self
            .size
            .checked_mul(self.size)
            .ok_or_else(|| too_big("size", self.size, "a size × size image"))?
            .checked_mul(self.channels)
            .and_then(|v| v.checked_mul(std::mem::size_of::<f32>()))
            .ok_or_else(|| too_big("channels", self.channels, "one image"))?;
        let mut total: usize = 0;
        for (field, count) in [
            ("train", self.train),
            ("test", self.test),
            ("classes", self.classes),
        ] {
            total = count
                .checked_mul(image)
                .and_then(|bytes| bytes.checked_add(total))
                .filter(|&bytes| bytes <= isize::MAX as usize)
                .ok_or_else(|| too_big(field, count, "the images"))?;
        }
        Ok(())
    }

    /// The `(train, test)` datasets, after [`SyntheticConfig::validate`] (keys `data.*`). An
    /// allocation the machine refuses is an [`AnalysisError::Config`] naming `data.train` or
    /// `data.test`.
    pub fn generate(&self) -> Result<(Dataset, Dataset), AnalysisError> {
        self.validate("data")?;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let templates = self.templates(&mut rng);
        let train = self.samples(&templates, "train", self.train, &mut rng)?;
        let test = self.samples(&templates, "test", self.test, &mut rng)?;
        Ok((train, test))
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

    fn samples(
        &self,
        templates: &[Vec<f32>],
        field: &str,
        count: usize,
        rng: &mut StdRng,
    ) -> Result<Dataset, AnalysisError> {
        let (c, s) = (self.channels, self.size);
        let plane = s * s;
        let mut images = Vec::new();
        let mut labels = Vec::new();
        // `validate` bounded the sizes; the machine may still not have the memory.
        images
            .try_reserve_exact(count * c * plane)
            .and_then(|()| labels.try_reserve_exact(count))
            .map_err(|e| {
                AnalysisError::config(
                    format!("data.{field}"),
                    count,
                    format!(
                        "cannot allocate the synthetic images ({count} × {c} × {s} × {s}): {e}"
                    ),
                )
            })?;
        let log_contrast = self.contrast.ln();
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
        Ok(Dataset {
            shape: [c, s, s],
            classes: self.classes,
            images,
            labels,
        })
    }
}
