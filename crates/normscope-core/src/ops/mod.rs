//! The backend extension behind every normalizer: one fused forward, one closed-form backward
//! and one per-channel affine map, for any [`NormLayout`].
//!
//! [`NormOps`] is a burn `#[backend_extension]`. Its default bodies are the composed path
//! ([`composed`]): plain burn tensor operations, so every backend works. A backend with its
//! own kernels overrides the methods (see `docs/architecture.md` for which backend runs what).
//! Under autodiff the whole normalization is one node of the graph whose backward is
//! [`NormOps::norm_backward`] — the closed-form gradient, not a tape of elementwise ops.

mod autodiff;
mod backends;
#[cfg(feature = "wgpu")]
#[doc(hidden)]
pub use backends::cube_kernel_launches;
pub mod composed;

use burn::backend::{Backend, ExtensionType, backend_extension, tensor::FloatTensor};
use burn::tensor::Shape;

/// Over which elements a normalizer computes its statistics, for an input `[N, C, *S]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Statistics {
    /// One mean/variance per channel over the batch and the spatial positions (`N·|S|` values):
    /// BatchNorm and its variants. Statistics have shape `[C]`.
    PerChannel,
    /// One mean/variance per sample and group of `C / groups` channels (`C/groups · |S|` values):
    /// GroupNorm; InstanceNorm is `groups = C`, LayerNorm and RMSNorm `groups = 1`.
    /// Statistics have shape `[N · groups]`.
    PerGroup(usize),
}

/// How the learnable scale and shift are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Affine {
    /// One `γ`, `β` per channel: `[C]` (BatchNorm, GroupNorm, InstanceNorm).
    PerChannel,
    /// One `γ`, `β` per element of a sample: `[C · |S|]` (LayerNorm, RMSNorm, as `torch.nn`).
    PerElement,
}

/// The shape of a normalization: where the statistics come from, whether the mean is removed,
/// and how the affine parameters broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NormLayout {
    /// The reduction.
    pub statistics: Statistics,
    /// `true`: `x̂ = (x − μ)/√(σ² + ε)`; `false`: `x̂ = x/√(E[x²] + ε)` (RMSNorm, VarianceOnly).
    pub centered: bool,
    /// The layout of `γ` and `β`.
    pub affine: Affine,
}

/// The three-dimensional view `[outer, groups, inner]` in which statistics are taken over the
/// outer and inner axes, one per middle index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsView {
    /// Outer axis (the batch for per-channel statistics, else 1).
    pub outer: usize,
    /// One statistic per index of this axis.
    pub groups: usize,
    /// Inner axis (contiguous in memory).
    pub inner: usize,
}

impl StatsView {
    /// How many values each statistic is taken over.
    pub fn count(&self) -> usize {
        self.outer * self.inner
    }
}

impl NormLayout {
    /// BatchNorm: per-channel statistics, centred, per-channel affine.
    pub const BATCH: NormLayout = NormLayout {
        statistics: Statistics::PerChannel,
        centered: true,
        affine: Affine::PerChannel,
    };

    /// GroupNorm with `groups` groups (InstanceNorm: `groups = C`).
    pub fn group(groups: usize) -> NormLayout {
        NormLayout {
            statistics: Statistics::PerGroup(groups),
            centered: true,
            affine: Affine::PerChannel,
        }
    }

    /// LayerNorm over every non-batch dimension, affine per element.
    pub const LAYER: NormLayout = NormLayout {
        statistics: Statistics::PerGroup(1),
        centered: true,
        affine: Affine::PerElement,
    };

    /// RMSNorm over every non-batch dimension, scale per element.
    pub const RMS: NormLayout = NormLayout {
        statistics: Statistics::PerGroup(1),
        centered: false,
        affine: Affine::PerElement,
    };

    /// The statistics view of an input of `shape` (`[N, C, ...]`).
    pub fn view(&self, shape: &Shape) -> StatsView {
        let n = shape[0];
        let c = shape[1];
        let spatial = shape.num_elements() / (n * c).max(1);
        match self.statistics {
            Statistics::PerChannel => StatsView {
                outer: n,
                groups: c,
                inner: spatial,
            },
            Statistics::PerGroup(g) => StatsView {
                outer: 1,
                groups: n * g,
                inner: c / g * spatial,
            },
        }
    }

    /// Number of statistics (the length of the saved mean and inverse std).
    pub fn num_stats(&self, shape: &Shape) -> usize {
        self.view(shape).groups
    }

