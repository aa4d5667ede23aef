//! Every sentence of the report: what each explanation's evidence says, each intervention's
//! prediction and outcome, and the answer. Built from the judgement's numbers and decisions; no
//! number is computed here.

use crate::report::config::ReportConfig;
use crate::report::explanation::{Explanation, InterventionKind, Sign};
use crate::report::judge::intervention::{
    Facts, Intervention, Reason, SHARE_THRESHOLD, TRAINED, chance_loss,
};
use crate::report::judge::per_norm::NormSummary;
use crate::report::judge::verdict::{Direction, EvidenceKind, Verdict};
use crate::report::judge::{Mechanism, Summary};
use crate::stats::Estimate;

/// A name inside a sentence: its first letter in lower case, unless its first word is a proper
/// name with capitals inside ("BatchNorm …", "SkipInit …").
pub fn lower_first(name: &str) -> String {
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

/// `0.42 (95% CI [0.35, 0.48])`, or the value with why there is no interval.
pub fn with_interval(e: &Estimate, digits: usize) -> String {
    if e.has_interval() {
        format!(
            "{:.digits$} (95% CI [{:.digits$}, {:.digits$}])",
            e.value, e.ci.0, e.ci.1
        )
    } else {
        format!("{:.digits$} (no interval: fewer than two seeds)", e.value)
    }
}

/// `95% CI [0.35, 0.48]`, or why there is none.
fn interval(e: &Estimate) -> String {
    if e.has_interval() {
        format!("95% CI [{:.2}, {:.2}]", e.ci.0, e.ci.1)
    } else {
        "no interval: fewer than two seeds per side".into()
    }
}

/// An intervention's outcome in words (its badge).
pub fn direction(d: Direction) -> &'static str {
    match d {
        Direction::For => "for the explanation",
        Direction::Against => "against the explanation",
        Direction::Neither => "not significant",
        Direction::TooFew => "not judged",
    }
}

/// What the intervention's statistic is, in a few words.
pub fn statistic_name(kind: InterventionKind) -> String {
    match kind {
        InterventionKind::Noise => "share of BatchNorm's advantage noisy BatchNorm keeps".into(),
        InterventionKind::LearningRates => {
            "η*_BN / η*_none, the ratio of the largest stable learning rates".into()
        }
        InterventionKind::SkipInitDepth | InterventionKind::OrthogonalDepth => format!(
            "share of BatchNorm's advantage {} recovers",
            kind.arm().label()
        ),
    }
}

/// What the explanation predicts the intervention shows.
pub fn prediction(kind: InterventionKind) -> String {
    match kind {
        InterventionKind::Noise => format!(
            "if reducing internal covariate shift were why BatchNorm helps, BatchNorm with noise injected after it (Santurkar et al. 2018, §2.1: a shift and scale per channel that change every step) would lose most of BatchNorm's advantage: it keeps less than {SHARE_THRESHOLD} of the gap L_none − L_BN"
        ),
        InterventionKind::LearningRates => "if a smoother landscape were why BatchNorm helps, BatchNorm would train at learning rates at which the unnormalized network does not (Bjorck et al. 2018: BN \"primarily enables training with larger learning rates\"): its largest stable learning rate is the larger".into(),
        InterventionKind::SkipInitDepth => format!(
            "if the bias of residual blocks toward the identity were why BatchNorm helps, SkipInit — identity blocks at initialization without any normalizer (De & Smith 2020) — would recover most of BatchNorm's advantage where it is largest, the deepest network: a share above {SHARE_THRESHOLD} of L_none − L_BN"
        ),
        InterventionKind::OrthogonalDepth => format!(
            "if avoiding rank collapse were why BatchNorm helps, an unnormalized network initialised to preserve rank (delta-orthogonal, Xiao et al. 2018) would recover most of BatchNorm's advantage where it is largest, the deepest network: a share above {SHARE_THRESHOLD} of L_none − L_BN (Daneshmand et al. 2020's rank pre-training speeds training up)"
        ),
    }
}

