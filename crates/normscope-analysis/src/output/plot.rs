//! Charts as SVG (for the report page) and PNG (beside it), with plotters and the DejaVu Sans
//! font shipped in `assets/` (no system fontconfig needed).
//!
//! Made to be read as a figure of a paper: every series has its own colour *and* marker (and,
//! past six series, a dashed line), so twelve series stay distinguishable in grey; ticks are
//! chosen here, not by plotters — integers on integer axes, the measured values where a figure
//! names them (`depths 1, 4, 16`), decades (or 1-2-5 within a decade) on log axes, thinned so no
//! two labels collide; spread over seeds is a band or error bars; a diverged run is a ×; a
//! control arm is drawn hollow and dashed and says in its legend that it is outside the
//! correlation.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::OutputError;

static FONT: Once = Once::new();

pub(super) fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the shipped DejaVuSans.ttf is a valid font"));
    });
}

/// One series: a line (or points), optionally with a band or error bars for the spread over
/// seeds and × marks where runs diverged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points in order of x.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)` around the line, shaded.
    pub band: Vec<(f64, f64, f64)>,
    /// Points only, no line (a scatter plot).
    #[serde(default)]
    pub scatter: bool,
    /// Vertical error bars `(x, low, high)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub y_errors: Vec<(f64, f64, f64)>,
    /// Horizontal error bars `(y, low, high)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x_errors: Vec<(f64, f64, f64)>,
    /// Where runs diverged, drawn as ×.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diverged: Vec<(f64, f64)>,
    /// A control arm: hollow markers, a dashed line, and "(control)" in the legend.
    #[serde(default)]
    pub control: bool,
}

impl Series {
    /// A line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            band: vec![],
            scatter: false,
            y_errors: vec![],
            x_errors: vec![],
            diverged: vec![],
            control: false,
        }
    }

    /// Points without a line.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            scatter: true,
            ..Series::line(name, points)
        }
    }

    /// A line with its band.
    pub fn with_band(mut self, band: Vec<(f64, f64, f64)>) -> Series {
        self.band = band;
        self
    }

    /// With vertical error bars `(x, low, high)`.
    pub fn with_y_errors(mut self, errors: Vec<(f64, f64, f64)>) -> Series {
        self.y_errors = errors;
        self
    }

    /// With horizontal error bars `(y, low, high)`.
    pub fn with_x_errors(mut self, errors: Vec<(f64, f64, f64)>) -> Series {
        self.x_errors = errors;
        self
    }

    /// With × marks where runs diverged.
    pub fn with_diverged(mut self, marks: Vec<(f64, f64)>) -> Series {
        self.diverged = marks;
        self
    }

    /// Marked as a control arm.
    pub fn control(mut self) -> Series {
        self.control = true;
        self
    }
}

/// A chart of several series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// X-axis label.
    pub x_label: String,
    /// Y-axis label.
    pub y_label: String,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// The lines.
    pub series: Vec<Series>,
    /// The x values to label, when the figure names them (the depths measured); chosen from
    /// the range otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_ticks: Option<Vec<f64>>,
    /// X is a count (steps, blocks): labels are integers.
    #[serde(default)]
    pub x_integer: bool,
    /// What the legend says a control arm is (default "control").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_note: Option<String>,
}

/// Pixel size of every chart.
pub(crate) const SIZE: (u32, u32) = (760, 460);

/// Twelve colours distinct on white: matplotlib's "tab10", black and a dark teal.
const PALETTE: [(u8, u8, u8); 12] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (0, 0, 0),
    (0, 95, 95),
];

/// The marker shapes, in pixel offsets around the point (a circle as a 16-gon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    TriangleDown,
    Pentagon,
}

const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Diamond,
    Marker::TriangleDown,
    Marker::Pentagon,
];

