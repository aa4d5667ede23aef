//! The backend suite and the fused-path checks on libtorch CUDA (`Device::libtorch_cuda(0)`),
//! with and without autodiff. Each test says it was skipped when libtorch sees no CUDA device.
#![cfg(feature = "tch")]
#![allow(deprecated)]

mod common;

use burn::tensor::Device;
use common::{fused, suite};

/// The CUDA device, or `None` (and a line on stderr saying the test was skipped).
fn cuda(test: &str) -> Option<Device> {
    if tch::Cuda::is_available() {
        Some(Device::libtorch_cuda(0))
    } else {
        eprintln!("SKIPPED {test}: libtorch sees no CUDA device");
        None
    }
}

macro_rules! cuda_tests {
    ($($name:ident => $body:expr;)*) => {
        $(
            #[test]
            fn $name() {
                if let Some(device) = cuda(stringify!($name)) {
                    let run: fn(&Device) = $body;
                    run(&device);
                    run(&device.autodiff());
                }
            }
        )*
    };
}

cuda_tests! {
    cuda_batch_norm => suite::batch_norm;
    cuda_ghost_batch_norm => suite::ghost_batch_norm;
    cuda_batch_renorm => suite::batch_renorm;
    cuda_lp_batch_norm => suite::lp_batch_norm;
    cuda_variance_only => suite::variance_only;
    cuda_mean_only => suite::mean_only;
    cuda_layer_norm => suite::layer_norm;
    cuda_rms_norm => suite::rms_norm;
    cuda_group_norm => suite::group_norm;
    cuda_instance_norm => suite::instance_norm;
    cuda_large_offset => suite::large_offset;
    cuda_fused_equals_composed_equals_reference => |d| fused::check_all_shapes(d, "libtorch-cuda");
}

#[test]
fn cuda_gradients() {
    if let Some(device) = cuda("cuda_gradients") {
        suite::gradients(&device.autodiff());
    }
}
