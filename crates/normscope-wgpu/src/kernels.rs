//! The CubeCL kernels. f32, contiguous buffers.
//!
//! An activation is read through a *view* `(outer, groups, inner)`: element `(o, g, i)` sits at
//! `(o·groups + g)·inner + i`, and a reduction sums, per `g`, over all `o` and `i`
//! (`count = outer·inner` elements). BatchNorm over `[N, C, S]` is `(N, C, S)`; GroupNorm with
//! `G` groups is `(1, N·G, C/G·S)`; the per-channel affine gradients of GroupNorm are `(N, C, S)`
//! again and the per-element ones of LayerNorm `(N, D, 1)`.
//!
//! A reduction splits each `g` across `splits` workgroups (`CUBE_POS_X`), each of which reduces
//! its chunk in shared memory and writes one partial; [`sum_partials`] combines them. So a
//! channel of a large batch keeps the whole GPU busy instead of one workgroup (PyTorch's NCHW
//! statistics kernel does one workgroup per channel).

use cubecl::prelude::*;
use cubecl::std::FastDivmod;

/// Threads per workgroup of the reductions (a power of two).
pub const REDUCE_DIM: u32 = 256;

/// Per `(g, split)`: two sums over the split's chunk of group `g`, written to
/// `partial_a[g·splits + split]` and `partial_b[..]`.
///
/// `mode` 0 — forward statistics: `d = x − p` (`p = x[g's first element]` when `centered`,
/// else 0), sums `d` and `d²`;
/// mode 1 — backward, affine-weighted: `v = dy · w[(idx / a_div) % a_mod]`, sums `v` and
/// `v · x̂`; mode 2 — backward, unweighted: sums `dy` and `dy · x̂`; in both
/// `x̂ = (x − mean[s]) · invstd[s]` with `s = (idx / s_inner) % s_groups`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn partial_sums(
    x: &[f32],
    dy: &[f32],
    weight: &[f32],
    mean: &[f32],
    invstd: &[f32],
    partial_a: &mut [f32],
    partial_b: &mut [f32],
    outer: usize,
    groups: usize,
    inner: usize,
    splits: usize,
    mode: u32,
    centered: u32,
    s_groups: usize,
    s_inner: usize,
    a_div: usize,
    a_mod: usize,
) {
    let split = CUBE_POS_X as usize;
    let g = CUBE_POS_Y as usize;
    let unit = UNIT_POS as usize;
    let count = outer * inner;
    let chunk = count.div_ceil(splits);
    let start = split * chunk;
    let end = min(start + chunk, count);
    let mut shift = 0.0f32;
    if mode == 0 && centered == 1 {
        shift = x[g * inner];
    }
    let mut sum_a = 0.0f32;
    let mut sum_b = 0.0f32;
    // The chunk crosses rows of `inner` contiguous elements; walk it row by row so that no
    // element pays an integer division, and read the row's statistics once (a row never
    // straddles two statistics groups in any layout of ours).
    let row_lo = start / inner;
    let row_hi = end.div_ceil(inner);
    for o in row_lo..row_hi {
        let base = (o * groups + g) * inner;
        let lo = max(start, o * inner) - o * inner;
        let hi = min(end, (o + 1) * inner) - o * inner;
        let mut m = 0.0f32;
        let mut r = 0.0f32;
        if mode != 0 {
            let s = (base / s_inner) % s_groups;
            m = mean[s];
            r = invstd[s];
        }
        let mut i = lo + unit;
        while i < hi {
            let idx = base + i;
            if mode == 0 {
                let d = x[idx] - shift;
                sum_a += d;
                sum_b += d * d;
            } else {
                let xhat = (x[idx] - m) * r;
                let mut v = dy[idx];
                if mode == 1 {
                    v *= weight[(idx / a_div) % a_mod];
                }
                sum_a += v;
                sum_b += v * xhat;
            }
            i += REDUCE_DIM as usize;
        }
    }
    let mut shared_a = Shared::<[f32]>::new_slice(256usize);
    let mut shared_b = Shared::<[f32]>::new_slice(256usize);
    shared_a[unit] = sum_a;
    shared_b[unit] = sum_b;
    sync_cube();
    let mut step = 128usize;
    while step > 0 {
        if unit < step {
            shared_a[unit] += shared_a[unit + step];
            shared_b[unit] += shared_b[unit + step];
        }
        sync_cube();
        step /= 2;
    }
    if unit == 0 {
        partial_a[g * splits + split] = shared_a[0];
        partial_b[g * splits + split] = shared_b[0];
    }
}

/// Per group `g` (one thread each): the sums of its `splits` partials.
#[cube(launch)]
pub fn sum_partials(
    partial_a: &[f32],
    partial_b: &[f32],
    out_a: &mut [f32],
    out_b: &mut [f32],
    groups: usize,
    splits: usize,
) {
    let g = ABSOLUTE_POS;
    if g < groups {
        let mut a = 0.0f32;
        let mut b = 0.0f32;
        for s in 0..splits {
            a += partial_a[g * splits + s];
            b += partial_b[g * splits + s];
        }
        out_a[g] = a;
        out_b[g] = b;
    }
}

