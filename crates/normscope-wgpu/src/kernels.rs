//! The CubeCL kernels. f32, contiguous buffers.
//!
//! An activation is read through a *view* `(outer, groups, inner)`: element `(o, g, i)` sits at
//! `(o·groups + g)·inner + i`, and a reduction sums, per `g`, over all `o` and `i`
//! (`count = outer·inner` elements). BatchNorm over `[N, C, S]` is `(N, C, S)`; GroupNorm with
//! `G` groups is `(1, N·G, C/G·S)`; the per-channel affine gradients of GroupNorm are `(N, C, S)`
//! again and the per-element ones of LayerNorm `(N, D, 1)`.
//!
//! Three ways through a view, chosen on the host (`launch.rs`):
//! - **on chip** ([`normalize_on_chip()`], [`input_grad_on_chip()`]): a group of at most
//!   [`ON_CHIP_CAPACITY`] values is held in the registers of a team of units (the whole
//!   workgroup for a large group; a small one, e.g. a LayerNorm row of 256 values, takes 16 units
//!   and shares the workgroup with 15 other groups), so the forward reads `x` once and writes `y`
//!   (2·|x|) and the backward reads `x`, `dy` once and writes `dx` (3·|x|);
//! - **split rows** ([`partial_sums()`]): long contiguous rows (`inner ≥ 1024`): each group is split
//!   across `splits` workgroups (`CUBE_POS_X`) that reduce their chunk in shared memory to one
//!   partial each, combined by [`sum_partials()`]. A channel of a large batch thus keeps the whole
//!   GPU busy instead of one workgroup (PyTorch's NCHW statistics kernel uses one per channel);
//! - **columns** ([`column_partials()`]): short rows (`[N, C]`, small images, LayerNorm's per-element
//!   `dγ`): one thread per contiguous column `(g, i)` of a row of `groups·inner` values, its rows
//!   split across `CUBE_POS_Y`, consecutive threads on consecutive addresses.
//!
//! Elementwise passes and the on-chip and split-row reductions load `Vector<f32, N>` (`N = 4`
//! where the extents allow: 16-byte loads and stores).

use cubecl::prelude::*;
use cubecl::std::FastDivmod;

/// Threads per workgroup of the reductions (a power of two).
pub const REDUCE_DIM: u32 = 256;

/// Most values one thread of an on-chip kernel keeps in registers.
pub const ON_CHIP_PER_THREAD: usize = 32;

/// Largest group the on-chip kernels take: `REDUCE_DIM · ON_CHIP_PER_THREAD` values.
pub const ON_CHIP_CAPACITY: usize = REDUCE_DIM as usize * ON_CHIP_PER_THREAD;

/// The sum of `value` over the `team` consecutive units it belongs to (`team` a power of two
/// dividing `REDUCE_DIM`; a shared-memory tree of `log₂ team` steps), returned to every unit of
/// the team. Every unit of the workgroup calls it: it synchronizes the workgroup.
#[cube]
fn team_sum(value: f32, team: usize) -> f32 {
    let unit = UNIT_POS as usize;
    let mut shared = Shared::<[f32]>::new_slice(256usize);
    shared[unit] = value;
    sync_cube();
    let member = unit % team;
    let mut step = team / 2;
    while step > 0 {
        if member < step {
            shared[unit] += shared[unit + step];
        }
        sync_cube();
        step /= 2;
    }
    shared[unit - member]
}

/// The parameter index `((first + lane) / div) % modulo` of lane `lane` of the vector whose
/// first element is `first`; `at_first` (lane 0's) when all lanes share it (`uniform`).
#[cube]
fn lane_index(
    first: usize,
    lane: usize,
    at_first: usize,
    div: &FastDivmod<usize>,
    modulo: &FastDivmod<usize>,
    #[comptime] uniform: bool,
) -> usize {
    let mut index = at_first;
    if !uniform {
        index = modulo.modulo(div.div(first + lane));
    }
    index
}

