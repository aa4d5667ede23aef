//! The fused path (`Kernel::Fused`, a backend's own kernels) against the composed path
//! (`Kernel::Composed`, generic burn ops) against an f64 reference: outputs, saved statistics and
//! all three gradients, for every layout of `NormOps`, on shapes that don't fill a SIMD lane, a
//! single channel, batches that are multiples of nothing, and sizes over the parallel threshold.
#![allow(deprecated)]

mod common;

use burn::tensor::Tensor;
use common::fused::{check_all_shapes, reference};
use common::{devices, randn, reference::rel_error, tensor, values};
use normscope::Kernel;
use normscope::functional::normalize;
use normscope::ops::NormLayout;

#[test]
fn fused_equals_composed_equals_reference() {
    for (name, device) in devices() {
        check_all_shapes(&device, name);
    }
}
#[test]
fn fused_path_runs_under_autodiff() {
    // One graph node: the gradient of a layer equals normalize_backward's.
    for (name, device) in devices().into_iter().filter(|(_, d)| d.is_autodiff()) {
        let dims = [9, 4, 7];
        let x = randn(252, 8, 1.0, 2.0);
        let dy = randn(252, 9, 0.0, 1.0);
        let xt = tensor(&x, dims, &device).require_grad();
        let w = Tensor::<1>::ones([4], &device);
        let out = normalize(
            xt.clone(),
            w.clone(),
            Tensor::zeros([4], &device),
            NormLayout::BATCH,
            1e-5,
            Kernel::Fused,
        );
        let grads = out.output.mul(tensor(&dy, dims, &device)).sum().backward();
        let got = values(xt.grad(&grads).unwrap());
        let r = reference(
            &x,
            &dims,
            NormLayout::BATCH,
            &[1.0; 4],
            &[0.0; 4],
            &dy,
            1e-5,
        );
        let e = rel_error(&got, &r.dx);
        assert!(e < 1e-4, "{name}: autodiff dx error {e:.2e}");
    }
}
