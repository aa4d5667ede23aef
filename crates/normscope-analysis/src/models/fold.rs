//! Folding every normalizer that directly follows a convolution or dense layer into it, for
//! inference: in eval mode a normalizer with running statistics is one affine map per channel
//! ([`ChannelAffine`]), which the weights and bias before it absorb (PyTorch's
//! `torch.nn.utils.fusion.fuse_conv_bn_eval`). The folded normalizer becomes
//! [`Norm::Identity`]; the folded network computes the unfolded one's eval-mode output, in
//! either [`Mode`](normscope_core::Mode) (it no longer has batch statistics to use).
//!
//! Where each model folds: VGG — every convolution's normalizer; MLP — every hidden layer's
//! normalizer when it sits before the activation (after it, the nonlinearity is in between);
//! pre-activation ResNet — each block's second normalizer into its first convolution (the first
//! normalizer and the one before the classifier follow a residual sum, not a layer, and stay).
//! A normalizer without running statistics (LayerNorm, GroupNorm, …) is no fixed map and stays.

use burn::module::Param;
use burn::tensor::Tensor;
use normscope_core::{ChannelAffine, Identity, Norm, NormError};

use super::layers::{Conv, Dense};
use super::mlp::{Mlp, NormPosition};
use super::network::Network;
use super::resnet::ResNet;
use super::vgg::Vgg;

/// The eval-mode map of `norm`, or `None` when it has none (no running statistics).
fn eval_map(norm: &Norm) -> Result<Option<ChannelAffine>, NormError> {
    match norm.eval_affine() {
        Ok(affine) => Ok(Some(affine)),
        Err(NormError::NoRunningStatistics { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Folds `norm` into `layer` with `fold` when it has an eval-mode map; leaves both otherwise.
fn fold_into<L>(
    layer: L,
    norm: Norm,
    fold: impl FnOnce(L, &ChannelAffine) -> Result<L, NormError>,
) -> Result<(L, Norm), NormError> {
    match eval_map(&norm)? {
        Some(affine) => Ok((fold(layer, &affine)?, Norm::Identity(Identity))),
        None => Ok((layer, norm)),
    }
}

/// A folded bias as a parameter: the existing one's id when there was one.
fn bias_param(old: Option<Param<Tensor<1>>>, bias: Tensor<1>) -> Param<Tensor<1>> {
    match old {
        Some(param) => param.map(|_| bias.detach()),
        None => Param::from_tensor(bias.detach()),
    }
}

impl Conv {
    /// The convolution followed by `affine` as one convolution: weight (standardized first
    /// when Scaled WS is on, which the folded layer then drops) and bias scaled and shifted per
    /// output channel. [`NormError::FoldShapeMismatch`] when the channels differ.
    pub fn fold(self, affine: &ChannelAffine) -> Result<Conv, NormError> {
        let weight = self.effective_weight().detach();
        let (weight, bias) =
            affine.fold_into_conv(weight, self.bias.as_ref().map(|b| b.val().detach()))?;
        Ok(Conv {
            weight: self.weight.map(|_| weight.detach()),
            bias: Some(bias_param(self.bias, bias)),
            ws_gain: None,
            ..self
        })
    }
}

impl Dense {
    /// The layer followed by `affine` as one layer (`W[:, j]` and `b[j]` scaled, `b` shifted).
    /// [`NormError::FoldShapeMismatch`] when the features differ.
    pub fn fold(self, affine: &ChannelAffine) -> Result<Dense, NormError> {
        let (weight, bias) = affine.fold_into_linear(
            self.weight.val().detach(),
            self.bias.as_ref().map(|b| b.val().detach()),
        )?;
        Ok(Dense {
            weight: self.weight.map(|_| weight.detach()),
            bias: Some(bias_param(self.bias, bias)),
        })
    }
}

impl Vgg {
    /// Every convolution with its normalizer folded in (see [`Network::fold_norms`]).
    pub fn fold_norms(mut self) -> Result<Vgg, NormError> {
        for layer in &mut self.layers {
            let (conv, norm) = fold_into(layer.conv.clone(), layer.norm.clone(), Conv::fold)?;
            (layer.conv, layer.norm) = (conv, norm);
        }
        Ok(self)
    }
}

impl Mlp {
    /// Every hidden layer with its normalizer folded in, when the normalizer sits before the
    /// activation; unchanged otherwise.
    pub fn fold_norms(mut self) -> Result<Mlp, NormError> {
        if self.position != NormPosition::BeforeActivation {
            return Ok(self);
        }
        for layer in &mut self.layers {
            let (dense, norm) = fold_into(layer.dense.clone(), layer.norm.clone(), Dense::fold)?;
            (layer.dense, layer.norm) = (dense, norm);
        }
        Ok(self)
    }
}

impl ResNet {
    /// Each block's second normalizer folded into its first convolution.
    pub fn fold_norms(mut self) -> Result<ResNet, NormError> {
        for block in &mut self.blocks {
            if let Some(norm) = block.norm2.clone() {
                let (conv, norm) = fold_into(block.conv1.clone(), norm, Conv::fold)?;
                (block.conv1, block.norm2) = (conv, Some(norm));
            }
        }
        Ok(self)
    }
}

impl Network {
    /// The network with every normalizer that directly follows a convolution or dense layer
    /// folded into it, for inference: in eval mode a normalizer with running statistics is one
    /// affine map per channel ([`Norm::eval_affine`]), which the weights and bias before it
    /// absorb (PyTorch's `fuse_conv_bn_eval`); the folded normalizer becomes
    /// [`Norm::Identity`]. The result computes this network's eval-mode output in either mode.
    ///
    /// What folds: VGG — every convolution's normalizer; MLP — every hidden layer's normalizer
    /// placed before the activation; pre-activation ResNet — each block's second normalizer
    /// into its first convolution (the first one and the one before the classifier follow a
    /// residual sum, not a layer, and stay). A normalizer without running statistics
    /// (LayerNorm, GroupNorm, …) is no fixed map and stays.
    pub fn fold_norms(self) -> Result<Network, NormError> {
        Ok(match self {
            Network::Mlp(m) => Network::Mlp(m.fold_norms()?),
            Network::Vgg(m) => Network::Vgg(m.fold_norms()?),
            Network::ResNet(m) => Network::ResNet(m.fold_norms()?),
        })
    }
}
