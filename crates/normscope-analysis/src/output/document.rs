//! Sections of results — paragraphs, tables, figures — and the one renderer that turns them into
//! plain text (what an example prints), Markdown (`report.md`) and a self-contained HTML page
//! (`index.html`: styles inline, every figure an SVG embedded as a data URI, PNG and SVG beside
//! it). Every experiment's results and every section of the `why_batchnorm` report are built
//! from these types, so a table or a figure is written once and shows the same everywhere.

use std::fmt::Write as _;
use std::path::Path;

use super::contour::Contour;
use super::{Chart, OutputError, Table};

/// A piece of inline text.
#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    /// Plain text.
    Plain(String),
    /// Bold.
    Strong(String),
    /// Italic.
    Emphasis(String),
    /// Code (`--resume`).
    Code(String),
    /// A link.
    Link {
        /// The text shown.
        text: String,
        /// Where it goes (`#section`, `results.json`).
        href: String,
    },
    /// A coloured label (a verdict): bold in Markdown, a pill in HTML.
    Badge {
        /// The label.
        text: String,
        /// CSS colour of the pill.
        colour: &'static str,
    },
}

/// A run of [`Span`]s: one paragraph, or one table cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Text(pub Vec<Span>);

impl Text {
    /// Empty text, to build on.
    pub fn new() -> Text {
        Text(vec![])
    }

    /// Appends plain text.
    pub fn plain(mut self, text: impl Into<String>) -> Text {
        self.0.push(Span::Plain(text.into()));
        self
    }

    /// Appends bold text.
    pub fn strong(mut self, text: impl Into<String>) -> Text {
        self.0.push(Span::Strong(text.into()));
        self
    }

    /// Appends italic text.
    pub fn emphasis(mut self, text: impl Into<String>) -> Text {
        self.0.push(Span::Emphasis(text.into()));
        self
    }

    /// Appends code.
    pub fn code(mut self, text: impl Into<String>) -> Text {
        self.0.push(Span::Code(text.into()));
        self
    }

    /// Appends a link.
    pub fn link(mut self, text: impl Into<String>, href: impl Into<String>) -> Text {
        self.0.push(Span::Link {
            text: text.into(),
            href: href.into(),
        });
        self
    }

    /// Appends a coloured label.
    pub fn badge(mut self, text: impl Into<String>, colour: &'static str) -> Text {
        self.0.push(Span::Badge {
            text: text.into(),
            colour,
        });
        self
    }

    /// Appends another text.
    pub fn then(mut self, other: Text) -> Text {
        self.0.extend(other.0);
        self
    }

    /// The words alone, without markup (stdout, CSV).
    pub fn plain_text(&self) -> String {
        self.0
            .iter()
            .map(|span| match span {
                Span::Plain(t) | Span::Strong(t) | Span::Emphasis(t) | Span::Code(t) => t.as_str(),
                Span::Link { text, .. } | Span::Badge { text, .. } => text.as_str(),
            })
            .collect()
    }

    /// As Markdown, every text escaped: a label can carry no markup (a heading, a link, an
    /// emphasis, a table cell's end) into `report.md`.
    pub fn markdown(&self) -> String {
        self.0
            .iter()
            .map(|span| match span {
                Span::Plain(t) => markdown_escape(t),
                Span::Strong(t) | Span::Badge { text: t, .. } => {
                    format!("**{}**", markdown_escape(t))
                }
                Span::Emphasis(t) => format!("*{}*", markdown_escape(t)),
                Span::Code(t) => {
                    let fence = "`".repeat(longest_run(t, '`') + 1);
                    format!("{fence}{}{fence}", t.replace('\n', " "))
                }
                Span::Link { text, href } => format!(
                    "[{}](<{}>)",
                    markdown_escape(text),
                    href.replace(['<', '>', '\n'], "")
                ),
            })
            .collect()
    }

