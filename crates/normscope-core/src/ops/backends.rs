//! Which backend runs which implementation of [`NormOps`].

#[allow(unused_imports)]
use super::{NormBackward, NormForward, NormLayout, NormOps, Statistics, composed};
#[allow(unused_imports)]
use burn::backend::tensor::FloatTensor;

/// NdArray: normscope-ndarray's fused CPU kernels (f32 and f64; other dtypes take the composed
/// path).
#[cfg(feature = "ndarray")]
mod ndarray {
    use super::*;
    use burn::backend::NdArray;
    use normscope_ndarray::{GroupLayout, Statistics as KernelStatistics};

    fn statistics(layout: NormLayout) -> KernelStatistics {
        match layout.statistics {
            Statistics::PerChannel => KernelStatistics::PerChannel {
                centered: layout.centered,
            },
            Statistics::PerGroup(groups) => KernelStatistics::PerGroup(GroupLayout {
                groups,
                centered: layout.centered,
                per_element: layout.affine == super::super::Affine::PerElement,
            }),
        }
    }

    impl NormOps for NdArray {
        fn norm_forward(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            bias: FloatTensor<Self>,
            layout: NormLayout,
            eps: f64,
        ) -> NormForward<Self> {
            // Per-channel statistics with a per-element affine is no layer of ours.
            if layout.statistics == Statistics::PerChannel
                && layout.affine == super::super::Affine::PerElement
            {
                return composed::forward::<Self>(x, weight, bias, layout, eps);
            }
            match normscope_ndarray::norm_forward(&x, &weight, &bias, statistics(layout), eps) {
                Some((output, mean, invstd)) => NormForward {
                    output,
                    mean,
                    invstd,
                },
                None => composed::forward::<Self>(x, weight, bias, layout, eps),
            }
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
            if layout.statistics == Statistics::PerChannel
                && layout.affine == super::super::Affine::PerElement
            {
                return composed::backward::<Self>(x, weight, mean, invstd, grad_output, layout);
            }
            match normscope_ndarray::norm_backward(
                &x,
                &weight,
                &mean,
                &invstd,
                &grad_output,
                statistics(layout),
            ) {
                Some((grad_input, grad_weight, grad_bias)) => NormBackward {
                    grad_input,
                    grad_weight,
                    grad_bias,
                },
                None => composed::backward::<Self>(x, weight, mean, invstd, grad_output, layout),
            }
        }

        fn channel_affine(
            x: FloatTensor<Self>,
            scale: FloatTensor<Self>,
            shift: FloatTensor<Self>,
        ) -> FloatTensor<Self> {
            match normscope_ndarray::channel_affine(&x, &scale, &shift) {
                Some(output) => output,
                None => composed::channel_affine::<Self>(x, scale, shift),
            }
        }
    }
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

#[cfg(feature = "wgpu")]
impl NormOps for burn::backend::wgpu::CubeBackend {}
