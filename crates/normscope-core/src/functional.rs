//! Tensor-level entry points to the normalization operations, on any device.
//!
//! Every layer of this crate calls these. [`Kernel::Fused`] goes through the [`NormOps`] backend
//! extension (a backend's fused kernel where it has one, the composed default elsewhere; one
//! autodiff node with a closed-form backward). [`Kernel::Composed`] runs the same mathematics
//! as individual burn operations through [`Dispatch`], which autodiff records op by op: the
//! reference the fused path is tested and benchmarked against.

use burn::backend::Dispatch;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::ops::{NormLayout, NormOps, composed};

/// Which implementation of the normalization operations to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kernel {
    /// The backend's fused kernels through [`NormOps`].
    #[default]
    Fused,
    /// Generic burn operations, differentiated op by op.
    Composed,
}

/// A training-mode normalization: the output and the statistics it used.
#[derive(Debug, Clone)]
pub struct Normalized<const D: usize> {
    /// `γ ⊙ x̂ + β`, the input's shape.
    pub output: Tensor<D>,
    /// Mean per statistics group (`[C]` per channel, `[N·G]` per group; zeros if not centred).
    pub mean: Tensor<1>,
    /// Inverse standard deviation per statistics group.
    pub invstd: Tensor<1>,
}

/// Normalizes `x` (`[N, C, ...]`) with its own statistics laid out as `layout`, then applies
/// `weight`/`bias` (length [`NormLayout::affine_len`]).
pub fn normalize<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<1>,
    bias: Tensor<1>,
    layout: NormLayout,
    eps: f64,
    kernel: Kernel,
) -> Normalized<D> {
    let (x, weight, bias) = (
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    );
    let result = match kernel {
        Kernel::Fused => <Dispatch as NormOps>::norm_forward(x, weight, bias, layout, eps),
        Kernel::Composed => composed::forward::<Dispatch>(x, weight, bias, layout, eps),
    };
    Normalized {
        output: Tensor::from_dispatch(result.output),
        mean: Tensor::from_dispatch(result.mean),
        invstd: Tensor::from_dispatch(result.invstd),
    }
}

/// Gradients of [`normalize`]: `(∂L/∂x, ∂L/∂γ, ∂L/∂β)` from the upstream gradient and the
/// statistics the forward returned (and the forward's `eps`). Autodiff calls this itself; it is public for tests and
/// benchmarks of the backward alone.
#[allow(clippy::too_many_arguments)]
pub fn normalize_backward<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<1>,
    mean: Tensor<1>,
    invstd: Tensor<1>,
    grad_output: Tensor<D>,
    layout: NormLayout,
    eps: f64,
    kernel: Kernel,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    let args = (
        x.into_dispatch(),
        weight.into_dispatch(),
        mean.into_dispatch(),
        invstd.into_dispatch(),
        grad_output.into_dispatch(),
    );
    let result = match kernel {
        Kernel::Fused => <Dispatch as NormOps>::norm_backward(
            args.0, args.1, args.2, args.3, args.4, layout, eps,
        ),
        Kernel::Composed => {
            composed::backward::<Dispatch>(args.0, args.1, args.2, args.3, args.4, layout)
        }
    };
    (
        Tensor::from_dispatch(result.grad_input),
        Tensor::from_dispatch(result.grad_weight),
        Tensor::from_dispatch(result.grad_bias),
    )
}

/// `x · scale + shift` with per-channel `scale`, `shift` (`[C]`) over `x` (`[N, C, ...]`).
pub fn channel_affine<const D: usize>(
    x: Tensor<D>,
    scale: Tensor<1>,
    shift: Tensor<1>,
    kernel: Kernel,
) -> Tensor<D> {
    let (x, scale, shift) = (
        x.into_dispatch(),
        scale.into_dispatch(),
        shift.into_dispatch(),
    );
    Tensor::from_dispatch(match kernel {
        Kernel::Fused => <Dispatch as NormOps>::channel_affine(x, scale, shift),
        Kernel::Composed => composed::channel_affine::<Dispatch>(x, scale, shift),
    })
}

/// Views `[N, C, ...]` as `[N, C, S]` (S = product of the spatial dimensions).
pub(crate) fn as_ncs<const D: usize>(x: Tensor<D>) -> Tensor<3> {
    let dims = x.dims();
    let spatial: usize = dims[2..].iter().product();
    x.reshape([dims[0], dims[1], spatial])
}

/// Per-channel mean over the batch and spatial axes of `[N, C, S]`, as `[C]`.
pub(crate) fn channel_mean(x: Tensor<3>) -> Tensor<1> {
    let [_, c, _] = x.dims();
    x.mean_dim(2).mean_dim(0).reshape([c])
}

/// A `[C]` vector reshaped to broadcast against `[N, C, S]`.
pub(crate) fn per_channel(v: Tensor<1>) -> Tensor<3> {
    let [c] = v.dims();
    v.reshape([1, c, 1])
}