/// Where vector `e` of group `g` sits: `(e / inner · groups + g) · inner + e % inner` (`row`
/// divides by `inner`).
#[cube]
fn group_position(
    e: usize,
    g: usize,
    groups: usize,
    inner: usize,
    row: &FastDivmod<usize>,
) -> usize {
    let (o, i) = row.div_mod(e);
    (o * groups + g) * inner + i
}

/// This unit's group and its place in the group's team of `team` units: `REDUCE_DIM / team`
/// groups per workgroup, the workgroups in a grid of `(min(w, 65 535), ⌈w / 65 535⌉)`.
#[cube]
fn team_group(team: usize) -> (usize, usize) {
    let unit = UNIT_POS as usize;
    let workgroup = CUBE_POS_Y as usize * CUBE_COUNT_X as usize + CUBE_POS_X as usize;
    (
        workgroup * (REDUCE_DIM as usize / team) + unit / team,
        unit % team,
    )
}

/// Per `(g, split)`: two sums over the split's chunk of group `g`, written to
/// `partial_a[g·splits + split]` and `partial_b[..]`. `inner`, `count` and `chunk` count
/// vectors of `N` values (`inner` is a multiple of `N`, so no vector crosses a row).
///
/// `mode` 0 — forward statistics: `d = x − p` (`p = x[g's first element]` when `centered`,
/// else 0), sums `d` and `d²`;
/// mode 1 — backward, affine-weighted: `v = dy · w[(idx / a_div) % a_mod]`, sums `v` and
/// `v · x̂`; mode 2 — backward, unweighted: sums `dy` and `dy · x̂`; in both
/// `x̂ = (x − mean[s]) · invstd[s]` with `s = (idx / s_inner) % s_groups` (element indices).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn partial_sums<N: Size>(
    x: &[Vector<f32, N>],
    dy: &[Vector<f32, N>],
    weight: &[f32],
    mean: &[f32],
    invstd: &[f32],
    partial_a: &mut [f32],
    partial_b: &mut [f32],
    groups: usize,
    inner: usize,
    count: usize,
    chunk: usize,
    splits: usize,
    mode: u32,
    centered: u32,
    s_groups: usize,
    s_inner: usize,
    a_div: usize,
    a_mod: usize,
) {
    let lanes = N::value();
    let split = CUBE_POS_X as usize;
    let g = CUBE_POS_Y as usize;
    let unit = UNIT_POS as usize;
    let start = split * chunk;
    let end = min(start + chunk, count);
    let mut shift = 0.0f32;
    if mode == 0 && centered == 1 {
        shift = x[g * inner].extract(0usize);
    }
    let mut sum_a = 0.0f32;
    let mut sum_b = 0.0f32;
    // The chunk crosses rows of `inner` contiguous vectors; walk it row by row so that no
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
            let s = (base * lanes / s_inner) % s_groups;
            m = mean[s];
            r = invstd[s];
        }
        let mut i = lo + unit;
        while i < hi {
            let at = base + i;
            let xv = x[at];
            if mode == 0 {
                #[unroll]
                for l in 0..lanes {
                    let d = xv.extract(l) - shift;
                    sum_a += d;
                    sum_b += d * d;
                }
            } else {
                let dyv = dy[at];
                #[unroll]
                for l in 0..lanes {
                    let xhat = (xv.extract(l) - m) * r;
                    let mut v = dyv.extract(l);
                    if mode == 1 {
                        v *= weight[((at * lanes + l) / a_div) % a_mod];
                    }
                    sum_a += v;
                    sum_b += v * xhat;
                }
            }
            i += REDUCE_DIM as usize;
        }
    }
    let a = team_sum(sum_a, REDUCE_DIM as usize);
    let b = team_sum(sum_b, REDUCE_DIM as usize);
    if unit == 0 {
        partial_a[g * splits + split] = a;
        partial_b[g * splits + split] = b;
    }
}

