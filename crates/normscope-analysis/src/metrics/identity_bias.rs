//! Identity bias of residual blocks (De & Smith 2020; Brock et al. 2021's signal-propagation
//! plots): how large each block's residual branch is next to its skip path, at initialization.
//!
//! Per block, with statistics per channel over the batch and spatial positions, averaged over
//! channels (`nfnets/base.py::signal_metrics`):
//! - `skip_var`: average channel variance of the skip path `x_ℓ` (after the projection in a
//!   transition block);
//! - `branch_var`: the same for the residual branch `f(x_ℓ)` before the addition;
//! - `output_var`: the same for the block output `x_{ℓ+1} = x_ℓ + f(x_ℓ)`;
//! - `branch_share = branch_var / output_var`: the branch's share of the output variance;
//! - `avg_sq_mean`: average squared channel mean of the output;
//! - `skip_power`, `branch_power`, `output_power`: the mean square `E[x²] = var + mean²`
//!   averaged over channels. A ReLU branch has non-zero channel means, so part of its signal is
//!   in `avg_sq_mean` rather than the variance; the power is what adds up block after block.
//!
//! De & Smith's bookkeeping: without normalization `Var(x_{ℓ+1}) = 2 Var(x_ℓ)` (growth `2^ℓ`);
//! with BN before the branch `Var(x_{ℓ+1}) ≈ Var(x_ℓ) + 1` (growth `ℓ + 1`), so the branch's
//! share is `≈ 1/(ℓ + 1)`; SkipInit with `α = 0` keeps the variance constant.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::models::{Probe, Site};

/// The signal statistics of one residual block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockSignal {
    /// Block index in forward order.
    pub block: usize,
    /// Average channel variance of the skip path.
    pub skip_var: f64,
    /// Average channel variance of the residual branch.
    pub branch_var: f64,
    /// Average channel variance of the block output.
    pub output_var: f64,
    /// `branch_var / output_var`.
    pub branch_share: f64,
    /// Average squared channel mean of the block output.
    pub avg_sq_mean: f64,
    /// `E[x²]` of the skip path (variance plus squared mean, averaged over channels).
    pub skip_power: f64,
    /// `E[f(x)²]` of the branch.
    pub branch_power: f64,
    /// `E[x_{ℓ+1}²]` of the output.
    pub output_power: f64,
}

/// `(average channel variance, average squared channel mean)` of `[N, C, H, W]`.
pub fn channel_signal(x: Tensor<4>) -> (f64, f64) {
    let [n, c, h, w] = x.dims();
    let per_channel = x.swap_dims(0, 1).reshape([c, n * h * w]);
    let (var, mean) = per_channel.var_mean_bias(1);
    let avg_var = var.mean().into_scalar::<f32>() as f64;
    let avg_sq_mean = mean.square().mean().into_scalar::<f32>() as f64;
    (avg_var, avg_sq_mean)
}

/// The signal statistics of every residual block a probe recorded (its [`Site::Skip`] and
/// [`Site::Branch`] observations, paired in order). A block whose signal is not finite (a deep
/// network that diverged at initialization) has NaN or infinite statistics: recorded, not an
/// error.
pub fn identity_bias(probe: &Probe) -> Vec<BlockSignal> {
    probe
        .at(Site::Skip)
        .zip(probe.at(Site::Branch))
        .enumerate()
        .map(|(block, (skip, branch))| {
            let (skip_var, skip_sq_mean) = channel_signal(skip.value.clone());
            let (branch_var, branch_sq_mean) = channel_signal(branch.value.clone());
            let (output_var, avg_sq_mean) =
                channel_signal(skip.value.clone().add(branch.value.clone()));
            BlockSignal {
                block,
                skip_var,
                branch_var,
                output_var,
                // NaN when the block's signal is not finite (diverged at initialization).
                branch_share: if output_var == 0.0 {
                    0.0
                } else {
                    branch_var / output_var
                },
                avg_sq_mean,
                skip_power: skip_var + skip_sq_mean,
                branch_power: branch_var + branch_sq_mean,
                output_power: output_var + avg_sq_mean,
            }
        })
        .collect()
}
