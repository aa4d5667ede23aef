//! Vectorizable reductions over contiguous slices: several independent accumulators (so that the
//! compiler keeps them in SIMD registers and the loop is not latency-bound), flushed to f64 every
//! [`BLOCK`] elements (so that no f32 running sum grows long).

use core::mem::MaybeUninit;

use crate::real::Real;

/// Independent accumulators per reduction.
const LANES: usize = 16;
/// Elements summed in the element type before the partial sums move to f64.
const BLOCK: usize = 2048;

/// `(Σ (x − p), Σ (x − p)²)` over `xs`, in f64. With the pivot `p` a value of the data, the
/// shifted sums keep their precision however large the offset of `xs`.
#[inline]
pub fn shifted_moments<T: Real>(xs: &[T], pivot: T) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for block in xs.chunks(BLOCK) {
        let mut a1 = [T::ZERO; LANES];
        let mut a2 = [T::ZERO; LANES];
        let mut chunks = block.chunks_exact(LANES);
        for chunk in &mut chunks {
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
        for &v in chunks.remainder() {
            let d = (v - pivot).to_f64();
            s1 += d;
            s2 += d * d;
        }
    }
    (s1, s2)
}

/// `(Σ g, Σ g·(x − m))` over two slices of equal length, in f64.
#[inline]
pub fn grad_sums<T: Real>(g: &[T], xs: &[T], m: T) -> (f64, f64) {
    debug_assert_eq!(g.len(), xs.len());
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for (gb, xb) in g.chunks(BLOCK).zip(xs.chunks(BLOCK)) {
        let mut a1 = [T::ZERO; LANES];
        let mut a2 = [T::ZERO; LANES];
        let mut gc = gb.chunks_exact(LANES);
        let mut xc = xb.chunks_exact(LANES);
        for (gch, xch) in (&mut gc).zip(&mut xc) {
            for l in 0..LANES {
                a1[l] = a1[l] + gch[l];
                a2[l] = a2[l] + gch[l] * (xch[l] - m);
            }
        }
        for l in 0..LANES {
            s1 += a1[l].to_f64();
            s2 += a2[l].to_f64();
        }
        for (&gv, &xv) in gc.remainder().iter().zip(xc.remainder()) {
            s1 += gv.to_f64();
            s2 += gv.to_f64() * (xv - m).to_f64();
        }
    }
    (s1, s2)
}

/// `(Σ w·g, Σ w·g·(x − m))` over three slices of equal length, in f64.
#[inline]
pub fn weighted_grad_sums<T: Real>(g: &[T], xs: &[T], w: &[T], m: T) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for ((gb, xb), wb) in g.chunks(BLOCK).zip(xs.chunks(BLOCK)).zip(w.chunks(BLOCK)) {
        let mut a1 = [T::ZERO; LANES];
        let mut a2 = [T::ZERO; LANES];
        let mut gc = gb.chunks_exact(LANES);
        let mut xc = xb.chunks_exact(LANES);
        let mut wc = wb.chunks_exact(LANES);
        for ((gch, xch), wch) in (&mut gc).zip(&mut xc).zip(&mut wc) {
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
        for ((&gv, &xv), &wv) in gc
            .remainder()
            .iter()
            .zip(xc.remainder())
            .zip(wc.remainder())
        {
            let wg = (wv * gv).to_f64();
            s1 += wg;
            s2 += wg * (xv - m).to_f64();
        }
    }
    (s1, s2)
}

/// `ys[i] = (xs[i] − p)·a + b`.
#[inline]
pub fn affine_shifted<T: Real>(xs: &[T], ys: &mut [MaybeUninit<T>], pivot: T, a: T, b: T) {
    for (y, &x) in ys.iter_mut().zip(xs) {
        y.write((x - pivot) * a + b);
    }
}

/// `dx[i] = a·dy[i] + b·(x[i] − m) + c`.
#[inline]
pub fn grad_input<T: Real>(dy: &[T], xs: &[T], dx: &mut [MaybeUninit<T>], m: T, a: T, b: T, c: T) {
    for ((d, &g), &x) in dx.iter_mut().zip(dy).zip(xs) {
        d.write(a * g + b * (x - m) + c);
    }
}
