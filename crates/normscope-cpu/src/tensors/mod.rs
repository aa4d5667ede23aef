//! How a backend's float tensor reaches the slice kernels: [`HostTensor`], and one glue module
//! per burn CPU backend implementing it.

use std::borrow::Cow;

use crate::real::Real;

#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "ndarray")]
mod ndarray;

/// A burn CPU backend's float tensor holding `T` values, as the kernels read and write it.
pub trait HostTensor<T: Real>: Sized {
    /// The shape.
    fn dims(&self) -> Vec<usize>;
    /// The values in row-major order, borrowed when the tensor is contiguous (copied otherwise),
    /// or `None` when it does not hold `T`.
    fn values(&self) -> Option<Cow<'_, [T]>>;
    /// A contiguous tensor of shape `dims` holding `data` (row-major), without a copy.
    fn from_values(dims: &[usize], data: Vec<T>) -> Self;
}
