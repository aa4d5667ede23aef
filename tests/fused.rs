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

/// Flex runs normscope-cpu's kernels, not the composed path: on the same input its fused
/// normalization (every layout, forward and backward) and its convolution give NdArray's bits,
/// which the composed path on Flex (other summation orders) and Flex's own convolution do not.
#[cfg(feature = "flex")]
#[test]
fn flex_runs_the_kernels_of_ndarray() {
    use burn::tensor::Device;
    use normscope::analysis::models::same_conv2d;
    use normscope::functional::normalize_backward;
    let bits =
        |t: Tensor<3>| -> Vec<u32> { t.into_data().iter::<f32>().map(f32::to_bits).collect() };
    let dims = [6, 4, 1500];
    let len = dims.iter().product();
    let (x, dy) = (randn(len, 21, 3.0, 2.0), randn(len, 22, 0.0, 1.0));
    for layout in [
        NormLayout::BATCH,
        NormLayout::group(2),
        NormLayout::group(4),
        NormLayout::LAYER,
        NormLayout::RMS,
    ] {
        let affine = layout.affine_len(&burn::tensor::Shape::new(dims));
        let (w, b) = (randn(affine, 23, 1.0, 0.3), randn(affine, 24, 0.0, 0.5));
        let run = |device: &Device| {
            let out = normalize(
                tensor(&x, dims, device),
                tensor(&w, [affine], device),
                tensor(&b, [affine], device),
                layout,
                1e-5,
                Kernel::Fused,
            );
            let (dx, _, _) = normalize_backward(
                tensor(&x, dims, device),
                tensor(&w, [affine], device),
                out.mean,
                out.invstd,
                tensor(&dy, dims, device),
                layout,
                1e-5,
                Kernel::Fused,
            );
            (bits(out.output), bits(dx))
        };
        let (flex, ndarray) = (run(&Device::flex()), run(&Device::ndarray()));
        assert!(
            flex.0 == ndarray.0,
            "{layout:?}: Flex's output is not the kernels'"
        );
        assert!(
            flex.1 == ndarray.1,
            "{layout:?}: Flex's dx is not the kernels'"
        );
    }
    let conv = |device: &Device| -> Vec<u32> {
        let x = tensor(&randn(2 * 3 * 9 * 9, 25, 0.0, 1.0), [2, 3, 9, 9], device);
        let w = tensor(&randn(5 * 3 * 3 * 3, 26, 0.0, 0.5), [5, 3, 3, 3], device);
        same_conv2d(x, w, 1)
            .into_data()
            .iter::<f32>()
            .map(f32::to_bits)
            .collect()
    };
    assert!(
        conv(&Device::flex()) == conv(&Device::ndarray()),
        "Flex's same_conv2d is not the kernel's"
    );
}