/// Why the outcome is what it is, as the end of a sentence.
fn why(i: &Intervention) -> String {
    let arm = i.kind.arm().label();
    match (&i.reason, i.kind) {
        (Reason::NotRun { .. } | Reason::NoGrid, _) => String::new(),
        (Reason::TooFewSeeds, InterventionKind::Noise) => {
            "fewer than two seeds per arm: not judged".into()
        }
        (Reason::TooFewSeeds, _) => "fewer than two seeds: not judged".into(),
        (Reason::NoAdvantage, _) => "BatchNorm has no significant advantage over no normalization here, so there is nothing for the noise to take away".into(),
        (Reason::CheckFailed, InterventionKind::Noise) => format!(
            "the noise did not raise the measured shift significantly (noisy/plain BatchNorm {}), so the experiment does not test the explanation",
            with_interval(&i.check.unwrap_or(Estimate::point(f64::NAN)), 2)
        ),
        (Reason::CheckFailed, _) => format!(
            "the initialisation did not raise the rank at initialization significantly ({arm}/none effective rank {}), so the experiment does not test the explanation",
            with_interval(&i.check.unwrap_or(Estimate::point(f64::NAN)), 2)
        ),
        (Reason::NoStableRate, _) => "one arm trains at no learning rate of the grid: widen it".into(),
        (Reason::GridTooNarrow, _) => "both train at the top of the grid: the grid does not reach the unnormalized network's limit".into(),
        (Reason::Judged, InterventionKind::Noise) => match i.direction {
            Direction::For => "noisy BatchNorm lost most of BatchNorm's advantage, as the explanation predicts".into(),
            Direction::Against => "noisy BatchNorm kept most of BatchNorm's advantage despite the extra shift, against the prediction (Santurkar et al.'s finding)".into(),
            _ => "the interval contains one half: the experiment does not decide".into(),
        },
        (Reason::Judged, InterventionKind::LearningRates) => match i.direction {
            Direction::For => "BatchNorm trains at learning rates where the unnormalized network does not, as the explanation predicts".into(),
            _ => "BatchNorm allows no larger learning rate than no normalization, against the prediction".into(),
        },
        (Reason::Judged, InterventionKind::SkipInitDepth | InterventionKind::OrthogonalDepth) => {
            match i.direction {
                Direction::For => {
                    format!("{arm} recovers most of BatchNorm's advantage, as the explanation predicts")
                }
                Direction::Against => format!(
                    "{arm} recovers less than half of BatchNorm's advantage, against the prediction"
                ),
                _ => "the interval contains one half: the experiment does not decide".into(),
            }
        }
    }
}

/// The intervention's outcome in words.
pub fn intervention(i: &Intervention, config: &ReportConfig) -> String {
    match &i.reason {
        Reason::NotRun { missing } => {
            return match i.kind {
                InterventionKind::Noise => format!("Not run: the battery has no `{missing}`."),
                InterventionKind::LearningRates => {
                    "Not run: the sweep needs the arms `none` and `BatchNorm`.".into()
                }
                InterventionKind::SkipInitDepth | InterventionKind::OrthogonalDepth => {
                    format!("Not run: the depth sweep has no arm `{missing}`.")
                }
            };
        }
        Reason::NoGrid | Reason::TooFewSeeds if i.kind != InterventionKind::Noise => {
            return match i.kind {
                InterventionKind::LearningRates => {
                    "Not judged: the sweep needs a grid and at least two seeds.".into()
                }
                _ => "Not judged: the sweep needs depths and at least two seeds.".into(),
            };
        }
        _ => {}
    }
    match &i.facts {
        Facts::None => why(i),
        Facts::Noise { .. } => noise_facts(i),
        Facts::LearningRates { .. } => learning_rate_facts(i, config),
        Facts::Depth { .. } => depth_facts(i, config),
    }
}

/// The statistic, or NaN.
fn statistic(i: &Intervention) -> Estimate {
    i.statistic.unwrap_or(Estimate::point(f64::NAN))
}

/// The noise experiment in words.
fn noise_facts(i: &Intervention) -> String {
    let Facts::Noise {
        advantage,
        relative_shift,
        absolute_shift,
        noise_only,
    } = &i.facts
    else {
        return why(i);
    };
    format!(
        "BatchNorm's advantage L_none − L_BN = {}. Noisy BatchNorm keeps a share {} of it, while its relative gradient shift is {}× plain BatchNorm's (the absolute ‖G − G′‖₂ {}×): {}.{}",
        with_interval(advantage, 3),
        with_interval(&statistic(i), 2),
        with_interval(relative_shift, 2),
        with_interval(absolute_shift, 2),
        why(i),
        noise_only
            .map(|(only, none)| format!(
                " The same noise without BatchNorm (`NoiseOnly`) ends at {only:.3} against {none:.3} for no normalization."
            ))
            .unwrap_or_default()
    )
}

