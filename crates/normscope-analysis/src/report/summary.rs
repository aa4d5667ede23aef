//! From the units to the answer: per-normalizer summaries, the with/without-BN effect of each
//! mechanism's metric, how well each metric accounts for the training-speed differences across
//! normalizers, and a verdict per explanation.

use serde::{Deserialize, Serialize};

use super::config::{ReportConfig, roles};
use super::intervention::{self, Intervention};
use super::run::{TrainUnit, Units};
use super::verdict::{
    Direction, Evidence, Kind, Ratio, Verdict, bootstrap_ratio, judge_correlation, judge_effect,
    permutation_p, verdict,
};
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
    /// Test accuracy at the end (running statistics as trained).
    pub test_accuracy: Stat,
    /// Test accuracy at the end after re-estimating the running statistics at the final weights.
    pub test_accuracy_recalibrated: Stat,
    /// Runs that diverged.
    pub diverged: usize,
    /// Internal covariate shift: `‖G − G′‖/‖G‖`, mean over probes and layers.
    pub covariate_shift: Stat,
    /// Santurkar et al.'s Definition 2.1 as the paper states it, `‖G − G′‖₂`, mean over probes
    /// and layers.
    pub covariate_shift_abs: Stat,
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

/// With and without BatchNorm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The metric with BatchNorm.
    pub with_bn: Stat,
    /// Without normalization.
    pub without: Stat,
    /// `with_bn.mean / without.mean`.
    pub ratio: f64,
    /// 95% bootstrap interval of `ratio` over seeds (NaN with one seed per side).
    pub ci: (f64, f64),
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
    /// Two-sided permutation p-value of `spearman`.
    pub p_value: f64,
    /// Spearman correlation between the metric and the steps to the target loss.
    pub spearman_steps: f64,
    /// The judged evidence the verdict rests on.
    pub evidence: Vec<Evidence>,
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
    /// BatchNorm's final training loss over no normalization's, with its bootstrap interval.
    pub speedup: Option<Ratio>,
    /// The interventions, one per explanation.
    pub interventions: Vec<Intervention>,
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

/// One value per seed of every metric of one normalizer (non-finite values dropped).
struct Seeds {
    final_loss: Vec<f64>,
    covariate_shift: Vec<f64>,
    covariate_shift_abs: Vec<f64>,
    beta_smoothness: Vec<f64>,
    branch_share: Vec<f64>,
    rank: Vec<f64>,
}

/// The explanations and their metrics: id, name, paper, metric, sign (`+1`: larger values slow
/// training), the per-seed values and the per-normalizer summary.
type MetricOf = fn(&Seeds) -> &Vec<f64>;

const MECHANISMS: [(&str, &str, &str, &str, f64, MetricOf); 4] = [
    (
        "covariate-shift",
        "Reduction of internal covariate shift",
        "Ioffe & Szegedy 2015 (metric: Santurkar et al. 2018, Def. 2.1)",
        "relative gradient shift ‖G − G′‖₂/‖G‖₂ (the absolute ‖G − G′‖₂ of Def. 2.1 is reported beside it)",
        1.0,
        |s| &s.covariate_shift,
    ),
    (
        "smoothness",
        "A smoother loss landscape, more predictive gradients",
        "Santurkar et al. 2018",
        "effective β-smoothness along the gradient",
        1.0,
        |s| &s.beta_smoothness,
    ),
    (
        "identity-bias",
        "Residual blocks biased toward the identity",
        "De & Smith 2020",
        "residual branch's share of the block output variance at initialization",
        1.0,
        |s| &s.branch_share,
    ),
    (
        "rank-collapse",
        "Avoidance of rank collapse",
        "Daneshmand et al. 2020",
        "effective rank of the last block's output at initialization / batch size",
        -1.0,
        |s| &s.rank,
    ),
];

/// `f` of every layer of every covariate-shift probe of a run, averaged.
fn shift_of(
    unit: &TrainUnit,
    f: &dyn Fn(&crate::metrics::internal_covariate_shift::LayerShift) -> f64,
) -> f64 {
    mean(
        &unit
            .shifts
            .iter()
            .flat_map(|(_, layers)| layers.iter().map(f))
            .collect::<Vec<_>>(),
    )
}

/// The relative gradient shift `‖G − G′‖/‖G‖` of a run: the covariate-shift mechanism's metric.
fn relative_shift(unit: &TrainUnit) -> f64 {
    shift_of(unit, &|l| l.l2 / l.grad_norm.max(1e-30))
}

