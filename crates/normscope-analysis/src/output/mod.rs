//! Writing results: JSON, CSV, plots (SVG and PNG) and plain-text tables.

mod plot;

use std::path::{Path, PathBuf};

pub use plot::{Chart, Series};
use serde::Serialize;

/// Something could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A value could not be serialized.
    #[error("cannot serialize {what}: {message}")]
    Serialize {
        /// What.
        what: String,
        /// Why.
        message: String,
    },
    /// plotters failed.
    #[error("cannot draw the plot: {0}")]
    Plot(String),
}

fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), OutputError> {
    std::fs::write(path, contents).map_err(|source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), OutputError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| OutputError::Serialize {
        what: path.display().to_string(),
        message: e.to_string(),
    })?;
    write(path, text)
}

/// Writes a CSV file with the given header and rows (fields are quoted when they need to be).
pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<(), OutputError> {
    let quote = |f: &str| {
        if f.contains([',', '"', '\n']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.to_string()
        }
    };
    let mut text = header
        .iter()
        .map(|h| quote(h))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for row in rows {
        text.push_str(&row.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","));
        text.push('\n');
    }
    write(path, text)
}

/// A plain-text table with right-aligned columns, for stdout.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: vec![],
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The rows, for CSV.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// The header, for CSV.
    pub fn header(&self) -> Vec<&str> {
        self.header.iter().map(|s| s.as_str()).collect()
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let columns = self.header.len();
        let width = |c: usize| {
            self.rows
                .iter()
                .filter_map(|r| r.get(c))
                .chain(std::iter::once(&self.header[c]))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns).map(width).collect();
        // Numbers align right, words (labels, verdicts) left.
        let numeric = |s: &str| {
            let head = s.split([' ', '±']).next().unwrap_or("");
            s == "—"
                || head
                    .trim_end_matches(['×', '%', 's'])
                    .parse::<f64>()
                    .is_ok()
        };
        let left: Vec<bool> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .any(|cell| !numeric(cell))
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(widths.iter().zip(&left))
                .map(|(c, (w, &left))| {
                    if left {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        writeln!(f, "{}", line(&self.header).trim_end())?;
        writeln!(
            f,
            "{}",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("  ")
        )?;
        for row in &self.rows {
            writeln!(f, "{}", line(row).trim_end())?;
        }
        Ok(())
    }
}
