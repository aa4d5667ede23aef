//! GroupNorm (Wu & He 2018), with `torch.nn.GroupNorm`'s semantics.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use super::{init_affine, norm_config, param_or};
use crate::error::{check_channels, check_eps, check_features};
use crate::functional::{Kernel, normalize};
use crate::ops::NormLayout;
use crate::{Mode, NormError, Normalization};

const NAME: &str = "GroupNorm";

norm_config! {
    /// Configuration of [`GroupNorm`].
    pub struct GroupNormConfig {
        /// Number of channel groups; must divide the channel count. Default 32 (Wu & He 2018).
        groups / with_groups: usize = 32,
        /// Added to the variance inside the square root. Default 1e-5.
        eps / with_eps: f64 = 1e-5,
        /// Learnable per-channel `γ`, `β`. Default true.
        affine / with_affine: bool = true,
    }
}

impl GroupNormConfig {
    /// Checks the configuration without building a layer (`groups` is checked by `init`).
    pub fn validate(&self) -> Result<(), NormError> {
        check_eps(NAME, self.eps)
    }

    /// Builds a GroupNorm over `num_channels` channels.
    pub fn init(&self, num_channels: usize, device: &Device) -> Result<GroupNorm, NormError> {
        check_features(NAME, num_channels)?;
        if self.groups == 0 || !num_channels.is_multiple_of(self.groups) {
            return Err(NormError::GroupsDontDivide {
                layer: NAME,
                groups: self.groups,
                channels: num_channels,
            });
        }
        self.validate()?;
        let (weight, bias) = init_affine(num_channels, self.affine, device);
        Ok(GroupNorm {
            weight,
            bias,
            num_channels,
            groups: self.groups,
            eps: self.eps,
        })
    }
}

/// Group normalization (Wu & He 2018, arXiv:1803.08494): per sample, the channels are split into
/// `groups` groups and each group is normalized with the mean and biased variance of its
/// `C/groups · |S|` values; `γ`, `β` are per channel. `groups = 1` is LayerNorm with per-channel
/// affine, `groups = C` InstanceNorm. Mode makes no difference.
#[derive(Module, Debug)]
pub struct GroupNorm {
    /// `γ`, `[C]`.
    pub weight: Option<Param<Tensor<1>>>,
    /// `β`, `[C]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Channel count.
    pub num_channels: usize,
    /// Group count.
    pub groups: usize,
    /// Variance epsilon.
    pub eps: f64,
}

impl Normalization for GroupNorm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        _mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        check_channels(NAME, &x.dims(), self.num_channels)?;
        let device = x.device();
        let weight = param_or(&self.weight, self.num_channels, 1.0, &device);
        let bias = param_or(&self.bias, self.num_channels, 0.0, &device);
        let layout = NormLayout::group(self.groups);
        Ok(normalize(x, weight, bias, layout, self.eps, Kernel::Fused).output)
    }
}
