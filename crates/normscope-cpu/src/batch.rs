//! Per-channel statistics over `[N, C, S]` (BatchNorm and the variants that share its
//! statistics): forward with batch statistics and closed-form backward.
//!
//! Two layouts of work. With `S ≥ SLAB_MIN` ("slab mode") each channel is `N` contiguous slabs of
//! `S` values; a thread takes one channel at a time and makes both of its passes while the
//! channel is still in its cache (a channel of the benchmark shapes is 200–512 kB), so DRAM sees
//! about one read of `x` (and of `dy`) per direction. With small `S` (`[N, C]` inputs) ("row
//! mode") the work goes row by row with one accumulator per column, which vectorizes across
//! channels.

use core::mem::MaybeUninit;

use rayon::prelude::*;

use crate::real::Real;
use crate::sums::{affine_shifted, grad_input, grad_sums, shifted_moments};
use crate::{MIN_PARALLEL_LEN, Ncs};

/// Spatial sizes below this use row mode.
const SLAB_MIN: usize = 32;

/// Channel statistics from shifted sums: `(mean, invstd, mean − pivot)`.
fn finish_stats(
    pivot: f64,
    s1: f64,
    s2: f64,
    count: usize,
    eps: f64,
    centered: bool,
) -> (f64, f64, f64) {
    let m = count as f64;
    if centered {
        let shifted = s1 / m;
        let var = (s2 / m - shifted * shifted).max(0.0);
        (pivot + shifted, 1.0 / (var + eps).sqrt(), shifted)
    } else {
        (0.0, 1.0 / (s2 / m + eps).sqrt(), 0.0)
    }
}

/// The `N` slabs of channel `ch` of a mutable `[N, C, S]` buffer, grouped by channel.
fn slabs_by_channel<T>(buf: &mut [T], shape: Ncs) -> Vec<Vec<&mut [T]>> {
    let mut channels: Vec<Vec<&mut [T]>> =
        (0..shape.c).map(|_| Vec::with_capacity(shape.n)).collect();
    for (i, slab) in buf.chunks_mut(shape.s).enumerate() {
        channels[i % shape.c].push(slab);
    }
    channels
}

fn slab<T>(x: &[T], shape: Ncs, n: usize, c: usize) -> &[T] {
    let start = (n * shape.c + c) * shape.s;
    &x[start..start + shape.s]
}

/// Training forward: `y = γ (x − μ)/√(σ² + ε) + β` per channel (`x/√(E[x²] + ε)` when not
/// centred); writes `y` and the per-channel `mean` and `invstd`.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Real>(
    x: &[T],
    shape: Ncs,
    weight: &[T],
    bias: &[T],
    eps: f64,
    centered: bool,
    y: &mut [MaybeUninit<T>],
    mean: &mut [T],
    invstd: &mut [T],
) {
    if shape.s >= SLAB_MIN {
        forward_slabs(x, shape, weight, bias, eps, centered, y, mean, invstd)
    } else {
        forward_rows(x, shape, weight, bias, eps, centered, y, mean, invstd)
    }
}

#[allow(clippy::too_many_arguments)]
fn forward_slabs<T: Real>(
    x: &[T],
    shape: Ncs,
    weight: &[T],
    bias: &[T],
    eps: f64,
    centered: bool,
    y: &mut [MaybeUninit<T>],
    mean: &mut [T],
    invstd: &mut [T],
) {
    let count = shape.n * shape.s;
    let stats: Vec<(f64, f64)> = slabs_by_channel(y, shape)
        .into_par_iter()
        .with_min_len(parallel_min(x.len(), shape.c))
        .enumerate()
        .map(|(c, mut ys)| {
            let pivot = if centered {
                slab(x, shape, 0, c)[0]
            } else {
                T::ZERO
            };
            let (mut s1, mut s2) = (0.0, 0.0);
            for n in 0..shape.n {
                let (a, b) = shifted_moments(slab(x, shape, n, c), pivot);
                s1 += a;
                s2 += b;
            }
            let (mu, inv, shifted) = finish_stats(pivot.to_f64(), s1, s2, count, eps, centered);
            let a = weight[c].to_f64() * inv;
            let b = bias[c].to_f64() - shifted * a;
            for (n, ys) in ys.iter_mut().enumerate() {
                affine_shifted(
                    slab(x, shape, n, c),
                    ys,
                    pivot,
                    T::from_f64(a),
                    T::from_f64(b),
                );
            }
            (mu, inv)
        })
        .collect();
    for (c, (mu, inv)) in stats.into_iter().enumerate() {
        mean[c] = T::from_f64(mu);
        invstd[c] = T::from_f64(inv);
    }
}

/// Rows per parallel task in row mode.
fn row_block(shape: Ncs) -> usize {
    (MIN_PARALLEL_LEN / (shape.c * shape.s).max(1)).max(1)
}

