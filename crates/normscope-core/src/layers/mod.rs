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
mod noisy_batch_norm;
mod rms_norm;
mod variance_only;

pub use batch_norm::{BatchNorm, BatchNormConfig};
pub use batch_renorm::{BatchRenorm, BatchRenormConfig};
pub use ghost_batch_norm::{GhostBatchNorm, GhostBatchNormConfig};
pub use group_norm::{GroupNorm, GroupNormConfig};
pub use identity::Identity;
pub use instance_norm::{InstanceNorm, InstanceNormConfig};
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use lp_batch_norm::{LpBatchNorm, LpBatchNormConfig, LpOrder};
pub use mean_only::{MeanOnly, MeanOnlyConfig};
pub use noisy_batch_norm::{NoisyBatchNorm, NoisyBatchNormConfig};
pub use rms_norm::{RmsNorm, RmsNormConfig};
pub use variance_only::{VarianceOnly, VarianceOnlyConfig};

use burn::module::{Param, RunningState};
use burn::tensor::{Device, Tensor};

/// Declares a layer configuration: a serde struct (unknown keys are an error, missing keys take
/// their defaults), its `Default`, `new()` and one `with_*` builder per field.
macro_rules! norm_config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident / $setter:ident : $ty:ty = $default:expr,
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
                pub fn $setter(mut self, $field: $ty) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}
pub(crate) use norm_config;

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

/// Running mean `0` and running variance `1` of length `len` (PyTorch's initial values) when
/// `track`, else no running statistics.
pub(crate) fn init_running(
    len: usize,
    track: bool,
    device: &Device,
) -> (
    Option<RunningState<Tensor<1>>>,
    Option<RunningState<Tensor<1>>>,
) {
    if track {
        (
            Some(running(Tensor::zeros([len], device))),
            Some(running(Tensor::ones([len], device))),
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

/// A running statistic with PyTorch's update `new = (1 − m)·old + m·batch`.
pub(crate) fn running(value: Tensor<1>) -> RunningState<Tensor<1>> {
    RunningState::new(value)
}

/// Applies PyTorch's momentum update to `state` with the (detached) batch statistic.
pub(crate) fn update_running(state: &RunningState<Tensor<1>>, batch: Tensor<1>, momentum: f64) {
    let old = state.value_sync();
    let batch = batch.detach().to_device(&old.device());
    let new = old
        .mul_scalar(1.0 - momentum)
        .add(batch.mul_scalar(momentum));
    state.update(new.detach());
}

/// The current value of a running statistic on `device`.
pub(crate) fn running_value(state: &RunningState<Tensor<1>>, device: &Device) -> Tensor<1> {
    state.value_sync().to_device(device)
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

/// Eval-mode BatchNorm from running statistics, folded into one per-channel affine map:
/// `scale = γ/√(σ²_run + ε)`, `shift = β − μ_run · scale`.
pub(crate) fn running_affine<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<1>,
    bias: Tensor<1>,
    mean: Tensor<1>,
    var: Tensor<1>,
    eps: f64,
) -> Tensor<D> {
    let scale = weight.mul(var.add_scalar(eps).sqrt().recip());
    let shift = bias.sub(mean.mul(scale.clone()));
    crate::functional::channel_affine(x, scale, shift, crate::functional::Kernel::Fused)
}
