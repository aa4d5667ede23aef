//! The explicit train/eval switch.

use serde::{Deserialize, Serialize};

/// Which statistics a normalizer uses. Never inferred from the device: the analysis needs
/// train-mode batch statistics on a device without autodiff, and eval mode on one with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Batch statistics; running statistics are updated where the layer tracks them.
    #[default]
    Train,
    /// Running statistics where the layer has them (layers without running statistics,
    /// e.g. LayerNorm, behave the same in both modes).
    Eval,
}

impl Mode {
    /// `true` for [`Mode::Train`].
    pub fn is_train(self) -> bool {
        matches!(self, Mode::Train)
    }
}