    /// Length of `γ`/`β` for an input of `shape`.
    pub fn affine_len(&self, shape: &Shape) -> usize {
        match self.affine {
            Affine::PerChannel => shape[1],
            Affine::PerElement => shape.num_elements() / shape[0],
        }
    }
}

/// Result of a training-mode normalization: the output and the statistics it used.
#[derive(ExtensionType)]
#[extension_type(fusion: cfg(feature = "wgpu"))]
pub struct NormForward<B: Backend> {
    /// `γ ⊙ x̂ + β`, the input's shape.
    pub output: FloatTensor<B>,
    /// The mean of each statistics group (zeros when the layout is not centred), `[groups]`.
    pub mean: FloatTensor<B>,
    /// `1/√(σ² + ε)` (or `1/√(E[x²] + ε)`) of each statistics group, `[groups]`.
    pub invstd: FloatTensor<B>,
}

/// Gradients of a normalization with respect to its input and affine parameters.
#[derive(ExtensionType)]
#[extension_type(fusion: cfg(feature = "wgpu"))]
pub struct NormBackward<B: Backend> {
    /// `∂L/∂x`, the input's shape.
    pub grad_input: FloatTensor<B>,
    /// `∂L/∂γ = Σ dy ⊙ x̂`, the affine shape.
    pub grad_weight: FloatTensor<B>,
    /// `∂L/∂β = Σ dy`, the affine shape.
    pub grad_bias: FloatTensor<B>,
}

/// Fused normalization operations. See the module documentation.
#[backend_extension(
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    LibTorch: cfg(feature = "tch"),
    Cube: cfg(feature = "wgpu"),
    Fusion: cfg(feature = "wgpu"),
    Autodiff,
)]
pub trait NormOps: Backend {
    /// Normalizes `x` (`[N, C, ...]`) with the statistics of the input itself, then applies
    /// `weight` and `bias` (shape [`NormLayout::affine_len`]). Returns the output and the saved
    /// mean and inverse standard deviation ([`NormLayout::num_stats`] each).
    #[fusion(meta = fusion_meta::forward)]
    fn norm_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        layout: NormLayout,
        eps: f64,
    ) -> NormForward<Self> {
        composed::forward::<Self>(x, weight, bias, layout, eps)
    }

    /// The closed-form gradient of [`norm_forward`](NormOps::norm_forward) given the upstream
    /// gradient `grad_output` and the statistics the forward saved. `eps` is the forward's
    /// (cuDNN's backward takes it again).
    #[fusion(meta = fusion_meta::backward)]
    fn norm_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        invstd: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        layout: NormLayout,
        eps: f64,
    ) -> NormBackward<Self> {
        let _ = eps;
        composed::backward::<Self>(x, weight, mean, invstd, grad_output, layout)
    }

    /// `y = x · scale + shift` with `scale`, `shift` of shape `[C]` broadcast over `[N, C, ...]`:
    /// every normalizer's eval mode once its running statistics are folded into the affine map.
    #[fusion(meta = fusion_meta::channel_affine)]
    fn channel_affine(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        composed::channel_affine::<Self>(x, scale, shift)
    }
}

/// Output shapes of the three operations, for burn's Fusion backend: a `Cube` device records
/// each as one custom operation and runs it with `CubeBackend`'s kernels (normscope-wgpu).
#[cfg(feature = "wgpu")]
mod fusion_meta {
    use super::{NormBackwardMetadata, NormForwardMetadata, NormLayout};
    use burn::backend::fusion::custom::TensorSpec;
    use burn::tensor::Shape;

    pub fn forward(
        x: &TensorSpec,
        _weight: &TensorSpec,
        _bias: &TensorSpec,
        layout: &NormLayout,
        _eps: &f64,
    ) -> NormForwardMetadata {
        let stats = TensorSpec::new(Shape::new([layout.num_stats(&x.shape)]), x.dtype);
        NormForwardMetadata {
            output: x.clone(),
            mean: stats.clone(),
            invstd: stats,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        x: &TensorSpec,
        weight: &TensorSpec,
        _mean: &TensorSpec,
        _invstd: &TensorSpec,
        _grad_output: &TensorSpec,
        _layout: &NormLayout,
        _eps: &f64,
    ) -> NormBackwardMetadata {
        NormBackwardMetadata {
            grad_input: x.clone(),
            grad_weight: weight.clone(),
            grad_bias: weight.clone(),
        }
    }

    pub fn channel_affine(x: &TensorSpec, _scale: &TensorSpec, _shift: &TensorSpec) -> TensorSpec {
        x.clone()
    }
}
