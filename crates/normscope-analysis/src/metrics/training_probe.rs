//! The mechanisms' quantities at any training step, not only at initialization: rank collapse
//! (Daneshmand et al. 2020), sample similarity (Lubana et al. 2021), identity bias (De & Smith
//! 2020) and the per-layer gradient norms (Yang et al. 2019; Lubana et al.'s "stable backward
//! propagation"), measured on one batch of the network as it is at that step. Lubana et al.
//! (`EkdeepSLubana/BeyondBatchNorm`) record such probes at every iteration; a [`TrainingProbe`]
//! per probe step is their curve.
//!
//! The measurement is the at-initialization one (the report's `init_unit`) at the current
//! weights: one forward in **train mode** (batch statistics — the network as it trains) with
//! [`Probe::with_gradients`], the mean cross-entropy's backward, then per hidden representation
//! `H_ℓ` (every block output of a ResNet, every layer output of a VGG or an MLP):
//! - the rank measures of `H_ℓ` ([`rank_measures_of`]) and `rank` = effective rank of the last
//!   one over the batch size `N` (1 = full rank, `1/N` = rank one);
//! - the sample similarity of `H_ℓ` ([`sample_similarity_of`]): mean pairwise cosine and the
//!   Gram matrix's stable rank;
//! - per residual block, the skip/branch signal ([`identity_bias`]) and `branch_share` =
//!   its mean over blocks (`NaN` for a network without residual blocks);
//! - `‖∂L/∂H_ℓ‖²` (summed over the batch).
//!
//! At step 0 it equals the at-initialization measurement on the same batch (`tests/landscape.rs`).
//! It runs on an independent copy of the network, so the model's running statistics are not
//! touched. Cost: one forward and one backward on the batch, one SVD of `N × d_ℓ` and one
//! `N × N` Gram matrix per hidden representation.

use burn::tensor::{Int, Tensor};
use normscope_core::Mode;
use serde::{Deserialize, Serialize};

use super::identity_bias::{BlockSignal, identity_bias};
use super::rank_collapse::{RankMeasures, rank_measures_of};
use super::sample_similarity::{Similarity, sample_similarity_of};
use crate::AnalysisError;
use crate::models::{Network, NetworkConfig, ParamLayout, Probe, Site};
use crate::train::cross_entropy;

/// The mechanisms' quantities at one training step, on one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingProbe {
    /// Training steps taken before the measurement.
    pub step: usize,
    /// Samples in the batch (`N`).
    pub batch: usize,
    /// The batch's mean cross-entropy (train mode).
    pub loss: f64,
    /// Effective rank of the last hidden representation over `N`.
    pub rank: f64,
    /// The rank measures of every hidden representation, in forward order.
    pub ranks: Vec<RankMeasures>,
    /// The sample similarity of every hidden representation.
    pub similarity: Vec<Similarity>,
    /// The skip/branch signal of every residual block (empty without residual blocks).
    pub blocks: Vec<BlockSignal>,
    /// The mean branch share over the residual blocks (`NaN` without residual blocks).
    pub branch_share: f64,
    /// `‖∂L/∂H_ℓ‖²` of every hidden representation.
    pub grad_norms: Vec<f64>,
}

impl TrainingProbe {
    /// The mean pairwise cosine of the last hidden representation.
    pub fn mean_cosine(&self) -> f64 {
        self.similarity
            .last()
            .map(|s| s.mean_cosine)
            .unwrap_or(f64::NAN)
    }
}

/// The probe of `model` (built from `config`, on any device) on the batch `(x, y)` after `step`
/// training steps; stochastic layers draw from the device's generator seeded with `noise_seed`.
pub fn training_probe(
    config: &NetworkConfig,
    model: &Network,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    step: usize,
    noise_seed: u64,
) -> Result<TrainingProbe, AnalysisError> {
    let device = x.device().inner().autodiff();
    let copy = config.init(&device)?;
    let state = ParamLayout::with_buffers(&copy);
    let copy = state.assign(copy, &state.values(model), &device);
    let x = Tensor::<4>::from_data(x.to_data(), &device);
    let y = Tensor::<1, Int>::from_data(y.to_data(), &device);
    let n = x.dims()[0];
    device.seed(noise_seed);
    let mut probe = Probe::with_gradients();
    let logits = copy.forward(x, Mode::Train, &mut probe)?;
    let loss = cross_entropy(logits, y);
    let value = loss.clone().into_scalar::<f32>() as f64;
    let grads = loss.backward();
    let ranks: Vec<RankMeasures> = probe
        .at(Site::Hidden)
        .map(|o| rank_measures_of(o.value.clone()))
        .collect();
    let blocks = identity_bias(&probe);
    let branch_share = if blocks.is_empty() {
        f64::NAN
    } else {
        blocks.iter().map(|b| b.branch_share).sum::<f64>() / blocks.len() as f64
    };
    Ok(TrainingProbe {
        step,
        batch: n,
        loss: value,
        rank: ranks
            .last()
            .map(|r| r.effective_rank / n as f64)
            .unwrap_or(f64::NAN),
        similarity: probe
            .at(Site::Hidden)
            .map(|o| sample_similarity_of(o.value.clone()))
            .collect(),
        ranks,
        blocks,
        branch_share,
        grad_norms: probe
            .at(Site::Hidden)
            .map(|o| {
                o.gradient(&grads)
                    .map(|g| g.square().sum().into_scalar::<f32>() as f64)
                    .unwrap_or(f64::NAN)
            })
            .collect(),
    })
}
