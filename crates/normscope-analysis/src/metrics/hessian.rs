//! The Hessian of the loss (PyHessian, Yao et al. 2020): its top eigenvalue by power iteration
//! and its trace by Hutchinson's estimator, from Hessian-vector products.
//!
//! `Hv` is a central finite difference of gradients, `(∇L(w + εv) − ∇L(w − εv)) / 2ε` with
//! `‖v‖ = 1` (works on every backend; burn has no double backward). Power iteration: `v ← Hv/‖Hv‖`
//! until the Rayleigh quotient `vᵀHv` changes by less than `tol` relatively (PyHessian: 100
//! iterations, tol 10⁻³). Hutchinson: `tr H ≈ mean_k v_kᵀ H v_k` with Rademacher `v_k`. Whether
//! the network's normalizers ran in train or eval mode is recorded: PyHessian calls
//! `model.eval()` (running statistics); Santurkar et al.'s landscape uses batch statistics.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::train::{Objective, axpy, dot, norm};

/// Finite-difference step of the Hessian-vector product (unit direction).
pub const FD_STEP: f64 = 1e-3;

/// `H(w) v` by a central difference of gradients (any `v`; the step is `FD_STEP/‖v‖`).
pub fn hessian_vector(
    objective: &mut dyn Objective,
    w: &[f64],
    v: &[f64],
) -> Result<Vec<f64>, AnalysisError> {
    let scale = norm(v);
    if scale == 0.0 {
        return Ok(vec![0.0; v.len()]);
    }
    let eps = FD_STEP / scale;
    let (_, plus) = objective.evaluate(&axpy(w, eps, v))?;
    let (_, minus) = objective.evaluate(&axpy(w, -eps, v))?;
    Ok(plus
        .iter()
        .zip(&minus)
        .map(|(a, b)| (a - b) / (2.0 * eps))
        .collect())
}

/// The dominant eigenvalue found by power iteration, with the iterations it took.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TopEigenvalue {
    /// The Rayleigh quotient at convergence.
    pub value: f64,
    /// Iterations used.
    pub iterations: usize,
    /// Whether the relative change fell below the tolerance.
    pub converged: bool,
}

/// Power iteration on `H(w)` from a seeded random start.
pub fn top_eigenvalue(
    objective: &mut dyn Objective,
    w: &[f64],
    max_iterations: usize,
    tol: f64,
    seed: u64,
) -> Result<TopEigenvalue, AnalysisError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v: Vec<f64> = (0..w.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
    let n = norm(&v);
    v.iter_mut().for_each(|x| *x /= n);
    let mut value = f64::NAN;
    for iteration in 1..=max_iterations {
        let hv = hessian_vector(objective, w, &v)?;
        let next = dot(&v, &hv);
        let hv_norm = norm(&hv);
        if hv_norm == 0.0 {
            return Ok(TopEigenvalue {
                value: 0.0,
                iterations: iteration,
                converged: true,
            });
        }
        v = hv.iter().map(|x| x / hv_norm).collect();
        if value.is_finite() && (next - value).abs() <= tol * value.abs().max(1e-12) {
            return Ok(TopEigenvalue {
                value: next,
                iterations: iteration,
                converged: true,
            });
        }
        value = next;
    }
    Ok(TopEigenvalue {
        value,
        iterations: max_iterations,
        converged: false,
    })
}

/// Hutchinson's trace estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TraceEstimate {
    /// `mean_k v_kᵀ H v_k`.
    pub value: f64,
    /// Standard error of the mean.
    pub std_error: f64,
    /// Samples used.
    pub samples: usize,
}

/// Hutchinson's estimator with `samples` Rademacher probes.
pub fn hutchinson_trace(
    objective: &mut dyn Objective,
    w: &[f64],
    samples: usize,
    seed: u64,
) -> Result<TraceEstimate, AnalysisError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(samples);
    for _ in 0..samples {
        let v: Vec<f64> = (0..w.len())
            .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
            .collect();
        let hv = hessian_vector(objective, w, &v)?;
        values.push(dot(&v, &hv));
    }
    let mean = values.iter().sum::<f64>() / samples as f64;
    let var = if samples > 1 {
        values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (samples - 1) as f64
    } else {
        0.0
    };
    Ok(TraceEstimate {
        value: mean,
        std_error: (var / samples as f64).sqrt(),
        samples,
    })
}
