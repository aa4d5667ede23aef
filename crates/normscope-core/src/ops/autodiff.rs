//! [`NormOps`] under autodiff: one graph node per normalization whose backward is the backend's
//! closed-form [`NormOps::norm_backward`] (a fused kernel where the backend has one).

use burn::backend::autodiff::{
    Autodiff, NodeId,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{AutodiffBackend, Backend, tensor::FloatTensor};

use super::{NormBackward, NormForward, NormLayout, NormOps, composed};

#[derive(Debug)]
struct NormForwardBackward;

impl<B: Backend + NormOps> Backward<B, 3> for NormForwardBackward {
    /// Checkpointed input and weight, the saved statistics, the layout.
    type State = (
        NodeId,
        NodeId,
        FloatTensor<B>,
        FloatTensor<B>,
        NormLayout,
        f64,
    );

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, mean, invstd, layout, eps) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);

        let result = B::norm_backward(x, weight, mean, invstd, grad, layout, eps);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, result.grad_input);
        }
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, result.grad_weight);
        }
        if let Some(node) = node_bias {
            grads.register::<B>(node.id, result.grad_bias);
        }
    }
}

#[derive(Debug)]
struct ChannelAffineBackward;

impl<B: Backend> Backward<B, 3> for ChannelAffineBackward {
    type State = (NodeId, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_scale, node_shift] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, scale_state) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let scale = checkpointer.retrieve_node_output::<FloatTensor<B>>(scale_state);

        let (grad_x, grad_scale, grad_shift) =
            composed::channel_affine_backward::<B>(x, scale, grad);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, grad_x);
        }
        if let Some(node) = node_scale {
            grads.register::<B>(node.id, grad_scale);
        }
        if let Some(node) = node_shift {
            grads.register::<B>(node.id, grad_shift);
        }
    }
}

impl<B: Backend + NormOps, C: CheckpointStrategy> NormOps for Autodiff<B, C> {
    fn norm_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        layout: NormLayout,
        eps: f64,
    ) -> NormForward<Self> {
        let lift = <Self as AutodiffBackend>::from_inner;
        match NormForwardBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let result = B::norm_forward(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    layout,
                    eps,
                );
                let output = prep.finish(
                    (
                        x_state,
                        weight_state,
                        result.mean.clone(),
                        result.invstd.clone(),
                        layout,
                        eps,
                    ),
                    result.output,
                );
                NormForward {
                    output,
                    mean: lift(result.mean),
                    invstd: lift(result.invstd),
                }
            }
            OpsKind::UnTracked(prep) => {
                let result = B::norm_forward(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    layout,
                    eps,
                );
                NormForward {
                    output: prep.finish(result.output),
                    mean: lift(result.mean),
                    invstd: lift(result.invstd),
                }
            }
        }
    }

    /// The gradient itself is computed on the inner backend and returned untracked: burn has no
    /// double backward, so it is not differentiated again.
    fn norm_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        invstd: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        layout: NormLayout,
        eps: f64,
    ) -> NormBackward<Self> {
        let lift = <Self as AutodiffBackend>::from_inner;
        let result = B::norm_backward(
            x.into_primitive(),
            weight.into_primitive(),
            mean.into_primitive(),
            invstd.into_primitive(),
            grad_output.into_primitive(),
            layout,
            eps,
        );
        NormBackward {
            grad_input: lift(result.grad_input),
            grad_weight: lift(result.grad_weight),
            grad_bias: lift(result.grad_bias),
        }
    }

    fn channel_affine(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match ChannelAffineBackward
            .prepare::<C>([x.node(), scale.node(), shift.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let scale_state = prep.checkpoint(&scale);
                let output = B::channel_affine(
                    x.into_primitive(),
                    scale.into_primitive(),
                    shift.into_primitive(),
                );
                prep.finish((x_state, scale_state), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::channel_affine(
                x.into_primitive(),
                scale.into_primitive(),
                shift.into_primitive(),
            )),
        }
    }
}
