//! No normalization: the baseline.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::{Mode, NormError, Normalization};

/// The identity map, so that "no normalization" is a normalizer like the others.
#[derive(Module, Debug, Default)]
pub struct Identity;

impl Normalization for Identity {
    fn name(&self) -> &'static str {
        "Identity"
    }

    fn try_forward<const D: usize>(
        &self,
        x: Tensor<D>,
        _mode: Mode,
    ) -> Result<Tensor<D>, NormError> {
        Ok(x)
    }
}