/// Per column `c = g·inner + i` of the rows of `columns = groups·inner` contiguous values (one
/// thread each) and per split of the `outer` rows (`CUBE_POS_Y`, `rows` rows each): the two sums
/// of [`partial_sums()`] (same `mode`s) over the split's rows, written to
/// `partial_a[c·splits + split]` — so group `g`'s partials are the `inner·splits` values from
/// `g·inner·splits` on.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn column_partials(
    x: &[f32],
    dy: &[f32],
    weight: &[f32],
    mean: &[f32],
    invstd: &[f32],
    partial_a: &mut [f32],
    partial_b: &mut [f32],
    outer: usize,
    columns: usize,
    inner: usize,
    splits: usize,
    rows: usize,
    mode: u32,
    centered: u32,
    s_groups: FastDivmod<usize>,
    s_inner: FastDivmod<usize>,
    a_div: FastDivmod<usize>,
    a_mod: FastDivmod<usize>,
) {
    let column = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let split = CUBE_POS_Y as usize;
    if column < columns {
        let mut shift = 0.0f32;
        if mode == 0 && centered == 1 {
            shift = x[(column / inner) * inner];
        }
        let mut sum_a = 0.0f32;
        let mut sum_b = 0.0f32;
        let lo = split * rows;
        let hi = min(lo + rows, outer);
        for o in lo..hi {
            let idx = o * columns + column;
            if mode == 0 {
                let d = x[idx] - shift;
                sum_a += d;
                sum_b += d * d;
            } else {
                let s = s_groups.modulo(s_inner.div(idx));
                let xhat = (x[idx] - mean[s]) * invstd[s];
                let mut v = dy[idx];
                if mode == 1 {
                    v *= weight[a_mod.modulo(a_div.div(idx))];
                }
                sum_a += v;
                sum_b += v * xhat;
            }
        }
        partial_a[column * splits + split] = sum_a;
        partial_b[column * splits + split] = sum_b;
    }
}

/// Per group `g`: the sums of its `per_group` partials (from `g·per_group` on), by a team of
/// `team` units (see [`team_group()`]) that reads them contiguously and sums its share in
/// shared memory — a group of thousands of column partials is read by a whole workgroup, not
/// one thread.
#[cube(launch)]
pub fn sum_partials(
    partial_a: &[f32],
    partial_b: &[f32],
    out_a: &mut [f32],
    out_b: &mut [f32],
    groups: usize,
    per_group: usize,
    team: usize,
) {
    let (g, member) = team_group(team);
    let valid = g < groups;
    let mut a = 0.0f32;
    let mut b = 0.0f32;
    if valid {
        let mut s = member;
        while s < per_group {
            a += partial_a[g * per_group + s];
            b += partial_b[g * per_group + s];
            s += team;
        }
    }
    let a = team_sum(a, team);
    let b = team_sum(b, team);
    if valid && member == 0 {
        out_a[g] = a;
        out_b[g] = b;
    }
}

/// Per group `g`: `mean`, the pivot `p` (its first element; 0 when not centred),
/// `shifted_mean = mean − p` (exact where `mean` is rounded: the output is computed from it) and
/// `invstd`, from the shifted sums `Σd`, `Σd²` of a mode-0 reduction over `count` elements:
/// `m = p + Σd/n`, `σ² = Σd²/n − (Σd/n)²`; not centred: `m = 0`, `σ² = Σx²/n`.
/// `invstd = 1/√(σ² + eps)`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn finish_statistics(
    x: &[f32],
    sum_d: &[f32],
    sum_d2: &[f32],
    mean: &mut [f32],
    pivot: &mut [f32],
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
        pivot[g] = shift;
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

