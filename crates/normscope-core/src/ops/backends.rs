//! Which backend runs which implementation of [`NormOps`].

#[allow(unused_imports)]
use super::{NormBackward, NormForward, NormLayout, NormOps, Statistics, composed};
#[allow(unused_imports)]
use burn::backend::tensor::FloatTensor;

/// The CPU backends, NdArray and Flex: normscope-cpu's fused kernels (f32 and f64; other dtypes
/// take the composed path), reached through each backend's tensor type (`HostTensor`).
#[cfg(any(feature = "ndarray", feature = "flex"))]
mod cpu {
    use super::super::Affine;
    use super::*;
    use burn::backend::Backend;
    use normscope_cpu::{GroupLayout, HostTensor, Statistics as KernelStatistics};

    /// The kernels' statistics, or `None` for the layout no layer uses (per-channel statistics
    /// with a per-element affine), which takes the composed path.
    fn statistics(layout: NormLayout) -> Option<KernelStatistics> {
        match (layout.statistics, layout.affine) {
            (Statistics::PerChannel, Affine::PerElement) => None,
            (Statistics::PerChannel, Affine::PerChannel) => Some(KernelStatistics::PerChannel {
                centered: layout.centered,
            }),
            (Statistics::PerGroup(groups), affine) => {
                Some(KernelStatistics::PerGroup(GroupLayout {
                    groups,
                    centered: layout.centered,
                    per_element: affine == Affine::PerElement,
                }))
            }
        }
    }

    /// A burn CPU backend whose float tensors the kernels read and write.
    pub trait CpuBackend: Backend<FloatTensorPrimitive: HostTensor<f32> + HostTensor<f64>> {}
    impl<B: Backend<FloatTensorPrimitive: HostTensor<f32> + HostTensor<f64>>> CpuBackend for B {}

    pub fn forward<B: CpuBackend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        bias: FloatTensor<B>,
        layout: NormLayout,
        eps: f64,
    ) -> NormForward<B> {
        let fused = statistics(layout)
            .and_then(|s| normscope_cpu::norm_forward(&x, &weight, &bias, s, eps));
        match fused {
            Some((output, mean, invstd)) => NormForward {
                output,
                mean,
                invstd,
            },
            None => composed::forward::<B>(x, weight, bias, layout, eps),
        }
    }

    pub fn backward<B: CpuBackend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        mean: FloatTensor<B>,
        invstd: FloatTensor<B>,
        grad_output: FloatTensor<B>,
        layout: NormLayout,
    ) -> NormBackward<B> {
        let fused = statistics(layout).and_then(|s| {
            normscope_cpu::norm_backward(&x, &weight, &mean, &invstd, &grad_output, s)
        });
        match fused {
            Some((grad_input, grad_weight, grad_bias)) => NormBackward {
                grad_input,
                grad_weight,
                grad_bias,
            },
            None => composed::backward::<B>(x, weight, mean, invstd, grad_output, layout),
        }
    }

    pub fn channel_affine<B: CpuBackend>(
        x: FloatTensor<B>,
        scale: FloatTensor<B>,
        shift: FloatTensor<B>,
    ) -> FloatTensor<B> {
        match normscope_cpu::channel_affine(&x, &scale, &shift) {
            Some(output) => output,
            None => composed::channel_affine::<B>(x, scale, shift),
        }
    }

    /// `impl NormOps` for a CPU backend: every method is the kernels' (the orphan rule puts the
    /// impls here, one line per backend).
    macro_rules! cpu_norm_ops {
        ($backend:ty) => {
            impl NormOps for $backend {
                fn norm_forward(
                    x: FloatTensor<Self>,
                    weight: FloatTensor<Self>,
                    bias: FloatTensor<Self>,
                    layout: NormLayout,
                    eps: f64,
                ) -> NormForward<Self> {
                    forward::<Self>(x, weight, bias, layout, eps)
                }

                fn norm_backward(
                    x: FloatTensor<Self>,
                    weight: FloatTensor<Self>,
                    mean: FloatTensor<Self>,
                    invstd: FloatTensor<Self>,
                    grad_output: FloatTensor<Self>,
                    layout: NormLayout,
                    _eps: f64,
                ) -> NormBackward<Self> {
                    backward::<Self>(x, weight, mean, invstd, grad_output, layout)
                }

                fn channel_affine(
                    x: FloatTensor<Self>,
                    scale: FloatTensor<Self>,
                    shift: FloatTensor<Self>,
                ) -> FloatTensor<Self> {
                    channel_affine::<Self>(x, scale, shift)
                }
            }
        };
    }

    #[cfg(feature = "ndarray")]
    cpu_norm_ops!(burn::backend::NdArray);
    #[cfg(feature = "flex")]
    cpu_norm_ops!(burn::backend::Flex);
}

