//! normscope's fused path and burn's composed path on one burn device (wgpu, libtorch-CUDA):
//! checked against each other on the timed shape, then timed; and the device's plain copy.

use burn::tensor::{Device, Distribution, Tensor};
use normscope::Kernel;
use normscope::functional::{normalize, normalize_backward};
use normscope::ops::NormLayout;

use super::EPS;
use super::timing::{Row, time};

/// `max |t|`, reduced on the device.
fn max_abs<const D: usize>(t: Tensor<D>) -> f64 {
    let max = t.abs().max().into_data();
    max.iter::<f64>().next().unwrap_or(f64::NAN)
}

/// `max |a − b| / max |b|` over every element.
fn rel_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f64 {
    max_abs(a - b.clone()) / max_abs(b)
}

/// The largest `max |fused − composed| / max |composed|` (of `y`, `dx`, `dγ`, `dβ`) the check
/// of [`burn_rows`] accepts.
const CHECK_TOLERANCE: f64 = 1e-4;

/// Our fused path and burn's composed path on one burn device: their outputs and gradients
/// compared (`max |fused − composed| / max |composed|` of `y`, `dx`, `dγ`, `dβ`, one line for
/// `checks`), then, unless `check_only`, their timings (rows) and fwd+bwd medians (returned).
#[allow(clippy::too_many_arguments)]
pub fn burn_rows<const D: usize>(
    device: &Device,
    name: &str,
    dims: [usize; D],
    layout: NormLayout,
    check_only: bool,
    rows: &mut Vec<Row>,
    checks: &mut Vec<String>,
) -> (f64, f64) {
    let sync = || device.sync().expect("device sync");
    let x = Tensor::<D>::random(dims, Distribution::Normal(1.0, 2.0), device);
    let dy = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), device);
    let affine = layout.affine_len(&x.shape());
    let w = Tensor::<1>::random([affine], Distribution::Normal(1.0, 0.1), device);
    let b = Tensor::<1>::zeros([affine], device);
    let kernels = [
        ("fused (normscope)", Kernel::Fused),
        ("composed (burn ops)", Kernel::Composed),
    ];
    let forward = |kernel| normalize(x.clone(), w.clone(), b.clone(), layout, EPS, kernel);
    let backward = |mean, invstd, kernel| {
        normalize_backward(
            x.clone(),
            w.clone(),
            mean,
            invstd,
            dy.clone(),
            layout,
            EPS,
            kernel,
        )
    };
    let results: Vec<_> = kernels
        .iter()
        .map(|&(_, kernel)| {
            let out = forward(kernel);
            let (dx, dw, db) = backward(out.mean.clone(), out.invstd.clone(), kernel);
            (out.output, dx, dw, db)
        })
        .collect();
    let [(fy, fdx, fdw, fdb), (cy, cdx, cdw, cdb)] =
        <[_; 2]>::try_from(results).unwrap_or_else(|_| unreachable!("two kernels"));
    let diffs = [
        ("y", rel_diff(fy, cy)),
        ("dx", rel_diff(fdx, cdx)),
        ("dγ", rel_diff(fdw, cdw)),
        ("dβ", rel_diff(fdb, cdb)),
    ];
    let worst = diffs.iter().map(|d| d.1).fold(0.0f64, |a, b| a.max(b));
    checks.push(format!(
        "{name}: fused vs composed, max |Δ| / max |composed|: {} — {}",
        diffs
            .iter()
            .map(|(what, d)| format!("{what} {d:.1e}"))
            .collect::<Vec<_>>()
            .join(", "),
        if worst < CHECK_TOLERANCE {
            format!("**agree** (< {CHECK_TOLERANCE:.0e})")
        } else {
            format!("**DISAGREE** (≥ {CHECK_TOLERANCE:.0e})")
        }
    ));
    if check_only {
        return (f64::NAN, f64::NAN);
    }
    let mut totals = vec![];
    for (tag, kernel) in kernels {
        let saved = forward(kernel);
        let fwd = time(|| forward(kernel), &sync);
        let bwd = time(
            || backward(saved.mean.clone(), saved.invstd.clone(), kernel),
            &sync,
        );
        let both = time(
            || {
                let out = forward(kernel);
                (out.output, backward(out.mean, out.invstd, kernel))
            },
            &sync,
        );
        rows.push(Row {
            label: format!("{name}: {tag}"),
            fwd: Some(fwd),
            bwd: Some(bwd),
            both: Some(both),
        });
        totals.push(both);
    }
    (totals[0], totals[1])
}

/// A plain device copy of |x| (read + write) on a burn device, in ms.
pub fn burn_copy<const D: usize>(device: &Device, dims: [usize; D]) -> f64 {
    let x = Tensor::<D>::random(dims, Distribution::Normal(0.0, 1.0), device);
    time(|| x.clone().add_scalar(0.0), &|| {
        device.sync().expect("device sync")
    })
}
