//! Folding a normalizer into the weight layer before it, for inference.
//!
//! In eval mode every normalizer that keeps running statistics is one affine map per channel,
//! `y = scale ⊙ x + shift` ([`ChannelAffine`]; `scale = γ/√(σ²_run + ε)`,
//! `shift = β − μ_run · scale` for BatchNorm). After a convolution or a linear layer
//! `z = W ⋆ x + b` the pair is one layer again: `W'[o] = scale[o] · W[o]`,
//! `b' = scale ⊙ b + shift` — PyTorch's `torch.nn.utils.fusion.fuse_conv_bn_weights` /
//! `fuse_linear_bn_weights`, which [`fuse_conv_bn_weights`] and [`fuse_linear_bn_weights`]
//! mirror argument for argument. Get a layer's map with `eval_affine()` (on [`Norm`](crate::Norm)
//! and every layer with running statistics), then fold it with
//! [`ChannelAffine::fold_into_conv`] or [`ChannelAffine::fold_into_linear`].
//!
//! The folded layer computes the eval-mode output (up to rounding: one multiply moves into the
//! weights); it does not normalize with batch statistics any more, so fold only for inference.

use burn::tensor::Tensor;

use crate::error::check_eps;
use crate::functional::{Kernel, channel_affine};
use crate::{NormError, Result};

/// A normalizer's eval-mode output as one affine map per channel (channel axis 1 of
/// `[N, C, ...]`): `y = scale ⊙ x + shift`, `scale` and `shift` of shape `[C]`.
#[derive(Debug, Clone)]
pub struct ChannelAffine {
    /// The normalizer it came from, for errors (`"BatchNorm"`).
    pub layer: &'static str,
    /// Per-channel factor, `[C]`.
    pub scale: Tensor<1>,
    /// Per-channel offset, `[C]`.
    pub shift: Tensor<1>,
}

impl ChannelAffine {
    /// BatchNorm's eval-mode map from its statistics and parameters (PyTorch's names and
    /// order): `scale = γ/√(running_var + eps)`, `shift = β − running_mean · scale`; `γ = 1`,
    /// `β = 0` when absent. Every vector must have the running mean's length.
    pub fn from_statistics(
        running_mean: Tensor<1>,
        running_var: Tensor<1>,
        eps: f64,
        weight: Option<Tensor<1>>,
        bias: Option<Tensor<1>>,
    ) -> Result<Self> {
        const LAYER: &str = "BatchNorm";
        check_eps(LAYER, eps)?;
        let [c] = running_mean.dims();
        let device = running_mean.device();
        let check = |what, t: &Tensor<1>| match t.dims() {
            [len] if len == c => Ok(()),
            shape => Err(NormError::FoldShapeMismatch {
                layer: LAYER,
                what,
                expected: c,
                shape: shape.to_vec(),
            }),
        };
        check("a running_var", &running_var)?;
        let weight = match weight {
            Some(w) => {
                check("a weight (γ)", &w)?;
                w.to_device(&device)
            }
            None => Tensor::ones([c], &device),
        };
        let bias = match bias {
            Some(b) => {
                check("a bias (β)", &b)?;
                b.to_device(&device)
            }
            None => Tensor::zeros([c], &device),
        };
        let scale = weight.mul(
            running_var
                .to_device(&device)
                .add_scalar(eps)
                .sqrt()
                .recip(),
        );
        let shift = bias.sub(running_mean.mul(scale.clone()));
        Ok(ChannelAffine {
            layer: LAYER,
            scale,
            shift,
        })
    }

    /// The same map, reported as `layer`'s in errors.
    pub(crate) fn named(mut self, layer: &'static str) -> Self {
        self.layer = layer;
        self
    }

    /// The channel count `C`.
    pub fn channels(&self) -> usize {
        self.scale.dims()[0]
    }