impl Marker {
    fn outline(self, r: f64) -> Vec<(i32, i32)> {
        let polygon = |n: usize, phase: f64, scale: f64| -> Vec<(i32, i32)> {
            (0..n)
                .map(|k| {
                    let a = phase + k as f64 * std::f64::consts::TAU / n as f64;
                    (
                        (r * scale * a.cos()).round() as i32,
                        (r * scale * a.sin()).round() as i32,
                    )
                })
                .collect()
        };
        let quarter = std::f64::consts::FRAC_PI_2;
        match self {
            Marker::Circle => polygon(16, 0.0, 1.0),
            Marker::Square => polygon(4, quarter / 2.0, 1.15),
            Marker::Triangle => polygon(3, -quarter, 1.3),
            Marker::Diamond => polygon(4, 0.0, 1.3),
            Marker::TriangleDown => polygon(3, quarter, 1.3),
            Marker::Pentagon => polygon(5, -quarter, 1.2),
        }
    }
}

/// The style of the `i`-th series: colour, marker, dashed line.
fn style(i: usize) -> (RGBColor, Marker, bool) {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    (
        RGBColor(r, g, b),
        MARKERS[i % MARKERS.len()],
        (i / MARKERS.len()) % 2 == 1,
    )
}

/// A tick label: integers without decimals, at most three significant digits otherwise,
/// scientific notation for very small or large values.
pub fn tick_label(v: f64, integer: bool) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if integer || (v.fract() == 0.0 && v.abs() < 1e6) {
        return format!("{v:.0}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let exp = a.log10().floor() as i32;
        let mantissa = v / 10f64.powi(exp);
        let m = format!("{mantissa:.2}");
        let m = m.trim_end_matches('0').trim_end_matches('.');
        return format!("{m}e{exp}");
    }
    let digits = (2 - a.log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The ticks of an axis over `[lo, hi]`: decades (then 1-2-5 within decades, then a linear
/// step) on a log axis, a 1-2-5 step on a linear one (at least 1 on an integer axis), then
/// thinned so that labels of `label_width(v)` pixels, on an axis `pixels` long, keep
/// `gap` pixels apart.
pub fn ticks(
    lo: f64,
    hi: f64,
    log: bool,
    integer: bool,
    pixels: f64,
    label_width: &dyn Fn(f64) -> f64,
) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![];
    }
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
    let linear = |count: f64| -> Vec<f64> {
        let raw = (hi - lo) / count;
        let magnitude = 10f64.powf(raw.log10().floor());
        let mut step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * magnitude);
        if integer {
            step = step.max(1.0).round();
        }
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        (first..=last).map(|k| k as f64 * step).collect()
    };
    let candidates: Vec<f64> = if log && lo > 0.0 {
        let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let with = |mantissas: &[f64]| -> Vec<f64> {
            (k0..=k1)
                .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
                .filter(inside)
                .collect()
        };
        let decades = with(&[1.0]);
        if decades.len() >= 3 {
            decades
        } else {
            let fine = with(&[1.0, 2.0, 5.0]);
            if fine.len() >= 3 { fine } else { linear(4.0) }
        }
    } else {
        linear(6.0)
    };
    // Thin: keep a tick when its label clears the last kept one.
    let position = |v: f64| {
        if log && lo > 0.0 {
            (v.ln() - lo.ln()) / (hi.ln() - lo.ln()) * pixels
        } else {
            (v - lo) / (hi - lo) * pixels
        }
    };
    let mut kept: Vec<f64> = vec![];
    for v in candidates {
        let clear = kept.last().is_none_or(|&k| {
            position(v) - position(k) >= (label_width(v) + label_width(k)) / 2.0 + 8.0
        });
        if clear {
            kept.push(v);
        }
    }
    kept
}

