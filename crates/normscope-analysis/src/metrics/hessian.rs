//! The Hessian of the loss (PyHessian, Yao et al. 2020; Ghorbani, Krishnan & Xiao 2019): its
//! top eigenvalues by power iteration with deflation, its trace by Hutchinson's estimator and its
//! eigenvalue spectral density by stochastic Lanczos quadrature — all from Hessian-vector
//! products, on one batch or averaged over several, for the whole network or restricted to one
//! block's parameters.
//!
//! **Hessian-vector products** ([`HessianVectorProduct`]):
//! - [`FiniteDifference`]: `Hv ≈ (∇L(w + εv) − ∇L(w − εv)) / 2ε` with `ε = FD_STEP/‖v‖`, two
//!   gradient evaluations; works on every backend (burn has no double backward). Its error is
//!   the f32 rounding of the gradients amplified by `1/ε`, plus — in a ReLU (or max-pool)
//!   network — the jump of the gradient wherever a unit changes sign between `w − εv` and
//!   `w + εv`, divided by `2ε`: measured against the exact products (`tests/landscape.rs`,
//!   docs/metrics.md), `ε = 10⁻³` gives errors of 1× to 100× `‖Hv‖` on the zoo's ReLU ResNets
//!   and VGGs at initialization; `FD_STEP = 3·10⁻⁵` crosses almost no kink and leaves 3–11 %
//!   of rounding error;
//! - `ExactHessian` (`metrics::hessian_tch`, feature `tch`): double backward through libtorch's
//!   autograd, PyHessian's `torch.autograd.grad(gradsH, params, grad_outputs=v)`;
//! - [`BatchAverage`]: `Σ_b n_b H_b v / Σ_b n_b`, PyHessian's `dataloader_hv_product` (the
//!   Hessian of the loss over several batches);
//! - [`Restricted`]: `H_BB v_B`, the Hessian restricted to the parameters of one block `B` (a mask
//!   on the flat vector: `v` is zero outside `B`, and only `B`'s rows are kept).
//!
//! **Top-k eigenvalues** ([`top_eigenvalues`], PyHessian's `eigenvalues(top_n)`): power iteration
//! from a Gaussian start; before every product `v` is orthogonalised against the eigenvectors
//! already found (deflation) and normalised; stop when the Rayleigh quotient `vᵀHv` changes by
//! less than `tol·(|λ| + 10⁻⁶)` (PyHessian: 100 iterations, tol 10⁻³). It finds the eigenvalues
//! of largest magnitude, which at a minimum are the largest.
//!
//! **Trace** ([`trace`]): Hutchinson, `tr H ≈ mean_k v_kᵀ H v_k` with Rademacher `v_k`.
//!
//! **Spectral density** ([`spectral_density`], PyHessian's `density(iter, n_v)`): `m` steps of
//! Lanczos with full reorthogonalisation from a normalised Rademacher `v` give a tridiagonal
//! `T_m = Q_mᵀ H Q_m`; with `T_m = Σ_j θ_j u_j u_jᵀ`, the nodes `θ_j` and weights
//! `τ_j = (u_j)_1²` are the Gauss quadrature of `vᵀ f(H) v` (exact for polynomials of degree
//! `≤ 2m − 1`), so `Σ_j τ_j θ_j^k = vᵀH^k v`, whose expectation is `tr(H^k)/n`. The density is
//! `ρ(t) = mean_runs Σ_j τ_j N(t; θ_j, σ²)` with PyHessian's `σ² = 10⁻⁵·max(1, λ_max − λ_min)`,
//! normalised to integrate to 1 on its grid ([`SpectralDensity::broadened`]).
//!
//! Whether the network's normalizers ran in train or eval mode is the caller's: PyHessian calls
//! `model.eval()` (running statistics); Santurkar et al.'s landscape uses batch statistics.

use std::ops::Range;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::train::{Objective, Quadratic, axpy, dot, norm};

