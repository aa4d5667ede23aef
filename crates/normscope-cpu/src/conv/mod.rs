//! A `k×k` convolution with "same" padding `⌊k/2⌋` and a stride over `[N, C, H, W]`, forward and
//! backward, on slices. Two schemes:
//!
//! - `direct` (stride 1, output rows of at least 8 columns: every convolution of the report's
//!   networks but the strided ones): the output is accumulated in registers, 8 output channels ×
//!   8 columns at a time, from the input rows themselves (copied once per sample into rows with
//!   their zero padding); the input gradient is the same kernel on the output gradient with the
//!   kernel flipped and transposed, and the weight gradient a dot product of each output
//!   gradient row with the shifted input rows. No im2col buffer, no packing.
//! - `im2col` (any stride): im2col and one GEMM per sample (the classic Caffe scheme).
//!
//! They replace a composition of burn tensor ops (k² strided slices, a stack, a batched matmul)
//! whose autodiff backward materialised a zero-filled padded tensor per slice, and burn's own CPU
//! convolutions. Sums over the batch (`∂L/∂W`) are taken sample by sample in batch order, so the
//! result does not depend on the number of threads.

mod direct;
mod im2col;

use crate::real::Real;
use crate::{HostTensor, assume_init, uninit};

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

/// Samples per rayon task: one contiguous block of the batch per thread, so that each thread sets
/// up its buffers once.
fn samples_per_task(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads()).max(1)
}

/// Forward on slices: `x: [N, C, H, W]`, `weight: [O, C·k·k]` → `[N, O, H_out·W_out]`.
pub fn forward_slices<T: Real>(x: &[T], weight: &[T], s: &ConvShape) -> Vec<T> {
    let mut y = uninit::<T>(s.n * s.o * s.pixels());
    if direct::applies(s) {
        direct::forward(x, weight, s, &mut y);
    } else {
        im2col::forward(x, weight, s, &mut y);
    }
    assume_init(y)
}

/// Backward on slices: `(∂L/∂x: [N, C, H, W], ∂L/∂W: [O, C·k·k])` from `grad: [N, O, H_out·W_out]`.
pub fn backward_slices<T: Real>(
    x: &[T],
    weight: &[T],
    grad: &[T],
    s: &ConvShape,
) -> (Vec<T>, Vec<T>) {
    let wlen = s.o * s.columns();
    let mut dx = uninit::<T>(x.len());
    // One weight gradient per sample, summed in batch order below.
    let mut dw_samples = uninit::<T>(s.n * wlen);
    if direct::applies(s) {
        direct::backward(x, weight, grad, s, &mut dx, &mut dw_samples);
    } else {
        im2col::backward(x, weight, grad, s, &mut dx, &mut dw_samples);
    }
    let dw_samples = assume_init(dw_samples);
    let mut dw = vec![T::ZERO; wlen];
    for sample in dw_samples.chunks_exact(wlen) {
        for (d, &v) in dw.iter_mut().zip(sample) {
            *d = *d + v;
        }
    }
    (assume_init(dx), dw)
}

/// The convolution of `x: [N, C, H, W]` with `weight: [O, C, k, k]` → `[N, O, H_out, W_out]`, or
/// `None` for dtypes other than f32 and f64 (the caller takes its other path).
pub fn conv2d<H: HostTensor<f32> + HostTensor<f64>>(x: &H, weight: &H, stride: usize) -> Option<H> {
    fn run<T: Real, H: HostTensor<T>>(x: &H, weight: &H, stride: usize) -> Option<H> {
        let (xs, ws) = (x.values()?, weight.values()?);
        let s = ConvShape::of(&x.dims(), &weight.dims(), stride);
        let y = forward_slices(&xs, &ws, &s);
        let (ho, wo) = s.output();
        Some(H::from_values(&[s.n, s.o, ho, wo], y))
    }
    run::<f32, H>(x, weight, stride).or_else(|| run::<f64, H>(x, weight, stride))
}

