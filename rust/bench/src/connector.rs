//! `bench connector`: the same Spark job (python/data_stream.py, one
//! `--available-now` run over the whole dataset) reading the same topic
//! through Spark's spark-sql-kafka (JSON parsed by `from_json` in the JVM)
//! and through sfcrime's Rust connector in `calls` mode (JSON parsed into
//! typed Arrow columns in Rust).
//!
//! It is a two-point sweep (`source=kafka` against `source=sfcrime_connector`) run by
//! sfcrime_sweep, so the runs come in a seeded random order, each one is
//! checked for the exact number of calls counted, and an interrupted bench
//! resumes with `--results-dir`.

use crate::measure::{format_spread as spread, noisy_note};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use sfcrime_kafka::admin;
use sfcrime_spark::job::{CONNECTOR, SPARK_SQL_KAFKA};
use sfcrime_stats::{speedup_with_range, Spread};
use sfcrime_sweep::grid::{Design, SweepSpec};
use sfcrime_sweep::load::produce_command;
use sfcrime_sweep::points::{point_stats, PointStats};
use sfcrime_sweep::results::{read_plan, read_records};
use sfcrime_sweep::sweep::{count_records, run_sweep, topic_size, QuietWait, SweepOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The topic both sources read unless `-t` names another; (re)loaded from
/// the data file when it does not hold exactly the file's records.
pub const TOPIC: &str = "bench.connector";

/// Settings both runs share unless `--base` says otherwise: the tuned
/// shuffle partitions of docs/TUNING.md, so that the aggregation's 200
/// state-store tasks do not drown the difference between the sources.
pub const DEFAULT_BASE: &[&str] = &["spark.sql.shuffle.partitions=2"];

pub struct ConnectorBenchOptions {
    /// Where and how the sweep runs: its `topic` is loaded from its
    /// `data_file`, and both sources read it.
    pub sweep: SweepOptions,
    pub repeat: u32,
    /// `KEY=VALUE` settings of both runs (Spark confs or the job's options).
    pub base: Vec<String>,
    /// Both sources read the data file this many times over (the sweep's
    /// `copies` key: a topic of the N copies, produced once, and every run
    /// checked against the N-fold ground truth).
    pub copies: u64,
    /// With a Connect server (`sweep.remote`): unmeasured runs of each
    /// source before the measured ones.
    pub warm_up_runs: u32,
}

/// One source's runs.
#[derive(Debug, Serialize)]
pub struct SourceResult {
    pub source: &'static str,
    pub reads_with: &'static str,
    pub stats: PointStats,
}

#[derive(Debug, Serialize)]
pub struct ConnectorBenchReport {
    /// Records each run read: the data file's times `copies`.
    pub records: i64,
    pub copies: u64,
    pub repeat: u32,
    pub base: Vec<String>,
    pub results_dir: PathBuf,
    /// 1-minute load average before the runs, lowest and highest.
    pub load_min: f64,
    pub load_max: f64,
    /// Runs left out because they started above `max_load`.
    pub noisy: usize,
    pub max_load: f64,
    /// The Spark Connect server the runs were sent to, if any.
    pub remote: Option<String>,
    /// Unmeasured runs of each source on it first.
    pub warm_up_runs: u32,
    /// spark-sql-kafka first, then sfcrime's connector.
    pub sources: [SourceResult; 2],
}

pub fn run(
    options: &ConnectorBenchOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<ConnectorBenchReport> {
    // Keys the bench sets itself.
    for (key, why) in [
        (
            "source",
            "the source is what this bench varies; leave it out",
        ),
        ("copies", "give the data's size with --copies"),
    ] {
        if let Some(setting) = options
            .base
            .iter()
            .find(|b| b.trim_start().starts_with(key))
        {
            bail!("--base {setting}: {why}");
        }
    }
    if options.copies == 0 {
        bail!("--copies must be at least 1");
    }
    let records = if options.copies == 1 {
        load_topic(options, progress)?
    } else {
        // The sweep produces (once) and checks the topic of the copies.
        count_records(&options.sweep.data_file)? as i64 * options.copies as i64
    };
    let mut base: Vec<String> = vec![format!("source={SPARK_SQL_KAFKA}")];
    base.extend(options.base.iter().cloned());
    if options.copies > 1 {
        base.push(format!("copies={}", options.copies));
    }
    let spec = SweepSpec::from_flags(
        "connector",
        &[format!("source={CONNECTOR}")],
        &base,
        options.repeat,
        1,
        Design::Ofat,
        None,
    )?;
    let dir = &options.sweep.results_dir;
    if let (Some(url), 1..) = (&options.sweep.remote, options.warm_up_runs) {
        warm_up(&spec, options, url, progress)?;
    }
    let outcome = run_sweep(&spec, &options.sweep, progress)?;
    if outcome.interrupted {
        bail!("interrupted; resume with --results-dir {}", dir.display());
    }
    let plan = read_plan(dir)?;
    let runs = read_records(dir)?;
    let mut stats = point_stats(&plan.expansion, &runs).into_iter();
    let (Some(kafka), Some(connector)) = (stats.next(), stats.next()) else {
        bail!(
            "{}: expected two points, {SPARK_SQL_KAFKA} and {CONNECTOR}",
            dir.display()
        );
    };
    for point in [&kafka, &connector] {
        if point.rows_per_s.is_none() {
            bail!(
                "no run of {} counts: {} failed or miscounted (see the spark.log files under \
                 {}), {} started above load average {} (rerun when the machine is quieter, \
                 or give --max-load)",
                point.label,
                point.failed,
                dir.display(),
                point.noisy,
                options.sweep.quiet.max_load
            );
        }
    }
    let loads = runs.iter().map(|r| r.load_before);
    Ok(ConnectorBenchReport {
        records,
        copies: options.copies,
        repeat: options.repeat,
        base: options.base.clone(),
        results_dir: dir.clone(),
        load_min: loads.clone().fold(f64::INFINITY, f64::min),
        load_max: loads.fold(f64::NEG_INFINITY, f64::max),
        noisy: kafka.noisy + connector.noisy,
        max_load: options.sweep.quiet.max_load,
        remote: options.sweep.remote.clone(),
        warm_up_runs: options.warm_up_runs,
        sources: [
            SourceResult {
                source: SPARK_SQL_KAFKA,
                reads_with: "spark-sql-kafka + from_json (JVM)",
                stats: kafka,
            },
            SourceResult {
                source: CONNECTOR,
                reads_with: "mode calls (Rust → Arrow)",
                stats: connector,
            },
        ],
    })
}

/// Unmeasured runs of each source on the Connect server at `url`, into
/// `<results dir>/warm-up`: a server's first run of a query pays for its
/// JVM's compiling, its Python workers' start and the source's first
/// planning, which every later run finds done (what the bench compares).
fn warm_up(
    spec: &SweepSpec,
    options: &ConnectorBenchOptions,
    url: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    progress(&format!(
        "warming up the Spark Connect server at {url}: {} unmeasured run(s) of each source",
        options.warm_up_runs
    ));
    let warm_spec = SweepSpec {
        repeat: options.warm_up_runs,
        ..spec.clone()
    };
    let warm_options = SweepOptions {
        results_dir: options.sweep.results_dir.join("warm-up"),
        // unmeasured: no need to wait for a quiet machine
        quiet: QuietWait {
            max_load: f64::INFINITY,
            ..options.sweep.quiet
        },
        ..options.sweep.clone()
    };
    let outcome = run_sweep(&warm_spec, &warm_options, progress)?;
    if outcome.interrupted {
        bail!(
            "interrupted while warming up; resume with --results-dir {}",
            options.sweep.results_dir.display()
        );
    }
    Ok(())
}

/// Makes the sweep's topic hold exactly the data file's records, producing
/// them with `sfcrime produce` unless it already does. Returns the count.
fn load_topic(options: &ConnectorBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<i64> {
    let SweepOptions {
        kafka,
        topic,
        data_file,
        ..
    } = &options.sweep;
    let records = count_records(data_file)? as i64;
    if topic_size(kafka, topic).ok() == Some(records) {
        progress(&format!(
            "topic '{topic}' already holds the {records} records of {}",
            data_file.display()
        ));
        return Ok(records);
    }
    progress(&format!(
        "loading the {records} records of {} into topic '{topic}'",
        data_file.display()
    ));
    let timeout = Duration::from_secs(30);
    admin::delete_topic(kafka, topic, timeout)?;
    admin::wait_deleted(kafka, topic, timeout)?;
    admin::ensure_topic(kafka, topic, 3, 1, &[], timeout)?;
    sfcrime_process::output(&mut produce_command(&options.sweep, topic))
        .with_context(|| format!("cannot load topic '{topic}'"))?;
    let loaded = topic_size(kafka, topic)?;
    if loaded != records {
        bail!("topic '{topic}' holds {loaded} records after loading {records}");
    }
    Ok(records)
}

impl ConnectorBenchReport {
    /// A Markdown table: per source medians [95% interval] over the repeats
    /// that count, and sfcrime's speed-up over spark-sql-kafka.
    pub fn to_markdown(&self) -> String {
        let settings = if self.base.is_empty() {
            "Spark's defaults".to_string()
        } else {
            self.base.join(" ")
        };
        let copies = if self.copies > 1 {
            format!(" (the data file {} times over)", self.copies)
        } else {
            String::new()
        };
        let driver = match &self.remote {
            Some(url) => format!(
                " on the Spark Connect server at {url} (after {} unmeasured run(s) of each \
                 source)",
                self.warm_up_runs
            ),
            None => String::new(),
        };
        let mut out = format!(
            "{} records{copies}, {} repeats per source{driver}, {settings}; load average {:.1}–{:.1}{}; \
             medians [95% interval] over the quiet ok runs; runs in {}\n\n\
             | source | reads and parses with | ok runs | rows/s (query) | query s | \
             launch to first trigger s | total s (launch to exit) |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
            self.records,
            self.repeat,
            self.load_min,
            self.load_max,
            noisy_note(self.noisy, self.max_load),
            self.results_dir.display()
        );
        for s in &self.sources {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                s.source,
                s.reads_with,
                s.stats.runs.len(),
                spread(s.stats.rows_per_s, 0),
                spread(s.stats.query_s, 1),
                spread(s.stats.first_trigger_s, 1),
                spread(s.stats.wall_s, 1),
            ));
        }
        let [kafka, connector] = &self.sources;
        let ratio = |a: Option<Spread>, b: Option<Spread>| match (a, b) {
            (Some(a), Some(b)) => {
                let (median, low, high) = speedup_with_range(&a, &b);
                format!("{median:.2}× ({low:.2}–{high:.2}×)")
            }
            _ => "-".to_string(),
        };
        // Times are "lower is better": their speed-up is the inverse ratio.
        let inverse = |s: Option<Spread>| s.map(|s| s.inverse());
        out.push_str(&format!(
            "\n{CONNECTOR} over spark-sql-kafka: rows/s {}, query time {}, total time {}\n",
            ratio(connector.stats.rows_per_s, kafka.stats.rows_per_s),
            ratio(
                inverse(connector.stats.query_s),
                inverse(kafka.stats.query_s)
            ),
            ratio(inverse(connector.stats.wall_s), inverse(kafka.stats.wall_s)),
        ));
        out
    }
}

/// The default results directory: a new one per bench under `runs_dir`.
pub fn new_results_dir(runs_dir: &Path) -> Result<PathBuf> {
    Ok(sfcrime_spark::new_run_dir(runs_dir)?)
}