    /// As HTML (escaped).
    pub fn html(&self) -> String {
        self.0
            .iter()
            .map(|span| match span {
                Span::Plain(t) => escape(t),
                Span::Strong(t) => format!("<b>{}</b>", escape(t)),
                Span::Emphasis(t) => format!("<i>{}</i>", escape(t)),
                Span::Code(t) => format!("<code>{}</code>", escape(t)),
                Span::Link { text, href } => {
                    format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
                }
                Span::Badge { text, colour } => format!(
                    "<span class=\"badge\" style=\"background:{colour}\">{}</span>",
                    escape(text)
                ),
            })
            .collect()
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(vec![Span::Plain(text)])
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Text {
        Text(vec![Span::Plain(text.to_string())])
    }
}

/// A plot with its id (file stem, HTML id `plot-<id>`) and caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// File stem and HTML id.
    pub id: String,
    /// Caption.
    pub caption: String,
    /// The chart.
    pub chart: Chart,
}

impl Figure {
    /// A figure.
    pub fn new(id: impl Into<String>, caption: impl Into<String>, chart: Chart) -> Figure {
        Figure {
            id: id.into(),
            caption: caption.into(),
            chart,
        }
    }
}

/// Contour plots side by side (each a file pair `<id>.svg`, `<id>.png`), read together on one
/// colour scale ([`super::contour::shared_range`]), under one caption.
#[derive(Debug, Clone, PartialEq)]
pub struct ContourRow {
    /// Caption under the row.
    pub caption: String,
    /// `(file stem and HTML id, plot)`, left to right.
    pub plots: Vec<(String, Contour)>,
}

/// One block of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph, with an optional CSS class in HTML (`what`, `verdict`, ...).
    Paragraph {
        /// The class.
        class: Option<&'static str>,
        /// The text.
        text: Text,
    },
    /// A table.
    Table(Table),
    /// A figure.
    Figure(Figure),
    /// Contour plots side by side.
    Contours(ContourRow),
    /// Preformatted text (a configuration).
    Preformatted(String),
}

/// A titled part of a page: an experiment's results, or one section of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// HTML id (and the anchor other sections link to).
    pub id: String,
    /// Heading.
    pub title: String,
    /// Heading level: 2 for a section, 3 for a subsection.
    pub level: u8,
    /// The content, in order.
    pub blocks: Vec<Block>,
}

impl Section {
    /// An empty section (heading level 2).
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Section {
        Section {
            id: id.into(),
            title: title.into(),
            level: 2,
            blocks: vec![],
        }
    }

    /// This section one level down (a subsection under the one before it).
    pub fn nested(mut self) -> Section {
        self.level = 3;
        self
    }

    /// Appends a paragraph.
    pub fn paragraph(self, text: impl Into<Text>) -> Section {
        self.block(Block::Paragraph {
            class: None,
            text: text.into(),
        })
    }

    /// Appends a paragraph with an HTML class.
    pub fn paragraph_class(self, class: &'static str, text: impl Into<Text>) -> Section {
        self.block(Block::Paragraph {
            class: Some(class),
            text: text.into(),
        })
    }

    /// Appends a table (nothing for a table without rows).
    pub fn table(self, table: Table) -> Section {
        if table.is_empty() {
            return self;
        }
        self.block(Block::Table(table))
    }

    /// Appends a figure.
    pub fn figure(self, figure: Figure) -> Section {
        self.block(Block::Figure(figure))
    }

    /// Appends figures.
    pub fn figures(mut self, figures: impl IntoIterator<Item = Figure>) -> Section {
        for figure in figures {
            self = self.figure(figure);
        }
        self
    }

    /// Appends contour plots side by side (nothing when `row` has none).
    pub fn contours(self, row: ContourRow) -> Section {
        if row.plots.is_empty() {
            return self;
        }
        self.block(Block::Contours(row))
    }

    /// The section's contour plots, in order.
    pub fn all_contours(&self) -> impl Iterator<Item = &(String, Contour)> {
        self.blocks.iter().flat_map(|b| match b {
            Block::Contours(row) => row.plots.as_slice(),
            _ => &[],
        })
    }

    /// Appends preformatted text.
    pub fn preformatted(self, text: impl Into<String>) -> Section {
        self.block(Block::Preformatted(text.into()))
    }

