//! From the units to the answer: per-normalizer summaries, the with/without-BN effect of each
//! mechanism's metric, how well each metric accounts for the training-speed differences across
//! normalizers, and a verdict per explanation.

use serde::{Deserialize, Serialize};

use super::config::ReportConfig;
use super::run::Units;
use crate::experiments::Stat;

/// One normalizer, summarised over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormSummary {
    /// Label.
    pub label: String,
    /// Steps to the target loss (runs that never reached it count as `steps + 1`).
    pub steps_to_target: Stat,
    /// Runs that reached the target.
    pub reached: usize,
    /// Mean training loss over the last 10 steps.
    pub final_loss: Stat,
    /// Test accuracy at the end.
    pub test_accuracy: Stat,
    /// Runs that diverged.
    pub diverged: usize,
    /// Internal covariate shift: `‖G − G′‖/‖G‖`, mean over probes and layers.
    pub covariate_shift: Stat,
    /// `cos(G, G′)`, mean over probes and layers.
    pub shift_cosine: Stat,
    /// Effective β-smoothness, mean over probes.
    pub beta_smoothness: Stat,
    /// Width of the loss band along the gradient, mean over probes.
    pub loss_band: Stat,
    /// Branch share of the block output variance at initialization, mean over blocks.
    pub branch_share: Stat,
    /// Effective rank of the last block's output at initialization, over the batch size.
    pub rank: Stat,
}

/// What an explanation's verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// BN moves the metric the way the explanation says and the metric tracks speed across
    /// normalizers.
    Supported,
    /// One of the two holds.
    Partial,
    /// Neither holds.
    Inconclusive,
    /// The data go against the explanation.
    Contradicted,
}

impl Verdict {
    /// The verdict in words, as the report prints it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Partial => "partly supported",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Contradicted => "contradicted",
        }
    }
}

/// With and without BatchNorm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The metric with BatchNorm.
    pub with_bn: Stat,
    /// Without normalization.
    pub without: Stat,
    /// `with_bn.mean / without.mean`.
    pub ratio: f64,
    /// Cohen's d (pooled standard deviation; NaN with one seed per side).
    pub cohens_d: f64,
}

/// One explanation, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mechanism {
    /// Section id in the report.
    pub id: String,
    /// The explanation.
    pub name: String,
    /// Who proposed it.
    pub paper: String,
    /// The metric used.
    pub metric: String,
    /// `+1`: the explanation says larger values slow training; `−1`: larger values speed it up.
    pub expected_sign: f64,
    /// With vs without BatchNorm.
    pub effect: Option<Effect>,
    /// Spearman correlation between the metric and the final training loss across normalizers
    /// (a diverged normalizer ranks slowest).
    pub spearman: f64,
    /// Spearman correlation between the metric and the steps to the target loss.
    pub spearman_steps: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict in words.
    pub text: String,
}

/// The whole answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Per normalizer.
    pub norms: Vec<NormSummary>,
    /// Per explanation.
    pub mechanisms: Vec<Mechanism>,
    /// The one-paragraph answer.
    pub conclusion: String,
}

fn mean(v: &[f64]) -> f64 {
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    }
}

/// Average ranks (ties share their mean rank); non-finite values rank last.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    let key = |v: f64| if v.is_finite() { v } else { f64::INFINITY };
    order.sort_by(|&a, &b| key(values[a]).total_cmp(&key(values[b])));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && key(values[order[j + 1]]) == key(values[order[i]]) {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let (ma, mb) = (mean(&ra), mean(&rb));
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        f64::NAN
    } else {
        cov / (va * vb).sqrt()
    }
}

