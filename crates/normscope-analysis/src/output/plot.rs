//! Line charts as SVG (for the report page) and PNG (beside it), with plotters and the DejaVu Sans
//! font shipped in `assets/` (no system fontconfig needed).

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
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

/// One line, optionally with a shaded band (spread over seeds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points in order of x.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)` around the line.
    pub band: Vec<(f64, f64, f64)>,
    /// Points only, no line (a scatter plot).
    #[serde(default)]
    pub scatter: bool,
}

impl Series {
    /// A line without a band.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            band: vec![],
            scatter: false,
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
}

const SIZE: (u32, u32) = (720, 440);

/// Matplotlib's "tab10" colours: distinct and readable on white.
const TAB10: [(u8, u8, u8); 10] = [
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
];

fn colour(i: usize) -> RGBAColor {
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b).to_rgba()
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

    /// Adds a series.
    pub fn push(&mut self, series: Series) {
        self.series.push(series);
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let finite = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .filter(|&v| finite(v, self.log_x));
        let ys = self.series.iter().flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
        });
        let ys = ys.filter(|&v| finite(v, self.log_y));
        let span = |it: &mut dyn Iterator<Item = f64>, log: bool| {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for v in it {
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if !lo.is_finite() {
                return if log { (0.1, 10.0) } else { (0.0, 1.0) };
            }
            if log {
                (lo / 1.2, hi * 1.2)
            } else if hi - lo < 1e-12 {
                (lo - 0.5, hi + 0.5)
            } else {
                let pad = (hi - lo) * 0.05;
                (lo - pad, hi + pad)
            }
        };
        (
            span(&mut xs.into_iter(), self.log_x),
            span(&mut ys.into_iter(), self.log_y),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), OutputError> {
        register_font();
        let plot_error = |e: &dyn std::fmt::Display| OutputError::Plot(e.to_string());
        root.fill(&WHITE).map_err(|e| plot_error(&e))?;
        let ((x0, x1), (y0, y1)) = self.ranges();
        // The legend stands in its own strip right of the plot, so it never hides a point.
        let legend = self.series.len() > 1;
        let legend_width = if legend {
            self.series
                .iter()
                .map(|s| s.name.chars().count())
                .max()
                .unwrap_or(0) as u32
                * 7
                + 40
        } else {
            0
        };
        let (plot_area, legend_area) =
            root.split_horizontally(root.dim_in_pixel().0 - legend_width);
        if legend {
            for (i, s) in self.series.iter().enumerate() {
                let y = 48 + 18 * i as i32;
                let color = colour(i);
                if s.scatter {
                    legend_area
                        .draw(&Circle::new((12, y), 5, color.filled()))
                        .map_err(|e| plot_error(&e))?;
                } else {
                    legend_area
                        .draw(&PathElement::new(
                            vec![(4, y), (20, y)],
                            color.stroke_width(2),
                        ))
                        .map_err(|e| plot_error(&e))?;
                }
                legend_area
                    .draw(&Text::new(s.name.clone(), (26, y - 7), ("sans-serif", 12)))
                    .map_err(|e| plot_error(&e))?;
            }
        }
        let mut builder = ChartBuilder::on(&plot_area);
        builder
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64);
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    .label_style(("sans-serif", 12))
                    .draw()
                    .map_err(|e| plot_error(&e))?;
                for (i, s) in self.series.iter().enumerate() {
                    let color = colour(i);
                    if !s.band.is_empty() {
                        let mut outline: Vec<(f64, f64)> =
                            s.band.iter().map(|b| (b.0, b.2)).collect();
                        outline.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
                        chart
                            .draw_series(std::iter::once(Polygon::new(
                                outline,
                                color.mix(0.2).filled(),
                            )))
                            .map_err(|e| plot_error(&e))?;
                    }
                    let points: Vec<(f64, f64)> = s
                        .points
                        .iter()
                        .copied()
                        .filter(|p| {
                            p.0.is_finite() && p.1.is_finite() && (!self.log_y || p.1 > 0.0)
                        })
                        .collect();
                    if !s.scatter {
                        chart
                            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                            .map_err(|e| plot_error(&e))?;
                    }
                    let radius = if s.scatter { 5 } else { 2 };
                    chart
                        .draw_series(
                            points
                                .into_iter()
                                .map(|p| Circle::new(p, radius, color.filled())),
                        )
                        .map_err(|e| plot_error(&e))?;
                }
            }};
        }
        match (self.log_x, self.log_y) {
            (false, false) => body!(
                builder
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(|e| plot_error(&e))?
            ),
            (false, true) => body!(
                builder
                    .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                    .map_err(|e| plot_error(&e))?
            ),
            (true, false) => body!(
                builder
                    .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                    .map_err(|e| plot_error(&e))?
            ),
            (true, true) => body!(
                builder
                    .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
                    .map_err(|e| plot_error(&e))?
            ),
        }
        root.present().map_err(|e| plot_error(&e))?;
        Ok(())
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> Result<String, OutputError> {
        let mut svg = String::new();
        self.draw(SVGBackend::with_string(&mut svg, SIZE).into_drawing_area())?;
        Ok(svg)
    }

    /// Writes `<stem>.svg` and `<stem>.png` into `dir`; returns their paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), OutputError> {
        let svg_path = dir.join(format!("{stem}.svg"));
        let png_path = dir.join(format!("{stem}.png"));
        std::fs::write(&svg_path, self.svg()?).map_err(|source| OutputError::Io {
            path: svg_path.clone(),
            source,
        })?;
        self.draw(BitMapBackend::new(&png_path, SIZE).into_drawing_area())?;
        Ok((svg_path, png_path))
    }
}