    /// Applies the map to `x` (`[N, C, ...]`) through the backend's fused per-channel kernel.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let device = x.device();
        channel_affine(
            x,
            self.scale.clone().to_device(&device),
            self.shift.clone().to_device(&device),
            Kernel::Fused,
        )
    }

    /// Folds the map into the convolution before it: `weight` is `[C_out, C_in/groups, k...]`
    /// (burn's `Conv1d/2d/3d` and PyTorch's layout) with `C_out = C`, `bias` `[C_out]` or none.
    /// Returns the folded `(weight, bias)` on the weight's device: `conv(x, W', b') =
    /// scale ⊙ conv(x, W, b) + shift`.
    pub fn fold_into_conv<const D: usize>(
        &self,
        weight: Tensor<D>,
        bias: Option<Tensor<1>>,
    ) -> Result<(Tensor<D>, Tensor<1>)> {
        let dims = weight.dims();
        let c = self.channels();
        if D < 2 || dims[0] != c {
            return Err(self.mismatch("a conv weight [C_out, C_in, k...]", dims.to_vec()));
        }
        let (scale, shift) = self.on(&weight.device());
        let bias = self.bias_or_zeros(bias, &weight.device())?;
        let mut shape = [1usize; D];
        shape[0] = c;
        Ok((
            weight.mul(scale.clone().reshape(shape)),
            bias.mul(scale).add(shift),
        ))
    }

    /// Folds the map into the linear layer before it: `weight` is `[d_in, d_out]` (burn's
    /// `Linear` and normscope's `Dense`, `y = x W + b`; PyTorch's `nn.Linear` stores the
    /// transpose) with `d_out = C`, `bias` `[d_out]` or none. Returns the folded
    /// `(weight, bias)`: `x W' + b' = scale ⊙ (x W + b) + shift`.
    pub fn fold_into_linear(
        &self,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [d_in, d_out] = weight.dims();
        if d_out != self.channels() {
            return Err(self.mismatch("a linear weight [d_in, d_out]", vec![d_in, d_out]));
        }
        let (scale, shift) = self.on(&weight.device());
        let bias = self.bias_or_zeros(bias, &weight.device())?;
        Ok((
            weight.mul(scale.clone().unsqueeze_dim(0)),
            bias.mul(scale).add(shift),
        ))
    }

    fn on(&self, device: &burn::tensor::Device) -> (Tensor<1>, Tensor<1>) {
        (
            self.scale.clone().to_device(device),
            self.shift.clone().to_device(device),
        )
    }

    fn bias_or_zeros(
        &self,
        bias: Option<Tensor<1>>,
        device: &burn::tensor::Device,
    ) -> Result<Tensor<1>> {
        match bias {
            None => Ok(Tensor::zeros([self.channels()], device)),
            Some(b) if b.dims() == [self.channels()] => Ok(b.to_device(device)),
            Some(b) => Err(self.mismatch("a bias [C_out]", b.dims().to_vec())),
        }
    }

    fn mismatch(&self, what: &'static str, shape: Vec<usize>) -> NormError {
        NormError::FoldShapeMismatch {
            layer: self.layer,
            what,
            expected: self.channels(),
            shape,
        }
    }
}

/// PyTorch's `torch.nn.utils.fusion.fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps,
/// bn_w, bn_b)` for users' own layers: the weight `[C_out, C_in/groups, k...]` and bias
/// `[C_out]` of a convolution followed by a BatchNorm in eval mode with the given running
/// statistics, eps, `γ` and `β`, folded into one convolution. Errors when a shape does not
/// match `C_out` or `eps` is not positive.
pub fn fuse_conv_bn_weights<const D: usize>(
    conv_weight: Tensor<D>,
    conv_bias: Option<Tensor<1>>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    eps: f64,
    bn_weight: Option<Tensor<1>>,
    bn_bias: Option<Tensor<1>>,
) -> Result<(Tensor<D>, Tensor<1>)> {
    ChannelAffine::from_statistics(running_mean, running_var, eps, bn_weight, bn_bias)?
        .fold_into_conv(conv_weight, conv_bias)
}

/// PyTorch's `fuse_linear_bn_weights` for burn's layout: a linear layer `y = x W + b` with
/// `W: [d_in, d_out]` (burn's `Linear`; transpose a PyTorch `nn.Linear` weight first) followed
/// by a BatchNorm in eval mode over its `d_out` features, folded into one linear layer.
pub fn fuse_linear_bn_weights(
    linear_weight: Tensor<2>,
    linear_bias: Option<Tensor<1>>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    eps: f64,
    bn_weight: Option<Tensor<1>>,
    bn_bias: Option<Tensor<1>>,
) -> Result<(Tensor<2>, Tensor<1>)> {
    ChannelAffine::from_statistics(running_mean, running_var, eps, bn_weight, bn_bias)?
        .fold_into_linear(linear_weight, linear_bias)
}
