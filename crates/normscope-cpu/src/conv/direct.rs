//! The direct convolution for stride 1: no im2col buffer and no GEMM packing.
//!
//! The output is computed in tiles of [`OB`] output channels × [`TW`] consecutive columns of one
//! output row, held in registers (8 vectors of 8 f32) while the tile sums over every input
//! channel and kernel tap: for each `(c, kh, kw)`, one load of 8 input values (the input row
//! shifted by `kw`) and 8 fused multiply-adds, one per output channel with its weight broadcast.
//! The input of a sample is first copied into rows with their zero padding (`pad` zeros on the
//! left, zeros after the row up to whole tiles), so that every tap is a plain contiguous load;
//! rows above and below the image are skipped rather than padded.
//!
//! The backward reuses the same tile: `∂L/∂x` is the stride-1 convolution of `∂L/∂y` with the
//! kernel flipped and its two channel axes swapped (padding `k − 1 − pad`), and `∂L/∂W[o, c,
//! kh, kw]` is the dot product of output-gradient plane `o` with input plane `c` shifted by
//! `(kh, kw)`, taken 8 output channels × 8 lanes at a time and summed over the lanes at the end.
//!
//! f32 on x86-64 CPUs with AVX2 and FMA (detected at run time) runs the tiles as intrinsics;
//! everything else (f64, other CPUs) runs the same loops written on arrays.

use core::mem::MaybeUninit;

use rayon::prelude::*;

use super::{ConvShape, samples_per_task};
use crate::real::Real;
#[cfg(target_arch = "x86_64")]
use crate::simd::{has_avx2_fma, same, same_mut};

/// Output columns per tile (one 8-lane f32 vector).
const TW: usize = 8;
/// Output channels per tile (eight accumulator vectors).
const OB: usize = 8;

/// Whether the direct kernel takes `s`: stride 1, and output rows of at least one tile.
pub(super) fn applies(s: &ConvShape) -> bool {
    s.stride == 1 && s.output().1 >= TW
}

/// One sample's stride-1 convolution: `in_c` planes `in_h × in_w` → `out_c` planes
/// `out_h × out_w`, `out = in + 2·pad − k + 1` on each axis.
#[derive(Debug, Clone, Copy)]
struct Plan {
    in_c: usize,
    in_h: usize,
    in_w: usize,
    out_c: usize,
    out_h: usize,
    out_w: usize,
    k: usize,
    pad: usize,
}

impl Plan {
    /// The forward convolution of `s`.
    fn forward(s: &ConvShape) -> Plan {
        let (out_h, out_w) = s.output();
        Plan {
            in_c: s.c,
            in_h: s.h,
            in_w: s.w,
            out_c: s.o,
            out_h,
            out_w,
            k: s.k,
            pad: s.pad(),
        }
    }

    /// The convolution that gives `∂L/∂x` from `∂L/∂y` (flipped, transposed kernel).
    fn input_grad(s: &ConvShape) -> Plan {
        let (out_h, out_w) = s.output();
        Plan {
            in_c: s.o,
            in_h: out_h,
            in_w: out_w,
            out_c: s.c,
            out_h: s.h,
            out_w: s.w,
            k: s.k,
            pad: s.k - 1 - s.pad(),
        }
    }

    /// Tiles per output row.
    fn tiles(&self) -> usize {
        self.out_w.div_ceil(TW)
    }

    /// Tiles of output channels.
    fn blocks(&self) -> usize {
        self.out_c.div_ceil(OB)
    }

    /// Length of a padded input row: every tile's `TW + k − 1` inputs fit.
    fn row(&self) -> usize {
        self.tiles() * TW + self.k - 1
    }

    /// Length of the padded input of a sample.
    fn input_len(&self) -> usize {
        self.in_c * self.in_h * self.row()
    }

    /// The kernel rows `kh0..kh1` whose input row for output row `oh` lies inside the input.
    fn taps(&self, oh: usize) -> (usize, usize) {
        let kh0 = self.pad.saturating_sub(oh);
        (
            kh0,
            self.k
                .min((self.in_h + self.pad).saturating_sub(oh))
                .max(kh0),
        )
    }

