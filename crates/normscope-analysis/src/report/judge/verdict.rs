//! How a verdict is reached: each piece of evidence (an intervention's outcome, BatchNorm's
//! effect on the metric, the metric's correlation with training speed across normalizers) is
//! judged with its own uncertainty — an interval, a permutation p-value — into a [`Direction`],
//! and the [`Verdict`] follows from the judged evidence by the rules in `docs/metrics.md`
//! ("Verdict rules"). Everything here is a pure function of numbers, so tests can hit every
//! verdict.

use serde::{Deserialize, Serialize};

use crate::report::explanation::Sign;
use crate::stats::{ALPHA, Estimate};

/// Fewest normalizers for a correlation to be judged: with 4 no two-sided permutation p-value can
/// fall below 0.05 (the smallest is 2/4! = 0.083).
pub const MIN_NORMALIZERS: usize = 5;

/// Which way one piece of evidence points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Significant, the way the explanation predicts.
    For,
    /// Significant, against the prediction.
    Against,
    /// Not significant.
    Neither,
    /// Too little data to judge (too few seeds or normalizers, or not run).
    TooFew,
}

/// What kind of evidence it is; interventions weigh more than observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An experiment that changes the mechanism with the rest held fixed.
    Intervention,
    /// BatchNorm vs no normalization on the metric.
    Effect,
    /// The metric's rank correlation with training speed across normalizers.
    Correlation,
}

/// One judged piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What it is.
    pub kind: EvidenceKind,
    /// Which way it points.
    pub direction: Direction,
}

/// What an explanation's verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Its intervention — the paper's own test — points the way it predicts, and no observation
    /// against it.
    Supported,
    /// Observations point its way and none against (no significant intervention), or the
    /// intervention does while an observation points against it.
    Partial,
    /// Nothing is significant, the evidence conflicts, there is too little data, or only
    /// observations point against it.
    Inconclusive,
    /// Its intervention — the paper's own test — points against it.
    Contradicted,
}

impl Verdict {
    /// Every verdict, strongest support first.
    pub const ALL: [Verdict; 4] = [
        Verdict::Supported,
        Verdict::Partial,
        Verdict::Inconclusive,
        Verdict::Contradicted,
    ];

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

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The verdict from judged evidence (`docs/metrics.md`, "Verdict rules"):
/// 1. a significant intervention — the explanation's paper's own test — decides: *against* →
///    contradicted; *for* → supported when no observation is against it, partly supported when
///    one is;
/// 2. otherwise the observations, which can show association but not cause, so they never
///    reach supported, and never contradicted either (that is reserved for the paper's test
///    coming out against): some *for*, none *against* → partly supported; anything else →
///    inconclusive.
pub fn verdict(evidence: &[Evidence]) -> Verdict {
    let count = |intervention: bool, d: Direction| {
        evidence
            .iter()
            .filter(|e| (e.kind == EvidenceKind::Intervention) == intervention && e.direction == d)
            .count()
    };
    let (obs_for, obs_against) = (
        count(false, Direction::For),
        count(false, Direction::Against),
    );
    if count(true, Direction::Against) > 0 {
        return Verdict::Contradicted;
    }
    if count(true, Direction::For) > 0 {
        return if obs_against == 0 {
            Verdict::Supported
        } else {
            Verdict::Partial
        };
    }
    match (obs_for, obs_against) {
        (1.., 0) => Verdict::Partial,
        _ => Verdict::Inconclusive,
    }
}

/// Which side of a threshold an explanation predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Above the threshold.
    Above,
    /// Below it.
    Below,
}

/// An estimate against a threshold: *for* when the whole interval lies on the predicted `side`,
/// *against* when wholly on the other, *neither* when it contains the threshold, *too few*
/// without an interval.
pub fn judge_threshold(estimate: &Estimate, threshold: f64, side: Side) -> Direction {
    if !estimate.has_interval() {
        return Direction::TooFew;
    }
    let (lo, hi) = estimate.ci;
    let (above, below) = (lo > threshold, hi < threshold);
    match side {
        Side::Above if above => Direction::For,
        Side::Below if below => Direction::For,
        _ if above || below => Direction::Against,
        _ => Direction::Neither,
    }
}

/// BatchNorm's effect on a metric (the ratio BN / none), judged: an explanation whose metric
/// slows training predicts BN lowers it (the whole interval below 1), one whose metric speeds
/// training predicts BN raises it.
pub fn judge_effect(ratio: &Estimate, predicts: Sign) -> Direction {
    let side = match predicts {
        Sign::SlowsTraining => Side::Below,
        Sign::SpeedsTraining => Side::Above,
    };
    judge_threshold(ratio, 1.0, side)
}

