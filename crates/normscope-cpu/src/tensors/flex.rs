//! burn-flex's `FlexTensor` (shared bytes, a strided layout and a runtime dtype).

use std::borrow::Cow;

use burn_backend::{DType, TensorData};
use burn_flex::FlexTensor;

use super::HostTensor;

macro_rules! host_tensor {
    ($t:ty, $dtype:ident) => {
        impl HostTensor<$t> for FlexTensor {
            fn dims(&self) -> Vec<usize> {
                self.layout().shape().to_vec()
            }

            fn values(&self) -> Option<Cow<'_, [$t]>> {
                if self.dtype() != DType::$dtype {
                    return None;
                }
                Some(match self.as_slice::<$t>() {
                    Some(slice) => Cow::Borrowed(slice),
                    None => Cow::Owned(
                        self.to_contiguous()
                            .as_slice::<$t>()
                            .expect("a contiguous tensor")
                            .to_vec(),
                    ),
                })
            }

            fn from_values(dims: &[usize], data: Vec<$t>) -> Self {
                FlexTensor::from_data(TensorData::new(data, dims.to_vec()))
            }
        }
    };
}

host_tensor!(f32, F32);
host_tensor!(f64, F64);
