//! Vectorizable reductions over contiguous slices: several independent accumulators (so that the
//! compiler keeps them in SIMD registers and the loop is not latency-bound), flushed to f64 every
//! [`BLOCK`] elements (so that no f32 running sum grows long). For f32 on a CPU with AVX2 the
//! reductions dispatch to [`crate::avx2`] (same lanes, same order: the same bits) and the maps run
//! a copy compiled for AVX2 (`multiversion!`); the portable versions stay for every other case.

use core::mem::MaybeUninit;

#[cfg(target_arch = "x86_64")]
use crate::avx2;
use crate::real::Real;
#[cfg(target_arch = "x86_64")]
use crate::simd::f32s;
use crate::simd::multiversion;

/// Independent accumulators per reduction.
pub(crate) const LANES: usize = 16;
/// Elements summed in the element type before the partial sums move to f64.
pub(crate) const BLOCK: usize = 2048;

/// An f32 value as f32 (exact).
#[cfg(target_arch = "x86_64")]
#[inline]
fn f32_of<T: Real>(v: T) -> f32 {
    v.to_f64() as f32
}

/// `(Σ (x − p), Σ (x − p)²)` over `xs`, in f64. With the pivot `p` a value of the data, the
/// shifted sums keep their precision however large the offset of `xs`.
#[inline]
pub fn shifted_moments<T: Real>(xs: &[T], pivot: T) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if let Some(xs) = f32s(xs)
        && crate::simd::has_avx2()
    {
        // SAFETY: the CPU runs AVX2 (checked in the condition).
        return unsafe { avx2::shifted_moments(xs, f32_of(pivot)) };
    }
    generic::shifted_moments(xs, pivot)
}

/// `(Σ g, Σ g·(x − m))` over two slices of equal length, in f64.
#[inline]
pub fn grad_sums<T: Real>(g: &[T], xs: &[T], m: T) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(g), Some(xs)) = (f32s(g), f32s(xs))
        && crate::simd::has_avx2()
    {
        // SAFETY: the CPU runs AVX2 (checked in the condition).
        return unsafe { avx2::grad_sums(g, xs, f32_of(m)) };
    }
    generic::grad_sums(g, xs, m)
}

/// `(Σ w·g, Σ w·g·(x − m))` over three slices of equal length, in f64.
#[inline]
pub fn weighted_grad_sums<T: Real>(g: &[T], xs: &[T], w: &[T], m: T) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(g), Some(xs), Some(w)) = (f32s(g), f32s(xs), f32s(w))
        && crate::simd::has_avx2()
    {
        // SAFETY: the CPU runs AVX2 (checked in the condition).
        return unsafe { avx2::weighted_grad_sums(g, xs, w, f32_of(m)) };
    }
    generic::weighted_grad_sums(g, xs, w, m)
}

multiversion! {
    /// `ys[i] = (xs[i] − p)·a + b`.
    pub fn affine_shifted<T: Real>(xs: &[T], ys: &mut [MaybeUninit<T>], pivot: T, a: T, b: T) {
        for (y, &x) in ys.iter_mut().zip(xs) {
            y.write((x - pivot) * a + b);
        }
    }
}

multiversion! {
    /// `dx[i] = a·dy[i] + b·(x[i] − m) + c`.
    pub fn grad_input<T: Real>(dy: &[T], xs: &[T], dx: &mut [MaybeUninit<T>], m: T, a: T, b: T, c: T) {
        for ((d, &g), &x) in dx.iter_mut().zip(dy).zip(xs) {
            d.write(a * g + b * (x - m) + c);
        }
    }
}

multiversion! {
    /// `ys[i] = ((xs[i] − p) − s)·k·w[i] + b[i]`: a row normalized with per-element `γ`, `β`
    /// (LayerNorm, RMSNorm).
    pub fn affine_per_element<T: Real>(
        xs: &[T],
        ys: &mut [MaybeUninit<T>],
        w: &[T],
        b: &[T],
        pivot: T,
        shift: T,
        k: T,
    ) {
        for (((y, &x), &wk), &bk) in ys.iter_mut().zip(xs).zip(w).zip(b) {
            y.write(((x - pivot) - shift) * k * wk + bk);
        }
    }
}

multiversion! {
    /// `dx[i] = a·w[i]·dy[i] + b·(x[i] − m) + c`: the input gradient of a row with per-element `γ`.
    pub fn grad_input_per_element<T: Real>(
        dy: &[T],
        xs: &[T],
        w: &[T],
        dx: &mut [MaybeUninit<T>],
        m: T,
        a: T,
        b: T,
        c: T,
    ) {
        for (((d, &g), &x), &wk) in dx.iter_mut().zip(dy).zip(xs).zip(w) {
            d.write(a * wk * g + b * (x - m) + c);
        }
    }
}

multiversion! {
    /// `db[i] += dy[i]`, `dw[i] += dy[i]·(x[i] − m)·k`: one row's share of the per-element `dβ`,
    /// `dγ`, accumulated in the element type (the caller moves them to f64 every few rows).
    pub fn accumulate_affine_grads<T: Real>(
        db: &mut [T],
        dw: &mut [T],
        dy: &[T],
        xs: &[T],
        m: T,
        k: T,
    ) {
        for (((dbk, dwk), &g), &x) in db.iter_mut().zip(dw.iter_mut()).zip(dy).zip(xs) {
            *dbk = *dbk + g;
            *dwk = *dwk + g * (x - m) * k;
        }
    }
}

