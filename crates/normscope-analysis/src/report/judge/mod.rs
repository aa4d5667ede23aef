//! From the units to the decisions — numbers only, no prose: each normalizer summarised
//! ([`per_norm`]), BatchNorm's effect on each explanation's metric ([`effect`]), each
//! explanation's intervention ([`intervention`]), the verdicts ([`verdict`](mod@verdict)) on the judged
//! evidence, and the trained networks' landscapes ([`landscape`](mod@landscape)). The sentences that say all this are `present::text`.

pub mod effect;
pub mod intervention;
pub mod landscape;
pub mod per_norm;
pub mod verdict;

use serde::{Deserialize, Serialize};

use self::effect::Effect;
use self::intervention::Intervention;
use self::landscape::{LandscapeSummary, landscape};
use self::per_norm::{NormSummary, Seeds, summarize_norms};
use self::verdict::{
    Direction, Evidence, EvidenceKind, Verdict, judge_correlation, judge_effect, verdict,
};
use super::config::ReportConfig;
use super::explanation::{Explanation, InterventionKind, Role};
use super::units::measure::Units;
use crate::stats::{Estimate, finite_mean, fnv1a, permutation_p, ratio_of_means, spearman};

/// One explanation, measured and judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mechanism {
    /// The explanation.
    #[serde(rename = "id")]
    pub explanation: Explanation,
    /// BatchNorm's effect on its metric, when the battery has `BatchNorm` and `none`.
    pub effect: Option<Effect>,
    /// For covariate shift, BatchNorm's effect on the absolute shift of Def. 2.1, reported
    /// beside the relative one the verdict uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_effect: Option<Effect>,
    /// Spearman correlation between the metric and the final training loss across the
    /// normalizers (a diverged normalizer ranks slowest; control arms left out).
    pub spearman: f64,
    /// Two-sided permutation p-value of `spearman`.
    pub p_value: f64,
    /// Spearman correlation between the metric and the steps to the target loss.
    pub spearman_steps: f64,
    /// Normalizers the correlations run over.
    pub normalizers: usize,
    /// The judged evidence the verdict rests on: intervention, effect, correlation.
    pub evidence: Vec<Evidence>,
    /// The verdict.
    pub verdict: Verdict,
}

impl Mechanism {
    /// The direction of the evidence of `kind`.
    pub fn direction(&self, kind: EvidenceKind) -> Direction {
        self.evidence
            .iter()
            .find(|e| e.kind == kind)
            .map_or(Direction::TooFew, |e| e.direction)
    }
}

/// The whole judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Per normalizer, in the battery's order.
    pub norms: Vec<NormSummary>,
    /// Per explanation, in [`Explanation::ALL`]'s order.
    pub mechanisms: Vec<Mechanism>,
    /// BatchNorm's final training loss over no normalization's, with Fieller's interval.
    pub speedup: Option<Estimate>,
    /// The interventions, one per explanation, in the same order.
    pub interventions: Vec<Intervention>,
    /// The trained networks' landscapes and Hessian spectra (under smoothness).
    #[serde(default)]
    pub landscape: LandscapeSummary,
}

impl Summary {
    /// The judgement of `explanation`.
    pub fn mechanism(&self, explanation: Explanation) -> &Mechanism {
        self.mechanisms
            .iter()
            .find(|m| m.explanation == explanation)
            .expect("a summary judges every explanation")
    }

    /// The intervention of `kind`.
    pub fn intervention(&self, kind: InterventionKind) -> &Intervention {
        self.interventions
            .iter()
            .find(|i| i.kind == kind)
            .expect("a summary runs every intervention")
    }

    /// The summary of the normalizer of `role`, if the battery has it.
    pub fn norm(&self, role: Role) -> Option<&NormSummary> {
        self.norms.iter().find(|n| n.label == role.label())
    }
}

/// A fixed seed for the resampling of one judgement, from its name (so a report is
/// reproducible).
pub fn resampling_seed(name: &str) -> u64 {
    fnv1a(name.as_bytes())
}

/// Runs one explanation's intervention.
fn run_intervention(config: &ReportConfig, units: &Units, kind: InterventionKind) -> Intervention {
    let seed = resampling_seed(kind.id());
    match kind {
        InterventionKind::Noise => intervention::noise(config, units, seed),
        InterventionKind::LearningRates => intervention::learning_rates(config, units, seed),
        InterventionKind::SkipInitDepth => intervention::identity_bias(config, units, seed),
        InterventionKind::RankPretraining => intervention::rank_collapse(config, units, seed),
    }
}

