//! How a verdict is reached: each piece of evidence (BatchNorm's effect on the metric, the
//! metric's correlation with training speed across normalizers) is judged with its own
//! uncertainty — a bootstrap interval over seeds, a permutation p-value over normalizers — and
//! the verdict follows from the judged evidence by the rules in `docs/metrics.md` ("Verdict
//! rules"). Everything here is a pure function of numbers, so tests can hit every verdict.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::summary::spearman;

/// Bootstrap resamples of a ratio's interval.
pub const BOOTSTRAP_RESAMPLES: usize = 4000;
/// Random permutations of a correlation's p-value (exact enumeration below 8 normalizers).
pub const PERMUTATIONS: usize = 20_000;
/// Two-sided level of every interval and test.
pub const ALPHA: f64 = 0.05;
/// Fewest seeds per side for a BatchNorm/none interval.
pub const MIN_SEEDS: usize = 2;
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
    /// Too little data to judge (too few seeds or normalizers).
    TooFew,
}

/// What kind of evidence it is; interventions weigh more than observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
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
    pub kind: Kind,
    /// Which way it points.
    pub direction: Direction,
}

/// What an explanation's verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// An intervention points the way the explanation predicts, and no observation against it.
    Supported,
    /// Observations point its way and none against (no significant intervention), or an
    /// intervention does while an observation points against it.
    Partial,
    /// Nothing is significant, the evidence conflicts, or there is too little data.
    Inconclusive,
    /// The evidence points against it and nothing points its way (or an intervention does).
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

/// The verdict from judged evidence (`docs/metrics.md`, "Verdict rules"):
/// 1. a significant intervention decides: *against* → contradicted; *for* → supported when no
///    observation is against it, partly supported when one is;
/// 2. otherwise the observations, which can show association but not cause, so they never reach
///    supported: some *for*, none *against* → partly supported; some *against*, none *for* →
///    contradicted; *for* and *against* together, or nothing significant → inconclusive.
pub fn verdict(evidence: &[Evidence]) -> Verdict {
    let count = |kinds: &dyn Fn(Kind) -> bool, d: Direction| {
        evidence
            .iter()
            .filter(|e| kinds(e.kind) && e.direction == d)
            .count()
    };
    let intervention = |k: Kind| k == Kind::Intervention;
    let observation = |k: Kind| k != Kind::Intervention;
    let (obs_for, obs_against) = (
        count(&observation, Direction::For),
        count(&observation, Direction::Against),
    );
    if count(&intervention, Direction::Against) > 0 {
        return Verdict::Contradicted;
    }
    if count(&intervention, Direction::For) > 0 {
        return if obs_against == 0 {
            Verdict::Supported
        } else {
            Verdict::Partial
        };
    }
    match (obs_for, obs_against) {
        (0, 0) => Verdict::Inconclusive,
        (_, 0) => Verdict::Partial,
        (0, _) => Verdict::Contradicted,
        _ => Verdict::Inconclusive,
    }
}

/// A ratio of means with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// `mean(a) / mean(b)`.
    pub ratio: f64,
    /// The 2.5% and 97.5% percentiles of the ratio over resamples of each side's seeds (NaN
    /// with fewer than [`MIN_SEEDS`] per side).
    pub ci: (f64, f64),
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The `q`-quantile of sorted values (linear interpolation).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// `mean(a)/mean(b)` and its percentile-bootstrap interval: each resample draws `a`'s and `b`'s
/// seeds with replacement, independently (a stratified bootstrap; seeded, so reproducible).
pub fn bootstrap_ratio(a: &[f64], b: &[f64], seed: u64) -> Ratio {
    let estimate = bootstrap(&[a, b], |m| m[0] / m[1], seed);
    Ratio {
        ratio: estimate.value,
        ci: estimate.ci,
    }
}

/// A statistic of group means with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The statistic of the groups' means.
    pub value: f64,
    /// Its 2.5% and 97.5% percentiles over resamples (NaN with fewer than [`MIN_SEEDS`] values
    /// in some group).
    pub ci: (f64, f64),
}

impl Estimate {
    /// Whether there is an interval.
    pub fn has_interval(&self) -> bool {
        self.ci.0.is_finite() && self.ci.1.is_finite()
    }
}

