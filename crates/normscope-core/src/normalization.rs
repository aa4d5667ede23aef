//! The trait every normalizer implements.

use burn::tensor::Tensor;

use crate::{Mode, NormError};

/// A normalization layer over inputs of shape `[N, C, ...]`.
///
/// `mode` is explicit: [`Mode::Train`] normalizes with batch (or per-sample) statistics and
/// updates the running statistics of layers that keep them; [`Mode::Eval`] uses the running
/// statistics. Whether the device records gradients has no say in this.
pub trait Normalization {
    /// The layer's name as it appears in errors, e.g. `"BatchNorm"`.
    fn name(&self) -> &'static str;

    /// Normalizes `input` (`[N, C, ...]`), returning an output of the same shape, or the
    /// reason the input does not fit the layer.
    fn try_forward<const D: usize>(
        &self,
        input: Tensor<D>,
        mode: Mode,
    ) -> Result<Tensor<D>, NormError>;

    /// [`try_forward`](Normalization::try_forward) that panics with the error's message.
    fn forward<const D: usize>(&self, input: Tensor<D>, mode: Mode) -> Tensor<D> {
        match self.try_forward(input, mode) {
            Ok(output) => output,
            Err(error) => panic!("{error}"),
        }
    }
}
