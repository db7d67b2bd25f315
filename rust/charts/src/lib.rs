//! The chart primitives every sfcrime report draws with (the sweep's
//! `report.md`, each run's `report.html`): the font, drawing a [`Chart`] to
//! SVG and PNG files or to an SVG string for inlining, the colours, and
//! [`BatchChart`], a run batch by batch in panels of lines or stacked bars.
//!
//! Text is laid out with ab_glyph from a TrueType file read at run time
//! (DejaVu Sans from Debian's fonts-dejavu-core by default, or
//! `SFCRIME_FONT`), not through fontconfig: the machine may have no font
//! configuration, and a chart whose labels silently vanish is worse than
//! an error saying which font to install.

use anyhow::{anyhow, bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The drawing library, for charts defined in other crates (one version,
/// one set of features).
pub use plotters;

/// The family every chart's text uses; registered by [`ensure_font`].
const FONT: &str = "sans-serif";
/// Where Debian's fonts-dejavu-core puts its sans-serif face.
pub const DEFAULT_FONT_FILE: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// Overrides [`DEFAULT_FONT_FILE`].
pub const FONT_ENV: &str = "SFCRIME_FONT";

pub const BAR: RGBColor = RGBColor(66, 133, 244);
pub const GOOD: RGBColor = RGBColor(52, 168, 83);
pub const BAD: RGBColor = RGBColor(219, 68, 55);
pub const HIGHLIGHT: RGBColor = RGBColor(251, 188, 5);

/// Series colours in order: the first two are input (red) against
/// processed (blue), as the sweep's batch chart always drew them.
pub const PALETTE: [RGBColor; 8] = [
    BAD,
    BAR,
    GOOD,
    HIGHLIGHT,
    RGBColor(142, 68, 173),
    RGBColor(0, 150, 136),
    RGBColor(230, 126, 34),
    RGBColor(120, 120, 120),
];

/// Registers the chart font once per process.
pub fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let path = std::env::var_os(FONT_ENV)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_FONT_FILE));
            let bytes = std::fs::read(&path).map_err(|e| {
                format!(
                    "cannot read the chart font {} ({e}): install fonts-dejavu-core \
                     (apt-get install fonts-dejavu-core) or point {FONT_ENV} at a .ttf file",
                    path.display()
                )
            })?;
            // plotters keeps fonts for the whole process and wants them
            // 'static; this runs once, so leaking one file is the price.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FONT, FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a TrueType font", path.display()))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// A chart that can draw itself on any backend.
pub trait Chart {
    /// Pixel size (also the SVG's size).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// Writes `<dir>/<name>.svg` and `<dir>/<name>.png`.
pub fn save(chart: &impl Chart, dir: &Path, name: &str) -> Result<()> {
    ensure_font()?;
    let size = chart.size();
    let svg = dir.join(format!("{name}.svg"));
    let png = dir.join(format!("{name}.png"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(plot_error)?;
    }
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(plot_error)?;
    }
    if !png.is_file() || !svg.is_file() {
        bail!("chart {name} was not written to {}", dir.display());
    }
    Ok(())
}

/// The chart as an SVG document to inline in HTML: it keeps its pixel size
/// as a `viewBox`, so a page can scale it to its width.
pub fn svg_string(chart: &impl Chart) -> Result<String> {
    ensure_font()?;
    let (width, height) = chart.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(plot_error)?;
    }
    // plotters writes the pixel size and a viewBox of the same size: the
    // size goes, so that the viewBox scales the chart to the page.
    let sized = format!(r#"<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}""#);
    if !svg.contains(&sized) {
        bail!("plotters wrote an unexpected SVG header: {svg:.120}");
    }
    Ok(svg.replacen(
        &sized,
        &format!(r#"<svg width="100%" viewBox="0 0 {width} {height}""#),
        1,
    ))
}

pub fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a chart: {e}")
}

/// Chart text of `size` pixels.
pub fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// How a [`Panel`] draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelKind {
    /// Each series a line with a dot per batch.
    Lines,
    /// One bar per batch, the series stacked bottom up in order.
    StackedBars,
}

/// One named value per batch; batches without a value are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// (batch id, value), in batch order.
    pub points: Vec<(i64, f64)>,
}

/// One plot of a [`BatchChart`]: series over the batch ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub y_label: String,
    pub kind: PanelKind,
    pub series: Vec<Series>,
}

/// A run batch by batch: a title over panels stacked vertically, each
/// with the batch ids along its x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchChart {
    pub title: String,
    pub panels: Vec<Panel>,
}

const PANEL_HEIGHT: u32 = 380;
/// Most labelled ticks on a batch axis (a full run can have hundreds).
const MAX_BATCH_TICKS: usize = 25;

impl Chart for BatchChart {
    fn size(&self) -> (u32, u32) {
        (1200, 40 + PANEL_HEIGHT * self.panels.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_error)?;
        let root = root.titled(&self.title, text(22)).map_err(plot_error)?;
        let batches = self
            .panels
            .iter()
            .flat_map(|p| &p.series)
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let first = batches.clone().min().unwrap_or(0) as f64;
        let last = batches.max().unwrap_or(0) as f64;
        let areas = root.split_evenly((self.panels.len().max(1), 1));
        for (panel, area) in self.panels.iter().zip(&areas) {
            panel.draw(area, (first - 0.5)..(last + 0.5))?;
        }
        Ok(())
    }
}

