//! [`NormConfig`]: any normalizer by name and hyper-parameters, from TOML or JSON; and [`Norm`],
//! the module it builds.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::layers::*;
use crate::{Mode, NormError, Normalization};

/// Which normalizer to build, with its hyper-parameters; the feature count comes from the model
/// at [`NormConfig::init`].
///
/// Serialized as a table tagged by `kind` (snake case); every other key is optional and unknown
/// keys are an error:
///
/// ```toml
/// kind = "group_norm"
/// groups = 8
/// ```
///
/// Kinds: `identity`, `batch_norm`, `ghost_batch_norm`, `batch_renorm`, `layer_norm`,
/// `group_norm`, `instance_norm`, `rms_norm`, `lp_batch_norm`, `variance_only`, `mean_only`,
/// `noisy_batch_norm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NormConfig {
    /// No normalization.
    Identity,
    /// [`BatchNorm`].
    BatchNorm(BatchNormConfig),
    /// [`GhostBatchNorm`].
    GhostBatchNorm(GhostBatchNormConfig),
    /// [`BatchRenorm`].
    BatchRenorm(BatchRenormConfig),
    /// [`LayerNorm`].
    LayerNorm(LayerNormConfig),
    /// [`GroupNorm`].
    GroupNorm(GroupNormConfig),
    /// [`InstanceNorm`].
    InstanceNorm(InstanceNormConfig),
    /// [`RmsNorm`].
    RmsNorm(RmsNormConfig),
    /// [`LpBatchNorm`].
    LpBatchNorm(LpBatchNormConfig),
    /// [`VarianceOnly`].
    VarianceOnly(VarianceOnlyConfig),
    /// [`MeanOnly`].
    MeanOnly(MeanOnlyConfig),
    /// [`NoisyBatchNorm`].
    NoisyBatchNorm(NoisyBatchNormConfig),
}

impl Default for NormConfig {
    fn default() -> Self {
        NormConfig::BatchNorm(BatchNormConfig::default())
    }
}

impl NormConfig {
    /// The normalizer's name, as its layer reports it in errors (`"BatchNorm"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            NormConfig::Identity => "Identity",
            NormConfig::BatchNorm(_) => "BatchNorm",
            NormConfig::GhostBatchNorm(_) => "GhostBatchNorm",
            NormConfig::BatchRenorm(_) => "BatchRenorm",
            NormConfig::LayerNorm(_) => "LayerNorm",
            NormConfig::GroupNorm(_) => "GroupNorm",
            NormConfig::InstanceNorm(_) => "InstanceNorm",
            NormConfig::RmsNorm(_) => "RmsNorm",
            NormConfig::LpBatchNorm(_) => "LpBatchNorm",
            NormConfig::VarianceOnly(_) => "VarianceOnly",
            NormConfig::MeanOnly(_) => "MeanOnly",
            NormConfig::NoisyBatchNorm(_) => "NoisyBatchNorm",
        }
    }

    /// A short label with the distinguishing hyper-parameter, for tables and plots
    /// (`"GroupNorm(8)"`, `"LpBatchNorm(p=1)"`, `"GhostBatchNorm(16)"`).
    pub fn label(&self) -> String {
        match self {
            NormConfig::GroupNorm(c) => format!("GroupNorm({})", c.groups),
            NormConfig::GhostBatchNorm(c) => format!("GhostBatchNorm({})", c.virtual_batch_size),
            NormConfig::NoisyBatchNorm(c) if !c.normalize => "NoiseOnly".to_string(),
            NormConfig::LpBatchNorm(c) => format!(
                "LpBatchNorm(p={})",
                match c.p {
                    LpOrder::L1 => "1",
                    LpOrder::L2 => "2",
                    LpOrder::Inf => "inf",
                }
            ),
            other => other.name().to_string(),
        }
    }

    /// Whether the normalizer's training statistics are taken across the batch (so that train
    /// and eval differ and a batch of one value per channel is an error).
    pub fn uses_batch_statistics(&self) -> bool {
        match self {
            NormConfig::NoisyBatchNorm(c) => c.normalize,
            other => !matches!(
                other,
                NormConfig::Identity
                    | NormConfig::LayerNorm(_)
                    | NormConfig::GroupNorm(_)
                    | NormConfig::InstanceNorm(_)
                    | NormConfig::RmsNorm(_)
            ),
        }
    }

    /// Checks the hyper-parameters that do not depend on the feature count.
    pub fn validate(&self) -> Result<(), NormError> {
        match self {
            NormConfig::Identity => Ok(()),
            NormConfig::BatchNorm(c) => c.validate(),
            NormConfig::GhostBatchNorm(c) => c.validate(),
            NormConfig::BatchRenorm(c) => c.validate(),
            NormConfig::LayerNorm(c) => c.validate(),
            NormConfig::GroupNorm(c) => c.validate(),
            NormConfig::InstanceNorm(c) => c.validate(),
            NormConfig::RmsNorm(c) => c.validate(),
            NormConfig::LpBatchNorm(c) => c.validate(),
            NormConfig::VarianceOnly(c) => c.validate(),
            NormConfig::MeanOnly(c) => c.validate(),
            NormConfig::NoisyBatchNorm(c) => c.validate(),
        }
    }

    /// Builds the normalizer for samples of shape `sample_shape` = `[C, ...]` (the input is
    /// `[N, C, ...]`). Channel-wise normalizers use `C`; LayerNorm and RMSNorm normalize the
    /// whole sample shape.
    pub fn init(&self, sample_shape: &[usize], device: &Device) -> Result<Norm, NormError> {
        let channels = sample_shape.first().copied().unwrap_or(0);
        Ok(match self {
            NormConfig::Identity => Norm::Identity(Identity),
            NormConfig::BatchNorm(c) => Norm::BatchNorm(c.init(channels, device)?),
            NormConfig::GhostBatchNorm(c) => Norm::GhostBatchNorm(c.init(channels, device)?),
            NormConfig::BatchRenorm(c) => Norm::BatchRenorm(c.init(channels, device)?),
            NormConfig::LayerNorm(c) => Norm::LayerNorm(c.init(sample_shape, device)?),
            NormConfig::GroupNorm(c) => Norm::GroupNorm(c.init(channels, device)?),
            NormConfig::InstanceNorm(c) => Norm::InstanceNorm(c.init(channels, device)?),
            NormConfig::RmsNorm(c) => Norm::RmsNorm(c.init(sample_shape, device)?),
            NormConfig::LpBatchNorm(c) => Norm::LpBatchNorm(c.init(channels, device)?),
            NormConfig::VarianceOnly(c) => Norm::VarianceOnly(c.init(channels, device)?),
            NormConfig::MeanOnly(c) => Norm::MeanOnly(c.init(channels, device)?),
            NormConfig::NoisyBatchNorm(c) => Norm::NoisyBatchNorm(c.init(channels, device)?),
        })
    }
}

