//! The statistics every experiment and the report share, in one place: summaries over seeds
//! ([`Stat`]), means with a stated NaN policy, quantiles, the stratified percentile bootstrap,
//! Spearman's ρ with its permutation p-value, Cohen's d, and [`Estimate`] — a value with its
//! 95% interval and one way to print it.
//!
//! NaN policy: [`mean`] propagates non-finite values (a diverged run makes the mean NaN, which is
//! what a caller that must not hide one wants); [`finite_mean`] drops them (a summary of what
//! finished). [`bootstrap`] and [`Stat::of_finite`] drop them too and say so.

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Bootstrap resamples of an interval.
pub const BOOTSTRAP_RESAMPLES: usize = 4000;
/// Random permutations of a correlation's p-value (exact enumeration below 8 values).
pub const PERMUTATIONS: usize = 20_000;
/// Two-sided level of every interval and test.
pub const ALPHA: f64 = 0.05;
/// Fewest values per group for a bootstrap interval.
pub const MIN_SEEDS: usize = 2;

/// Mean, standard deviation (n − 1), minimum and maximum of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Number of values.
    pub n: usize,
}

impl Stat {
    /// The summary of `values` (NaN fields when empty; non-finite values propagate).
    pub fn of(values: &[f64]) -> Stat {
        let n = values.len();
        if n == 0 {
            return Stat {
                mean: f64::NAN,
                std: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                n,
            };
        }
        let mean = mean(values);
        let std = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Stat {
            mean,
            std,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n,
        }
    }

    /// The summary of the finite values among `values` (`n` counts only those).
    pub fn of_finite(values: impl IntoIterator<Item = f64>) -> Stat {
        Stat::of(&finite(values))
    }

    /// `mean ± std` with `digits` decimals; the mean alone for one value, `—` for none (or a
    /// non-finite mean).
    pub fn show(&self, digits: usize) -> String {
        if self.n == 0 || !self.mean.is_finite() {
            "—".into()
        } else if self.n > 1 {
            format!("{:.digits$} ± {:.digits$}", self.mean, self.std)
        } else {
            format!("{:.digits$}", self.mean)
        }
    }

    /// `(mean − std, mean + std)`: the band a plot of means draws (the mean twice for one value).
    pub fn band(&self) -> (f64, f64) {
        let s = if self.n > 1 { self.std } else { 0.0 };
        (self.mean - s, self.mean + s)
    }
}

/// The finite values of `values`.
pub fn finite(values: impl IntoIterator<Item = f64>) -> Vec<f64> {
    values.into_iter().filter(|v| v.is_finite()).collect()
}

/// The arithmetic mean; NaN for no values, and non-finite values propagate.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The mean of the finite values (NaN when there are none).
pub fn finite_mean(values: &[f64]) -> f64 {
    mean(&finite(values.iter().copied()))
}

/// The `q`-quantile of sorted values (linear interpolation).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// A statistic with its 95% interval (NaN ends when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The statistic.
    pub value: f64,
    /// Its 2.5% and 97.5% ends (NaN when there is no interval).
    pub ci: (f64, f64),
}

impl Estimate {
    /// A value without an interval.
    pub fn point(value: f64) -> Estimate {
        Estimate {
            value,
            ci: (f64::NAN, f64::NAN),
        }
    }

    /// Whether there is an interval.
    pub fn has_interval(&self) -> bool {
        self.ci.0.is_finite() && self.ci.1.is_finite()
    }
}

/// `0.42 [0.35, 0.48]`, or `0.42` without an interval, `—` for a NaN value; the formatter's
/// precision (`{:.3}`) applies to all three numbers (default 2).
impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = f.precision().unwrap_or(2);
        if self.value.is_nan() {
            f.write_str("—")
        } else if self.has_interval() {
            write!(
                f,
                "{:.digits$} [{:.digits$}, {:.digits$}]",
                self.value, self.ci.0, self.ci.1
            )
        } else {
            write!(f, "{:.digits$}", self.value)
        }
    }
}