    /// The weights as the tiles read them: `[blocks][in_c][k][k][OB]`, zeros past `out_c`.
    fn pack<T: Real>(&self, weight: impl Fn(usize, usize, usize, usize) -> T) -> Vec<T> {
        let k = self.k;
        let mut packed = Vec::with_capacity(self.blocks() * self.in_c * k * k * OB);
        for block in 0..self.blocks() {
            for c in 0..self.in_c {
                for kh in 0..k {
                    for kw in 0..k {
                        for b in 0..OB {
                            let o = block * OB + b;
                            packed.push(if o < self.out_c {
                                weight(o, c, kh, kw)
                            } else {
                                T::ZERO
                            });
                        }
                    }
                }
            }
        }
        packed
    }

    /// `y: [out_c, out_h, out_w]` (every element written) from the padded input and the packed
    /// weights, with the tiles of `K`.
    ///
    /// # Safety
    /// `K`'s own conditions (the CPU features of [`Avx2Fma`]); the lengths are checked here.
    #[inline(always)]
    unsafe fn run<T: Real, K: Tiles<T>>(&self, xp: &[T], packed: &[T], y: &mut [MaybeUninit<T>]) {
        let (row, k) = (self.row(), self.k);
        let block_len = self.in_c * k * k * OB;
        assert!(
            xp.len() == self.input_len()
                && packed.len() == self.blocks() * block_len
                && y.len() == self.out_c * self.out_h * self.out_w
        );
        for (block, weights) in packed.chunks_exact(block_len).enumerate() {
            let outputs = OB.min(self.out_c - block * OB);
            for oh in 0..self.out_h {
                let (kh0, kh1) = self.taps(oh);
                let taps = Taps {
                    in_c: self.in_c,
                    plane: self.in_h * row,
                    row,
                    k,
                    kh0,
                    rows: kh1 - kh0,
                };
                // Input row of the first tap (oh + kh0 − pad ≥ 0 by the choice of kh0).
                let first = (oh + kh0 - self.pad) * row;
                for t0 in (0..self.out_w).step_by(TW) {
                    // SAFETY: the tile reads input rows first/row + 0..rows of every plane, columns
                    // t0 .. t0 + k − 1 + TW ≤ row, inside `xp` (length checked above), and
                    // in_c·k·k·OB weights; `K`'s conditions are the caller's.
                    let tile = unsafe { K::forward(xp, weights, &taps, first + t0) };
                    let n = TW.min(self.out_w - t0);
                    for (b, values) in tile.iter().take(outputs).enumerate() {
                        let at = ((block * OB + b) * self.out_h + oh) * self.out_w + t0;
                        write(&mut y[at..at + n], values);
                    }
                }
            }
        }
    }

    /// `x: [in_c, in_h, in_w]` into rows of [`Plan::row`] after `pad` zeros (the zeros around
    /// each row are the buffer's: it is allocated zeroed, once per block of samples, and only
    /// the rows' interiors are ever written).
    fn copy_input<T: Real>(&self, x: &[T], xp: &mut [T]) {
        let (pad, w) = (self.pad, self.in_w);
        for (dst, src) in xp.chunks_exact_mut(self.row()).zip(x.chunks_exact(w)) {
            dst[pad..pad + w].copy_from_slice(src);
        }
    }

    /// `g: [out_c, out_h, out_w]` into `[blocks·OB, out_h, tiles·TW]` (what
    /// [`Plan::weight_grad`] reads; the rest of the zeroed buffer stays zero).
    fn copy_output_grad<T: Real>(&self, g: &[T], gp: &mut [T]) {
        let grow = self.tiles() * TW;
        for (dst, src) in gp.chunks_exact_mut(grow).zip(g.chunks_exact(self.out_w)) {
            dst[..self.out_w].copy_from_slice(src);
        }
    }

    fn output_grad_len(&self) -> usize {
        self.blocks() * OB * self.out_h * self.tiles() * TW
    }

