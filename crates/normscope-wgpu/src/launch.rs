//! Host side: shapes, workgroup counts and launches of [`crate::kernels`] on `CubeTensor`s.

use burn_backend::{DType, Shape, TensorMetadata};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;
use cubecl::{CubeCount, CubeDim, calculate_cube_count_elemwise};

use crate::kernels::{self, REDUCE_DIM};

static LAUNCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many normalization operations ran on the CubeCL kernels in this process (a forward, a
/// backward and a `channel_affine` count one each): lets a test see that a `Cube` device really
/// took the fused path.
pub fn launches() -> usize {
    LAUNCHES.load(std::sync::atomic::Ordering::Relaxed)
}

fn count_launch() {
    LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How a reduction reads the activation: element `(o, g, i)` at `(o·groups + g)·inner + i`,
/// summed per `g` over `o` and `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// Outer extent (the batch for per-channel statistics, 1 for per-sample groups).
    pub outer: usize,
    /// Number of reduced groups (channels, or samples × groups).
    pub groups: usize,
    /// Contiguous extent per `(o, g)`.
    pub inner: usize,
}

impl View {
    /// Elements summed per group.
    pub fn count(&self) -> usize {
        self.outer * self.inner
    }
}

/// Which affine parameter an element uses: `(idx / div) % modulo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AffineIndex {
    /// Elements per parameter run (`H·W` per channel, 1 per element).
    pub div: usize,
    /// Number of parameters.
    pub modulo: usize,
}

/// Where the affine gradients come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffineGrads {
    /// Statistics and affine parameters share their groups (BatchNorm): `dγ`, `dβ` are the
    /// statistics sums themselves — one reduction pass in all.
    SameAsStatistics,
    /// A separate reduction over this view (GroupNorm per channel, LayerNorm per element).
    Separate(View),
}

fn f32_contiguous(tensor: CubeTensor) -> Option<CubeTensor> {
    (tensor.dtype == DType::F32).then(|| into_contiguous(tensor))
}

fn empty_like(reference: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_dtype(
        reference.client.clone(),
        reference.device.clone(),
        shape,
        DType::F32,
    )
}

fn buffer(tensor: &CubeTensor) -> BufferArg {
    tensor.clone().into_buffer_arg()
}

/// `tensor` as a buffer of `lanes`-wide vectors (its length a multiple of `lanes`).
fn vectors(tensor: &CubeTensor, lanes: usize) -> BufferArg {
    let len = tensor.shape().num_elements();
    debug_assert_eq!(len % lanes, 0);
    // SAFETY: a contiguous f32 tensor of `len` elements holds `len / lanes` whole vectors.
    unsafe { BufferArg::from_raw_parts(tensor.handle.clone(), len / lanes) }
}

/// The vector width for rows of `n` values: 4 (16-byte loads) where `n` is a multiple of 4.
fn lanes_for(n: usize) -> usize {
    if n.is_multiple_of(4) { 4 } else { 1 }
}

fn elementwise(reference: &CubeTensor, len: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&reference.client, len);
    (
        calculate_cube_count_elemwise(&reference.client, len, dim),
        dim,
    )
}

/// Most workgroups along one grid axis.
const GRID_AXIS: usize = 65_535;

/// `workgroups` workgroups in a grid of `(min(w, 65 535), ⌈w / 65 535⌉)`.
fn group_grid(workgroups: usize) -> Option<CubeCount> {
    let rows = workgroups.div_ceil(GRID_AXIS);
    (rows <= GRID_AXIS).then(|| CubeCount::Static(workgroups.min(GRID_AXIS) as u32, rows as u32, 1))
}

/// How an on-chip kernel holds a group: a team of `team` units (a power of two, at most
/// `REDUCE_DIM`: `REDUCE_DIM / team` groups share a workgroup), each holding `per_thread`
/// `lanes`-wide vectors.
#[derive(Debug, Clone, Copy)]
struct OnChip {
    lanes: usize,
    per_thread: usize,
    team: usize,
}

