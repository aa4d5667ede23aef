//! The normalization operations on `tch::Tensor`, one ATen call each way: what
//! `normscope-core` runs for its `NormOps` extension on burn's LibTorch backend.
//!
//! | normalization | forward | backward |
//! |---|---|---|
//! | BatchNorm (per-channel, centred) | `_batch_norm_with_update` (cuDNN on CUDA where PyTorch picks it, native elsewhere) | `batch_norm_backward` (same dispatch; native backward if a reserve space would be needed) |
//! | GroupNorm / InstanceNorm (per group, per-channel affine) | `native_group_norm` | `native_group_norm_backward` |
//! | LayerNorm (per sample, per-element affine) | `native_layer_norm` | `native_layer_norm_backward` |
//! | RMSNorm (per sample, not centred) | `_fused_rms_norm` (+ bias) | `_fused_rms_norm_backward` on CUDA; on the CPU (no ATen kernel in torch 2.11) four tch operations |
//! | per-channel affine (eval mode) | `addcmul` | — |

use tch::Tensor;

use crate::aten::{self, AtenError};

/// The normalizations ATen has fused kernels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtenNorm {
    /// Per-channel statistics over `[N, C, ...]`, centred, per-channel affine.
    BatchNorm,
    /// Per-sample statistics over all non-batch dimensions, per-element affine.
    LayerNorm,
    /// Per-sample, per-group statistics, per-channel affine.
    GroupNorm(usize),
    /// Per-sample root mean square over all non-batch dimensions, per-element scale.
    RmsNorm,
}

fn dims(x: &Tensor) -> Vec<i64> {
    x.size()
}

/// The trailing (normalized) shape of `x` and the shape of the per-sample statistics
/// (`[N, 1, ..., 1]`) that ATen's layer norms use.
fn sample_shapes(x: &Tensor) -> (Vec<i64>, Vec<i64>) {
    let d = dims(x);
    let mut stats = vec![1; d.len()];
    stats[0] = d[0];
    (d[1..].to_vec(), stats)
}

fn nchw(x: &Tensor) -> [i64; 3] {
    let d = dims(x);
    [d[0], d[1], d[2..].iter().product()]
}

/// Above this `|μ|/σ` of any statistics group, ATen's CPU transform `y = x·α + β'` (the mean
/// folded into `β'`) loses about `|μ|/σ · 2⁻²⁴` of precision per element; [`forward`] then runs
/// the kernel again on the input shifted by a value of each group, which is exact.
const MAX_OFFSET_RATIO: f64 = 100.0;

/// Training forward: `(output, mean, invstd)` with the statistics flattened (`[C]` or `[N·G]`).
///
/// On the CPU, when a group's mean is more than [`MAX_OFFSET_RATIO`] standard deviations from
/// zero (an input like `10⁴ + N(0, 1)`), the kernel runs a second time on `x − p` with `p` the
/// group's first value (Sterbenz: the subtraction is exact), and `p` is added back to the mean.
/// The common case is one ATen call.
pub fn forward(
    norm: AtenNorm,
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor), AtenError> {
    let (y, mean, invstd) = forward_once(norm, x, weight, bias, eps)?;
    if norm == AtenNorm::RmsNorm || x.device() != tch::Device::Cpu || mean.numel() == 0 {
        return Ok((y, mean, invstd));
    }
    let ratio = (mean.abs() * &invstd).max().double_value(&[]);
    if ratio.is_nan() || ratio <= MAX_OFFSET_RATIO {
        return Ok((y, mean, invstd));
    }
    let (shifted, pivot) = subtract_pivot(norm, x);
    let (y, mean, invstd) = forward_once(norm, &shifted, weight, bias, eps)?;
    Ok((y, mean + pivot, invstd))
}

/// `x − p` with `p` the first value of each statistics group, and `p` flattened like the means.
fn subtract_pivot(norm: AtenNorm, x: &Tensor) -> (Tensor, Tensor) {
    let d = dims(x);
    let n = d[0];
    match norm {
        AtenNorm::BatchNorm => {
            let pivot = x.get(0).reshape([d[1], -1]).select(1, 0);
            let mut view = vec![1i64; d.len()];
            view[1] = d[1];
            (x - pivot.reshape(view.as_slice()), pivot)
        }
        AtenNorm::GroupNorm(groups) => {
            let grouped = x.reshape([n, groups as i64, -1]);
            let pivot = grouped.select(2, 0);
            (
                (&grouped - pivot.unsqueeze(2)).reshape(d.as_slice()),
                pivot.reshape([-1]),
            )
        }
        AtenNorm::LayerNorm | AtenNorm::RmsNorm => {
            let rows = x.reshape([n, -1]);
            let pivot = rows.select(1, 0);
            ((&rows - pivot.unsqueeze(1)).reshape(d.as_slice()), pivot)
        }
    }
}

