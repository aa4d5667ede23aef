//! A `k×k` convolution with "same" padding `⌊k/2⌋` and a stride over `[N, C, H, W]`, forward and
//! backward, as im2col and one GEMM per sample (the classic Caffe scheme): the columns of a
//! sample `[C·k·k, H_out·W_out]` are written once into a reused buffer and multiplied by the
//! weight matrix `[O, C·k·k]` straight into the output's `[O, H_out·W_out]` block, and the
//! backward multiplies by transposed views (strides, no copies) and scatters the column
//! gradient back (col2im).
//!
//! This replaces a composition of burn tensor ops (k² strided slices, a stack, a batched matmul)
//! whose autodiff backward materialised a zero-filled padded tensor per slice. Sums over the
//! batch (`∂L/∂W`) are taken sample by sample in batch order, so the result does not depend on
//! the number of threads.

use core::any::TypeId;

use burn_ndarray::NdArrayTensor;
use rayon::prelude::*;

use crate::real::Real;
use crate::{Extract, tensor, values};

/// The geometry of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride.
    pub stride: usize,
}

impl ConvShape {
    /// `x: [N, C, H, W]`, `weight: [O, C, k, k]`.
    pub fn of(x: &[usize], weight: &[usize], stride: usize) -> ConvShape {
        ConvShape {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            o: weight[0],
            k: weight[2],
            stride,
        }
    }

    fn pad(&self) -> usize {
        self.k / 2
    }

    /// `(H_out, W_out)`.
    pub fn output(&self) -> (usize, usize) {
        let pad = self.pad();
        (
            (self.h + 2 * pad - self.k) / self.stride + 1,
            (self.w + 2 * pad - self.k) / self.stride + 1,
        )
    }

    fn columns(&self) -> usize {
        self.c * self.k * self.k
    }

    fn pixels(&self) -> usize {
        let (ho, wo) = self.output();
        ho * wo
    }

    /// The input position of output `out` at kernel offset `off`, when inside the image.
    #[inline]
    fn source(&self, out: usize, off: usize, size: usize) -> Option<usize> {
        (out * self.stride + off)
            .checked_sub(self.pad())
            .filter(|&i| i < size)
    }

    /// The outputs `lo..hi` (of `outputs`) whose input at kernel offset `off` lies inside an
    /// axis of `size`, and the input position of `lo`: the window's valid span on that axis.
    #[inline]
    fn span(&self, off: usize, size: usize, outputs: usize) -> (usize, usize, usize) {
        let pad = self.pad();
        // First output with out·stride + off ≥ pad, first with out·stride + off ≥ size + pad.
        let first = |bound: usize| bound.saturating_sub(off).div_ceil(self.stride).min(outputs);
        let (lo, hi) = (first(pad), first(size + pad));
        (lo, hi.max(lo), (lo * self.stride + off).saturating_sub(pad))
    }
}

/// Writes the columns of one sample `x: [C, H, W]` into `cols: [C·k·k, H_out·W_out]` (row
/// `(c·k + kh)·k + kw`, zeros where the window leaves the image).
fn im2col<T: Real>(x: &[T], s: &ConvShape, cols: &mut [T]) {
    let (ho, wo) = s.output();
    let mut rows = cols.chunks_exact_mut(ho * wo);
    for c in 0..s.c {
        let plane = &x[c * s.h * s.w..(c + 1) * s.h * s.w];
        for kh in 0..s.k {
            for kw in 0..s.k {
                let row = rows.next().expect("C·k·k rows");
                let (lo, hi, iw0) = s.span(kw, s.w, wo);
                for (oh, out) in row.chunks_exact_mut(wo).enumerate() {
                    let Some(ih) = s.source(oh, kh, s.h) else {
                        out.fill(T::ZERO);
                        continue;
                    };
                    let line = &plane[ih * s.w..(ih + 1) * s.w];
                    out[..lo].fill(T::ZERO);
                    out[hi..].fill(T::ZERO);
                    let inside = &mut out[lo..hi];
                    if s.stride == 1 {
                        inside.copy_from_slice(&line[iw0..iw0 + inside.len()]);
                    } else {
                        for (v, &src) in inside.iter_mut().zip(line[iw0..].iter().step_by(s.stride))
                        {
                            *v = src;
                        }
                    }
                }
            }
        }
    }
}

