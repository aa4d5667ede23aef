//! # normscope-cpu
//!
//! Fused CPU normalization kernels for burn's CPU backends, NdArray and Flex: BatchNorm-style
//! per-channel statistics ([`batch`]), GroupNorm/LayerNorm/InstanceNorm/RMSNorm per-group
//! statistics ([`group`]) and the per-channel affine map of eval mode, each forward and backward,
//! on contiguous `[N, C, S]` data (any other layout is copied to that one first).
//!
//! The kernels are what memory bandwidth allows: statistics are shifted sums (pivot = a value of
//! the data) accumulated in 16 independent lanes and flushed to f64 every 2048 elements, so they
//! vectorize and stay exact to f64 rounding of the sums at any offset; work is parallel over
//! channels (or groups) with rayon, and each channel's second pass re-reads it from cache. On x86-64
//! CPUs with AVX2 (detected at run time) the f32 reductions run hand-written AVX2 code and the
//! elementwise maps a copy compiled for AVX2, with the same association as the portable code, so
//! both give the same bits.
//!
//! [`conv`] is the "same" convolution of the analysis networks (`[N, C, H, W]` with a `k×k`
//! kernel, padding `k/2`), forward and backward, as im2col and one GEMM per sample: burn's own
//! CPU convolutions spend most of a training step copying (NdArray) or re-laying out data.
//!
//! Every kernel works on slices. A backend's float tensor reaches them through [`HostTensor`]
//! (its values as a slice, a tensor from a `Vec`), implemented by one thin glue module per
//! backend: `NdArrayTensor` (feature `ndarray`) and `FlexTensor` (feature `flex`). This crate
//! knows nothing of `normscope-core`: [`norm_forward`], [`norm_backward`], [`channel_affine`] and
//! [`conv::conv2d`] take and return a backend's tensors, and `normscope-core` (`NormOps`) and
//! `normscope-analysis` (`ConvOps`) implement their backend extensions for `NdArray` and `Flex`
//! by calling them.

mod avx2;
pub mod batch;
pub mod conv;
pub mod group;
mod real;
mod simd;
mod sums;
mod tensors;

use std::mem::MaybeUninit;

pub use group::GroupLayout;
pub use real::Real;
pub use tensors::HostTensor;

/// Inputs smaller than this (elements) run on one thread.
pub const MIN_PARALLEL_LEN: usize = 1 << 16;

/// An input `[N, C, S]`: batch, channels, product of the spatial dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ncs {
    /// Batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Spatial positions per channel.
    pub s: usize,
}

impl Ncs {
    /// The `[N, C, S]` view of a shape `[N, C, ...]`.
    pub fn of(dims: &[usize]) -> Ncs {
        Ncs {
            n: dims[0],
            c: dims[1],
            s: dims[2..].iter().product(),
        }
    }
}

/// How the statistics are grouped: per channel (BatchNorm) or per sample and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistics {
    /// Per channel over the batch and spatial positions.
    PerChannel {
        /// Subtract the mean (false: VarianceOnly).
        centered: bool,
    },
    /// Per sample and group.
    PerGroup(GroupLayout),
}

/// An output buffer the kernels write completely (no zero-fill pass over memory).
fn uninit<T>(len: usize) -> Vec<MaybeUninit<T>> {
    let mut v = Vec::with_capacity(len);
    // SAFETY: `MaybeUninit<T>` needs no initialisation.
    unsafe { v.set_len(len) };
    v
}

/// The buffer once a kernel has written every element.
fn assume_init<T>(v: Vec<MaybeUninit<T>>) -> Vec<T> {
    let mut v = core::mem::ManuallyDrop::new(v);
    // SAFETY: every kernel writes each element of its output exactly once (checked by the
    // facade's tests, which compare every element with an f64 reference); `MaybeUninit<T>` has
    // `T`'s layout.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut T, v.len(), v.capacity()) }
}

