//! Gradients: burn's autodiff against central finite differences of the f64 references, for the
//! loss `L = Σ w ⊙ y` with random `w`.

use burn::module::Param;
use burn::tensor::{Device, Tensor};
use normscope::{
    BatchNormConfig, BatchRenormConfig, GhostBatchNormConfig, GroupNormConfig, InstanceNormConfig,
    LayerNormConfig, LpBatchNormConfig, LpOrder, MeanOnlyConfig, Mode, NoisyBatchNormConfig,
    Normalization, RmsNormConfig, VarianceOnlyConfig,
};

use super::*;
use crate::common::reference::{self as r, Ncs};
use crate::common::{randn, tensor, values};

type Reference<'a> = &'a dyn Fn(&[f64], &[f64], &[f64]) -> Vec<f64>;

fn loss(y: &[f64], w: &[f64]) -> f64 {
    y.iter().zip(w).map(|(a, b)| a * b).sum()
}

fn finite_difference(f: &dyn Fn(&[f64]) -> f64, at: &[f64]) -> Vec<f64> {
    let h = 1e-5;
    (0..at.len())
        .map(|i| {
            let mut plus = at.to_vec();
            let mut minus = at.to_vec();
            plus[i] += h;
            minus[i] -= h;
            (f(&plus) - f(&minus)) / (2.0 * h)
        })
        .collect()
}

/// Checks `∂L/∂x`, `∂L/∂γ`, `∂L/∂β` of `run` (which builds the layer around the given
/// parameters and runs it) against finite differences of `reference`.
fn check_gradients<const D: usize>(
    what: &str,
    device: &Device,
    dims: [usize; D],
    affine_len: usize,
    with_bias: bool,
    run: &dyn Fn(Tensor<D>, Param<Tensor<1>>, Param<Tensor<1>>) -> Tensor<D>,
    reference: Reference<'_>,
) {
    let len: usize = dims.iter().product();
    let x = input(len, 77);
    let w = randn(len, 78, 0.0, 1.0);
    let (gamma, beta) = gamma_beta(affine_len, 79);

    let xt = tensor(&x, dims, device).require_grad();
    let pg = Param::from_tensor(tensor(&gamma, [affine_len], device));
    let pb = Param::from_tensor(tensor(&beta, [affine_len], device));
    let y = run(xt.clone(), pg.clone(), pb.clone());
    let grads = y.mul(tensor(&w, dims, device)).sum().backward();
    let gx = values(xt.grad(&grads).expect("gradient of x"));
    let gg = values(pg.val().grad(&grads).expect("gradient of gamma"));

    let fx = finite_difference(&|xp| loss(&reference(xp, &gamma, &beta), &w), &x);
    let fg = finite_difference(&|gp| loss(&reference(&x, gp, &beta), &w), &gamma);
    let tol = 1e-4;
    assert_close(&gx, &fx, tol, &format!("{what}: dL/dx"));
    assert_close(&gg, &fg, tol, &format!("{what}: dL/dgamma"));
    if with_bias {
        let gb = values(pb.val().grad(&grads).expect("gradient of beta"));
        let fb = finite_difference(&|bp| loss(&reference(&x, &gamma, bp), &w), &beta);
        assert_close(&gb, &fb, tol, &format!("{what}: dL/dbeta"));
    }
}

