//! The backend suite: every normalizer against the f64 references ([`batch_family`],
//! [`per_sample`]), gradients against finite differences ([`gradients`]), the large-offset
//! precision case ([`precision`]). Each function takes the device to run on; `tests/backends.rs`
//! instantiates them once per backend (with and without autodiff). This file holds what they
//! share: tolerances, parameters, inputs, the shapes every case runs on.

use burn::module::Param;
use burn::tensor::{Device, Tensor};

use super::reference as r;
use super::{randn, tensor, values};

/// Runs `f` on a 2-D, a 3-D and a 4-D shape (`[N, C]`, `[N, C, L]`, `[N, C, H, W]`), with `C`
/// divisible by 2 and `N` divisible by 2.
macro_rules! each_shape {
    ($f:ident, $device:expr) => {{
        $f([6, 4], $device);
        $f([4, 4, 5], $device);
        $f([2, 4, 3, 5], $device);
    }};
}

pub mod batch_family;
pub mod gradients;
pub mod per_sample;
pub mod precision;
pub mod running;

// Each test binary runs a different part of the suite.
#[allow(unused_imports)]
pub use batch_family::{
    batch_norm, batch_renorm, ghost_batch_norm, lp_batch_norm, mean_only, noisy_batch_norm,
    variance_only,
};
#[allow(unused_imports)]
pub use gradients::gradients;
#[allow(unused_imports)]
pub use per_sample::{group_norm, identity, instance_norm, layer_norm, rms_norm};
#[allow(unused_imports)]
pub use precision::large_offset;
#[allow(unused_imports)]
pub use running::running_statistics;

const EPS: f64 = 1e-5;
const MOMENTUM: f64 = 0.2;
/// Relative tolerance (‖got − expected‖/‖expected‖) of f32 layers against the f64 references.
const TOL: f64 = 2e-5;

fn assert_close(got: &[f64], expected: &[f64], tol: f64, what: &str) {
    let err = r::rel_error(got, expected);
    assert!(
        err <= tol,
        "{what}: relative error {err:.3e} > {tol:.0e}\n got      {:?}\n expected {:?}",
        &got[..got.len().min(6)],
        &expected[..expected.len().min(6)]
    );
}

fn gamma_beta(c: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    (randn(c, seed, 1.0, 0.3), randn(c, seed + 1, 0.0, 0.5))
}

fn param(v: &[f64], device: &Device) -> Option<Param<Tensor<1>>> {
    Some(Param::from_tensor(tensor(v, [v.len()], device)))
}

fn input(len: usize, step: u64) -> Vec<f64> {
    randn(len, 1000 + step, 2.0, 3.0)
}

fn running_values(state: &Option<burn::module::RunningState<Tensor<1>>>) -> Vec<f64> {
    values(state.as_ref().expect("running statistic").value_sync())
}

/// The layer's running mean and variance against the reference's, within `tol`.
fn assert_running(
    mean: &Option<burn::module::RunningState<Tensor<1>>>,
    var: &Option<burn::module::RunningState<Tensor<1>>>,
    expected: &r::Running,
    tol: f64,
    what: &str,
) {
    let mean_what = format!("{what} running mean");
    assert_close(&running_values(mean), &expected.mean, tol, &mean_what);
    let var_what = format!("{what} running var");
    assert_close(&running_values(var), &expected.var, tol, &var_what);
}
