//! The composed path: every normalization written with burn's generic tensor operations.
//!
//! Generic over the backend, so that it serves twice: as the default body of [`NormOps`]
//! (on `Self`, the backend in use), and as the op-by-op reference path through
//! [`Dispatch`](burn::backend::Dispatch) where autodiff records every operation
//! ([`crate::functional`] with [`Kernel::Composed`](crate::functional::Kernel::Composed)).
//!
//! Statistics use the corrected two-pass algorithm (Chan, Golub & LeVeque 1983): a first mean
//! `m₀`, then `e = x − m₀`, `c = E[e]`, `σ² = E[e²] − c²`, `μ = m₀ + c`, and the output is
//! computed from `e − c` rather than `x − μ`. `x − m₀` is exact when `m₀` is close to `x`
//! (Sterbenz), so an input `10⁴ + N(0, 1)` normalizes to f64 accuracy even though `μ` itself
//! cannot be stored closer than half an f32 ulp (≈ 5·10⁻⁴) of the truth.
//!
//! [`NormOps`]: super::NormOps

use burn::backend::{Backend, Scalar, TensorMetadata, tensor::FloatTensor};
use burn::tensor::{Shape, Slice};

use super::{Affine, NormBackward, NormForward, NormLayout, StatsView};

fn view3<B: Backend>(x: FloatTensor<B>, view: StatsView) -> FloatTensor<B> {
    B::float_reshape(x, Shape::new([view.outer, view.groups, view.inner]))
}

/// Longest axis reduced in one `sum_dim`. burn 0.22.1's wgpu reduction (seen on lavapipe) drops
/// elements past the first 2¹⁸ when it reduces one axis longer than about 10⁵; summing chunks
/// of at most this length and adding the partial sums is correct everywhere.
const MAX_REDUCED_LEN: usize = 32_768;

/// `sum_dim` that reduces long axes in chunks of [`MAX_REDUCED_LEN`].
fn sum_dim<B: Backend>(x: FloatTensor<B>, dim: usize) -> FloatTensor<B> {
    let shape = x.shape();
    let len = shape[dim];
    if len <= MAX_REDUCED_LEN {
        return B::float_sum_dim(x, dim);
    }
    let mut total: Option<FloatTensor<B>> = None;
    for start in (0..len).step_by(MAX_REDUCED_LEN) {
        let end = (start + MAX_REDUCED_LEN).min(len);
        let ranges: Vec<Slice> = (0..shape.num_dims())
            .map(|d| {
                if d == dim {
                    Slice::from(start..end)
                } else {
                    Slice::from(0..shape[d])
                }
            })
            .collect();
        let part = B::float_sum_dim(B::float_slice(x.clone(), &ranges), dim);
        total = Some(match total {
            None => part,
            Some(total) => B::float_add(total, part),
        });
    }
    total.expect("a long axis has at least one chunk")
}

/// Mean over axes 0 and 2 of a `[outer, groups, inner]` tensor, kept as `[1, groups, 1]`.
pub(crate) fn mean_outer_inner<B: Backend>(x3: FloatTensor<B>, view: StatsView) -> FloatTensor<B> {
    let inner = sum_dim::<B>(x3, 2);
    let both = sum_dim::<B>(inner, 0);
    B::float_div_scalar(both, Scalar::Float(view.count() as f64))
}

/// The shape `[1, C, 1, ...]` of a per-channel vector broadcast against `shape`.
pub(crate) fn channel_shape(shape: &Shape) -> Shape {
    let mut dims = vec![1; shape.num_dims()];
    dims[1] = shape[1];
    Shape::from(dims)
}

/// The shape `[1, C, S...]` of a per-element vector broadcast against `shape`.
fn element_shape(shape: &Shape) -> Shape {
    let mut dims: Vec<usize> = (0..shape.num_dims()).map(|d| shape[d]).collect();
    dims[0] = 1;
    Shape::from(dims)
}

fn affine_shape(layout: NormLayout, shape: &Shape) -> Shape {
    match layout.affine {
        Affine::PerChannel => channel_shape(shape),
        Affine::PerElement => element_shape(shape),
    }
}

/// Sums `t` (the input's shape) down to the affine shape, flattened.
fn reduce_to_affine<B: Backend>(
    t: FloatTensor<B>,
    layout: NormLayout,
    shape: &Shape,
) -> FloatTensor<B> {
    let n = shape[0];
    let c = shape[1];
    let per_sample = shape.num_elements() / n;
    match layout.affine {
        Affine::PerChannel => {
            let t = B::float_reshape(t, Shape::new([n, c, per_sample / c]));
            let t = sum_dim::<B>(sum_dim::<B>(t, 2), 0);
            B::float_reshape(t, Shape::new([c]))
        }
        Affine::PerElement => {
            let t = B::float_reshape(t, Shape::new([n, per_sample]));
            B::float_reshape(sum_dim::<B>(t, 0), Shape::new([per_sample]))
        }
    }
}