/// Finite-difference step of the Hessian-vector product (unit direction): small enough that
/// ReLU kinks are rarely crossed, large enough that f32 gradients keep ~1 significant digit
/// more than their rounding (module docs; `FiniteDifference::with_step` for smooth networks).
pub const FD_STEP: f64 = 3e-5;

/// `H(w) v` by a central difference of gradients (any `v`; the step is `FD_STEP/‖v‖`).
pub fn hessian_vector(
    objective: &mut dyn Objective,
    w: &[f64],
    v: &[f64],
) -> Result<Vec<f64>, AnalysisError> {
    central_difference(objective, w, v, FD_STEP)
}

/// `H(w) v ≈ (∇L(w + εv) − ∇L(w − εv)) / 2ε` with `ε = step/‖v‖`.
fn central_difference(
    objective: &mut dyn Objective,
    w: &[f64],
    v: &[f64],
    step: f64,
) -> Result<Vec<f64>, AnalysisError> {
    let scale = norm(v);
    if scale == 0.0 {
        return Ok(vec![0.0; v.len()]);
    }
    let eps = step / scale;
    let (_, plus) = objective.evaluate(&axpy(w, eps, v))?;
    let (_, minus) = objective.evaluate(&axpy(w, -eps, v))?;
    Ok(plus
        .iter()
        .zip(&minus)
        .map(|(a, b)| (a - b) / (2.0 * eps))
        .collect())
}

/// A symmetric operator `v ↦ Hv` on `R^dim`: the Hessian of a loss at a point.
pub trait HessianVectorProduct {
    /// `n`, the number of parameters.
    fn dim(&self) -> usize;
    /// `Hv` for `v ∈ R^n`.
    fn apply(&mut self, v: &[f64]) -> Result<Vec<f64>, AnalysisError>;
}

/// The Hessian of `objective` at `point` by central differences of its gradient
/// ([`hessian_vector`]): two gradient evaluations per product.
pub struct FiniteDifference<O> {
    objective: O,
    point: Vec<f64>,
    step: f64,
}

impl<O: Objective> FiniteDifference<O> {
    /// The Hessian of `objective` at `point`, differences over `±FD_STEP` along unit vectors.
    pub fn new(objective: O, point: Vec<f64>) -> FiniteDifference<O> {
        assert_eq!(objective.dim(), point.len(), "a point of the wrong length");
        FiniteDifference {
            objective,
            point,
            step: FD_STEP,
        }
    }

    /// The same with differences over `±step` along unit vectors.
    pub fn with_step(mut self, step: f64) -> FiniteDifference<O> {
        assert!(
            step.is_finite() && step > 0.0,
            "a finite-difference step > 0"
        );
        self.step = step;
        self
    }
}

impl<O: Objective> HessianVectorProduct for FiniteDifference<O> {
    fn dim(&self) -> usize {
        self.point.len()
    }

    fn apply(&mut self, v: &[f64]) -> Result<Vec<f64>, AnalysisError> {
        central_difference(&mut self.objective, &self.point, v, self.step)
    }
}

/// A borrowed objective as an owned one (for [`FiniteDifference`] over `&mut dyn Objective`).
struct Borrowed<'a>(&'a mut dyn Objective);

impl Objective for Borrowed<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }

    fn evaluate(&mut self, w: &[f64]) -> Result<(f64, Vec<f64>), AnalysisError> {
        self.0.evaluate(w)
    }
}

/// A quadratic's Hessian is `A` everywhere: the exact product, for the checks on known spectra.
impl HessianVectorProduct for Quadratic {
    fn dim(&self) -> usize {
        self.center.len()
    }

    fn apply(&mut self, v: &[f64]) -> Result<Vec<f64>, AnalysisError> {
        Ok(Quadratic::apply(self, v))
    }
}

/// The Hessian of the loss over several batches, `Σ_b n_b H_b v / Σ_b n_b` (PyHessian's
/// `dataloader_hv_product`, weighted by the batch sizes `n_b`).
pub struct BatchAverage<H> {
    parts: Vec<(H, f64)>,
}