impl Panel {
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        x_range: std::ops::Range<f64>,
    ) -> Result<()> {
        let stacked = self.kind == PanelKind::StackedBars;
        let tops = self.stack_tops();
        let y_max = if stacked {
            tops.iter().map(|t| t.1).fold(0.0, f64::max)
        } else {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max)
        };
        let y_max = if y_max > 0.0 { y_max * 1.15 } else { 1.0 };
        let ticks = ((x_range.end - x_range.start) as usize + 1).min(MAX_BATCH_TICKS);
        let mut chart = ChartBuilder::on(area)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(90)
            .build_cartesian_2d(x_range, 0.0..y_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("batch")
            .y_desc(self.y_label.as_str())
            .x_labels(ticks)
            // Whole batch numbers only: a tick between batches means nothing.
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(text(14))
            .axis_desc_style(text(16))
            .draw()
            .map_err(plot_error)?;
        // Where each batch's stack has reached so far.
        let mut base: Vec<(i64, f64)> = tops.iter().map(|t| (t.0, 0.0)).collect();
        for (series, color) in self.series.iter().zip(PALETTE.iter().cycle()) {
            let color = *color;
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|&(b, v)| (b as f64, v))
                .collect();
            let drawn = if stacked {
                let bars: Vec<Rectangle<(f64, f64)>> = points
                    .iter()
                    .map(|&(x, v)| {
                        let slot = base
                            .iter_mut()
                            .find(|b| b.0 as f64 == x)
                            .expect("every batch has a stack");
                        let bottom = slot.1;
                        slot.1 += v;
                        Rectangle::new([(x - 0.35, bottom), (x + 0.35, slot.1)], color.filled())
                    })
                    .collect();
                chart.draw_series(bars).map_err(plot_error)?
            } else {
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(plot_error)?;
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(plot_error)?
            };
            drawn.label(series.name.as_str()).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.filled())
            });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(text(14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(plot_error)?;
        Ok(())
    }

    /// Each batch's stacked total, in batch order.
    fn stack_tops(&self) -> Vec<(i64, f64)> {
        let mut tops = std::collections::BTreeMap::new();
        for &(batch, value) in self.series.iter().flat_map(|s| &s.points) {
            if value.is_finite() {
                *tops.entry(batch).or_insert(0.0) += value;
            }
        }
        tops.into_iter().collect()
    }
}

/// Checks that a written chart is what it claims: a PNG signature and
/// size, or an SVG holding the given labels. For the tests and for the
/// report's own sanity check after writing.
pub fn check_chart(path: &Path, labels: &[&str]) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => {
            if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.len() < 5_000 {
                bail!("{} is not a plausible PNG chart", path.display());
            }
        }
        Some("svg") => {
            let svg = String::from_utf8_lossy(&bytes);
            if !svg.contains("<svg") {
                bail!("{} is not an SVG", path.display());
            }
            if let Some(missing) = labels.iter().find(|l| !svg.contains(&xml_escape(l))) {
                bail!("{} lacks the label {missing:?}", path.display());
            }
        }
        _ => bail!("{}: not a chart file", path.display()),
    }
    Ok(())
}

/// `s` with the characters that XML and HTML give meaning escaped.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: PanelKind) -> BatchChart {
        BatchChart {
            title: "Batches".into(),
            panels: vec![Panel {
                y_label: "batch duration (ms)".into(),
                kind,
                series: vec![
                    Series {
                        name: "addBatch".into(),
                        points: (0..4).map(|b| (b, 500.0 + b as f64)).collect(),
                    },
                    Series {
                        name: "walCommit".into(),
                        points: vec![(1, 20.0), (3, f64::NAN)],
                    },
                ],
            }],
        }
    }

    #[test]
    fn batch_charts_render_to_files_and_to_inline_svg() {
        if ensure_font().is_err() {
            panic!("the chart font is missing: install fonts-dejavu-core (see scripts/setup.sh)");
        }
        let dir = tempfile::tempdir().unwrap();
        save(&chart(PanelKind::Lines), dir.path(), "lines").unwrap();
        check_chart(
            &dir.path().join("lines.svg"),
            &["Batches", "addBatch", "walCommit", "batch duration (ms)"],
        )
        .unwrap();
        check_chart(&dir.path().join("lines.png"), &[]).unwrap();
        assert!(check_chart(&dir.path().join("lines.svg"), &["not there"]).is_err());

        let stacked = chart(PanelKind::StackedBars);
        assert_eq!(stacked.panels[0].stack_tops()[1], (1, 521.0));
        let svg = svg_string(&stacked).unwrap();
        assert!(
            svg.starts_with(r#"<svg width="100%" viewBox="0 0 1200 420" xmlns"#),
            "{svg:.200}"
        );
        assert!(svg.contains("walCommit") && svg.trim_end().ends_with("</svg>"));
    }
}