/// Per group `g`: `mean`, `shifted_mean = mean − p` (exact where `mean` is rounded: the output
/// is computed from it) and `invstd` from the shifted sums `Σd`, `Σd²` of [`partial_sums`]
/// (mode 0) over `count` elements: `m = p + Σd/n`, `σ² = Σd²/n − (Σd/n)²`; not centred:
/// `m = 0`, `σ² = Σx²/n`. `invstd = 1/√(σ² + eps)`.
#[cube(launch)]
pub fn finish_statistics(
    x: &[f32],
    sum_d: &[f32],
    sum_d2: &[f32],
    mean: &mut [f32],
    shifted_mean: &mut [f32],
    invstd: &mut [f32],
    groups: usize,
    inner: usize,
    count: usize,
    centered: u32,
    eps: f32,
) {
    let g = ABSOLUTE_POS;
    if g < groups {
        let n = count as f32;
        let m = sum_d[g] / n;
        let mut var = sum_d2[g] / n;
        let mut shift = 0.0f32;
        if centered == 1 {
            shift = x[g * inner];
            var -= m * m;
        }
        var = max(var, 0.0f32);
        if centered == 1 {
            mean[g] = shift + m;
            shifted_mean[g] = m;
        } else {
            mean[g] = 0.0f32;
            shifted_mean[g] = 0.0f32;
        }
        invstd[g] = 1.0f32 / f32::sqrt(var + eps);
    }
}

/// `y = ((x − p[s]) − shifted_mean[s]) · invstd[s] · w[a] + b[a]` with `p[s]` the first element
/// of statistics group `s = (idx / s_inner) % s_groups` (0 when not centred) and
/// `a = (idx / a_div) % a_mod`. `x − p` is exact for `x` near `p`, so an input like
/// `10⁴ + N(0, 1)` keeps its precision (a rounded f32 mean would cost `~10⁴·2⁻²⁴` per element).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn normalize(
    x: &[f32],
    shifted_mean: &[f32],
    invstd: &[f32],
    weight: &[f32],
    bias: &[f32],
    y: &mut [f32],
    len: usize,
    centered: u32,
    s_groups: FastDivmod<usize>,
    s_inner: FastDivmod<usize>,
    s_inner_len: usize,
    a_div: FastDivmod<usize>,
    a_mod: FastDivmod<usize>,
) {
    let idx = ABSOLUTE_POS;
    if idx < len {
        let s = s_groups.modulo(s_inner.div(idx));
        let a = a_mod.modulo(a_div.div(idx));
        let mut shift = 0.0f32;
        if centered == 1 {
            shift = x[s * s_inner_len];
        }
        y[idx] = ((x[idx] - shift) - shifted_mean[s]) * invstd[s] * weight[a] + bias[a];
    }
}

/// `dx = invstd[s] · (g − A[s]/n − x̂ · B[s]/n)` with `g = dy · w[a]`, `A = Σg`, `B = Σg·x̂` over
/// the statistics group (`A` is not subtracted when not centred).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn input_grad(
    x: &[f32],
    dy: &[f32],
    weight: &[f32],
    mean: &[f32],
    invstd: &[f32],
    sum_g: &[f32],
    sum_gx: &[f32],
    dx: &mut [f32],
    len: usize,
    count: usize,
    centered: u32,
    s_groups: FastDivmod<usize>,
    s_inner: FastDivmod<usize>,
    a_div: FastDivmod<usize>,
    a_mod: FastDivmod<usize>,
) {
    let idx = ABSOLUTE_POS;
    if idx < len {
        let s = s_groups.modulo(s_inner.div(idx));
        let a = a_mod.modulo(a_div.div(idx));
        let r = invstd[s];
        let xhat = (x[idx] - mean[s]) * r;
        let n = count as f32;
        let mut v = dy[idx] * weight[a] - xhat * (sum_gx[s] / n);
        if centered == 1 {
            v -= sum_g[s] / n;
        }
        dx[idx] = r * v;
    }
}

/// `y = x · scale[c] + shift[c]`, `c = (idx / spatial) % channels`.
#[cube(launch)]
pub fn channel_affine(
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    y: &mut [f32],
    len: usize,
    spatial: FastDivmod<usize>,
    channels: FastDivmod<usize>,
) {
    let idx = ABSOLUTE_POS;
    if idx < len {
        let c = channels.modulo(spatial.div(idx));
        y[idx] = x[idx] * scale[c] + shift[c];
    }
}

/// `out_a = w ⊙ a`, `out_b = w ⊙ b` (BatchNorm: the weighted sums from the unweighted ones).
#[cube(launch)]
pub fn weight_sums(
    weight: &[f32],
    a: &[f32],
    b: &[f32],
    out_a: &mut [f32],
    out_b: &mut [f32],
    len: usize,
) {
    let idx = ABSOLUTE_POS;
    if idx < len {
        out_a[idx] = a[idx] * weight[idx];
        out_b[idx] = b[idx] * weight[idx];
    }
}

/// Per column `g` of a view with `inner = 1` (one thread each, consecutive threads on
/// consecutive addresses): `Σ_o dy` and `Σ_o dy · x̂` with `x̂` as in [`partial_sums`]. LayerNorm's
/// per-element `dβ`, `dγ`: a column of `outer` (batch) elements is too short to split across a
/// workgroup.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn column_sums(
    x: &[f32],
    dy: &[f32],
    mean: &[f32],
    invstd: &[f32],
    out_a: &mut [f32],
    out_b: &mut [f32],
    outer: usize,
    groups: usize,
    s_groups: FastDivmod<usize>,
    s_inner: FastDivmod<usize>,
) {
    let g = ABSOLUTE_POS;
    if g < groups {
        let mut sum_a = 0.0f32;
        let mut sum_b = 0.0f32;
        for o in 0..outer {
            let idx = o * groups + g;
            let s = s_groups.modulo(s_inner.div(idx));
            let v = dy[idx];
            sum_a += v;
            sum_b += v * (x[idx] - mean[s]) * invstd[s];
        }
        out_a[g] = sum_a;
        out_b[g] = sum_b;
    }
}
