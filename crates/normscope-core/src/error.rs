//! Typed errors for every way a normalizer can be mis-configured or mis-fed.

use thiserror::Error;

/// What went wrong building or running a normalizer. Every variant names the layer.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum NormError {
    /// A layer was asked for zero features (channels).
    #[error("{layer}: expected at least one feature, got num_features = 0")]
    ZeroFeatures {
        /// The layer, e.g. `"BatchNorm"`.
        layer: &'static str,
    },
    /// A normalized shape (LayerNorm, RmsNorm) was empty or had a zero dimension.
    #[error(
        "{layer}: expected a non-empty normalized shape without zero dimensions, got {shape:?}"
    )]
    EmptyShape {
        /// The layer.
        layer: &'static str,
        /// The shape that came.
        shape: Vec<usize>,
    },
    /// `groups` is zero or does not divide the channel count.
    #[error(
        "{layer}: expected a group count that divides num_channels = {channels}, got groups = {groups}"
    )]
    GroupsDontDivide {
        /// The layer.
        layer: &'static str,
        /// The requested group count.
        groups: usize,
        /// The channel count.
        channels: usize,
    },
    /// `eps` is not finite or not positive.
    #[error("{layer}: expected eps finite and > 0, got eps = {eps}")]
    InvalidEps {
        /// The layer.
        layer: &'static str,
        /// The value that came.
        eps: f64,
    },
    /// `momentum` is outside `[0, 1]` or not finite.
    #[error("{layer}: expected momentum in [0, 1] (or \"cumulative\"), got momentum = {momentum}")]
    InvalidMomentum {
        /// The layer.
        layer: &'static str,
        /// The value that came.
        momentum: f64,
    },
    /// A hyper-parameter other than eps and momentum is out of its range.
    #[error("{layer}: expected {name} {expected}, got {name} = {value}")]
    InvalidParameter {
        /// The layer.
        layer: &'static str,
        /// The parameter's name as in the configuration.
        name: &'static str,
        /// The valid range, in words.
        expected: &'static str,
        /// The value that came.
        value: f64,
    },
    /// GhostBatchNorm's virtual batch size is zero.
    #[error("{layer}: expected virtual_batch_size > 0, got 0")]
    ZeroVirtualBatch {
        /// The layer.
        layer: &'static str,
    },
    /// GhostBatchNorm's virtual batch size does not divide the batch.
    #[error(
        "{layer}: expected a batch size divisible by virtual_batch_size = {virtual_batch_size}, got batch size {batch_size}"
    )]
    VirtualBatchDoesNotDivide {
        /// The layer.
        layer: &'static str,
        /// The configured virtual batch size.
        virtual_batch_size: usize,
        /// The batch size of the input.
        batch_size: usize,
    },
    /// The input has fewer than two dimensions (normalizers take `[N, C, ...]`).
    #[error("{layer}: expected an input of shape [N, C, ...] (rank >= 2), got shape {shape:?}")]
    RankTooLow {
        /// The layer.
        layer: &'static str,
        /// The input shape.
        shape: Vec<usize>,
    },
    /// The input's channel dimension does not match the layer.
    #[error("{layer}: expected {expected} channels at dim 1, got input of shape {shape:?}")]
    ChannelMismatch {
        /// The layer.
        layer: &'static str,
        /// The layer's channel count.
        expected: usize,
        /// The input shape.
        shape: Vec<usize>,
    },
    /// The input's per-sample shape does not match a LayerNorm/RmsNorm normalized shape.
    #[error("{layer}: expected input of shape [N, {expected:?}], got {shape:?}")]
    ShapeMismatch {
        /// The layer.
        layer: &'static str,
        /// The normalized shape the layer was built for.
        expected: Vec<usize>,
        /// The input shape.
        shape: Vec<usize>,
    },
    /// Training with batch statistics on a single value per channel (PyTorch raises the same).
    #[error(
        "{layer}: Expected more than 1 value per channel when training, got input size {shape:?}"
    )]
    SingleValuePerChannel {
        /// The layer.
        layer: &'static str,
        /// The input shape.
        shape: Vec<usize>,
    },
    /// InstanceNorm normalizing with the input's own statistics (train mode, or eval mode without
    /// running statistics) on one spatial element per channel, where every output would be `β`.
    /// PyTorch raises the same, with the same message, in both modes.
    #[error(
        "{layer}: Expected more than 1 spatial element when training, got input size {shape:?}"
    )]
    SingleSpatialElement {
        /// The layer.
        layer: &'static str,
        /// The input shape.
        shape: Vec<usize>,
    },
    /// An operation on running statistics (freezing them, folding the eval-mode map into a
    /// weight layer) asked of a layer that keeps none: BatchNorm or InstanceNorm with
    /// `track_running_stats = false`, or a per-sample normalizer (LayerNorm, GroupNorm, …) whose
    /// eval mode normalizes with the input's own statistics.
    #[error(
        "{layer}: cannot {operation}: the layer keeps no running statistics (its eval mode uses the input's own statistics)"
    )]
    NoRunningStatistics {
        /// The layer.
        layer: &'static str,
        /// What was asked (`"freeze its statistics"`, `"fold it into a weight layer"`).
        operation: &'static str,
    },
    /// Folding a normalizer into a weight layer (or building its per-channel map) with shapes
    /// that do not match: the weight's output channels, the bias or a statistic of another
    /// length than the normalizer's channels.
    #[error("{layer}: cannot fold: expected {what} with {expected} channels, got shape {shape:?}")]
    FoldShapeMismatch {
        /// The layer.
        layer: &'static str,
        /// Which tensor, with the axis that must match (`"a conv weight [C_out, ...]"`).
        what: &'static str,
        /// The normalizer's channel count.
        expected: usize,
        /// The shape that came.
        shape: Vec<usize>,
    },
    /// The input is empty (a zero dimension).
    #[error("{layer}: expected a non-empty input, got shape {shape:?}")]
    EmptyInput {
        /// The layer.
        layer: &'static str,
        /// The input shape.
        shape: Vec<usize>,
    },
}