/// `y = ((x − p[s]) − shifted_mean[s]) · invstd[s] · w[a] + b[a]` with `p` the pivot of
/// [`finish_statistics()`], `s = (idx / s_inner) % s_groups` and `a = (idx / a_div) % a_mod`.
/// `x − p` is exact for `x` near `p`, so an input like `10⁴ + N(0, 1)` keeps its precision (a
/// rounded f32 mean would cost `~10⁴·2⁻²⁴` per element). One thread per vector (`len` vectors);
/// `stats_uniform` / `affine_uniform`: all lanes of a vector share `s` / `a`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn normalize<N: Size>(
    x: &[Vector<f32, N>],
    pivot: &[f32],
    shifted_mean: &[f32],
    invstd: &[f32],
    weight: &[f32],
    bias: &[f32],
    y: &mut [Vector<f32, N>],
    len: usize,
    s_groups: FastDivmod<usize>,
    s_inner: FastDivmod<usize>,
    a_div: FastDivmod<usize>,
    a_mod: FastDivmod<usize>,
    #[comptime] stats_uniform: bool,
    #[comptime] affine_uniform: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < len {
        let lanes = N::value();
        let first = pos * lanes;
        let s0 = s_groups.modulo(s_inner.div(first));
        let a0 = a_mod.modulo(a_div.div(first));
        let xv = x[pos];
        let mut out = Vector::<f32, N>::empty();
        #[unroll]
        for l in 0..lanes {
            let s = lane_index(first, l, s0, &s_inner, &s_groups, stats_uniform);
            let a = lane_index(first, l, a0, &a_div, &a_mod, affine_uniform);
            out.insert(
                l,
                ((xv.extract(l) - pivot[s]) - shifted_mean[s]) * invstd[s] * weight[a] + bias[a],
            );
        }
        y[pos] = out;
    }
}

/// `dx = invstd[s] · (g − A[s]/n − x̂ · B[s]/n)` with `g = dy · w[a]`, `A = Σg`, `B = Σg·x̂` over
/// the statistics group (`A` is not subtracted when not centred). Indices as in [`normalize()`].
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn input_grad<N: Size>(
    x: &[Vector<f32, N>],
    dy: &[Vector<f32, N>],
    weight: &[f32],
    mean: &[f32],
    invstd: &[f32],
    sum_g: &[f32],
    sum_gx: &[f32],
    dx: &mut [Vector<f32, N>],
    len: usize,
    count: usize,
    centered: u32,
    s_groups: FastDivmod<usize>,
    s_inner: FastDivmod<usize>,
    a_div: FastDivmod<usize>,
    a_mod: FastDivmod<usize>,
    #[comptime] stats_uniform: bool,
    #[comptime] affine_uniform: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < len {
        let lanes = N::value();
        let first = pos * lanes;
        let s0 = s_groups.modulo(s_inner.div(first));
        let a0 = a_mod.modulo(a_div.div(first));
        let n = count as f32;
        let xv = x[pos];
        let dyv = dy[pos];
        let mut out = Vector::<f32, N>::empty();
        #[unroll]
        for l in 0..lanes {
            let s = lane_index(first, l, s0, &s_inner, &s_groups, stats_uniform);
            let a = lane_index(first, l, a0, &a_div, &a_mod, affine_uniform);
            let r = invstd[s];
            let xhat = (xv.extract(l) - mean[s]) * r;
            let mut v = dyv.extract(l) * weight[a] - xhat * (sum_gx[s] / n);
            if centered == 1 {
                v -= sum_g[s] / n;
            }
            out.insert(l, r * v);
        }
        dx[pos] = out;
    }
}