/// `(∂L/∂x, ∂L/∂W)` of [`conv2d`] from the output gradient, or `None` for other dtypes.
pub fn conv2d_backward<H: HostTensor<f32> + HostTensor<f64>>(
    x: &H,
    weight: &H,
    grad: &H,
    stride: usize,
) -> Option<(H, H)> {
    fn run<T: Real, H: HostTensor<T>>(
        x: &H,
        weight: &H,
        grad: &H,
        stride: usize,
    ) -> Option<(H, H)> {
        let (xs, ws, gs) = (x.values()?, weight.values()?, grad.values()?);
        let (xdims, wdims) = (x.dims(), weight.dims());
        let s = ConvShape::of(&xdims, &wdims, stride);
        let (dx, dw) = backward_slices(&xs, &ws, &gs, &s);
        Some((H::from_values(&xdims, dx), H::from_values(&wdims, dw)))
    }
    run::<f32, H>(x, weight, grad, stride).or_else(|| run::<f64, H>(x, weight, grad, stride))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition, in f64.
    fn reference(x: &[f64], w: &[f64], s: &ConvShape) -> Vec<f64> {
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

    const fn shape(
        n: usize,
        c: usize,
        h: usize,
        w: usize,
        o: usize,
        k: usize,
        stride: usize,
    ) -> ConvShape {
        ConvShape {
            n,
            c,
            h,
            w,
            o,
            k,
            stride,
        }
    }

    /// Strided and narrow shapes (im2col only) and stride-1 shapes with rows of one tile or more
    /// (direct and im2col): output channels off the tile's 8, rows off its width, 1×1, 5×5 and
    /// even kernels (whose "same" output is one larger).
    const SHAPES: [ConvShape; 8] = [
        shape(2, 3, 5, 6, 4, 3, 1),
        shape(3, 2, 7, 5, 3, 3, 2),
        shape(2, 4, 4, 4, 5, 1, 2),
        shape(2, 3, 5, 11, 10, 3, 1),
        shape(3, 2, 4, 9, 3, 1, 1),
        shape(1, 2, 6, 17, 9, 5, 1),
        shape(2, 2, 3, 8, 2, 2, 1),
        shape(2, 9, 3, 16, 8, 3, 1),
    ];

    /// The forward of each scheme that takes `s`.
    fn forwards<T: Real>(x: &[T], w: &[T], s: &ConvShape) -> Vec<Vec<T>> {
        let mut all = vec![];
        let len = s.n * s.o * s.pixels();
        let mut y = uninit::<T>(len);
        im2col::forward(x, w, s, &mut y);
        all.push(assume_init(y));
        if direct::applies(s) {
            let mut y = uninit::<T>(len);
            direct::forward(x, w, s, &mut y);
            all.push(assume_init(y));
        }
        all
    }

    /// The backward `(∂x, ∂W per sample summed)` of each scheme that takes `s`.
    fn backwards<T: Real>(x: &[T], w: &[T], g: &[T], s: &ConvShape) -> Vec<(Vec<T>, Vec<T>)> {
        let wlen = s.o * s.columns();
        let run = |direct: bool| {
            let (mut dx, mut dws) = (uninit::<T>(x.len()), uninit::<T>(s.n * wlen));
            if direct {
                direct::backward(x, w, g, s, &mut dx, &mut dws);
            } else {
                im2col::backward(x, w, g, s, &mut dx, &mut dws);
            }
            let dws = assume_init(dws);
            let dw = (0..wlen)
                .map(|i| {
                    dws.iter()
                        .skip(i)
                        .step_by(wlen)
                        .fold(T::ZERO, |a, &v| a + v)
                })
                .collect();
            (assume_init(dx), dw)
        };
        let mut all = vec![run(false)];
        if direct::applies(s) {
            all.push(run(true));
        }
        all
    }

    #[test]
    fn the_forward_is_the_convolution() {
        for s in SHAPES {
            let x = values(s.n * s.c * s.h * s.w, 1);
            let w = values(s.o * s.c * s.k * s.k, 2);
            let expected = reference(&x, &w, &s);
            for got in forwards(&x, &w, &s) {
                assert_eq!(got.len(), expected.len());
                for (g, e) in got.iter().zip(&expected) {
                    assert!((g - e).abs() < 1e-12, "{s:?}: {g} vs {e}");
                }
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
                reference(x, w, &s).iter().zip(&r).map(|(y, r)| y * r).sum()
            };
            for (dx, dw) in backwards(&x, &w, &r, &s) {
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

    /// The f32 paths (AVX2 + FMA tiles where the CPU has them) against the f64 convolution.
    #[test]
    fn the_f32_paths_match_f64() {
        for s in SHAPES {
            let x = values(s.n * s.c * s.h * s.w, 6);
            let w = values(s.o * s.c * s.k * s.k, 7);
            let r = values(s.n * s.o * s.pixels(), 8);
            let f32s = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
            let (xf, wf, rf) = (f32s(&x), f32s(&w), f32s(&r));
            // The f64 results of the same f32-rounded inputs.
            let widen = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<f64>>();
            let (x64, w64, r64) = (widen(&xf), widen(&wf), widen(&rf));
            let close = |got: &[f32], expected: &[f64], what: &str| {
                let scale = expected.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
                for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
                    assert!(
                        (g as f64 - e).abs() < 1e-5 * scale,
                        "{s:?} {what}[{i}]: {g} vs {e}"
                    );
                }
            };
            let y64 = reference(&x64, &w64, &s);
            for y in forwards(&xf, &wf, &s) {
                close(&y, &y64, "y");
            }
            let [(dx64, dw64)]: [(Vec<f64>, Vec<f64>); 1] = backwards(&x64, &w64, &r64, &s)[..1]
                .to_vec()
                .try_into()
                .unwrap();
            for (dx, dw) in backwards(&xf, &wf, &rf, &s) {
                close(&dx, &dx64, "∂x");
                close(&dw, &dw64, "∂W");
            }
        }
    }
}