/// LibTorch: ATen's fused kernels through normscope-tch, one ATen call each way (cuDNN's
/// BatchNorm on CUDA where PyTorch would pick it). Layouts ATen has no kernel for (VarianceOnly's
/// uncentred per-channel statistics) take the composed path.
#[cfg(feature = "tch")]
mod libtorch {
    use super::super::Affine;
    use super::*;
    use burn::backend::LibTorch;
    use burn::backend::libtorch::TchTensor;
    use normscope_tch::ops::{self as aten, AtenNorm};

    fn aten_norm(layout: NormLayout) -> Option<AtenNorm> {
        match (layout.statistics, layout.centered, layout.affine) {
            (Statistics::PerChannel, true, Affine::PerChannel) => Some(AtenNorm::BatchNorm),
            (Statistics::PerGroup(groups), true, Affine::PerChannel) => {
                Some(AtenNorm::GroupNorm(groups))
            }
            (Statistics::PerGroup(1), true, Affine::PerElement) => Some(AtenNorm::LayerNorm),
            (Statistics::PerGroup(1), false, Affine::PerElement) => Some(AtenNorm::RmsNorm),
            _ => None,
        }
    }

    impl NormOps for LibTorch {
        fn norm_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            layout: NormLayout,
            eps: f64,
        ) -> NormForward<Self> {
            if let Some(norm) = aten_norm(layout) {
                match aten::forward(norm, &x.tensor, &weight.tensor, &bias.tensor, eps) {
                    Ok((output, mean, invstd)) => {
                        return NormForward {
                            output: TchTensor::new(output),
                            mean: TchTensor::new(mean),
                            invstd: TchTensor::new(invstd),
                        };
                    }
                    Err(error) => {
                        tracing::debug!("{norm:?} forward: {error}; using the composed path")
                    }
                }
            }
            composed::forward::<Self>(x, weight, bias, layout, eps)
        }

        fn norm_backward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            mean: FloatTensor<Self>,
            invstd: FloatTensor<Self>,
            grad_output: FloatTensor<Self>,
            layout: NormLayout,
            eps: f64,
        ) -> NormBackward<Self> {
            if let Some(norm) = aten_norm(layout) {
                match aten::backward(
                    norm,
                    &x.tensor,
                    &weight.tensor,
                    &mean.tensor,
                    &invstd.tensor,
                    &grad_output.tensor,
                    eps,
                ) {
                    Ok((dx, dw, db)) => {
                        return NormBackward {
                            grad_input: TchTensor::new(dx),
                            grad_weight: TchTensor::new(dw),
                            grad_bias: TchTensor::new(db),
                        };
                    }
                    Err(error) => {
                        tracing::debug!("{norm:?} backward: {error}; using the composed path")
                    }
                }
            }
            composed::backward::<Self>(x, weight, mean, invstd, grad_output, layout)
        }

        fn channel_affine(
            x: FloatTensor<Self>,
            scale: FloatTensor<Self>,
            shift: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            TchTensor::new(aten::channel_affine(
                &x.tensor,
                &scale.tensor,
                &shift.tensor,
            ))
        }
    }
}