/// Forward of one group per team of `team` units (`REDUCE_DIM / team` groups per workgroup,
/// see [`team_group()`]), the group held in registers: reads `x` once, writes `y`, `mean[g]`
/// and `invstd[g]`. Exact two-pass statistics: `m = p + Σ(x − p)/n`, then
/// `σ² = Σ((x − p) − (m − p))²/n` over the values in registers (`p` = the group's first
/// element). `inner` and `count` count vectors; element `e < count` of the group is at
/// `(e / inner · groups + g) · inner + e % inner` (`row` divides by `inner`). Each unit holds
/// `per_thread` vectors: `team · per_thread ≥ count`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn normalize_on_chip<N: Size>(
    x: &[Vector<f32, N>],
    weight: &[f32],
    bias: &[f32],
    y: &mut [Vector<f32, N>],
    mean: &mut [f32],
    invstd: &mut [f32],
    groups: usize,
    inner: usize,
    count: usize,
    row: FastDivmod<usize>,
    eps: f32,
    a_div: FastDivmod<usize>,
    a_mod: FastDivmod<usize>,
    team: usize,
    #[comptime] per_thread: usize,
    #[comptime] centered: bool,
    #[comptime] affine_uniform: bool,
) {
    let lanes = N::value();
    // Every unit takes part in the team sums (they synchronize the workgroup); the units of a
    // group past the last only load and store nothing.
    let (g, member) = team_group(team);
    let valid = g < groups;
    let n = (count * lanes) as f32;
    let mut values = Array::<Vector<f32, N>>::new(per_thread);
    let mut shift = 0.0f32;
    // A comptime condition outside, a runtime one inside: kept apart for the cube macro.
    #[allow(clippy::collapsible_if)]
    if centered {
        if valid {
            shift = x[g * inner].extract(0usize);
        }
    }
    let mut sum = 0.0f32;
    #[unroll]
    for k in 0..per_thread {
        let e = member + k * team;
        let mut v = Vector::<f32, N>::empty().fill(0.0f32);
        if valid && e < count {
            v = x[group_position(e, g, groups, inner, &row)];
            #[unroll]
            for l in 0..lanes {
                sum += v.extract(l) - shift;
            }
        }
        values[k] = v;
    }
    let mut shifted_mean = 0.0f32;
    if centered {
        shifted_mean = team_sum(sum, team) / n;
    }
    let mut squares = 0.0f32;
    #[unroll]
    for k in 0..per_thread {
        let e = member + k * team;
        if valid && e < count {
            let v = values[k];
            #[unroll]
            for l in 0..lanes {
                let d = (v.extract(l) - shift) - shifted_mean;
                squares += d * d;
            }
        }
    }
    let r = 1.0f32 / f32::sqrt(team_sum(squares, team) / n + eps);
    if valid && member == 0 {
        mean[g] = shift + shifted_mean;
        invstd[g] = r;
    }
    #[unroll]
    for k in 0..per_thread {
        let e = member + k * team;
        if valid && e < count {
            let at = group_position(e, g, groups, inner, &row);
            let first = at * lanes;
            let a0 = a_mod.modulo(a_div.div(first));
            let v = values[k];
            let mut out = Vector::<f32, N>::empty();
            #[unroll]
            for l in 0..lanes {
                let a = lane_index(first, l, a0, &a_div, &a_mod, affine_uniform);
                let xhat = ((v.extract(l) - shift) - shifted_mean) * r;
                out.insert(l, xhat * weight[a] + bias[a]);
            }
            y[at] = out;
        }
    }
}