/// A correlation with training slowness over `n` normalizers, judged: significant when
/// `p < ALPHA`, *for* when its sign is the predicted one.
pub fn judge_correlation(rho: f64, p: f64, n: usize, predicts: Sign) -> Direction {
    if n < MIN_NORMALIZERS || !rho.is_finite() || !p.is_finite() {
        Direction::TooFew
    } else if p >= ALPHA {
        Direction::Neither
    } else if rho * predicts.value() > 0.0 {
        Direction::For
    } else {
        Direction::Against
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: EvidenceKind, direction: Direction) -> Evidence {
        Evidence { kind, direction }
    }

    #[test]
    fn the_rules_reach_every_verdict() {
        use Direction::*;
        use EvidenceKind::*;
        let cases = [
            // Observations alone show association, not cause: at most partly supported.
            (vec![e(Effect, For), e(Correlation, For)], Verdict::Partial),
            (
                vec![e(Effect, For), e(Correlation, Neither)],
                Verdict::Partial,
            ),
            (
                vec![e(Effect, Neither), e(Correlation, For)],
                Verdict::Partial,
            ),
            (
                vec![e(Effect, For), e(Correlation, TooFew)],
                Verdict::Partial,
            ),
            (
                vec![e(Effect, Neither), e(Correlation, Neither)],
                Verdict::Inconclusive,
            ),
            (
                vec![e(Effect, TooFew), e(Correlation, TooFew)],
                Verdict::Inconclusive,
            ),
            (
                vec![e(Effect, For), e(Correlation, Against)],
                Verdict::Inconclusive,
            ),
            // Observations against, no decisive intervention: not contradicted — that is
            // reserved for the paper's own test.
            (
                vec![e(Effect, Against), e(Correlation, Neither)],
                Verdict::Inconclusive,
            ),
            (
                vec![
                    e(Intervention, Neither),
                    e(Effect, Neither),
                    e(Correlation, Against),
                ],
                Verdict::Inconclusive,
            ),
            (
                vec![e(Intervention, Against), e(Effect, Neither)],
                Verdict::Contradicted,
            ),
            (
                vec![
                    e(Intervention, Against),
                    e(Effect, For),
                    e(Correlation, For),
                ],
                Verdict::Contradicted,
            ),
            (
                vec![
                    e(Intervention, For),
                    e(Effect, Neither),
                    e(Correlation, Neither),
                ],
                Verdict::Supported,
            ),
            (
                vec![e(Intervention, For), e(Effect, Against)],
                Verdict::Partial,
            ),
            (
                vec![
                    e(Intervention, Neither),
                    e(Effect, For),
                    e(Correlation, For),
                ],
                Verdict::Partial,
            ),
        ];
        for (evidence, expected) in cases {
            assert_eq!(verdict(&evidence), expected, "{evidence:?}");
        }
    }

    #[test]
    fn evidence_is_judged_on_its_predicted_side() {
        use crate::stats::{permutation_p, ratio_of_means};
        let r = ratio_of_means(&[0.40, 0.42, 0.44], &[1.00, 1.05, 0.95]);
        assert_eq!(judge_effect(&r, Sign::SlowsTraining), Direction::For);
        assert_eq!(judge_effect(&r, Sign::SpeedsTraining), Direction::Against);
        let r = ratio_of_means(&[0.8, 1.3, 1.0], &[1.2, 0.7, 1.0]);
        assert_eq!(judge_effect(&r, Sign::SlowsTraining), Direction::Neither);
        let r = ratio_of_means(&[0.4], &[1.0, 1.1]);
        assert_eq!(judge_effect(&r, Sign::SlowsTraining), Direction::TooFew);
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let p = permutation_p(&a, &[10.0, 20.0, 30.0, 40.0, 50.0], 0);
        assert_eq!(
            judge_correlation(1.0, p, 5, Sign::SlowsTraining),
            Direction::For
        );
        assert_eq!(
            judge_correlation(1.0, p, 5, Sign::SpeedsTraining),
            Direction::Against
        );
        assert_eq!(
            judge_correlation(1.0, p, 4, Sign::SlowsTraining),
            Direction::TooFew
        );
        assert_eq!(
            judge_correlation(0.3, 0.4, 10, Sign::SlowsTraining),
            Direction::Neither
        );
        let e = crate::stats::Estimate {
            value: 0.7,
            ci: (0.55, 0.8),
        };
        assert_eq!(judge_threshold(&e, 0.5, Side::Above), Direction::For);
        assert_eq!(judge_threshold(&e, 0.5, Side::Below), Direction::Against);
        assert_eq!(judge_threshold(&e, 0.6, Side::Above), Direction::Neither);
    }
}
