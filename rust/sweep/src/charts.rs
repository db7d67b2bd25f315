//! The report's charts, each drawn once per backend: SVG for the Markdown
//! (crisp at any size) and PNG for viewers that do not show SVG.
//!
//! Text is laid out with ab_glyph from a TrueType file read at run time
//! (DejaVu Sans from Debian's fonts-dejavu-core by default, or
//! `SFCRIME_FONT`), not through fontconfig: the machine may have no font
//! configuration, and a chart whose labels silently vanish is worse than
//! an error saying which font to install.

use anyhow::{anyhow, bail, Context, Result};
use plotters::coord::ranged1d::AsRangedCoord;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The family every chart's text uses; registered by [`ensure_font`].
const FONT: &str = "sans-serif";
/// Where Debian's fonts-dejavu-core puts its sans-serif face.
pub const DEFAULT_FONT_FILE: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// Overrides [`DEFAULT_FONT_FILE`].
pub const FONT_ENV: &str = "SFCRIME_FONT";

const BAR: RGBColor = RGBColor(66, 133, 244);
const GOOD: RGBColor = RGBColor(52, 168, 83);
const BAD: RGBColor = RGBColor(219, 68, 55);
const HIGHLIGHT: RGBColor = RGBColor(251, 188, 5);
const INPUT: RGBColor = RGBColor(219, 68, 55);

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

fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a chart: {e}")
}

fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// One row of a [`DotChart`]: a label and one value per repeat.
#[derive(Debug, Clone)]
pub struct DotRow {
    pub label: String,
    pub values: Vec<f64>,
    /// Drawn in the highlight colour (the baseline, the best point).
    pub highlight: bool,
}

/// Horizontal bars at the median of each row, with every repeat as a dot,
/// so the spread over repeats is visible next to the median.
pub struct DotChart {
    pub title: String,
    pub x_label: String,
    pub rows: Vec<DotRow>,
    /// Decimals of the median printed at the end of each bar.
    pub decimals: usize,
}

const ROW_HEIGHT: u32 = 34;
const LABEL_WIDTH: u32 = 470;

impl Chart for DotChart {
    fn size(&self) -> (u32, u32) {
        (1200, 130 + ROW_HEIGHT * self.rows.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_error)?;
        let n = self.rows.len().max(1);
        let max = self
            .rows
            .iter()
            .flat_map(|r| r.values.iter().copied())
            .fold(0.0_f64, f64::max);
        let x_max = if max > 0.0 { max * 1.15 } else { 1.0 };
        let mut chart = row_chart(root, &self.title, 0.0..x_max, n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(self.x_label.as_str())
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style(text(14))
            .axis_desc_style(text(16))
            .draw()
            .map_err(plot_error)?;
        for (i, row) in self.rows.iter().enumerate() {
            let label = RowLabel {
                text: &row.label,
                y: top_down(i, n),
                x: 0.0,
            };
            match sfcrime_stats::Spread::of(row.values.iter().copied()) {
                None => label.draw(root, &chart)?,
                Some(spread) => draw_row(
                    root,
                    &mut chart,
                    label,
                    (0.0, spread.median),
                    if row.highlight { HIGHLIGHT } else { BAR }.mix(0.45),
                    &row.values,
                    format!("{:.prec$}", spread.median, prec = self.decimals),
                )?,
            }
        }
        Ok(())
    }
}

/// A chart of labelled rows (the first at the top) over an x axis, with
/// room on the left for the labels, which the rows draw themselves.
fn row_chart<'a, DB: DrawingBackend, X: AsRangedCoord<Value = f64>>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: X,
    rows: usize,
) -> Result<ChartContext<'a, DB, Cartesian2d<X::CoordDescType, RangedCoordf64>>> {
    ChartBuilder::on(root)
        .caption(title, text(22))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(LABEL_WIDTH)
        .build_cartesian_2d(x, -0.5..(rows as f64 - 0.5))
        .map_err(plot_error)
}

/// The y of row `i` of `n`, counting from the top.
fn top_down(i: usize, n: usize) -> f64 {
    (n - 1 - i) as f64
}

/// A row's label, right-aligned just left of `x` on the row's line.
struct RowLabel<'a> {
    text: &'a str,
    y: f64,
    x: f64,
}

