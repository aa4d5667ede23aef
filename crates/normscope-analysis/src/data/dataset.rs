//! An in-memory image classification dataset.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Images `[N, C, H, W]` (f32, row-major) with their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Per-image shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Number of classes.
    pub classes: usize,
    /// `N·C·H·W` pixel values.
    pub images: Vec<f32>,
    /// `N` labels in `0..classes`.
    pub labels: Vec<usize>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The images at `indices` as `[B, C, H, W]` and their labels as `[B]`.
    pub fn batch(&self, indices: &[usize], device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let len = self.image_len();
        let mut pixels = Vec::with_capacity(indices.len() * len);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            pixels.extend_from_slice(&self.images[i * len..(i + 1) * len]);
            labels.push(self.labels[i] as i64);
        }
        let [c, h, w] = self.shape;
        let images = Tensor::from_data(TensorData::new(pixels, [indices.len(), c, h, w]), device);
        let labels = Tensor::from_data(TensorData::new(labels, [indices.len()]), device);
        (images, labels)
    }

    /// Shuffled mini-batches of `batch_size` indices for epoch `epoch` (the last partial batch is
    /// dropped, so that every batch has the size BatchNorm's statistics were configured for).
    pub fn epoch_batches(&self, batch_size: usize, seed: u64, epoch: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        let mut rng = StdRng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
        order
            .chunks_exact(batch_size.max(1))
            .map(|chunk| chunk.to_vec())
            .collect()
    }

    /// Per-channel mean and standard deviation over the whole dataset.
    pub fn channel_stats(&self) -> Vec<(f64, f64)> {
        let [c, h, w] = self.shape;
        let plane = h * w;
        (0..c)
            .map(|ch| {
                let mut sum = 0.0;
                let mut sq = 0.0;
                for n in 0..self.len() {
                    let start = (n * c + ch) * plane;
                    for &v in &self.images[start..start + plane] {
                        sum += v as f64;
                        sq += (v as f64) * (v as f64);
                    }
                }
                let count = (self.len() * plane) as f64;
                let mean = sum / count;
                (mean, (sq / count - mean * mean).max(0.0).sqrt())
            })
            .collect()
    }

    /// Standardizes every channel with the given `(mean, std)` (e.g. the training set's).
    pub fn standardize(&mut self, stats: &[(f64, f64)]) {
        let [c, h, w] = self.shape;
        let plane = h * w;
        for n in 0..self.len() {
            for (ch, &(mean, std)) in stats.iter().enumerate().take(c) {
                let start = (n * c + ch) * plane;
                for v in &mut self.images[start..start + plane] {
                    *v = ((*v as f64 - mean) / std.max(1e-12)) as f32;
                }
            }
        }
    }
}