/// `statistic(means of groups)` and its percentile-bootstrap interval: each resample draws every
/// group's values (seeds) with replacement, independently (stratified; seeded, so
/// reproducible). Non-finite values are dropped first; resamples where the statistic is NaN
/// are left out.
pub fn bootstrap(groups: &[&[f64]], statistic: impl Fn(&[f64]) -> f64, seed: u64) -> Estimate {
    let groups: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| g.iter().copied().filter(|v| v.is_finite()).collect())
        .collect();
    let value = if groups.iter().any(|g| g.is_empty()) {
        f64::NAN
    } else {
        statistic(&groups.iter().map(|g| mean(g)).collect::<Vec<_>>())
    };
    let none = Estimate {
        value,
        ci: (f64::NAN, f64::NAN),
    };
    if groups.iter().any(|g| g.len() < MIN_SEEDS) {
        return none;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means = vec![0.0; groups.len()];
    let mut values: Vec<f64> = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for (m, g) in means.iter_mut().zip(&groups) {
            *m = (0..g.len())
                .map(|_| g[rng.random_range(0..g.len())])
                .sum::<f64>()
                / g.len() as f64;
        }
        let v = statistic(&means);
        if !v.is_nan() {
            values.push(v);
        }
    }
    if values.is_empty() {
        return none;
    }
    values.sort_by(f64::total_cmp);
    Estimate {
        value,
        ci: (
            quantile(&values, ALPHA / 2.0),
            quantile(&values, 1.0 - ALPHA / 2.0),
        ),
    }
}

/// An estimate against a threshold: *for* when the whole interval lies on the predicted side
/// (`above`: above the threshold), *against* when wholly on the other side, *neither* when it
/// contains the threshold, *too few* without an interval.
pub fn judge_threshold(estimate: &Estimate, threshold: f64, above: bool) -> Direction {
    if !estimate.has_interval() {
        return Direction::TooFew;
    }
    let (lo, hi) = estimate.ci;
    match (lo > threshold, hi < threshold) {
        (true, _) if above => Direction::For,
        (_, true) if !above => Direction::For,
        (true, _) | (_, true) => Direction::Against,
        _ => Direction::Neither,
    }
}

