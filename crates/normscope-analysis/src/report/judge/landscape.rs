//! The landscape units judged: per arm and depth, over seeds, the trained network's loss, the
//! largest Hessian eigenvalue, the trace, the curvature of the filter-normalised plane and the
//! barrier from the initialisation; per depth, BatchNorm's λ_max and trace against no
//! normalization's — the difference of means with Welch's interval, and which side of 0 it lies
//! on (a difference, not a ratio: the top eigenvalue of an untrained or saddle-bound network is
//! near 0 or negative, where a ratio has no interval), with the ratio of means beside it. Numbers
//! only: the sentences are `present::text::landscape`.

use serde::{Deserialize, Serialize};

use crate::metrics::landscape::barrier;
use crate::report::config::{MIN_JUDGED_SEEDS, ReportConfig};
use crate::report::explanation::Role;
use crate::report::units::measure::{LandscapeUnit, Units};
use crate::stats::{Estimate, Stat, difference_of_means, ratio_of_means};

/// One arm at one depth, over its seeds (diverged runs are counted, not averaged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandscapeCell {
    /// The arm's label.
    pub label: String,
    /// Residual blocks per stage.
    pub depth: usize,
    /// Runs that trained without diverging.
    pub runs: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// Final training loss (mean of the last 10 steps).
    pub final_loss: Stat,
    /// The largest Hessian eigenvalue at the trained weights (eval mode).
    pub lambda_max: Stat,
    /// Hutchinson's trace of the Hessian.
    pub trace: Stat,
    /// The plane's curvature at the trained weights, `(δᵀHδ + ηᵀHη)/2` by second differences.
    pub curvature: Stat,
    /// The barrier of the interpolation from the initialisation.
    pub barrier: Stat,
}

/// Where the interval of a difference (BatchNorm minus none) lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The whole interval is below 0: BatchNorm's is lower.
    Lower,
    /// The whole interval is above 0: BatchNorm's is higher.
    Higher,
    /// The interval holds 0.
    Unclear,
    /// Not judged: fewer than [`MIN_JUDGED_SEEDS`] trained runs in an arm (or no interval).
    TooFew,
}

impl Side {
    /// The side of `difference`'s interval, judged when each arm has at least
    /// [`MIN_JUDGED_SEEDS`] trained runs (the report's rule for every judged comparison).
    pub fn of(difference: &Estimate, runs: (usize, usize)) -> Side {
        if runs.0.min(runs.1) < MIN_JUDGED_SEEDS || !difference.has_interval() {
            Side::TooFew
        } else if difference.ci.1 < 0.0 {
            Side::Lower
        } else if difference.ci.0 > 0.0 {
            Side::Higher
        } else {
            Side::Unclear
        }
    }
}

/// One quantity of BatchNorm against none at one depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Against {
    /// `mean(BN) − mean(none)` with Welch's interval.
    pub difference: Estimate,
    /// Where that interval lies: what is judged.
    pub side: Side,
    /// `mean(BN) / mean(none)` with Fieller's interval (descriptive).
    pub ratio: Estimate,
}

impl Against {
    fn of(bn: &[f64], none: &[f64], runs: (usize, usize)) -> Against {
        let difference = difference_of_means(bn, none);
        Against {
            side: Side::of(&difference, runs),
            difference,
            ratio: ratio_of_means(bn, none),
        }
    }
}

/// BatchNorm against none at one depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthComparison {
    /// Residual blocks per stage.
    pub depth: usize,
    /// Trained (not diverged) runs of BatchNorm and of none.
    pub runs: (usize, usize),
    /// The top eigenvalue.
    pub lambda_max: Against,
    /// The trace.
    pub trace: Against,
}

/// The landscape, judged.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LandscapeSummary {
    /// Per arm (in the configuration's order) and depth (ascending).
    pub cells: Vec<LandscapeCell>,
    /// BatchNorm against none per depth, where the configuration has both arms.
    pub comparisons: Vec<DepthComparison>,
}