impl<H: HessianVectorProduct> BatchAverage<H> {
    /// The average of `parts`, each `(Hessian of one batch, its number of samples)`.
    pub fn new(parts: Vec<(H, usize)>) -> BatchAverage<H> {
        assert!(!parts.is_empty(), "an average over no batch");
        let dim = parts[0].0.dim();
        assert!(
            parts.iter().all(|(h, _)| h.dim() == dim),
            "batches of different parameter counts"
        );
        BatchAverage {
            parts: parts.into_iter().map(|(h, n)| (h, n as f64)).collect(),
        }
    }
}

impl<H: HessianVectorProduct> HessianVectorProduct for BatchAverage<H> {
    fn dim(&self) -> usize {
        self.parts[0].0.dim()
    }

    fn apply(&mut self, v: &[f64]) -> Result<Vec<f64>, AnalysisError> {
        let total: f64 = self.parts.iter().map(|(_, n)| n).sum();
        let mut sum = vec![0.0; v.len()];
        for (h, n) in &mut self.parts {
            for (s, x) in sum.iter_mut().zip(h.apply(v)?) {
                *s += *n * x / total;
            }
        }
        Ok(sum)
    }
}

/// `H_BB`: the Hessian restricted to the coordinates `B` (a union of index ranges of the flat
/// vector, e.g. one block's parameters, `ParamLayout::blocks`). `H_BB v_B` is the `B` rows of
/// `H [v_B; 0]`, so it costs one product of the full Hessian.
pub struct Restricted<'a> {
    inner: &'a mut dyn HessianVectorProduct,
    ranges: Vec<Range<usize>>,
}

impl<'a> Restricted<'a> {
    /// `inner` restricted to `ranges` (disjoint, in order, within `0..inner.dim()`).
    pub fn new(
        inner: &'a mut dyn HessianVectorProduct,
        ranges: Vec<Range<usize>>,
    ) -> Restricted<'a> {
        let n = inner.dim();
        assert!(
            ranges.windows(2).all(|w| w[0].end <= w[1].start)
                && ranges.iter().all(|r| r.start <= r.end && r.end <= n),
            "the ranges of a restriction are disjoint, in order and inside 0..{n}"
        );
        Restricted { inner, ranges }
    }
}

impl HessianVectorProduct for Restricted<'_> {
    fn dim(&self) -> usize {
        self.ranges.iter().map(|r| r.len()).sum()
    }

    fn apply(&mut self, v: &[f64]) -> Result<Vec<f64>, AnalysisError> {
        let mut full = vec![0.0; self.inner.dim()];
        let mut at = 0;
        for r in &self.ranges {
            full[r.clone()].copy_from_slice(&v[at..at + r.len()]);
            at += r.len();
        }
        let hv = self.inner.apply(&full)?;
        Ok(self
            .ranges
            .iter()
            .flat_map(|r| hv[r.clone()].iter().copied())
            .collect())
    }
}

/// One eigenvalue found by power iteration, with the iterations (Hessian-vector products) it
/// took.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TopEigenvalue {
    /// The Rayleigh quotient at convergence.
    pub value: f64,
    /// Iterations used.
    pub iterations: usize,
    /// Whether the relative change fell below the tolerance.
    pub converged: bool,
}