/// Minimum items per rayon task so that inputs below [`MIN_PARALLEL_LEN`] stay on one thread.
fn parallel_min(len: usize, items: usize) -> usize {
    if len < MIN_PARALLEL_LEN {
        items.max(1)
    } else {
        1
    }
}

/// Column sums over rows: `(Σ (x − p_col), Σ (x − p_col)²)` per column of `[rows, width]`.
fn column_moments<T: Real>(
    x: &[T],
    width: usize,
    pivots: &[T],
    block: usize,
) -> (Vec<f64>, Vec<f64>) {
    x.par_chunks(width * block)
        .map(|rows| {
            let mut s1 = vec![0.0f64; width];
            let mut s2 = vec![0.0f64; width];
            for row in rows.chunks_exact(width) {
                for (((a, b), &v), &p) in s1.iter_mut().zip(s2.iter_mut()).zip(row).zip(pivots) {
                    let d = (v - p).to_f64();
                    *a += d;
                    *b += d * d;
                }
            }
            (s1, s2)
        })
        .reduce(
            || (vec![0.0; width], vec![0.0; width]),
            |(mut a1, mut a2), (b1, b2)| {
                a1.iter_mut().zip(b1).for_each(|(a, b)| *a += b);
                a2.iter_mut().zip(b2).for_each(|(a, b)| *a += b);
                (a1, a2)
            },
        )
}

/// Per-channel coefficients expanded to the `C·S` columns of a row.
fn per_column<T: Real>(values: &[f64], s: usize) -> Vec<T> {
    values
        .iter()
        .flat_map(|&v| std::iter::repeat_n(T::from_f64(v), s))
        .collect()
}

/// Sums of `C·S` columns down to `C` channels.
fn to_channels(columns: &[f64], s: usize) -> Vec<f64> {
    columns.chunks_exact(s).map(|c| c.iter().sum()).collect()
}

#[allow(clippy::too_many_arguments)]
fn forward_rows<T: Real>(
    x: &[T],
    shape: Ncs,
    weight: &[T],
    bias: &[T],
    eps: f64,
    centered: bool,
    y: &mut [MaybeUninit<T>],
    mean: &mut [T],
    invstd: &mut [T],
) {
    let width = shape.c * shape.s;
    let pivots: Vec<T> = if centered {
        (0..shape.c)
            .flat_map(|c| std::iter::repeat_n(x[c * shape.s], shape.s))
            .collect()
    } else {
        vec![T::ZERO; width]
    };
    let block = row_block(shape);
    let (s1, s2) = column_moments(x, width, &pivots, block);
    let (s1, s2) = (to_channels(&s1, shape.s), to_channels(&s2, shape.s));
    let mut a = vec![0.0; shape.c];
    let mut b = vec![0.0; shape.c];
    for c in 0..shape.c {
        let pivot = pivots[c * shape.s].to_f64();
        let (mu, inv, shifted) =
            finish_stats(pivot, s1[c], s2[c], shape.n * shape.s, eps, centered);
        mean[c] = T::from_f64(mu);
        invstd[c] = T::from_f64(inv);
        a[c] = weight[c].to_f64() * inv;
        b[c] = bias[c].to_f64() - shifted * a[c];
    }
    let (a, b) = (per_column::<T>(&a, shape.s), per_column::<T>(&b, shape.s));
    y.par_chunks_mut(width * block)
        .zip(x.par_chunks(width * block))
        .for_each(|(ys, xs)| {
            for (yr, xr) in ys.chunks_exact_mut(width).zip(xs.chunks_exact(width)) {
                for ((((o, &v), &p), &a), &b) in yr.iter_mut().zip(xr).zip(&pivots).zip(&a).zip(&b)
                {
                    o.write((v - p) * a + b);
                }
            }
        });
}