/// What the correlations across normalizers run over: the battery's normalizers except its
/// control arms, with their training speed (final loss, a diverged normalizer slowest) and
/// steps to the target.
struct Speed {
    /// Indices into the battery.
    correlated: Vec<usize>,
    /// Final training loss of each (infinite when a seed diverged).
    final_loss: Vec<f64>,
    /// Mean steps to the target of each.
    steps: Vec<f64>,
}

impl Speed {
    fn of(config: &ReportConfig, norms: &[NormSummary]) -> Speed {
        let correlated: Vec<usize> = (0..norms.len())
            .filter(|&i| !config.normalizers[i].control)
            .collect();
        Speed {
            final_loss: correlated
                .iter()
                .map(|&i| {
                    if norms[i].diverged > 0 {
                        f64::INFINITY
                    } else {
                        norms[i].final_loss.mean
                    }
                })
                .collect(),
            steps: correlated
                .iter()
                .map(|&i| norms[i].steps_to_target.mean)
                .collect(),
            correlated,
        }
    }
}

/// One explanation judged: BatchNorm's effect on its metric (`pair` = the indices of
/// `BatchNorm` and `none`), its correlation with speed, its intervention, the verdict.
fn mechanism(
    explanation: Explanation,
    tested: &Intervention,
    seeds: &[Seeds],
    pair: Option<(usize, usize)>,
    speed: &Speed,
) -> Mechanism {
    let values: Vec<f64> = speed
        .correlated
        .iter()
        .map(|&i| finite_mean(seeds[i].metric(explanation)))
        .collect();
    let seed = resampling_seed(explanation.id());
    let (rho, p_value) = (
        spearman(&values, &speed.final_loss),
        permutation_p(&values, &speed.final_loss, seed),
    );
    let effect_of = |metric: fn(&Seeds, Explanation) -> &[f64]| {
        pair.map(|(b, n)| {
            Effect::of(
                metric(&seeds[b], explanation),
                metric(&seeds[n], explanation),
            )
        })
    };
    let effect = effect_of(Seeds::metric);
    let evidence = vec![
        Evidence {
            kind: EvidenceKind::Intervention,
            direction: tested.direction,
        },
        Evidence {
            kind: EvidenceKind::Effect,
            direction: effect.as_ref().map_or(Direction::TooFew, |e| {
                judge_effect(&e.ratio, explanation.predicts())
            }),
        },
        Evidence {
            kind: EvidenceKind::Correlation,
            direction: judge_correlation(
                rho,
                p_value,
                speed.correlated.len(),
                explanation.predicts(),
            ),
        },
    ];
    Mechanism {
        explanation,
        absolute_effect: match explanation {
            Explanation::CovariateShift => effect_of(|s, _| &s.covariate_shift_abs),
            Explanation::Smoothness | Explanation::IdentityBias | Explanation::RankCollapse => None,
        },
        effect,
        spearman: rho,
        p_value,
        spearman_steps: spearman(&values, &speed.steps),
        normalizers: speed.correlated.len(),
        verdict: verdict(&evidence),
        evidence,
    }
}

/// Judges the units of `config`.
pub fn judge(config: &ReportConfig, units: &Units) -> Summary {
    let (norms, seeds) = summarize_norms(config, units);
    let speed = Speed::of(config, &norms);
    let index = |role: Role| norms.iter().position(|n| n.label == role.label());
    let pair = index(Role::BatchNorm).zip(index(Role::None));
    let interventions: Vec<Intervention> = Explanation::ALL
        .iter()
        .map(|e| run_intervention(config, units, e.intervention()))
        .collect();
    let mechanisms = Explanation::ALL
        .iter()
        .zip(&interventions)
        .map(|(&explanation, tested)| mechanism(explanation, tested, &seeds, pair, &speed))
        .collect();
    let speedup = pair.map(|(b, n)| ratio_of_means(&seeds[b].final_loss, &seeds[n].final_loss));
    Summary {
        norms,
        mechanisms,
        speedup,
        interventions,
        landscape: landscape(config, units),
    }
}
