//! The report's registries: the four explanations it tests, the intervention that tests each,
//! and the roles of the battery's arms. Everything that must handle every explanation matches on
//! [`Explanation`], so a fifth one is a compile error wherever it needs a case; the serialized
//! ids (`covariate-shift`, `intervention-noise`, the arms' labels) are the ones run directories
//! and `results.json` have always used.

use serde::{Deserialize, Serialize};

/// One explanation of why BatchNorm works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Explanation {
    /// Ioffe & Szegedy 2015: BN keeps each layer's input distribution from drifting.
    CovariateShift,
    /// Santurkar et al. 2018: a smoother landscape, more predictive gradients.
    Smoothness,
    /// De & Smith 2020: residual blocks biased toward the identity at initialization.
    IdentityBias,
    /// Daneshmand et al. 2020: representations kept from collapsing toward rank one.
    RankCollapse,
}

/// Which way an explanation says its metric acts on training speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sign {
    /// More of the metric, slower training (BatchNorm should lower it).
    SlowsTraining,
    /// More of the metric, faster training (BatchNorm should raise it).
    SpeedsTraining,
}

impl Sign {
    /// `+1` for [`Sign::SlowsTraining`], `−1` for [`Sign::SpeedsTraining`]: the sign the
    /// metric's correlation with the final loss should have.
    pub fn value(self) -> f64 {
        match self {
            Sign::SlowsTraining => 1.0,
            Sign::SpeedsTraining => -1.0,
        }
    }
}

impl Explanation {
    /// Every explanation, in the report's order.
    pub const ALL: [Explanation; 4] = [
        Explanation::CovariateShift,
        Explanation::Smoothness,
        Explanation::IdentityBias,
        Explanation::RankCollapse,
    ];

    /// The section id (`covariate-shift`).
    pub fn id(self) -> &'static str {
        match self {
            Explanation::CovariateShift => "covariate-shift",
            Explanation::Smoothness => "smoothness",
            Explanation::IdentityBias => "identity-bias",
            Explanation::RankCollapse => "rank-collapse",
        }
    }

    /// Its place in the report, from 1.
    pub fn number(self) -> usize {
        Explanation::ALL
            .iter()
            .position(|&e| e == self)
            .expect("every explanation is in ALL")
            + 1
    }

    /// The explanation in a few words (its section's title).
    pub fn name(self) -> &'static str {
        match self {
            Explanation::CovariateShift => "Reduction of internal covariate shift",
            Explanation::Smoothness => "A smoother loss landscape, more predictive gradients",
            Explanation::IdentityBias => "Residual blocks biased toward the identity",
            Explanation::RankCollapse => "Avoidance of rank collapse",
        }
    }

    /// The short name in the navigation bar (after its number).
    pub fn short_name(self) -> &'static str {
        match self {
            Explanation::CovariateShift => "Internal covariate shift",
            Explanation::Smoothness => "Smoothness",
            Explanation::IdentityBias => "Identity bias",
            Explanation::RankCollapse => "Rank collapse",
        }
    }

    /// Who proposed it (and where the metric comes from).
    pub fn paper(self) -> &'static str {
        match self {
            Explanation::CovariateShift => {
                "Ioffe & Szegedy 2015 (metric: Santurkar et al. 2018, Def. 2.1)"
            }
            Explanation::Smoothness => "Santurkar et al. 2018",
            Explanation::IdentityBias => "De & Smith 2020",
            Explanation::RankCollapse => "Daneshmand et al. 2020",
        }
    }

    /// The metric the battery measures for it.
    pub fn metric(self) -> &'static str {
        match self {
            Explanation::CovariateShift => {
                "relative gradient shift ‖G − G′‖₂/‖G‖₂ (the absolute ‖G − G′‖₂ of Def. 2.1 is reported beside it)"
            }
            Explanation::Smoothness => "effective β-smoothness along the gradient",
            Explanation::IdentityBias => {
                "residual branch's share of the block output variance at initialization"
            }
            Explanation::RankCollapse => {
                "effective rank of the last block's output at initialization / batch size"
            }
        }
    }

    /// The metric as an axis label.
    pub fn symbol(self) -> &'static str {
        match self {
            Explanation::CovariateShift => "‖G − G′‖/‖G‖",
            Explanation::Smoothness => "β",
            Explanation::IdentityBias => "branch share",
            Explanation::RankCollapse => "effective rank / N",
        }
    }

    /// What the explanation predicts about its metric.
    pub fn predicts(self) -> Sign {
        match self {
            Explanation::CovariateShift | Explanation::Smoothness | Explanation::IdentityBias => {
                Sign::SlowsTraining
            }
            Explanation::RankCollapse => Sign::SpeedsTraining,
        }
    }

    /// The intervention that tests it.
    pub fn intervention(self) -> InterventionKind {
        match self {
            Explanation::CovariateShift => InterventionKind::Noise,
            Explanation::Smoothness => InterventionKind::LearningRates,
            Explanation::IdentityBias => InterventionKind::SkipInitDepth,
            Explanation::RankCollapse => InterventionKind::RankPretraining,
        }
    }
}