/// Summarises the units.
pub fn summarize(config: &ReportConfig, units: &Units) -> Summary {
    let norms: Vec<NormSummary> = config
        .normalizers
        .iter()
        .map(|entry| {
            let train: Vec<_> = units
                .train
                .iter()
                .filter(|u| u.label == entry.label)
                .collect();
            let init: Vec<_> = units
                .init
                .iter()
                .filter(|u| u.label == entry.label)
                .collect();
            let per = |f: &dyn Fn(&super::run::TrainUnit) -> f64| {
                Stat::of(
                    &train
                        .iter()
                        .map(|u| f(u))
                        .filter(|v| v.is_finite())
                        .collect::<Vec<_>>(),
                )
            };
            NormSummary {
                label: entry.label.clone(),
                steps_to_target: Stat::of(
                    &train
                        .iter()
                        .map(|u| {
                            u.steps_to_target
                                .map(|s| s as f64)
                                .unwrap_or((config.train.steps + 1) as f64)
                        })
                        .collect::<Vec<_>>(),
                ),
                reached: train.iter().filter(|u| u.steps_to_target.is_some()).count(),
                final_loss: per(&|u| u.final_loss),
                test_accuracy: per(&|u| u.test_accuracy),
                diverged: train.iter().filter(|u| u.diverged_at.is_some()).count(),
                covariate_shift: per(&|u| {
                    mean(
                        &u.shifts
                            .iter()
                            .flat_map(|(_, layers)| {
                                layers.iter().map(|l| l.l2 / l.grad_norm.max(1e-30))
                            })
                            .collect::<Vec<_>>(),
                    )
                }),
                shift_cosine: per(&|u| {
                    mean(
                        &u.shifts
                            .iter()
                            .flat_map(|(_, layers)| layers.iter().map(|l| l.cosine))
                            .collect::<Vec<_>>(),
                    )
                }),
                beta_smoothness: per(&|u| {
                    mean(
                        &u.landscape
                            .iter()
                            .map(|(_, l)| l.beta_smoothness)
                            .collect::<Vec<_>>(),
                    )
                }),
                loss_band: per(&|u| {
                    mean(
                        &u.landscape
                            .iter()
                            .map(|(_, l)| l.loss_band.1 - l.loss_band.0)
                            .collect::<Vec<_>>(),
                    )
                }),
                branch_share: Stat::of(
                    &init
                        .iter()
                        .map(|u| mean(&u.blocks.iter().map(|b| b.branch_share).collect::<Vec<_>>()))
                        .collect::<Vec<_>>(),
                ),
                rank: Stat::of(
                    &init
                        .iter()
                        .filter_map(|u| {
                            u.ranks
                                .last()
                                .map(|r| r.effective_rank / config.init_batch as f64)
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect();

    let speed: Vec<f64> = norms
        .iter()
        .map(|n| {
            if n.diverged > 0 {
                f64::INFINITY
            } else {
                n.final_loss.mean
            }
        })
        .collect();
    let steps: Vec<f64> = norms.iter().map(|n| n.steps_to_target.mean).collect();
    let find = |label: &str| norms.iter().find(|n| n.label == label);
    let (bn, none) = (find("BatchNorm"), find("none"));
    let effect = |metric: fn(&NormSummary) -> Stat| -> Option<Effect> {
        let (w, wo) = (metric(bn?), metric(none?));
        let pooled = (((w.n as f64 - 1.0) * w.std.powi(2) + (wo.n as f64 - 1.0) * wo.std.powi(2))
            / (w.n + wo.n - 2) as f64)
            .sqrt();
        Some(Effect {
            ratio: w.mean / wo.mean,
            cohens_d: (w.mean - wo.mean) / pooled,
            with_bn: w,
            without: wo,
        })
    };
    let mechanism = |id: &str,
                     name: &str,
                     paper: &str,
                     metric_name: &str,
                     sign: f64,
                     metric: fn(&NormSummary) -> Stat| {
        let values: Vec<f64> = norms.iter().map(|n| metric(n).mean).collect();
        let rho = spearman(&values, &speed);
        let rho_steps = spearman(&values, &steps);
        let effect = effect(metric);
        // BN moved the metric the way the explanation needs (lower when larger is bad).
        let moved = effect.as_ref().map(|e| {
            let toward = (e.with_bn.mean - e.without.mean) * -sign > 0.0;
            let large =
                e.ratio.is_finite() && (e.ratio > 1.25 || e.ratio < 0.8) || e.cohens_d.abs() >= 0.8;
            (toward, large)
        });
        let tracks = rho.is_finite() && rho * sign >= 0.5;
        let against = rho.is_finite() && rho * sign <= -0.5;
        let moved_right = matches!(moved, Some((true, true)));
        let moved_wrong = matches!(moved, Some((false, true)));
        let verdict = match (moved_right, tracks, moved_wrong, against) {
            (true, true, _, _) => Verdict::Supported,
            (_, _, true, true) => Verdict::Contradicted,
            (_, _, true, _) | (_, _, _, true) => {
                if moved_right || tracks {
                    Verdict::Partial
                } else {
                    Verdict::Contradicted
                }
            }
            (true, false, _, _) | (false, true, _, _) => Verdict::Partial,
            _ => Verdict::Inconclusive,
        };
        let effect_text = match &effect {
            Some(e) => format!(
                "BatchNorm changes it {:.2}× relative to no normalization ({:.3} vs {:.3}, Cohen's d = {:.2}), {} the explanation predicts",
                e.ratio,
                e.with_bn.mean,
                e.without.mean,
                e.cohens_d,
                if (e.with_bn.mean - e.without.mean) * -sign > 0.0 {
                    "in the direction"
                } else {
                    "against the direction"
                }
            ),
            None => "the battery has no `BatchNorm`/`none` pair to compare".to_string(),
        };
        let text = format!(
            "{effect_text}. Across the {} normalizers its rank correlation with the final training loss is ρ = {:.2} (with the steps to the target loss {:.2}; the explanation predicts {}). {}",
            norms.len(),
            rho,
            rho_steps,
            if sign > 0.0 {
                "a positive ρ: more of it, slower training"
            } else {
                "a negative ρ: more of it, faster training"
            },
            match verdict {
                Verdict::Supported => "On this setup the data support this explanation.",
                Verdict::Partial => "On this setup the data support it only in part.",
                Verdict::Inconclusive => "On this setup the data do not decide.",
                Verdict::Contradicted => "On this setup the data go against this explanation.",
            }
        );
        Mechanism {
            id: id.into(),
            name: name.into(),
            paper: paper.into(),
            metric: metric_name.into(),
            expected_sign: sign,
            effect,
            spearman: rho,
            spearman_steps: rho_steps,
            verdict,
            text,
        }
    };
    let mechanisms = vec![
        mechanism(
            "covariate-shift",
            "Reduction of internal covariate shift",
            "Ioffe & Szegedy 2015 (metric: Santurkar et al. 2018, Def. 2.1)",
            "relative gradient shift ‖G − G′‖/‖G‖",
            1.0,
            |n| n.covariate_shift,
        ),
        mechanism(
            "smoothness",
            "A smoother loss landscape, more predictive gradients",
            "Santurkar et al. 2018",
            "effective β-smoothness along the gradient",
            1.0,
            |n| n.beta_smoothness,
        ),
        mechanism(
            "identity-bias",
            "Residual blocks biased toward the identity",
            "De & Smith 2020",
            "residual branch's share of the block output variance at initialization",
            1.0,
            |n| n.branch_share,
        ),
        mechanism(
            "rank-collapse",
            "Avoidance of rank collapse",
            "Daneshmand et al. 2020",
            "effective rank of the last block's output at initialization / batch size",
            -1.0,
            |n| n.rank,
        ),
    ];
    let supported: Vec<&str> = mechanisms
        .iter()
        .filter(|m| m.verdict == Verdict::Supported)
        .map(|m| m.name.as_str())
        .collect();
    let partial: Vec<&str> = mechanisms
        .iter()
        .filter(|m| m.verdict == Verdict::Partial)
        .map(|m| m.name.as_str())
        .collect();
    let against: Vec<&str> = mechanisms
        .iter()
        .filter(|m| m.verdict == Verdict::Contradicted)
        .map(|m| m.name.as_str())
        .collect();
    let speedup = match (bn, none) {
        (Some(b), Some(n)) => {
            let reached = |s: &NormSummary| {
                if s.reached == 0 {
                    format!("never reached it in {} steps", config.train.steps)
                } else {
                    format!(
                        "reached it after {:.0} steps on average ({}/{} runs)",
                        s.steps_to_target.mean, s.reached, s.steps_to_target.n
                    )
                }
            };
            format!(
                "Target loss {}: with BatchNorm the network {}, without normalization it {}; final training loss {:.3} vs {:.3}. ",
                config.target_loss,
                reached(b),
                reached(n),
                b.final_loss.mean,
                n.final_loss.mean
            )
        }
        _ => String::new(),
    };
    let list = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join("; ")
        }
    };
    let conclusion = format!(
        "{speedup}Supported on this setup: {}. In part: {}. Contradicted: {}. These verdicts hold for this network, data and scale; rerun with --scale full or your own --config to test them at the papers' scale.",
        list(&supported),
        list(&partial),
        list(&against)
    );
    Summary {
        norms,
        mechanisms,
        conclusion,
    }
}