fn finite(values: impl Iterator<Item = f64>) -> Vec<f64> {
    values.filter(|v| v.is_finite()).collect()
}

/// A seed for the resampling of one mechanism (fixed, so a report is reproducible).
fn resampling_seed(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// `(text of the interval, whether there is one)`.
fn interval(ci: (f64, f64)) -> String {
    if ci.0.is_finite() && ci.1.is_finite() {
        format!("95% CI [{:.2}, {:.2}]", ci.0, ci.1)
    } else {
        "no interval: fewer than two seeds per side".into()
    }
}

/// Summarises the units.
pub fn summarize(config: &ReportConfig, units: &Units) -> Summary {
    let mut seeds: Vec<Seeds> = vec![];
    let norms: Vec<NormSummary> = config
        .normalizers
        .iter()
        .map(|entry| {
            let train: Vec<&TrainUnit> = units
                .train
                .iter()
                .filter(|u| u.label == entry.label)
                .collect();
            let init: Vec<_> = units
                .init
                .iter()
                .filter(|u| u.label == entry.label)
                .collect();
            let per = |f: &dyn Fn(&TrainUnit) -> f64| finite(train.iter().map(|u| f(u)));
            let shift =
                |f: &dyn Fn(&crate::metrics::internal_covariate_shift::LayerShift) -> f64| {
                    per(&|u| shift_of(u, f))
                };
            let s =
                Seeds {
                    final_loss: per(&|u| u.final_loss),
                    covariate_shift: per(&relative_shift),
                    covariate_shift_abs: shift(&|l| l.l2),
                    beta_smoothness: per(&|u| {
                        mean(
                            &u.landscape
                                .iter()
                                .map(|(_, l)| l.beta_smoothness)
                                .collect::<Vec<_>>(),
                        )
                    }),
                    branch_share: finite(init.iter().map(|u| {
                        mean(&u.blocks.iter().map(|b| b.branch_share).collect::<Vec<_>>())
                    })),
                    rank: finite(init.iter().filter_map(|u| {
                        u.ranks
                            .last()
                            .map(|r| r.effective_rank / config.init_batch as f64)
                    })),
                };
            let summary = NormSummary {
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
                final_loss: Stat::of(&s.final_loss),
                test_accuracy: Stat::of(&per(&|u| u.test_accuracy)),
                test_accuracy_recalibrated: Stat::of(&per(&|u| u.test_accuracy_recalibrated)),
                diverged: train.iter().filter(|u| u.diverged_at.is_some()).count(),
                covariate_shift: Stat::of(&s.covariate_shift),
                covariate_shift_abs: Stat::of(&s.covariate_shift_abs),
                shift_cosine: Stat::of(&shift(&|l| l.cosine)),
                beta_smoothness: Stat::of(&s.beta_smoothness),
                loss_band: Stat::of(&per(&|u| {
                    mean(
                        &u.landscape
                            .iter()
                            .map(|(_, l)| l.loss_band.1 - l.loss_band.0)
                            .collect::<Vec<_>>(),
                    )
                })),
                branch_share: Stat::of(&s.branch_share),
                rank: Stat::of(&s.rank),
            };
            seeds.push(s);
            summary
        })
        .collect();

    // The correlations run over the normalizers, not over the interventions' control arms.
    let correlated: Vec<usize> = (0..norms.len())
        .filter(|&i| !config.normalizers[i].control)
        .collect();
    let speed: Vec<f64> = correlated
        .iter()
        .map(|&i| {
            if norms[i].diverged > 0 {
                f64::INFINITY
            } else {
                norms[i].final_loss.mean
            }
        })
        .collect();
    let steps: Vec<f64> = correlated
        .iter()
        .map(|&i| norms[i].steps_to_target.mean)
        .collect();
    let index = |label: &str| norms.iter().position(|n| n.label == label);
    let (bn, none) = (index("BatchNorm"), index("none"));
    let pair = bn.zip(none);
    let effect_of = |metric: MetricOf, seed: u64| -> Option<Effect> {
        let (b, n) = pair?;
        let (w, wo) = (metric(&seeds[b]), metric(&seeds[n]));
        let (sw, swo) = (Stat::of(w), Stat::of(wo));
        let pooled = (((sw.n as f64 - 1.0) * sw.std.powi(2)
            + (swo.n as f64 - 1.0) * swo.std.powi(2))
            / (sw.n as f64 + swo.n as f64 - 2.0))
            .sqrt();
        let ratio = bootstrap_ratio(w, wo, seed);
        Some(Effect {
            ratio: ratio.ratio,
            ci: ratio.ci,
            cohens_d: (sw.mean - swo.mean) / pooled,
            with_bn: sw,
            without: swo,
        })
    };
    let interventions = vec![
        intervention::noise(
            config,
            units,
            relative_shift,
            |u| shift_of(u, &|l| l.l2),
            resampling_seed("noise"),
        ),
        intervention::learning_rates(config, units),
        intervention::depth(config, units, roles::SKIP_INIT, resampling_seed("skipinit")),
        intervention::depth(
            config,
            units,
            roles::ORTHOGONAL,
            resampling_seed("orthogonal"),
        ),
    ];
    let mechanisms: Vec<Mechanism> = MECHANISMS
        .iter()
        .map(|&(id, name, paper, metric_name, sign, metric)| {
            let values: Vec<f64> = correlated.iter().map(|&i| mean(metric(&seeds[i]))).collect();
            let seed = resampling_seed(id);
            let rho = spearman(&values, &speed);
            let p_value = permutation_p(&values, &speed, seed);
            let rho_steps = spearman(&values, &steps);
            let effect = effect_of(metric, seed);
            let effect_direction = effect
                .as_ref()
                .map(|e| {
                    judge_effect(
                        &Ratio {
                            ratio: e.ratio,
                            ci: e.ci,
                        },
                        sign,
                    )
                })
                .unwrap_or(Direction::TooFew);
            let correlation = judge_correlation(rho, p_value, correlated.len(), sign);
            let tested = interventions.iter().find(|i| i.mechanism == id);
            let evidence = vec![
                Evidence {
                    kind: Kind::Intervention,
                    direction: tested.map(|i| i.direction).unwrap_or(Direction::TooFew),
                },
                Evidence {
                    kind: Kind::Effect,
                    direction: effect_direction,
                },
                Evidence {
                    kind: Kind::Correlation,
                    direction: correlation,
                },
            ];
            let verdict = verdict(&evidence);
            let predicted = if sign > 0.0 { "lower" } else { "higher" };
            let effect_text = match &effect {
                Some(e) => format!(
                    "BatchNorm changes it {:.2}× relative to no normalization ({:.3} vs {:.3}; {}, Cohen's d = {:.2}; the explanation predicts {predicted} with BatchNorm): {}",
                    e.ratio,
                    e.with_bn.mean,
                    e.without.mean,
                    interval(e.ci),
                    e.cohens_d,
                    match effect_direction {
                        Direction::For => "the interval excludes 1 on the predicted side",
                        Direction::Against => "the interval excludes 1 on the other side",
                        Direction::Neither => "the interval contains 1, no clear effect",
                        Direction::TooFew => "not judged",
                    }
                ),
                None => "The battery has no `BatchNorm`/`none` pair to compare".to_string(),
            };
            let abs_text = if id == "covariate-shift" {
                effect_of(|s: &Seeds| &s.covariate_shift_abs, seed)
                    .map(|e| {
                        format!(
                            " Santurkar et al.'s Definition 2.1 as stated, the absolute ‖G − G′‖₂, changes {:.2}× ({}). The verdict uses the relative shift: ‖G‖ itself differs between normalizers (BatchNorm rescales every gradient by γ/σ), so the absolute shift compares gradient sizes as much as shifts; the paper compares the absolute one within one network over training.",
                            e.ratio,
                            interval(e.ci)
                        )
                    })
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let correlation_text = format!(
                "Across the {} normalizers its rank correlation with the final training loss is ρ = {:.2} (permutation p = {:.3}; with the steps to the target loss {:.2}); the explanation predicts {}: {}.",
                correlated.len(),
                rho,
                p_value,
                rho_steps,
                if sign > 0.0 {
                    "a positive ρ (more of it, slower training)"
                } else {
                    "a negative ρ (more of it, faster training)"
                },
                match correlation {
                    Direction::For => "significant, in the predicted direction",
                    Direction::Against => "significant, against the prediction",
                    Direction::Neither => "not significant at 0.05",
                    Direction::TooFew => "too few normalizers to judge (fewer than 5)",
                }
            );
            let intervention_text = tested
                .map(|i| {
                    format!(
                        " Intervention ({}): {}.",
                        lower_first(&i.name),
                        match i.direction {
                            Direction::For => "for the explanation — it decides the verdict",
                            Direction::Against => "against the explanation — it decides the verdict",
                            Direction::Neither => "does not decide",
                            Direction::TooFew => "not judged",
                        }
                    )
                })
                .unwrap_or_default();
            let text = format!(
                "{effect_text}.{abs_text} {correlation_text}{intervention_text} {}",
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
                p_value,
                spearman_steps: rho_steps,
                evidence,
                verdict,
                text,
            }
        })
        .collect();
    let named = |v: Verdict| -> String {
        let names: Vec<&str> = mechanisms
            .iter()
            .filter(|m| m.verdict == v)
            .map(|m| m.name.as_str())
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join("; ")
        }
    };
    let speedup = pair.map(|(b, n)| {
        bootstrap_ratio(
            &seeds[b].final_loss,
            &seeds[n].final_loss,
            resampling_seed("speed"),
        )
    });
    let speed_text = match (bn, none) {
        (Some(b), Some(n)) => {
            let (b, n) = (&norms[b], &norms[n]);
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
                "Target loss {}: with BatchNorm the network {}, without normalization it {}; final training loss {:.3} vs {:.3} (ratio {:.2}, {}). ",
                config.target_loss,
                reached(b),
                reached(n),
                b.final_loss.mean,
                n.final_loss.mean,
                speedup.map(|r| r.ratio).unwrap_or(f64::NAN),
                interval(speedup.map(|r| r.ci).unwrap_or((f64::NAN, f64::NAN)))
            )
        }
        _ => String::new(),
    };
    let decided: Vec<String> = interventions
        .iter()
        .filter(|i| matches!(i.direction, Direction::For | Direction::Against))
        .map(|i| {
            let name = mechanisms
                .iter()
                .find(|m| m.id == i.mechanism)
                .map(|m| lower_first(&m.name))
                .unwrap_or_default();
            format!(
                "{} ({} {}) {} {name}",
                lower_first(&i.name),
                i.statistic_name,
                i.statistic
                    .map(|e| if e.has_interval() {
                        format!("{:.2} [{:.2}, {:.2}]", e.value, e.ci.0, e.ci.1)
                    } else {
                        format!("{:.2}", e.value)
                    })
                    .unwrap_or_default(),
                if i.direction == Direction::For {
                    "speaks for"
                } else {
                    "speaks against"
                }
            )
        })
        .collect();
    let undecided: Vec<String> = mechanisms
        .iter()
        .filter(|m| {
            m.evidence[0].direction != Direction::For
                && m.evidence[0].direction != Direction::Against
        })
        .map(|m| {
            format!(
                "{} ({})",
                lower_first(&m.name),
                if m.evidence[0].direction == Direction::TooFew {
                    "its intervention was not run or had too few seeds"
                } else {
                    "its intervention was not significant"
                }
            )
        })
        .collect();
    let bottom_line = if decided.is_empty() {
        "No intervention was significant, so the verdicts below rest on observations only. "
            .to_string()
    } else {
        format!(
            "The interventions, which change one mechanism with the rest held fixed, decide: {}. ",
            decided.join("; ")
        )
    };
    let undecided_text = if undecided.is_empty() {
        String::new()
    } else {
        format!(
            " What this scale cannot decide: {}; there only BatchNorm's effect on the metric and the metric's correlation with speed speak, and those are observations, not causes.",
            undecided.join("; ")
        )
    };
    let conclusion = format!(
        "{speed_text}{bottom_line}Supported on this setup: {}. In part: {}. Inconclusive: {}. Contradicted: {}. A significant intervention decides a verdict, and only an intervention can make it supported; otherwise BatchNorm's effect on the metric (a bootstrap interval over {} seed(s)) and the metric's correlation with training speed across {} normalizers (a permutation test) make it at most partly supported.{undecided_text} These verdicts hold for this network, data and scale; rerun with --scale full or your own --config to test them at the papers' scale.",
        named(Verdict::Supported),
        named(Verdict::Partial),
        named(Verdict::Inconclusive),
        named(Verdict::Contradicted),
        config.seeds,
        correlated.len()
    );
    Summary {
        norms,
        mechanisms,
        speedup,
        interventions,
        conclusion,
    }
}

/// A name inside a sentence: its first letter in lower case, unless its first word is a proper
/// name with capitals inside ("BatchNorm …", "SkipInit …").
fn lower_first(name: &str) -> String {
    let first_word = name.split(' ').next().unwrap_or_default();
    if first_word.chars().skip(1).any(char::is_uppercase) {
        return name.to_string();
    }
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}