/// `statistic(means of groups)` and its percentile-bootstrap interval: each resample draws every
/// group's values (seeds) with replacement, independently (stratified; seeded, so
/// reproducible). Non-finite values are dropped first; resamples where the statistic is NaN
/// are left out; no interval below [`MIN_SEEDS`] values in some group.
pub fn bootstrap(groups: &[&[f64]], statistic: impl Fn(&[f64]) -> f64, seed: u64) -> Estimate {
    let groups: Vec<Vec<f64>> = groups.iter().map(|g| finite(g.iter().copied())).collect();
    let value = if groups.iter().any(|g| g.is_empty()) {
        f64::NAN
    } else {
        statistic(&groups.iter().map(|g| mean(g)).collect::<Vec<_>>())
    };
    if groups.iter().any(|g| g.len() < MIN_SEEDS) {
        return Estimate::point(value);
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
        return Estimate::point(value);
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

/// `mean(a)/mean(b)` with its stratified bootstrap interval.
pub fn bootstrap_ratio(a: &[f64], b: &[f64], seed: u64) -> Estimate {
    bootstrap(&[a, b], |m| m[0] / m[1], seed)
}

/// Cohen's d of `a` against `b`, with the pooled standard deviation (NaN below two values per
/// side).
pub fn cohens_d(a: &Stat, b: &Stat) -> f64 {
    let pooled = (((a.n as f64 - 1.0) * a.std.powi(2) + (b.n as f64 - 1.0) * b.std.powi(2))
        / (a.n as f64 + b.n as f64 - 2.0))
        .sqrt();
    (a.mean - b.mean) / pooled
}

/// Average ranks (ties share their mean rank); non-finite values rank last.
pub fn ranks(values: &[f64]) -> Vec<f64> {
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

/// Spearman's rank correlation (NaN when either side has no spread).
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

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine coefficients: about 15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularized incomplete beta function `I_x(a, b)` (continued fraction, Numerical Recipes'
/// `betacf`, by the symmetry `I_x(a, b) = 1 − I_{1−x}(b, a)` where it converges faster).
pub fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(1.0 - x, b, a);
    }
    // Lentz's method.
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        for numerator in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + numerator * d;
            if d.abs() < tiny {
                d = tiny;
            }
            c = 1.0 + numerator / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * h / a
}

/// The distribution function of Student's t with `df` degrees of freedom at `t`.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The `p`-quantile of Student's t with `df` degrees of freedom (bisection on the distribution
/// function; `df = ∞` gives the normal quantile's limit).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if !(0.0 < p && p < 1.0) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while student_t_cdf(hi, df) < p {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The sample variance (n − 1) of `v` (NaN below two values).
pub fn variance(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return f64::NAN;
    }
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}

/// A linear combination `Σ c_g · mean(group g)` of the means of independent groups, with its
/// variance `Σ c_g² s_g²/n_g` and Welch–Satterthwaite degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contrast {
    /// The combination of the means.
    pub value: f64,
    /// Its estimated variance.
    pub variance: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
}

impl Contrast {
    /// `Σ coefficients[g] · mean(groups[g])` (non-finite values dropped first).
    pub fn of(groups: &[&[f64]], coefficients: &[f64]) -> Contrast {
        let groups: Vec<Vec<f64>> = groups.iter().map(|g| finite(g.iter().copied())).collect();
        let parts: Vec<(f64, f64, f64)> = groups
            .iter()
            .zip(coefficients)
            .map(|(g, &c)| {
                (
                    c * mean(g),
                    c * c * variance(g) / g.len() as f64,
                    g.len() as f64,
                )
            })
            .collect();
        let variance: f64 = parts.iter().map(|p| p.1).sum();
        let df = variance.powi(2)
            / parts
                .iter()
                .map(|&(_, v, n)| if v == 0.0 { 0.0 } else { v * v / (n - 1.0) })
                .sum::<f64>();
        Contrast {
            value: parts.iter().map(|p| p.0).sum(),
            variance,
            df: if df.is_finite() { df } else { f64::NAN },
        }
    }

    /// The estimate with its Welch t interval at level 1 − [`ALPHA`] (none below two values in
    /// some group).
    pub fn interval(&self) -> Estimate {
        if !(self.variance.is_finite() && self.df.is_finite()) {
            return Estimate::point(self.value);
        }
        let half = student_t_quantile(1.0 - ALPHA / 2.0, self.df) * self.variance.sqrt();
        Estimate {
            value: self.value,
            ci: (self.value - half, self.value + half),
        }
    }
}

