//! The report's figures: the battery's training loss, each explanation's metric (drawn by the
//! experiment that defines it, as in its example), the metric against training speed, and each
//! intervention's sweep. Every plot of means shows the spread over seeds, diverged runs are
//! marked, and the control arm is drawn but marked as outside the correlations.

use crate::experiments::gradient_predictiveness::{LandscapePoint, beta_figure};
use crate::experiments::identity_bias::{self, branch_share_figure};
use crate::experiments::internal_covariate_shift::{ShiftPoint, shift_by_layer_figure};
use crate::experiments::labels_in;
use crate::experiments::landscape::LandscapeResults;
use crate::experiments::rank_collapse::{self, effective_rank_figure};
use crate::experiments::training::{Curves, loss_figure};
use crate::metrics::training_probe::TrainingProbe;
use crate::models::Activation;
use crate::output::{Chart, ContourRow, Figure, Series};
use crate::report::config::ReportConfig;
use crate::report::explanation::{Explanation, InterventionKind, Role};
use crate::report::judge::Summary;
use crate::report::judge::intervention::{
    Comparison, Facts, Intervention, SHARE_THRESHOLD, SweepArm, SweepPoint,
};
use crate::report::judge::landscape::LandscapeCell;
use crate::report::units::GridPoint;
use crate::report::units::measure::{TrainUnit, Units, landscape_experiment};
use crate::stats::Stat;
use crate::train::{FINAL_WINDOW, RunRecord};

/// How the legend marks a control arm.
const CONTROL: &str = "control, not in ρ";

/// Whether the battery's arm `label` is a control arm.
fn is_control(config: &ReportConfig, label: &str) -> bool {
    config
        .normalizers
        .iter()
        .any(|e| e.label == label && e.control)
}

/// The battery's runs as the training experiments' curves.
fn curves(train: &[TrainUnit]) -> Vec<Curves> {
    train
        .iter()
        .map(|u| Curves {
            norm: u.label.clone(),
            seed: u.seed,
            run: RunRecord {
                losses: u.losses.clone(),
                diverged_at: u.diverged_at,
            },
            test: vec![],
        })
        .collect()
}

/// The training loss of every normalizer, in the battery's order.
pub fn training_loss(config: &ReportConfig, units: &Units) -> Figure {
    let mut loss = loss_figure(
        &format!("Training loss ({FINAL_WINDOW}-step running mean, mean ± std over seeds)"),
        &curves(&units.train),
        FINAL_WINDOW,
    );
    loss.caption = format!(
        "Training loss of every normalizer in the same network ({FINAL_WINDOW}-step running mean; band: ± std over seeds; ×: a run diverged there). The control arm is drawn hollow and dashed."
    );
    let order = |label: &str| config.normalizers.iter().position(|e| e.label == label);
    loss.chart.series.sort_by_key(|s| order(&s.name));
    for s in &mut loss.chart.series {
        s.control = is_control(config, &s.name);
    }
    loss.chart.control_note = Some("control".into());
    loss
}

