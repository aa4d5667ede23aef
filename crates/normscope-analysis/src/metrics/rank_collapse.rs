//! Rank collapse (Daneshmand et al. 2020; Daneshmand, Joudaki & Bach 2021): how close the batch's
//! representation `H ∈ R^{N×d}` (one row per sample) at a layer is to rank one.
//!
//! Four measures, from a singular value decomposition in f64 (faer):
//! - **numerical rank**: `#{σ_i > τ}` with `τ = σ_max · max(N, d) · ε_f32` — the representation
//!   was computed in f32, so singular values below f32 rounding of the largest are noise;
//! - **stable rank** `‖H‖_F² / ‖H‖₂² = Σσ_i²/σ_max²`;
//! - **effective rank** `exp(−Σ p_i ln p_i)`, `p_i = σ_i/Σσ_j` (Roy & Vetterli 2007);
//! - **orthogonality gap** `‖HHᵀ/‖H‖_F² − I_N/N‖_F` (Daneshmand et al. 2021): 0 when the samples'
//!   representations are orthogonal and of equal norm, `√(1 − 1/N)` at rank one.
//!
//! A representation with a non-finite entry (a network that diverged at initialization, e.g. a
//! very deep one without normalization) has no rank: every measure is NaN (the numerical rank
//! `None`), a recorded outcome rather than an error.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// The rank measures of one representation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankMeasures {
    /// Singular values above the tolerance (`None` when `H` is not finite).
    pub numerical_rank: Option<usize>,
    /// The tolerance `τ` used for the numerical rank.
    pub tolerance: f64,
    /// `‖H‖_F² / ‖H‖₂²`.
    pub stable_rank: f64,
    /// Exponential of the entropy of the normalized singular values.
    pub effective_rank: f64,
    /// `‖HHᵀ/‖H‖_F² − I/N‖_F`.
    pub orthogonality_gap: f64,
}

/// Singular values (non-increasing) of a row-major `rows × cols` matrix, in f64: `min(rows,
/// cols)` NaNs when an entry is not finite or the SVD does not converge.
pub fn singular_values(h: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    assert_eq!(
        h.len(),
        rows * cols,
        "a {rows}×{cols} matrix has {} entries",
        rows * cols
    );
    if rows == 0 || cols == 0 {
        return vec![];
    }
    if !h.iter().all(|v| v.is_finite()) {
        return vec![f64::NAN; rows.min(cols)];
    }
    let m = faer::Mat::<f64>::from_fn(rows, cols, |i, j| h[i * cols + j]);
    // Sequential, not faer's global (thread-count) parallelism: a seeded unit must give the
    // same bits on a 1-core Slurm task as in a 2-core single-process run.
    let par = faer::Par::Seq;
    let mut s = faer::diag::Diag::<f64>::zeros(rows.min(cols));
    let no = faer::linalg::svd::ComputeSvdVectors::No;
    let scratch =
        faer::linalg::svd::svd_scratch::<f64>(rows, cols, no, no, par, Default::default());
    let converged = faer::linalg::svd::svd(
        m.as_ref(),
        s.as_mut(),
        None,
        None,
        par,
        faer::dyn_stack::MemStack::new(&mut faer::dyn_stack::MemBuffer::new(scratch)),
        Default::default(),
    );
    match converged {
        Ok(()) => s.column_vector().iter().copied().collect(),
        Err(_) => vec![f64::NAN; rows.min(cols)],
    }
}

