//! burn-ndarray's `NdArrayTensor` (an `ArcArray` per dtype).
// burn 0.22 marks burn-ndarray deprecated; this glue exists for it.
#![allow(deprecated)]

use std::borrow::Cow;

use burn_backend::TensorMetadata;
use burn_ndarray::NdArrayTensor;
use ndarray::{ArcArray, IxDyn};

use super::HostTensor;

macro_rules! host_tensor {
    ($t:ty, $variant:ident) => {
        impl HostTensor<$t> for NdArrayTensor {
            fn dims(&self) -> Vec<usize> {
                TensorMetadata::shape(self).to_vec()
            }

            fn values(&self) -> Option<Cow<'_, [$t]>> {
                let NdArrayTensor::$variant(storage) = self else {
                    return None;
                };
                let view = storage.view();
                Some(match view.to_slice() {
                    Some(slice) => Cow::Borrowed(slice),
                    None => Cow::Owned(view.iter().copied().collect()),
                })
            }

            fn from_values(dims: &[usize], data: Vec<$t>) -> Self {
                NdArrayTensor::from(
                    ArcArray::from_shape_vec(IxDyn(dims), data)
                        .expect("the kernel wrote every element"),
                )
            }
        }
    };
}

host_tensor!(f32, F32);
host_tensor!(f64, F64);