/// Adds the column gradient `cols: [C·k·k, H_out·W_out]` of one sample back into `dx: [C, H, W]`.
fn col2im<T: Real>(cols: &[T], s: &ConvShape, dx: &mut [T]) {
    let (ho, wo) = s.output();
    let mut rows = cols.chunks_exact(ho * wo);
    for c in 0..s.c {
        let plane = &mut dx[c * s.h * s.w..(c + 1) * s.h * s.w];
        for kh in 0..s.k {
            for kw in 0..s.k {
                let row = rows.next().expect("C·k·k rows");
                let (lo, hi, iw0) = s.span(kw, s.w, wo);
                for (oh, out) in row.chunks_exact(wo).enumerate() {
                    let Some(ih) = s.source(oh, kh, s.h) else {
                        continue;
                    };
                    let line = &mut plane[ih * s.w..(ih + 1) * s.w];
                    let inside = &out[lo..hi];
                    if s.stride == 1 {
                        // Contiguous on both sides: a loop the compiler vectorizes.
                        for (d, &g) in line[iw0..iw0 + inside.len()].iter_mut().zip(inside) {
                            *d = *d + g;
                        }
                    } else {
                        for (d, &g) in line[iw0..].iter_mut().step_by(s.stride).zip(inside) {
                            *d = *d + g;
                        }
                    }
                }
            }
        }
    }
}

/// A matrix operand: its first element and its row and column strides.
struct Operand<T> {
    ptr: *const T,
    row: isize,
    col: isize,
}

/// `C ← A B + β C` with `A: m×k`, `B: k×n`, `C: m×n` row-major (matrixmultiply's GEMM).
#[allow(clippy::too_many_arguments)]
fn gemm<T: Real>(m: usize, k: usize, n: usize, a: Operand<T>, b: Operand<T>, beta: T, c: &mut [T]) {
    assert!(c.len() >= m * n, "C holds m×n values");
    // One call, spelled for each element type.
    macro_rules! call {
        ($gemm:path, $t:ty) => {
            $gemm(
                m,
                k,
                n,
                1.0,
                a.ptr.cast(),
                a.row,
                a.col,
                b.ptr.cast(),
                b.row,
                b.col,
                beta.to_f64() as $t,
                c.as_mut_ptr().cast(),
                n as isize,
                1,
            )
        };
    }
    // SAFETY: the callers pass operands with m×k and k×n elements inside their slices at the
    // given strides, C is a distinct m×n row-major buffer (checked above); T is f32 or f64 as
    // the branch says, so the pointer casts are identities.
    unsafe {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            call!(matrixmultiply::sgemm, f32)
        } else {
            call!(matrixmultiply::dgemm, f64)
        }
    }
}

/// Forward on slices: `x: [N, C, H, W]`, `weight: [O, C·k·k]` → `[N, O, H_out·W_out]`.
pub fn forward_slices<T: Real>(x: &[T], weight: &[T], s: &ConvShape) -> Vec<T> {
    let (cols_len, hw) = (s.columns(), s.pixels());
    let mut y = vec![T::ZERO; s.n * s.o * hw];
    y.par_chunks_mut(s.o * hw)
        .zip(x.par_chunks(s.c * s.h * s.w))
        .for_each_init(
            || vec![T::ZERO; cols_len * hw],
            |cols, (out, xs)| {
                im2col(xs, s, cols);
                let a = Operand {
                    ptr: weight.as_ptr(),
                    row: cols_len as isize,
                    col: 1,
                };
                let b = Operand {
                    ptr: cols.as_ptr(),
                    row: hw as isize,
                    col: 1,
                };
                gemm(s.o, cols_len, hw, a, b, T::ZERO, out);
            },
        );
    y
}