/// `v` minus its projections on the orthonormal `basis`, normalised (zero when nothing is left).
fn orthonormalize(mut v: Vec<f64>, basis: &[Vec<f64>]) -> Vec<f64> {
    // Twice ("twice is enough", Kahan–Parlett): one pass loses orthogonality to rounding.
    for _ in 0..2 {
        for u in basis {
            let d = dot(&v, u);
            v.iter_mut().zip(u).for_each(|(x, y)| *x -= d * y);
        }
    }
    let n = norm(&v);
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

fn gaussian(n: usize, rng: &mut StdRng) -> Vec<f64> {
    (0..n)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect()
}

fn rademacher(n: usize, rng: &mut StdRng) -> Vec<f64> {
    (0..n)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect()
}

/// The `k` eigenvalues of largest magnitude by power iteration with deflation (PyHessian's
/// `eigenvalues(maxIter, tol, top_n)`), each with its eigenvector. Cost: at most
/// `k · max_iterations` Hessian-vector products (the sum of the returned `iterations`).
pub fn top_eigenpairs(
    h: &mut dyn HessianVectorProduct,
    k: usize,
    max_iterations: usize,
    tol: f64,
    seed: u64,
) -> Result<Vec<(TopEigenvalue, Vec<f64>)>, AnalysisError> {
    let n = h.dim();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut found: Vec<(TopEigenvalue, Vec<f64>)> = vec![];
    for _ in 0..k.min(n) {
        let basis: Vec<Vec<f64>> = found.iter().map(|(_, u)| u.clone()).collect();
        let mut v = orthonormalize(gaussian(n, &mut rng), &basis);
        let mut value: Option<f64> = None;
        let mut result = None;
        for iteration in 1..=max_iterations {
            v = orthonormalize(v, &basis);
            let hv = h.apply(&v)?;
            let next = dot(&v, &hv);
            let hv_norm = norm(&hv);
            if hv_norm == 0.0 {
                result = Some(TopEigenvalue {
                    value: 0.0,
                    iterations: iteration,
                    converged: true,
                });
                break;
            }
            v = hv.iter().map(|x| x / hv_norm).collect();
            if let Some(previous) = value
                && (next - previous).abs() < tol * (previous.abs() + 1e-6)
            {
                result = Some(TopEigenvalue {
                    value: next,
                    iterations: iteration,
                    converged: true,
                });
                break;
            }
            value = Some(next);
        }
        let top = result.unwrap_or(TopEigenvalue {
            value: value.unwrap_or(f64::NAN),
            iterations: max_iterations,
            converged: false,
        });
        let u = orthonormalize(v, &basis);
        found.push((top, u));
    }
    Ok(found)
}

/// The `k` eigenvalues of largest magnitude ([`top_eigenpairs`] without the vectors).
pub fn top_eigenvalues(
    h: &mut dyn HessianVectorProduct,
    k: usize,
    max_iterations: usize,
    tol: f64,
    seed: u64,
) -> Result<Vec<TopEigenvalue>, AnalysisError> {
    Ok(top_eigenpairs(h, k, max_iterations, tol, seed)?
        .into_iter()
        .map(|(t, _)| t)
        .collect())
}

/// Power iteration on `H(w)` of `objective` by finite differences, from a seeded random start.
pub fn top_eigenvalue(
    objective: &mut dyn Objective,
    w: &[f64],
    max_iterations: usize,
    tol: f64,
    seed: u64,
) -> Result<TopEigenvalue, AnalysisError> {
    let mut h = FiniteDifference::new(Borrowed(objective), w.to_vec());
    Ok(top_eigenvalues(&mut h, 1, max_iterations, tol, seed)?[0])
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

/// Hutchinson's estimator with `samples` Rademacher probes: `samples` Hessian-vector products.
pub fn trace(
    h: &mut dyn HessianVectorProduct,
    samples: usize,
    seed: u64,
) -> Result<TraceEstimate, AnalysisError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(samples);
    for _ in 0..samples {
        let v = rademacher(h.dim(), &mut rng);
        let hv = h.apply(&v)?;
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

/// Hutchinson's estimator of `H(w)` of `objective` by finite differences.
pub fn hutchinson_trace(
    objective: &mut dyn Objective,
    w: &[f64],
    samples: usize,
    seed: u64,
) -> Result<TraceEstimate, AnalysisError> {
    trace(
        &mut FiniteDifference::new(Borrowed(objective), w.to_vec()),
        samples,
        seed,
    )
}

/// The Gauss quadrature of one Lanczos run: nodes `θ_j` (the Ritz values, nondecreasing) and
/// weights `τ_j` (`Σ τ_j = 1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quadrature {
    /// `θ_j`.
    pub nodes: Vec<f64>,
    /// `τ_j`.
    pub weights: Vec<f64>,
}

impl Quadrature {
    /// `Σ_j τ_j θ_j^k = vᵀH^k v` (for `k ≤ 2m − 1`).
    pub fn moment(&self, k: i32) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(t, w)| w * t.powi(k))
            .sum()
    }
}