/// The learning-rate sweep in words.
fn learning_rate_facts(i: &Intervention, config: &ReportConfig) -> String {
    let Facts::LearningRates {
        eta_none,
        eta_bn,
        at_common,
        best,
    } = &i.facts
    else {
        return why(i);
    };
    let iv = &config.interventions;
    let chance = chance_loss(config.data.classes());
    let show = |eta: &Option<f64>| eta.map(|v| v.to_string()).unwrap_or("none".into());
    format!(
        "Largest stable learning rate (no seed diverged, mean final loss at most {TRAINED} × the chance loss {chance:.2}; grid {:?}, {} steps, {} seeds): {} with BatchNorm, {} without: {}.{}",
        iv.learning_rates,
        iv.steps,
        iv.seeds,
        show(eta_bn),
        show(eta_none),
        why(i),
        at_common
            .map(|(lr, ratio)| format!(
                " At the largest learning rate both train at ({lr}), BatchNorm's final loss is {}× no normalization's; at each arm's best learning rate {:.3} vs {:.3}.",
                with_interval(&ratio, 2),
                best.0,
                best.1
            ))
            .unwrap_or_default()
    )
}

/// A depth sweep in words.
fn depth_facts(i: &Intervention, config: &ReportConfig) -> String {
    let Facts::Depth { gaps, judged } = &i.facts else {
        return why(i);
    };
    let iv = &config.interventions;
    let gaps = gaps
        .iter()
        .map(|(d, g)| format!("{d}: {g:.3}"))
        .collect::<Vec<_>>()
        .join(", ");
    let Some((d, advantage)) = judged else {
        return format!(
            "BatchNorm's advantage L_none − L_BN is significant at no depth (by blocks per stage: {gaps}): there is no gap to recover."
        );
    };
    let check = i
        .check
        .map(|c| {
            format!(
                " Its effective rank at initialization is {}× the plain network's there.",
                with_interval(&c, 2)
            )
        })
        .unwrap_or_default();
    format!(
        "BatchNorm's advantage L_none − L_BN by blocks per stage: {gaps} ({} steps, {} seeds). At {d} blocks, the deepest where it is significant ({}), {} recovers a share {} of it.{check} So: {}.",
        iv.steps,
        iv.seeds,
        with_interval(advantage, 3),
        i.kind.arm().label(),
        with_interval(&statistic(i), 2),
        why(i)
    )
}

/// One explanation's evidence and verdict in words.
pub fn mechanism(m: &Mechanism, summary: &Summary) -> String {
    let e = m.explanation;
    let predicts = e.predicts();
    let predicted = match predicts {
        Sign::SlowsTraining => "lower",
        Sign::SpeedsTraining => "higher",
    };
    let effect_text = match &m.effect {
        Some(effect) => format!(
            "BatchNorm changes it {:.2}× relative to no normalization ({:.3} vs {:.3}; {}, Cohen's d = {:.2}; the explanation predicts {predicted} with BatchNorm): {}",
            effect.ratio.value,
            effect.with_bn.mean,
            effect.without.mean,
            interval(&effect.ratio),
            effect.cohens_d,
            match m.direction(EvidenceKind::Effect) {
                Direction::For => "the interval excludes 1 on the predicted side",
                Direction::Against => "the interval excludes 1 on the other side",
                Direction::Neither => "the interval contains 1, no clear effect",
                Direction::TooFew => "not judged",
            }
        ),
        None => "The battery has no `BatchNorm`/`none` pair to compare".to_string(),
    };
    let abs_text = m
        .absolute_effect
        .as_ref()
        .map(|a| {
            format!(
                " Santurkar et al.'s Definition 2.1 as stated, the absolute ‖G − G′‖₂, changes {:.2}× ({}). The verdict uses the relative shift: ‖G‖ itself differs between normalizers (BatchNorm rescales every gradient by γ/σ), so the absolute shift compares gradient sizes as much as shifts; the paper compares the absolute one within one network over training.",
                a.ratio.value,
                interval(&a.ratio)
            )
        })
        .unwrap_or_default();
    let correlation_text = format!(
        "Across the {} normalizers its rank correlation with the final training loss is ρ = {:.2} (permutation p = {:.3}; with the steps to the target loss {:.2}); the explanation predicts {}: {}.",
        m.normalizers,
        m.spearman,
        m.p_value,
        m.spearman_steps,
        match predicts {
            Sign::SlowsTraining => "a positive ρ (more of it, slower training)",
            Sign::SpeedsTraining => "a negative ρ (more of it, faster training)",
        },
        match m.direction(EvidenceKind::Correlation) {
            Direction::For => "significant, in the predicted direction",
            Direction::Against => "significant, against the prediction",
            Direction::Neither => "not significant at 0.05",
            Direction::TooFew => "too few normalizers to judge (fewer than 5)",
        }
    );
    let tested = summary.intervention(e.intervention());
    let intervention_text = format!(
        " Intervention ({}): {}.",
        lower_first(tested.kind.name()),
        match tested.direction {
            Direction::For => "for the explanation — it decides the verdict",
            Direction::Against => "against the explanation — it decides the verdict",
            Direction::Neither => "does not decide",
            Direction::TooFew => "not judged",
        }
    );
    format!(
        "{effect_text}.{abs_text} {correlation_text}{intervention_text} {}",
        match m.verdict {
            Verdict::Supported => "On this setup the data support this explanation.",
            Verdict::Partial => "On this setup the data support it only in part.",
            Verdict::Inconclusive => "On this setup the data do not decide.",
            Verdict::Contradicted => "On this setup the data go against this explanation.",
        }
    )
}