impl OnChip {
    /// The workgroups for `groups` groups.
    fn grid(&self, groups: usize) -> Option<CubeCount> {
        team_grid(groups, self.team)
    }
}

/// The workgroups for `groups` groups of `team` units each, `REDUCE_DIM / team` to a workgroup
/// (the kernels find their group with `team_group`).
fn team_grid(groups: usize, team: usize) -> Option<CubeCount> {
    group_grid(groups.div_ceil(REDUCE_DIM as usize / team))
}

/// Vectors each unit of a team loads when the group is small: a group of `4·team` vectors or
/// fewer gets `team` units and leaves the rest of the workgroup to other groups, so that a
/// LayerNorm row of 256 values keeps 16 units busy instead of 64 of a workgroup's 256.
const SMALL_PER_THREAD: usize = 4;

/// The team size for groups of `count` values (or partials), `per_unit` of them per unit.
fn team_for(count: usize, per_unit: usize) -> usize {
    count
        .div_ceil(per_unit)
        .next_power_of_two()
        .min(REDUCE_DIM as usize)
}

/// The on-chip plan for the groups of `view`, if a group fits in one workgroup's registers
/// (at most [`kernels::ON_CHIP_CAPACITY`] values).
fn on_chip(view: View) -> Option<OnChip> {
    let lanes = lanes_for(view.inner);
    let vectors = view.count() / lanes;
    let team = team_for(vectors, SMALL_PER_THREAD);
    let per_thread = vectors.div_ceil(team).next_power_of_two();
    let plan = OnChip {
        lanes,
        per_thread,
        team,
    };
    (per_thread * lanes <= kernels::ON_CHIP_PER_THREAD && plan.grid(view.groups).is_some())
        .then_some(plan)
}

/// Rows at least this long are reduced by [`kernels::partial_sums()`] (a workgroup walks along
/// them); shorter ones by [`kernels::column_partials()`].
const LONG_ROW: usize = 4 * REDUCE_DIM as usize;

/// Workgroups per group of the split-row reduction: enough to fill a large GPU (`≈ 4096`
/// workgroups in all) with at least `4·REDUCE_DIM` values each, at most one grid axis.
fn splits(view: View) -> usize {
    let per_group = 4096usize.div_ceil(view.groups.max(1));
    let most = view.count().div_ceil(4 * REDUCE_DIM as usize).max(1);
    per_group.clamp(1, most.min(GRID_AXIS))
}