/// Training forward: statistics of `x` itself, then `γ ⊙ x̂ + β`.
pub fn forward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    layout: NormLayout,
    eps: f64,
) -> NormForward<B> {
    let shape = x.shape();
    let view = layout.view(&shape);
    let x3 = view3::<B>(x, view);

    let (centered, mean, second_moment) = if layout.centered {
        let m0 = mean_outer_inner::<B>(x3.clone(), view);
        let e = B::float_sub(x3, m0.clone());
        let c = mean_outer_inner::<B>(e.clone(), view);
        let e2 = mean_outer_inner::<B>(B::float_mul(e.clone(), e.clone()), view);
        let var = B::float_clamp_min(
            B::float_sub(e2, B::float_mul(c.clone(), c.clone())),
            Scalar::Float(0.0),
        );
        (B::float_sub(e, c.clone()), B::float_add(m0, c), var)
    } else {
        let ms = mean_outer_inner::<B>(B::float_mul(x3.clone(), x3.clone()), view);
        let zeros = B::float_zeros(ms.shape(), &ms.device(), ms.dtype().into());
        (x3, zeros, ms)
    };
    let invstd = B::float_recip(B::float_sqrt(B::float_add_scalar(
        second_moment,
        Scalar::Float(eps),
    )));
    let normalized = B::float_reshape(B::float_mul(centered, invstd.clone()), shape.clone());

    let affine = affine_shape(layout, &shape);
    let output = B::float_add(
        B::float_mul(normalized, B::float_reshape(weight, affine.clone())),
        B::float_reshape(bias, affine),
    );
    let stats = Shape::new([view.groups]);
    NormForward {
        output,
        mean: B::float_reshape(mean, stats.clone()),
        invstd: B::float_reshape(invstd, stats),
    }
}

/// Closed-form gradient of [`forward`] (Ioffe & Szegedy 2015, §3, generalised to any layout):
/// with `g = γ ⊙ dy` and `x̂` recomputed from the saved statistics,
/// `dx = σ⁻¹ (g − E[g] − x̂ E[g x̂])` (the `E[g]` term only when centred),
/// `dγ = Σ dy x̂`, `dβ = Σ dy`.
pub fn backward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    mean: FloatTensor<B>,
    invstd: FloatTensor<B>,
    grad_output: FloatTensor<B>,
    layout: NormLayout,
) -> NormBackward<B> {
    let shape = x.shape();
    let view = layout.view(&shape);
    let stats = Shape::new([1, view.groups, 1]);
    let invstd = B::float_reshape(invstd, stats.clone());

    let x3 = view3::<B>(x, view);
    let xhat3 = if layout.centered {
        B::float_mul(
            B::float_sub(x3, B::float_reshape(mean, stats)),
            invstd.clone(),
        )
    } else {
        B::float_mul(x3, invstd.clone())
    };
    let xhat = B::float_reshape(xhat3.clone(), shape.clone());

    let grad_bias = reduce_to_affine::<B>(grad_output.clone(), layout, &shape);
    let grad_weight =
        reduce_to_affine::<B>(B::float_mul(grad_output.clone(), xhat), layout, &shape);

    let g = B::float_mul(
        grad_output,
        B::float_reshape(weight, affine_shape(layout, &shape)),
    );
    let g3 = view3::<B>(g, view);
    let proj = mean_outer_inner::<B>(B::float_mul(g3.clone(), xhat3.clone()), view);
    let mut inner = B::float_sub(g3.clone(), B::float_mul(xhat3, proj));
    if layout.centered {
        inner = B::float_sub(inner, mean_outer_inner::<B>(g3, view));
    }
    let grad_input = B::float_reshape(B::float_mul(inner, invstd), shape);

    NormBackward {
        grad_input,
        grad_weight,
        grad_bias,
    }
}

/// `x · scale + shift`, per channel.
pub fn channel_affine<B: Backend>(
    x: FloatTensor<B>,
    scale: FloatTensor<B>,
    shift: FloatTensor<B>,
) -> FloatTensor<B> {
    let per_channel = channel_shape(&x.shape());
    B::float_add(
        B::float_mul(x, B::float_reshape(scale, per_channel.clone())),
        B::float_reshape(shift, per_channel),
    )
}

/// Gradients of [`channel_affine`]: `(dx, dscale, dshift)`.
pub fn channel_affine_backward<B: Backend>(
    x: FloatTensor<B>,
    scale: FloatTensor<B>,
    grad_output: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let shape = x.shape();
    let layout = NormLayout::BATCH;
    let grad_shift = reduce_to_affine::<B>(grad_output.clone(), layout, &shape);
    let grad_scale = reduce_to_affine::<B>(B::float_mul(grad_output.clone(), x), layout, &shape);
    let grad_input = B::float_mul(grad_output, B::float_reshape(scale, channel_shape(&shape)));
    (grad_input, grad_scale, grad_shift)
}