    /// Appends a block.
    pub fn block(mut self, block: Block) -> Section {
        self.blocks.push(block);
        self
    }

    /// The section's figures, in order.
    pub fn all_figures(&self) -> impl Iterator<Item = &Figure> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Figure(f) => Some(f),
            _ => None,
        })
    }

    /// For a terminal: paragraphs, tables as aligned columns, each figure as the files it is
    /// saved to (`<id>.svg`, `<id>.png` in the output directory).
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n{}\n", self.title);
        for block in &self.blocks {
            match block {
                Block::Paragraph { text, .. } => {
                    let _ = writeln!(out, "{}\n", text.plain_text());
                }
                Block::Table(table) => {
                    let _ = writeln!(out, "{table}");
                }
                Block::Figure(f) => {
                    let _ = writeln!(out, "figure {}.svg/.png: {}", f.id, f.chart.title);
                }
                Block::Contours(row) => {
                    for (id, c) in &row.plots {
                        let _ = writeln!(out, "figure {id}.svg/.png: {}", c.title);
                    }
                }
                Block::Preformatted(text) => {
                    let _ = writeln!(out, "{text}");
                }
            }
        }
        out
    }

    /// As Markdown; figures link to `<plots>/<id>.svg`.
    pub fn markdown(&self, plots: &str) -> String {
        let mut md = format!(
            "{} {}\n\n",
            "#".repeat(self.level as usize),
            markdown_escape(&self.title)
        );
        for block in &self.blocks {
            match block {
                Block::Paragraph { text, .. } => {
                    md.push_str(&text.markdown());
                    md.push_str("\n\n");
                }
                Block::Table(table) => md.push_str(&table.markdown()),
                Block::Figure(f) => {
                    md.push_str(&format!(
                        "![{}]({})\n\n",
                        markdown_escape(&f.chart.title),
                        plot_path(plots, &f.id, "svg")
                    ));
                }
                Block::Contours(row) => {
                    for (id, c) in &row.plots {
                        md.push_str(&format!(
                            "![{}]({}) ",
                            markdown_escape(&c.title),
                            plot_path(plots, id, "svg")
                        ));
                    }
                    md.push_str(&format!("\n\n{}\n\n", markdown_escape(&row.caption)));
                }
                Block::Preformatted(text) => {
                    let fence = "`".repeat(longest_run(text, '`').max(2) + 1);
                    md.push_str(&format!("{fence}\n{text}\n{fence}\n\n"));
                }
            }
        }
        md
    }

    /// As HTML; `svg(id)` gives each figure's SVG, embedded as a data URI, and the figure links
    /// to `<plots>/<id>.png` and `.svg`.
    pub fn html(&self, plots: &str, svg: &dyn Fn(&str) -> Option<String>) -> String {
        let level = self.level;
        let mut html = format!(
            "<section id=\"{}\"><h{level}>{}</h{level}>",
            escape(&self.id),
            escape(&self.title)
        );
        for block in &self.blocks {
            match block {
                Block::Paragraph { class, text } => match class {
                    Some(class) => html.push_str(&format!(
                        "<p class=\"{class}\">{}</p>",
                        text.html()
                    )),
                    None => html.push_str(&format!("<p>{}</p>", text.html())),
                },
                Block::Table(table) => html.push_str(&table.html()),
                Block::Figure(f) => html.push_str(&format!(
                    "<figure class=\"plot\" id=\"plot-{id}\"><img src=\"data:image/svg+xml;base64,{data}\" alt=\"{alt}\" width=\"{width}\" height=\"{height}\"><figcaption>{caption} <a href=\"{png}\">PNG</a> · <a href=\"{svg_path}\">SVG</a></figcaption></figure>",
                    id = escape(&f.id),
                    data = base64(svg(&f.id).unwrap_or_default().as_bytes()),
                    alt = escape(&f.chart.title),
                    width = super::plot::SIZE.0,
                    height = super::plot::SIZE.1,
                    caption = escape(&f.caption),
                    png = plot_path(plots, &f.id, "png"),
                    svg_path = plot_path(plots, &f.id, "svg"),
                )),
                Block::Contours(row) => {
                    html.push_str("<div class=\"row\">");
                    for (id, c) in &row.plots {
                        let (width, height) = super::contour::SIZE;
                        html.push_str(&format!(
                            "<figure class=\"plot\" id=\"plot-{id}\"><img src=\"data:image/svg+xml;base64,{data}\" alt=\"{alt}\" width=\"{width}\" height=\"{height}\"><figcaption><a href=\"{png}\">PNG</a> · <a href=\"{svg_path}\">SVG</a></figcaption></figure>",
                            id = escape(id),
                            data = base64(svg(id).unwrap_or_default().as_bytes()),
                            alt = escape(&c.title),
                            png = plot_path(plots, id, "png"),
                            svg_path = plot_path(plots, id, "svg"),
                        ));
                    }
                    html.push_str(&format!(
                        "</div><p class=\"row-caption\">{}</p>",
                        escape(&row.caption)
                    ));
                }
                Block::Preformatted(text) => html.push_str(&format!("<pre>{}</pre>", escape(text))),
            }
        }
        html.push_str("</section>");
        html
    }
}