impl LandscapeSummary {
    /// The cell of `label` at `depth`.
    pub fn cell(&self, label: &str, depth: usize) -> Option<&LandscapeCell> {
        self.cells
            .iter()
            .find(|c| c.label == label && c.depth == depth)
    }
}

/// The values of `f` over the runs of `label` at `depth` that did not diverge.
fn values(
    units: &[LandscapeUnit],
    label: &str,
    depth: usize,
    f: impl Fn(&LandscapeUnit) -> Option<f64>,
) -> Vec<f64> {
    units
        .iter()
        .filter(|u| u.label == label && u.point.depth == depth && u.run.diverged_at.is_none())
        .filter_map(f)
        .filter(|v| v.is_finite())
        .collect()
}

fn lambda_max(u: &LandscapeUnit) -> Option<f64> {
    u.run.spectrum.as_ref().map(|s| s.lambda_max())
}

fn trace(u: &LandscapeUnit) -> Option<f64> {
    u.run.spectrum.as_ref()?.trace.map(|t| t.value)
}

/// Judges the landscape units of `config`.
pub fn landscape(config: &ReportConfig, units: &Units) -> LandscapeSummary {
    let l = &config.landscape;
    let all = &units.landscape;
    let mut cells = vec![];
    for entry in &l.normalizers {
        for &depth in &l.depths {
            let of = |f: &dyn Fn(&LandscapeUnit) -> Option<f64>| {
                Stat::of(&values(all, &entry.label, depth, f))
            };
            let mine = all
                .iter()
                .filter(|u| u.label == entry.label && u.point.depth == depth);
            let diverged = mine.clone().filter(|u| u.run.diverged_at.is_some()).count();
            cells.push(LandscapeCell {
                label: entry.label.clone(),
                depth,
                runs: mine.count() - diverged,
                diverged,
                final_loss: of(&|u| Some(u.run.final_loss)),
                lambda_max: of(&lambda_max),
                trace: of(&trace),
                curvature: of(&|u| {
                    let (a, b) = u.run.surface.as_ref()?.curvature()?;
                    Some((a + b) / 2.0)
                }),
                barrier: of(&|u| Some(barrier(&u.run.init_to_final))),
            });
        }
    }
    let (bn, none) = (Role::BatchNorm.label(), Role::None.label());
    let has = |label: &str| l.normalizers.iter().any(|e| e.label == label);
    let comparisons = if has(bn) && has(none) {
        l.depths
            .iter()
            .map(|&depth| {
                let trained = |label: &str| {
                    cells
                        .iter()
                        .find(|c: &&LandscapeCell| c.label == label && c.depth == depth)
                        .map_or(0, |c| c.runs)
                };
                let runs = (trained(bn), trained(none));
                let against = |f: fn(&LandscapeUnit) -> Option<f64>| {
                    Against::of(
                        &values(all, bn, depth, f),
                        &values(all, none, depth, f),
                        runs,
                    )
                };
                DepthComparison {
                    depth,
                    runs,
                    lambda_max: against(lambda_max),
                    trace: against(trace),
                }
            })
            .collect()
    } else {
        vec![]
    };
    LandscapeSummary { cells, comparisons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::landscape::{LandscapeRun, Seconds};
    use crate::metrics::hessian::{Spectrum, TopEigenvalue, TraceEstimate};
    use crate::report::config::Scale;
    use crate::report::units::GridPoint;

    fn unit(label: &str, depth: usize, seed: u64, lambda: f64, trace: f64) -> LandscapeUnit {
        LandscapeUnit {
            label: label.into(),
            seed,
            point: GridPoint {
                depth,
                lr: 0.1,
                batch_size: 32,
            },
            run: LandscapeRun {
                norm: label.into(),
                depth: Some(depth),
                seed,
                final_loss: 0.5,
                diverged_at: None,
                init_to_final: vec![(0.0, 2.0), (0.5, 3.0), (1.0, 0.5)],
                surface: None,
                spectrum: Some(Spectrum {
                    dim: 10,
                    top: vec![TopEigenvalue {
                        value: lambda,
                        iterations: 5,
                        converged: true,
                    }],
                    trace: Some(TraceEstimate {
                        value: trace,
                        std_error: 0.1,
                        samples: 3,
                    }),
                    density: None,
                    products: 8,
                }),
                blocks: vec![],
                product_difference: None,
                probes: vec![],
                seconds: Seconds::default(),
            },
        }
    }

    fn config() -> ReportConfig {
        let mut config = ReportConfig::preset(Scale::Quick);
        config.landscape.depths = vec![2];
        config
    }

    /// BatchNorm's λ_max below, above and level with none's: the side follows the numbers.
    #[test]
    fn the_ratio_of_the_sharpness_comes_out_either_way() {
        let config = config();
        for (bn, expected) in [
            ([1.0, 1.2, 0.9], Side::Lower),
            ([20.0, 24.0, 22.0], Side::Higher),
            ([3.0, 7.0, 5.5], Side::Unclear),
        ] {
            // Two seeds of each: too few to judge, whatever the numbers.
            let mut two = Units::default();
            for (seed, (b, n)) in bn.iter().zip([5.0, 5.5]).enumerate() {
                two.landscape
                    .push(unit("BatchNorm", 2, seed as u64, *b, 2.0 * b));
                two.landscape.push(unit("none", 2, seed as u64, n, 2.0 * n));
            }
            assert_eq!(
                landscape(&config, &two).comparisons[0].lambda_max.side,
                Side::TooFew
            );
            let mut units = Units::default();
            for (seed, (b, n)) in bn.iter().zip([5.0, 5.5, 6.0]).enumerate() {
                units
                    .landscape
                    .push(unit("BatchNorm", 2, seed as u64, *b, 2.0 * b));
                units
                    .landscape
                    .push(unit("none", 2, seed as u64, n, 2.0 * n));
            }
            let summary = landscape(&config, &units);
            let c = &summary.comparisons[0];
            assert_eq!(c.lambda_max.side, expected, "{bn:?}: {:?}", c.lambda_max);
            assert_eq!(c.trace.side, expected);
            let mean = bn.iter().sum::<f64>() / 3.0;
            assert!((c.lambda_max.ratio.value - mean / 5.5).abs() < 1e-12);
            assert!((c.lambda_max.difference.value - (mean - 5.5)).abs() < 1e-12);
            let cell = summary.cell("BatchNorm", 2).unwrap();
            assert_eq!((cell.runs, cell.diverged), (3, 0));
            assert!((cell.lambda_max.mean - mean).abs() < 1e-12);
            // max over [0, 1] of the path (3) minus the higher end (2).
            assert!((cell.barrier.mean - 1.0).abs() < 1e-12);
        }
    }

    /// A diverged run is counted, not averaged; one run per arm gives no interval.
    #[test]
    fn diverged_runs_are_counted_and_one_seed_is_too_few() {
        let config = config();
        let mut units = Units::default();
        units.landscape.push(unit("BatchNorm", 2, 0, 1.0, 2.0));
        units.landscape.push(unit("none", 2, 0, 5.0, 10.0));
        let mut diverged = unit("none", 2, 1, f64::NAN, f64::NAN);
        diverged.run.diverged_at = Some(3);
        diverged.run.spectrum = None;
        units.landscape.push(diverged);
        let summary = landscape(&config, &units);
        let none = summary.cell("none", 2).unwrap();
        assert_eq!((none.runs, none.diverged), (1, 1));
        assert_eq!(none.lambda_max.mean, 5.0);
        let c = &summary.comparisons[0];
        assert_eq!(c.runs, (1, 1));
        assert_eq!(c.lambda_max.side, Side::TooFew);
        assert!((c.lambda_max.ratio.value - 0.2).abs() < 1e-12);
    }
}