/// The ratio `numerator / denominator` of two contrasts of the same groups, with Fieller's
/// interval: the θ for which `numerator − θ·denominator` is not significantly different from 0
/// at level [`ALPHA`], with t quantiles at the smaller of the two Welch degrees of freedom.
/// `covariance` is the covariance of the two contrasts (from the groups they share). When the
/// denominator is not significantly different from 0 the set is unbounded: no interval.
pub fn fieller(numerator: &Contrast, denominator: &Contrast, covariance: f64) -> Estimate {
    let value = numerator.value / denominator.value;
    let df = numerator.df.min(denominator.df);
    if !(df.is_finite() && numerator.variance.is_finite() && denominator.variance.is_finite()) {
        return Estimate::point(value);
    }
    let t2 = student_t_quantile(1.0 - ALPHA / 2.0, df).powi(2);
    let (n, d) = (numerator.value, denominator.value);
    let a = d * d - t2 * denominator.variance;
    let b = n * d - t2 * covariance;
    let c = n * n - t2 * numerator.variance;
    let discriminant = b * b - a * c;
    if a <= 0.0 || discriminant < 0.0 {
        return Estimate::point(value);
    }
    let root = discriminant.sqrt();
    Estimate {
        value,
        ci: ((b - root) / a, (b + root) / a),
    }
}

/// `mean(a) / mean(b)` of independent groups with Fieller's interval.
pub fn ratio_of_means(a: &[f64], b: &[f64]) -> Estimate {
    fieller(
        &Contrast::of(&[a], &[1.0]),
        &Contrast::of(&[b], &[1.0]),
        0.0,
    )
}

/// `mean(a) − mean(b)` of independent groups with its Welch t interval.
pub fn difference_of_means(a: &[f64], b: &[f64]) -> Estimate {
    Contrast::of(&[a, b], &[1.0, -1.0]).interval()
}

/// The share `(mean(none) − mean(arm)) / (mean(none) − mean(bn))` of independent groups, with
/// Fieller's interval (the two differences share `none`, whose variance is their covariance).
pub fn share_of_gap(none: &[f64], bn: &[f64], arm: &[f64]) -> Estimate {
    let numerator = Contrast::of(&[none, arm], &[1.0, -1.0]);
    let denominator = Contrast::of(&[none, bn], &[1.0, -1.0]);
    let none = finite(none.iter().copied());
    fieller(
        &numerator,
        &denominator,
        variance(&none) / none.len() as f64,
    )
}