/// Backward of one group per team (as in [`normalize_on_chip()`]), the group's `x̂` and
/// `g = dy · w` held in registers: reads `x` and `dy` once and writes
/// `dx = invstd · (g − Σg/n − x̂ · Σg·x̂/n)` (`Σg/n` not subtracted when not `centered`). With
/// `affine_is_group` (BatchNorm: the affine parameter of every element is its statistics
/// group's, `w[g]`) it also writes `dβ[g] = Σdy` and `dγ[g] = Σdy·x̂`. Layout, `team` and
/// `per_thread` as in [`normalize_on_chip()`].
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn input_grad_on_chip<N: Size>(
    x: &[Vector<f32, N>],
    dy: &[Vector<f32, N>],
    weight: &[f32],
    mean: &[f32],
    invstd: &[f32],
    dx: &mut [Vector<f32, N>],
    grad_weight: &mut [f32],
    grad_bias: &mut [f32],
    groups: usize,
    inner: usize,
    count: usize,
    row: FastDivmod<usize>,
    a_div: FastDivmod<usize>,
    a_mod: FastDivmod<usize>,
    team: usize,
    #[comptime] per_thread: usize,
    #[comptime] centered: bool,
    #[comptime] affine_uniform: bool,
    #[comptime] affine_is_group: bool,
) {
    let lanes = N::value();
    let (g, member) = team_group(team);
    let valid = g < groups;
    let n = (count * lanes) as f32;
    let mut m = 0.0f32;
    let mut r = 0.0f32;
    // With `affine_is_group` the sums are the unweighted `Σdy`, `Σdy·x̂` (dβ, dγ) and the
    // weighted ones are `w[g]` times them.
    let mut scale = 1.0f32;
    if valid {
        m = mean[g];
        r = invstd[g];
        if affine_is_group {
            scale = weight[g];
        }
    }
    let mut xhats = Array::<Vector<f32, N>>::new(per_thread);
    let mut grads = Array::<Vector<f32, N>>::new(per_thread);
    let mut sum_g = 0.0f32;
    let mut sum_gx = 0.0f32;
    #[unroll]
    for k in 0..per_thread {
        let e = member + k * team;
        let mut xh = Vector::<f32, N>::empty().fill(0.0f32);
        let mut gr = Vector::<f32, N>::empty().fill(0.0f32);
        if valid && e < count {
            let at = group_position(e, g, groups, inner, &row);
            let first = at * lanes;
            let a0 = a_mod.modulo(a_div.div(first));
            let xv = x[at];
            let dyv = dy[at];
            #[unroll]
            for l in 0..lanes {
                let xhat = (xv.extract(l) - m) * r;
                let mut v = dyv.extract(l);
                if !affine_is_group {
                    v *= weight[lane_index(first, l, a0, &a_div, &a_mod, affine_uniform)];
                }
                xh.insert(l, xhat);
                gr.insert(l, v);
                sum_g += v;
                sum_gx += v * xhat;
            }
        }
        xhats[k] = xh;
        grads[k] = gr;
    }
    let total_g = team_sum(sum_g, team);
    let total_gx = team_sum(sum_gx, team);
    #[allow(clippy::collapsible_if)]
    if affine_is_group {
        if valid && member == 0 {
            grad_bias[g] = total_g;
            grad_weight[g] = total_gx;
        }
    }
    let mut centre = 0.0f32;
    if centered {
        centre = scale * total_g / n;
    }
    let slope = scale * total_gx / n;
    #[unroll]
    for k in 0..per_thread {
        let e = member + k * team;
        if valid && e < count {
            let at = group_position(e, g, groups, inner, &row);
            let xh = xhats[k];
            let gr = grads[k];
            let mut out = Vector::<f32, N>::empty();
            #[unroll]
            for l in 0..lanes {
                out.insert(
                    l,
                    r * (scale * gr.extract(l) - centre - xh.extract(l) * slope),
                );
            }
            dx[at] = out;
        }
    }
}

/// `y = x · scale[c] + shift[c]`, `c = (idx / spatial) % channels`; one thread per vector,
/// `uniform`: all lanes of a vector share `c`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn channel_affine<N: Size>(
    x: &[Vector<f32, N>],
    scale: &[f32],
    shift: &[f32],
    y: &mut [Vector<f32, N>],
    len: usize,
    spatial: FastDivmod<usize>,
    channels: FastDivmod<usize>,
    #[comptime] uniform: bool,
) {
    let pos = ABSOLUTE_POS;
    if pos < len {
        let lanes = N::value();
        let first = pos * lanes;
        let c0 = channels.modulo(spatial.div(first));
        let xv = x[pos];
        let mut out = Vector::<f32, N>::empty();
        #[unroll]
        for l in 0..lanes {
            let c = lane_index(first, l, c0, &spatial, &channels, uniform);
            out.insert(l, xv.extract(l) * scale[c] + shift[c]);
        }
        y[pos] = out;
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
