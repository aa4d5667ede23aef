//! im2col and one GEMM per sample (the classic Caffe scheme), for any stride: the columns of a
//! sample `[C·k·k, H_out·W_out]` are written into a buffer reused for the whole block of samples
//! a thread takes and multiplied by the weight matrix `[O, C·k·k]` straight into the output's
//! `[O, H_out·W_out]` block; the backward multiplies by transposed views (strides, no copies) and
//! scatters the column gradient back (col2im).

use core::any::TypeId;
use core::mem::MaybeUninit;

use rayon::prelude::*;

use super::{ConvShape, samples_per_task};
use crate::real::Real;
use crate::uninit;

/// `v` set to zeros, as initialised values.
fn zeroed<T: Real>(v: &mut [MaybeUninit<T>]) -> &mut [T] {
    for e in v.iter_mut() {
        e.write(T::ZERO);
    }
    // SAFETY: every element was just written; `MaybeUninit<T>` has `T`'s layout.
    unsafe { &mut *(v as *mut [MaybeUninit<T>] as *mut [T]) }
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
fn gemm<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: Operand<T>,
    b: Operand<T>,
    beta: T,
    c: &mut [MaybeUninit<T>],
) {
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

/// `y: [N, O, H_out·W_out]` (every element written) from `x: [N, C, H, W]`, `weight: [O, C·k·k]`.
pub(super) fn forward<T: Real>(x: &[T], weight: &[T], s: &ConvShape, y: &mut [MaybeUninit<T>]) {
    let (cols_len, hw) = (s.columns(), s.pixels());
    let per = samples_per_task(s.n);
    y.par_chunks_mut(per * s.o * hw)
        .zip(x.par_chunks(per * s.c * s.h * s.w))
        .for_each(|(ys, xs)| {
            let mut cols = vec![T::ZERO; cols_len * hw];
            for (out, xs) in ys.chunks_mut(s.o * hw).zip(xs.chunks(s.c * s.h * s.w)) {
                im2col(xs, s, &mut cols);
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
            }
        });
}

/// `∂L/∂x` (`dx`) and one `∂L/∂W` per sample (`dw_samples: [N, O·C·k·k]`), every element written,
/// from `grad: [N, O, H_out·W_out]`.
pub(super) fn backward<T: Real>(
    x: &[T],
    weight: &[T],
    grad: &[T],
    s: &ConvShape,
    dx: &mut [MaybeUninit<T>],
    dw_samples: &mut [MaybeUninit<T>],
) {
    let (cols_len, hw) = (s.columns(), s.pixels());
    let wlen = s.o * cols_len;
    let (xlen, glen) = (s.c * s.h * s.w, s.o * hw);
    let per = samples_per_task(s.n);
    dx.par_chunks_mut(per * xlen)
        .zip(dw_samples.par_chunks_mut(per * wlen))
        .zip(x.par_chunks(per * xlen).zip(grad.par_chunks(per * glen)))
        .for_each(|((dxs, dws), (xs, gs))| {
            let mut cols = vec![T::ZERO; cols_len * hw];
            let mut dcols = uninit::<T>(cols_len * hw);
            for (((dx, dw), xs), gs) in dxs
                .chunks_mut(xlen)
                .zip(dws.chunks_mut(wlen))
                .zip(xs.chunks(xlen))
                .zip(gs.chunks(glen))
            {
                im2col(xs, s, &mut cols);
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
                gemm(cols_len, s.o, hw, w_t, g, T::ZERO, &mut dcols);
                // SAFETY: the GEMM (β = 0) wrote every element of `dcols`.
                let dcols =
                    unsafe { &*(dcols.as_slice() as *const [MaybeUninit<T>] as *const [T]) };
                col2im(dcols, s, zeroed(dx));
            }
        });
}