/// The four rank measures of `H` (`rows` samples × `cols` features, row-major, f64); all NaN
/// (numerical rank `None`) when `H` is not finite.
pub fn rank_measures(h: &[f64], rows: usize, cols: usize) -> RankMeasures {
    let s = singular_values(h, rows, cols);
    if s.iter().any(|v| v.is_nan()) {
        return RankMeasures {
            numerical_rank: None,
            tolerance: f64::NAN,
            stable_rank: f64::NAN,
            effective_rank: f64::NAN,
            orthogonality_gap: f64::NAN,
        };
    }
    let s_max = s.first().copied().unwrap_or(0.0);
    let tolerance = s_max * rows.max(cols) as f64 * f32::EPSILON as f64;
    let numerical_rank = s.iter().filter(|&&v| v > tolerance).count();
    let frobenius_sq: f64 = s.iter().map(|v| v * v).sum();
    let stable_rank = if s_max > 0.0 {
        frobenius_sq / (s_max * s_max)
    } else {
        0.0
    };
    let total: f64 = s.iter().sum();
    let entropy: f64 = s
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| {
            let p = v / total;
            -p * p.ln()
        })
        .sum();
    let effective_rank = if total > 0.0 { entropy.exp() } else { 0.0 };
    RankMeasures {
        numerical_rank: Some(numerical_rank),
        tolerance,
        stable_rank,
        effective_rank,
        orthogonality_gap: orthogonality_gap(h, rows, cols),
    }
}

/// `‖HHᵀ/‖H‖_F² − I_N/N‖_F` in f64 (NaN when `H` is not finite).
pub fn orthogonality_gap(h: &[f64], rows: usize, cols: usize) -> f64 {
    let frob: f64 = h.iter().map(|v| v * v).sum();
    if !frob.is_finite() {
        return f64::NAN;
    }
    if frob == 0.0 {
        return 0.0;
    }
    let mut gap = 0.0;
    for i in 0..rows {
        for j in 0..rows {
            let dot: f64 = (0..cols).map(|k| h[i * cols + k] * h[j * cols + k]).sum();
            let target = if i == j { 1.0 / rows as f64 } else { 0.0 };
            gap += (dot / frob - target).powi(2);
        }
    }
    gap.sqrt()
}

/// A device tensor `[N, ...]` as a row-major f64 matrix `(values, N, d)`.
pub fn to_rows<const D: usize>(h: Tensor<D>) -> (Vec<f64>, usize, usize) {
    let dims = h.dims();
    let rows = dims[0];
    let cols = dims[1..].iter().product();
    let values = h.into_data().iter::<f64>().collect();
    (values, rows, cols)
}

/// [`rank_measures`] of a device tensor `[N, ...]` (flattened per sample), on the host in f64.
pub fn rank_measures_of<const D: usize>(h: Tensor<D>) -> RankMeasures {
    let (values, rows, cols) = to_rows(h);
    rank_measures(&values, rows, cols)
}

/// The stable rank computed on the device in f32: `‖H‖_F²` by a reduction and `‖H‖₂²` by
/// `iterations` steps of power iteration on the Gram matrix `HHᵀ` (or `HᵀH`, the smaller); NaN
/// when `H` is not finite (or its f32 Gram matrix overflows).
pub fn stable_rank_on_device<const D: usize>(h: Tensor<D>, iterations: usize) -> f64 {
    let dims = h.dims();
    let rows = dims[0];
    let cols: usize = dims[1..].iter().product();
    let m = h.reshape([rows, cols]);
    let frobenius_sq = m.clone().square().sum().into_scalar::<f32>() as f64;
    if !frobenius_sq.is_finite() {
        return f64::NAN;
    }
    let gram = if rows <= cols {
        m.clone().matmul(m.transpose())
    } else {
        m.clone().transpose().matmul(m)
    };
    let n = gram.dims()[0];
    let mut v = Tensor::<2>::ones([n, 1], &gram.device()).div_scalar((n as f64).sqrt());
    let mut lambda = 0.0;
    for _ in 0..iterations {
        let w = gram.clone().matmul(v);
        let norm = w.clone().square().sum().sqrt().into_scalar::<f32>() as f64;
        if !norm.is_finite() {
            return f64::NAN;
        }
        if norm == 0.0 {
            return 0.0;
        }
        lambda = norm;
        v = w.div_scalar(norm);
    }
    if lambda > 0.0 {
        frobenius_sq / lambda
    } else {
        0.0
    }
}