/// The explanations with verdict `v`, named (`none` when there are none).
fn named(summary: &Summary, v: Verdict) -> String {
    let names: Vec<&str> = summary
        .mechanisms
        .iter()
        .filter(|m| m.verdict == v)
        .map(|m| m.explanation.name())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("; ")
    }
}

/// The answer's bottom line: at most three sentences — what the interventions decided, and
/// what this scale cannot decide.
pub fn bottom_line(summary: &Summary) -> String {
    let decided: Vec<String> = summary
        .interventions
        .iter()
        .filter(|i| matches!(i.direction, Direction::For | Direction::Against))
        .map(|i| {
            format!(
                "{} ({} {}) {} {}",
                lower_first(i.kind.name()),
                statistic_name(i.kind),
                i.statistic.map(|e| format!("{e:.2}")).unwrap_or_default(),
                if i.direction == Direction::For {
                    "speaks for"
                } else {
                    "speaks against"
                },
                lower_first(i.kind.explanation().name())
            )
        })
        .collect();
    let undecided: Vec<String> = summary
        .mechanisms
        .iter()
        .filter(|m| {
            !matches!(
                m.direction(EvidenceKind::Intervention),
                Direction::For | Direction::Against
            )
        })
        .map(|m| {
            format!(
                "{} ({})",
                lower_first(m.explanation.name()),
                if m.direction(EvidenceKind::Intervention) == Direction::TooFew {
                    "its intervention was not run or had too few seeds"
                } else {
                    "its intervention was not significant"
                }
            )
        })
        .collect();
    let decided = if decided.is_empty() {
        "No intervention was significant, so the verdicts rest on observations only.".to_string()
    } else {
        format!(
            "The interventions, which change one mechanism with the rest held fixed, decide: {}.",
            decided.join("; ")
        )
    };
    let undecided = if undecided.is_empty() {
        String::new()
    } else {
        format!(" What this scale cannot decide: {}.", undecided.join("; "))
    };
    format!("{decided}{undecided}")
}

/// Training speed with and without BatchNorm, in a sentence.
fn speed(summary: &Summary, config: &ReportConfig) -> String {
    use crate::report::explanation::Role;
    let (Some(b), Some(n)) = (summary.norm(Role::BatchNorm), summary.norm(Role::None)) else {
        return String::new();
    };
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
    let speedup = summary.speedup.unwrap_or(Estimate::point(f64::NAN));
    format!(
        "Target loss {}: with BatchNorm the network {}, without normalization it {}; final training loss {:.3} vs {:.3} (ratio {:.2}, {}).",
        config.target_loss,
        reached(b),
        reached(n),
        b.final_loss.mean,
        n.final_loss.mean,
        speedup.value,
        interval(&speedup)
    )
}

/// The answer's details, after the bottom line: speed, the verdicts by name, and how they were
/// reached.
pub fn details(summary: &Summary, config: &ReportConfig) -> String {
    let normalizers = summary.mechanisms.first().map_or(0, |m| m.normalizers);
    format!(
        "{} Supported on this setup: {}. In part: {}. Inconclusive: {}. Contradicted: {}. A significant intervention decides a verdict, and only an intervention can make it supported; otherwise BatchNorm's effect on the metric (a bootstrap interval over {} seed(s)) and the metric's correlation with training speed across {normalizers} normalizers (a permutation test) make it at most partly supported; where an intervention did not decide, only those observations speak, and they show association, not cause. These verdicts hold for this network, data and scale; rerun with --scale full or your own --config to test them at the papers' scale.",
        speed(summary, config),
        named(summary, Verdict::Supported),
        named(summary, Verdict::Partial),
        named(summary, Verdict::Inconclusive),
        named(summary, Verdict::Contradicted),
        config.seeds,
    )
}

/// Every explanation's and intervention's text, keyed by section id, for `results.json`.
pub fn all(summary: &Summary, config: &ReportConfig) -> serde_json::Value {
    let mut text = serde_json::Map::new();
    text.insert("bottom_line".into(), bottom_line(summary).into());
    text.insert("details".into(), details(summary, config).into());
    for e in Explanation::ALL {
        text.insert(
            e.id().into(),
            mechanism(summary.mechanism(e), summary).into(),
        );
        let i = summary.intervention(e.intervention());
        text.insert(i.kind.id().into(), intervention(i, config).into());
    }
    serde_json::Value::Object(text)
}
