//! The run's page as HTML: a summary table, the batch-by-batch charts as
//! inline SVG, the top crime types and the disposition table, and the live
//! progress table as `spark run` printed it. Plain HTML and CSS only, so
//! it reads the same offline, from a file, in any browser.

use crate::{panels, RunReport};
use anyhow::Result;
use sfcrime_charts::{svg_string, xml_escape as esc, BatchChart, Panel};
use sfcrime_spark::summary::{TimeOrigin, WallSource};
use sfcrime_spark::{table_header, table_row};
use std::fmt::Write as _;

/// Crime types listed on the page, the most frequent first.
const TOP_CRIME_TYPES: usize = 10;

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;max-width:1200px;margin:2em auto;\
padding:0 1em;color:#222}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;\
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1em 0}pre{font-size:12px;overflow:auto;max-height:30em;background:#f6f6f6;padding:.6em}\
.note{color:#a33}";

/// The charts of a run, each one titled figure; charts with nothing to
/// show (no state, no observed timestamps) are left out.
pub fn charts(report: &RunReport) -> Vec<BatchChart> {
    let events = &report.events;
    let chart = |title: &str, panels: Vec<Panel>| BatchChart {
        title: title.to_string(),
        panels,
    };
    let mut charts = vec![
        chart(
            "Input vs processed rows per second",
            vec![panels::rates(events)],
        ),
        chart(
            "Batch duration by phase (durationMs)",
            vec![panels::durations(events)],
        ),
        chart("Rows per batch", vec![panels::rows(events)]),
    ];
    if let (Some(rows), Some(memory)) = (panels::state_rows(events), panels::state_memory(events)) {
        charts.push(chart("State store: rows and memory", vec![rows, memory]));
    }
    if let Some(e2e) = panels::e2e_latency(events) {
        charts.push(chart("End-to-end latency per batch", vec![e2e]));
    }
    charts
}

/// The whole page.
pub fn render(report: &RunReport) -> Result<String> {
    let name = report.run_dir.file_name().map_or_else(
        || report.run_dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let s = &report.summary;
    let mut page = String::new();
    writeln!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>sfcrime run {}</title><style>{STYLE}</style></head><body>",
        esc(&name)
    )?;
    writeln!(page, "<h1>sfcrime run {}</h1>", esc(&name))?;
    writeln!(
        page,
        "<p id=\"headline\">Query <strong>{}</strong>: {} batches with rows, {} input rows.</p>",
        esc(report.query_name.as_deref().unwrap_or("(unnamed)")),
        s.non_empty_batches,
        s.total_input_rows
    )?;
    if let Some(why) = &report.no_progress {
        writeln!(page, "<p class=\"note\">{}</p>", esc(why))?;
    }
    if !report.unreadable.is_empty() {
        writeln!(
            page,
            "<p class=\"note\">Progress lines that are not progress events (left out):</p><ul>"
        )?;
        for line in &report.unreadable {
            writeln!(page, "<li class=\"note\">{}</li>", esc(line))?;
        }
        writeln!(page, "</ul>")?;
    }

    writeln!(page, "<h2>Summary</h2>\n<table id=\"summary\">")?;
    for (what, value) in summary_rows(report) {
        writeln!(
            page,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(&what),
            esc(&value)
        )?;
    }
    writeln!(page, "</table>")?;

    // The progress reporter's table, the first picture the exercise asks for,
    // comes right after the summary; a long run's table scrolls in its box.
    writeln!(
        page,
        "<h2>Progress</h2>\n<p>One row per progress event, as <code>spark run</code> printed \
         it live (durations in ms; behind = records between the query and the Kafka \
         heads).</p>\n<pre id=\"progress\">{}",
        esc(&table_header())
    )?;
    for event in &report.events {
        writeln!(page, "{}", esc(&table_row(event)))?;
    }
    writeln!(page, "</pre>")?;

    writeln!(page, "<h2>Batch by batch</h2>")?;
    if s.non_empty_batches == 0 {
        writeln!(
            page,
            "<p class=\"note\">No batch read rows: nothing to chart.</p>"
        )?;
    } else {
        for chart in charts(report) {
            writeln!(page, "<figure>{}</figure>", svg_string(&chart)?)?;
        }
    }

    results(&mut page, report)?;

    writeln!(
        page,
        "<p>Files: <a href=\"progress.jsonl\">progress.jsonl</a>, \
         <a href=\"summary.json\">summary.json</a>, <a href=\"spark.log\">spark.log</a>. \
         Spark's own UI for this run: <code>sfcrime spark ui {0}</code>; this page again: \
         <code>sfcrime report {0}</code>.</p>\n</body></html>",
        esc(&report.run_dir.display().to_string())
    )?;
    Ok(page)
}

fn summary_rows(report: &RunReport) -> Vec<(String, String)> {
    let s = &report.summary;
    let seconds = |ms: i64| format!("{:.1} s", ms as f64 / 1000.0);
    let mut rows = vec![
        (
            "query".to_string(),
            report.query_name.clone().unwrap_or_else(|| "-".into()),
        ),
        ("input rows".into(), s.total_input_rows.to_string()),
        (
            "batches with rows / progress events".into(),
            format!("{} / {}", s.non_empty_batches, s.progress_events),
        ),
    ];
    if let (Some(first), Some(last)) = (&s.first_timestamp, &s.last_timestamp) {
        rows.push((
            "first and last trigger".into(),
            format!("{first} to {last}"),
        ));
    }
    if let Some(wall) = s.wall_ms {
        let from = match s.wall_source {
            Some(WallSource::Given) => "",
            _ => " (first trigger start to last trigger end)",
        };
        rows.push(("wall time".into(), format!("{}{from}", seconds(wall))));
    }
    if let Some(rate) = s.overall_rows_per_second {
        rows.push(("overall rows/s".into(), format!("{rate:.0}")));
    }
    if let Some(rate) = &s.processed_rows_per_second {
        rows.push((
            "processed rows/s per batch".into(),
            format!(
                "mean {:.0}, median {:.0}, p95 {:.0}",
                rate.mean, rate.p50, rate.p95
            ),
        ));
    }
    if let Some(latency) = &s.batch_latency {
        rows.push((
            "batch duration".into(),
            format!(
                "p50 {} ms, p95 {} ms, max {} ms",
                latency.p50_ms, latency.p95_ms, latency.max_ms
            ),
        ));
    }
    if let Some(ms) = s.time_to_first_batch_ms {
        let from = match s.time_origin {
            Some(TimeOrigin::Launch) => "from launch",
            _ => "from the first trigger",
        };
        rows.push((
            "time to first batch".into(),
            format!("{} ({from})", seconds(ms)),
        ));
    }
    if let Some(behind) = s.offsets_behind_latest_at_end {
        rows.push((
            "records behind the Kafka heads at the end".into(),
            behind.to_string(),
        ));
    }
    if let Some(e2e) = &report.e2e {
        rows.push((
            "end-to-end latency (Kafka append to commit)".into(),
            format!(
                "p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms over {} rows in {} batches",
                e2e.p50_ms, e2e.p95_ms, e2e.p99_ms, e2e.rows, e2e.batches
            ),
        ));
    }
    rows
}

/// The top crime types and the disposition table, or why there are none.
fn results(page: &mut String, report: &RunReport) -> Result<()> {
    let results = match &report.results {
        Ok(results) => results,
        Err(why) => {
            writeln!(
                page,
                "<h2>Results</h2>\n<p class=\"note\">The run left no final results: {}</p>",
                esc(why)
            )?;
            return Ok(());
        }
    };
    writeln!(
        page,
        "<h2>Top {TOP_CRIME_TYPES} crime types</h2>\n<p>{} calls counted over {} crime types.</p>\n\
         <table id=\"crime-types\"><tr><th>calls</th><th>crime type</th></tr>",
        results.total_calls(),
        results.crime_type_totals.len()
    )?;
    for t in results
        .crime_types_by_count()
        .into_iter()
        .take(TOP_CRIME_TYPES)
    {
        writeln!(
            page,
            "<tr><td class=\"n\">{}</td><td>{}</td></tr>",
            t.count,
            esc(t.original_crime_type_name.as_deref().unwrap_or("-"))
        )?;
    }
    writeln!(
        page,
        "</table>\n<h2>Dispositions</h2>\n<table id=\"dispositions\"><tr><th>calls</th>\
         <th>disposition</th><th>radio code description (- = no radio code)</th></tr>"
    )?;
    for d in results.dispositions_by_count() {
        writeln!(
            page,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            d.count,
            esc(d.disposition.as_deref().unwrap_or("-")),
            esc(d.description.as_deref().unwrap_or("-"))
        )?;
    }
    writeln!(page, "</table>")?;
    Ok(())
}