/// The reductions in plain Rust for any [`Real`]: what runs for f64 and without AVX2, and the
/// reference the AVX2 path must match bit for bit.
mod generic {
    use super::{BLOCK, LANES, Real};

    pub fn weighted_grad_sums<T: Real>(g: &[T], xs: &[T], w: &[T], m: T) -> (f64, f64) {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for ((gb, xb), wb) in g.chunks(BLOCK).zip(xs.chunks(BLOCK)).zip(w.chunks(BLOCK)) {
            let mut a1 = [T::ZERO; LANES];
            let mut a2 = [T::ZERO; LANES];
            let (gc, g_rest) = gb.as_chunks::<LANES>();
            let (xc, x_rest) = xb.as_chunks::<LANES>();
            let (wc, w_rest) = wb.as_chunks::<LANES>();
            for ((gch, xch), wch) in gc.iter().zip(xc).zip(wc) {
                for l in 0..LANES {
                    let wg = wch[l] * gch[l];
                    a1[l] = a1[l] + wg;
                    a2[l] = a2[l] + wg * (xch[l] - m);
                }
            }
            for l in 0..LANES {
                s1 += a1[l].to_f64();
                s2 += a2[l].to_f64();
            }
            for ((&gv, &xv), &wv) in g_rest.iter().zip(x_rest).zip(w_rest) {
                let wg = (wv * gv).to_f64();
                s1 += wg;
                s2 += wg * (xv - m).to_f64();
            }
        }
        (s1, s2)
    }

    pub fn grad_sums<T: Real>(g: &[T], xs: &[T], m: T) -> (f64, f64) {
        debug_assert_eq!(g.len(), xs.len());
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for (gb, xb) in g.chunks(BLOCK).zip(xs.chunks(BLOCK)) {
            let mut a1 = [T::ZERO; LANES];
            let mut a2 = [T::ZERO; LANES];
            let (gc, g_rest) = gb.as_chunks::<LANES>();
            let (xc, x_rest) = xb.as_chunks::<LANES>();
            for (gch, xch) in gc.iter().zip(xc) {
                for l in 0..LANES {
                    a1[l] = a1[l] + gch[l];
                    a2[l] = a2[l] + gch[l] * (xch[l] - m);
                }
            }
            for l in 0..LANES {
                s1 += a1[l].to_f64();
                s2 += a2[l].to_f64();
            }
            for (&gv, &xv) in g_rest.iter().zip(x_rest) {
                s1 += gv.to_f64();
                s2 += gv.to_f64() * (xv - m).to_f64();
            }
        }
        (s1, s2)
    }

    pub fn shifted_moments<T: Real>(xs: &[T], pivot: T) -> (f64, f64) {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for block in xs.chunks(BLOCK) {
            let mut a1 = [T::ZERO; LANES];
            let mut a2 = [T::ZERO; LANES];
            let (chunks, rest) = block.as_chunks::<LANES>();
            for chunk in chunks {
                for l in 0..LANES {
                    let d = chunk[l] - pivot;
                    a1[l] = a1[l] + d;
                    a2[l] = a2[l] + d * d;
                }
            }
            for l in 0..LANES {
                s1 += a1[l].to_f64();
                s2 += a2[l].to_f64();
            }
            for &v in rest {
                let d = (v - pivot).to_f64();
                s1 += d;
                s2 += d * d;
            }
        }
        (s1, s2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with a large offset and a spread, from a 64-bit LCG.
    fn data(len: usize, seed: u64, offset: f32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                offset + ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
            })
            .collect()
    }

    /// Lengths around the 16-lane chunks and the 2048-element blocks.
    const LENGTHS: [usize; 10] = [0, 1, 15, 16, 17, 1000, 2047, 2048, 2049, 6272];

    #[test]
    fn the_simd_reductions_give_the_bits_of_the_plain_ones() {
        if !crate::simd::has_avx2() {
            eprintln!("SKIPPED: this CPU has no AVX2, only the plain path runs");
            return;
        }
        for len in LENGTHS {
            let (x, g, w) = (data(len, 1, 1e4), data(len, 2, 0.0), data(len, 3, 1.0));
            let pivot = x.first().copied().unwrap_or(0.0);
            let m = 1e4 + 0.25;
            assert_eq!(
                shifted_moments(&x, pivot),
                generic::shifted_moments(&x, pivot),
                "shifted_moments, {len} values"
            );
            assert_eq!(
                grad_sums(&g, &x, m),
                generic::grad_sums(&g, &x, m),
                "grad_sums, {len} values"
            );
            assert_eq!(
                weighted_grad_sums(&g, &x, &w, m),
                generic::weighted_grad_sums(&g, &x, &w, m),
                "weighted_grad_sums, {len} values"
            );
        }
    }

    #[test]
    fn the_reductions_match_f64_sums() {
        for len in LENGTHS {
            let x = data(len, 4, 1e4);
            let pivot = x.first().copied().unwrap_or(0.0);
            let (s1, s2) = shifted_moments(&x, pivot);
            let d: Vec<f64> = x.iter().map(|&v| v as f64 - pivot as f64).collect();
            let (e1, e2) = (d.iter().sum::<f64>(), d.iter().map(|v| v * v).sum::<f64>());
            assert!(
                (s1 - e1).abs() <= 1e-5 * (1.0 + e1.abs()),
                "Σd {s1} vs {e1}"
            );
            assert!((s2 - e2).abs() <= 1e-5 * (1.0 + e2), "Σd² {s2} vs {e2}");
        }
    }
}