    /// `dw: [out_c, in_c, k, k]` of one sample (every element written): `Σ_{oh, ow} g[o, oh, ow]
    /// · x[c, oh + kh − pad, ow + kw − pad]` from the padded input and output gradient, with the
    /// tiles of `K`.
    ///
    /// # Safety
    /// `K`'s own conditions; the lengths are checked here.
    #[inline(always)]
    unsafe fn weight_grad<T: Real, K: Tiles<T>>(
        &self,
        xp: &[T],
        gp: &[T],
        dw: &mut [MaybeUninit<T>],
    ) {
        let (row, k, grow) = (self.row(), self.k, self.tiles() * TW);
        assert!(
            xp.len() == self.input_len()
                && gp.len() == self.output_grad_len()
                && dw.len() == self.out_c * self.in_c * k * k
        );
        for c in 0..self.in_c {
            for kh in 0..k {
                // Output rows whose input row oh + kh − pad lies inside.
                let lo = self.pad.saturating_sub(kh);
                let hi = self.out_h.min((self.in_h + self.pad).saturating_sub(kh));
                let dots = Dots {
                    rows: hi.saturating_sub(lo),
                    row,
                    grow,
                    plane: self.out_h * grow,
                };
                for kw in 0..k {
                    let x0 = (c * self.in_h + (lo + kh).saturating_sub(self.pad)) * row + kw;
                    for block in 0..self.blocks() {
                        let g0 = (block * OB * self.out_h + lo) * grow;
                        // SAFETY: the tile reads rows lo..hi of input plane c shifted by (kh,
                        // kw) (columns kw .. kw + grow ≤ row) and of the OB output-gradient
                        // planes of the block (whole rows), inside the buffers checked above.
                        let tile = unsafe { K::weight(xp, gp, &dots, x0, g0) };
                        let outputs = OB.min(self.out_c - block * OB);
                        for (b, lanes) in tile.iter().take(outputs).enumerate() {
                            let o = block * OB + b;
                            let sum = lanes.iter().fold(T::ZERO, |s, &v| s + v);
                            dw[((o * self.in_c + c) * k + kh) * k + kw].write(sum);
                        }
                    }
                }
            }
        }
    }
}

/// `values` into `dst` (a whole tile row: fixed-size stores; the last, partial one: `dst.len()`).
#[inline(always)]
fn write<T: Real>(dst: &mut [MaybeUninit<T>], values: &[T; TW]) {
    match <&mut [MaybeUninit<T>; TW]>::try_from(&mut *dst) {
        Ok(full) => {
            for (d, &v) in full.iter_mut().zip(values) {
                d.write(v);
            }
        }
        Err(_) => {
            for (d, &v) in dst.iter_mut().zip(values) {
                d.write(v);
            }
        }
    }
}

/// What a forward tile sums over: `in_c` planes of `plane` values in rows of `row`, kernel rows
/// `kh0..kh0 + rows` of a `k × k` kernel.
struct Taps {
    in_c: usize,
    plane: usize,
    row: usize,
    k: usize,
    kh0: usize,
    rows: usize,
}

/// What a weight-gradient tile sums over: `rows` rows of `grow` values of each of the `OB`
/// output-gradient planes (`plane` apart), against input rows `row` apart.
struct Dots {
    rows: usize,
    row: usize,
    grow: usize,
    plane: usize,
}

/// The two register tiles.
trait Tiles<T: Real> {
    /// `tile[b][t] = Σ_{c, dh < rows, kw} w[((c·k + kh0 + dh)·k + kw)·OB + b] ·
    /// xp[x0 + c·plane + dh·row + kw + t]`.
    ///
    /// # Safety
    /// Every index named lies inside `xp` and `w`, and the CPU runs what the implementation
    /// needs.
    unsafe fn forward(xp: &[T], w: &[T], taps: &Taps, x0: usize) -> [[T; TW]; OB];

    /// `tile[b][t] = Σ_{i < rows, j < grow/TW} gp[g0 + b·plane + i·grow + j·TW + t] ·
    /// xp[x0 + i·row + j·TW + t]`: eight lanes of the dot products of `OB` output-gradient
    /// planes with one shifted input plane.
    ///
    /// # Safety
    /// As for [`Tiles::forward`].
    unsafe fn weight(xp: &[T], gp: &[T], dots: &Dots, x0: usize, g0: usize) -> [[T; TW]; OB];
}

/// The tiles as plain loops on arrays (every element type and CPU; indices checked).
struct Portable;

impl<T: Real> Tiles<T> for Portable {
    #[inline(always)]
    unsafe fn forward(xp: &[T], w: &[T], taps: &Taps, x0: usize) -> [[T; TW]; OB] {
        let mut acc = [[T::ZERO; TW]; OB];
        for c in 0..taps.in_c {
            for dh in 0..taps.rows {
                let xr = x0 + c * taps.plane + dh * taps.row;
                let wr = ((c * taps.k + taps.kh0 + dh) * taps.k) * OB;
                for kw in 0..taps.k {
                    let src: &[T; TW] = xp[xr + kw..xr + kw + TW].try_into().expect("TW values");
                    let wv: &[T; OB] = w[wr + kw * OB..wr + (kw + 1) * OB]
                        .try_into()
                        .expect("OB values");
                    for (a, &wb) in acc.iter_mut().zip(wv) {
                        for (a, &v) in a.iter_mut().zip(src) {
                            *a = *a + wb * v;
                        }
                    }
                }
            }
        }
        acc
    }