/// The eigenvalue spectral density by stochastic Lanczos quadrature: one [`Quadrature`] per
/// random start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralDensity {
    /// The parameters `n` (what `tr H / n` is per).
    pub dim: usize,
    /// One per run.
    pub runs: Vec<Quadrature>,
}

impl SpectralDensity {
    /// `mean_runs Σ_j τ_j θ_j^k`, an estimate of `tr(H^k)/n`: `k = 1` the mean eigenvalue,
    /// `k = 2` the mean squared eigenvalue `Σλ²/n`.
    pub fn moment(&self, k: i32) -> f64 {
        self.runs.iter().map(|q| q.moment(k)).sum::<f64>() / self.runs.len().max(1) as f64
    }

    /// The smallest and largest Ritz values over runs (the extremes of the spectrum, which
    /// Lanczos finds first).
    pub fn range(&self) -> (f64, f64) {
        let nodes = self.runs.iter().flat_map(|q| q.nodes.iter().copied());
        nodes.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
            (lo.min(t), hi.max(t))
        })
    }

    /// PyHessian's `density_generate`: `bins` points on `[λ_min − 0.01, λ_max + 0.01]` (the
    /// extremes averaged over runs), each node broadened to a Gaussian of variance
    /// `variance·max(1, λ_max − λ_min)` (PyHessian: `10⁻⁵`), averaged over runs and normalised
    /// to integrate to 1 on the grid. Returns `(t, ρ(t))`.
    pub fn broadened(&self, bins: usize, variance: f64) -> Vec<(f64, f64)> {
        if self.runs.is_empty() || bins < 2 {
            return vec![];
        }
        let runs = self.runs.len() as f64;
        let mean_of = |f: fn(&Quadrature) -> f64| self.runs.iter().map(f).sum::<f64>() / runs;
        let hi = mean_of(|q| q.nodes.iter().copied().fold(f64::NEG_INFINITY, f64::max)) + 0.01;
        let lo = mean_of(|q| q.nodes.iter().copied().fold(f64::INFINITY, f64::min)) - 0.01;
        let s2 = variance * (hi - lo).max(1.0);
        let step = (hi - lo) / (bins - 1) as f64;
        let grid: Vec<f64> = (0..bins).map(|i| lo + step * i as f64).collect();
        let c = 1.0 / (2.0 * std::f64::consts::PI * s2).sqrt();
        let density: Vec<f64> = grid
            .iter()
            .map(|&t| {
                self.runs
                    .iter()
                    .map(|q| {
                        q.nodes
                            .iter()
                            .zip(&q.weights)
                            .map(|(theta, w)| w * c * (-(t - theta).powi(2) / (2.0 * s2)).exp())
                            .sum::<f64>()
                    })
                    .sum::<f64>()
                    / runs
            })
            .collect();
        let total: f64 = density.iter().sum::<f64>() * step;
        grid.into_iter()
            .zip(density)
            .map(|(t, d)| (t, if total > 0.0 { d / total } else { 0.0 }))
            .collect()
    }
}

/// The tridiagonal `T_m` of `m` Lanczos steps with full reorthogonalisation from the unit vector
/// `v` (PyHessian's `density` loop): `(α, β)`, `α` its diagonal and `β` its off-diagonal. Stops
/// early when the Krylov space is invariant (`β_j ≤ 10⁻¹⁰·max|α|`), where the quadrature is
/// already exact. Cost: `m` Hessian-vector products.
pub fn lanczos(
    h: &mut dyn HessianVectorProduct,
    v: Vec<f64>,
    m: usize,
) -> Result<(Vec<f64>, Vec<f64>), AnalysisError> {
    let (mut alpha, mut beta) = (vec![], vec![]);
    let mut basis: Vec<Vec<f64>> = vec![v];
    let mut w = vec![];
    for step in 0..m.min(h.dim()) {
        if step > 0 {
            let b = norm(&w);
            let scale = alpha.iter().fold(0.0_f64, |a: f64, x: &f64| a.max(x.abs()));
            if b <= 1e-10 * scale.max(f64::MIN_POSITIVE) {
                break;
            }
            beta.push(b);
            let next = orthonormalize(w, &basis);
            basis.push(next);
        }
        let q = basis.last().expect("a Lanczos vector");
        let hq = h.apply(q)?;
        let a = dot(&hq, q);
        alpha.push(a);
        w = axpy(&hq, -a, q);
        if step > 0 {
            w = axpy(&w, -beta[step - 1], &basis[step - 1]);
        }
    }
    Ok((alpha, beta))
}