impl Chart {
    /// A chart with linear axes.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y: false,
            log_x: false,
            series: vec![],
            x_ticks: None,
            x_integer: false,
            control_note: None,
        }
    }

    /// Logarithmic y axis.
    pub fn log_y(mut self) -> Chart {
        self.log_y = true;
        self
    }

    /// Logarithmic x axis.
    pub fn log_x(mut self) -> Chart {
        self.log_x = true;
        self
    }

    /// Integer x labels (steps, blocks).
    pub fn integer_x(mut self) -> Chart {
        self.x_integer = true;
        self
    }

    /// Labels exactly these x values (the grid that was measured).
    pub fn with_x_ticks(mut self, ticks: Vec<f64>) -> Chart {
        self.x_ticks = Some(ticks);
        self
    }

    /// What the legend says a control arm is.
    pub fn with_control_note(mut self, note: impl Into<String>) -> Chart {
        self.control_note = Some(note.into());
        self
    }

    /// Log axes where the values span more than `decades` decades (and are all positive).
    pub fn log_where_spread(mut self, decades: f64) -> Chart {
        let spread = |values: Vec<f64>| {
            let positive: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
            let (lo, hi) = positive
                .iter()
                .fold((f64::INFINITY, 0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            !positive.is_empty() && lo > 0.0 && (hi / lo).log10() > decades
        };
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1));
        self.log_x |= spread(xs.collect());
        self.log_y |= spread(ys.collect());
        self
    }

    /// Adds a series.
    pub fn push(&mut self, series: Series) {
        self.series.push(series);
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let usable = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
        let mut xs: Vec<f64> = vec![];
        let mut ys: Vec<f64> = vec![];
        for s in &self.series {
            xs.extend(s.points.iter().map(|p| p.0));
            ys.extend(s.points.iter().map(|p| p.1));
            ys.extend(s.band.iter().flat_map(|b| [b.1, b.2]));
            ys.extend(s.y_errors.iter().flat_map(|b| [b.1, b.2]));
            xs.extend(s.x_errors.iter().flat_map(|b| [b.1, b.2]));
            xs.extend(s.diverged.iter().map(|p| p.0));
            ys.extend(s.diverged.iter().map(|p| p.1));
        }
        xs.extend(self.x_ticks.iter().flatten());
        let span = |values: &[f64], log: bool| {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for &v in values.iter().filter(|&&v| usable(v, log)) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if !lo.is_finite() {
                return if log { (0.1, 10.0) } else { (0.0, 1.0) };
            }
            if log {
                let pad = (hi / lo).powf(0.05).max(1.1);
                (lo / pad, hi * pad)
            } else if hi - lo < 1e-12 {
                (lo - 0.5, hi + 0.5)
            } else {
                let pad = (hi - lo) * 0.05;
                (lo - pad, hi + pad)
            }
        };
        (span(&xs, self.log_x), span(&ys, self.log_y))
    }

    /// The legend's lines: `(series index or None for the × entry, text)`.
    fn legend(&self) -> Vec<(Option<usize>, String)> {
        let note = self.control_note.as_deref().unwrap_or("control");
        let mut lines: Vec<(Option<usize>, String)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let name = if s.control {
                    format!("{} ({note})", s.name)
                } else {
                    s.name.clone()
                };
                (Some(i), name)
            })
            .collect();
        if self.series.iter().any(|s| !s.diverged.is_empty()) {
            lines.push((None, "diverged".into()));
        }
        lines
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), OutputError> {
        register_font();
        root.fill(&WHITE).map_err(|e| plot_error(&e))?;
        let ((x0, x1), (y0, y1)) = self.ranges();
        // The legend stands in its own strip right of the plot, so it never hides a point.
        let legend = self.legend();
        let show_legend = self.series.len() > 1 || legend.iter().any(|l| l.0.is_none());
        let legend_width = if show_legend {
            legend
                .iter()
                .map(|l| l.1.chars().count())
                .max()
                .unwrap_or(0) as u32
                * 7
                + 44
        } else {
            0
        };
        let (plot_area, legend_area) =
            root.split_horizontally(root.dim_in_pixel().0 - legend_width);
        if show_legend {
            self.draw_legend(&legend_area, &legend)?;
        }
        let width = |v: f64, integer: bool| tick_label(v, integer).chars().count() as f64 * 7.0;
        let plot_width = plot_area.dim_in_pixel().0 as f64 - 100.0;
        let plot_height = plot_area.dim_in_pixel().1 as f64 - 90.0;
        let x_ticks = match &self.x_ticks {
            Some(t) => t.clone(),
            None => ticks(x0, x1, self.log_x, self.x_integer, plot_width, &|v| {
                width(v, self.x_integer)
            }),
        };
        let y_ticks = ticks(y0, y1, self.log_y, false, plot_height, &|_| 14.0);
        let mut builder = ChartBuilder::on(&plot_area);
        builder
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64);
        let bounds = ((x0, x1), (y0, y1));
        let (x, y) = (x0..x1, y0..y1);
        match (self.log_x, self.log_y) {
            (false, false) => self.plot(
                builder
                    .build_cartesian_2d(ticked(x, x_ticks), ticked(y, y_ticks))
                    .map_err(|e| plot_error(&e))?,
                bounds,
            )?,
            (false, true) => self.plot(
                builder
                    .build_cartesian_2d(ticked(x, x_ticks), ticked(y.log_scale(), y_ticks))
                    .map_err(|e| plot_error(&e))?,
                bounds,
            )?,
            (true, false) => self.plot(
                builder
                    .build_cartesian_2d(ticked(x.log_scale(), x_ticks), ticked(y, y_ticks))
                    .map_err(|e| plot_error(&e))?,
                bounds,
            )?,
            (true, true) => self.plot(
                builder
                    .build_cartesian_2d(
                        ticked(x.log_scale(), x_ticks),
                        ticked(y.log_scale(), y_ticks),
                    )
                    .map_err(|e| plot_error(&e))?,
                bounds,
            )?,
        }
        root.present().map_err(|e| plot_error(&e))?;
        Ok(())
    }

    /// The legend: one line per series (its line, marker and name), and the × of diverged runs.
    fn draw_legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        legend: &[(Option<usize>, String)],
    ) -> Result<(), OutputError> {
        for (row, (index, text)) in legend.iter().enumerate() {
            let y = 48 + 18 * row as i32;
            match index {
                Some(i) => {
                    let (colour, shape, dashed) = style(*i);
                    let s = &self.series[*i];
                    if !s.scatter {
                        let segments: Vec<(i32, i32)> = if dashed || s.control {
                            vec![(2, 10), (14, 22), (26, 34)]
                        } else {
                            vec![(2, 34)]
                        };
                        for (a, b) in segments {
                            area.draw(&PathElement::new(
                                vec![(a, y), (b, y)],
                                colour.stroke_width(2),
                            ))
                            .map_err(|e| plot_error(&e))?;
                        }
                    }
                    let (fill, outline) = marker(shape, 4.5, colour, s.control);
                    area.draw(&(EmptyElement::at((18, y)) + fill))
                        .map_err(|e| plot_error(&e))?;
                    if let Some(outline) = outline {
                        area.draw(&(EmptyElement::at((18, y)) + outline))
                            .map_err(|e| plot_error(&e))?;
                    }
                }
                None => area
                    .draw(&Cross::new((18, y), 5, BLACK.stroke_width(2)))
                    .map_err(|e| plot_error(&e))?,
            }
            area.draw(&Text::new(text.clone(), (40, y - 7), ("sans-serif", 12)))
                .map_err(|e| plot_error(&e))?;
        }
        Ok(())
    }

    /// The mesh and every series, on either kind of axes.
    fn plot<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
        &self,
        mut chart: ChartContext<'_, DB, Cartesian2d<Ticked<X>, Ticked<Y>>>,
        bounds: ((f64, f64), (f64, f64)),
    ) -> Result<(), OutputError> {
        let x_integer = self.x_integer;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 12))
            .x_label_formatter(&|v| tick_label(*v, x_integer))
            .y_label_formatter(&|v| tick_label(*v, false))
            .draw()
            .map_err(|e| plot_error(&e))?;
        for (i, s) in self.series.iter().enumerate() {
            self.draw_series(&mut chart, i, s, bounds)?;
        }
        Ok(())
    }

    /// One series: its band, error bars, line, markers and × marks.
    fn draw_series<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<Ticked<X>, Ticked<Y>>>,
        i: usize,
        s: &Series,
        ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
    ) -> Result<(), OutputError> {
        let (colour, shape, dashed) = style(i);
        let clamp_y = |v: f64| v.max(y0).min(y1);
        let clamp_x = |v: f64| v.max(x0).min(x1);
        let finite = |p: &(f64, f64)| {
            p.0.is_finite()
                && p.1.is_finite()
                && (!self.log_y || p.1 > 0.0)
                && (!self.log_x || p.0 > 0.0)
        };
        macro_rules! draw {
            ($element:expr) => {
                chart
                    .draw_series(std::iter::once($element))
                    .map_err(|e| plot_error(&e))?
            };
        }
        if !s.band.is_empty() {
            let mut outline: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, clamp_y(b.2))).collect();
            outline.extend(s.band.iter().rev().map(|b| (b.0, clamp_y(b.1))));
            draw!(Polygon::new(outline, colour.mix(0.15).filled()));
        }
        let bar = |vertical: bool| {
            let cap: Vec<(i32, i32)> = if vertical {
                vec![(-4, 0), (4, 0)]
            } else {
                vec![(0, -4), (0, 4)]
            };
            PathElement::new(cap, colour.stroke_width(1))
        };
        // Error bars, vertical (x, low, high) and horizontal (y, low, high), with caps.
        let vertical = s
            .y_errors
            .iter()
            .map(|&(x, lo, hi)| ((x, lo), (x, hi), true));
        let horizontal = s
            .x_errors
            .iter()
            .map(|&(y, lo, hi)| ((lo, y), (hi, y), false));
        for (a, b, up) in vertical
            .chain(horizontal)
            .filter(|(a, b, _)| [a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()))
        {
            let clamp = |p: (f64, f64)| (clamp_x(p.0), clamp_y(p.1));
            let (a, b) = (clamp(a), clamp(b));
            draw!(PathElement::new(vec![a, b], colour.stroke_width(1)));
            for end in [a, b] {
                draw!(EmptyElement::at(end) + bar(up));
            }
        }
        let points: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| finite(p)).collect();
        if !s.scatter && points.len() > 1 {
            let style = colour.stroke_width(2);
            if dashed || s.control {
                chart
                    .draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))
                    .map_err(|e| plot_error(&e))?;
            } else {
                chart
                    .draw_series(LineSeries::new(points.clone(), style))
                    .map_err(|e| plot_error(&e))?;
            }
        }
        // Markers: every point of a short series, about 12 along a long one (offset per series,
        // so that close curves do not hide each other's).
        let every = (points.len() / 12).max(1);
        let offset = if every > 1 {
            (i * every / 5) % every
        } else {
            0
        };
        let radius = if s.scatter { 5.5 } else { 4.0 };
        for (k, &p) in points.iter().enumerate() {
            if every == 1 || k % every == offset {
                let (fill, outline) = marker(shape, radius, colour, s.control);
                draw!(EmptyElement::at(p) + fill);
                if let Some(outline) = outline {
                    draw!(EmptyElement::at(p) + outline);
                }
            }
        }
        for &p in s.diverged.iter().filter(|p| finite(p)) {
            let at = (clamp_x(p.0), clamp_y(p.1));
            draw!(EmptyElement::at(at) + Cross::new((0, 0), 6, colour.stroke_width(3)));
        }
        Ok(())
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String, OutputError> {
        render_svg(SIZE, |area| self.draw(area))
    }

    /// Writes `<stem>.svg` and `<stem>.png` into `dir`; returns their paths. Each file is
    /// written beside its place and renamed into it, so a failure (a full disk) names the file
    /// and leaves no partial one.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), OutputError> {
        save_svg_and_png(dir, stem, self.svg()?, SIZE, |area| self.draw(area))
    }
}