/// Backward on slices: `(∂L/∂x: [N, C, H, W], ∂L/∂W: [O, C·k·k])` from `grad: [N, O, H_out·W_out]`.
pub fn backward_slices<T: Real>(
    x: &[T],
    weight: &[T],
    grad: &[T],
    s: &ConvShape,
) -> (Vec<T>, Vec<T>) {
    let (cols_len, hw) = (s.columns(), s.pixels());
    let wlen = s.o * cols_len;
    let mut dx = vec![T::ZERO; x.len()];
    // One weight gradient per sample, summed in batch order below.
    let mut dw_samples = vec![T::ZERO; s.n * wlen];
    dx.par_chunks_mut(s.c * s.h * s.w)
        .zip(dw_samples.par_chunks_mut(wlen))
        .zip(x.par_chunks(s.c * s.h * s.w).zip(grad.par_chunks(s.o * hw)))
        .for_each_init(
            || (vec![T::ZERO; cols_len * hw], vec![T::ZERO; cols_len * hw]),
            |(cols, dcols), ((dxs, dw), (xs, gs))| {
                im2col(xs, s, cols);
                // ∂L/∂W_n = G_n · colsᵀ: `[O, HW] × [HW, C·k·k]`.
                let g = Operand {
                    ptr: gs.as_ptr(),
                    row: hw as isize,
                    col: 1,
                };
                let cols_t = Operand {
                    ptr: cols.as_ptr(),
                    row: 1,
                    col: hw as isize,
                };
                gemm(s.o, hw, cols_len, g, cols_t, T::ZERO, dw);
                // ∂L/∂cols = Wᵀ · G_n: `[C·k·k, O] × [O, HW]`.
                let w_t = Operand {
                    ptr: weight.as_ptr(),
                    row: 1,
                    col: cols_len as isize,
                };
                let g = Operand {
                    ptr: gs.as_ptr(),
                    row: hw as isize,
                    col: 1,
                };
                gemm(cols_len, s.o, hw, w_t, g, T::ZERO, dcols);
                col2im(dcols, s, dxs);
            },
        );
    let mut dw = vec![T::ZERO; wlen];
    for sample in dw_samples.chunks_exact(wlen) {
        for (d, &v) in dw.iter_mut().zip(sample) {
            *d = *d + v;
        }
    }
    (dx, dw)
}

/// The convolution of `x: [N, C, H, W]` with `weight: [O, C, k, k]` → `[N, O, H_out, W_out]`, or
/// `None` for dtypes other than f32 and f64 (the caller takes its other path).
pub fn conv2d(x: &NdArrayTensor, weight: &NdArrayTensor, stride: usize) -> Option<NdArrayTensor> {
    fn run<T: Extract>(
        x: &NdArrayTensor,
        weight: &NdArrayTensor,
        stride: usize,
    ) -> Option<NdArrayTensor> {
        let (xv, wv) = (T::view(x)?, T::view(weight)?);
        let s = ConvShape::of(xv.shape(), wv.shape(), stride);
        let y = forward_slices(&values(xv), &values(wv), &s);
        let (ho, wo) = s.output();
        Some(T::wrap(tensor(&[s.n, s.o, ho, wo], y)))
    }
    match x {
        NdArrayTensor::F32(_) => run::<f32>(x, weight, stride),
        NdArrayTensor::F64(_) => run::<f64>(x, weight, stride),
        _ => None,
    }
}

