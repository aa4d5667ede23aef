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

fn elementwise(reference: &CubeTensor, len: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&reference.client, len);
    (
        calculate_cube_count_elemwise(&reference.client, len, dim),
        dim,
    )
}

/// Workgroups per group: enough to fill a large GPU (`≈ 4096` workgroups in all) with at least
/// `4·REDUCE_DIM` elements each, at most 65 535 (the limit of one grid axis).
fn splits(view: View) -> usize {
    let per_group = 4096usize.div_ceil(view.groups.max(1));
    let most = view.count().div_ceil(4 * REDUCE_DIM as usize).max(1);
    per_group.clamp(1, most.min(65_535))
}

/// The two sums of [`kernels::partial_sums`] per group of `view`, combined.
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
) -> (CubeTensor, CubeTensor) {
    if view.inner == 1 && mode == 2 {
        let out_a = empty_like(x, Shape::new([view.groups]));
        let out_b = empty_like(x, Shape::new([view.groups]));
        let (count, dim) = elementwise(x, view.groups);
        kernels::column_sums::launch(
            &x.client,
            count,
            dim,
            buffer(x),
            buffer(dy),
            buffer(mean),
            buffer(invstd),
            buffer(&out_a),
            buffer(&out_b),
            view.outer,
            view.groups,
            stats.groups,
            stats.inner,
        );
        return (out_a, out_b);
    }
    let splits = splits(view);
    let partial_a = empty_like(x, Shape::new([view.groups * splits]));
    let partial_b = empty_like(x, Shape::new([view.groups * splits]));
    kernels::partial_sums::launch(
        &x.client,
        CubeCount::Static(splits as u32, view.groups as u32, 1),
        CubeDim::new_1d(REDUCE_DIM),
        buffer(x),
        buffer(dy),
        buffer(weight),
        buffer(mean),
        buffer(invstd),
        buffer(&partial_a),
        buffer(&partial_b),
        view.outer,
        view.groups,
        view.inner,
        splits,
        mode,
        centered as u32,
        stats.groups,
        stats.inner,
        affine.div,
        affine.modulo,
    );
    let out_a = empty_like(x, Shape::new([view.groups]));
    let out_b = empty_like(x, Shape::new([view.groups]));
    let (count, dim) = elementwise(x, view.groups);
    kernels::sum_partials::launch(
        &x.client,
        count,
        dim,
        buffer(&partial_a),
        buffer(&partial_b),
        buffer(&out_a),
        buffer(&out_b),
        view.groups,
        splits,
    );
    (out_a, out_b)
}

/// Training forward: `(y, mean, invstd)` with the statistics flattened to `[stats.groups]`
/// (`mean = 0` when not centred). `None` for dtypes other than f32.
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
    // Mode 0 reads neither `dy` nor the statistics: any buffer will do for them.
    let (sum_d, sum_d2) = reduce(&x, &x, &weight, &x, &x, stats, 0, centered, stats, affine);
    let mean = empty_like(&x, Shape::new([stats.groups]));
    let shifted_mean = empty_like(&x, Shape::new([stats.groups]));
    let invstd = empty_like(&x, Shape::new([stats.groups]));
    let (count, dim) = elementwise(&x, stats.groups);
    kernels::finish_statistics::launch(
        &x.client,
        count,
        dim,
        buffer(&x),
        buffer(&sum_d),
        buffer(&sum_d2),
        buffer(&mean),
        buffer(&shifted_mean),
        buffer(&invstd),
        stats.groups,
        stats.inner,
        stats.count(),
        centered as u32,
        eps as f32,
    );
    let y = empty_like(&x, x.shape());
    let (count, dim) = elementwise(&x, len);
    kernels::normalize::launch(
        &x.client,
        count,
        dim,
        buffer(&x),
        buffer(&shifted_mean),
        buffer(&invstd),
        buffer(&weight),
        buffer(&bias),
        buffer(&y),
        len,
        centered as u32,
        stats.groups,
        stats.inner,
        stats.inner,
        affine.div,
        affine.modulo,
    );
    count_launch();
    Some((y, mean, invstd))
}

/// Closed-form backward: `(dx, dγ, dβ)`, the affine gradients shaped like `weight`. `None` for
/// dtypes other than f32.
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
    let (sum_g, sum_gx, grad_weight, grad_bias) = match affine_grads {
        AffineGrads::SameAsStatistics => {
            // Σdy and Σdy·x̂ per channel are dβ and dγ; the weighted sums are γ times them.
            let (sum_dy, sum_dyx) = reduce(
                &x, &dy, &weight, &mean, &invstd, stats, 2, centered, stats, affine,
            );
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
        AffineGrads::Separate(view) => {
            let (sum_g, sum_gx) = reduce(
                &x, &dy, &weight, &mean, &invstd, stats, 1, centered, stats, affine,
            );
            let (sum_dy, sum_dyx) = reduce(
                &x, &dy, &weight, &mean, &invstd, view, 2, centered, stats, affine,
            );
            (sum_g, sum_gx, sum_dyx, sum_dy)
        }
    };
    let dx = empty_like(&x, x.shape());
    let (count, dim) = elementwise(&x, len);
    kernels::input_grad::launch(
        &x.client,
        count,
        dim,
        buffer(&x),
        buffer(&dy),
        buffer(&weight),
        buffer(&mean),
        buffer(&invstd),
        buffer(&sum_g),
        buffer(&sum_gx),
        buffer(&dx),
        len,
        stats.count(),
        centered as u32,
        stats.groups,
        stats.inner,
        affine.div,
        affine.modulo,
    );
    count_launch();
    let reshape = |t: CubeTensor| burn_cubecl::ops::reshape(t, weight_shape.clone());
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
    let (count, dim) = elementwise(&x, len);
    kernels::channel_affine::launch(
        &x.client,
        count,
        dim,
        buffer(&x),
        buffer(&scale),
        buffer(&shift),
        buffer(&y),
        len,
        spatial,
        channels,
    );
    count_launch();
    Some(y)
}
