//! RMSNorm (Zhang & Sennrich 2019), with `torch.nn.RMSNorm`'s semantics.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use super::layer_norm::{check_normalized_shape, check_sample_shape};
use super::{norm_config, param_or};
use crate::error::check_eps;
use crate::functional::{Kernel, normalize};
use crate::ops::NormLayout;
use crate::{Mode, NormError, Normalization};

const NAME: &str = "RmsNorm";

norm_config! {
    /// Configuration of [`RmsNorm`].
    pub struct RmsNormConfig {
        /// Added to the mean square; `None` means the f32 machine epsilon (≈ 1.19e-7), as
        /// `torch.nn.RMSNorm(eps=None)`. Default None.
        eps / with_eps: Option<f64> = None,
        /// Learnable `γ` (init 1) per normalized element. Default true.
        elementwise_affine / with_elementwise_affine: bool = true,
    }
}

impl RmsNormConfig {
    fn eps_value(&self) -> f64 {
        self.eps.unwrap_or(f32::EPSILON as f64)
    }

    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), NormError> {
        check_eps(NAME, self.eps_value())
    }

    /// Builds an RMSNorm over samples of shape `normalized_shape`.
    pub fn init(&self, normalized_shape: &[usize], device: &Device) -> Result<RmsNorm, NormError> {
        check_normalized_shape(NAME, normalized_shape)?;
        self.validate()?;
        let len: usize = normalized_shape.iter().product();
        Ok(RmsNorm {
            weight: self
                .elementwise_affine
                .then(|| Param::from_tensor(Tensor::ones([len], device))),
            normalized_shape: normalized_shape.to_vec(),
            eps: self.eps_value(),
        })
    }
}

/// Root-mean-square normalization (Zhang & Sennrich 2019, arXiv:1910.07467) over every non-batch
/// dimension: `y = γ ⊙ x/√(mean(x²) + ε)`, no centring, no bias. Mode makes no difference.
#[derive(Module, Debug)]
pub struct RmsNorm {
    /// `γ`, flattened normalized shape.
    pub weight: Option<Param<Tensor<1>>>,
    /// Per-sample shape this layer normalizes.
    pub normalized_shape: Vec<usize>,
    /// Mean-square epsilon.
    pub eps: f64,
}

impl Normalization for RmsNorm {
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
        let bias = Tensor::zeros([len], &device);
        Ok(normalize(x, weight, bias, NormLayout::RMS, self.eps, Kernel::Fused).output)
    }
}
