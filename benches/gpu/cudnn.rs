//! cuDNN's own BatchNorm kernels called through tch, the reference row of the GPU bench.

use super::EPS;
use super::timing::{Row, time};

#[cfg(feature = "tch")]
pub fn cudnn_rows(dims: &[usize], rows: &mut Vec<Row>, direct: &mut Option<f64>) -> Option<f64> {
    use tch::{Cuda, Device as TDevice, Kind, Tensor as T};
    if !Cuda::is_available() {
        eprintln!("no CUDA device: skipping the tch rows");
        return None;
    }
    let dev = TDevice::Cuda(0);
    let shape: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    let c = shape[1];
    let sync = || Cuda::synchronize(0);
    let x = T::randn(shape.as_slice(), (Kind::Float, dev));
    let dy = T::randn(shape.as_slice(), (Kind::Float, dev));
    let copy = time(|| x.copy(), &sync);
    let w = T::ones([c], (Kind::Float, dev));
    let b = T::zeros([c], (Kind::Float, dev));
    let rm = T::zeros([c], (Kind::Float, dev));
    let rv = T::ones([c], (Kind::Float, dev));
    let fwd = time(
        || {
            T::batch_norm(
                &x,
                Some(&w),
                Some(&b),
                Some(&rm),
                Some(&rv),
                true,
                0.1,
                EPS,
                true,
            )
        },
        &sync,
    );
    // What `batch_norm` and its autograd node run on CUDA, called directly: `cudnn_batch_norm`
    // forward and `cudnn_batch_norm_backward` with the saved statistics and reserve space.
    let (_, save_mean, save_var, reserve) =
        x.cudnn_batch_norm(&w, Some(&b), Some(&rm), Some(&rv), true, 0.1, EPS);
    let bwd = time(
        || {
            x.cudnn_batch_norm_backward(
                &dy,
                &w,
                Some(&rm),
                Some(&rv),
                Some(&save_mean),
                Some(&save_var),
                EPS,
                &reserve,
            )
        },
        &sync,
    );
    let both = time(
        || {
            let (_, m, v, r) =
                x.cudnn_batch_norm(&w, Some(&b), Some(&rm), Some(&rv), true, 0.1, EPS);
            x.cudnn_batch_norm_backward(&dy, &w, Some(&rm), Some(&rv), Some(&m), Some(&v), EPS, &r)
        },
        &sync,
    );
    rows.push(Row {
        label: "cuDNN via tch: `Tensor::batch_norm`; bwd = `cudnn_batch_norm_backward` (what its autograd runs)".into(),
        fwd: Some(fwd),
        bwd: Some(bwd),
        both: Some(both),
    });
    let xg = x.copy().set_requires_grad(true);
    let wg = w.copy().set_requires_grad(true);
    let bg = b.copy().set_requires_grad(true);
    // Through torch's autograd, which needs a scalar to start from: `L = Σ y ⊙ dy` (its `mul`
    // and `sum` add passes that no other row has).
    let autograd = time(
        || {
            let y = T::batch_norm(
                &xg,
                Some(&wg),
                Some(&bg),
                Some(&rm),
                Some(&rv),
                true,
                0.1,
                EPS,
                true,
            );
            let loss = (y * &dy).sum(Kind::Float);
            T::run_backward(&[loss], &[&xg, &wg, &bg], false, false)
        },
        &sync,
    );
    rows.push(Row {
        label: "cuDNN via tch autograd of Σ y⊙dy (includes the loss's mul + sum)".into(),
        fwd: None,
        bwd: None,
        both: Some(autograd),
    });
    *direct = Some(both);
    Some(copy)
}