/// The two sums of a reduction (see [`kernels::partial_sums()`] for the modes) per group of
/// `view`, combined; `None` where the view exceeds the launch grid.
#[allow(clippy::too_many_arguments)]
fn reduce(
    x: &CubeTensor,
    dy: &CubeTensor,
    weight: &CubeTensor,
    mean: &CubeTensor,
    invstd: &CubeTensor,
    view: View,
    mode: u32,
    centered: bool,
    stats: View,
    affine: AffineIndex,
) -> Option<(CubeTensor, CubeTensor)> {
    let (partial_a, partial_b, per_group) = if view.inner >= LONG_ROW && view.groups <= GRID_AXIS {
        let lanes = lanes_for(view.inner);
        let count = view.count() / lanes;
        let chunk = count.div_ceil(splits(view));
        let splits = count.div_ceil(chunk);
        let partial_a = empty_like(x, Shape::new([view.groups * splits]));
        let partial_b = empty_like(x, Shape::new([view.groups * splits]));
        kernels::partial_sums::launch(
            &x.client,
            CubeCount::Static(splits as u32, view.groups as u32, 1),
            CubeDim::new_1d(REDUCE_DIM),
            lanes,
            vectors(x, lanes),
            vectors(dy, lanes),
            buffer(weight),
            buffer(mean),
            buffer(invstd),
            buffer(&partial_a),
            buffer(&partial_b),
            view.groups,
            view.inner / lanes,
            count,
            chunk,
            splits,
            mode,
            centered as u32,
            stats.groups,
            stats.inner,
            affine.div,
            affine.modulo,
        );
        (partial_a, partial_b, splits)
    } else {
        let columns = view.groups * view.inner;
        let width = columns.next_power_of_two().clamp(32, REDUCE_DIM as usize);
        let blocks = columns.div_ceil(width);
        if blocks > GRID_AXIS {
            return None;
        }
        // Enough threads for a large GPU (~2²⁰), at least 8 rows each.
        let splits = (1usize << 20)
            .div_ceil(columns)
            .clamp(1, view.outer.div_ceil(8).clamp(1, GRID_AXIS));
        let rows = view.outer.div_ceil(splits);
        let splits = view.outer.div_ceil(rows);
        let partial_a = empty_like(x, Shape::new([columns * splits]));
        let partial_b = empty_like(x, Shape::new([columns * splits]));
        kernels::column_partials::launch(
            &x.client,
            CubeCount::Static(blocks as u32, splits as u32, 1),
            CubeDim::new_1d(width as u32),
            buffer(x),
            buffer(dy),
            buffer(weight),
            buffer(mean),
            buffer(invstd),
            buffer(&partial_a),
            buffer(&partial_b),
            view.outer,
            columns,
            view.inner,
            splits,
            rows,
            mode,
            centered as u32,
            stats.groups,
            stats.inner,
            affine.div,
            affine.modulo,
        );
        (partial_a, partial_b, view.inner * splits)
    };
    let out_a = empty_like(x, Shape::new([view.groups]));
    let out_b = empty_like(x, Shape::new([view.groups]));
    let team = team_for(per_group, 1);
    kernels::sum_partials::launch(
        &x.client,
        team_grid(view.groups, team)?,
        CubeDim::new_1d(REDUCE_DIM),
        buffer(&partial_a),
        buffer(&partial_b),
        buffer(&out_a),
        buffer(&out_b),
        view.groups,
        per_group,
        team,
    );
    Some((out_a, out_b))
}

/// Training forward: `(y, mean, invstd)` with the statistics flattened to `[stats.groups]`
/// (`mean = 0` when not centred). `None` for dtypes other than f32 and views beyond the grid.
///
/// A group that fits on chip is normalized in one pass (2·|x|); otherwise a reduction pass
/// (1·|x|) and an elementwise pass (2·|x|).
pub fn norm_forward(
    x: CubeTensor,
    weight: CubeTensor,
    bias: CubeTensor,
    stats: View,
    affine: AffineIndex,
    centered: bool,
    eps: f64,
) -> Option<(CubeTensor, CubeTensor, CubeTensor)> {
    let x = f32_contiguous(x)?;
    let weight = f32_contiguous(weight)?;
    let bias = f32_contiguous(bias)?;
    let len = x.shape().num_elements();
    if len == 0 || stats.groups == 0 {
        return None;
    }
    let mean = empty_like(&x, Shape::new([stats.groups]));
    let invstd = empty_like(&x, Shape::new([stats.groups]));
    let y = empty_like(&x, x.shape());
    if let Some(plan) = on_chip(stats) {
        let OnChip {
            lanes,
            per_thread,
            team,
        } = plan;
        kernels::normalize_on_chip::launch(
            &x.client,
            plan.grid(stats.groups)?,
            CubeDim::new_1d(REDUCE_DIM),
            lanes,
            vectors(&x, lanes),
            buffer(&weight),
            buffer(&bias),
            vectors(&y, lanes),
            buffer(&mean),
            buffer(&invstd),
            stats.groups,
            stats.inner / lanes,
            stats.count() / lanes,
            stats.inner / lanes,
            eps as f32,
            affine.div,
            affine.modulo,
            team,
            per_thread,
            centered,
            affine.div.is_multiple_of(lanes),
        );
        count_launch();
        return Some((y, mean, invstd));
    }
    // Mode 0 reads neither `dy` nor the statistics: any buffer will do for them.
    let (sum_d, sum_d2) = reduce(&x, &x, &weight, &x, &x, stats, 0, centered, stats, affine)?;
    let pivot = empty_like(&x, Shape::new([stats.groups]));
    let shifted_mean = empty_like(&x, Shape::new([stats.groups]));
    let (count, dim) = elementwise(&x, stats.groups);
    kernels::finish_statistics::launch(
        &x.client,
        count,
        dim,
        buffer(&x),
        buffer(&sum_d),
        buffer(&sum_d2),
        buffer(&mean),
        buffer(&pivot),
        buffer(&shifted_mean),
        buffer(&invstd),
        stats.groups,
        stats.inner,
        stats.count(),
        centered as u32,
        eps as f32,
    );
    let lanes = lanes_for(len);
    let (count, dim) = elementwise(&x, len / lanes);
    kernels::normalize::launch(
        &x.client,
        count,
        dim,
        lanes,
        vectors(&x, lanes),
        buffer(&pivot),
        buffer(&shifted_mean),
        buffer(&invstd),
        buffer(&weight),
        buffer(&bias),
        vectors(&y, lanes),
        len / lanes,
        stats.groups,
        stats.inner,
        affine.div,
        affine.modulo,
        stats.inner.is_multiple_of(lanes),
        affine.div.is_multiple_of(lanes),
    );
    count_launch();
    Some((y, mean, invstd))
}