/// How often a fresh set of seeds would give the observed outcome: each group is drawn again
/// `reps` times from a normal distribution with its observed mean, standard deviation and size
/// (a constant group stays constant), and `outcome` is applied to each draw; the share of draws
/// whose outcome equals the observed one. A parametric bootstrap of the decision, not of the
/// statistic: it says how much a verdict depends on which seeds ran.
pub fn replication<T: PartialEq>(
    groups: &[&[f64]],
    outcome: impl Fn(&[&[f64]]) -> T,
    reps: usize,
    seed: u64,
) -> f64 {
    use rand_distr::{Distribution, Normal};
    let groups: Vec<Vec<f64>> = groups.iter().map(|g| finite(g.iter().copied())).collect();
    let views: Vec<&[f64]> = groups.iter().map(|g| g.as_slice()).collect();
    let observed = outcome(&views);
    let laws: Vec<(f64, f64, usize)> = groups
        .iter()
        .map(|g| {
            let sd = variance(g);
            (
                mean(g),
                if sd.is_finite() { sd.sqrt() } else { 0.0 },
                g.len(),
            )
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut same = 0usize;
    let mut draws: Vec<Vec<f64>> = laws.iter().map(|l| vec![0.0; l.2]).collect();
    for _ in 0..reps {
        for (draw, &(m, sd, _)) in draws.iter_mut().zip(&laws) {
            for v in draw.iter_mut() {
                *v = if sd > 0.0 {
                    Normal::new(m, sd)
                        .expect("a positive spread")
                        .sample(&mut rng)
                } else {
                    m
                };
            }
        }
        let views: Vec<&[f64]> = draws.iter().map(|d| d.as_slice()).collect();
        same += (outcome(&views) == observed) as usize;
    }
    same as f64 / reps.max(1) as f64
}

/// 64-bit FNV-1a of `bytes`: the configuration's fingerprint and the fixed seeds of the
/// resamplings are both derived from text with it.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bootstrap_interval_covers_the_ratio_and_separates_only_separated_groups() {
        // Clearly separated seeds: the interval excludes 1.
        let r = bootstrap_ratio(&[0.40, 0.42, 0.44], &[1.00, 1.05, 0.95], 1);
        assert!((r.value - 0.42).abs() < 1e-12);
        assert!(r.ci.0 <= r.value && r.value <= r.ci.1, "{r:?}");
        // The extreme resamples bound the interval: min(a)/max(b), max(a)/min(b).
        assert!(
            r.ci.0 >= 0.40 / 1.05 - 1e-12 && r.ci.1 <= 0.44 / 0.95 + 1e-12,
            "{r:?}"
        );
        assert!(r.ci.1 < 1.0);
        // Overlapping seeds: the interval contains 1.
        let r = bootstrap_ratio(&[0.8, 1.3, 1.0], &[1.2, 0.7, 1.0], 1);
        assert!(r.ci.0 < 1.0 && r.ci.1 > 1.0, "{r:?}");
        // One seed: no interval.
        let r = bootstrap_ratio(&[0.4], &[1.0, 1.1], 1);
        assert!(!r.has_interval() && r.ci.0.is_nan());
    }

    #[test]
    fn the_permutation_p_value_matches_the_exact_null_distribution() {
        // A perfect ranking of 5: only the identity and the reversal reach |ρ| = 1, p = 2/120.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let p = permutation_p(&a, &[10.0, 20.0, 30.0, 40.0, 50.0], 0);
        assert!((p - 2.0 / 120.0).abs() < 1e-12, "{p}");
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
        assert!(permutation_p(&a, &b, 0) > ALPHA);
    }

    #[test]
    fn ranks_share_ties_and_put_non_finite_values_last() {
        assert_eq!(
            ranks(&[3.0, f64::NAN, 1.0, 3.0, f64::INFINITY]),
            vec![2.5, 4.5, 1.0, 2.5, 4.5]
        );
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(spearman(&[1.0, 1.0, 1.0], &[3.0, 2.0, 1.0]).is_nan());
    }

    #[test]
    fn the_two_means_state_their_nan_policy_and_an_estimate_prints_one_way() {
        let v = [1.0, f64::NAN, 3.0];
        assert!(mean(&v).is_nan());
        assert_eq!(finite_mean(&v), 2.0);
        assert!(finite_mean(&[f64::NAN]).is_nan());
        let s = Stat::of(&[1.0, 3.0]);
        assert_eq!((s.mean, s.min, s.max, s.n), (2.0, 1.0, 3.0, 2));
        assert!((s.std - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(Stat::of(&[0.5]).show(3), "0.500");
        assert_eq!(Stat::of(&[]).show(3), "—");
        assert_eq!(Stat::of_finite([1.0, f64::NAN]).n, 1);
        let e = Estimate {
            value: 0.4213,
            ci: (0.35, 0.48),
        };
        assert_eq!(format!("{e}"), "0.42 [0.35, 0.48]");
        assert_eq!(format!("{e:.3}"), "0.421 [0.350, 0.480]");
        assert_eq!(format!("{:.1}", Estimate::point(2.0)), "2.0");
        assert_eq!(format!("{}", Estimate::point(f64::NAN)), "—");
        assert!(
            (cohens_d(&Stat::of(&[1.0, 3.0]), &Stat::of(&[0.0, 2.0])) - 1.0 / 2f64.sqrt()).abs()
                < 1e-12
        );
        // FNV-1a's published test vector.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn student_t_quantiles_match_the_tables() {
        for (df, q) in [
            (1.0, 12.706_204),
            (2.0, 4.302_653),
            (4.0, 2.776_445),
            (9.0, 2.262_157),
            (30.0, 2.042_272),
            (1e6, 1.959_966),
        ] {
            let t = student_t_quantile(0.975, df);
            assert!((t - q).abs() < 1e-5, "df {df}: {t} vs {q}");
        }
        assert!((student_t_cdf(0.0, 3.0) - 0.5).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn welch_and_fieller_intervals_are_the_textbook_ones() {
        // Welch: means 3 and 1, variances 1 and 4, n = 3 each: se² = 1/3 + 4/3, df = 2.94.
        let e = difference_of_means(&[2.0, 3.0, 4.0], &[-1.0, 1.0, 3.0]);
        let se = (5.0f64 / 3.0).sqrt();
        let df = (5.0f64 / 3.0).powi(2) / ((1.0 / 9.0 + 16.0 / 9.0) / 2.0);
        let half = student_t_quantile(0.975, df) * se;
        assert!((e.value - 2.0).abs() < 1e-12);
        assert!((e.ci.0 - (2.0 - half)).abs() < 1e-9 && (e.ci.1 - (2.0 + half)).abs() < 1e-9);
        // Fieller's interval contains the ratio and is wider on the side away from zero.
        let r = ratio_of_means(&[2.0, 2.2, 1.8, 2.1], &[1.0, 1.05, 0.95, 1.0]);
        assert!(
            r.ci.0 < 2.0 && 2.0 < r.ci.1 && r.ci.1 - 2.0 > 2.0 - r.ci.0,
            "{r:?}"
        );
        // A denominator indistinguishable from 0: no interval.
        assert!(!ratio_of_means(&[1.0, 1.1], &[-1.0, 1.2]).has_interval());
    }

    /// The intervals the report judges with hold their level at the seeds the presets use: on
    /// per-seed results drawn from known normal distributions, the 95% intervals of a difference,
    /// a ratio of means and a share of a gap cover the true value in at least 90% of repetitions
    /// (an unbounded Fieller set — no interval — covers by definition, and is counted apart).
    #[test]
    fn the_intervals_cover_the_true_value_at_the_presets_seed_counts() {
        use rand_distr::{Distribution, Normal};
        let mut rng = StdRng::seed_from_u64(7);
        let reps = 4000;
        for n in [3, 5] {
            let (mut diff, mut ratio, mut share, mut unbounded) = (0, 0, 0, 0);
            let draw = |rng: &mut StdRng, m: f64, s: f64| -> Vec<f64> {
                let d = Normal::new(m, s).unwrap();
                (0..n).map(|_| d.sample(rng)).collect()
            };
            for _ in 0..reps {
                let none = draw(&mut rng, 2.0, 0.15);
                let bn = draw(&mut rng, 1.0, 0.10);
                let arm = draw(&mut rng, 1.4, 0.20);
                let d = difference_of_means(&none, &bn);
                diff += (d.ci.0 <= 1.0 && 1.0 <= d.ci.1) as usize;
                let r = ratio_of_means(&bn, &none);
                ratio += (!r.has_interval() || (r.ci.0 <= 0.5 && 0.5 <= r.ci.1)) as usize;
                let sh = share_of_gap(&none, &bn, &arm);
                unbounded += !sh.has_interval() as usize;
                share += (!sh.has_interval() || (sh.ci.0 <= 0.6 && 0.6 <= sh.ci.1)) as usize;
            }
            let rate = |k: usize| k as f64 / reps as f64;
            eprintln!(
                "n = {n}: coverage difference {:.3}, ratio {:.3}, share {:.3} ({:.3} unbounded)",
                rate(diff),
                rate(ratio),
                rate(share),
                rate(unbounded)
            );
            assert!(rate(diff) >= 0.90 && rate(ratio) >= 0.90 && rate(share) >= 0.90);
            assert!(
                rate(unbounded) < 0.05,
                "the gap is clear: Fieller's set should be bounded"
            );
        }
        // The percentile bootstrap the report used before does not hold its level at n = 2 or 3.
        let mut covered = 0;
        for _ in 0..1000 {
            let d = Normal::new(2.0, 0.15).unwrap();
            let e = Normal::new(1.0, 0.10).unwrap();
            let a: Vec<f64> = (0..3).map(|_| d.sample(&mut rng)).collect();
            let b: Vec<f64> = (0..3).map(|_| e.sample(&mut rng)).collect();
            let boot = bootstrap(&[&a, &b], |m| m[0] - m[1], 1);
            covered += (boot.ci.0 <= 1.0 && 1.0 <= boot.ci.1) as usize;
        }
        eprintln!(
            "percentile bootstrap at n = 3: coverage {:.3}",
            covered as f64 / 1000.0
        );
        assert!(covered < 900, "the bootstrap undercovers at n = 3");
    }
}
