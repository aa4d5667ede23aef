//! The loss landscape as Li, Xu, Taylor, Studer & Goldstein (2018, "Visualizing the Loss
//! Landscape of Neural Nets", `tomgoldstein/loss-landscape`) draw it: the loss along a line
//! between two weight vectors and on a plane through the trained weights.
//!
//! - **1D linear interpolation** (Goodfellow et al. 2015; Li et al. §3): `L((1 − α)θ + αθ′)` for
//!   `α` over a range around `[0, 1]` — from the initialisation to the trained weights, or
//!   between the minima of two seeds. The direction has the coordinates of the whole state
//!   (their `--dir_type states`): every parameter **and BatchNorm's running statistics** move
//!   linearly with `α`. Li et al.'s README: ignoring `running_mean`/`running_var` "cannot produce
//!   correct loss values when plotting two solutions together" — in eval mode the network at
//!   `α = 1` must be the trained network, running statistics included.
//! - **2D filter-normalised plane** (Li et al. §4): `L(θ* + xδ + yη)` on a grid of
//!   `(x, y) ∈ [−1, 1]²` around the trained `θ*`, with `δ`, `η` random Gaussian directions that
//!   are *filter-normalised*: each filter `d_{i,j}` (the weights producing one output channel of a
//!   convolution, or one neuron of a linear layer) is rescaled to the norm of the same filter of
//!   `θ*`, `d_{i,j} ← d_{i,j} ‖θ*_{i,j}‖ / (‖d_{i,j}‖ + 10⁻¹⁰)`, which removes the scale
//!   invariance of ReLU and normalised networks (a filter twice as large has a landscape twice
//!   as wide). Vectors of rank ≤ 1 — biases, the normalizers' `γ`, `β`, scalar gains — get a zero
//!   direction (their `--xignore biasbn`), and so do the running statistics: the plane moves the
//!   weights only (their `--dir_type weights`) and every point is evaluated with the trained
//!   running statistics.
//!
//! Both are evaluated as in their `evaluation.py`: the network in **eval mode** (`net.eval()`,
//! running statistics) on fixed training batches (they use the whole training set; here a fixed
//! set of batches, the cost is one forward pass per batch per point). [`LossSurface`] can also
//! evaluate in train mode (batch statistics, as Santurkar et al.'s landscape probes), where the
//! running statistics do not enter. A linear layer's weight is `[d_in, d_out]` in burn (PyTorch:
//! `[d_out, d_in]`), so its filters are columns here: the same filters as theirs.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use normscope_core::Mode;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::models::{Network, NetworkConfig, ParamLayout, ParamSlot, Probe};
use crate::train::{accuracy, cross_entropy};

/// The flat indices of each filter of a parameter: the output channels of a convolution kernel
/// `[c_out, c_in, k, k]` (contiguous), the output neurons of a linear weight `[d_in, d_out]`
/// (columns); none for a vector or a buffer.
pub fn filters(slot: &ParamSlot) -> Vec<Vec<usize>> {
    if slot.buffer || slot.shape.len() < 2 {
        return vec![];
    }
    let len = slot.len();
    if slot.shape.len() == 2 {
        let (rows, cols) = (slot.shape[0], slot.shape[1]);
        (0..cols)
            .map(|j| (0..rows).map(|i| slot.offset + i * cols + j).collect())
            .collect()
    } else {
        let per = len / slot.shape[0];
        (0..slot.shape[0])
            .map(|f| (slot.offset + f * per..slot.offset + (f + 1) * per).collect())
            .collect()
    }
}

/// Li et al.'s filter normalisation with `ignore = biasbn`: each filter of `direction` rescaled
/// to the norm of the same filter of `center`; every coordinate outside a filter (vectors,
/// buffers) set to zero.
pub fn filter_normalize(direction: &mut [f64], center: &[f64], layout: &ParamLayout) {
    assert_eq!(
        direction.len(),
        layout.len(),
        "a direction of the wrong length"
    );
    assert_eq!(center.len(), layout.len(), "a center of the wrong length");
    let mut kept = vec![false; direction.len()];
    for slot in &layout.slots {
        for filter in filters(slot) {
            let norm = |v: &[f64]| filter.iter().map(|&i| v[i] * v[i]).sum::<f64>().sqrt();
            let scale = norm(center) / (norm(direction) + 1e-10);
            for &i in &filter {
                direction[i] *= scale;
                kept[i] = true;
            }
        }
    }
    for (d, keep) in direction.iter_mut().zip(kept) {
        if !keep {
            *d = 0.0;
        }
    }
}

