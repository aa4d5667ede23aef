//! [`NormConfig`]: any normalizer by name and hyper-parameters, from TOML or JSON; and [`Norm`],
//! the module it builds.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::fold::ChannelAffine;
use crate::layers::*;
use crate::{Mode, Momentum, NormError, Normalization};

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
/// `noisy_batch_norm`, `noise_only`.
///
/// A configuration written before `noise_only` was a kind, `kind = "noisy_batch_norm"` with
/// `normalize = false`, still reads, as [`NormConfig::NoiseOnly`] (its BatchNorm keys, which
/// had no effect, are dropped); `normalize = true` is plain `noisy_batch_norm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "repr::NormConfigRepr")]
#[non_exhaustive]
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
    /// [`NoiseOnly`].
    NoiseOnly(NoiseOnlyConfig),
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
            NormConfig::NoiseOnly(_) => "NoiseOnly",
        }
    }

    /// A short label with the distinguishing hyper-parameter, for tables and plots
    /// (`"GroupNorm(8)"`, `"LpBatchNorm(p=1)"`, `"GhostBatchNorm(16)"`).
    pub fn label(&self) -> String {
        match self {
            NormConfig::GroupNorm(c) => format!("GroupNorm({})", c.groups),
            NormConfig::GhostBatchNorm(c) => format!("GhostBatchNorm({})", c.virtual_batch_size),
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
        !matches!(
            self,
            NormConfig::Identity
                | NormConfig::LayerNorm(_)
                | NormConfig::GroupNorm(_)
                | NormConfig::InstanceNorm(_)
                | NormConfig::RmsNorm(_)
                | NormConfig::NoiseOnly(_)
        )
    }

    /// The momentum of the running statistics, for the kinds that keep them (InstanceNorm
    /// only with `track_running_stats`).
    pub fn momentum(&self) -> Option<Momentum> {
        match self {
            NormConfig::BatchNorm(c) => c.track_running_stats.then_some(c.momentum),
            NormConfig::GhostBatchNorm(c) => Some(c.momentum),
            NormConfig::BatchRenorm(c) => Some(c.momentum),
            NormConfig::InstanceNorm(c) => c.track_running_stats.then_some(c.momentum),
            NormConfig::LpBatchNorm(c) => Some(c.momentum),
            NormConfig::VarianceOnly(c) => Some(c.momentum),
            NormConfig::MeanOnly(c) => Some(c.momentum),
            NormConfig::NoisyBatchNorm(c) => Some(c.momentum),
            _ => None,
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
            NormConfig::NoiseOnly(c) => c.validate(),
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
            NormConfig::NoiseOnly(c) => Norm::NoiseOnly(c.init(channels, device)?),
        })
    }
}

/// Any normalizer, as built by [`NormConfig::init`]: a burn module usable inside models and
/// saved and loaded with burn's records.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
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
    /// [`NoiseOnly`].
    NoiseOnly(NoiseOnly),
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
            Norm::NoiseOnly($layer) => $body,
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

/// The layers that keep running statistics, each with `eval_affine`, `freeze_statistics`,
/// `unfreeze_statistics` and `statistics_frozen`.
macro_rules! with_statistics {
    ($self:expr, $layer:ident => $body:expr, $other:pat => $fallback:expr) => {
        match $self {
            Norm::BatchNorm($layer) => $body,
            Norm::GhostBatchNorm($layer) => $body,
            Norm::BatchRenorm($layer) => $body,
            Norm::InstanceNorm($layer) => $body,
            Norm::LpBatchNorm($layer) => $body,
            Norm::VarianceOnly($layer) => $body,
            Norm::MeanOnly($layer) => $body,
            Norm::NoisyBatchNorm($layer) => $body,
            $other => $fallback,
        }
    };
}

impl Norm {
    /// The eval-mode output as one affine map per channel, to fold into the convolution or
    /// linear layer before it ([`crate::fold`]). [`NormError::NoRunningStatistics`] for a
    /// normalizer without running statistics (its eval mode is not a fixed map).
    pub fn eval_affine(&self) -> Result<ChannelAffine, NormError> {
        with_statistics!(self, layer => layer.eval_affine(), other => Err(NormError::NoRunningStatistics {
            layer: other.name(),
            operation: FOLD,
        }))
    }

    /// The normalizer with its running statistics frozen (see
    /// [`BatchNorm::freeze_statistics`]); [`NormError::NoRunningStatistics`] for one without
    /// them. To freeze every normalizer of a model, [`freeze_statistics`](crate::freeze_statistics).
    pub fn freeze_statistics(self) -> Result<Norm, NormError> {
        self.set_statistics_frozen(true)
    }

    /// Undoes [`Norm::freeze_statistics`].
    pub fn unfreeze_statistics(self) -> Result<Norm, NormError> {
        self.set_statistics_frozen(false)
    }

    fn set_statistics_frozen(self, frozen: bool) -> Result<Norm, NormError> {
        macro_rules! set {
            ($variant:ident, $layer:ident) => {
                Ok(Norm::$variant(if frozen {
                    $layer.freeze_statistics()?
                } else {
                    $layer.unfreeze_statistics()?
                }))
            };
        }
        match self {
            Norm::BatchNorm(l) => set!(BatchNorm, l),
            Norm::GhostBatchNorm(l) => set!(GhostBatchNorm, l),
            Norm::BatchRenorm(l) => set!(BatchRenorm, l),
            Norm::InstanceNorm(l) => set!(InstanceNorm, l),
            Norm::LpBatchNorm(l) => set!(LpBatchNorm, l),
            Norm::VarianceOnly(l) => set!(VarianceOnly, l),
            Norm::MeanOnly(l) => set!(MeanOnly, l),
            Norm::NoisyBatchNorm(l) => set!(NoisyBatchNorm, l),
            other => Err(NormError::NoRunningStatistics {
                layer: other.name(),
                operation: FREEZE,
            }),
        }
    }

