//! Per-sample, per-group statistics over `[N, C, S]` (GroupNorm; InstanceNorm is `G = C`,
//! LayerNorm and RMSNorm `G = 1`): each group is a contiguous row of `L = C/G · S` values, so a
//! thread takes one row at a time and makes both passes while the row is in its L1/L2 cache.

use core::mem::MaybeUninit;

use rayon::prelude::*;

use crate::real::Real;
use crate::sums::{
    accumulate_affine_grads, affine_per_element, affine_shifted, grad_input,
    grad_input_per_element, grad_sums, shifted_moments, weighted_grad_sums,
};
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
                affine_per_element(
                    xs,
                    ys,
                    &weight[offset..offset + len],
                    &bias[offset..offset + len],
                    pivot,
                    T::from_f64(shifted),
                    T::from_f64(istd),
                );
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

/// Rows whose per-element `dγ`, `dβ` are summed in the element type before they move to the
/// f64 sums (64 rows keep an f32 partial sum within ~4·10⁻⁶ of exact, and the move costs one
/// pass over `γ`'s length per 64 rows instead of an f64 conversion per element).
const AFFINE_FLUSH_ROWS: usize = 64;

/// One task's share of `dγ`, `dβ`: f64 sums, and for per-element `γ` the element-type sums of
/// the rows since the last flush.
struct AffineGrads<T> {
    dw: Vec<f64>,
    db: Vec<f64>,
    dw_rows: Vec<T>,
    db_rows: Vec<T>,
    pending: usize,
}

impl<T: Real> AffineGrads<T> {
    fn new(len: usize, per_element: bool) -> Self {
        let rows = if per_element { len } else { 0 };
        AffineGrads {
            dw: vec![0.0; len],
            db: vec![0.0; len],
            dw_rows: vec![T::ZERO; rows],
            db_rows: vec![T::ZERO; rows],
            pending: 0,
        }
    }

    /// Adds one row of per-element gradients (`γ`'s elements `offset..offset + len`).
    fn add_row(&mut self, offset: usize, dy: &[T], xs: &[T], mu: T, inv: T) {
        let range = offset..offset + dy.len();
        accumulate_affine_grads(
            &mut self.db_rows[range.clone()],
            &mut self.dw_rows[range],
            dy,
            xs,
            mu,
            inv,
        );
        self.pending += 1;
        if self.pending == AFFINE_FLUSH_ROWS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for (s, r) in self.dw.iter_mut().zip(self.dw_rows.iter_mut()) {
            *s += r.to_f64();
            *r = T::ZERO;
        }
        for (s, r) in self.db.iter_mut().zip(self.db_rows.iter_mut()) {
            *s += r.to_f64();
            *r = T::ZERO;
        }
        self.pending = 0;
    }

    /// `(dγ, dβ)` in f64.
    fn finish(mut self) -> (Vec<f64>, Vec<f64>) {
        self.flush();
        (self.dw, self.db)
    }
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
            || AffineGrads::new(affine_len, layout.per_element),
            |mut acc, (row, (dxs, (xs, gs)))| {
                let group = row % g;
                let mu = if layout.centered { mean[row] } else { T::ZERO };
                let inv = invstd[row].to_f64();
                // Σ g and Σ g·(x − μ) with g = γ ⊙ dy, plus the affine partial sums.
                let (mut sg, mut sgx) = (0.0f64, 0.0f64);
                if layout.per_element {
                    let offset = group * len;
                    let w = &weight[offset..offset + len];
                    (sg, sgx) = weighted_grad_sums(gs, xs, w, mu);
                    acc.add_row(offset, gs, xs, mu, T::from_f64(inv));
                } else {
                    for j in 0..cg {
                        let c = group * cg + j;
                        let range = j * shape.s..(j + 1) * shape.s;
                        let (a, b) = grad_sums(&gs[range.clone()], &xs[range], mu);
                        let w = weight[c].to_f64();
                        sg += w * a;
                        sgx += w * b;
                        acc.db[c] += a;
                        acc.dw[c] += b * inv;
                    }
                }
                let b = -inv * inv * inv * sgx / m;
                let cc = if layout.centered { -inv * sg / m } else { 0.0 };
                if layout.per_element {
                    let offset = group * len;
                    grad_input_per_element(
                        gs,
                        xs,
                        &weight[offset..offset + len],
                        dxs,
                        mu,
                        T::from_f64(inv),
                        T::from_f64(b),
                        T::from_f64(cc),
                    );
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
                acc
            },
        )
        .map(AffineGrads::finish)
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
