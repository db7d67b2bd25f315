//! `report.md` for a results directory: the answers to the study's two
//! questions in plain language, every number linked to the runs it comes
//! from, the ranked effects, a table of every point, the charts, and the
//! runs left out (failed, or noisy: started above the load threshold).

use anyhow::{Context, Result};
use sfcrime_spark::read_progress_file;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::charts::{DotChart, DotRow, EffectChart, EffectRow, XyChart, XySeries};
use crate::grid::Point;
use crate::points::{best_point, point_stats, ranked_effects, Effect, PointStats};
use crate::results::{read_plan, read_records, RunRecord, RunStatus, SweepPlan};
use sfcrime_charts::{self as charts, BatchChart};
use sfcrime_report::{panels, REPORT_FILE as RUN_PAGE};
use sfcrime_stats::{speedup_with_range, Spread};
use std::collections::BTreeMap;

pub const REPORT_FILE: &str = "report.md";

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    pub markdown: PathBuf,
    pub charts: Vec<PathBuf>,
}

/// Writes `report.md` and the charts into `out_dir` (the results directory
/// itself by default), linking to the runs in `results_dir`. Runs are noisy
/// as recorded when they ran, or, with `max_load`, when their load average
/// at the start was above it (files on disk are not changed).
pub fn write_report(
    results_dir: &Path,
    out_dir: &Path,
    max_load: Option<f64>,
) -> Result<ReportFiles> {
    let plan = read_plan(results_dir)?;
    let mut records = read_records(results_dir)?;
    if let Some(max_load) = max_load {
        for record in &mut records {
            record.judge_noise(max_load);
        }
    }
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let stats = point_stats(&plan.expansion, &records);
    let ctx = Study {
        links: Links::new(results_dir, out_dir)?,
        effects: ranked_effects(&plan.expansion.factors, &stats),
        stats,
        records: &records,
        plan: &plan,
    };
    let mut charts_written = Vec::new();
    for (name, written) in [
        ("throughput", ctx.dot_chart_throughput(out_dir)?),
        ("latency", ctx.dot_chart_latency(out_dir)?),
        ("memory", ctx.dot_chart_memory(out_dir)?),
        ("e2e_latency", ctx.dot_chart_e2e(out_dir)?),
        ("effects", ctx.effect_chart(out_dir)?),
        ("latency_vs_rate", ctx.latency_vs_rate_chart(out_dir)?),
        ("cost_vs_size", ctx.cost_vs_size_chart(out_dir)?),
        ("batches", ctx.batch_chart(results_dir, out_dir)?),
    ] {
        if written {
            for ext in ["svg", "png"] {
                charts_written.push(out_dir.join(format!("{name}.{ext}")));
            }
        }
    }
    let markdown = out_dir.join(REPORT_FILE);
    std::fs::write(&markdown, ctx.markdown(&charts_written, results_dir)?)
        .with_context(|| format!("cannot write {}", markdown.display()))?;
    Ok(ReportFiles {
        markdown,
        charts: charts_written,
    })
}

/// Everything the report is made from.
struct Study<'a> {
    links: Links,
    stats: Vec<PointStats>,
    effects: Vec<Effect>,
    records: &'a [RunRecord],
    plan: &'a SweepPlan,
}

/// Chart labels drop the `spark.` prefix that every conf shares.
fn short(label: &str) -> String {
    label.replace("spark.", "")
}