    #[inline(always)]
    unsafe fn weight(xp: &[T], gp: &[T], dots: &Dots, x0: usize, g0: usize) -> [[T; TW]; OB] {
        let mut acc = [[T::ZERO; TW]; OB];
        for i in 0..dots.rows {
            for j in (0..dots.grow).step_by(TW) {
                let at = x0 + i * dots.row + j;
                let src: &[T; TW] = xp[at..at + TW].try_into().expect("TW values");
                for (b, a) in acc.iter_mut().enumerate() {
                    let at = g0 + b * dots.plane + i * dots.grow + j;
                    let g: &[T; TW] = gp[at..at + TW].try_into().expect("TW values");
                    for ((a, &g), &v) in a.iter_mut().zip(g).zip(src) {
                        *a = *a + g * v;
                    }
                }
            }
        }
        acc
    }
}

/// The tiles as AVX2 + FMA intrinsics on f32: 8 accumulator registers, the input vector loaded
/// once per tap and each weight broadcast into a fused multiply-add.
#[cfg(target_arch = "x86_64")]
struct Avx2Fma;

#[cfg(target_arch = "x86_64")]
impl Tiles<f32> for Avx2Fma {
    #[inline(always)]
    unsafe fn forward(xp: &[f32], w: &[f32], taps: &Taps, x0: usize) -> [[f32; TW]; OB] {
        use core::arch::x86_64::*;
        let (xp, w) = (xp.as_ptr(), w.as_ptr());
        // SAFETY (the whole body): the CPU runs AVX2 and FMA and every index is inside `xp` and
        // `w` (the caller's conditions).
        unsafe {
            let mut acc = [_mm256_setzero_ps(); OB];
            for c in 0..taps.in_c {
                for dh in 0..taps.rows {
                    let xr = xp.add(x0 + c * taps.plane + dh * taps.row);
                    let wr = w.add(((c * taps.k + taps.kh0 + dh) * taps.k) * OB);
                    for kw in 0..taps.k {
                        let src = _mm256_loadu_ps(xr.add(kw));
                        let wv = wr.add(kw * OB);
                        for (b, a) in acc.iter_mut().enumerate() {
                            *a = _mm256_fmadd_ps(_mm256_set1_ps(*wv.add(b)), src, *a);
                        }
                    }
                }
            }
            let mut tile = [[0.0f32; TW]; OB];
            for (t, a) in tile.iter_mut().zip(&acc) {
                _mm256_storeu_ps(t.as_mut_ptr(), *a);
            }
            tile
        }
    }

    #[inline(always)]
    unsafe fn weight(xp: &[f32], gp: &[f32], dots: &Dots, x0: usize, g0: usize) -> [[f32; TW]; OB] {
        use core::arch::x86_64::*;
        let (xp, gp) = (xp.as_ptr(), gp.as_ptr());
        // SAFETY (the whole body): as in `forward`.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); OB];
            for i in 0..dots.rows {
                for j in (0..dots.grow).step_by(TW) {
                    let src = _mm256_loadu_ps(xp.add(x0 + i * dots.row + j));
                    let g = gp.add(g0 + i * dots.grow + j);
                    for (b, a) in acc.iter_mut().enumerate() {
                        *a = _mm256_fmadd_ps(_mm256_loadu_ps(g.add(b * dots.plane)), src, *a);
                    }
                }
            }
            let mut tile = [[0.0f32; TW]; OB];
            for (t, a) in tile.iter_mut().zip(&acc) {
                _mm256_storeu_ps(t.as_mut_ptr(), *a);
            }
            tile
        }
    }
}

/// [`Plan::run`] with the AVX2 tiles, compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU runs AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(plan: &Plan, xp: &[f32], packed: &[f32], y: &mut [MaybeUninit<f32>]) {
    // SAFETY: the caller's condition is the tiles'.
    unsafe { plan.run::<f32, Avx2Fma>(xp, packed, y) }
}

/// [`Plan::weight_grad`] with the AVX2 tiles, compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU runs AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_grad_avx2(plan: &Plan, xp: &[f32], gp: &[f32], dw: &mut [MaybeUninit<f32>]) {
    // SAFETY: the caller's condition is the tiles'.
    unsafe { plan.weight_grad::<f32, Avx2Fma>(xp, gp, dw) }
}

