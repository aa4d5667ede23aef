//! The report's figures: the battery's training loss, each explanation's metric (drawn by the
//! experiment that defines it, as in its example), the metric against training speed, and each
//! intervention's sweep. Every plot of means shows the spread over seeds, diverged runs are
//! marked, and the control arm is drawn but marked as outside the correlations.

use crate::experiments::gradient_predictiveness::{LandscapePoint, beta_figure};
use crate::experiments::identity_bias::{self, branch_share_figure};
use crate::experiments::internal_covariate_shift::{ShiftPoint, shift_by_layer_figure};
use crate::experiments::labels_in;
use crate::experiments::rank_collapse::{self, effective_rank_figure};
use crate::experiments::training::{Curves, loss_figure};
use crate::models::Activation;
use crate::output::{Chart, Figure, Series};
use crate::report::config::ReportConfig;
use crate::report::explanation::{Explanation, InterventionKind, Role};
use crate::report::judge::Summary;
use crate::report::judge::intervention::{Intervention, SweepArm, SweepPoint};
use crate::report::units::measure::{TrainUnit, Units};
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
        let mut series = Series::points(n.label.clone(), vec![(x.mean, y.mean)])
            .with_x_errors(vec![spread(y.mean, &x)])
            .with_y_errors(vec![spread(x.mean, &y)]);
        if is_control(config, &n.label) {
            series = series.control();
        }
        chart.push(series);
    }
    let m = summary.mechanism(explanation);
    Figure::new(
        scatter_id(explanation),
        format!(
            "{} against the final training loss, one point per normalizer (mean ± std over seeds on both axes; ρ = {:.2} over the {} normalizers; the control arm, hollow, is left out of ρ).",
            explanation.metric(),
            m.spearman,
            m.normalizers
        ),
        chart.log_where_spread(1.0),
    )
}

/// The arms' mean of a per-point statistic against the grid point, with its spread over seeds
/// and × where a seed diverged; the measured grid labels the x axis.
fn sweep_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    arms: &[SweepArm],
    f: fn(&SweepPoint) -> Stat,
    integer: bool,
) -> Chart {
    let grid: Vec<f64> = arms
        .first()
        .map(|a| a.points.iter().map(|p| p.point).collect())
        .unwrap_or_default();
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
            .map(|p| (p.point, f(p), p.diverged))
            .filter(|(_, s, _)| s.mean.is_finite())
            .collect();
        chart.push(
            Series::line(
                arm.label.clone(),
                at.iter().map(|(x, s, _)| (*x, s.mean)).collect(),
            )
            .with_y_errors(at.iter().map(|(x, s, _)| spread(*x, s)).collect())
            .with_diverged(
                at.iter()
                    .filter(|(_, _, d)| *d > 0)
                    .map(|(x, s, _)| (*x, s.mean))
                    .collect(),
            ),
        );
    }
    chart
}

/// The figures of an intervention's section; `loss` is the battery's training-loss chart, of
/// which the noise experiment shows its arms.
pub fn intervention(i: &Intervention, loss: &Chart) -> Vec<Figure> {
    let final_loss = |what: &str| {
        Figure::new(
            match i.kind {
                InterventionKind::SkipInitDepth => "depth_sweep_skipinit",
                _ => "depth_sweep_orthogonal",
            },
            format!(
                "Final training loss against the residual blocks per stage: no normalization, BatchNorm and {what} (mean ± std over seeds; a diverged run counts at the chance loss ln C and is marked ×)."
            ),
            sweep_chart(
                "Final training loss across depths",
                "blocks per stage",
                "final training loss",
                &i.arms,
                |p| p.final_loss,
                true,
            ),
        )
    };
    match i.kind {
        InterventionKind::Noise => {
            let mut noise = Chart::new(
                "Training loss with and without noise after BatchNorm",
                "step",
                "training loss",
            )
            .log_y()
            .integer_x();
            noise.control_note = loss.control_note.clone();
            let arms = [Role::None, Role::BatchNorm, Role::Noisy, Role::NoiseOnly];
            for series in loss
                .series
                .iter()
                .filter(|s| arms.iter().any(|r| r.label() == s.name))
            {
                noise.push(series.clone());
            }
            vec![Figure::new(
                "noise_training_loss",
                format!(
                    "BatchNorm, BatchNorm with noise after it, the noise alone (control) and no normalization: the battery's runs ({FINAL_WINDOW}-step running mean; band: ± std over seeds)."
                ),
                noise,
            )]
        }
        InterventionKind::LearningRates => vec![Figure::new(
            "lr_sweep",
            "Final training loss against the learning rate (mean ± std over seeds; a diverged run counts at the chance loss ln C and is marked ×).",
            sweep_chart(
                "Final training loss across learning rates",
                "learning rate",
                "final training loss",
                &i.arms,
                |p| p.final_loss,
                false,
            ),
        )],
        InterventionKind::SkipInitDepth => vec![final_loss("SkipInit")],
        InterventionKind::OrthogonalDepth => vec![
            final_loss("the delta-orthogonal initialisation"),
            Figure::new(
                "depth_rank",
                "Effective rank of the last block's output over the batch size at initialization, against the depth (mean ± std over seeds): the check that the initialisation preserves rank.",
                sweep_chart(
                    "Rank at initialization across depths",
                    "blocks per stage",
                    "effective rank / N",
                    &i.arms,
                    |p| p.rank,
                    true,
                ),
            ),
        ],
    }
}