/// Training forward: `(output, mean, invstd)`, or `None` when the tensors are not all f32 or all
/// f64 (the caller falls back to the composed path).
pub fn norm_forward<H: HostTensor<f32> + HostTensor<f64>>(
    x: &H,
    weight: &H,
    bias: &H,
    statistics: Statistics,
    eps: f64,
) -> Option<(H, H, H)> {
    fn run<T: Real, H: HostTensor<T>>(
        x: &H,
        weight: &H,
        bias: &H,
        statistics: Statistics,
        eps: f64,
    ) -> Option<(H, H, H)> {
        let xs = x.values()?;
        let (w, b) = (weight.values()?, bias.values()?);
        let dims = x.dims();
        let shape = Ncs::of(&dims);
        let mut y = uninit::<T>(xs.len());
        let stats = match statistics {
            Statistics::PerChannel { .. } => shape.c,
            Statistics::PerGroup(layout) => shape.n * layout.groups,
        };
        let (mut mean, mut invstd) = (vec![T::ZERO; stats], vec![T::ZERO; stats]);
        match statistics {
            Statistics::PerChannel { centered } => batch::forward(
                &xs,
                shape,
                &w,
                &b,
                eps,
                centered,
                &mut y,
                &mut mean,
                &mut invstd,
            ),
            Statistics::PerGroup(layout) => group::forward(
                &xs,
                shape,
                layout,
                &w,
                &b,
                eps,
                &mut y,
                &mut mean,
                &mut invstd,
            ),
        }
        Some((
            H::from_values(&dims, assume_init(y)),
            H::from_values(&[stats], mean),
            H::from_values(&[stats], invstd),
        ))
    }
    run::<f32, H>(x, weight, bias, statistics, eps)
        .or_else(|| run::<f64, H>(x, weight, bias, statistics, eps))
}

/// Closed-form backward: `(dx, dweight, dbias)`, or `None` for other dtypes.
pub fn norm_backward<H: HostTensor<f32> + HostTensor<f64>>(
    x: &H,
    weight: &H,
    mean: &H,
    invstd: &H,
    grad_output: &H,
    statistics: Statistics,
) -> Option<(H, H, H)> {
    fn run<T: Real, H: HostTensor<T>>(
        x: &H,
        weight: &H,
        mean: &H,
        invstd: &H,
        grad_output: &H,
        statistics: Statistics,
    ) -> Option<(H, H, H)> {
        let xs = x.values()?;
        let dy = grad_output.values()?;
        let (w, mu, inv) = (weight.values()?, mean.values()?, invstd.values()?);
        let dims = x.dims();
        let shape = Ncs::of(&dims);
        let mut dx = uninit::<T>(xs.len());
        let (mut dw, mut db) = (vec![T::ZERO; w.len()], vec![T::ZERO; w.len()]);
        match statistics {
            Statistics::PerChannel { centered } => batch::backward(
                &xs, &dy, shape, &w, &mu, &inv, centered, &mut dx, &mut dw, &mut db,
            ),
            Statistics::PerGroup(layout) => group::backward(
                &xs, &dy, shape, layout, &w, &mu, &inv, &mut dx, &mut dw, &mut db,
            ),
        }
        let affine = [w.len()];
        Some((
            H::from_values(&dims, assume_init(dx)),
            H::from_values(&affine, dw),
            H::from_values(&affine, db),
        ))
    }
    run::<f32, H>(x, weight, mean, invstd, grad_output, statistics)
        .or_else(|| run::<f64, H>(x, weight, mean, invstd, grad_output, statistics))
}

/// `x · scale + shift` per channel, or `None` for other dtypes.
pub fn channel_affine<H: HostTensor<f32> + HostTensor<f64>>(
    x: &H,
    scale: &H,
    shift: &H,
) -> Option<H> {
    fn run<T: Real, H: HostTensor<T>>(x: &H, scale: &H, shift: &H) -> Option<H> {
        let xs = x.values()?;
        let (a, b) = (scale.values()?, shift.values()?);
        let dims = x.dims();
        let mut y = uninit::<T>(xs.len());
        batch::channel_affine(&xs, Ncs::of(&dims), &a, &b, &mut y);
        Some(H::from_values(&dims, assume_init(y)))
    }
    run::<f32, H>(x, scale, shift).or_else(|| run::<f64, H>(x, scale, shift))
}