/// CubeBackend (wgpu, and every CubeCL runtime): normscope-wgpu's kernels for f32, the composed
/// path otherwise. burn's `Cube` devices (`Fusion<CubeBackend>`) reach these through the
/// extension's fusion selector, one custom operation each way.
#[cfg(feature = "wgpu")]
#[doc(hidden)]
pub use cube::cube_kernel_launches;

#[cfg(feature = "wgpu")]
mod cube {
    use super::super::Affine;
    use super::*;
    use burn::backend::TensorMetadata;
    use burn::backend::wgpu::CubeBackend;
    use burn::tensor::Shape;
    use normscope_wgpu::{AffineGrads, AffineIndex, View};

    /// How many normalization operations ran on normscope-wgpu's CubeCL kernels so far: a test
    /// hook (`tests/cubecl.rs`), hidden from the documentation.
    #[doc(hidden)]
    pub fn cube_kernel_launches() -> usize {
        normscope_wgpu::launches()
    }

    /// The kernels' views of `layout` on `shape`, or `None` for a layout no layer uses.
    fn views(layout: NormLayout, shape: &Shape) -> Option<(View, AffineIndex, AffineGrads)> {
        if shape.num_dims() < 2 || shape.num_elements() == 0 {
            return None;
        }
        let (n, c) = (shape[0], shape[1]);
        let numel = shape.num_elements();
        let spatial = numel / (n * c);
        let s = layout.view(shape);
        let stats = View {
            outer: s.outer,
            groups: s.groups,
            inner: s.inner,
        };
        match (layout.statistics, layout.affine) {
            (Statistics::PerChannel, Affine::PerChannel) => Some((
                stats,
                AffineIndex {
                    div: spatial,
                    modulo: c,
                },
                AffineGrads::SameAsStatistics,
            )),
            (Statistics::PerGroup(_), Affine::PerChannel) => Some((
                stats,
                AffineIndex {
                    div: spatial,
                    modulo: c,
                },
                AffineGrads::Separate(View {
                    outer: n,
                    groups: c,
                    inner: spatial,
                }),
            )),
            (Statistics::PerGroup(_), Affine::PerElement) => Some((
                stats,
                AffineIndex {
                    div: 1,
                    modulo: numel / n,
                },
                AffineGrads::Separate(View {
                    outer: n,
                    groups: numel / n,
                    inner: 1,
                }),
            )),
            (Statistics::PerChannel, Affine::PerElement) => None,
        }
    }

    impl NormOps for CubeBackend {
        fn norm_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            layout: NormLayout,
            eps: f64,
        ) -> NormForward<Self> {
            if let Some((stats, affine, _)) = views(layout, &x.shape())
                && let Some((output, mean, invstd)) = normscope_wgpu::norm_forward(
                    x.clone(),
                    weight.clone(),
                    bias.clone(),
                    stats,
                    affine,
                    layout.centered,
                    eps,
                )
            {
                return NormForward {
                    output,
                    mean,
                    invstd,
                };
            }
            composed::forward::<Self>(x, weight, bias, layout, eps)
        }

        fn norm_backward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            mean: FloatTensor<Self>,
            invstd: FloatTensor<Self>,
            grad_output: FloatTensor<Self>,
            layout: NormLayout,
            _eps: f64,
        ) -> NormBackward<Self> {
            if let Some((stats, affine, grads)) = views(layout, &x.shape())
                && let Some((grad_input, grad_weight, grad_bias)) = normscope_wgpu::norm_backward(
                    x.clone(),
                    weight.clone(),
                    mean.clone(),
                    invstd.clone(),
                    grad_output.clone(),
                    stats,
                    affine,
                    grads,
                    layout.centered,
                )
            {
                return NormBackward {
                    grad_input,
                    grad_weight,
                    grad_bias,
                };
            }
            composed::backward::<Self>(x, weight, mean, invstd, grad_output, layout)
        }

        fn channel_affine(
            x: FloatTensor<Self>,
            scale: FloatTensor<Self>,
            shift: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            match normscope_wgpu::channel_affine(x.clone(), scale.clone(), shift.clone()) {
                Some(output) => output,
                None => composed::channel_affine::<Self>(x, scale, shift),
            }
        }
    }
}