/// Closed-form backward: `(dx, dγ, dβ)`, the affine gradients shaped like `weight`. `None` for
/// dtypes other than f32 and views beyond the grid.
///
/// BatchNorm: one pass on chip (3·|x|), else a reduction (2·|x|) and the input-gradient pass
/// (3·|x|). The group family adds one reduction for `dγ`, `dβ` (2·|x|) over their own view.
#[allow(clippy::too_many_arguments)]
pub fn norm_backward(
    x: CubeTensor,
    weight: CubeTensor,
    mean: CubeTensor,
    invstd: CubeTensor,
    grad_output: CubeTensor,
    stats: View,
    affine: AffineIndex,
    affine_grads: AffineGrads,
    centered: bool,
) -> Option<(CubeTensor, CubeTensor, CubeTensor)> {
    let x = f32_contiguous(x)?;
    let weight = f32_contiguous(weight)?;
    let mean = f32_contiguous(mean)?;
    let invstd = f32_contiguous(invstd)?;
    let dy = f32_contiguous(grad_output)?;
    let len = x.shape().num_elements();
    if len == 0 || stats.groups == 0 {
        return None;
    }
    let weight_shape = weight.shape();
    let reshape = |t: CubeTensor| burn_cubecl::ops::reshape(t, weight_shape.clone());
    let dx = empty_like(&x, x.shape());
    let affine_is_group = affine_grads == AffineGrads::SameAsStatistics;
    // The group family's `dγ`, `dβ` come from their own reduction in every case.
    let separate = match affine_grads {
        AffineGrads::SameAsStatistics => None,
        AffineGrads::Separate(view) => Some(reduce(
            &x, &dy, &weight, &mean, &invstd, view, 2, centered, stats, affine,
        )?),
    };
    if let Some(plan) = on_chip(stats) {
        let OnChip {
            lanes,
            per_thread,
            team,
        } = plan;
        let (grad_weight, grad_bias) = match &separate {
            Some(_) => (
                empty_like(&x, Shape::new([1])),
                empty_like(&x, Shape::new([1])),
            ),
            None => (
                empty_like(&x, Shape::new([stats.groups])),
                empty_like(&x, Shape::new([stats.groups])),
            ),
        };
        kernels::input_grad_on_chip::launch(
            &x.client,
            plan.grid(stats.groups)?,
            CubeDim::new_1d(REDUCE_DIM),
            lanes,
            vectors(&x, lanes),
            vectors(&dy, lanes),
            buffer(&weight),
            buffer(&mean),
            buffer(&invstd),
            vectors(&dx, lanes),
            buffer(&grad_weight),
            buffer(&grad_bias),
            stats.groups,
            stats.inner / lanes,
            stats.count() / lanes,
            stats.inner / lanes,
            affine.div,
            affine.modulo,
            team,
            per_thread,
            centered,
            affine.div.is_multiple_of(lanes),
            affine_is_group,
        );
        count_launch();
        let (sum_dy, sum_dyx) = separate.unwrap_or((grad_bias, grad_weight));
        return Some((dx, reshape(sum_dyx), reshape(sum_dy)));
    }
    let (sum_g, sum_gx, grad_weight, grad_bias) = match separate {
        None => {
            // Σdy and Σdy·x̂ per channel are dβ and dγ; the weighted sums are γ times them.
            let (sum_dy, sum_dyx) = reduce(
                &x, &dy, &weight, &mean, &invstd, stats, 2, centered, stats, affine,
            )?;
            let sum_g = empty_like(&x, Shape::new([stats.groups]));
            let sum_gx = empty_like(&x, Shape::new([stats.groups]));
            let (count, dim) = elementwise(&x, stats.groups);
            kernels::weight_sums::launch(
                &x.client,
                count,
                dim,
                buffer(&weight),
                buffer(&sum_dy),
                buffer(&sum_dyx),
                buffer(&sum_g),
                buffer(&sum_gx),
                stats.groups,
            );
            (sum_g, sum_gx, sum_dyx, sum_dy)
        }
        Some((sum_dy, sum_dyx)) => {
            let (sum_g, sum_gx) = reduce(
                &x, &dy, &weight, &mean, &invstd, stats, 1, centered, stats, affine,
            )?;
            (sum_g, sum_gx, sum_dyx, sum_dy)
        }
    };
    let lanes = lanes_for(len);
    let (count, dim) = elementwise(&x, len / lanes);
    kernels::input_grad::launch(
        &x.client,
        count,
        dim,
        lanes,
        vectors(&x, lanes),
        vectors(&dy, lanes),
        buffer(&weight),
        buffer(&mean),
        buffer(&invstd),
        buffer(&sum_g),
        buffer(&sum_gx),
        vectors(&dx, lanes),
        len / lanes,
        stats.count(),
        centered as u32,
        stats.groups,
        stats.inner,
        affine.div,
        affine.modulo,
        stats.inner.is_multiple_of(lanes),
        affine.div.is_multiple_of(lanes),
    );
    count_launch();
    Some((dx, reshape(grad_weight), reshape(grad_bias)))
}

/// `x · scale[c] + shift[c]` over `[N, C, ...]`. `None` for dtypes other than f32.
pub fn channel_affine(x: CubeTensor, scale: CubeTensor, shift: CubeTensor) -> Option<CubeTensor> {
    let x = f32_contiguous(x)?;
    let scale = f32_contiguous(scale)?;
    let shift = f32_contiguous(shift)?;
    let shape = x.shape();
    let len = shape.num_elements();
    if len == 0 || shape.num_dims() < 2 {
        return None;
    }
    let channels = shape[1];
    let spatial = len / (shape[0] * channels);
    let y = empty_like(&x, shape);
    let lanes = lanes_for(len);
    let (count, dim) = elementwise(&x, len / lanes);
    kernels::channel_affine::launch(
        &x.client,
        count,
        dim,
        lanes,
        vectors(&x, lanes),
        buffer(&scale),
        buffer(&shift),
        vectors(&y, lanes),
        len / lanes,
        spatial,
        channels,
        spatial.is_multiple_of(lanes),
    );
    count_launch();
    Some(y)
}
