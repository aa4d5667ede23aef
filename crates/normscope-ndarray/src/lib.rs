//! # normscope-ndarray
//!
//! Fused CPU normalization kernels for burn's NdArray backend: BatchNorm-style per-channel
//! statistics ([`batch`]), GroupNorm/LayerNorm/InstanceNorm/RMSNorm per-group statistics
//! ([`group`]) and the per-channel affine map of eval mode, each forward and backward, on
//! contiguous `[N, C, S]` data (any other layout is copied to that one first).
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
//! kernel, padding `k/2`), forward and backward, as im2col and one GEMM per sample: burn-ndarray's
//! own convolution spends most of a training step copying slices.
//!
//! This crate knows nothing of `normscope-core`: [`norm_forward`], [`norm_backward`] and
//! [`channel_affine`] take and return burn-ndarray tensors, and `normscope-core` implements its
//! `NormOps` extension for `NdArray` by calling them.
// burn 0.22 marks burn-ndarray deprecated; these kernels exist for it.
#![allow(deprecated)]

mod avx2;
pub mod batch;
pub mod conv;
pub mod group;
mod real;
mod simd;
mod sums;

use std::borrow::Cow;
use std::mem::MaybeUninit;

use burn_ndarray::NdArrayTensor;
use ndarray::{ArcArray, IxDyn};

pub use group::GroupLayout;
pub use real::Real;

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

/// A tensor's values in standard (row-major) order, borrowed when already contiguous.
fn values<T: Clone>(view: ndarray::ArrayView<'_, T, IxDyn>) -> Cow<'_, [T]> {
    match view.to_slice() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(view.iter().cloned().collect()),
    }
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

fn tensor<T>(dims: &[usize], data: Vec<T>) -> ArcArray<T, IxDyn> {
    ArcArray::from_shape_vec(IxDyn(dims), data).expect("the kernel wrote every element")
}

trait Extract: Real {
    fn view(t: &NdArrayTensor) -> Option<ndarray::ArrayView<'_, Self, IxDyn>>;
    fn wrap(a: ArcArray<Self, IxDyn>) -> NdArrayTensor;
}

impl Extract for f32 {
    fn view(t: &NdArrayTensor) -> Option<ndarray::ArrayView<'_, f32, IxDyn>> {
        match t {
            NdArrayTensor::F32(s) => Some(s.view()),
            _ => None,
        }
    }
    fn wrap(a: ArcArray<f32, IxDyn>) -> NdArrayTensor {
        NdArrayTensor::from(a)
    }
}

impl Extract for f64 {
    fn view(t: &NdArrayTensor) -> Option<ndarray::ArrayView<'_, f64, IxDyn>> {
        match t {
            NdArrayTensor::F64(s) => Some(s.view()),
            _ => None,
        }
    }
    fn wrap(a: ArcArray<f64, IxDyn>) -> NdArrayTensor {
        NdArrayTensor::from(a)
    }
}

/// Training forward: `(output, mean, invstd)`, or `None` when the tensors are not all f32 or all
/// f64 (the caller falls back to the composed path).
pub fn norm_forward(
    x: &NdArrayTensor,
    weight: &NdArrayTensor,
    bias: &NdArrayTensor,
    statistics: Statistics,
    eps: f64,
) -> Option<(NdArrayTensor, NdArrayTensor, NdArrayTensor)> {
    fn run<T: Extract>(
        x: &NdArrayTensor,
        weight: &NdArrayTensor,
        bias: &NdArrayTensor,
        statistics: Statistics,
        eps: f64,
    ) -> Option<(NdArrayTensor, NdArrayTensor, NdArrayTensor)> {
        let xv = T::view(x)?;
        let dims = xv.shape().to_vec();
        let shape = Ncs::of(&dims);
        let (xs, w, b) = (values(xv), values(T::view(weight)?), values(T::view(bias)?));
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
            T::wrap(tensor(&dims, assume_init(y))),
            T::wrap(tensor(&[stats], mean)),
            T::wrap(tensor(&[stats], invstd)),
        ))
    }
    match x {
        NdArrayTensor::F32(_) => run::<f32>(x, weight, bias, statistics, eps),
        NdArrayTensor::F64(_) => run::<f64>(x, weight, bias, statistics, eps),
        _ => None,
    }
}

/// Closed-form backward: `(dx, dweight, dbias)`, or `None` for other dtypes.
pub fn norm_backward(
    x: &NdArrayTensor,
    weight: &NdArrayTensor,
    mean: &NdArrayTensor,
    invstd: &NdArrayTensor,
    grad_output: &NdArrayTensor,
    statistics: Statistics,
) -> Option<(NdArrayTensor, NdArrayTensor, NdArrayTensor)> {
    fn run<T: Extract>(
        x: &NdArrayTensor,
        weight: &NdArrayTensor,
        mean: &NdArrayTensor,
        invstd: &NdArrayTensor,
        grad_output: &NdArrayTensor,
        statistics: Statistics,
    ) -> Option<(NdArrayTensor, NdArrayTensor, NdArrayTensor)> {
        let xv = T::view(x)?;
        let dims = xv.shape().to_vec();
        let shape = Ncs::of(&dims);
        let xs = values(xv);
        let dy = values(T::view(grad_output)?);
        let (w, mu, inv) = (
            values(T::view(weight)?),
            values(T::view(mean)?),
            values(T::view(invstd)?),
        );
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
            T::wrap(tensor(&dims, assume_init(dx))),
            T::wrap(tensor(&affine, dw)),
            T::wrap(tensor(&affine, db)),
        ))
    }
    match x {
        NdArrayTensor::F32(_) => run::<f32>(x, weight, mean, invstd, grad_output, statistics),
        NdArrayTensor::F64(_) => run::<f64>(x, weight, mean, invstd, grad_output, statistics),
        _ => None,
    }
}

/// `x · scale + shift` per channel, or `None` for other dtypes.
pub fn channel_affine(
    x: &NdArrayTensor,
    scale: &NdArrayTensor,
    shift: &NdArrayTensor,
) -> Option<NdArrayTensor> {
    fn run<T: Extract>(
        x: &NdArrayTensor,
        scale: &NdArrayTensor,
        shift: &NdArrayTensor,
    ) -> Option<NdArrayTensor> {
        let xv = T::view(x)?;
        let dims = xv.shape().to_vec();
        let xs = values(xv);
        let (a, b) = (values(T::view(scale)?), values(T::view(shift)?));
        let mut y = uninit::<T>(xs.len());
        batch::channel_affine(&xs, Ncs::of(&dims), &a, &b, &mut y);
        Some(T::wrap(tensor(&dims, assume_init(y))))
    }
    match x {
        NdArrayTensor::F32(_) => run::<f32>(x, scale, shift),
        NdArrayTensor::F64(_) => run::<f64>(x, scale, shift),
        _ => None,
    }
}
