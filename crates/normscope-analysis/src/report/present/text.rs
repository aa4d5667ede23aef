//! Every sentence of the report: what each explanation's evidence says, each intervention's
//! prediction and outcome, and the answer. Built from the judgement's numbers and decisions; no
//! number is computed here.

use crate::report::config::MIN_JUDGED_SEEDS;
use crate::report::config::ReportConfig;
use crate::report::explanation::{Explanation, InterventionKind, Sign};
use crate::report::judge::intervention::{
    Comparison, Facts, Intervention, Reason, SHARE_THRESHOLD, TRAINED, chance_loss,
};
use crate::report::judge::landscape::{Against, DepthComparison, Side};
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
        format!(
            "{:.digits$} (no interval: too few seeds, or a denominator indistinguishable from 0)",
            e.value
        )
    }
}

/// `95% CI [0.35, 0.48]`, or why there is none.
fn interval(e: &Estimate) -> String {
    if e.has_interval() {
        format!("95% CI [{:.2}, {:.2}]", e.ci.0, e.ci.1)
    } else {
        "no interval: too few seeds, or a denominator indistinguishable from 0".into()
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
        InterventionKind::SkipInitDepth | InterventionKind::RankPretraining => format!(
            "share of BatchNorm's advantage {} recovers",
            kind.arm().label()
        ),
    }
}

/// What the explanation predicts the intervention shows.
pub fn prediction(kind: InterventionKind) -> String {
    match kind {
        InterventionKind::Noise => format!(
            "if reducing internal covariate shift were why BatchNorm helps, BatchNorm with noise injected after it (Santurkar et al. 2018, §2.1: a shift and scale per channel redrawn every step, which makes the distribution each layer passes on drift) would lose most of BatchNorm's advantage: it keeps less than {SHARE_THRESHOLD} of the gap L_none − L_BN"
        ),
        InterventionKind::LearningRates => "if a smoother landscape were why BatchNorm helps, BatchNorm would train at learning rates at which the unnormalized network does not (Bjorck et al. 2018: BN \"primarily enables training with larger learning rates\"): its largest stable learning rate is the larger".into(),
        InterventionKind::SkipInitDepth => format!(
            "if the bias of residual blocks toward the identity were why BatchNorm helps, SkipInit — identity blocks at initialization without any normalizer — would recover most of BatchNorm's advantage where it is largest, the deepest network, when each arm trains at its own best learning rate as De & Smith (2020) compare them: a share above {SHARE_THRESHOLD} of L_none − L_BN (they report SkipInit matching BatchNorm at small batch sizes, BatchNorm's edge being the larger learning rate it allows at large batch)"
        ),
        InterventionKind::RankPretraining => format!(
            "if avoiding rank collapse were why BatchNorm helps, a deep plain (non-residual) network without normalization, pre-trained to maximise the soft rank of its last hidden layer (Daneshmand et al. 2020's test), would recover most of BatchNorm's advantage where it is largest, the deepest network, each arm at its own best learning rate: a share above {SHARE_THRESHOLD} of L_none − L_BN"
        ),
    }
}