/// The eigen-decomposition of the symmetric tridiagonal `(α, β)`: Ritz values (nondecreasing)
/// and the squared first components of their unit eigenvectors.
pub fn tridiagonal_quadrature(alpha: &[f64], beta: &[f64]) -> Quadrature {
    let m = alpha.len();
    if m <= 1 {
        // faer's decomposition wants n ≥ 2; a 1×1 `T` is its own node with weight 1.
        return Quadrature {
            nodes: alpha.to_vec(),
            weights: vec![1.0; m],
        };
    }
    let t = faer::Mat::<f64>::from_fn(m, m, |i, j| {
        if i == j {
            alpha[i]
        } else if i == j + 1 {
            beta[j]
        } else if j == i + 1 {
            beta[i]
        } else {
            0.0
        }
    });
    // Sequential, as in `rank_collapse::singular_values`: the same bits on any thread count.
    let par = faer::Par::Seq;
    let mut s = faer::diag::Diag::<f64>::zeros(m);
    let mut u = faer::Mat::<f64>::zeros(m, m);
    let yes = faer::linalg::evd::ComputeEigenvectors::Yes;
    let scratch =
        faer::linalg::evd::self_adjoint_evd_scratch::<f64>(m, yes, par, Default::default());
    faer::linalg::evd::self_adjoint_evd(
        t.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        par,
        faer::dyn_stack::MemStack::new(&mut faer::dyn_stack::MemBuffer::new(scratch)),
        Default::default(),
    )
    .expect("the eigen-decomposition of a finite symmetric tridiagonal matrix converges");
    Quadrature {
        nodes: s.column_vector().iter().copied().collect(),
        weights: (0..m).map(|j| u[(0, j)].powi(2)).collect(),
    }
}

/// The spectral density by stochastic Lanczos quadrature: `runs` Lanczos runs of `steps` steps
/// from seeded Rademacher starts (PyHessian: `iter = 100`, `n_v = 1`). Cost: `runs · steps`
/// Hessian-vector products.
pub fn spectral_density(
    h: &mut dyn HessianVectorProduct,
    steps: usize,
    runs: usize,
    seed: u64,
) -> Result<SpectralDensity, AnalysisError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = h.dim();
    let mut quadratures = vec![];
    for _ in 0..runs {
        let v = orthonormalize(rademacher(n, &mut rng), &[]);
        let (alpha, beta) = lanczos(h, v, steps)?;
        quadratures.push(tridiagonal_quadrature(&alpha, &beta));
    }
    Ok(SpectralDensity {
        dim: n,
        runs: quadratures,
    })
}

/// How a network's Hessian-vector products are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HvpMethod {
    /// Central differences of burn's gradients ([`FiniteDifference`]): every backend.
    #[default]
    FiniteDifference,
    /// Double backward through libtorch's autograd (`metrics::hessian_tch`): needs the `tch`
    /// feature; the network runs on libtorch CPU whatever the device it was trained on.
    Exact,
}

