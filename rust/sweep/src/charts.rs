//! The sweep report's own charts, comparing settings: [`DotChart`] (a
//! value per setting, every repeat as a dot), [`EffectChart`] (speed-ups
//! on a log axis, with their intervals) and [`XyChart`] (a measure against
//! a number the sweep varies: latency against rate, cost against data
//! size). The primitives they draw with, and the batch-by-batch chart, are
//! sfcrime_charts'.

use anyhow::Result;
use sfcrime_charts::plotters::coord::ranged1d::AsRangedCoord;
use sfcrime_charts::plotters::coord::types::RangedCoordf64;
use sfcrime_charts::plotters::coord::Shift;
use sfcrime_charts::plotters::prelude::*;
use sfcrime_charts::plotters::style::text_anchor::{HPos, Pos, VPos};
use sfcrime_charts::{plot_error, text, Chart, BAD, BAR, GOOD, HIGHLIGHT, PALETTE};
use sfcrime_stats::Spread;

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
            match Spread::of(row.values.iter().copied()) {
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
    /// The 95% interval of the level's median over the center's median.
    pub interval: Option<(f64, f64)>,
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
            .flat_map(|r| {
                let interval = r.interval.into_iter().flat_map(|(lo, hi)| [lo, hi]);
                r.repeats.iter().copied().chain([r.ratio]).chain(interval)
            })
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
            .x_desc(
                "throughput relative to the factor's center (log scale; >1 is faster; \
                 line = 95% interval of the median)",
            )
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
            if let Some((low, high)) = row.interval {
                let y = top_down(i, n);
                chart
                    .draw_series([PathElement::new(
                        vec![(low, y), (high, y)],
                        BLACK.stroke_width(3),
                    )])
                    .map_err(plot_error)?;
            }
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

/// One line of an [`XyChart`]: at each x, the repeats' values.
#[derive(Debug, Clone)]
pub struct XySeries {
    pub label: String,
    pub points: Vec<(f64, Vec<f64>)>,
}

/// Lines through the medians of each series over a numeric x, both axes
/// logarithmic (rates and sizes span decades, and so do latencies once a
/// query falls behind), every repeat as a dot and the median's 95%
/// interval as a bar; optionally a horizontal goal line.
pub struct XyChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<XySeries>,
    /// A horizontal line at this y, with its legend text.
    pub goal: Option<(f64, String)>,
}

impl XyChart {
    /// The positive (x, y) pairs: a log axis has no place for the rest.
    fn values(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series
            .iter()
            .flat_map(|s| &s.points)
            .flat_map(|(x, ys)| ys.iter().map(move |y| (*x, *y)))
            .filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite())
    }
}

/// Axis bounds around the positive values, with room on a log axis.
fn log_bounds(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if hi > 0.0 {
        lo / 1.6..hi * 1.6
    } else {
        1.0..10.0
    }
}

/// 200, 5k, 1.5M: short labels for a log axis.
fn compact(v: f64) -> String {
    let (scaled, unit) = match v.abs() {
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let digits = if scaled.abs() >= 10.0 || scaled.fract().abs() < 1e-9 {
        0
    } else {
        1
    };
    format!("{scaled:.digits$}{unit}")
}

impl Chart for XyChart {
    fn size(&self) -> (u32, u32) {
        (1200, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_error)?;
        let x_range = log_bounds(self.values().map(|(x, _)| x));
        let goal_y = self.goal.iter().map(|(y, _)| *y);
        let y_range = log_bounds(self.values().map(|(_, y)| y).chain(goal_y));
        let (x_lo, x_hi) = (x_range.start, x_range.end);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, text(22))
            .margin(14)
            .x_label_area_size(52)
            .y_label_area_size(80)
            .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&|v| compact(*v))
            .y_label_formatter(&|v| compact(*v))
            .label_style(text(14))
            .axis_desc_style(text(16))
            .draw()
            .map_err(plot_error)?;
        if let Some((y, label)) = &self.goal {
            let y = *y;
            chart
                .draw_series([PathElement::new(
                    vec![(x_lo, y), (x_hi, y)],
                    BLACK.stroke_width(1),
                )])
                .map_err(plot_error)?
                .label(label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], BLACK.stroke_width(1))
                });
        }
        for (series, color) in self.series.iter().zip(PALETTE.iter().cycle()) {
            let color = *color;
            let mut medians: Vec<(f64, Spread)> = series
                .points
                .iter()
                .filter(|(x, _)| *x > 0.0)
                .filter_map(|(x, ys)| {
                    Spread::of(ys.iter().copied().filter(|y| *y > 0.0)).map(|s| (*x, s))
                })
                .collect();
            medians.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(
                    medians.iter().map(|(x, s)| (*x, s.median)),
                    color.stroke_width(3),
                ))
                .map_err(plot_error)?
                .label(series.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                });
            chart
                .draw_series(medians.iter().map(|(x, s)| {
                    PathElement::new(vec![(*x, s.low), (*x, s.high)], color.stroke_width(7))
                }))
                .map_err(plot_error)?;
            chart
                .draw_series(
                    series
                        .points
                        .iter()
                        .flat_map(|(x, ys)| ys.iter().map(move |y| (*x, *y)))
                        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
                        .map(|p| Circle::new(p, 3, BLACK.filled())),
                )
                .map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(text(14))
            .draw()
            .map_err(plot_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfcrime_charts::{check_chart, ensure_font, save};

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
                interval: Some((2.9, 3.5)),
            }],
        };
        save(&effects, dir.path(), "effects").unwrap();
        check_chart(
            &dir.path().join("effects.svg"),
            &["3.20x", "shuffle 200 -> 2"],
        )
        .unwrap();
    }
}
