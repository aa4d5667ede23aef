//! The wgpu devices really run normscope-wgpu's CubeCL kernels (alone in this binary, so that
//! no other test's launches interleave with the count). Their numbers are checked against the
//! composed path and the f64 reference in `fused.rs` and `backends.rs`.
#![cfg(feature = "wgpu")]
#![allow(deprecated)]

mod common;

use burn::tensor::Tensor;
use common::{randn, tensor, values};
use normscope::Kernel;
use normscope::functional::normalize;
use normscope::ops::NormLayout;

/// A `Cube` device (burn's `Fusion<CubeBackend>`) runs normscope-wgpu's CubeCL kernels, forward,
/// backward and eval-mode affine, with and without autodiff — not the composed path.
#[test]
fn wgpu_devices_run_the_cubecl_kernels() {
    use normscope::functional::channel_affine;
    use normscope::ops::cube_kernel_launches;
    for device in [common::wgpu_device(), common::wgpu_device().autodiff()] {
        let dims = [6, 3, 5];
        let x = tensor(&randn(90, 3, 0.5, 2.0), dims, &device);
        let w = Tensor::<1>::ones([3], &device);
        let b = Tensor::<1>::zeros([3], &device);
        let before = cube_kernel_launches();
        let out = normalize(
            x.clone(),
            w.clone(),
            b.clone(),
            NormLayout::BATCH,
            1e-5,
            Kernel::Fused,
        );
        let _ = values(out.output.clone());
        assert_eq!(cube_kernel_launches(), before + 1, "forward");
        let _ = values(channel_affine(
            x.clone(),
            w.clone(),
            b.clone(),
            Kernel::Fused,
        ));
        assert_eq!(cube_kernel_launches(), before + 2, "channel_affine");
        let (dx, _, _) = normscope::functional::normalize_backward(
            x,
            w,
            out.mean,
            out.invstd,
            tensor(&randn(90, 4, 0.0, 1.0), dims, &device),
            NormLayout::BATCH,
            1e-5,
            Kernel::Fused,
        );
        let _ = values(dx);
        assert_eq!(cube_kernel_launches(), before + 3, "backward");
    }
}
