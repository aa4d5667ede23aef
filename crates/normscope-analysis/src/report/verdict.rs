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
    /// The evidence points the way the explanation predicts, and nothing points against it.
    Supported,
    /// Part of the evidence points its way, the rest is not significant.
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
/// 2. otherwise the observations: all significant ones *for* and every piece significant →
///    supported; some *for*, none *against* → partly supported; some *against*, none *for* →
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
    let observations = evidence.iter().filter(|e| observation(e.kind)).count();
    match (obs_for, obs_against) {
        (0, 0) => Verdict::Inconclusive,
        (f, 0) if f == observations => Verdict::Supported,
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
    let a: Vec<f64> = a.iter().copied().filter(|v| v.is_finite()).collect();
    let b: Vec<f64> = b.iter().copied().filter(|v| v.is_finite()).collect();
    let ratio = if a.is_empty() || b.is_empty() {
        f64::NAN
    } else {
        mean(&a) / mean(&b)
    };
    if a.len() < MIN_SEEDS || b.len() < MIN_SEEDS {
        return Ratio {
            ratio,
            ci: (f64::NAN, f64::NAN),
        };
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = |v: &[f64]| -> f64 {
        (0..v.len())
            .map(|_| v[rng.random_range(0..v.len())])
            .sum::<f64>()
            / v.len() as f64
    };
    let mut ratios: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| draw(&a) / draw(&b))
        .filter(|r| !r.is_nan())
        .collect();
    ratios.sort_by(f64::total_cmp);
    Ratio {
        ratio,
        ci: (
            quantile(&ratios, ALPHA / 2.0),
            quantile(&ratios, 1.0 - ALPHA / 2.0),
        ),
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
    let (lo, hi) = ratio.ci;
    if !(lo.is_finite() && hi.is_finite()) {
        return Direction::TooFew;
    }
    let (below, above) = (hi < 1.0, lo > 1.0);
    match (below, above) {
        (true, _) if sign > 0.0 => Direction::For,
        (_, true) if sign < 0.0 => Direction::For,
        (true, _) | (_, true) => Direction::Against,
        _ => Direction::Neither,
    }
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
            (
                vec![e(Effect, For), e(Correlation, For)],
                Verdict::Supported,
            ),
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
                Verdict::Supported,
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