/// Closed-form backward (Ioffe & Szegedy 2015, §3): writes `dx` and the per-channel `dweight`
/// (`Σ dy x̂`) and `dbias` (`Σ dy`) from the statistics the forward saved.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Real>(
    x: &[T],
    dy: &[T],
    shape: Ncs,
    weight: &[T],
    mean: &[T],
    invstd: &[T],
    centered: bool,
    dx: &mut [MaybeUninit<T>],
    dweight: &mut [T],
    dbias: &mut [T],
) {
    let count = (shape.n * shape.s) as f64;
    // dx = A·dy + B·(x − μ) + C per channel, from Σdy and Σdy(x − μ).
    let coefficients = |c: usize, sg: f64, sgx: f64| {
        let inv = invstd[c].to_f64();
        let w = weight[c].to_f64();
        let a = w * inv;
        let b = -a * inv * inv * sgx / count;
        let cc = if centered { -a * sg / count } else { 0.0 };
        (a, b, cc, inv * sgx)
    };
    if shape.s >= SLAB_MIN {
        let sums: Vec<(f64, f64)> = slabs_by_channel(dx, shape)
            .into_par_iter()
            .with_min_len(parallel_min(x.len(), shape.c))
            .enumerate()
            .map(|(c, mut dxs)| {
                let m = mean[c];
                let (mut sg, mut sgx) = (0.0, 0.0);
                for n in 0..shape.n {
                    let (a, b) = grad_sums(slab(dy, shape, n, c), slab(x, shape, n, c), m);
                    sg += a;
                    sgx += b;
                }
                let (a, b, cc, _) = coefficients(c, sg, sgx);
                let (a, b, cc) = (T::from_f64(a), T::from_f64(b), T::from_f64(cc));
                for (n, d) in dxs.iter_mut().enumerate() {
                    grad_input(slab(dy, shape, n, c), slab(x, shape, n, c), d, m, a, b, cc);
                }
                (sg, sgx)
            })
            .collect();
        for (c, (sg, sgx)) in sums.into_iter().enumerate() {
            dbias[c] = T::from_f64(sg);
            dweight[c] = T::from_f64(invstd[c].to_f64() * sgx);
        }
    } else {
        let width = shape.c * shape.s;
        let means: Vec<T> = (0..shape.c)
            .flat_map(|c| std::iter::repeat_n(mean[c], shape.s))
            .collect();
        let block = row_block(shape);
        let (sg, sgx) = dy
            .par_chunks(width * block)
            .zip(x.par_chunks(width * block))
            .map(|(gs, xs)| {
                let mut a1 = vec![0.0f64; width];
                let mut a2 = vec![0.0f64; width];
                for (gr, xr) in gs.chunks_exact(width).zip(xs.chunks_exact(width)) {
                    for ((((a, b), &g), &v), &m) in
                        a1.iter_mut().zip(a2.iter_mut()).zip(gr).zip(xr).zip(&means)
                    {
                        let g = g.to_f64();
                        *a += g;
                        *b += g * (v - m).to_f64();
                    }
                }
                (a1, a2)
            })
            .reduce(
                || (vec![0.0; width], vec![0.0; width]),
                |(mut a1, mut a2), (b1, b2)| {
                    a1.iter_mut().zip(b1).for_each(|(a, b)| *a += b);
                    a2.iter_mut().zip(b2).for_each(|(a, b)| *a += b);
                    (a1, a2)
                },
            );
        let (sg, sgx) = (to_channels(&sg, shape.s), to_channels(&sgx, shape.s));
        let (mut ca, mut cb, mut cc) = (vec![0.0; shape.c], vec![0.0; shape.c], vec![0.0; shape.c]);
        for c in 0..shape.c {
            let (a, b, k, dw) = coefficients(c, sg[c], sgx[c]);
            (ca[c], cb[c], cc[c]) = (a, b, k);
            dbias[c] = T::from_f64(sg[c]);
            dweight[c] = T::from_f64(dw);
        }
        let (ca, cb, cc) = (
            per_column::<T>(&ca, shape.s),
            per_column::<T>(&cb, shape.s),
            per_column::<T>(&cc, shape.s),
        );
        dx.par_chunks_mut(width * block)
            .zip(dy.par_chunks(width * block))
            .zip(x.par_chunks(width * block))
            .for_each(|((ds, gs), xs)| {
                for ((dr, gr), xr) in ds
                    .chunks_exact_mut(width)
                    .zip(gs.chunks_exact(width))
                    .zip(xs.chunks_exact(width))
                {
                    for (j, d) in dr.iter_mut().enumerate() {
                        d.write(ca[j] * gr[j] + cb[j] * (xr[j] - means[j]) + cc[j]);
                    }
                }
            });
    }
}

/// `y = x · scale_c + shift_c` per channel.
pub fn channel_affine<T: Real>(
    x: &[T],
    shape: Ncs,
    scale: &[T],
    shift: &[T],
    y: &mut [MaybeUninit<T>],
) {
    if shape.s >= SLAB_MIN {
        y.par_chunks_mut(shape.s)
            .zip(x.par_chunks(shape.s))
            .with_min_len(parallel_min(x.len(), shape.n * shape.c))
            .enumerate()
            .for_each(|(i, (ys, xs))| {
                let c = i % shape.c;
                affine_shifted(xs, ys, T::ZERO, scale[c], shift[c]);
            });
    } else {
        let width = shape.c * shape.s;
        let a: Vec<T> = scale
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, shape.s))
            .collect();
        let b: Vec<T> = shift
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, shape.s))
            .collect();
        let block = row_block(shape);
        y.par_chunks_mut(width * block)
            .zip(x.par_chunks(width * block))
            .for_each(|(ys, xs)| {
                for (yr, xr) in ys.chunks_exact_mut(width).zip(xs.chunks_exact(width)) {
                    for (((o, &v), &a), &b) in yr.iter_mut().zip(xr).zip(&a).zip(&b) {
                        o.write(v * a + b);
                    }
                }
            });
    }
}
