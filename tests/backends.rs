//! The backend suite (`tests/common/suite.rs`), instantiated once per backend, with and without
//! autodiff. `cargo test --workspace` runs the ndarray modules; `--features flex` adds `flex*`,
//! `--features tch` adds `libtorch*`, `--features wgpu` adds `wgpu*` (lavapipe runs them without
//! a GPU).
#![allow(deprecated)]

mod common;

use burn::tensor::Device;
use common::suite;

macro_rules! backend_suite {
    ($name:ident, $device:expr, autodiff = $autodiff:tt) => {
        mod $name {
            use super::*;

            fn device() -> Device {
                $device
            }

            #[test]
            fn batch_norm() {
                suite::batch_norm(&device());
            }
            #[test]
            fn ghost_batch_norm() {
                suite::ghost_batch_norm(&device());
            }
            #[test]
            fn batch_renorm() {
                suite::batch_renorm(&device());
            }
            #[test]
            fn lp_batch_norm() {
                suite::lp_batch_norm(&device());
            }
            #[test]
            fn variance_only() {
                suite::variance_only(&device());
            }
            #[test]
            fn mean_only() {
                suite::mean_only(&device());
            }
            #[test]
            fn noisy_batch_norm() {
                suite::noisy_batch_norm(&device());
            }
            #[test]
            fn running_statistics() {
                suite::running_statistics(&device());
            }
            #[test]
            fn layer_norm() {
                suite::layer_norm(&device());
            }
            #[test]
            fn rms_norm() {
                suite::rms_norm(&device());
            }
            #[test]
            fn group_norm() {
                suite::group_norm(&device());
            }
            #[test]
            fn instance_norm() {
                suite::instance_norm(&device());
            }
            #[test]
            fn identity() {
                suite::identity(&device());
            }
            #[test]
            fn large_offset() {
                suite::large_offset(&device());
            }
            backend_suite!(@gradients $autodiff);
        }
    };
    (@gradients true) => {
        #[test]
        fn gradients() {
            suite::gradients(&device());
        }
    };
    (@gradients false) => {};
}

backend_suite!(ndarray, Device::ndarray(), autodiff = false);
backend_suite!(
    ndarray_autodiff,
    Device::ndarray().autodiff(),
    autodiff = true
);

#[cfg(feature = "flex")]
backend_suite!(flex, Device::flex(), autodiff = false);
#[cfg(feature = "flex")]
backend_suite!(flex_autodiff, Device::flex().autodiff(), autodiff = true);

#[cfg(feature = "tch")]
backend_suite!(libtorch, Device::libtorch(), autodiff = false);
#[cfg(feature = "tch")]
backend_suite!(
    libtorch_autodiff,
    Device::libtorch().autodiff(),
    autodiff = true
);

#[cfg(feature = "wgpu")]
backend_suite!(wgpu, common::wgpu_device(), autodiff = false);
#[cfg(feature = "wgpu")]
backend_suite!(
    wgpu_autodiff,
    common::wgpu_device().autodiff(),
    autodiff = true
);