/// Any normalizer, as built by [`NormConfig::init`]: a burn module usable inside models and
/// saved and loaded with burn's records.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Norm {
    /// No normalization.
    Identity(Identity),
    /// [`BatchNorm`].
    BatchNorm(BatchNorm),
    /// [`GhostBatchNorm`].
    GhostBatchNorm(GhostBatchNorm),
    /// [`BatchRenorm`].
    BatchRenorm(BatchRenorm),
    /// [`LayerNorm`].
    LayerNorm(LayerNorm),
    /// [`GroupNorm`].
    GroupNorm(GroupNorm),
    /// [`InstanceNorm`].
    InstanceNorm(InstanceNorm),
    /// [`RmsNorm`].
    RmsNorm(RmsNorm),
    /// [`LpBatchNorm`].
    LpBatchNorm(LpBatchNorm),
    /// [`VarianceOnly`].
    VarianceOnly(VarianceOnly),
    /// [`MeanOnly`].
    MeanOnly(MeanOnly),
    /// [`NoisyBatchNorm`].
    NoisyBatchNorm(NoisyBatchNorm),
}

macro_rules! each_norm {
    ($self:expr, $layer:ident => $body:expr) => {
        match $self {
            Norm::Identity($layer) => $body,
            Norm::BatchNorm($layer) => $body,
            Norm::GhostBatchNorm($layer) => $body,
            Norm::BatchRenorm($layer) => $body,
            Norm::LayerNorm($layer) => $body,
            Norm::GroupNorm($layer) => $body,
            Norm::InstanceNorm($layer) => $body,
            Norm::RmsNorm($layer) => $body,
            Norm::LpBatchNorm($layer) => $body,
            Norm::VarianceOnly($layer) => $body,
            Norm::MeanOnly($layer) => $body,
            Norm::NoisyBatchNorm($layer) => $body,
        }
    };
}

impl Normalization for Norm {
    fn name(&self) -> &'static str {
        each_norm!(self, layer => layer.name())
    }

    fn try_forward<const D: usize>(
        &self,
        input: Tensor<D>,
        mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        each_norm!(self, layer => layer.try_forward(input, mode))
    }
}