pub fn gradients(device: &Device) {
    assert!(
        device.is_autodiff(),
        "gradient tests need an autodiff device"
    );
    let dims = [4, 4, 5];
    let sh = Ncs::of(&dims);
    let c = sh.c;
    let d = c * sh.s;

    check_gradients(
        "BatchNorm train",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = BatchNormConfig::new().init(c, device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::batch_norm_train(x, sh, g, b, EPS, 0.1, &mut r::Running::new(c)),
    );

    check_gradients(
        "BatchNorm eval",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = BatchNormConfig::new().init(c, device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Eval)
        },
        &|x, g, b| r::batch_norm_eval(x, sh, g, b, EPS, &r::Running::new(c)),
    );

    check_gradients(
        "GhostBatchNorm",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = GhostBatchNormConfig::new()
                .with_virtual_batch_size(2)
                .init(c, device)
                .unwrap();
            (l.inner.weight, l.inner.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::ghost_batch_norm_train(x, sh, 2, g, b, EPS, 0.1, &mut r::Running::new(c)),
    );

    // r and d are constants of the gradient (stop_grad in Ioffe 2017).
    let x0 = input(sh.len(), 77);
    let (_, fixed) = r::batch_renorm_train(
        &x0,
        sh,
        &vec![1.0; c],
        &vec![0.0; c],
        EPS,
        1.5,
        0.5,
        0.1,
        &mut r::Running::new(c),
        None,
    );
    check_gradients(
        "BatchRenorm",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = BatchRenormConfig::new()
                .with_r_max(1.5)
                .with_d_max(0.5)
                .init(c, device)
                .unwrap();
            (l.inner.weight, l.inner.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| {
            r::batch_renorm_train(
                x,
                sh,
                g,
                b,
                EPS,
                1.5,
                0.5,
                0.1,
                &mut r::Running::new(c),
                Some(&fixed),
            )
            .0
        },
    );

    check_gradients(
        "LayerNorm",
        device,
        dims,
        d,
        true,
        &|x, g, b| {
            let mut l = LayerNormConfig::new().init(&dims[1..], device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::layer_norm(x, sh.n, d, g, b, EPS),
    );

    check_gradients(
        "GroupNorm(2)",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = GroupNormConfig::new()
                .with_groups(2)
                .init(c, device)
                .unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::group_norm(x, sh, 2, g, b, EPS).0,
    );

    check_gradients(
        "InstanceNorm",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = InstanceNormConfig::new()
                .with_affine(true)
                .init(c, device)
                .unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::group_norm(x, sh, c, g, b, EPS).0,
    );

    check_gradients(
        "RmsNorm",
        device,
        dims,
        d,
        false,
        &|x, g, _| {
            let mut l = RmsNormConfig::new()
                .with_eps(Some(1e-6))
                .init(&dims[1..], device)
                .unwrap();
            l.weight = Some(g);
            l.forward(x, Mode::Train)
        },
        &|x, g, _| r::rms_norm(x, sh.n, d, g, 1e-6),
    );

    for (p, order) in [
        (1.0, LpOrder::L1),
        (2.0, LpOrder::L2),
        (f64::INFINITY, LpOrder::Inf),
    ] {
        check_gradients(
            &format!("LpBatchNorm p={p}"),
            device,
            dims,
            c,
            true,
            &|x, g, b| {
                let mut l = LpBatchNormConfig::new()
                    .with_p(order)
                    .init(c, device)
                    .unwrap();
                (l.weight, l.bias) = (Some(g), Some(b));
                l.forward(x, Mode::Train)
            },
            &|x, g, b| r::lp_batch_norm(x, sh, p, g, b, EPS).0,
        );
    }

    check_gradients(
        "VarianceOnly",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = VarianceOnlyConfig::new().init(c, device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::variance_only(x, sh, g, b, EPS).0,
    );

    check_gradients(
        "MeanOnly",
        device,
        dims,
        c,
        true,
        &|x, g, b| {
            let mut l = MeanOnlyConfig::new().init(c, device).unwrap();
            (l.weight, l.bias) = (Some(g), Some(b));
            l.forward(x, Mode::Train)
        },
        &|x, g, b| r::mean_only(x, sh, g, b).0,
    );

    // NoisyBatchNorm's noise is `s ⊙ y + m` with `s`, `m` constants of the graph: with `s = 1`
    // its gradients are BatchNorm's; with `s ~ U(1, 1.5)` each channel's gradient is BatchNorm's
    // times that channel's `s`.
    let x = input(sh.len(), 3);
    let w = tensor(&randn(sh.len(), 4, 0.0, 1.0), dims, device);
    let grad_of = |noisy: Option<f64>| {
        let xt = tensor(&x, dims, device).require_grad();
        let y = match noisy {
            Some(scale_max) => NoisyBatchNormConfig::new()
                .with_noise_scale_max(scale_max)
                .init(c, device)
                .unwrap()
                .forward(xt.clone(), Mode::Train),
            None => BatchNormConfig::new()
                .init(c, device)
                .unwrap()
                .forward(xt.clone(), Mode::Train),
        };
        values(xt.grad(&y.mul(w.clone()).sum().backward()).unwrap())
    };
    let plain = grad_of(None);
    assert_close(
        &grad_of(Some(1.0)),
        &plain,
        1e-5,
        "NoisyBatchNorm gradient (additive noise only) is BatchNorm's",
    );
    let scaled = grad_of(Some(1.5));
    for ch in 0..c {
        let idx: Vec<usize> = (0..sh.n)
            .flat_map(|n| (0..sh.s).map(move |s| sh.at(n, ch, s)))
            .collect();
        let ratio = idx.iter().map(|&i| scaled[i] * plain[i]).sum::<f64>()
            / idx.iter().map(|&i| plain[i] * plain[i]).sum::<f64>();
        assert!(
            (1.0 - 1e-4..=1.5 + 1e-4).contains(&ratio),
            "channel {ch}: NoisyBatchNorm gradient is {ratio}× BatchNorm's, not in [1, 1.5]"
        );
        let expected: Vec<f64> = idx.iter().map(|&i| ratio * plain[i]).collect();
        let got: Vec<f64> = idx.iter().map(|&i| scaled[i]).collect();
        assert_close(
            &got,
            &expected,
            1e-4,
            "NoisyBatchNorm gradient is BatchNorm's times the channel's scale",
        );
    }
}