/// Two-sided permutation p-value of Spearman's ρ between `a` and `b`: the share of orderings of
/// `b` whose |ρ| reaches the observed one (every ordering below 8 values, else
/// [`PERMUTATIONS`] random ones, counting the observed one, so p is never 0).
pub fn permutation_p(a: &[f64], b: &[f64], seed: u64) -> f64 {
    let observed = spearman(a, b);
    if !observed.is_finite() {
        return f64::NAN;
    }
    let reaches = |perm: &[f64]| spearman(a, perm).abs() >= observed.abs() - 1e-12;
    let n = b.len();
    if n < 8 {
        let (mut hits, mut total) = (0usize, 0usize);
        let mut perm = b.to_vec();
        heap_permutations(&mut perm, n, &mut |p| {
            total += 1;
            hits += reaches(p) as usize;
        });
        return hits as f64 / total as f64;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut perm = b.to_vec();
    let mut hits = 1usize;
    for _ in 0..PERMUTATIONS {
        for i in (1..n).rev() {
            perm.swap(i, rng.random_range(0..=i));
        }
        hits += reaches(&perm) as usize;
    }
    hits as f64 / (PERMUTATIONS + 1) as f64
}

/// Heap's algorithm: calls `visit` on every ordering of `v[..k]`.
fn heap_permutations(v: &mut [f64], k: usize, visit: &mut dyn FnMut(&[f64])) {
    if k <= 1 {
        visit(v);
        return;
    }
    for i in 0..k - 1 {
        heap_permutations(v, k - 1, visit);
        if k.is_multiple_of(2) {
            v.swap(i, k - 1);
        } else {
            v.swap(0, k - 1);
        }
    }
    heap_permutations(v, k - 1, visit);
}

/// BatchNorm's effect on a metric, judged: `sign = +1` when the explanation says larger values
/// slow training (so BN should lower the metric: the whole interval below 1), `−1` when larger
/// values speed it up.
pub fn judge_effect(ratio: &Ratio, sign: f64) -> Direction {
    let estimate = Estimate {
        value: ratio.ratio,
        ci: ratio.ci,
    };
    judge_threshold(&estimate, 1.0, sign < 0.0)
}

/// A correlation with training slowness, judged: significant when `p < ALPHA`, *for* when its
/// sign is the predicted `sign`.
pub fn judge_correlation(rho: f64, p: f64, n: usize, sign: f64) -> Direction {
    if n < MIN_NORMALIZERS || !rho.is_finite() || !p.is_finite() {
        Direction::TooFew
    } else if p >= ALPHA {
        Direction::Neither
    } else if rho * sign > 0.0 {
        Direction::For
    } else {
        Direction::Against
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: Kind, direction: Direction) -> Evidence {
        Evidence { kind, direction }
    }

    #[test]
    fn the_rules_reach_every_verdict() {
        use Direction::*;
        use Kind::*;
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
            (
                vec![e(Effect, Against), e(Correlation, Neither)],
                Verdict::Contradicted,
            ),
            (
                vec![e(Effect, Neither), e(Correlation, Against)],
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
    fn the_bootstrap_interval_covers_the_ratio_and_separates_only_separated_groups() {
        // Clearly separated seeds: the interval excludes 1.
        let r = bootstrap_ratio(&[0.40, 0.42, 0.44], &[1.00, 1.05, 0.95], 1);
        assert!((r.ratio - 0.42).abs() < 1e-12);
        assert!(r.ci.0 <= r.ratio && r.ratio <= r.ci.1, "{r:?}");
        // The extreme resamples bound the interval: min(a)/max(b), max(a)/min(b).
        assert!(
            r.ci.0 >= 0.40 / 1.05 - 1e-12 && r.ci.1 <= 0.44 / 0.95 + 1e-12,
            "{r:?}"
        );
        assert_eq!(judge_effect(&r, 1.0), Direction::For);
        assert_eq!(judge_effect(&r, -1.0), Direction::Against);
        // Overlapping seeds: the interval contains 1.
        let r = bootstrap_ratio(&[0.8, 1.3, 1.0], &[1.2, 0.7, 1.0], 1);
        assert!(r.ci.0 < 1.0 && r.ci.1 > 1.0, "{r:?}");
        assert_eq!(judge_effect(&r, 1.0), Direction::Neither);
        // One seed: no interval.
        let r = bootstrap_ratio(&[0.4], &[1.0, 1.1], 1);
        assert!(r.ci.0.is_nan());
        assert_eq!(judge_effect(&r, 1.0), Direction::TooFew);
    }

    #[test]
    fn the_permutation_p_value_matches_the_exact_null_distribution() {
        // A perfect ranking of 5: only the identity and the reversal reach |ρ| = 1, p = 2/120.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let p = permutation_p(&a, &[10.0, 20.0, 30.0, 40.0, 50.0], 0);
        assert!((p - 2.0 / 120.0).abs() < 1e-12, "{p}");
        assert_eq!(judge_correlation(1.0, p, 5, 1.0), Direction::For);
        assert_eq!(judge_correlation(1.0, p, 5, -1.0), Direction::Against);
        assert_eq!(judge_correlation(1.0, p, 4, 1.0), Direction::TooFew);
        // 10 values, random permutations: a perfect ranking has p ≈ 2/10! → the floor 1/(N+1).
        let a: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let p = permutation_p(&a, &a, 0);
        assert!(p < 1e-3, "{p}");
        // ρ = 0 exactly: every ordering reaches it, p = 1.
        let p = permutation_p(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 1.0, 3.0], 0);
        assert!(spearman(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 1.0, 3.0]).abs() < 1e-12);
        assert!((p - 1.0).abs() < 1e-12, "{p}");
        // A weak correlation over 10 is not significant.
        let b = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0, 5.5, 3.5];
        let rho = spearman(&a, &b);
        let p = permutation_p(&a, &b, 0);
        assert!(p > ALPHA, "ρ = {rho}, p = {p}");
        assert_eq!(
            judge_correlation(rho, p, 10, rho.signum()),
            Direction::Neither
        );
    }
}