/// A figure of `size` pixels drawn by `draw` as an SVG document.
pub(super) fn render_svg(
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend, Shift>) -> Result<(), OutputError>,
) -> Result<String, OutputError> {
    let mut svg = String::new();
    draw(SVGBackend::with_string(&mut svg, size).into_drawing_area())?;
    Ok(svg)
}

/// Writes `svg` as `dir/<stem>.svg` and the PNG `draw` paints at `size` as `dir/<stem>.png`,
/// each beside its place and renamed into it: a failure (a full disk) names the file and
/// leaves no partial one. Returns both paths.
pub(super) fn save_svg_and_png(
    dir: &Path,
    stem: &str,
    svg: String,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<BitMapBackend, Shift>) -> Result<(), OutputError>,
) -> Result<(PathBuf, PathBuf), OutputError> {
    let svg_path = dir.join(format!("{stem}.svg"));
    let png_path = dir.join(format!("{stem}.png"));
    super::write(&svg_path, svg)?;
    let tmp = dir.join(format!(".{stem}.{}.png", std::process::id()));
    let drawn = draw(BitMapBackend::new(&tmp, size).into_drawing_area())
        .map_err(|e| match e {
            OutputError::Plot(message) => OutputError::Io {
                path: png_path.clone(),
                source: std::io::Error::other(message),
            },
            e => e,
        })
        .and_then(|()| {
            std::fs::rename(&tmp, &png_path).map_err(|source| OutputError::Io {
                path: png_path.clone(),
                source,
            })
        });
    if drawn.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drawn?;
    Ok((svg_path, png_path))
}