/// A seeded Gaussian direction, filter-normalised to `center` ([`filter_normalize`]): Li et al.'s
/// `create_random_direction(net, 'weights', ignore='biasbn', norm='filter')`.
pub fn random_direction(layout: &ParamLayout, center: &[f64], seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut direction: Vec<f64> = (0..layout.len())
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    filter_normalize(&mut direction, center, layout);
    direction
}

/// `α ↦ L((1 − α)·from + α·to)` at each `α` of `alphas`: `(α, L)`. Cost: one loss evaluation
/// per `α`.
pub fn interpolation(
    loss: &mut dyn FnMut(&[f64]) -> Result<f64, AnalysisError>,
    from: &[f64],
    to: &[f64],
    alphas: &[f64],
) -> Result<Vec<(f64, f64)>, AnalysisError> {
    assert_eq!(from.len(), to.len(), "two points of different dimensions");
    alphas
        .iter()
        .map(|&a| {
            let point: Vec<f64> = from
                .iter()
                .zip(to)
                .map(|(x, y)| (1.0 - a) * x + a * y)
                .collect();
            Ok((a, loss(&point)?))
        })
        .collect()
}

/// The largest rise of an interpolation above the higher of its two end points (`α = 0`, `1`)
/// for `α ∈ [0, 1]`: 0 for a path that never climbs above its ends (no barrier between two
/// minima; a monotone descent from the initialisation).
pub fn barrier(path: &[(f64, f64)]) -> f64 {
    let at = |target: f64| {
        path.iter()
            .min_by(|a, b| (a.0 - target).abs().total_cmp(&(b.0 - target).abs()))
            .map(|p| p.1)
            .unwrap_or(f64::NAN)
    };
    let ends = at(0.0).max(at(1.0));
    path.iter()
        .filter(|p| (0.0..=1.0).contains(&p.0))
        .map(|p| p.1 - ends)
        .fold(0.0, f64::max)
}

/// `n` evenly spaced values from `lo` to `hi` (both included).
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![lo],
        _ => (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

/// The loss on a grid of a plane `center + x·δ + y·η`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Surface {
    /// The `x` coordinates (along `δ`), increasing.
    pub xs: Vec<f64>,
    /// The `y` coordinates (along `η`), increasing.
    pub ys: Vec<f64>,
    /// `loss[j][i] = L(center + xs[i]·δ + ys[j]·η)`.
    pub loss: Vec<Vec<f64>>,
}

impl Surface {
    /// The loss nearest the center `(0, 0)`.
    pub fn at_center(&self) -> f64 {
        let nearest = |v: &[f64]| {
            (0..v.len())
                .min_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
                .unwrap_or(0)
        };
        self.loss[nearest(&self.ys)][nearest(&self.xs)]
    }

    /// The smallest and largest finite losses on the grid.
    pub fn range(&self) -> (f64, f64) {
        self.loss
            .iter()
            .flatten()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    }

    /// `(∂²L/∂x², ∂²L/∂y²)` at the center by second differences over the grid's nearest
    /// neighbours, `δᵀHδ` and `ηᵀHη` (exact for a quadratic): the curvature of the picture.
    /// `None` when the center is not an interior grid point.
    pub fn curvature(&self) -> Option<(f64, f64)> {
        let center = |v: &[f64]| v.iter().position(|x| x.abs() < 1e-12);
        let (i, j) = (center(&self.xs)?, center(&self.ys)?);
        if i == 0 || j == 0 || i + 1 >= self.xs.len() || j + 1 >= self.ys.len() {
            return None;
        }
        let hx = self.xs[i + 1] - self.xs[i];
        let hy = self.ys[j + 1] - self.ys[j];
        let l = &self.loss;
        Some((
            (l[j][i + 1] - 2.0 * l[j][i] + l[j][i - 1]) / (hx * hx),
            (l[j + 1][i] - 2.0 * l[j][i] + l[j - 1][i]) / (hy * hy),
        ))
    }
}