/// An intervention: an experiment that changes one explanation's mechanism with the rest held
/// fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterventionKind {
    /// Noise after every BatchNorm (Santurkar et al. 2018, §2.1).
    Noise,
    /// The learning-rate range with and without BatchNorm (Bjorck et al. 2018).
    LearningRates,
    /// SkipInit against BatchNorm across depths, learning rates, budgets and batch sizes, each
    /// arm at its own best rate (De & Smith 2020).
    SkipInitDepth,
    /// Plain networks across depths, vanilla against BatchNorm and against vanilla after rank
    /// pre-training (Daneshmand et al. 2020).
    RankPretraining,
}

impl InterventionKind {
    /// The explanation it tests.
    pub fn explanation(self) -> Explanation {
        match self {
            InterventionKind::Noise => Explanation::CovariateShift,
            InterventionKind::LearningRates => Explanation::Smoothness,
            InterventionKind::SkipInitDepth => Explanation::IdentityBias,
            InterventionKind::RankPretraining => Explanation::RankCollapse,
        }
    }

    /// The section id (`intervention-noise`).
    pub fn id(self) -> &'static str {
        match self {
            InterventionKind::Noise => "intervention-noise",
            InterventionKind::LearningRates => "intervention-lr",
            InterventionKind::SkipInitDepth => "intervention-skipinit",
            InterventionKind::RankPretraining => "intervention-rank-pretraining",
        }
    }

    /// What was done, in a few words.
    pub fn name(self) -> &'static str {
        match self {
            InterventionKind::Noise => "Noise after every BatchNorm",
            InterventionKind::LearningRates => "The learning-rate range",
            InterventionKind::SkipInitDepth => {
                "SkipInit against BatchNorm, each at its best learning rate"
            }
            InterventionKind::RankPretraining => "Plain networks with rank pre-training",
        }
    }

    /// The short name in the navigation bar (after its number).
    pub fn short_name(self) -> &'static str {
        match self {
            InterventionKind::Noise => "Noise after BatchNorm",
            InterventionKind::LearningRates => "Learning-rate range",
            InterventionKind::SkipInitDepth => "SkipInit vs BatchNorm",
            InterventionKind::RankPretraining => "Rank pre-training",
        }
    }

    /// The arm whose effect it judges against `none` and `BatchNorm`.
    pub fn arm(self) -> Role {
        match self {
            InterventionKind::Noise => Role::Noisy,
            InterventionKind::LearningRates => Role::BatchNorm,
            InterventionKind::SkipInitDepth => Role::SkipInit,
            InterventionKind::RankPretraining => Role::Pretrained,
        }
    }
}

/// The role of an arm of the battery or of a sweep, by which the interventions find it. An arm
/// has a role when its label is the role's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// No normalization: every intervention's baseline.
    None,
    /// BatchNorm.
    BatchNorm,
    /// BatchNorm with noise after it (Santurkar et al. 2018).
    Noisy,
    /// The same noise without BatchNorm: a control arm.
    NoiseOnly,
    /// Identity at initialization without normalization (De & Smith 2020).
    SkipInit,
    /// A rank-preserving initialisation without normalization.
    Orthogonal,
    /// A plain network rank pre-trained before training (Daneshmand et al. 2020).
    Pretrained,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::None,
        Role::BatchNorm,
        Role::Noisy,
        Role::NoiseOnly,
        Role::SkipInit,
        Role::Orthogonal,
        Role::Pretrained,
    ];

    /// The label an arm of this role has.
    pub fn label(self) -> &'static str {
        match self {
            Role::None => "none",
            Role::BatchNorm => "BatchNorm",
            Role::Noisy => "NoisyBatchNorm",
            Role::NoiseOnly => "NoiseOnly",
            Role::SkipInit => "SkipInit",
            Role::Orthogonal => "Orthogonal",
            Role::Pretrained => "Pretrained",
        }
    }

    /// The role of the arm labelled `label`, if it has one.
    pub fn of(label: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.label() == label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_explanation_has_its_own_intervention_and_ids_are_unique() {
        for e in Explanation::ALL {
            assert_eq!(e.intervention().explanation(), e);
            assert_eq!(
                serde_json::to_value(e).unwrap(),
                serde_json::Value::from(e.id())
            );
        }
        let mut ids: Vec<&str> = Explanation::ALL
            .iter()
            .flat_map(|e| [e.id(), e.intervention().id()])
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 8);
        for r in Role::ALL {
            assert_eq!(Role::of(r.label()), Some(r));
        }
        assert_eq!(Role::of("batchnorm"), None);
    }
}