/// `Result` with [`NormError`] (crate-internal: a public alias would shadow `std`'s `Result` in
/// every `use normscope::*`).
pub(crate) type Result<T> = core::result::Result<T, NormError>;

pub(crate) fn check_eps(layer: &'static str, eps: f64) -> Result<()> {
    if eps.is_finite() && eps > 0.0 {
        Ok(())
    } else {
        Err(NormError::InvalidEps { layer, eps })
    }
}

pub(crate) fn check_momentum(layer: &'static str, momentum: crate::Momentum) -> Result<()> {
    momentum.check(layer)
}

pub(crate) fn check_features(layer: &'static str, num_features: usize) -> Result<()> {
    if num_features == 0 {
        Err(NormError::ZeroFeatures { layer })
    } else {
        Ok(())
    }
}

/// Checks an input of shape `[N, C, ...]` against a layer with `channels` channels.
pub(crate) fn check_channels(layer: &'static str, shape: &[usize], channels: usize) -> Result<()> {
    if shape.len() < 2 {
        return Err(NormError::RankTooLow {
            layer,
            shape: shape.to_vec(),
        });
    }
    if shape[1] != channels {
        return Err(NormError::ChannelMismatch {
            layer,
            expected: channels,
            shape: shape.to_vec(),
        });
    }
    if shape.contains(&0) {
        return Err(NormError::EmptyInput {
            layer,
            shape: shape.to_vec(),
        });
    }
    Ok(())
}

/// Batch statistics need more than one value per channel (`N * prod(spatial) > 1`).
pub(crate) fn check_batch_values(layer: &'static str, shape: &[usize], batch: usize) -> Result<()> {
    let per_channel: usize = batch * shape[2..].iter().product::<usize>();
    if per_channel <= 1 {
        Err(NormError::SingleValuePerChannel {
            layer,
            shape: shape.to_vec(),
        })
    } else {
        Ok(())
    }
}