    /// Whether the normalizer's running statistics are frozen (`false` without them).
    pub fn statistics_frozen(&self) -> bool {
        with_statistics!(self, layer => layer.statistics_frozen(), _ => false)
    }
}

/// `From` each layer's configuration into [`NormConfig`] and each layer into [`Norm`], as
/// burn-nn does, so that `NormConfig::from(GroupNormConfig::new())` and `config.into()` work.
macro_rules! conversions {
    ($($variant:ident($config:ident, $layer:ident)),* $(,)?) => {
        $(
            impl From<$config> for NormConfig {
                fn from(config: $config) -> Self {
                    NormConfig::$variant(config)
                }
            }

            impl From<$layer> for Norm {
                fn from(layer: $layer) -> Self {
                    Norm::$variant(layer)
                }
            }
        )*
    };
}

conversions!(
    BatchNorm(BatchNormConfig, BatchNorm),
    GhostBatchNorm(GhostBatchNormConfig, GhostBatchNorm),
    BatchRenorm(BatchRenormConfig, BatchRenorm),
    LayerNorm(LayerNormConfig, LayerNorm),
    GroupNorm(GroupNormConfig, GroupNorm),
    InstanceNorm(InstanceNormConfig, InstanceNorm),
    RmsNorm(RmsNormConfig, RmsNorm),
    LpBatchNorm(LpBatchNormConfig, LpBatchNorm),
    VarianceOnly(VarianceOnlyConfig, VarianceOnly),
    MeanOnly(MeanOnlyConfig, MeanOnly),
    NoisyBatchNorm(NoisyBatchNormConfig, NoisyBatchNorm),
    NoiseOnly(NoiseOnlyConfig, NoiseOnly),
);

impl From<Identity> for Norm {
    fn from(layer: Identity) -> Self {
        Norm::Identity(layer)
    }
}

/// How [`NormConfig`] reads: the same table as it writes, plus what older files hold — every
/// kind strict about unknown keys (`identity` too), and the old spelling of the noise control
/// (`noisy_batch_norm` with `normalize = false`).
mod repr {
    use serde::Deserialize;

    use super::NormConfig;
    use crate::Momentum;
    use crate::layers::*;

    /// `kind = "identity"` takes no other key.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct IdentityRepr {}

    /// `noisy_batch_norm` as written before `noise_only` was a kind: its keys and `normalize`.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct NoisyBatchNormRepr {
        noise_mean_max: Option<f64>,
        noise_scale_max: Option<f64>,
        per_sample: Option<bool>,
        momentum: Option<Momentum>,
        eps: Option<f64>,
        affine: Option<bool>,
        /// `false`: the noise without the BatchNorm, now [`NoiseOnlyConfig`].
        normalize: Option<bool>,
    }

    impl From<NoisyBatchNormRepr> for NormConfig {
        fn from(r: NoisyBatchNormRepr) -> Self {
            let d = NoisyBatchNormConfig::default();
            let noisy = NoisyBatchNormConfig {
                noise_mean_max: r.noise_mean_max.unwrap_or(d.noise_mean_max),
                noise_scale_max: r.noise_scale_max.unwrap_or(d.noise_scale_max),
                per_sample: r.per_sample.unwrap_or(d.per_sample),
                momentum: r.momentum.unwrap_or(d.momentum),
                eps: r.eps.unwrap_or(d.eps),
                affine: r.affine.unwrap_or(d.affine),
            };
            match r.normalize {
                Some(false) => NormConfig::NoiseOnly(noisy.noise_only()),
                _ => NormConfig::NoisyBatchNorm(noisy),
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum NormConfigRepr {
        Identity(IdentityRepr),
        BatchNorm(BatchNormConfig),
        GhostBatchNorm(GhostBatchNormConfig),
        BatchRenorm(BatchRenormConfig),
        LayerNorm(LayerNormConfig),
        GroupNorm(GroupNormConfig),
        InstanceNorm(InstanceNormConfig),
        RmsNorm(RmsNormConfig),
        LpBatchNorm(LpBatchNormConfig),
        VarianceOnly(VarianceOnlyConfig),
        MeanOnly(MeanOnlyConfig),
        NoisyBatchNorm(NoisyBatchNormRepr),
        NoiseOnly(NoiseOnlyConfig),
    }

    impl From<NormConfigRepr> for NormConfig {
        fn from(repr: NormConfigRepr) -> Self {
            match repr {
                NormConfigRepr::Identity(IdentityRepr {}) => NormConfig::Identity,
                NormConfigRepr::BatchNorm(c) => c.into(),
                NormConfigRepr::GhostBatchNorm(c) => c.into(),
                NormConfigRepr::BatchRenorm(c) => c.into(),
                NormConfigRepr::LayerNorm(c) => c.into(),
                NormConfigRepr::GroupNorm(c) => c.into(),
                NormConfigRepr::InstanceNorm(c) => c.into(),
                NormConfigRepr::RmsNorm(c) => c.into(),
                NormConfigRepr::LpBatchNorm(c) => c.into(),
                NormConfigRepr::VarianceOnly(c) => c.into(),
                NormConfigRepr::MeanOnly(c) => c.into(),
                NormConfigRepr::NoisyBatchNorm(c) => c.into(),
                NormConfigRepr::NoiseOnly(c) => c.into(),
            }
        }
    }
}
