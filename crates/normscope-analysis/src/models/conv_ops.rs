//! The models' `k×k` "same" convolution as one backend operation with its own backward
//! ([`ConvOps`], a burn backend extension): on NdArray and Flex, normscope-cpu's im2col + GEMM
//! per sample (forward and backward); under autodiff, one graph node whose backward is
//! [`ConvOps::same_conv2d_backward`]. The default bodies are the backend's own convolution and
//! its two backward passes.
//!
//! burn-ndarray 0.22.1's own conv2d backward is a scalar loop, and the composition of burn ops
//! the models used before (im2col as burn ops: `k²` strided slices, a stack, a batched
//! matmul) spent most of a training step copying: each slice's backward builds a zero-filled
//! padded tensor, the matmul's backward re-lays its operands out (`docs/performance.md`,
//! "The training step").

use burn::backend::Dispatch;
use burn::backend::TensorMetadata;
use burn::backend::autodiff::{
    Autodiff, NodeId,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{
    AutodiffBackend, Backend, ExtensionType, backend_extension, tensor::FloatTensor,
};
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

/// `∂L/∂x` and `∂L/∂W` of a convolution.
#[derive(ExtensionType)]
pub struct ConvGrads<B: Backend> {
    /// `∂L/∂x`, `[N, C, H, W]`.
    pub grad_input: FloatTensor<B>,
    /// `∂L/∂W`, `[O, C, k, k]`.
    pub grad_weight: FloatTensor<B>,
}

/// burn's options of a "same" convolution: padding `⌊k/2⌋`, no dilation, one group.
fn options(k: usize, stride: usize) -> ConvOptions<2> {
    ConvOptions::new([stride; 2], [k / 2; 2], [1; 2], 1)
}

/// The models' convolution. See the module documentation.
#[backend_extension(NdArray: cfg(feature = "ndarray"), Flex: cfg(feature = "flex"), Autodiff)]
pub trait ConvOps: Backend {
    /// `x: [N, C, H, W]` ⊛ `weight: [O, C, k, k]` with padding `⌊k/2⌋` and `stride`, no bias →
    /// `[N, O, ⌊(H + 2⌊k/2⌋ − k)/stride⌋ + 1, …]`.
    fn same_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
    ) -> FloatTensor<Self> {
        backend_conv2d::<Self>(x, weight, stride)
    }

    /// `(∂L/∂x, ∂L/∂W)` of [`ConvOps::same_conv2d`] from the output gradient.
    fn same_conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
    ) -> ConvGrads<Self> {
        backend_conv2d_backward::<Self>(x, weight, grad, stride)
    }
}

/// The backend's own convolution with the models' padding and stride.
fn backend_conv2d<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    stride: usize,
) -> FloatTensor<B> {
    let k = weight.shape()[2];
    B::conv2d(x, weight, None, options(k, stride))
}

/// The backend's own two backward passes of [`backend_conv2d`].
fn backend_conv2d_backward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    stride: usize,
) -> ConvGrads<B> {
    let o = options(weight.shape()[2], stride);
    ConvGrads {
        grad_input: B::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), o.clone()),
        grad_weight: B::conv2d_weight_backward(x, weight, grad, o),
    }
}

/// `impl ConvOps` for a CPU backend (NdArray, Flex): normscope-cpu's im2col + GEMM, through the
/// backend's tensor type; dtypes other than f32 and f64 take the backend's own convolution.
#[cfg(any(feature = "ndarray", feature = "flex"))]
macro_rules! cpu_conv_ops {
    ($backend:ty) => {
        impl ConvOps for $backend {
            fn same_conv2d(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                stride: usize,
            ) -> FloatTensor<Self> {
                match normscope_cpu::conv::conv2d(&x, &weight, stride) {
                    Some(y) => y,
                    None => backend_conv2d::<Self>(x, weight, stride),
                }
            }

            fn same_conv2d_backward(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                stride: usize,
            ) -> ConvGrads<Self> {
                match normscope_cpu::conv::conv2d_backward(&x, &weight, &grad, stride) {
                    Some((grad_input, grad_weight)) => ConvGrads {
                        grad_input,
                        grad_weight,
                    },
                    None => backend_conv2d_backward::<Self>(x, weight, grad, stride),
                }
            }
        }
    };
}

#[cfg(feature = "ndarray")]
cpu_conv_ops!(burn::backend::NdArray);

#[cfg(feature = "flex")]
cpu_conv_ops!(burn::backend::Flex);

#[derive(Debug)]
struct SameConvBackward;

impl<B: Backend + ConvOps> Backward<B, 2> for SameConvBackward {
    /// Checkpointed input and weight, the stride.
    type State = (NodeId, NodeId, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, stride) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        let result = B::same_conv2d_backward(x, weight, grad, stride);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, result.grad_input);
        }
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, result.grad_weight);
        }
    }
}

impl<B: Backend + ConvOps, C: CheckpointStrategy> ConvOps for Autodiff<B, C> {
    fn same_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
    ) -> FloatTensor<Self> {
        match SameConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let y = B::same_conv2d(x.into_primitive(), weight.into_primitive(), stride);
                prep.finish((x_state, weight_state, stride), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::same_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                stride,
            )),
        }
    }

    /// Computed on the inner backend and returned untracked (burn has no double backward).
    fn same_conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        stride: usize,
    ) -> ConvGrads<Self> {
        let lift = <Self as AutodiffBackend>::from_inner;
        let result = B::same_conv2d_backward(
            x.into_primitive(),
            weight.into_primitive(),
            grad.into_primitive(),
            stride,
        );
        ConvGrads {
            grad_input: lift(result.grad_input),
            grad_weight: lift(result.grad_weight),
        }
    }
}

/// [`ConvOps::same_conv2d`] on tensors: `x: [N, C, H, W]`, `weight: [O, C, k, k]`.
pub fn same_conv2d(x: Tensor<4>, weight: Tensor<4>, stride: usize) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ConvOps>::same_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        stride,
    ))
}