fn plot_path(plots: &str, id: &str, ext: &str) -> String {
    if plots.is_empty() {
        format!("{id}.{ext}")
    } else {
        format!("{plots}/{id}.{ext}")
    }
}

/// A whole page: a title, paragraphs before the sections, the sections (with a navigation bar
/// of their short names in HTML).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// `<h1>` and `<title>`.
    pub title: String,
    /// Paragraphs under the title.
    pub intro: Vec<Block>,
    /// The sections, in order.
    pub sections: Vec<Section>,
    /// `(section id, short name)` for the navigation bar (HTML only; empty: none).
    pub nav: Vec<(String, String)>,
    /// Where the figures are saved, relative to the page (`plots`, or empty for beside it).
    pub plots: String,
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1f2328;line-height:1.5}\
h1{font-size:1.8em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3em;margin-top:2em}h3{margin-top:1.5em}\
table{border-collapse:collapse;font-size:.85em;margin:1em 0}td,th{border:1px solid #d0d7de;padding:.3em .5em;text-align:right}td:first-child,th:first-child{text-align:left}\
.badge{color:#fff;border-radius:1em;padding:.1em .7em;font-size:.85em;white-space:nowrap}.conclusion{font-size:1.05em}.bottom-line{font-size:1.15em;background:#f6f8fa;border-left:4px solid #0969da;padding:.6em 1em;margin:1em 0}\
figure{margin:1.5em 0}.row{display:flex;gap:1em}.row figure{flex:0 1 calc(50% - .5em);margin:1.5em 0 .3em}.row-caption{font-size:.85em;color:#57606a;margin-top:0}figure img{max-width:100%;height:auto;border:1px solid #d0d7de}figcaption{font-size:.85em;color:#57606a}\
pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.8em}nav a{margin-right:1em}";

impl Page {
    /// A page of these sections, figures beside it, no navigation bar.
    pub fn new(title: impl Into<String>, sections: Vec<Section>) -> Page {
        Page {
            title: title.into(),
            intro: vec![],
            sections,
            nav: vec![],
            plots: String::new(),
        }
    }

    /// Every figure of every section, in order.
    pub fn figures(&self) -> impl Iterator<Item = &Figure> {
        self.sections.iter().flat_map(|s| s.all_figures())
    }

    fn intro_html(&self) -> String {
        let section = Section {
            id: String::new(),
            title: String::new(),
            level: 2,
            blocks: self.intro.clone(),
        };
        let html = section.html(&self.plots, &|_| None);
        // The blocks without the section's own tags.
        let body = html
            .strip_prefix("<section id=\"\"><h2></h2>")
            .and_then(|b| b.strip_suffix("</section>"))
            .unwrap_or_default();
        body.to_string()
    }

    /// The page as self-contained HTML; `svg(id)` gives each figure's SVG.
    pub fn html(&self, svg: &dyn Fn(&str) -> Option<String>) -> String {
        let mut html = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
            escape(&self.title),
            escape(&self.title)
        );
        html.push_str(&self.intro_html());
        if !self.nav.is_empty() {
            html.push_str("<nav>");
            for (id, name) in &self.nav {
                html.push_str(&format!("<a href=\"#{}\">{}</a>", escape(id), escape(name)));
            }
            html.push_str("</nav>");
        }
        for section in &self.sections {
            html.push_str(&section.html(&self.plots, svg));
        }
        html.push_str("</body></html>");
        html
    }

    /// The page as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = format!("# {}\n\n", self.title);
        for block in &self.intro {
            if let Block::Paragraph { text, .. } = block {
                md.push_str(&text.markdown());
                md.push_str("\n\n");
            }
        }
        for section in &self.sections {
            md.push_str(&section.markdown(&self.plots));
        }
        md
    }

    /// Saves every figure (SVG and PNG) into `dir/<plots>/`, and writes `dir/index.html` and
    /// `dir/report.md`.
    pub fn write(&self, dir: &Path) -> Result<(), OutputError> {
        let plots = dir.join(&self.plots);
        std::fs::create_dir_all(&plots).map_err(|source| OutputError::Io {
            path: plots.clone(),
            source,
        })?;
        let mut svgs = std::collections::HashMap::new();
        for figure in self.figures() {
            figure.chart.save(&plots, &figure.id)?;
            svgs.insert(figure.id.clone(), figure.chart.svg()?);
        }
        for (id, contour) in self.sections.iter().flat_map(|s| s.all_contours()) {
            contour.save(&plots, id)?;
            svgs.insert(id.clone(), contour.svg()?);
        }
        super::write(
            &dir.join("index.html"),
            self.html(&|id| svgs.get(id).cloned()),
        )?;
        super::write(&dir.join("report.md"), self.markdown())
    }
}

