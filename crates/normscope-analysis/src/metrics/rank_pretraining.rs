//! Rank pre-training (Daneshmand, Kohler, Bach, Hofmann & Lucchi 2020, *Batch normalization
//! provably avoids rank collapse for randomly initialised deep networks*, §5 and its Fig. 4;
//! the authors' `code_fig_4_pre_training.py`): before SGD on the task, an unnormalized network is
//! trained to maximise the *soft rank* of its last hidden layer on a batch `H ∈ ℝ^{N×d}`,
//!
//! ```text
//! soft rank(H) = tr(M)² / ‖M‖_F²,   M = H Hᵀ,
//! ```
//!
//! the lower bound on rank(H) that their analysis uses (`(Σλ)²/Σλ² ≤ rank`), by minimising
//! `‖M‖_F / tr(M)` with plain SGD. The paper's claim is that the pre-trained vanilla network then
//! trains faster, approaching BatchNorm: rank at initialization is what BatchNorm buys.
//!
//! The authors pre-train for 1000 batches × 40 steps at learning rate 0.001 on CIFAR-10; normscope
//! runs `steps` steps on successive training batches (default 200 at 0.01: the soft rank of a
//! collapsed plain MLP at initialization then rises toward BatchNorm's, which
//! `tests/analysis_init.rs` checks).

use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use normscope_core::Mode;
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::data::Dataset;
use crate::train::{Sgd, SgdConfig, Trainer};

/// How the pre-training runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RankPretrainingConfig {
    /// SGD steps on the soft-rank loss (0: none).
    pub steps: usize,
    /// Their learning rate (plain SGD, no momentum).
    pub lr: f64,
}

impl Default for RankPretrainingConfig {
    fn default() -> Self {
        RankPretrainingConfig {
            steps: 200,
            lr: 0.01,
        }
    }
}

/// `tr(M)² / ‖M‖_F²` of `M = H Hᵀ` for a batch `h` of shape `[N, d]`: between 1 (rank one) and
/// `min(N, d)` (orthogonal rows of equal norm). NaN when `h` is zero or not finite.
pub fn soft_rank(h: Tensor<2>) -> f64 {
    let m = h.clone().matmul(h.clone().transpose());
    let trace = h.square().sum().into_scalar::<f32>() as f64;
    let frobenius2 = m.square().sum().into_scalar::<f32>() as f64;
    let rank = trace * trace / frobenius2;
    if rank.is_finite() { rank } else { f64::NAN }
}

/// The pre-training loss `‖H Hᵀ‖_F / tr(H Hᵀ)` = `1/√(soft rank)`, in the graph.
fn loss(h: Tensor<2>) -> Tensor<1> {
    let m = h.clone().matmul(h.clone().transpose());
    m.square().sum().sqrt() / h.square().sum()
}

/// The soft rank before and after pre-training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pretrained {
    /// Soft rank of the last hidden layer on the first pre-training batch, before.
    pub before: f64,
    /// On the same batch, after.
    pub after: f64,
}

/// Pre-trains `trainer`'s model (an MLP: the soft rank is of its last hidden layer) for
/// `config.steps` steps on the next training batches of `data`, with plain SGD; the training
/// step count, the losses and the optimizer state of the run that follows are untouched.
pub fn pretrain_rank(
    trainer: &mut Trainer,
    data: &Dataset,
    config: &RankPretrainingConfig,
) -> Result<Pretrained, AnalysisError> {
    let hidden = |trainer: &Trainer, x: Tensor<4>| -> Result<Tensor<2>, AnalysisError> {
        match &trainer.model {
            crate::models::Network::Mlp(mlp) => Ok(mlp.hidden(x, Mode::Train)?),
            _ => Err(AnalysisError::Config {
                key: "network".into(),
                value: "not an MLP".into(),
                reason: "rank pre-training maximises the soft rank of an MLP's last hidden layer"
                    .into(),
            }),
        }
    };
    let (first, _) = trainer.next_tensors(data);
    let before = soft_rank(hidden(trainer, first.clone())?.detach());
    let mut sgd = Sgd::new(SgdConfig {
        momentum: 0.0,
        weight_decay: 0.0,
        agc: None,
    });
    for step in 0..config.steps {
        let x = if step == 0 {
            first.clone()
        } else {
            trainer.next_tensors(data).0
        };
        let loss = loss(hidden(trainer, x)?);
        let value = loss.clone().into_scalar::<f32>();
        if !value.is_finite() {
            break;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &trainer.model);
        trainer.model = sgd.step(config.lr, trainer.model.clone(), grads);
    }
    let after = soft_rank(hidden(trainer, first)?.detach());
    Ok(Pretrained { before, after })
}
