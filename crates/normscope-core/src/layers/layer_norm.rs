//! LayerNorm (Ba, Kiros & Hinton 2016), with `torch.nn.LayerNorm`'s semantics.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use super::{norm_config, param_or};
use crate::error::check_eps;
use crate::functional::{Kernel, normalize};
use crate::ops::NormLayout;
use crate::{Mode, NormError, Normalization};

const NAME: &str = "LayerNorm";

norm_config! {
    /// Configuration of [`LayerNorm`]; the normalized shape comes from [`LayerNormConfig::init`].
    pub struct LayerNormConfig {
        /// Added to the variance inside the square root. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable `γ` (init 1) per normalized element. Default true.
        elementwise_affine / with_elementwise_affine: bool = true,
        /// Learnable `β` (init 0) per normalized element, when `elementwise_affine`. Default true.
        bias / with_bias: bool = true,
    }
}

/// Checks a normalized (per-sample) shape.
pub(crate) fn check_normalized_shape(
    layer: &'static str,
    shape: &[usize],
) -> Result<(), NormError> {
    if shape.is_empty() || shape.contains(&0) {
        Err(NormError::EmptyShape {
            layer,
            shape: shape.to_vec(),
        })
    } else {
        Ok(())
    }
}

/// Checks that an input is `[N, normalized_shape...]`.
pub(crate) fn check_sample_shape(
    layer: &'static str,
    dims: &[usize],
    normalized_shape: &[usize],
) -> Result<(), NormError> {
    if dims.len() < 2 {
        return Err(NormError::RankTooLow {
            layer,
            shape: dims.to_vec(),
        });
    }
    if dims[1..] != *normalized_shape || dims[0] == 0 {
        return Err(NormError::ShapeMismatch {
            layer,
            expected: normalized_shape.to_vec(),
            shape: dims.to_vec(),
        });
    }
    Ok(())
}

impl LayerNormConfig {
    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_eps(NAME, self.eps)
    }

    /// Builds a LayerNorm over samples of shape `normalized_shape` (`[C, ...]`: every dimension
    /// but the batch).
    pub fn init(
        &self,
        normalized_shape: &[usize],
        device: &Device,
    ) -> Result<LayerNorm, NormError> {
        check_normalized_shape(NAME, normalized_shape)?;
        self.validate()?;
        let len: usize = normalized_shape.iter().product();
        let weight = self
            .elementwise_affine
            .then(|| Param::from_tensor(Tensor::ones([len], device)));
        let bias = (self.elementwise_affine && self.bias)
            .then(|| Param::from_tensor(Tensor::zeros([len], device)));
        Ok(LayerNorm {
            weight,
            bias,
            normalized_shape: normalized_shape.to_vec(),
            eps: self.eps,
        })
    }
}

/// Layer normalization (Ba et al. 2016, arXiv:1607.06450) over every non-batch dimension:
/// `y = γ ⊙ (x − μ_n)/√(σ²_n + ε) + β` with per-sample statistics and `γ`, `β` per element of
/// the normalized shape, stored flattened. Mode makes no difference.
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// `γ`, flattened normalized shape.
    pub weight: Option<Param<Tensor<1>>>,
    /// `β`, flattened normalized shape.
    pub bias: Option<Param<Tensor<1>>>,
    /// Per-sample shape this layer normalizes.
    pub normalized_shape: Vec<usize>,
    /// Variance epsilon.
    pub eps: f64,
}

impl Normalization for LayerNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        _mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        check_sample_shape(NAME, &x.dims(), &self.normalized_shape)?;
        let device = x.device();
        let len: usize = self.normalized_shape.iter().product();
        let weight = param_or(&self.weight, len, 1.0, &device);
        let bias = param_or(&self.bias, len, 0.0, &device);
        Ok(normalize(x, weight, bias, NormLayout::LAYER, self.eps, Kernel::Fused).output)
    }
}