fn forward_once(
    norm: AtenNorm,
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor), AtenError> {
    let flat = |t: Tensor| t.reshape([-1]);
    match norm {
        AtenNorm::BatchNorm => {
            let [y, mean, invstd] = aten::batch_norm_forward(x, weight, bias, eps)?;
            Ok((y, mean, invstd))
        }
        AtenNorm::GroupNorm(groups) => {
            let [y, mean, rstd] =
                aten::group_norm_forward(x, weight, bias, nchw(x), groups as i64, eps)?;
            Ok((y, flat(mean), flat(rstd)))
        }
        AtenNorm::LayerNorm => {
            let (shape, _) = sample_shapes(x);
            let [y, mean, rstd] = aten::layer_norm_forward(
                x,
                &shape,
                &weight.reshape(shape.as_slice()),
                &bias.reshape(shape.as_slice()),
                eps,
            )?;
            Ok((y, flat(mean), flat(rstd)))
        }
        AtenNorm::RmsNorm => {
            let (shape, _) = sample_shapes(x);
            let [y, rstd] =
                aten::rms_norm_forward(x, &shape, &weight.reshape(shape.as_slice()), eps)?;
            let mut with_batch = shape.clone();
            with_batch.insert(0, 1);
            let y = y + bias.reshape(with_batch.as_slice());
            let rstd = flat(rstd);
            Ok((y, rstd.zeros_like(), rstd))
        }
    }
}

/// Closed-form backward: `(dx, dweight, dbias)` with the affine gradients flattened.
pub fn backward(
    norm: AtenNorm,
    x: &Tensor,
    weight: &Tensor,
    mean: &Tensor,
    invstd: &Tensor,
    grad: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor), AtenError> {
    let flat = |t: Tensor| t.reshape([-1]);
    match norm {
        AtenNorm::BatchNorm => {
            let [dx, dw, db] = aten::batch_norm_backward(grad, x, weight, mean, invstd, eps)?;
            Ok((dx, dw, db))
        }
        AtenNorm::GroupNorm(groups) => {
            let [n, ..] = nchw(x);
            let stats = [n, groups as i64];
            let [dx, dw, db] = aten::group_norm_backward(
                grad,
                x,
                &mean.reshape(stats),
                &invstd.reshape(stats),
                weight,
                nchw(x),
                groups as i64,
            )?;
            Ok((dx, dw, db))
        }
        AtenNorm::LayerNorm => {
            let (shape, stats) = sample_shapes(x);
            let w = weight.reshape(shape.as_slice());
            let [dx, dw, db] = aten::layer_norm_backward(
                grad,
                x,
                &shape,
                &mean.reshape(stats.as_slice()),
                &invstd.reshape(stats.as_slice()),
                &w,
                &w.zeros_like(),
            )?;
            Ok((dx, flat(dw), flat(db)))
        }
        AtenNorm::RmsNorm => {
            let (shape, stats) = sample_shapes(x);
            let rstd = invstd.reshape(stats.as_slice());
            let w = weight.reshape(shape.as_slice());
            let db = grad.sum_dim_intlist([0i64].as_slice(), false, grad.kind());
            // torch 2.11 has `_fused_rms_norm_backward` for CUDA only.
            let (dx, dw) = if x.device() == tch::Device::Cpu {
                rms_norm_backward_cpu(grad, x, &rstd, &w)
            } else {
                let [dx, dw] = aten::rms_norm_backward(grad, x, &shape, &rstd, &w)?;
                (dx, dw)
            };
            Ok((dx, flat(dw), flat(db)))
        }
    }
}

/// RMSNorm's backward with tch operations (ATen has no CPU kernel for it):
/// `x̂ = x·rstd`, `g = dy ⊙ γ`, `dx = rstd (g − x̂ mean(g x̂))`, `dγ = Σ_n dy x̂`.
fn rms_norm_backward_cpu(grad: &Tensor, x: &Tensor, rstd: &Tensor, w: &Tensor) -> (Tensor, Tensor) {
    let sample_dims: Vec<i64> = (1..x.dim() as i64).collect();
    let xhat = x * rstd;
    let g = grad * w;
    let projection = (&g * &xhat).mean_dim(sample_dims.as_slice(), true, g.kind());
    let dx = (g - &xhat * projection) * rstd;
    let dw = (grad * &xhat).sum_dim_intlist([0i64].as_slice(), false, grad.kind());
    (dx, dw)
}

/// `x · scale + shift` per channel in one pass (`addcmul`).
pub fn channel_affine(x: &Tensor, scale: &Tensor, shift: &Tensor) -> Tensor {
    let mut per_channel = vec![1i64; x.dim()];
    per_channel[1] = -1;
    shift
        .reshape(per_channel.as_slice())
        .addcmul(x, &scale.reshape(per_channel.as_slice()))
}