/// `(∂L/∂x, ∂L/∂W)` of [`conv2d`] from the output gradient, or `None` for other dtypes.
pub fn conv2d_backward(
    x: &NdArrayTensor,
    weight: &NdArrayTensor,
    grad: &NdArrayTensor,
    stride: usize,
) -> Option<(NdArrayTensor, NdArrayTensor)> {
    fn run<T: Extract>(
        x: &NdArrayTensor,
        weight: &NdArrayTensor,
        grad: &NdArrayTensor,
        stride: usize,
    ) -> Option<(NdArrayTensor, NdArrayTensor)> {
        let (xv, wv) = (T::view(x)?, T::view(weight)?);
        let (xdims, wdims) = (xv.shape().to_vec(), wv.shape().to_vec());
        let s = ConvShape::of(&xdims, &wdims, stride);
        let (dx, dw) = backward_slices(&values(xv), &values(wv), &values(T::view(grad)?), &s);
        Some((T::wrap(tensor(&xdims, dx)), T::wrap(tensor(&wdims, dw))))
    }
    match x {
        NdArrayTensor::F32(_) => run::<f32>(x, weight, grad, stride),
        NdArrayTensor::F64(_) => run::<f64>(x, weight, grad, stride),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition, in f64.
    fn direct(x: &[f64], w: &[f64], s: &ConvShape) -> Vec<f64> {
        let (ho, wo) = s.output();
        let mut y = vec![0.0; s.n * s.o * ho * wo];
        for n in 0..s.n {
            for o in 0..s.o {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let mut acc = 0.0;
                        for c in 0..s.c {
                            for kh in 0..s.k {
                                for kw in 0..s.k {
                                    if let (Some(ih), Some(iw)) =
                                        (s.source(oh, kh, s.h), s.source(ow, kw, s.w))
                                    {
                                        acc += x[((n * s.c + c) * s.h + ih) * s.w + iw]
                                            * w[((o * s.c + c) * s.k + kh) * s.k + kw];
                                    }
                                }
                            }
                        }
                        y[((n * s.o + o) * ho + oh) * wo + ow] = acc;
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    const SHAPES: [ConvShape; 3] = [
        ConvShape {
            n: 2,
            c: 3,
            h: 5,
            w: 6,
            o: 4,
            k: 3,
            stride: 1,
        },
        ConvShape {
            n: 3,
            c: 2,
            h: 7,
            w: 5,
            o: 3,
            k: 3,
            stride: 2,
        },
        ConvShape {
            n: 2,
            c: 4,
            h: 4,
            w: 4,
            o: 5,
            k: 1,
            stride: 2,
        },
    ];

    #[test]
    fn the_forward_is_the_convolution() {
        for s in SHAPES {
            let x = values(s.n * s.c * s.h * s.w, 1);
            let w = values(s.o * s.c * s.k * s.k, 2);
            let got = forward_slices(&x, &w, &s);
            let expected = direct(&x, &w, &s);
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-12, "{s:?}: {g} vs {e}");
            }
        }
    }

    /// `L = Σ y ⊙ r` is linear in `x` and in `W`: its gradients are exact against central
    /// differences of the direct convolution.
    #[test]
    fn the_backward_is_the_gradient_of_the_forward() {
        for s in SHAPES {
            let x = values(s.n * s.c * s.h * s.w, 3);
            let w = values(s.o * s.c * s.k * s.k, 4);
            let r = values(s.n * s.o * s.pixels(), 5);
            let loss = |x: &[f64], w: &[f64]| -> f64 {
                direct(x, w, &s).iter().zip(&r).map(|(y, r)| y * r).sum()
            };
            let (dx, dw) = backward_slices(&x, &w, &r, &s);
            let h = 1e-3;
            for i in 0..x.len() {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += h;
                down[i] -= h;
                let fd = (loss(&up, &w) - loss(&down, &w)) / (2.0 * h);
                assert!(
                    (dx[i] - fd).abs() < 1e-9,
                    "{s:?} ∂x[{i}]: {} vs {fd}",
                    dx[i]
                );
            }
            for i in 0..w.len() {
                let (mut up, mut down) = (w.clone(), w.clone());
                up[i] += h;
                down[i] -= h;
                let fd = (loss(&x, &up) - loss(&x, &down)) / (2.0 * h);
                assert!(
                    (dw[i] - fd).abs() < 1e-9,
                    "{s:?} ∂W[{i}]: {} vs {fd}",
                    dw[i]
                );
            }
        }
    }
}