/// The figure of an explanation's metric, built by the experiment that defines it, in the
/// battery's normalizer order.
pub fn metric(explanation: Explanation, config: &ReportConfig, units: &Units) -> Figure {
    let order = |label: &str| config.normalizers.iter().position(|e| e.label == label);
    let mut train: Vec<&TrainUnit> = units.train.iter().collect();
    train.sort_by_key(|u| order(&u.label));
    let mut init: Vec<_> = units.init.iter().collect();
    init.sort_by_key(|u| order(&u.label));
    match explanation {
        Explanation::CovariateShift => shift_by_layer_figure(
            &train
                .iter()
                .flat_map(|u| {
                    u.shifts.iter().map(|(step, layers)| ShiftPoint {
                        norm: u.label.clone(),
                        seed: u.seed,
                        step: *step,
                        layers: layers.clone(),
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Explanation::Smoothness => beta_figure(
            &train
                .iter()
                .flat_map(|u| {
                    u.landscape.iter().map(|(step, l)| LandscapePoint {
                        norm: u.label.clone(),
                        seed: u.seed,
                        step: *step,
                        landscape: l.clone(),
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Explanation::IdentityBias => {
            let mut blocks = vec![];
            for label in labels_in(&init, |u| u.label.as_str()) {
                let signals: Vec<_> = init
                    .iter()
                    .filter(|u| u.label == label)
                    .map(|u| u.blocks.clone())
                    .collect();
                blocks.extend(identity_bias::summarize(label, &signals));
            }
            branch_share_figure(&blocks)
        }
        Explanation::RankCollapse => {
            let mut ranks = vec![];
            for label in labels_in(&init, |u| u.label.as_str()) {
                let profiles: Vec<_> = init
                    .iter()
                    .filter(|u| u.label == label)
                    .map(|u| u.ranks.clone())
                    .collect();
                ranks.extend(rank_collapse::summarize(
                    label,
                    Activation::Relu,
                    config.network.width,
                    &profiles,
                ));
            }
            let mut rank = effective_rank_figure(&ranks, config.init_batch);
            rank.id = "rank_by_block".into();
            rank.chart.title = "Effective rank of block outputs / batch size (init)".into();
            rank.chart.x_label = "block".into();
            rank.caption = "Effective rank of each block's output over the batch size, at initialization (mean ± std over seeds).".into();
            rank
        }
    }
}

/// The file stem of an explanation's scatter plot.
fn scatter_id(explanation: Explanation) -> &'static str {
    match explanation {
        Explanation::CovariateShift => "scatter_covariate_shift",
        Explanation::Smoothness => "scatter_smoothness",
        Explanation::IdentityBias => "scatter_identity_bias",
        Explanation::RankCollapse => "scatter_rank",
    }
}

/// The title of an explanation's scatter plot.
fn scatter_title(explanation: Explanation) -> &'static str {
    match explanation {
        Explanation::CovariateShift => "Covariate shift vs training speed",
        Explanation::Smoothness => "β-smoothness vs training speed",
        Explanation::IdentityBias => "Branch share vs training speed",
        Explanation::RankCollapse => "Rank vs training speed",
    }
}

/// `(centre, low, high)` of a mean ± std.
fn spread(at: f64, s: &Stat) -> (f64, f64, f64) {
    let (lo, hi) = s.band();
    (at, lo, hi)
}

/// The metric against the final training loss, one point per normalizer with its spread over
/// seeds on both axes; a log axis where the values span more than a decade.
pub fn scatter(explanation: Explanation, summary: &Summary, config: &ReportConfig) -> Figure {
    let mut chart = Chart::new(
        scatter_title(explanation),
        explanation.symbol(),
        "final training loss",
    )
    .with_control_note(CONTROL);
    for n in &summary.norms {
        let (x, y) = (n.metric(explanation), n.final_loss);
        // The range over seeds (min to max): unlike mean ± std it stays positive on a log axis.
        let range = |at: f64, s: &Stat| (at, s.min, s.max);
        let mut series = Series::points(n.label.clone(), vec![(x.mean, y.mean)])
            .with_x_errors(vec![range(y.mean, &x)])
            .with_y_errors(vec![range(x.mean, &y)]);
        if is_control(config, &n.label) {
            series = series.control();
        }
        chart.push(series);
    }
    let m = summary.mechanism(explanation);
    Figure::new(
        scatter_id(explanation),
        format!(
            "{} against the final training loss, one point per normalizer (mean over seeds, bars from the smallest to the largest seed on both axes; ρ = {:.2} over the {} normalizers; the control arm, hollow, is left out of ρ).",
            explanation.metric(),
            m.spearman,
            m.normalizers
        ),
        chart.log_where_spread(1.0),
    )
}

/// A line of means `(x, mean ± std over seeds, seeds diverged)`, its spread as error bars and ×
/// where a seed diverged.
fn mean_series(name: String, at: &[(f64, Stat, usize)]) -> Series {
    Series::line(name, at.iter().map(|(x, s, _)| (*x, s.mean)).collect())
        .with_y_errors(at.iter().map(|(x, s, _)| spread(*x, s)).collect())
        .with_diverged(
            at.iter()
                .filter(|(_, _, d)| *d > 0)
                .map(|(x, s, _)| (*x, s.mean))
                .collect(),
        )
}

/// The arms' mean of a per-point statistic against a coordinate of the grid, with its spread
/// over seeds and × where a seed diverged; the measured grid labels the x axis.
fn sweep_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    arms: &[SweepArm],
    x: fn(&GridPoint) -> f64,
    f: fn(&SweepPoint) -> Stat,
    integer: bool,
) -> Chart {
    let mut grid: Vec<f64> = arms
        .iter()
        .flat_map(|a| a.points.iter().map(|p| x(&p.point)))
        .collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let mut chart = Chart::new(title, x_label, y_label)
        .log_x()
        .with_x_ticks(grid);
    if integer {
        chart = chart.integer_x();
    }
    for arm in arms {
        let at: Vec<(f64, Stat, usize)> = arm
            .points
            .iter()
            .map(|p| (x(&p.point), f(p), p.diverged))
            .filter(|(_, s, _)| s.mean.is_finite())
            .collect();
        chart.push(mean_series(arm.label.clone(), &at));
    }
    chart
}

/// The share of BatchNorm's advantage against a coordinate of the comparisons, with Fieller's
/// interval, and the prediction's threshold of one half.
fn share_chart(
    title: &str,
    x_label: &str,
    comparisons: &[Comparison],
    x: fn(&Comparison) -> f64,
    arm: &str,
) -> Chart {
    let xs: Vec<f64> = comparisons.iter().map(x).collect();
    let mut chart = Chart::new(title, x_label, "share of BatchNorm's advantage")
        .log_x()
        .integer_x()
        .with_x_ticks(xs.clone());
    let finite = |v: f64| if v.is_finite() { v } else { f64::NAN };
    chart.push(
        Series::line(
            format!("{arm} (95% CI)"),
            comparisons.iter().map(|c| (x(c), c.share.value)).collect(),
        )
        .with_y_errors(
            comparisons
                .iter()
                .map(|c| (x(c), finite(c.share.ci.0), finite(c.share.ci.1)))
                .collect(),
        ),
    );
    if let (Some(lo), Some(hi)) = (xs.first(), xs.last()) {
        chart.push(
            Series::line(
                format!("threshold {SHARE_THRESHOLD}"),
                vec![(*lo, SHARE_THRESHOLD), (*hi, SHARE_THRESHOLD)],
            )
            .control(),
        );
        chart.control_note = Some("the prediction".into());
    }
    chart
}

/// Every arm at its best rate against the depth: a statistic per seed of the comparison's
/// best-rate runs.
fn best_rate_chart(
    title: &str,
    y_label: &str,
    depths: &[Comparison],
    value: fn(&[f64]) -> Stat,
) -> Chart {
    let mut chart = Chart::new(title, "depth", y_label)
        .log_x()
        .integer_x()
        .with_x_ticks(depths.iter().map(|c| c.depth as f64).collect());
    let labels: Vec<&str> = depths
        .first()
        .map(|c| c.arms.iter().map(|a| a.label.as_str()).collect())
        .unwrap_or_default();
    for (k, label) in labels.iter().enumerate() {
        let at: Vec<(f64, Stat)> = depths
            .iter()
            .map(|c| (c.depth as f64, value(&c.arms[k].losses)))
            .collect();
        chart.push(
            Series::line(*label, at.iter().map(|(x, s)| (*x, s.mean)).collect())
                .with_y_errors(at.iter().map(|(x, s)| spread(*x, s)).collect()),
        );
    }
    chart
}

/// The figures of an intervention's section; `loss` is the battery's training-loss chart, of
/// which the noise experiment shows its arms; `units` for the noise experiment's drift.
pub fn intervention(i: &Intervention, loss: &Chart, units: &Units) -> Vec<Figure> {
    match (i.kind, &i.facts) {
        (InterventionKind::Noise, _) => noise_figures(loss, units),
        (InterventionKind::LearningRates, _) => vec![Figure::new(
            "lr_sweep",
            "Final training loss against the learning rate (mean ± std over seeds; a diverged run counts at the chance loss ln C and is marked ×).",
            sweep_chart(
                "Final training loss across learning rates",
                "learning rate",
                "final training loss",
                &i.arms,
                |p| p.lr,
                |p| p.final_loss,
                false,
            ),
        )],
        (
            InterventionKind::SkipInitDepth,
            Facts::Sweep {
                depths,
                budgets,
                batch_sizes,
                ..
            },
        ) => {
            let arm = i.kind.arm().label();
            let mut figures = vec![Figure::new(
                "identity_share_by_depth",
                format!(
                    "The share of BatchNorm's advantage {arm} recovers, each arm at its best learning rate, against the depth (Fieller's 95% interval; above the dashed line the explanation's prediction holds)."
                ),
                share_chart(
                    "SkipInit's share of BatchNorm's advantage by depth",
                    "blocks per stage",
                    depths,
                    |c| c.depth as f64,
                    arm,
                ),
            )];
            if budgets.len() > 1 {
                figures.push(Figure::new(
                    "identity_share_by_budget",
                    "The same share at the judged depth as the training budget grows (steps at the battery's batch size).",
                    share_chart("SkipInit's share as training goes on", "training steps", budgets, |c| c.budget as f64, arm),
                ));
            }
            if batch_sizes.len() > 1 {
                figures.push(Figure::new(
                    "identity_share_by_batch",
                    "The same share at the deepest depth across batch sizes, each run for the same number of samples (De & Smith: SkipInit should match BatchNorm at small batch).",
                    share_chart("SkipInit's share by batch size", "batch size", batch_sizes, |c| c.batch_size as f64, arm),
                ));
            }
            figures.push(Figure::new(
                "depth_sweep_skipinit",
                "Final training loss against the depth with every arm at one learning rate (the fixed-rate sweep; mean ± std over seeds; a diverged run counts at the chance loss ln C and is marked ×).",
                sweep_chart(
                    "Final training loss across depths at one learning rate",
                    "blocks per stage",
                    "final training loss",
                    &i.arms,
                    |p| p.depth as f64,
                    |p| p.final_loss,
                    true,
                ),
            ));
            figures
        }
        (InterventionKind::RankPretraining, Facts::Sweep { depths, .. }) => vec![
            Figure::new(
                "rank_sweep",
                "Final training loss of plain MLPs against their depth, each arm at its best learning rate (mean ± std over seeds; a diverged run counts at the chance loss).",
                best_rate_chart(
                    "Plain networks: final loss at each arm's best rate",
                    "final training loss",
                    depths,
                    Stat::of,
                ),
            ),
            Figure::new(
                "rank_at_start",
                "Effective rank of the last hidden layer over the batch size at the start of training (after pre-training for the pre-trained arm), against the depth: the check that pre-training raised the rank toward BatchNorm's.",
                sweep_chart(
                    "Rank at the start of training across depths",
                    "hidden layers",
                    "effective rank / N",
                    &best_points(&i.arms, depths),
                    |p| p.depth as f64,
                    |p| p.rank,
                    true,
                ),
            ),
        ],
        (InterventionKind::SkipInitDepth | InterventionKind::RankPretraining, _) => vec![],
    }
}

/// Each arm's points at its best rate per depth (for the rank-at-start figure).
fn best_points(arms: &[SweepArm], depths: &[Comparison]) -> Vec<SweepArm> {
    arms.iter()
        .map(|arm| SweepArm {
            label: arm.label.clone(),
            points: depths
                .iter()
                .filter_map(|c| {
                    let lr = c.arms.iter().find(|a| a.label == arm.label)?.lr;
                    arm.points
                        .iter()
                        .find(|p| p.point.depth == c.depth && p.point.lr == lr)
                        .cloned()
                })
                .collect(),
        })
        .collect()
}

/// The noise experiment's figures: its arms' training loss, and the activation drift each
/// layer's output undergoes per step.
fn noise_figures(loss: &Chart, units: &Units) -> Vec<Figure> {
    let arms = [Role::None, Role::BatchNorm, Role::Noisy, Role::NoiseOnly];
    let mut noise = Chart::new(
        "Training loss with and without noise after BatchNorm",
        "step",
        "training loss",
    )
    .log_y()
    .integer_x();
    noise.control_note = loss.control_note.clone();
    for series in loss
        .series
        .iter()
        .filter(|s| arms.iter().any(|r| r.label() == s.name))
    {
        noise.push(series.clone());
    }
    let mut drift = Chart::new(
        "Activation drift per step by layer",
        "layer",
        "drift of mean and variance",
    )
    .integer_x()
    .log_where_spread(1.0);
    for role in arms {
        let runs: Vec<&TrainUnit> = units
            .train
            .iter()
            .filter(|u| u.label == role.label())
            .collect();
        let layers = runs
            .iter()
            .flat_map(|u| u.drifts.iter().map(|(_, d)| d.len()))
            .max()
            .unwrap_or(0);
        let at: Vec<(f64, Stat)> = (0..layers)
            .map(|l| {
                let per_seed = runs.iter().map(|u| {
                    crate::stats::finite_mean(
                        &u.drifts
                            .iter()
                            .filter_map(|(_, d)| d.get(l).map(|d| d.total()))
                            .collect::<Vec<_>>(),
                    )
                });
                (l as f64, Stat::of_finite(per_seed))
            })
            .collect();
        if !at.is_empty() {
            let mut series =
                Series::line(role.label(), at.iter().map(|(x, s)| (*x, s.mean)).collect())
                    .with_y_errors(at.iter().map(|(x, s)| spread(*x, s)).collect());
            series.control = role == Role::NoiseOnly;
            drift.push(series);
        }
    }
    drift.control_note = loss.control_note.clone();
    let drift = drift.log_where_spread(1.0);
    vec![
        Figure::new(
            "noise_training_loss",
            format!(
                "BatchNorm, BatchNorm with noise after it, the noise alone (control) and no normalization: the battery's runs ({FINAL_WINDOW}-step running mean; band: ± std over seeds)."
            ),
            noise,
        ),
        Figure::new(
            "activation_drift",
            "How far each layer's output distribution moves in one training step (√(drift of the channel means² + drift of the log channel variances²), mean over probe steps; mean ± std over seeds): what the noise after BatchNorm raises, the manipulation check of the experiment.",
            drift,
        ),
    ]
}

/// The landscape experiment's results over the report's landscape units: those at `depth`, or
/// all of them.
fn landscape_results(
    config: &ReportConfig,
    units: &Units,
    depth: Option<usize>,
) -> LandscapeResults {
    LandscapeResults {
        config: landscape_experiment(config),
        runs: units
            .landscape
            .iter()
            .filter(|u| depth.is_none_or(|d| u.point.depth == d))
            .map(|u| u.run.clone())
            .collect(),
        between: vec![],
    }
}

/// The depth the landscape's single-depth figures show: the battery's network's when it was
/// measured, else the deepest measured.
pub fn landscape_depth(config: &ReportConfig) -> Option<usize> {
    let depths = &config.landscape.depths;
    if depths.contains(&config.network.blocks) {
        Some(config.network.blocks)
    } else {
        depths.last().copied()
    }
}

/// The filter-normalised planes of the first seed, one row per depth with every arm side by
/// side, all on one colour scale (log of the loss).
pub fn landscape_planes(config: &ReportConfig, units: &Units) -> Vec<ContourRow> {
    landscape_results(config, units, None)
        .contours_by_depth()
        .into_iter()
        .map(|(depth, plots)| ContourRow {
            caption: format!(
                "Depth {}: the training loss (eval mode) on a plane through the trained weights (×) spanned by two random filter-normalised directions (Li et al. 2018), first seed, {} × {} points. Every plane of this report is on the same colour scale: equal colours are equal losses.",
                depth.map(|d| d.to_string()).unwrap_or_default(),
                config.landscape.plane.points,
                config.landscape.plane.points
            ),
            plots: plots
                .into_iter()
                .map(|(stem, contour)| (stem.replace("landscape_plane", "plane"), contour))
                .collect(),
        })
        .collect()
}

/// A per-cell statistic of the landscape against the depth, one line per arm, with its spread
/// over seeds and × where a seed diverged.
fn landscape_depth_chart(
    title: &str,
    y_label: &str,
    config: &ReportConfig,
    summary: &Summary,
    f: fn(&LandscapeCell) -> Stat,
) -> Chart {
    let depths: Vec<f64> = config.landscape.depths.iter().map(|&d| d as f64).collect();
    let mut chart = Chart::new(title, "residual blocks per stage", y_label)
        .log_x()
        .integer_x()
        .with_x_ticks(depths);
    for entry in &config.landscape.normalizers {
        let cells: Vec<&LandscapeCell> = summary
            .landscape
            .cells
            .iter()
            .filter(|c| c.label == entry.label)
            .collect();
        let at: Vec<(f64, Stat, usize)> = cells
            .iter()
            .map(|c| (c.depth as f64, f(c), c.diverged))
            .filter(|(_, s, _)| s.mean.is_finite())
            .collect();
        chart.push(mean_series(entry.label.clone(), &at));
    }
    chart.log_where_spread(1.0)
}

/// The landscape's line figures: λ_max and the trace across depth (mean ± std over seeds), and
/// at [`landscape_depth`] the spectral densities and the interpolation from the initialisation.
pub fn landscape_figures(config: &ReportConfig, summary: &Summary, units: &Units) -> Vec<Figure> {
    let seeds = config.landscape.seeds;
    let mut figures = vec![
        Figure::new(
            "landscape_lambda_max_depth",
            format!(
                "The top eigenvalue of the Hessian of the training loss at the trained weights — the one of largest magnitude, as PyHessian's power iteration finds it (negative where the weights sit near a saddle) — in eval mode, against the depth; mean ± std over {seeds} seed(s), × where a seed diverged (left out of the mean; an arm whose every seed diverged has no point)."
            ),
            landscape_depth_chart(
                "Top Hessian eigenvalue λ_max across depth",
                "λ_max",
                config,
                summary,
                |c| c.lambda_max,
            ),
        ),
        Figure::new(
            "landscape_trace_depth",
            format!(
                "Hutchinson's estimate of the Hessian's trace at the trained weights against the depth; mean ± std over {seeds} seed(s)."
            ),
            landscape_depth_chart(
                "Hessian trace across depth",
                "trace",
                config,
                summary,
                |c| c.trace,
            ),
        ),
    ];
    if let Some(depth) = landscape_depth(config) {
        let at = landscape_results(config, units, Some(depth));
        let mut density = at.density_figure();
        density.id = "landscape_density".into();
        density.chart.title = format!("Hessian eigenvalue density at depth {depth} (SLQ)");
        density.caption = format!(
            "The spectral density of the Hessian at the trained weights, depth {depth}, first seed: stochastic Lanczos quadrature ({} steps) with PyHessian's Gaussian broadening, plotted + 10⁻⁷ on a log axis as PyHessian plots it.",
            config.landscape.spectrum.lanczos_steps
        );
        let mut path = at.init_to_final_figure();
        path.id = "landscape_init_to_final".into();
        path.chart.title = format!(
            "Loss from the initialisation (α = 0) to the trained weights (α = 1), depth {depth}"
        );
        path.caption = "Li et al.'s 1D interpolation of the whole state (BatchNorm's running statistics moved along), eval mode, first seed.".into();
        figures.push(density);
        figures.push(path);
    }
    figures
}

/// The explanation's quantity at each probe step of the battery's training runs (the
/// at-initialization batch, train mode), per normalizer, mean ± std over seeds: the effective
/// rank of the last block's output over the batch size under rank collapse, the mean branch
/// share under identity bias; none for the other explanations.
pub fn along_training(
    explanation: Explanation,
    config: &ReportConfig,
    units: &Units,
) -> Vec<Figure> {
    let (id, title, y_label, value, caption): (_, _, _, fn(&TrainingProbe) -> f64, _) =
        match explanation {
            Explanation::RankCollapse => (
                "rank_along_training",
                "Effective rank of the last block's output / batch size along training",
                "effective rank / N",
                |p| p.rank,
                "The effective rank of the last block's output over the batch size at each probe step (the at-initialization batch, train mode; 1 = full rank, 1/N = rank one), mean ± std over seeds: whether a normalizer keeps the rank where training happens, not only at initialization.",
            ),
            Explanation::IdentityBias => (
                "branch_share_along_training",
                "Branch share along training",
                "branch share",
                |p| p.branch_share,
                "The residual branch's share of each block's output variance, mean over blocks, at each probe step (the at-initialization batch, train mode), mean ± std over seeds: whether the blocks stay near the identity as training goes on.",
            ),
            Explanation::CovariateShift | Explanation::Smoothness => return vec![],
        };
    let mut steps: Vec<f64> = config.probe_steps.iter().map(|&s| s as f64).collect();
    steps.sort_by(f64::total_cmp);
    steps.dedup();
    let mut chart = Chart::new(title, "training step", y_label)
        .integer_x()
        .with_x_ticks(steps.clone())
        .with_control_note(CONTROL);
    let mut any = false;
    for entry in &config.normalizers {
        let runs: Vec<&TrainUnit> = units
            .train
            .iter()
            .filter(|u| u.label == entry.label)
            .collect();
        let at: Vec<(f64, Stat)> = steps
            .iter()
            .map(|&step| {
                let values = runs
                    .iter()
                    .filter_map(|u| u.probes.iter().find(|p| p.step as f64 == step).map(value));
                (step, Stat::of_finite(values))
            })
            .filter(|(_, s)| s.n > 0)
            .collect();
        if at.is_empty() {
            continue;
        }
        any = true;
        let mut series = Series::line(
            entry.label.clone(),
            at.iter().map(|(x, s)| (*x, s.mean)).collect(),
        )
        .with_y_errors(at.iter().map(|(x, s)| spread(*x, s)).collect());
        if entry.control {
            series = series.control();
        }
        chart.push(series);
    }
    if !any {
        return vec![];
    }
    vec![Figure::new(id, caption, chart)]
}
