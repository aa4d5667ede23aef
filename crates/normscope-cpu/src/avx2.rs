//! The f32 reductions of [`crate::sums`] written with AVX2 intrinsics. LLVM does not vectorize
//! the generic 16-lane loops (it loads the lanes one by one and shuffles them together), so these
//! spell out what they mean: two 8-lane registers per accumulator, lane `l` summing elements
//! `l, l + 16, l + 32, …` of a block, the 16 lanes then added to the f64 sums in lane order,
//! the tail of a block element by element. That is the association of the generic code, so both
//! paths give the same bits.

#![cfg(target_arch = "x86_64")]

use core::arch::x86_64::*;

use crate::sums::{BLOCK, LANES};

/// `s += lanes[0] + … + lanes[15]` in f64, in lane order.
#[inline]
#[target_feature(enable = "avx2")]
fn flush(s: &mut f64, lo: __m256, hi: __m256) {
    let mut lanes = [0.0f32; LANES];
    // SAFETY: `lanes` holds 16 f32, two unaligned 8-lane stores.
    unsafe {
        _mm256_storeu_ps(lanes.as_mut_ptr(), lo);
        _mm256_storeu_ps(lanes.as_mut_ptr().add(8), hi);
    }
    for v in lanes {
        *s += v as f64;
    }
}

/// 8 f32 at `p`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load(p: *const f32) -> __m256 {
    // SAFETY: the caller guarantees 8 readable f32 at `p`.
    unsafe { _mm256_loadu_ps(p) }
}

/// `(Σ (x − p), Σ (x − p)²)` of [`crate::sums::shifted_moments`].
#[target_feature(enable = "avx2")]
pub fn shifted_moments(xs: &[f32], pivot: f32) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let p = _mm256_set1_ps(pivot);
    for block in xs.chunks(BLOCK) {
        let (chunks, rest) = block.as_chunks::<LANES>();
        let (mut a1, mut b1, mut a2, mut b2) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        for chunk in chunks {
            // SAFETY: a chunk is 16 f32.
            let (lo, hi) = unsafe { (load(chunk.as_ptr()), load(chunk.as_ptr().add(8))) };
            let (dl, dh) = (_mm256_sub_ps(lo, p), _mm256_sub_ps(hi, p));
            a1 = _mm256_add_ps(a1, dl);
            b1 = _mm256_add_ps(b1, dh);
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(dl, dl));
            b2 = _mm256_add_ps(b2, _mm256_mul_ps(dh, dh));
        }
        flush(&mut s1, a1, b1);
        flush(&mut s2, a2, b2);
        for &v in rest {
            let d = (v - pivot) as f64;
            s1 += d;
            s2 += d * d;
        }
    }
    (s1, s2)
}

/// `(Σ g, Σ g·(x − m))` of [`crate::sums::grad_sums`].
#[target_feature(enable = "avx2")]
pub fn grad_sums(g: &[f32], xs: &[f32], m: f32) -> (f64, f64) {
    debug_assert_eq!(g.len(), xs.len());
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mv = _mm256_set1_ps(m);
    for (gb, xb) in g.chunks(BLOCK).zip(xs.chunks(BLOCK)) {
        let (gc, g_rest) = gb.as_chunks::<LANES>();
        let (xc, x_rest) = xb.as_chunks::<LANES>();
        let (mut a1, mut b1, mut a2, mut b2) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        for (gch, xch) in gc.iter().zip(xc) {
            // SAFETY: each chunk is 16 f32.
            let (gl, gh, xl, xh) = unsafe {
                (
                    load(gch.as_ptr()),
                    load(gch.as_ptr().add(8)),
                    load(xch.as_ptr()),
                    load(xch.as_ptr().add(8)),
                )
            };
            a1 = _mm256_add_ps(a1, gl);
            b1 = _mm256_add_ps(b1, gh);
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(gl, _mm256_sub_ps(xl, mv)));
            b2 = _mm256_add_ps(b2, _mm256_mul_ps(gh, _mm256_sub_ps(xh, mv)));
        }
        flush(&mut s1, a1, b1);
        flush(&mut s2, a2, b2);
        for (&gv, &xv) in g_rest.iter().zip(x_rest) {
            s1 += gv as f64;
            s2 += gv as f64 * (xv - m) as f64;
        }
    }
    (s1, s2)
}

/// `(Σ w·g, Σ w·g·(x − m))` of [`crate::sums::weighted_grad_sums`].
#[target_feature(enable = "avx2")]
pub fn weighted_grad_sums(g: &[f32], xs: &[f32], w: &[f32], m: f32) -> (f64, f64) {
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mv = _mm256_set1_ps(m);
    for ((gb, xb), wb) in g.chunks(BLOCK).zip(xs.chunks(BLOCK)).zip(w.chunks(BLOCK)) {
        let (gc, g_rest) = gb.as_chunks::<LANES>();
        let (xc, x_rest) = xb.as_chunks::<LANES>();
        let (wc, w_rest) = wb.as_chunks::<LANES>();
        let (mut a1, mut b1, mut a2, mut b2) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        for ((gch, xch), wch) in gc.iter().zip(xc).zip(wc) {
            // SAFETY: each chunk is 16 f32.
            let (wgl, wgh, xl, xh) = unsafe {
                (
                    _mm256_mul_ps(load(wch.as_ptr()), load(gch.as_ptr())),
                    _mm256_mul_ps(load(wch.as_ptr().add(8)), load(gch.as_ptr().add(8))),
                    load(xch.as_ptr()),
                    load(xch.as_ptr().add(8)),
                )
            };
            a1 = _mm256_add_ps(a1, wgl);
            b1 = _mm256_add_ps(b1, wgh);
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(wgl, _mm256_sub_ps(xl, mv)));
            b2 = _mm256_add_ps(b2, _mm256_mul_ps(wgh, _mm256_sub_ps(xh, mv)));
        }
        flush(&mut s1, a1, b1);
        flush(&mut s2, a2, b2);
        for ((&gv, &xv), &wv) in g_rest.iter().zip(x_rest).zip(w_rest) {
            let wg = (wv * gv) as f64;
            s1 += wg;
            s2 += wg * (xv - m) as f64;
        }
    }
    (s1, s2)
}