/// What was tested, on which data, at which scale: the scope every verdict names.
pub fn scope(i: &Intervention, config: &ReportConfig) -> String {
    let iv = &config.interventions;
    let data = config.data.name();
    let judged = match &i.facts {
        Facts::Sweep {
            judged: Some(j), ..
        } => Some(j),
        _ => None,
    };
    // The judged depth, or (none significant) every depth swept.
    let depth = |swept: &[usize]| {
        judged.map_or_else(
            || {
                let list: Vec<String> = swept.iter().map(|d| d.to_string()).collect();
                list.join(", ")
            },
            |j| j.depth.to_string(),
        )
    };
    match i.kind {
        InterventionKind::Noise => format!(
            "noise after every BatchNorm in the battery's ResNet ({} block(s) per stage), {} steps at batch {}, {} seed(s), {data} data",
            config.network.blocks, config.train.steps, config.train.batch_size, config.seeds
        ),
        InterventionKind::LearningRates => format!(
            "learning rates {:?}, {} steps at batch {}, {} seeds, {data} data",
            iv.learning_rates, iv.steps, config.train.batch_size, iv.seeds
        ),
        InterventionKind::SkipInitDepth => format!(
            "SkipInit vs BatchNorm vs none, each at its best rate of {:?}, {} blocks per stage, {} steps at batch {}, {} seeds, {data} data",
            iv.depth_learning_rates,
            depth(&iv.depths),
            judged.map_or(iv.steps, |j| j.budget),
            config.train.batch_size,
            iv.seeds
        ),
        InterventionKind::RankPretraining => format!(
            "plain MLPs {} wide, vanilla vs BatchNorm vs rank-pre-trained vanilla, each at its best rate of {:?}, {} hidden layers, {} steps at batch {}, {} seeds, {data} data",
            iv.rank.width,
            iv.rank.learning_rates,
            depth(&iv.rank.depths),
            iv.rank.steps,
            config.train.batch_size,
            iv.seeds
        ),
    }
}