/// The Hessian of a network's mean cross-entropy over `batches` (their average weighted by the
/// batch sizes when several: PyHessian's `dataloader` mode), at `model`'s weights, its
/// normalizers in `mode`, in the order of `ParamLayout::of` (the trainable parameters). Cost per
/// product: [`HvpMethod::FiniteDifference`] two forward and backward passes per batch;
/// [`HvpMethod::Exact`] one double backward (one batch) or a forward, a backward with its graph
/// and a double backward per batch.
pub fn network_hessian(
    config: &crate::models::NetworkConfig,
    model: &crate::models::Network,
    batches: &[(
        burn::tensor::Tensor<4>,
        burn::tensor::Tensor<1, burn::tensor::Int>,
    )],
    mode: normscope_core::Mode,
    noise_seed: u64,
    method: HvpMethod,
) -> Result<Box<dyn HessianVectorProduct>, AnalysisError> {
    if batches.is_empty() {
        return Err(AnalysisError::Config {
            key: "batches".into(),
            value: "[]".into(),
            reason: "the Hessian needs at least one batch".into(),
        });
    }
    match method {
        HvpMethod::FiniteDifference => {
            // burn's gradients need the batch (and so the objective's copy) on autodiff.
            let device = batches[0].0.device().inner().autodiff();
            let mut parts = vec![];
            for (x, y) in batches {
                let objective = crate::train::BatchObjective::new(
                    config,
                    model,
                    burn::tensor::Tensor::from_data(x.to_data(), &device),
                    burn::tensor::Tensor::from_data(y.to_data(), &device),
                    mode,
                    noise_seed,
                )?;
                let point = objective.point();
                parts.push((FiniteDifference::new(objective, point), x.dims()[0]));
            }
            Ok(Box::new(BatchAverage::new(parts)))
        }
        #[cfg(feature = "tch")]
        HvpMethod::Exact => Ok(Box::new(super::hessian_tch::ExactHessian::new(
            config, model, batches, mode, noise_seed,
        )?)),
        #[cfg(not(feature = "tch"))]
        HvpMethod::Exact => Err(AnalysisError::Config {
            key: "hvp".into(),
            value: "exact".into(),
            reason: "exact Hessian-vector products need libtorch: build with `--features tch`"
                .into(),
        }),
    }
}

/// What [`spectrum`] computes and how hard it tries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpectrumConfig {
    /// Top eigenvalues by power iteration with deflation (PyHessian: `top_n`).
    pub top_k: usize,
    /// Power-iteration cap per eigenvalue (PyHessian: 100).
    pub max_iterations: usize,
    /// Relative tolerance of the power iteration (PyHessian: 1e-3).
    pub tolerance: f64,
    /// Hutchinson probes (PyHessian: up to 100, stopping at a relative change of 1e-3).
    pub trace_samples: usize,
    /// Lanczos steps per density run, 0 for no density (PyHessian: 100).
    pub lanczos_steps: usize,
    /// Density runs (PyHessian: `n_v = 1`).
    pub lanczos_runs: usize,
}

impl Default for SpectrumConfig {
    /// A cheap default for small networks: top 3 (≤ 20 iterations each), 10 trace probes,
    /// one density run of 30 steps — at most 100 Hessian-vector products.
    fn default() -> Self {
        SpectrumConfig {
            top_k: 3,
            max_iterations: 20,
            tolerance: 1e-3,
            trace_samples: 10,
            lanczos_steps: 30,
            lanczos_runs: 1,
        }
    }
}

impl SpectrumConfig {
    /// The most Hessian-vector products [`spectrum`] takes.
    pub fn max_products(&self) -> usize {
        self.top_k * self.max_iterations
            + self.trace_samples
            + self.lanczos_steps * self.lanczos_runs
    }

