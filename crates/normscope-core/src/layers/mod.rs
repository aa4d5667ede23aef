//! The normalizers, one file each, each with its `Config` beside it.

mod batch_norm;
mod batch_renorm;
mod ghost_batch_norm;
mod group_norm;
mod identity;
mod instance_norm;
mod layer_norm;
mod lp_batch_norm;
mod mean_only;
mod noise_only;
mod noisy_batch_norm;
mod rms_norm;
mod variance_only;

pub use batch_norm::{BatchNorm, BatchNormConfig};
pub(crate) use batch_norm::{FOLD, FREEZE, wraps_batch_norm};
pub use batch_renorm::{BatchRenorm, BatchRenormConfig};
pub use ghost_batch_norm::{GhostBatchNorm, GhostBatchNormConfig};
pub use group_norm::{GroupNorm, GroupNormConfig};
pub use identity::Identity;
pub use instance_norm::{InstanceNorm, InstanceNormConfig};
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use lp_batch_norm::{LpBatchNorm, LpBatchNormConfig, LpOrder};
pub use mean_only::{MeanOnly, MeanOnlyConfig};
pub use noise_only::{NoiseOnly, NoiseOnlyConfig};
pub use noisy_batch_norm::{NoisyBatchNorm, NoisyBatchNormConfig};
pub use rms_norm::{RmsNorm, RmsNormConfig};
pub use variance_only::{VarianceOnly, VarianceOnlyConfig};

use burn::module::Param;
use burn::tensor::{Device, Tensor};

/// Declares a layer configuration: a serde struct (unknown keys are an error, missing keys take
/// their defaults), its `Default`, `new()` and one `with_*` builder per field. A field declared
/// `name / with_name: Type as impl Into<Type> = default` gets a builder taking the `as` type.
macro_rules! norm_config {
    (@arg $ty:ty) => { $ty };
    (@arg $ty:ty, $arg:ty) => { $arg };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident / $setter:ident : $ty:ty $(as $arg:ty)? = $default:expr,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl $name {
            /// The configuration with every field at its default.
            pub fn new() -> Self {
                Self::default()
            }

            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                #[allow(clippy::useless_conversion)]
                pub fn $setter(mut self, $field: norm_config!(@arg $ty $(, $arg)?)) -> Self {
                    self.$field = $field.into();
                    self
                }
            )*
        }
    };
}
pub(crate) use norm_config;

/// The fold and freeze methods of a layer that always keeps running statistics, given its
/// `affine_on(&self, &Device) -> ChannelAffine` (the eval-mode map), a running-state field
/// (`$state`, whose device the map is built on) and its `training` flag.
macro_rules! always_tracked {
    ($layer:ident, $state:ident) => {
        impl $layer {
            /// The eval-mode output as one affine map per channel, to fold into the convolution
            /// or linear layer before it ([`crate::fold`]).
            pub fn eval_affine(&self) -> Result<$crate::fold::ChannelAffine, NormError> {
                Ok(self.affine_on(&self.$state.value_sync().device()))
            }

            /// The layer with its statistics frozen: train mode normalizes with the running
            /// statistics and leaves them unchanged (see
            /// [`BatchNorm::freeze_statistics`](crate::BatchNorm::freeze_statistics)).
            pub fn freeze_statistics(mut self) -> Result<Self, NormError> {
                self.training = self.training.with_value(false);
                Ok(self)
            }

            #[doc = concat!("Undoes [`", stringify!($layer), "::freeze_statistics`].")]
            pub fn unfreeze_statistics(mut self) -> Result<Self, NormError> {
                self.training = self.training.with_value(true);
                Ok(self)
            }

            /// Whether the statistics are frozen.
            pub fn statistics_frozen(&self) -> bool {
                !self.training.is_enabled()
            }
        }
    };
}
pub(crate) use always_tracked;

/// `γ = 1`, `β = 0` of length `len` when `affine`, else no parameters.
pub(crate) fn init_affine(
    len: usize,
    affine: bool,
    device: &Device,
) -> (Option<Param<Tensor<1>>>, Option<Param<Tensor<1>>>) {
    if affine {
        (
            Some(Param::from_tensor(Tensor::ones([len], device))),
            Some(Param::from_tensor(Tensor::zeros([len], device))),
        )
    } else {
        (None, None)
    }
}

/// The parameter's value, or a constant `value` of length `len` when the layer has none.
pub(crate) fn param_or(
    param: &Option<Param<Tensor<1>>>,
    len: usize,
    value: f32,
    device: &Device,
) -> Tensor<1> {
    match param {
        Some(param) => param.val(),
        None => Tensor::full([len], value, device),
    }
}

/// Biased variance from the saved inverse standard deviation: `σ² = invstd⁻² − ε`.
pub(crate) fn variance_from_invstd(invstd: Tensor<1>, eps: f64) -> Tensor<1> {
    invstd
        .clone()
        .mul(invstd)
        .recip()
        .sub_scalar(eps)
        .clamp_min(0.0)
}
