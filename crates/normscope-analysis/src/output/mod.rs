//! Writing results: JSON, CSV, plots (SVG and PNG), tables, and sections of results rendered as
//! text, Markdown and HTML ([`Section`], [`Page`]).

pub mod contour;
mod document;
mod plot;

use std::path::{Path, PathBuf};

pub use document::{Block, ContourRow, Figure, Page, Section, Span, Text, escape, markdown_escape};
pub use plot::{Chart, Series, tick_label, ticks};
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

/// Writes `contents` to `path` through a temporary file beside it, renamed into place: a failure
/// (a full disk) is an error naming `path` and leaves neither a partial file nor the temporary
/// one, and a reader sees the old file or the new one, never part of it.
fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), OutputError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.as_deref().unwrap_or("out"),
        std::process::id()
    ));
    let result = std::fs::write(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        OutputError::Io {
            path: path.to_path_buf(),
            source,
        }
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

/// A table: a header, rows and footer rows (summaries under a line) of [`Text`] cells. It
/// prints with aligned columns (`Display`, for stdout: numbers right, words left) and renders as
/// Markdown and HTML ([`Table::markdown`], [`Table::html`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<Text>>,
    footer: Vec<Vec<Text>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: vec![],
            footer: vec![],
        }
    }

    /// A table with one row of plain cells per item.
    pub fn of<P>(
        header: &[&str],
        items: impl IntoIterator<Item = P>,
        row: impl Fn(P) -> Vec<String>,
    ) -> Table {
        Table {
            rows: items
                .into_iter()
                .map(|item| row(item).into_iter().map(Text::from).collect())
                .collect(),
            ..Table::new(header)
        }
    }

    /// Adds a row of plain cells.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(Text::from).collect());
    }

    /// Adds a row of rich cells (links, badges).
    pub fn row_text(&mut self, cells: Vec<Text>) {
        self.rows.push(cells);
    }

    /// Adds a footer row (after the body: correlations, totals).
    pub fn footer_row(&mut self, cells: Vec<Text>) {
        self.footer.push(cells);
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The body's cells as plain text, for CSV.
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| r.iter().map(Text::plain_text).collect())
            .collect()
    }

    /// The header, for CSV.
    pub fn header(&self) -> Vec<&str> {
        self.header.iter().map(|s| s.as_str()).collect()
    }

    /// As Markdown (`|` inside a cell escaped); footer rows follow the body with their first
    /// cell in italics.
    pub fn markdown(&self) -> String {
        let line = |cells: &[Text], footer: bool| {
            let cells: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, t)| match t.markdown() {
                    text if footer && i == 0 && !text.is_empty() => format!("*{text}*"),
                    text => text,
                })
                .collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let header: Vec<Text> = self.header.iter().map(|h| Text::from(h.as_str())).collect();
        let mut md = line(&header, false);
        md.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            md.push_str(&line(row, false));
        }
        for row in &self.footer {
            md.push_str(&line(row, true));
        }
        md.push('\n');
        md
    }

    /// As HTML (`<thead>`, `<tbody>`, and `<tfoot>` with the first cell of a footer row a
    /// header cell).
    pub fn html(&self) -> String {
        let row = |cells: &[Text], first: &str| -> String {
            let cells: String = cells
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let tag = if i == 0 { first } else { "td" };
                    format!("<{tag}>{}</{tag}>", cell.html())
                })
                .collect();
            format!("<tr>{cells}</tr>")
        };
        let header: Vec<Text> = self.header.iter().map(|h| Text::from(h.as_str())).collect();
        let body: String = self.rows.iter().map(|r| row(r, "td")).collect();
        let mut html = format!(
            "<table><thead>{}</thead><tbody>{body}</tbody>",
            row(&header, "th")
                .replace("<td>", "<th>")
                .replace("</td>", "</th>")
        );
        if !self.footer.is_empty() {
            let footer: String = self.footer.iter().map(|r| row(r, "th")).collect();
            html.push_str(&format!("<tfoot>{footer}</tfoot>"));
        }
        html.push_str("</table>");
        html
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let columns = self.header.len();
        let body: Vec<Vec<String>> = self.rows();
        let footer: Vec<Vec<String>> = self
            .footer
            .iter()
            .map(|r| r.iter().map(Text::plain_text).collect())
            .collect();
        let width = |c: usize| {
            body.iter()
                .chain(&footer)
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
                body.iter()
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
        let rule: String = widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ");
        writeln!(f, "{}", line(&self.header).trim_end())?;
        writeln!(f, "{rule}")?;
        for row in &body {
            writeln!(f, "{}", line(row).trim_end())?;
        }
        if !footer.is_empty() {
            writeln!(f, "{rule}")?;
            for row in &footer {
                writeln!(f, "{}", line(row).trim_end())?;
            }
        }
        Ok(())
    }
}
