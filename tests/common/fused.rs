//! Fused path = composed path = f64 reference, for every layout of `NormOps` (used by
//! `tests/fused.rs` on every backend and by `tests/cuda.rs` on CUDA).

use burn::tensor::Device;

use super::{randn, reference::rel_error, tensor, values};
use normscope::Kernel;
use normscope::functional::{channel_affine, normalize, normalize_backward};
use normscope::ops::{Affine, NormLayout, Statistics};

/// `(groups of element indices, affine index of every element)` for a layout on `[N, C, S]`.
fn groups(dims: &[usize], layout: NormLayout) -> (Vec<Vec<usize>>, Vec<usize>) {
    let (n, c) = (dims[0], dims[1]);
    let s: usize = dims[2..].iter().product();
    let at = |i: usize, ch: usize, p: usize| (i * c + ch) * s + p;
    let mut sets = vec![];
    match layout.statistics {
        Statistics::PerChannel => {
            for ch in 0..c {
                sets.push(
                    (0..n)
                        .flat_map(|i| (0..s).map(move |p| at(i, ch, p)))
                        .collect(),
                );
            }
        }
        Statistics::PerGroup(g) => {
            let cg = c / g;
            for i in 0..n {
                for gr in 0..g {
                    sets.push(
                        (gr * cg..(gr + 1) * cg)
                            .flat_map(|ch| (0..s).map(move |p| at(i, ch, p)))
                            .collect(),
                    );
                }
            }
        }
    }
    let affine = (0..n * c * s)
        .map(|k| match layout.affine {
            Affine::PerChannel => (k / s) % c,
            Affine::PerElement => k % (c * s),
        })
        .collect();
    (sets, affine)
}

pub struct Reference {
    pub y: Vec<f64>,
    pub mean: Vec<f64>,
    pub invstd: Vec<f64>,
    pub dx: Vec<f64>,
    pub dw: Vec<f64>,
    pub db: Vec<f64>,
}

/// The f64 reference, written from the definitions: statistics per group, `x̂`, `y = γ x̂ + β`,
/// and the closed-form gradient `dx = σ⁻¹ (g − E g − x̂ E[g x̂])`, `g = γ dy`.
pub fn reference(
    x: &[f64],
    dims: &[usize],
    layout: NormLayout,
    w: &[f64],
    b: &[f64],
    dy: &[f64],
    eps: f64,
) -> Reference {
    let (sets, affine) = groups(dims, layout);
    let mut r = Reference {
        y: vec![0.0; x.len()],
        mean: vec![],
        invstd: vec![],
        dx: vec![0.0; x.len()],
        dw: vec![0.0; w.len()],
        db: vec![0.0; w.len()],
    };
    for set in &sets {
        let m = set.len() as f64;
        let mu = if layout.centered {
            set.iter().map(|&i| x[i]).sum::<f64>() / m
        } else {
            0.0
        };
        let var = set.iter().map(|&i| (x[i] - mu).powi(2)).sum::<f64>() / m;
        let inv = 1.0 / (var + eps).sqrt();
        r.mean.push(mu);
        r.invstd.push(inv);
        let xhat = |i: usize| (x[i] - mu) * inv;
        let g = |i: usize| w[affine[i]] * dy[i];
        let mean_g = set.iter().map(|&i| g(i)).sum::<f64>() / m;
        let mean_gx = set.iter().map(|&i| g(i) * xhat(i)).sum::<f64>() / m;
        for &i in set {
            r.y[i] = w[affine[i]] * xhat(i) + b[affine[i]];
            let centre = if layout.centered { mean_g } else { 0.0 };
            r.dx[i] = inv * (g(i) - centre - xhat(i) * mean_gx);
            r.dw[affine[i]] += dy[i] * xhat(i);
            r.db[affine[i]] += dy[i];
        }
    }
    r
}

fn layouts(c: usize) -> Vec<(&'static str, NormLayout)> {
    let mut list = vec![
        ("batch", NormLayout::BATCH),
        (
            "variance-only",
            NormLayout {
                centered: false,
                ..NormLayout::BATCH
            },
        ),
        ("layer", NormLayout::LAYER),
        ("rms", NormLayout::RMS),
        ("group(1)", NormLayout::group(1)),
        ("instance", NormLayout::group(c)),
    ];
    if c.is_multiple_of(2) {
        list.push(("group(2)", NormLayout::group(2)));
    }
    list
}