impl Study<'_> {
    fn is_baseline(&self, s: &PointStats) -> bool {
        s.point == self.plan.expansion.baseline
    }

    fn is_best(&self, s: &PointStats) -> bool {
        best_point(&self.stats).is_some_and(|b| b.point == s.point)
    }

    fn rows(&self, value: impl Fn(&RunRecord) -> Option<f64>) -> Vec<DotRow> {
        self.stats
            .iter()
            .filter(|s| !s.runs.is_empty())
            .map(|s| DotRow {
                label: short(&s.label),
                values: s
                    .runs
                    .iter()
                    .filter_map(|&i| value(&self.records[i]))
                    .collect(),
                highlight: self.is_baseline(s) || self.is_best(s),
            })
            .collect()
    }

    fn dot_chart_throughput(&self, out: &Path) -> Result<bool> {
        let rows = self.rows(|r| r.rows_per_s);
        if rows.is_empty() {
            return Ok(false);
        }
        let chart = DotChart {
            title: format!(
                "Throughput per setting: {} (bar = median, dot = one run; yellow = baseline, best)",
                self.plan.spec.name
            ),
            x_label: "rows/s over the query (input rows / first trigger start to last trigger end)"
                .into(),
            rows,
            decimals: 0,
        };
        charts::save(&chart, out, "throughput")?;
        Ok(true)
    }

    fn dot_chart_latency(&self, out: &Path) -> Result<bool> {
        let rows = self.rows(|r| r.batch_ms_p50.map(|ms| ms as f64 / 1000.0));
        if rows.is_empty() {
            return Ok(false);
        }
        let chart = DotChart {
            title: "Batch latency per setting (median batch duration per run)".into(),
            x_label: "seconds per micro-batch (Spark's triggerExecution)".into(),
            rows,
            decimals: 1,
        };
        charts::save(&chart, out, "latency")?;
        Ok(true)
    }

    fn dot_chart_memory(&self, out: &Path) -> Result<bool> {
        let rows = self.rows(|r| r.driver_peak_rss_mib);
        if rows.iter().all(|r| r.values.is_empty()) {
            return Ok(false);
        }
        let chart = DotChart {
            title: "Peak resident memory of the driver JVM per setting".into(),
            x_label: "MiB (VmHWM of the SparkSubmit JVM)".into(),
            rows,
            decimals: 0,
        };
        charts::save(&chart, out, "memory")?;
        Ok(true)
    }

    fn dot_chart_e2e(&self, out: &Path) -> Result<bool> {
        let rows = self.rows(|r| r.e2e_ms_p95.map(|ms| ms / 1000.0));
        if rows.iter().all(|r| r.values.is_empty()) {
            return Ok(false);
        }
        let rate = self.plan.spec.latency.map_or(0.0, |l| l.rate);
        let chart = DotChart {
            title: format!("End-to-end latency under load ({rate} records/s): 95th percentile"),
            x_label: "seconds from Kafka append to batch commit (p95 over the run's records)"
                .into(),
            rows,
            decimals: 1,
        };
        charts::save(&chart, out, "e2e_latency")?;
        Ok(true)
    }

    fn effect_chart(&self, out: &Path) -> Result<bool> {
        let rows: Vec<EffectRow> = self
            .effects
            .iter()
            .filter_map(|e| {
                let center = self.stat(&e.center)?.rows_per_s?.median;
                let level = self.stat(&e.point)?;
                Some(EffectRow {
                    label: format!("{}: {} -> {}", short(&e.key), e.center_value, e.value),
                    ratio: e.throughput_ratio,
                    repeats: level
                        .runs
                        .iter()
                        .filter_map(|&i| self.records[i].rows_per_s)
                        .map(|r| r / center)
                        .collect(),
                    interval: level.rows_per_s.map(|s| (s.low / center, s.high / center)),
                })
            })
            .collect();
        if rows.is_empty() {
            return Ok(false);
        }
        let chart = EffectChart {
            title: "Effect of each setting on throughput, largest first".into(),
            rows,
        };
        charts::save(&chart, out, "effects")?;
        Ok(true)
    }

    /// One line per setting of everything but `key`, over the x that `key`
    /// sets (read from each run's record), through `value`'s medians; the
    /// line's label ends in `suffix`. Empty unless some point sets `key`.
    fn lines_over(
        &self,
        key: &str,
        x: impl Fn(&RunRecord) -> Option<f64>,
        value: impl Fn(&RunRecord) -> Option<f64>,
        suffix: &str,
    ) -> Vec<XySeries> {
        let points = &self.plan.expansion.points;
        if !points.iter().any(|p| p.get(key).is_some()) {
            return Vec::new();
        }
        let without_key = |point: &Point| {
            let mut params = point.params.clone();
            params.remove(key);
            params
        };
        let baseline = points
            .iter()
            .find(|p| p.id == self.plan.expansion.baseline)
            .map(without_key)
            .unwrap_or_default();
        let mut lines: BTreeMap<String, Vec<(f64, Vec<f64>)>> = BTreeMap::new();
        for s in self.stats.iter().filter(|s| !s.runs.is_empty()) {
            let Some(point) = points.iter().find(|p| p.id == s.point) else {
                continue;
            };
            let runs = s.runs.iter().map(|&i| &self.records[i]);
            let Some(at) = Spread::of(runs.clone().filter_map(&x)) else {
                continue;
            };
            let label = Point::new(without_key(point), &baseline).label;
            lines
                .entry(short(&label))
                .or_default()
                .push((at.median, runs.filter_map(&value).collect()));
        }
        lines
            .into_iter()
            .map(|(label, points)| XySeries {
                label: format!("{label}{suffix}"),
                points,
            })
            .collect()
    }

    /// End-to-end latency against the produced rate, where points vary it.
    fn latency_vs_rate_chart(&self, out: &Path) -> Result<bool> {
        let rate = |r: &RunRecord| r.produce_rate;
        let mut series = self.lines_over("rate", rate, |r| r.e2e_ms_p99, ": p99");
        series.extend(self.lines_over("rate", rate, |r| r.e2e_ms_p50, ": p50"));
        if series
            .iter()
            .all(|s| s.points.iter().all(|(_, v)| v.is_empty()))
        {
            return Ok(false);
        }
        let chart = XyChart {
            title:
                "End-to-end latency against the produced rate (line = median, bar = 95% interval)"
                    .into(),
            x_label: "records/s produced".into(),
            y_label: "ms from Kafka append to the batch's commit".into(),
            series,
            goal: Some((1000.0, "1 s".into())),
        };
        charts::save(&chart, out, "latency_vs_rate")?;
        Ok(true)
    }

    /// The query's time against the records it read, where points vary
    /// `copies`.
    fn cost_vs_size_chart(&self, out: &Path) -> Result<bool> {
        let series = self.lines_over(
            "copies",
            |r| Some(r.expected_rows as f64),
            |r| r.query_s,
            "",
        );
        if series
            .iter()
            .all(|s| s.points.iter().all(|(_, v)| v.is_empty()))
        {
            return Ok(false);
        }
        let chart = XyChart {
            title: "Query time against data size (line = median, bar = 95% interval)".into(),
            x_label: "records read (the data file's copies)".into(),
            y_label: "seconds, first trigger to last".into(),
            series,
            goal: None,
        };
        charts::save(&chart, out, "cost_vs_size")?;
        Ok(true)
    }

    /// The per-batch chart of the counted run with the most batches.
    fn batch_run(&self) -> Option<&RunRecord> {
        self.records
            .iter()
            .filter(|r| r.counts())
            .max_by_key(|r| r.batches)
    }

    fn batch_chart(&self, results_dir: &Path, out: &Path) -> Result<bool> {
        let Some(run) = self.batch_run() else {
            return Ok(false);
        };
        let events = read_progress_file(&results_dir.join(&run.run_dir).join("progress.jsonl"))?;
        if !events.iter().any(|p| p.has_input()) {
            return Ok(false);
        }
        let chart = BatchChart {
            title: format!(
                "Batch by batch: {} (repeat {})",
                short(&run.label),
                run.repeat
            ),
            panels: vec![panels::rates(&events), panels::durations(&events)],
        };
        charts::save(&chart, out, "batches")?;
        Ok(true)
    }

    fn stat(&self, point: &str) -> Option<&PointStats> {
        self.stats.iter().find(|s| s.point == point)
    }

    /// `[r0](…/report.html) [r1](…)` for a point's successful runs.
    fn run_links(&self, s: &PointStats) -> String {
        s.runs
            .iter()
            .map(|&i| {
                let r = &self.records[i];
                format!("[r{}]({})", r.repeat, self.run_page(r))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A link to the run's page, or to its progress file for a run from
    /// before run pages.
    fn run_page(&self, r: &RunRecord) -> String {
        let run_dir = Path::new(&r.run_dir);
        let page = run_dir.join(RUN_PAGE);
        if self.links.exists(&page) {
            self.links.to(&page)
        } else {
            self.links.to(&run_dir.join("progress.jsonl"))
        }
    }

    fn markdown(&self, charts: &[PathBuf], results_dir: &Path) -> Result<String> {
        let plan = self.plan;
        let mut md = String::new();
        let ok = self
            .records
            .iter()
            .filter(|r| r.status == RunStatus::Ok)
            .count();
        let failed = self.records.len() - ok;
        let noisy = self.records.iter().filter(|r| r.noisy).count();
        writeln!(md, "# Sweep `{}`\n", plan.spec.name)?;
        if !plan.spec.description.is_empty() {
            writeln!(md, "{}\n", plan.spec.description)?;
        }
        let loads = Spread::of(self.records.iter().map(|r| r.load_before));
        let first = self
            .records
            .iter()
            .map(|r| r.started_at.as_str())
            .min()
            .unwrap_or("-");
        let last = self
            .records
            .iter()
            .map(|r| r.started_at.as_str())
            .max()
            .unwrap_or("-");
        writeln!(
            md,
            "{} points x {} repeats ({:?} design, seed {}, random order), each run {} \
             {ok} runs succeeded, {failed} did not; {}runs from {first} to {last}; 1-minute \
             load average at run start {}. Results: [results.csv]({}), [results.json]({}), \
             design and order: [sweep.json]({}).\n",
            plan.expansion.points.len(),
            plan.spec.repeat,
            plan.spec.design,
            plan.spec.seed,
            workload(plan),
            if noisy > 0 {
                format!(
                    "{noisy} of them were noisy and are left out of every answer (see Noisy \
                     runs); "
                )
            } else {
                String::new()
            },
            loads.map_or("-".into(), |l| format!(
                "{:.1} to {:.1} (median {:.1})",
                l.min, l.max, l.median
            )),
            self.links.to(Path::new("results.csv")),
            self.links.to(Path::new("results.json")),
            self.links.to(Path::new("sweep.json")),
        )?;
        writeln!(
            md,
            "Throughput is input rows over the query's span (first trigger start to last \
             trigger end); wall time is spark-submit launch to exit (JVM start, the query and \
             the job's final aggregation); batch latency is Spark's `triggerExecution`. \
             Each value is the median over a point's repeats with its 95% bootstrap interval \
             in brackets (2,000 seeded resamples of the repeats; with few repeats it is about \
             min..max). An effect is *clear* when the two medians' intervals do not overlap. \
             Only successful runs that started at a 1-minute load average at most the \
             threshold count; the others are listed at the end.\n"
        )?;

        self.e2e_table(&mut md)?;
        self.answers(&mut md)?;
        self.effects_table(&mut md)?;
        self.points_table(&mut md)?;

        writeln!(md, "## Charts\n")?;
        for path in charts
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("chart");
            let png = path.with_extension("png");
            let file = |p: &Path| {
                p.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            writeln!(md, "![{name}]({}) ([PNG]({}))\n", file(path), file(&png))?;
        }
        if let Some(run) = self.batch_run() {
            writeln!(
                md,
                "The batch-by-batch chart shows [{} (repeat {})]({}), the run with the most \
                 batches.\n",
                run.label,
                run.repeat,
                self.run_page(run)
            )?;
        }

        self.noisy_runs(&mut md)?;
        let failures: Vec<&RunRecord> = self
            .records
            .iter()
            .filter(|r| r.status != RunStatus::Ok)
            .collect();
        if !failures.is_empty() {
            writeln!(md, "## Runs that did not count\n")?;
            for r in failures {
                writeln!(
                    md,
                    "- {} (repeat {}): {:?}, {} of {} rows read, {} counted; {} ([log]({}))",
                    r.label,
                    r.repeat,
                    r.status,
                    r.input_rows,
                    r.expected_rows,
                    r.output_calls.map_or("none".into(), |c| c.to_string()),
                    r.error.as_deref().unwrap_or("-"),
                    self.links.to(&Path::new(&r.run_dir).join("spark.log"))
                )?;
            }
            writeln!(md)?;
        }
        writeln!(
            md,
            "Regenerate with `sfcrime report {}`.",
            results_dir.display()
        )?;
        Ok(md)
    }

    fn answers(&self, md: &mut String) -> Result<()> {
        writeln!(md, "## Answers\n")?;
        if self.stats.iter().all(|s| s.runs.is_empty()) {
            writeln!(
                md,
                "None: no run both succeeded and started on a quiet machine ({} noisy, {} \
                 failed).\n",
                self.records.iter().filter(|r| r.noisy).count(),
                self.records
                    .iter()
                    .filter(|r| r.status != RunStatus::Ok)
                    .count()
            )?;
            return Ok(());
        }
        writeln!(
            md,
            "### How do the settings change throughput and latency?\n"
        )?;
        for e in &self.effects {
            let (Some(level), Some(center)) = (self.stat(&e.point), self.stat(&e.center)) else {
                continue;
            };
            writeln!(
                md,
                "- `{}` {} -> {}: throughput **{:.2}x** ({} -> {} rows/s), batch latency {} -> \
                 {}, wall time {} -> {}; {}. Runs: {} vs {}.",
                e.key,
                e.center_value,
                e.value,
                e.throughput_ratio,
                fmt_spread(center.rows_per_s, 0, ""),
                fmt_spread(level.rows_per_s, 0, ""),
                fmt_spread(center.batch_ms_p50.map(ms_to_s), 1, " s"),
                fmt_spread(level.batch_ms_p50.map(ms_to_s), 1, " s"),
                fmt_spread(center.wall_s, 1, " s"),
                fmt_spread(level.wall_s, 1, " s"),
                if e.clear {
                    "a clear effect"
                } else {
                    "the 95% intervals overlap (no clear effect)"
                },
                self.run_links(level),
                self.run_links(center),
            )?;
        }
        writeln!(md)?;

        writeln!(md, "### Which key/value pairs are most efficient?\n")?;
        let winners: Vec<&Effect> = self
            .effects
            .iter()
            .filter(|e| e.clear && e.throughput_ratio > 1.0)
            .take(3)
            .collect();
        if winners.is_empty() {
            writeln!(md, "No setting beat its center clearly.\n")?;
        }
        for (i, e) in winners.iter().enumerate() {
            writeln!(
                md,
                "{}. `{}={}`: {:.2}x the throughput of `{}` (compared at: {}).",
                i + 1,
                e.key,
                e.value,
                e.throughput_ratio,
                e.center_value,
                e.center_label
            )?;
        }
        writeln!(md)?;

        let (Some(best), Some(base)) = (
            best_point(&self.stats),
            self.stat(&self.plan.expansion.baseline),
        ) else {
            return Ok(());
        };
        if let (Some(b), Some(d)) = (best.rows_per_s, base.rows_per_s) {
            let (mid, low, high) = speedup_with_range(&b, &d);
            let wall = match (best.wall_s, base.wall_s) {
                (Some(b), Some(d)) => format!(
                    "; whole run (JVM start to exit) {:.2}x faster ({:.1} s vs {:.1} s)",
                    d.median / b.median,
                    b.median,
                    d.median
                ),
                _ => String::new(),
            };
            writeln!(
                md,
                "### Best setting against all defaults\n\n`{}` processed the topic at {} rows/s \
                 against the baseline's {}: **{mid:.2}x** (range over repeats {low:.2}x to \
                 {high:.2}x; {}){wall}. Runs: {} vs {}.\n",
                best.label,
                fmt_spread(best.rows_per_s, 0, ""),
                fmt_spread(base.rows_per_s, 0, ""),
                if b.separated_from(&d) {
                    "the 95% intervals do not overlap"
                } else {
                    "the 95% intervals overlap: not a clear difference"
                },
                self.run_links(best),
                self.run_links(base),
            )?;
        }
        Ok(())
    }

    /// How many runs were noisy, which points lost repeats to it, and each
    /// noisy run's load.
    fn noisy_runs(&self, md: &mut String) -> Result<()> {
        let noisy: Vec<&RunRecord> = self.records.iter().filter(|r| r.noisy).collect();
        if noisy.is_empty() {
            return Ok(());
        }
        let thresholds: std::collections::BTreeSet<String> = noisy
            .iter()
            .filter_map(|r| r.max_load)
            .map(|m| m.to_string())
            .collect();
        writeln!(md, "## Noisy runs (left out)\n")?;
        writeln!(
            md,
            "{} of {} runs started at a 1-minute load average above {} (after waiting for \
             a quiet machine) and count in no answer, table or chart. Points that lost \
             repeats:\n",
            noisy.len(),
            self.records.len(),
            thresholds.into_iter().collect::<Vec<_>>().join(" / ")
        )?;
        for s in self.stats.iter().filter(|s| s.noisy > 0) {
            let loads: Vec<String> = noisy
                .iter()
                .filter(|r| r.point == s.point)
                .map(|r| {
                    format!(
                        "[r{} at {:.2}]({})",
                        r.repeat,
                        r.load_before,
                        self.run_page(r)
                    )
                })
                .collect();
            writeln!(
                md,
                "- {}: {} noisy, {} counted: {}",
                s.label,
                s.noisy,
                s.runs.len(),
                loads.join(" ")
            )?;
        }
        writeln!(md)?;
        Ok(())
    }

    fn e2e_table(&self, md: &mut String) -> Result<()> {
        let Some(load) = self.plan.spec.latency else {
            return Ok(());
        };
        writeln!(
            md,
            "## End-to-end latency under load
"
        )?;
        let rates = if self
            .plan
            .expansion
            .points
            .iter()
            .any(|p| p.get("rate").is_some())
        {
            "each point's `rate` (else".to_string()
        } else {
            "(".to_string()
        };
        writeln!(
            md,
            "A producer sent records at {rates} {} records/s) for {} s to a fresh topic \
             (broker append timestamps) while the job ran on its trigger. Latency is a \
             record's Kafka append time to the end of the trigger that committed its batch \
             (in real-time mode: to its append to the output topic), pooled over every \
             record of a run; medians over repeats [95% interval].\n",
            load.rate, load.duration_s
        )?;
        // The headline of latency against rate: how far each setting goes
        // with a median p99 of at most a second.
        for line in self.lines_over("rate", |r| r.produce_rate, |r| r.e2e_ms_p99, "") {
            let highest = line
                .points
                .iter()
                .filter(|(_, p99s)| {
                    Spread::of(p99s.iter().copied()).is_some_and(|s| s.median <= 1000.0)
                })
                .map(|(rate, _)| *rate)
                .fold(None, |best: Option<f64>, rate| {
                    Some(best.map_or(rate, |b| b.max(rate)))
                });
            match highest {
                Some(rate) => writeln!(
                    md,
                    "- **{}**: highest rate with a median p99 of at most 1 s: **{rate} records/s**",
                    line.label
                )?,
                None => writeln!(
                    md,
                    "- **{}**: no rate with a median p99 of at most 1 s",
                    line.label
                )?,
            }
        }
        writeln!(md)?;
        writeln!(
            md,
            "| point | ok runs | p50 (s) | p95 (s) | p99 (s) | batches | runs |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---:|---:|---|")?;
        for s in &self.stats {
            writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                s.label,
                s.runs.len(),
                fmt_spread(s.e2e_ms_p50.map(ms_to_s), 2, ""),
                fmt_spread(s.e2e_ms_p95.map(ms_to_s), 2, ""),
                fmt_spread(s.e2e_ms_p99.map(ms_to_s), 2, ""),
                fmt_spread(s.batches, 0, ""),
                self.run_links(s),
            )?;
        }
        writeln!(md)?;
        Ok(())
    }

    fn effects_table(&self, md: &mut String) -> Result<()> {
        if self.effects.is_empty() {
            return Ok(());
        }
        writeln!(md, "## Parameters ranked by effect size\n")?;
        writeln!(
            md,
            "| rank | parameter | center -> value | throughput | query speed-up | wall speed-up | clear? | compared at |"
        )?;
        writeln!(md, "|---:|---|---|---:|---:|---:|---|---|")?;
        for (i, e) in self.effects.iter().enumerate() {
            writeln!(
                md,
                "| {} | `{}` | {} -> {} | {:.2}x | {:.2}x | {:.2}x | {} | {} |",
                i + 1,
                e.key,
                e.center_value,
                e.value,
                e.throughput_ratio,
                e.query_speedup,
                e.wall_speedup,
                if e.clear { "yes" } else { "no" },
                e.center_label
            )?;
        }
        writeln!(md)?;
        Ok(())
    }

    fn points_table(&self, md: &mut String) -> Result<()> {
        writeln!(md, "## Every point\n")?;
        writeln!(
            md,
            "| point | ok runs | rows/s | query (s) | wall (s) | batch p50 (s) | batch p95 (s) | batches | driver peak (MiB) | -Xmx | driver CPU (s) | state rows | state on disk (MiB) | state in memory (MiB) | runs |"
        )?;
        writeln!(
            md,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"
        )?;
        for s in &self.stats {
            let mark = if self.is_baseline(s) {
                " (all defaults)"
            } else if self.is_best(s) {
                " (best)"
            } else {
                ""
            };
            writeln!(
                md,
                "| {}{mark} | {}{}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                s.label,
                s.runs.len(),
                if s.failed > 0 {
                    format!(" (+{} failed)", s.failed)
                } else {
                    String::new()
                },
                if s.noisy > 0 {
                    format!(" (+{} noisy)", s.noisy)
                } else {
                    String::new()
                },
                fmt_spread(s.rows_per_s, 0, ""),
                fmt_spread(s.query_s, 1, ""),
                fmt_spread(s.wall_s, 1, ""),
                fmt_spread(s.batch_ms_p50.map(ms_to_s), 1, ""),
                fmt_spread(s.batch_ms_p95.map(ms_to_s), 1, ""),
                fmt_spread(s.batches, 0, ""),
                fmt_spread(s.driver_peak_rss_mib, 0, ""),
                s.driver_xmx.as_deref().unwrap_or("-"),
                fmt_spread(s.driver_cpu_s, 0, ""),
                fmt_spread(s.state_rows, 0, ""),
                fmt_spread(s.state_disk_mib, 1, ""),
                fmt_spread(s.state_memory_mib, 1, ""),
                self.run_links(s),
            )?;
        }
        writeln!(md)?;
        Ok(())
    }
}

fn ms_to_s(s: Spread) -> Spread {
    s.scaled(1.0 / 1000.0)
}

/// `median [low..high]` (the median's 95% interval), or just the value
/// when the interval is a point (one run, or equal repeats).
fn fmt_spread(s: Option<Spread>, decimals: usize, unit: &str) -> String {
    match s {
        None => "-".to_string(),
        Some(s) if s.low == s.high => format!("{:.decimals$}{unit}", s.median),
        Some(s) => format!(
            "{:.decimals$}{unit} [{:.decimals$}..{:.decimals$}]",
            s.median, s.low, s.high
        ),
    }
}

/// Links from the report's directory to files of the results directory.
struct Links {
    results: PathBuf,
    prefix: PathBuf,
}

impl Links {
    fn new(results_dir: &Path, out_dir: &Path) -> Result<Self> {
        let results = std::path::absolute(results_dir)?;
        let out = std::path::absolute(out_dir)?;
        Ok(Links {
            prefix: relative_path(&results, &out),
            results,
        })
    }

    /// Whether `path` (relative to the results directory) exists.
    fn exists(&self, path: &Path) -> bool {
        self.results.join(path).exists()
    }

    /// `path` (relative to the results directory) as seen from the report.
    fn to(&self, path: &Path) -> String {
        self.prefix
            .join(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().replace(' ', "%20"))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The path that leads from directory `from` to `to`, both absolute.
fn relative_path(to: &Path, from: &Path) -> PathBuf {
    let to: Vec<Component> = to.components().collect();
    let from: Vec<Component> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for c in &to[common..] {
        path.push(c.as_os_str());
    }
    path
}

/// What each run of the sweep reads, for the report's first paragraph.
fn workload(plan: &SweepPlan) -> String {
    if let Some(load) = plan.spec.latency {
        return format!(
            "produces to a fresh topic of its own at the point's rate ({} records/s unless the \
             point sets `rate`) for {} s unmeasured, then {} s measured, while the job \
             runs. End-to-end latency: each record's Kafka append to the commit of its batch \
             (micro-batch), or to the append of its enriched copy (real-time mode).",
            load.rate, load.warmup_s, load.duration_s
        );
    }
    let all = format!(
        "all {} records of topic `{}`",
        plan.expected_rows, plan.topic
    );
    let copies = format!(
        "topic `{}.x<N>`, which holds the data file N times (`produce --copies N`) for the \
         point's `copies` N",
        plan.topic
    );
    let source = match (
        plan.expected_rows > 0,
        plan.expansion
            .points
            .iter()
            .any(|p| p.get("copies").is_some()),
    ) {
        (true, true) => format!("{all} ({copies} instead where a point sets `copies`)"),
        (true, false) => all,
        (false, _) => copies,
    };
    format!("`--available-now` over {source}, with a fresh checkpoint.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_lead_from_the_report_to_the_runs() {
        let same = Links::new(Path::new("/a/r"), Path::new("/a/r")).unwrap();
        assert_eq!(
            same.to(Path::new("runs/p/r0/x/progress.jsonl")),
            "runs/p/r0/x/progress.jsonl"
        );
        let docs = Links::new(
            Path::new("/repo/docs/tuning/default"),
            Path::new("/repo/docs/tuning"),
        )
        .unwrap();
        assert_eq!(docs.to(Path::new("results.csv")), "default/results.csv");
        let up = Links::new(Path::new("/repo/runs/sweeps/x"), Path::new("/repo/docs")).unwrap();
        assert_eq!(
            up.to(Path::new("results.csv")),
            "../runs/sweeps/x/results.csv"
        );
    }

    /// A latency sweep over `rate` for two modes, its runs made up: the
    /// report draws latency against rate, a line per mode and percentile.
    #[test]
    fn a_sweep_over_rate_is_charted_as_latency_against_rate() {
        use crate::results::tests::record;
        use crate::results::ResultsDir;
        let spec = crate::grid::SweepSpec::from_toml(
            "name = \"lr\"\nrepeat = 2\n[latency]\nrate = 200\nduration_s = 10\n\
             [baseline]\ntrigger = \"0 seconds\"\n\
             [[vary]]\nkey = \"rate\"\nvalues = [1000, 5000]\n",
        )
        .unwrap();
        let plan = crate::sweep::plan(&spec, &crate::sweep::tests::options(), 2000).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut results = ResultsDir::open(dir.path()).unwrap();
        results.write_plan(&plan).unwrap();
        for point in &plan.expansion.points {
            let rate = point.rate().unwrap().unwrap_or(200.0);
            for repeat in 0..2 {
                let mut r = record(&point.id, repeat, RunStatus::Ok);
                r.label = point.label.clone();
                r.produce_rate = Some(rate);
                r.e2e_ms_p50 = Some(rate / 4.0 + f64::from(repeat));
                r.e2e_ms_p99 = Some(rate / 2.0 + f64::from(repeat));
                let run_dir = dir.path().join(&r.run_dir);
                std::fs::create_dir_all(&run_dir).unwrap();
                std::fs::write(run_dir.join("progress.jsonl"), "").unwrap();
                results.append(r).unwrap();
            }
        }
        let files = write_report(dir.path(), dir.path(), None).unwrap();
        let chart = dir.path().join("latency_vs_rate.svg");
        assert!(files.charts.contains(&chart), "{:?}", files.charts);
        sfcrime_charts::check_chart(&chart, &["records/s produced", "baseline: p99", "1 s"])
            .unwrap();
        assert!(!dir.path().join("cost_vs_size.svg").exists());
        let markdown = std::fs::read_to_string(files.markdown).unwrap();
        assert!(markdown.contains("latency_vs_rate.svg"), "{markdown}");
        assert!(
            markdown.contains(
                "each run produces to a fresh topic of its own at the point's rate (200 records/s"
            ),
            "{markdown}"
        );
        // The state store's size, three ways, per point (`record`: 40 rows,
        // 0.5 MiB on disk, 1.5 MiB in memory, in both repeats).
        assert!(
            markdown
                .contains("| state rows | state on disk (MiB) | state in memory (MiB) | runs |"),
            "{markdown}"
        );
        assert!(markdown.contains("| 40 | 0.5 | 1.5 | [r0]"), "{markdown}");
        // p99 = rate / 2 (+1 in repeat 1): medians 100.5, 500.5, 2500.5 ms.
        assert!(
            markdown.contains(
                "- **baseline**: highest rate with a median p99 of at most 1 s: **1000 records/s**"
            ),
            "{markdown}"
        );
    }

    /// The first paragraph names what the runs read: the sweep's topic, or
    /// for `copies` points their own N-fold topics (a scale sweep whose
    /// every point sets `copies` reads the sweep's topic not at all).
    #[test]
    fn the_report_says_which_topic_each_run_read() {
        let plan_of = |toml: &str, expected_rows| {
            let spec = crate::grid::SweepSpec::from_toml(toml).unwrap();
            crate::sweep::plan(&spec, &crate::sweep::tests::options(), expected_rows).unwrap()
        };
        let scale = plan_of(
            "name = \"s\"\n[baseline]\ncopies = 1\n[[vary]]\nkey = \"copies\"\nvalues = [5]\n",
            0,
        );
        let text = workload(&scale);
        assert!(text.contains("over topic `t.x<N>`"), "{text}");
        assert!(!text.contains("all 0 records"), "{text}");
        let mixed = plan_of(
            "name = \"m\"\n[baseline]\n[[vary]]\nkey = \"copies\"\nvalues = [5]\n",
            199_999,
        );
        let text = workload(&mixed);
        assert!(
            text.contains("over all 199999 records of topic `t` (topic `t.x<N>`"),
            "{text}"
        );
    }

    #[test]
    fn spreads_print_compactly() {
        assert_eq!(fmt_spread(None, 1, " s"), "-");
        assert_eq!(fmt_spread(Spread::of([2.0]), 1, " s"), "2.0 s");
        assert_eq!(fmt_spread(Spread::of([1.0, 2.0, 4.0]), 0, ""), "2 [1..4]");
        let many = Spread::of((0..40).map(|i| f64::from(90 + 5 * (i % 5))));
        assert_eq!(fmt_spread(many, 0, " s"), "100 s [95..105]");
        assert_eq!(
            short("spark.sql.shuffle.partitions=2 spark.master=local[1]"),
            "sql.shuffle.partitions=2 master=local[1]"
        );
    }
}
