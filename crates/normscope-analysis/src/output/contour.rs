//! Filled contour plots (heatmaps with iso-lines and a colour bar) as SVG and PNG, for values on
//! a grid — the loss on a plane of weight space (Li et al. 2018). Same fonts and file pair as
//! [`super::Chart`]; the colour map is viridis (perceptually uniform, readable in grey and by
//! colour-blind readers); [`Contour::with_range`] fixes the colour scale so that two plots (a
//! network with and without BatchNorm) share one.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::OutputError;
use super::plot::{register_font, render_svg, save_svg_and_png, tick_label, ticked, ticks};

/// A grid of values drawn as coloured cells with iso-lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contour {
    /// Title above the plot.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// What the colour shows (the colour bar's label).
    pub value_label: String,
    /// Grid x coordinates, increasing.
    pub xs: Vec<f64>,
    /// Grid y coordinates, increasing.
    pub ys: Vec<f64>,
    /// `values[j][i]` at `(xs[i], ys[j])`; non-finite values are drawn grey.
    pub values: Vec<Vec<f64>>,
    /// The colour scale `(low, high)`: values outside take the end colours.
    pub range: (f64, f64),
    /// Colours (and iso-lines) spaced logarithmically (the values must be positive).
    pub log: bool,
    /// Number of iso-lines, evenly spaced over the range (logarithmically with `log`).
    pub levels: usize,
    /// A marked point (the trained weights at the origin), with its legend.
    pub marker: Option<((f64, f64), String)>,
}

/// Width and height of a contour plot, pixels.
pub const SIZE: (u32, u32) = (720, 580);