fn plot_error(e: &dyn std::fmt::Display) -> OutputError {
    OutputError::Plot(e.to_string())
}

/// An axis with the ticks chosen here: plotters' own coordinate (linear or log) for the mapping,
/// these values for the tick marks, labels and grid lines.
pub(super) struct Ticked<R> {
    inner: R,
    ticks: Vec<f64>,
}

/// `range` (a linear `a..b` or a `(a..b).log_scale()`) ticked at `ticks`.
pub(super) fn ticked<R: AsRangedCoord<Value = f64>>(
    range: R,
    ticks: Vec<f64>,
) -> Ticked<R::CoordDescType> {
    Ticked {
        inner: range.into(),
        ticks,
    }
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            vec![]
        } else {
            self.ticks.clone()
        }
    }

    fn axis_pixel_range(&self, limit: (i32, i32)) -> std::ops::Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

/// A marker's filled shape and, for a hollow marker, its outline.
type MarkerElements = (Polygon<(i32, i32)>, Option<PathElement<(i32, i32)>>);

/// A marker of `shape` around its point, in pixel offsets: the filled shape, and for a hollow
/// one (a control arm) the outline drawn over a white fill.
fn marker(shape: Marker, radius: f64, colour: RGBColor, hollow: bool) -> MarkerElements {
    let outline = shape.outline(radius);
    if hollow {
        let mut closed = outline.clone();
        closed.push(closed[0]);
        (
            Polygon::new(outline, WHITE.filled()),
            Some(PathElement::new(closed, colour.stroke_width(2))),
        )
    } else {
        (Polygon::new(outline, colour.filled()), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_width(_: f64) -> f64 {
        0.0
    }

    #[test]
    fn ticks_are_integers_decades_or_the_measured_values_and_never_collide() {
        // Steps: integers, no "20.0".
        let t = ticks(-10.0, 210.0, false, true, 560.0, &no_width);
        assert_eq!(t, vec![0.0, 50.0, 100.0, 150.0, 200.0]);
        assert_eq!(tick_label(40.0, true), "40");
        // A loss on a log axis over two decades: the decades.
        assert_eq!(
            ticks(0.008, 3.0, true, false, 330.0, &no_width),
            vec![0.01, 0.1, 1.0]
        );
        // Within one decade: 1-2-5.
        assert_eq!(
            ticks(0.15, 2.4, true, false, 330.0, &no_width),
            vec![0.2, 0.5, 1.0, 2.0]
        );
        assert_eq!(tick_label(0.2, false), "0.2");
        assert_eq!(tick_label(0.0001, false), "1e-4");
        assert_eq!(tick_label(0.125, false), "0.125");
        // Labels 40 px wide on a 100 px axis: thinned until they clear each other.
        let t = ticks(1.0, 10.0, false, true, 100.0, &|_| 40.0);
        assert!(
            t.windows(2).all(|w| (w[1] - w[0]) / 9.0 * 100.0 >= 48.0),
            "{t:?}"
        );
    }

    #[test]
    fn twelve_series_have_twelve_styles() {
        let styles: Vec<_> = (0..12).map(style).collect();
        for (i, a) in styles.iter().enumerate() {
            for b in &styles[..i] {
                assert_ne!(a.0, b.0, "two series share a colour");
            }
        }
        assert_ne!(style(0).1, style(1).1);
        assert!(!style(5).2 && style(6).2);
    }
}