impl RowLabel<'_> {
    fn draw<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
        &self,
        root: &DrawingArea<DB, Shift>,
        chart: &ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    ) -> Result<()> {
        let at = chart.backend_coord(&(self.x, self.y));
        root.draw(&Text::new(
            self.text.to_string(),
            (at.0 - 8, at.1),
            text(14).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(plot_error)
    }
}

/// One row: its label, a bar over `bar`, a dot per repeat in `dots`, and
/// `value` printed right of whichever reaches furthest.
fn draw_row<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
    root: &DrawingArea<DB, Shift>,
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    label: RowLabel<'_>,
    bar: (f64, f64),
    color: RGBAColor,
    dots: &[f64],
    value: String,
) -> Result<()> {
    label.draw(root, chart)?;
    let y = label.y;
    chart
        .draw_series([Rectangle::new(
            [(bar.0, y - 0.32), (bar.1, y + 0.32)],
            color.filled(),
        )])
        .map_err(plot_error)?;
    chart
        .draw_series(dots.iter().map(|&v| Circle::new((v, y), 4, BLACK.filled())))
        .map_err(plot_error)?;
    let end = chart.backend_coord(&(dots.iter().copied().fold(bar.1, f64::max), y));
    root.draw(&Text::new(
        value,
        (end.0 + 10, end.1),
        text(13).pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(plot_error)
}

/// One factor level's effect for an [`EffectChart`].
#[derive(Debug, Clone)]
pub struct EffectRow {
    pub label: String,
    /// Median throughput over the center's median.
    pub ratio: f64,
    /// Each repeat's throughput over the center's median.
    pub repeats: Vec<f64>,
}

/// Throughput ratios against each factor's center, on a log axis around 1
/// so that 2x faster and 2x slower look the same size.
pub struct EffectChart {
    pub title: String,
    pub rows: Vec<EffectRow>,
}

impl Chart for EffectChart {
    fn size(&self) -> (u32, u32) {
        (1200, 130 + ROW_HEIGHT * self.rows.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_error)?;
        let n = self.rows.len().max(1);
        let spread = self
            .rows
            .iter()
            .flat_map(|r| r.repeats.iter().copied().chain([r.ratio]))
            .filter(|v| *v > 0.0)
            .map(|v| v.ln().abs())
            .fold(0.0_f64, f64::max)
            .max(2.0_f64.ln());
        let (lo, hi) = ((-spread * 1.15).exp(), (spread * 1.15).exp());
        let mut chart = row_chart(root, &self.title, (lo..hi).log_scale(), n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("throughput relative to the factor's center (log scale; >1 is faster)")
            .x_label_formatter(&|v| format!("{v:.2}x"))
            .label_style(text(14))
            .axis_desc_style(text(16))
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series([PathElement::new(
                vec![(1.0, -0.5), (1.0, n as f64 - 0.5)],
                BLACK.stroke_width(2),
            )])
            .map_err(plot_error)?;
        for (i, row) in self.rows.iter().enumerate() {
            let faster = row.ratio >= 1.0;
            draw_row(
                root,
                &mut chart,
                RowLabel {
                    text: &row.label,
                    y: top_down(i, n),
                    x: lo,
                },
                if faster {
                    (1.0, row.ratio)
                } else {
                    (row.ratio, 1.0)
                },
                if faster { GOOD } else { BAD }.mix(0.5),
                &row.repeats,
                format!("{:.2}x", row.ratio),
            )?;
        }
        Ok(())
    }
}

/// One batch of a run, for [`BatchChart`].
#[derive(Debug, Clone, Copy)]
pub struct BatchPoint {
    pub batch: i64,
    pub input_rows_per_s: f64,
    pub processed_rows_per_s: f64,
    pub duration_ms: f64,
}

/// One run batch by batch: how fast rows arrived against how fast they
/// were processed (processed below input means the query falls behind),
/// and how long each batch took.
pub struct BatchChart {
    pub title: String,
    pub batches: Vec<BatchPoint>,
}

impl Chart for BatchChart {
    fn size(&self) -> (u32, u32) {
        (1200, 800)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_error)?;
        let root = root.titled(&self.title, text(22)).map_err(plot_error)?;
        let (top, bottom) = root.split_vertically(400);
        let first = self.batches.first().map_or(0, |b| b.batch) as f64;
        let last = self.batches.last().map_or(1, |b| b.batch) as f64;
        let x_range = (first - 0.5)..(last + 0.5);
        // One tick per batch, labelled only at whole batch numbers.
        let ticks = (last - first) as usize + 2;
        let batch_label = |v: &f64| {
            if (v - v.round()).abs() < 1e-6 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        };
        let rate_max = self
            .batches
            .iter()
            .flat_map(|b| [b.input_rows_per_s, b.processed_rows_per_s])
            .filter(|v| v.is_finite())
            .fold(1.0_f64, f64::max)
            * 1.15;
        let mut rates = ChartBuilder::on(&top)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(90)
            .build_cartesian_2d(x_range.clone(), 0.0..rate_max)
            .map_err(plot_error)?;
        rates
            .configure_mesh()
            .x_desc("batch")
            .y_desc("rows/s")
            .x_labels(ticks)
            .x_label_formatter(&batch_label)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(text(14))
            .axis_desc_style(text(16))
            .draw()
            .map_err(plot_error)?;
        for (name, color, value) in [
            (
                "input rows/s",
                INPUT,
                (|b: &BatchPoint| b.input_rows_per_s) as fn(&BatchPoint) -> f64,
            ),
            ("processed rows/s", BAR, |b: &BatchPoint| {
                b.processed_rows_per_s
            }),
        ] {
            let points: Vec<(f64, f64)> = self
                .batches
                .iter()
                .map(|b| (b.batch as f64, value(b)))
                .filter(|(_, v)| v.is_finite())
                .collect();
            rates
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            rates
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 4, color.filled())),
                )
                .map_err(plot_error)?;
        }
        rates
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(text(14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(plot_error)?;

        let ms_max = self
            .batches
            .iter()
            .map(|b| b.duration_ms)
            .fold(1.0_f64, f64::max)
            * 1.15;
        let mut durations = ChartBuilder::on(&bottom)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(90)
            .build_cartesian_2d(x_range, 0.0..ms_max)
            .map_err(plot_error)?;
        durations
            .configure_mesh()
            .x_desc("batch")
            .y_desc("batch duration (ms)")
            .x_labels(ticks)
            .x_label_formatter(&batch_label)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(text(14))
            .axis_desc_style(text(16))
            .draw()
            .map_err(plot_error)?;
        durations
            .draw_series(self.batches.iter().map(|b| {
                let x = b.batch as f64;
                Rectangle::new([(x - 0.35, 0.0), (x + 0.35, b.duration_ms)], BAR.filled())
            }))
            .map_err(plot_error)?;
        Ok(())
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

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_render_to_svg_and_png_with_their_text() {
        if ensure_font().is_err() {
            panic!("the chart font is missing: install fonts-dejavu-core (see scripts/setup.sh)");
        }
        let dir = tempfile::tempdir().unwrap();
        let dots = DotChart {
            title: "Throughput".into(),
            x_label: "rows/s".into(),
            rows: vec![
                DotRow {
                    label: "baseline".into(),
                    values: vec![2800.0, 2900.0, 2700.0],
                    highlight: true,
                },
                DotRow {
                    label: "sql.shuffle.partitions=2".into(),
                    values: vec![9000.0, 9100.0],
                    highlight: false,
                },
            ],
            decimals: 0,
        };
        save(&dots, dir.path(), "dots").unwrap();
        check_chart(
            &dir.path().join("dots.svg"),
            &["Throughput", "baseline", "rows/s", "2800"],
        )
        .unwrap();
        check_chart(&dir.path().join("dots.png"), &[]).unwrap();

        let effects = EffectChart {
            title: "Effects".into(),
            rows: vec![EffectRow {
                label: "shuffle 200 -> 2".into(),
                ratio: 3.2,
                repeats: vec![3.0, 3.4],
            }],
        };
        save(&effects, dir.path(), "effects").unwrap();
        check_chart(
            &dir.path().join("effects.svg"),
            &["3.20x", "shuffle 200 -> 2"],
        )
        .unwrap();

        let batches = BatchChart {
            title: "Batches".into(),
            batches: (0..4)
                .map(|b| BatchPoint {
                    batch: b,
                    input_rows_per_s: 1000.0 * b as f64,
                    processed_rows_per_s: 900.0,
                    duration_ms: 500.0 + b as f64,
                })
                .collect(),
        };
        save(&batches, dir.path(), "batches").unwrap();
        check_chart(
            &dir.path().join("batches.svg"),
            &["input rows/s", "batch duration (ms)"],
        )
        .unwrap();
        assert!(check_chart(&dir.path().join("batches.svg"), &["not there"]).is_err());
    }
}
