//! Sample similarity (Lubana, Dick & Tanaka 2021, "Beyond BatchNorm"): how alike the batch's
//! samples look at a layer. Larger GroupNorm groups (toward LayerNorm) make samples more similar,
//! which Lubana et al. tie to slower training.
//!
//! With `M` the per-sample ℓ2-normalized flattened activations (`B × d`) and `G = MMᵀ` (`B × B`):
//! - mean pairwise cosine similarity `(1/B) Σ_i (Σ_j G_ij − 1)/(B − 1)`;
//! - stable rank of the Gram matrix `tr(G)/‖G‖₂` (`B` for orthogonal samples, 1 for identical).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::rank_collapse::{singular_values, to_rows};

/// Similarity of the samples of one representation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Similarity {
    /// Mean pairwise cosine similarity.
    pub mean_cosine: f64,
    /// `tr(G)/‖G‖₂` of the cosine Gram matrix.
    pub gram_stable_rank: f64,
}

/// [`Similarity`] of a row-major `rows × cols` matrix (one row per sample), in f64; both
/// measures NaN when an entry is not finite (a diverged representation) or there is no sample
/// or no feature.
pub fn sample_similarity(h: &[f64], rows: usize, cols: usize) -> Similarity {
    assert_eq!(
        h.len(),
        rows * cols,
        "a {rows}×{cols} matrix has {} entries",
        rows * cols
    );
    if rows == 0 || cols == 0 || !h.iter().all(|v| v.is_finite()) {
        return Similarity {
            mean_cosine: f64::NAN,
            gram_stable_rank: f64::NAN,
        };
    }
    let normalized: Vec<f64> = h
        .chunks_exact(cols)
        .flat_map(|row| {
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            row.iter()
                .map(move |v| if norm > 0.0 { v / norm } else { 0.0 })
        })
        .collect();
    let mut gram = vec![0.0; rows * rows];
    for i in 0..rows {
        for j in 0..rows {
            gram[i * rows + j] = (0..cols)
                .map(|k| normalized[i * cols + k] * normalized[j * cols + k])
                .sum();
        }
    }
    let mean_cosine = if rows > 1 {
        (0..rows)
            .map(|i| ((0..rows).map(|j| gram[i * rows + j]).sum::<f64>() - 1.0) / (rows - 1) as f64)
            .sum::<f64>()
            / rows as f64
    } else {
        1.0
    };
    let trace: f64 = (0..rows).map(|i| gram[i * rows + i]).sum();
    let spectral = singular_values(&gram, rows, rows)
        .first()
        .copied()
        .unwrap_or(0.0);
    Similarity {
        mean_cosine,
        gram_stable_rank: if spectral == 0.0 {
            0.0
        } else {
            trace / spectral
        },
    }
}

/// [`sample_similarity`] of a device tensor `[N, ...]`, on the host in f64.
pub fn sample_similarity_of<const D: usize>(h: Tensor<D>) -> Similarity {
    let (values, rows, cols) = to_rows(h);
    sample_similarity(&values, rows, cols)
}
