//! Per-sample, per-group statistics over `[N, C, S]` (GroupNorm; InstanceNorm is `G = C`,
//! LayerNorm and RMSNorm `G = 1`): each group is a contiguous row of `L = C/G · S` values, so a
//! thread takes one row at a time and makes both passes while the row is in its L1/L2 cache.

use core::mem::MaybeUninit;

use rayon::prelude::*;

use crate::real::Real;
use crate::sums::{affine_shifted, grad_input, grad_sums, shifted_moments, weighted_grad_sums};
use crate::{MIN_PARALLEL_LEN, Ncs};

/// What the group kernels need to know besides the shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLayout {
    /// Number of groups `G` (divides `C`).
    pub groups: usize,
    /// Subtract the mean (false: RMSNorm).
    pub centered: bool,
    /// `γ`, `β` per element of a sample (`[C·S]`, LayerNorm/RMSNorm) rather than per channel.
    pub per_element: bool,
}

fn rows_per_task(row_len: usize, total: usize) -> usize {
    if total < MIN_PARALLEL_LEN {
        usize::MAX
    } else {
        (MIN_PARALLEL_LEN / row_len.max(1)).max(1)
    }
}

/// Training forward; writes `y` and `mean`, `invstd` of shape `[N·G]`.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Real>(
    x: &[T],
    shape: Ncs,
    layout: GroupLayout,
    weight: &[T],
    bias: &[T],
    eps: f64,
    y: &mut [MaybeUninit<T>],
    mean: &mut [T],
    invstd: &mut [T],
) {
    let g = layout.groups;
    let cg = shape.c / g;
    let len = cg * shape.s;
    y.par_chunks_mut(len)
        .zip(x.par_chunks(len))
        .zip(mean.par_iter_mut().zip(invstd.par_iter_mut()))
        .with_min_len(rows_per_task(len, x.len()))
        .enumerate()
        .for_each(|(row, ((ys, xs), (mu, inv)))| {
            let pivot = if layout.centered { xs[0] } else { T::ZERO };
            let (s1, s2) = shifted_moments(xs, pivot);
            let m = len as f64;
            let (shifted, var) = if layout.centered {
                let shifted = s1 / m;
                (shifted, (s2 / m - shifted * shifted).max(0.0))
            } else {
                (0.0, s2 / m)
            };
            let istd = 1.0 / (var + eps).sqrt();
            *mu = T::from_f64(pivot.to_f64() + shifted);
            *inv = T::from_f64(istd);
            let group = row % g;
            if layout.per_element {
                let offset = group * len;
                let (w, b) = (&weight[offset..offset + len], &bias[offset..offset + len]);
                let (p, sh, is) = (pivot, T::from_f64(shifted), T::from_f64(istd));
                for (((o, &v), &wk), &bk) in ys.iter_mut().zip(xs).zip(w).zip(b) {
                    o.write(((v - p) - sh) * is * wk + bk);
                }
            } else {
                for j in 0..cg {
                    let c = group * cg + j;
                    let a = weight[c].to_f64() * istd;
                    let b = bias[c].to_f64() - shifted * a;
                    let range = j * shape.s..(j + 1) * shape.s;
                    affine_shifted(
                        &xs[range.clone()],
                        &mut ys[range],
                        pivot,
                        T::from_f64(a),
                        T::from_f64(b),
                    );
                }
            }
        });
}

/// Closed-form backward; writes `dx` and `dweight`, `dbias` (affine shape: `[C]` or `[C·S]`).
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Real>(
    x: &[T],
    dy: &[T],
    shape: Ncs,
    layout: GroupLayout,
    weight: &[T],
    mean: &[T],
    invstd: &[T],
    dx: &mut [MaybeUninit<T>],
    dweight: &mut [T],
    dbias: &mut [T],
) {
    let g = layout.groups;
    let cg = shape.c / g;
    let len = cg * shape.s;
    let affine_len = if layout.per_element {
        shape.c * shape.s
    } else {
        shape.c
    };
    let m = len as f64;
    let (dw, db) = dx
        .par_chunks_mut(len)
        .zip(x.par_chunks(len).zip(dy.par_chunks(len)))
        .with_min_len(rows_per_task(len, x.len()))
        .enumerate()
        .fold(
            || (vec![0.0f64; affine_len], vec![0.0f64; affine_len]),
            |(mut dw, mut db), (row, (dxs, (xs, gs)))| {
                let group = row % g;
                let mu = if layout.centered { mean[row] } else { T::ZERO };
                let inv = invstd[row].to_f64();
                // Σ g and Σ g·(x − μ) with g = γ ⊙ dy, plus the affine partial sums.
                let (mut sg, mut sgx) = (0.0f64, 0.0f64);
                if layout.per_element {
                    let offset = group * len;
                    let w = &weight[offset..offset + len];
                    (sg, sgx) = weighted_grad_sums(gs, xs, w, mu);
                    let (dbp, dwp) = (&mut db[offset..offset + len], &mut dw[offset..offset + len]);
                    for (((dbk, dwk), &gk), &xk) in
                        dbp.iter_mut().zip(dwp.iter_mut()).zip(gs).zip(xs)
                    {
                        *dbk += gk.to_f64();
                        *dwk += (gk * (xk - mu)).to_f64() * inv;
                    }
                } else {
                    for j in 0..cg {
                        let c = group * cg + j;
                        let range = j * shape.s..(j + 1) * shape.s;
                        let (a, b) = grad_sums(&gs[range.clone()], &xs[range], mu);
                        let w = weight[c].to_f64();
                        sg += w * a;
                        sgx += w * b;
                        db[c] += a;
                        dw[c] += b * inv;
                    }
                }
                let b = -inv * inv * inv * sgx / m;
                let cc = if layout.centered { -inv * sg / m } else { 0.0 };
                if layout.per_element {
                    let offset = group * len;
                    let w = &weight[offset..offset + len];
                    let (b, cc) = (T::from_f64(b), T::from_f64(cc));
                    let is = T::from_f64(inv);
                    for (((d, &gk), &xk), &wk) in dxs.iter_mut().zip(gs).zip(xs).zip(w) {
                        d.write(is * wk * gk + b * (xk - mu) + cc);
                    }
                } else {
                    for j in 0..cg {
                        let c = group * cg + j;
                        let a = T::from_f64(inv * weight[c].to_f64());
                        let range = j * shape.s..(j + 1) * shape.s;
                        grad_input(
                            &gs[range.clone()],
                            &xs[range.clone()],
                            &mut dxs[range],
                            mu,
                            a,
                            T::from_f64(b),
                            T::from_f64(cc),
                        );
                    }
                }
                (dw, db)
            },
        )
        .reduce(
            || (vec![0.0f64; affine_len], vec![0.0f64; affine_len]),
            |(mut a1, mut a2), (b1, b2)| {
                a1.iter_mut().zip(b1).for_each(|(a, b)| *a += b);
                a2.iter_mut().zip(b2).for_each(|(a, b)| *a += b);
                (a1, a2)
            },
        );
    for (o, v) in dweight.iter_mut().zip(dw) {
        *o = T::from_f64(v);
    }
    for (o, v) in dbias.iter_mut().zip(db) {
        *o = T::from_f64(v);
    }
}