/// Why the outcome is what it is, as the end of a sentence.
fn why(i: &Intervention) -> String {
    let arm = i.kind.arm().label();
    let check = || with_interval(&i.check.unwrap_or(Estimate::point(f64::NAN)), 2);
    match (&i.reason, i.kind) {
        (Reason::NotRun { .. } | Reason::NoGrid, _) => String::new(),
        (Reason::TooFewSeeds, _) => format!(
            "fewer than {MIN_JUDGED_SEEDS} seeds per arm: too few to judge"
        ),
        (Reason::NoAdvantage, InterventionKind::Noise) => "BatchNorm has no significant advantage over no normalization here, so there is nothing for the noise to take away".into(),
        (Reason::NoAdvantage, _) => "BatchNorm's advantage is significant at no depth: there is no gap to recover".into(),
        (Reason::CheckFailed, InterventionKind::Noise) => format!(
            "the noise did not raise the activation drift significantly (noisy/plain BatchNorm {}), so the experiment does not test the explanation",
            check()
        ),
        (Reason::CheckFailed, _) => format!(
            "pre-training did not raise the effective rank at the start of training significantly ({arm}/vanilla {}), so the experiment does not test the explanation",
            check()
        ),
        (Reason::NoStableRate, _) => "one arm trains at no learning rate of the grid: widen it".into(),
        (Reason::GridTooNarrow, _) => "both train at the top of the grid: the grid does not reach the unnormalized network's limit".into(),
        (Reason::Judged, InterventionKind::Noise) => match i.direction {
            Direction::For => "noisy BatchNorm lost most of BatchNorm's advantage, as the explanation predicts".into(),
            Direction::Against => "noisy BatchNorm kept most of BatchNorm's advantage despite the extra drift, against the prediction (Santurkar et al.'s finding)".into(),
            _ => "the interval contains one half: the experiment does not decide".into(),
        },
        (Reason::Judged, InterventionKind::LearningRates) => match i.direction {
            Direction::For => "BatchNorm trains at learning rates where the unnormalized network does not, as the explanation predicts".into(),
            _ => "BatchNorm allows no larger learning rate than no normalization, against the prediction".into(),
        },
        (Reason::Judged, InterventionKind::SkipInitDepth | InterventionKind::RankPretraining) => {
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

/// How often fresh seeds would decide the same, as a sentence (empty when not judged).
fn replication(i: &Intervention) -> String {
    i.replication
        .map(|r| {
            format!(
                " With a fresh set of seeds the outcome would be the same in {:.0}% of simulated replications (normal per-seed losses with the observed means and spreads, learning rates as selected).",
                100.0 * r
            )
        })
        .unwrap_or_default()
}

/// The intervention's outcome in words.
pub fn intervention(i: &Intervention, config: &ReportConfig) -> String {
    if let Reason::NotRun { missing } = &i.reason {
        return match i.kind {
            InterventionKind::Noise => format!("Not run: the battery has no `{missing}`."),
            _ => format!("Not run: the sweep has no arm `{missing}`."),
        };
    }
    if i.reason == Reason::NoGrid {
        return "Not run: the sweep has no grid.".into();
    }
    let body = match &i.facts {
        Facts::None => format!("{}.", upper_first(&why(i))),
        Facts::Noise { .. } => noise_facts(i),
        Facts::LearningRates { .. } => learning_rate_facts(i, config),
        Facts::Sweep { .. } => sweep_facts(i),
    };
    format!("{body}{} Tested: {}.", replication(i), scope(i, config))
}

/// `text` with its first letter in upper case.
fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The statistic, or NaN.
fn statistic(i: &Intervention) -> Estimate {
    i.statistic.unwrap_or(Estimate::point(f64::NAN))
}

/// The noise experiment in words.
fn noise_facts(i: &Intervention) -> String {
    let Facts::Noise {
        advantage,
        drift,
        relative_shift,
        absolute_shift,
        noise_only,
    } = &i.facts
    else {
        return why(i);
    };
    format!(
        "BatchNorm's advantage L_none − L_BN = {}. Noisy BatchNorm keeps a share {} of it, while the activation drift per step is {}× plain BatchNorm's (Definition 2.1's relative gradient shift {}×, the absolute one {}×): {}.{}",
        with_interval(advantage, 3),
        with_interval(&statistic(i), 2),
        with_interval(drift, 2),
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
    let chance = chance_loss(config.data.classes());
    let show = |eta: &Option<f64>| eta.map(|v| v.to_string()).unwrap_or("none".into());
    format!(
        "Largest stable learning rate (no seed diverged, mean final loss at most {TRAINED} × the chance loss {chance:.2}): {} with BatchNorm, {} without: {}.{}",
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

/// One comparison in a few words: the arms' best rates and losses, and the share; `explain`
/// spells out what a dead baseline means.
fn comparison(c: &Comparison, arm: &str, explain: bool) -> String {
    let rates = c
        .arms
        .iter()
        .map(|a| format!("{} {:.3} at lr {}", a.label, a.mean(), a.lr))
        .collect::<Vec<_>>()
        .join(", ");
    let dead = match (c.baseline_dead, explain) {
        (false, _) => String::new(),
        (true, false) => " (dead baseline)".into(),
        (true, true) => format!(
            " (none learned nothing at any rate here: it counts at the chance loss, so the share is {arm}'s progress from chance relative to BatchNorm's — a direct comparison of {arm} with BatchNorm, not what the mechanism buys over a working baseline)"
        ),
    };
    format!(
        "{rates}; advantage {}, {arm}'s share {}{dead}",
        with_interval(&c.advantage, 3),
        with_interval(&c.share, 2),
    )
}

/// A tuned sweep (identity bias, rank pre-training) in words.
fn sweep_facts(i: &Intervention) -> String {
    let Facts::Sweep {
        depths,
        budgets,
        batch_sizes,
        judged,
        soft_rank,
    } = &i.facts
    else {
        return why(i);
    };
    let arm = i.kind.arm().label();
    let unit = match i.kind {
        InterventionKind::RankPretraining => "hidden layers",
        _ => "blocks per stage",
    };
    let by_depth = depths
        .iter()
        .map(|c| format!("{} {unit}: {}", c.depth, comparison(c, arm, false)))
        .collect::<Vec<_>>()
        .join("; ");
    let mut text = format!("Each arm at its own best learning rate. By depth: {by_depth}.");
    if let Some(j) = judged {
        text.push_str(&format!(
            " Judged at {} {unit}, the deepest where BatchNorm's advantage is significant, after {} steps at batch {}: {}.",
            j.depth,
            j.budget,
            j.batch_size,
            comparison(j, arm, true)
        ));
    }
    if budgets.len() > 1 {
        text.push_str(&format!(
            " As the budget grows, {arm}'s share is {}.",
            budgets
                .iter()
                .map(|c| format!("{:.2} after {} steps", c.share.value, c.budget))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !batch_sizes.is_empty() {
        text.push_str(&format!(
            " At the deepest depth, by batch size (the same number of samples): {}.",
            batch_sizes
                .iter()
                .map(|c| format!(
                    "batch {}: share {} (best rates: {})",
                    c.batch_size,
                    with_interval(&c.share, 2),
                    c.arms
                        .iter()
                        .map(|a| format!("{} {}", a.label, a.lr))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let (Some((before, after)), Some(check)) = (soft_rank, i.check) {
        text.push_str(&format!(
            " Pre-training raised the soft rank of the last hidden layer from {} to {}; the effective rank at the start of training is {}× the vanilla network's.",
            before.show(1),
            after.show(1),
            with_interval(&check, 2)
        ));
    }
    text.push_str(&format!(" So: {}.", why(i)));
    text
}

/// One explanation's evidence and verdict in words.
pub fn mechanism(m: &Mechanism, summary: &Summary, config: &ReportConfig) -> String {
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
    let scope = scope(tested, config);
    format!(
        "{effect_text}.{abs_text} {correlation_text}{intervention_text} {}",
        match m.verdict {
            Verdict::Supported =>
                format!("Verdict: supported — its paper's own test came out for it ({scope})."),
            Verdict::Partial => format!(
                "Verdict: partly supported — observations point its way, but its test ({scope}) did not decide, or an observation goes against it."
            ),
            Verdict::Inconclusive => format!(
                "Verdict: inconclusive — its test ({scope}) did not decide and the observations do not point one way."
            ),
            Verdict::Contradicted => format!(
                "Verdict: contradicted — its paper's own test came out against it ({scope})."
            ),
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
pub fn bottom_line(summary: &Summary, config: &ReportConfig) -> String {
    let decided: Vec<String> = summary
        .interventions
        .iter()
        .filter(|i| matches!(i.direction, Direction::For | Direction::Against))
        .map(|i| {
            format!(
                "{} ({} {}; {}) {} {}",
                lower_first(i.kind.name()),
                statistic_name(i.kind),
                i.statistic.map(|e| format!("{e:.2}")).unwrap_or_default(),
                config.data.name(),
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
                match summary.intervention(m.explanation.intervention()).reason {
                    Reason::TooFewSeeds => "too few seeds for its test",
                    Reason::NotRun { .. } | Reason::NoGrid => "its test was not run",
                    Reason::NoAdvantage => "BatchNorm had no significant advantage to explain",
                    Reason::CheckFailed => "its intervention did not move its mechanism",
                    Reason::NoStableRate | Reason::GridTooNarrow => "its grid was too narrow",
                    Reason::Judged => "its test was not significant",
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
        "{} Supported on this setup: {}. In part: {}. Inconclusive: {}. Contradicted: {}. A significant intervention decides a verdict, and only an intervention can make it supported; otherwise BatchNorm's effect on the metric (a t-based Fieller interval over {} seed(s)) and the metric's correlation with training speed across {normalizers} normalizers (a permutation test) make it at most partly supported, and never contradicted — that is reserved for the paper's own test coming out against it; where an intervention did not decide, only those observations speak, and they show association, not cause. These verdicts hold for this network, data and scale (each verdict names its test, its data and its budget); rerun with --scale full, --dataset, or your own --config to test them at the papers' scale.",
        speed(summary, config),
        named(summary, Verdict::Supported),
        named(summary, Verdict::Partial),
        named(summary, Verdict::Inconclusive),
        named(summary, Verdict::Contradicted),
        config.seeds,
    )
}

/// What the landscape subsection measured, on which networks and with which settings.
pub fn landscape_measured(config: &ReportConfig) -> String {
    let l = &config.landscape;
    let labels: Vec<&str> = l.normalizers.iter().map(|e| e.label.as_str()).collect();
    format!(
        "{} trained as the battery trains ({} steps at rate {}), at {} residual block(s) per stage, {} seed(s) each; then, at the trained weights, in eval mode (Li et al. 2018, PyHessian) on the first training samples: the loss on a filter-normalised plane ({} × {} points, {} batch(es) of {}), the interpolation from the initialisation, and the Hessian's top-{} eigenvalues, trace ({} probes) and spectral density ({} Lanczos steps) by finite-difference Hessian-vector products on {} batch(es) of {}.",
        labels.join(", "),
        config.train.steps,
        config.train.lr,
        l.depths
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        l.seeds,
        l.plane.points,
        l.plane.points,
        l.eval_batches,
        l.eval_batch_size,
        l.spectrum.top_k,
        l.spectrum.trace_samples,
        l.spectrum.lanczos_steps,
        l.hessian_batches,
        l.hessian_batch_size,
    )
}

/// One quantity (`name`) of BatchNorm against none: the side its difference lies on, the
/// difference with its interval, the ratio of means.
fn against(name: &str, a: &Against) -> String {
    let side = match a.side {
        Side::Lower => "lower with BatchNorm",
        Side::Higher => "higher with BatchNorm",
        Side::Unclear => "not distinguishable",
        Side::TooFew => "not judged",
    };
    format!(
        "{name} is {side}: BN − none {:.2}, ratio of means {:.2}",
        a.difference, a.ratio.value
    )
}

/// BatchNorm's top eigenvalue and trace against none's at one depth; an arm that diverged in
/// every seed is said so.
fn depth_comparison(c: &DepthComparison) -> String {
    match c.runs {
        (_, 0) => return format!("at depth {}, none diverged in every seed", c.depth),
        (0, _) => return format!("at depth {}, BatchNorm diverged in every seed", c.depth),
        _ => {}
    }
    let mut text = format!(
        "at depth {}, {}; {}",
        c.depth,
        against("the top eigenvalue", &c.lambda_max),
        against("the trace", &c.trace)
    );
    if c.runs.0.min(c.runs.1) < MIN_JUDGED_SEEDS {
        text.push_str(&format!(
            " ({} and {} trained runs; {MIN_JUDGED_SEEDS} per arm are needed to judge)",
            c.runs.0, c.runs.1
        ));
    }
    text
}

/// What the landscape shows: BatchNorm's sharpness against none's at each depth, beside what
/// Santurkar et al. and PyHessian report.
pub fn landscape(summary: &Summary, config: &ReportConfig) -> String {
    let l = &config.landscape;
    if l.depths.is_empty() || l.normalizers.is_empty() {
        return "Not measured: `[landscape] depths` is empty in this configuration (set `depths = [1, 4, 16]` to add it).".into();
    }
    let comparisons = &summary.landscape.comparisons;
    let measured = if comparisons.is_empty() {
        "The landscape's arms do not include both `none` and `BatchNorm`: nothing is compared."
            .to_string()
    } else {
        let parts: Vec<String> = comparisons.iter().map(depth_comparison).collect();
        format!(
            "Sharpness at the trained weights, BatchNorm against none (the difference of the means over seeds with Welch's 95% interval decides; the ratio of means is beside it): {}.",
            parts.join("; ")
        )
    };
    format!(
        "{measured} Santurkar et al. 2018 predict a smaller top eigenvalue with BatchNorm (a smoother landscape); Yao et al. 2020 (PyHessian) report that BatchNorm does not necessarily make the landscape smoother, especially in shallow networks — the depths above test both. These numbers are descriptive: they do not enter the verdict, which rests on the learning-rate intervention, BatchNorm's effect on β and the correlation across normalizers."
    )
}

/// Every explanation's and intervention's text, keyed by section id, for `results.json`.
pub fn all(summary: &Summary, config: &ReportConfig) -> serde_json::Value {
    let mut text = serde_json::Map::new();
    text.insert("bottom_line".into(), bottom_line(summary, config).into());
    text.insert("details".into(), details(summary, config).into());
    for e in Explanation::ALL {
        text.insert(
            e.id().into(),
            mechanism(summary.mechanism(e), summary, config).into(),
        );
        let i = summary.intervention(e.intervention());
        text.insert(i.kind.id().into(), intervention(i, config).into());
    }
    text.insert("landscape".into(), landscape(summary, config).into());
    serde_json::Value::Object(text)
}