/// `text` with every character that Markdown could read as markup backslash-escaped, and line
/// breaks as spaces.
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The longest run of `c` in `text`.
fn longest_run(text: &str, c: char) -> usize {
    text.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// `text` with `& < > "` escaped for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn one_section_renders_the_same_content_three_ways() {
        let mut table = Table::new(&["normalizer", "loss"]);
        table.row(vec!["BatchNorm".into(), "0.44".into()]);
        table.row_text(vec![
            Text::new().badge("none", "#cf222e"),
            "2.08 | 3".into(),
        ]);
        let section = Section::new("speed", "Training speed")
            .paragraph(Text::new().plain("Target ").strong("1.0").plain(" <loss>"))
            .table(table);
        let text = section.text();
        assert!(text.contains("Training speed") && text.contains("Target 1.0 <loss>"));
        assert!(text.contains("BatchNorm") && text.contains("2.08 | 3"));
        let md = section.markdown("plots");
        assert!(md.starts_with("## Training speed\n"));
        assert!(md.contains("Target **1.0** \\<loss\\>"), "{md}");
        assert!(md.contains("| normalizer | loss |\n|---|---|\n| BatchNorm | 0.44 |\n"));
        assert!(md.contains("| **none** | 2.08 \\| 3 |"), "{md}");
        // A label carries no markup into the Markdown: no heading, link, emphasis or cell end.
        let hostile =
            Section::new("x", "# T").paragraph(Text::new().plain("[a](http://x) *b* _c_\n# d"));
        let hostile = hostile.markdown("plots");
        assert_eq!(
            hostile,
            "## \\# T\n\n\\[a\\](http://x) \\*b\\* \\_c\\_ \\# d\n\n"
        );
        let html = section.html("plots", &|_| None);
        assert!(html.starts_with("<section id=\"speed\"><h2>Training speed</h2>"));
        assert!(html.contains("<p>Target <b>1.0</b> &lt;loss&gt;</p>"));
        assert!(html.contains("<span class=\"badge\" style=\"background:#cf222e\">none</span>"));
        assert!(
            section
                .nested()
                .markdown("")
                .starts_with("### Training speed")
        );
    }
}