/// [`Plan::run`] on this CPU: the AVX2 tiles for f32 where it has AVX2 and FMA, the portable
/// ones otherwise.
fn run<T: Real>(plan: &Plan, xp: &[T], packed: &[T], y: &mut [MaybeUninit<T>]) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(xp), Some(packed), Some(y)) = (same(xp), same(packed), same_mut(y))
        && has_avx2_fma()
    {
        // SAFETY: the CPU runs AVX2 and FMA (checked in the condition).
        return unsafe { run_avx2(plan, xp, packed, y) };
    }
    // SAFETY: the portable tiles need nothing of the CPU.
    unsafe { plan.run::<T, Portable>(xp, packed, y) }
}

/// [`Plan::weight_grad`] on this CPU, as [`run`].
fn weight_grad<T: Real>(plan: &Plan, xp: &[T], gp: &[T], dw: &mut [MaybeUninit<T>]) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(xp), Some(gp), Some(dw)) = (same(xp), same(gp), same_mut(dw))
        && has_avx2_fma()
    {
        // SAFETY: the CPU runs AVX2 and FMA (checked in the condition).
        return unsafe { weight_grad_avx2(plan, xp, gp, dw) };
    }
    // SAFETY: the portable tiles need nothing of the CPU.
    unsafe { plan.weight_grad::<T, Portable>(xp, gp, dw) }
}

/// `y: [N, O, H_out·W_out]` (every element written) from `x: [N, C, H, W]`, `weight: [O, C·k·k]`.
pub(super) fn forward<T: Real>(x: &[T], weight: &[T], s: &ConvShape, y: &mut [MaybeUninit<T>]) {
    let plan = Plan::forward(s);
    let k = s.k;
    let packed = plan.pack(|o, c, kh, kw| weight[((o * s.c + c) * k + kh) * k + kw]);
    let (xlen, ylen) = (s.c * s.h * s.w, s.o * s.pixels());
    let per = samples_per_task(s.n);
    y.par_chunks_mut(per * ylen)
        .zip(x.par_chunks(per * xlen))
        .for_each(|(ys, xs)| {
            let mut xp = vec![T::ZERO; plan.input_len()];
            for (y, x) in ys.chunks_mut(ylen).zip(xs.chunks(xlen)) {
                plan.copy_input(x, &mut xp);
                run(&plan, &xp, &packed, y);
            }
        });
}

/// `∂L/∂x` (`dx`, every element written) and one `∂L/∂W` per sample (`dw_samples: [N,
/// O·C·k·k]`, every element written) from `grad: [N, O, H_out·W_out]`.
pub(super) fn backward<T: Real>(
    x: &[T],
    weight: &[T],
    grad: &[T],
    s: &ConvShape,
    dx: &mut [MaybeUninit<T>],
    dw_samples: &mut [MaybeUninit<T>],
) {
    let (forward, transposed) = (Plan::forward(s), Plan::input_grad(s));
    let k = s.k;
    // ∂L/∂x[c] = Σ_o W[o, c] flipped ⊛ ∂L/∂y[o].
    let packed = transposed
        .pack(|c, o, kh, kw| weight[((o * s.c + c) * k + (k - 1 - kh)) * k + (k - 1 - kw)]);
    let (xlen, glen, wlen) = (s.c * s.h * s.w, s.o * s.pixels(), s.o * s.columns());
    let per = samples_per_task(s.n);
    dx.par_chunks_mut(per * xlen)
        .zip(dw_samples.par_chunks_mut(per * wlen))
        .zip(x.par_chunks(per * xlen).zip(grad.par_chunks(per * glen)))
        .for_each(|((dxs, dws), (xs, gs))| {
            let mut xp = vec![T::ZERO; forward.input_len()];
            let mut gx = vec![T::ZERO; transposed.input_len()];
            let mut gp = vec![T::ZERO; forward.output_grad_len()];
            for (((dx, dw), x), g) in dxs
                .chunks_mut(xlen)
                .zip(dws.chunks_mut(wlen))
                .zip(xs.chunks(xlen))
                .zip(gs.chunks(glen))
            {
                transposed.copy_input(g, &mut gx);
                run(&transposed, &gx, &packed, dx);
                forward.copy_input(x, &mut xp);
                forward.copy_output_grad(g, &mut gp);
                weight_grad(&forward, &xp, &gp, dw);
            }
        });
}