/// `L(center + x·δ + y·η)` for every `(x, y)` of `xs × ys`. Cost: `|xs|·|ys|` loss evaluations.
pub fn plane(
    loss: &mut dyn FnMut(&[f64]) -> Result<f64, AnalysisError>,
    center: &[f64],
    delta: &[f64],
    eta: &[f64],
    xs: &[f64],
    ys: &[f64],
) -> Result<Surface, AnalysisError> {
    assert!(
        delta.len() == center.len() && eta.len() == center.len(),
        "directions of the wrong length"
    );
    let mut rows = vec![];
    for &y in ys {
        let mut row = vec![];
        for &x in xs {
            let point: Vec<f64> = center
                .iter()
                .zip(delta.iter().zip(eta))
                .map(|(c, (d, e))| c + x * d + y * e)
                .collect();
            row.push(loss(&point)?);
        }
        rows.push(row);
    }
    Ok(Surface {
        xs: xs.to_vec(),
        ys: ys.to_vec(),
        loss: rows,
    })
}

/// A network's mean cross-entropy over fixed batches as a function of its whole state (the
/// trainable parameters and the running statistics, [`ParamLayout::with_buffers`]): what Li et
/// al. evaluate at each point. It owns an independent copy of the network on the batches' device
/// (without autodiff), so evaluating it never touches the model; before every forward the
/// device's generator is reseeded, so that stochastic layers (NoisyBatchNorm) see the same noise
/// at every point. Cost of [`LossSurface::loss`]: one forward pass per batch.
pub struct LossSurface {
    model: Network,
    layout: ParamLayout,
    batches: Vec<(Tensor<4>, Tensor<1, Int>)>,
    mode: Mode,
    device: Device,
    noise_seed: u64,
}

impl LossSurface {
    /// The loss of (a copy of) `model`, built from `config`, on `batches` in `mode`.
    pub fn new(
        config: &NetworkConfig,
        model: &Network,
        batches: Vec<(Tensor<4>, Tensor<1, Int>)>,
        mode: Mode,
        noise_seed: u64,
    ) -> Result<LossSurface, AnalysisError> {
        if batches.is_empty() {
            return Err(AnalysisError::Config {
                key: "batches".into(),
                value: "[]".into(),
                reason: "the loss needs at least one batch".into(),
            });
        }
        let device = batches[0].0.device().inner();
        let autodiff = device.clone().autodiff();
        let copy = config.init(&autodiff)?;
        let layout = ParamLayout::with_buffers(&copy);
        let copy = layout.assign(copy, &layout.values(model), &autodiff);
        Ok(LossSurface {
            model: copy.valid(),
            layout,
            batches: batches
                .into_iter()
                .map(|(x, y)| {
                    (
                        Tensor::from_data(x.to_data(), &device),
                        Tensor::from_data(y.to_data(), &device),
                    )
                })
                .collect(),
            mode,
            device,
            noise_seed,
        })
    }

    /// The layout of the state vector: parameters and buffers, in visiting order.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// The state vector of `model` (any network of the same architecture, on any device).
    pub fn state(&self, model: &Network) -> Vec<f64> {
        self.layout.values(model)
    }

    /// The state the copy was made from.
    pub fn center(&self) -> Vec<f64> {
        self.layout.values(&self.model)
    }

    /// `(L, accuracy)` at `state`, averaged over the batches (weighted by their sizes).
    pub fn evaluate(&mut self, state: &[f64]) -> Result<(f64, f64), AnalysisError> {
        let model = self.layout.assign(self.model.clone(), state, &self.device);
        let (mut loss, mut correct, mut count) = (0.0, 0.0, 0.0);
        for (x, y) in &self.batches {
            self.device.seed(self.noise_seed);
            let logits = model.forward(x.clone(), self.mode, &mut Probe::off())?;
            let n = x.dims()[0] as f64;
            loss += n * cross_entropy(logits.clone(), y.clone()).into_scalar::<f32>() as f64;
            correct += n * accuracy(logits, y.clone());
            count += n;
        }
        Ok((loss / count, correct / count))
    }

    /// `L(state)`.
    pub fn loss(&mut self, state: &[f64]) -> Result<f64, AnalysisError> {
        Ok(self.evaluate(state)?.0)
    }
}