pub fn check<const D: usize>(device: &Device, name: &str, dims: [usize; D]) {
    let len: usize = dims.iter().product();
    let c = dims[1];
    let spatial = len / dims[0] / c;
    // A group of one value (InstanceNorm on [N, C]) has x̂ = 0 and dx = 0: nothing to compare.
    for (layout_name, layout) in layouts(c)
        .into_iter()
        .filter(|(n, _)| spatial > 1 || *n != "instance")
    {
        let affine_len = match layout.affine {
            Affine::PerChannel => c,
            Affine::PerElement => len / dims[0],
        };
        // Each channel and each sample its own offset and scale, so that reading another
        // group's statistics or parameters shows.
        let x: Vec<f64> = randn(len, 1, 3.0, 2.0)
            .into_iter()
            .enumerate()
            .map(|(k, v)| {
                let (sample, channel) = (k / (c * spatial), (k / spatial) % c);
                v * (1.0 + 0.25 * (channel % 3) as f64) + channel as f64 - 0.5 * (sample % 4) as f64
            })
            .collect();
        let dy = randn(len, 2, 0.0, 1.0);
        let w = randn(affine_len, 3, 1.0, 0.4);
        let b = randn(affine_len, 4, 0.0, 0.5);
        let eps = 1e-5;
        let r = reference(&x, &dims, layout, &w, &b, &dy, eps);
        let what = format!("{name} {dims:?} {layout_name}");
        for kernel in [Kernel::Fused, Kernel::Composed] {
            let wt = tensor(&w, [affine_len], device);
            let out = normalize(
                tensor(&x, dims, device),
                wt.clone(),
                tensor(&b, [affine_len], device),
                layout,
                eps,
                kernel,
            );
            let tol = 1e-5;
            let e = rel_error(&values(out.output), &r.y);
            assert!(e < tol, "{what} {kernel:?}: output error {e:.2e}");
            let e = rel_error(&values(out.invstd.clone()), &r.invstd);
            assert!(e < tol, "{what} {kernel:?}: invstd error {e:.2e}");
            if layout.centered {
                let e = rel_error(&values(out.mean.clone()), &r.mean);
                assert!(e < tol, "{what} {kernel:?}: mean error {e:.2e}");
            }
            let (dx, dw, db) = normalize_backward(
                tensor(&x, dims, device),
                wt,
                out.mean,
                out.invstd,
                tensor(&dy, dims, device),
                layout,
                eps,
                kernel,
            );
            let tol = 1e-4;
            let e = rel_error(&values(dx), &r.dx);
            assert!(e < tol, "{what} {kernel:?}: dx error {e:.2e}");
            let e = rel_error(&values(dw), &r.dw);
            assert!(e < tol, "{what} {kernel:?}: dweight error {e:.2e}");
            let e = rel_error(&values(db), &r.db);
            assert!(e < tol, "{what} {kernel:?}: dbias error {e:.2e}");
        }
    }
}

pub fn check_affine<const D: usize>(device: &Device, dims: [usize; D]) {
    let len: usize = dims.iter().product();
    let (c, s) = (dims[1], len / dims[0] / dims[1]);
    let x = randn(len, 5, 1.0, 2.0);
    let scale = randn(c, 6, 1.0, 0.5);
    let shift = randn(c, 7, 0.0, 1.0);
    let expected: Vec<f64> = (0..len)
        .map(|k| x[k] * scale[(k / s) % c] + shift[(k / s) % c])
        .collect();
    for kernel in [Kernel::Fused, Kernel::Composed] {
        let y = channel_affine(
            tensor(&x, dims, device),
            tensor(&scale, [c], device),
            tensor(&shift, [c], device),
            kernel,
        );
        let e = rel_error(&values(y), &expected);
        assert!(
            e < 1e-6,
            "channel_affine {dims:?} {kernel:?}: error {e:.2e}"
        );
    }
}

/// Every shape the fused tests use, on one device.
pub fn check_all_shapes(device: &Device, name: &str) {
    check(device, name, [7, 3, 5, 3]); // odd everywhere
    check(device, name, [13, 1, 17]); // one channel
    check(device, name, [5, 6]); // [N, C]
    check(device, name, [11, 4, 31]); // spatial just under the slab threshold
    check(device, name, [3, 2, 33]); // just over it
    check(device, name, [17, 2, 19, 3]); // batch a multiple of nothing
    check(device, name, [6, 5, 4099]); // over the parallel threshold, prime spatial size
    check(device, name, [1031, 64]); // many rows of [N, C]
    // The GPU kernels' paths: split rows with 4-wide vectors, GroupNorm(2) groups of exactly
    // the on-chip capacity (8192); short rows summed by columns; [N, C] past the capacity.
    check(device, name, [3, 4, 4096]);
    check(device, name, [2400, 4, 2, 2]);
    check(device, name, [9000, 3]);
    check_affine(device, [7, 3, 5, 3]);
    check_affine(device, [5, 6]);
    check_affine(device, [6, 5, 4099]);
}