/// Viridis at 9 evenly spaced stops (matplotlib's `viridis`).
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// The viridis colour of `t ∈ [0, 1]` (clamped).
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl Contour {
    /// A contour plot of `values[j][i]` at `(xs[i], ys[j])`, its colour scale spanning the
    /// finite values, 10 iso-lines.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        value_label: impl Into<String>,
        xs: Vec<f64>,
        ys: Vec<f64>,
        values: Vec<Vec<f64>>,
    ) -> Contour {
        assert!(
            values.len() == ys.len() && values.iter().all(|row| row.len() == xs.len()),
            "a {}×{} grid needs {} rows of {} values",
            xs.len(),
            ys.len(),
            ys.len(),
            xs.len()
        );
        let mut contour = Contour {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            value_label: value_label.into(),
            xs,
            ys,
            values,
            range: (0.0, 1.0),
            log: false,
            levels: 10,
            marker: None,
        };
        contour.range = contour.data_range();
        contour
    }

    /// The smallest and largest finite values (positive ones with `log`).
    pub fn data_range(&self) -> (f64, f64) {
        let (lo, hi) = self
            .values
            .iter()
            .flatten()
            .filter(|v| v.is_finite() && (!self.log || **v > 0.0))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if lo.is_finite() {
            (lo, hi)
        } else if self.log {
            (0.1, 10.0)
        } else {
            (0.0, 1.0)
        }
    }

    /// The colour scale fixed to `(low, high)` — e.g. [`shared_range`] of several plots.
    pub fn with_range(mut self, range: (f64, f64)) -> Contour {
        self.range = range;
        self
    }

    /// Logarithmic colours and iso-lines (the scale is refitted to the positive values).
    pub fn log_scale(mut self) -> Contour {
        self.log = true;
        self.range = self.data_range();
        self
    }

    /// Marks `point` with `label` (e.g. the trained weights at the origin).
    pub fn with_marker(mut self, point: (f64, f64), label: impl Into<String>) -> Contour {
        self.marker = Some((point, label.into()));
        self
    }

    /// `v`'s position in the colour scale, `[0, 1]` inside it.
    fn unit(&self, v: f64) -> f64 {
        let (lo, hi) = self.range;
        let (v, lo, hi) = if self.log {
            (v.max(f64::MIN_POSITIVE).ln(), lo.ln(), hi.ln())
        } else {
            (v, lo, hi)
        };
        if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }
    }

    /// The iso-line values, strictly inside the range.
    pub fn level_values(&self) -> Vec<f64> {
        let (lo, hi) = self.range;
        (1..=self.levels)
            .map(|k| {
                let t = k as f64 / (self.levels + 1) as f64;
                if self.log {
                    (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                } else {
                    lo + t * (hi - lo)
                }
            })
            .collect()
    }

    /// The iso-line segments at `level` by marching squares (a saddle cell resolved by its
    /// centre's mean value).
    pub fn segments(&self, level: f64) -> Vec<[(f64, f64); 2]> {
        let mut out = vec![];
        for j in 0..self.ys.len().saturating_sub(1) {
            for i in 0..self.xs.len().saturating_sub(1) {
                // Corners counter-clockwise from (i, j).
                let corners = [
                    (self.xs[i], self.ys[j], self.values[j][i]),
                    (self.xs[i + 1], self.ys[j], self.values[j][i + 1]),
                    (self.xs[i + 1], self.ys[j + 1], self.values[j + 1][i + 1]),
                    (self.xs[i], self.ys[j + 1], self.values[j + 1][i]),
                ];
                if corners.iter().any(|c| !c.2.is_finite()) {
                    continue;
                }
                let mut crossings = vec![];
                for e in 0..4 {
                    let (a, b) = (corners[e], corners[(e + 1) % 4]);
                    if (a.2 - level) * (b.2 - level) < 0.0 {
                        let t = (level - a.2) / (b.2 - a.2);
                        crossings.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                    }
                }
                match crossings.len() {
                    2 => out.push([crossings[0], crossings[1]]),
                    4 => {
                        // Crossings lie on edges 0..4 in order; pair them so that the centre
                        // stays on its own side.
                        let centre = corners.iter().map(|c| c.2).sum::<f64>() / 4.0;
                        if (centre > level) == (corners[0].2 > level) {
                            out.push([crossings[0], crossings[3]]);
                            out.push([crossings[1], crossings[2]]);
                        } else {
                            out.push([crossings[0], crossings[1]]);
                            out.push([crossings[2], crossings[3]]);
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// The cell of grid point `k` of `v`: from the midpoint with its left neighbour to the one
    /// with its right neighbour (half a step beyond the ends).
    fn cell(v: &[f64], k: usize) -> (f64, f64) {
        let step = |a: usize, b: usize| (v[b] - v[a]) / 2.0;
        let lo = if k > 0 {
            v[k] - step(k - 1, k)
        } else if v.len() > 1 {
            v[0] - step(0, 1)
        } else {
            v[0] - 0.5
        };
        let hi = if k + 1 < v.len() {
            v[k] + step(k, k + 1)
        } else if k > 0 {
            v[k] + step(k - 1, k)
        } else {
            v[0] + 0.5
        };
        (lo, hi)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), OutputError> {
        register_font();
        let plot_error = |e: &dyn std::fmt::Display| OutputError::Plot(e.to_string());
        root.fill(&WHITE).map_err(|e| plot_error(&e))?;
        if self.xs.is_empty() || self.ys.is_empty() {
            return root.present().map_err(|e| plot_error(&e));
        }
        let bar_width = 120;
        let (plot_area, bar_area) = root.split_horizontally(root.dim_in_pixel().0 - bar_width);
        let (x0, x1) = (
            Self::cell(&self.xs, 0).0,
            Self::cell(&self.xs, self.xs.len() - 1).1,
        );
        let (y0, y1) = (
            Self::cell(&self.ys, 0).0,
            Self::cell(&self.ys, self.ys.len() - 1).1,
        );
        // Round tick values as the line charts choose them (the grid's own coordinates print as
        // `-2.2e-16` where they miss 0 by a rounding).
        let width = |v: f64| tick_label(v, false).chars().count() as f64 * 7.0;
        let (x_ticks, y_ticks) = (
            ticks(x0, x1, false, false, 500.0, &width),
            ticks(y0, y1, false, false, 450.0, &|_| 14.0),
        );
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(ticked(x0..x1, x_ticks), ticked(y0..y1, y_ticks))
            .map_err(|e| plot_error(&e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| tick_label(*v, false))
            .y_label_formatter(&|v| tick_label(*v, false))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| plot_error(&e))?;
        let mut cells = vec![];
        for (j, row) in self.values.iter().enumerate() {
            let (ya, yb) = Self::cell(&self.ys, j);
            for (i, &v) in row.iter().enumerate() {
                let (xa, xb) = Self::cell(&self.xs, i);
                let colour = if v.is_finite() {
                    viridis(self.unit(v))
                } else {
                    RGBColor(190, 190, 190)
                };
                cells.push(Rectangle::new([(xa, ya), (xb, yb)], colour.filled()));
            }
        }
        chart.draw_series(cells).map_err(|e| plot_error(&e))?;
        for level in self.level_values() {
            // Light lines over the dark end of the map, dark over the light end.
            let line = if self.unit(level) < 0.6 {
                RGBColor(255, 255, 255).mix(0.75)
            } else {
                RGBColor(0, 0, 0).mix(0.6)
            };
            chart
                .draw_series(
                    self.segments(level)
                        .into_iter()
                        .map(|s| PathElement::new(s.to_vec(), line.stroke_width(1))),
                )
                .map_err(|e| plot_error(&e))?;
        }
        if let Some((point, label)) = &self.marker {
            chart
                .draw_series(std::iter::once(Cross::new(
                    *point,
                    7,
                    RGBColor(214, 39, 40).stroke_width(3),
                )))
                .map_err(|e| plot_error(&e))?
                .label(label.clone())
                .legend(|(x, y)| Cross::new((x, y), 5, RGBColor(214, 39, 40).stroke_width(3)));
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 12))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| plot_error(&e))?;
        }
        self.draw_bar(&bar_area)?;
        root.present().map_err(|e| plot_error(&e))?;
        Ok(())
    }

    /// The colour bar: the scale's colours bottom to top with value ticks and the label.
    fn draw_bar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), OutputError> {
        let plot_error = |e: &dyn std::fmt::Display| OutputError::Plot(e.to_string());
        let (lo, hi) = self.range;
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        let steps = 128;
        let mut builder = ChartBuilder::on(area);
        // The bar 22 pixels wide, its tick labels and its label on its right (on its left the
        // bar would cover the ends of the labels).
        builder
            .margin_top(46)
            .margin_bottom(56)
            .margin_left(120 - 22 - 74 - 10)
            .margin_right(10)
            .right_y_label_area_size(74);
        macro_rules! bar {
            ($chart:expr, $at:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .disable_x_axis()
                    .y_desc(&self.value_label)
                    .y_label_formatter(&|v| tick_label(*v, false))
                    .label_style(("sans-serif", 12))
                    .draw()
                    .map_err(|e| plot_error(&e))?;
                chart
                    .draw_series((0..steps).map(|k| {
                        let (a, b) = ($at(k), $at(k + 1));
                        Rectangle::new(
                            [(0.0, a), (1.0, b)],
                            viridis((k as f64 + 0.5) / steps as f64).filled(),
                        )
                    }))
                    .map_err(|e| plot_error(&e))?;
            }};
        }
        // The tick values as the line charts choose them (1-2-5 within decades on a log scale),
        // labels 14 pixels high on a bar about 470 pixels tall.
        let values = ticks(lo, hi, self.log, false, 470.0, &|_| 14.0);
        if self.log {
            let at = |k: usize| (lo.ln() + (hi.ln() - lo.ln()) * k as f64 / steps as f64).exp();
            bar!(
                builder
                    .build_cartesian_2d(0.0..1.0, ticked((lo..hi).log_scale(), values))
                    .map_err(|e| plot_error(&e))?,
                at
            );
        } else {
            let at = |k: usize| lo + (hi - lo) * k as f64 / steps as f64;
            bar!(
                builder
                    .build_cartesian_2d(0.0..1.0, ticked(lo..hi, values))
                    .map_err(|e| plot_error(&e))?,
                at
            );
        }
        Ok(())
    }

    /// The plot as an SVG document.
    pub fn svg(&self) -> Result<String, OutputError> {
        render_svg(SIZE, |area| self.draw(area))
    }

    /// Writes `<stem>.svg` and `<stem>.png` into `dir` (each written beside its place and
    /// renamed into it: a failure leaves no partial file); returns their paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), OutputError> {
        save_svg_and_png(dir, stem, self.svg()?, SIZE, |area| self.draw(area))
    }
}

/// One colour scale for several plots: the smallest and largest of their data ranges (set it
/// with [`Contour::with_range`], so that `none` and `BatchNorm` are read on the same colours).
pub fn shared_range(contours: &[&Contour]) -> (f64, f64) {
    contours
        .iter()
        .map(|c| c.data_range())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (a, b)| {
            (lo.min(a), hi.max(b))
        })
}