    /// Checks the values (`key` prefixes the keys named in the error).
    pub fn validate(&self, key: &str) -> Result<(), AnalysisError> {
        let bad = |k: &str, value: String, reason: &str| AnalysisError::Config {
            key: format!("{key}.{k}"),
            value,
            reason: reason.into(),
        };
        if self.top_k > 0 && self.max_iterations == 0 {
            return Err(bad("max_iterations", "0".into(), "must be at least 1"));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(bad(
                "tolerance",
                crate::error::short(self.tolerance),
                "must be finite, > 0 and < 1 (a relative tolerance of 1 stops every power iteration at its first step)",
            ));
        }
        // Far beyond any use (PyHessian: top 1–20, 100 iterations, ≤ 100 probes, 100 Lanczos
        // steps); small enough that a run can be planned.
        for (k, value, max) in [
            ("top_k", self.top_k, 100),
            ("max_iterations", self.max_iterations, 10_000),
            ("trace_samples", self.trace_samples, 10_000),
            ("lanczos_steps", self.lanczos_steps, 1_000),
            ("lanczos_runs", self.lanczos_runs, 100),
        ] {
            crate::error::at_most(format!("{key}.{k}"), value, max)?;
        }
        if self.lanczos_steps > 0 && self.lanczos_runs == 0 {
            return Err(bad(
                "lanczos_runs",
                "0".into(),
                "must be at least 1 with lanczos_steps > 0",
            ));
        }
        Ok(())
    }
}

/// What [`spectrum`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    /// The parameters the Hessian is over.
    pub dim: usize,
    /// The top eigenvalues, largest first.
    pub top: Vec<TopEigenvalue>,
    /// Hutchinson's trace (absent with no probes).
    pub trace: Option<TraceEstimate>,
    /// The spectral density (absent with no Lanczos steps).
    pub density: Option<SpectralDensity>,
    /// Hessian-vector products used.
    pub products: usize,
}

impl Spectrum {
    /// The largest eigenvalue (`NaN` when none was asked for).
    pub fn lambda_max(&self) -> f64 {
        self.top.first().map(|t| t.value).unwrap_or(f64::NAN)
    }
}

/// The top eigenvalues, the trace and the spectral density of `h`. Cost: at most
/// [`SpectrumConfig::max_products`] Hessian-vector products (the count is in
/// [`Spectrum::products`]).
pub fn spectrum(
    h: &mut dyn HessianVectorProduct,
    config: &SpectrumConfig,
    seed: u64,
) -> Result<Spectrum, AnalysisError> {
    let top = top_eigenvalues(
        h,
        config.top_k,
        config.max_iterations,
        config.tolerance,
        seed,
    )?;
    let trace = if config.trace_samples > 0 {
        Some(trace(h, config.trace_samples, seed.wrapping_add(1))?)
    } else {
        None
    };
    let density = if config.lanczos_steps > 0 {
        Some(spectral_density(
            h,
            config.lanczos_steps,
            config.lanczos_runs,
            seed.wrapping_add(2),
        )?)
    } else {
        None
    };
    let products = top.iter().map(|t| t.iterations).sum::<usize>()
        + config.trace_samples
        + density
            .as_ref()
            .map(|d| d.runs.iter().map(|q| q.nodes.len()).sum())
            .unwrap_or(0);
    Ok(Spectrum {
        dim: h.dim(),
        top,
        trace,
        density,
        products,
    })
}

/// The spectrum of the Hessian restricted to one block's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockSpectrum {
    /// The block (`blocks.3`, `stem`, `head`: `ParamSlot::block`).
    pub block: String,
    /// What [`spectrum`] found on `H_BB`.
    pub spectrum: Spectrum,
}

/// [`spectrum`] of `H_BB` for every block `B` of `layout` (the layout of `h`'s vector), in
/// order (PyHessian#10's per-block spectra). Cost: that of [`spectrum`] per block, each product
/// a product of the full Hessian.
pub fn block_spectra(
    h: &mut dyn HessianVectorProduct,
    layout: &crate::models::ParamLayout,
    config: &SpectrumConfig,
    seed: u64,
) -> Result<Vec<BlockSpectrum>, AnalysisError> {
    assert_eq!(layout.len(), h.dim(), "a layout of another Hessian");
    let mut out = vec![];
    for (block, slots) in layout.blocks() {
        let ranges: Vec<Range<usize>> = slots.iter().map(|s| s.range()).collect();
        let mut restricted = Restricted::new(&mut *h, ranges);
        out.push(BlockSpectrum {
            block,
            spectrum: spectrum(&mut restricted, config, seed)?,
        });
    }
    Ok(out)
}
