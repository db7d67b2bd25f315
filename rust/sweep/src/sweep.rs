//! Running a sweep: every (point, repeat) of the plan, in its seeded order,
//! each an `--available-now` run of the job over the same pre-loaded topic
//! with a fresh checkpoint and output directory, so every run reads the
//! whole topic from offset 0 and does the same work.
//!
//! Runs that already succeeded (per `results.json`) are skipped, so an
//! interrupted sweep resumes where it stopped. A Ctrl-C stops the running
//! job (through `SparkRun`) and the sweep, recording nothing for that run.

use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Deserialize;
use sfcrime_kafka::client::KafkaSettings;
use sfcrime_spark::{RunEvent, RunSummary, SparkRun, SparkRunError, StopReason};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::grid::{run_order, Point, SweepSpec, TRIGGER_KEY};
use crate::memory::{DriverMemory, Sampler};
use crate::results::{ResultsDir, RunRecord, RunStatus, SweepPlan};

/// Where and against what a sweep runs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The project root (where `spark/submit.sh` is).
    pub home: PathBuf,
    pub results_dir: PathBuf,
    pub kafka: KafkaSettings,
    pub topic: String,
    /// Give up after this many failed runs in a row (a broken setup fails
    /// every run; one bad point should not stop the study).
    pub max_consecutive_failures: usize,
}

/// How the sweep went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepOutcome {
    pub ran: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Ctrl-C stopped the sweep; rerun the same command to resume.
    pub interrupted: bool,
}

/// Progress messages, one line each.
pub type Log<'a> = &'a mut dyn FnMut(&str);

/// Resolves the spec into the plan that [`run_sweep`] would follow.
pub fn plan(spec: &SweepSpec, options: &SweepOptions, expected_rows: i64) -> Result<SweepPlan> {
    let expansion = spec.expand()?;
    if let Some(point) = expansion
        .points
        .iter()
        .find(|p| p.get(TRIGGER_KEY).is_some())
    {
        bail!(
            "point {} sets `{TRIGGER_KEY}`, but sweep runs use --available-now, which ignores \
             the trigger interval; vary it in a latency sweep instead",
            point.label
        );
    }
    let order = run_order(expansion.points.len(), spec.repeat, spec.seed);
    Ok(SweepPlan {
        spec: spec.clone(),
        expansion,
        order,
        topic: options.topic.clone(),
        bootstrap_servers: options.kafka.bootstrap_servers.clone(),
        expected_rows,
    })
}

/// Runs every pending slot of the sweep.
pub fn run_sweep(spec: &SweepSpec, options: &SweepOptions, log: Log<'_>) -> Result<SweepOutcome> {
    let expected_rows = topic_size(&options.kafka, &options.topic)?;
    if expected_rows == 0 {
        bail!(
            "topic '{}' is empty: load it first (sfcrime produce -t {})",
            options.topic,
            options.topic
        );
    }
    let plan = plan(spec, options, expected_rows)?;
    let mut results = ResultsDir::open(&options.results_dir)?;
    if let Some(previous) = results.records().first() {
        if previous.expected_rows != expected_rows {
            bail!(
                "{} holds runs over {} records but topic '{}' now has {expected_rows}; \
                 use another results directory",
                options.results_dir.display(),
                previous.expected_rows,
                options.topic
            );
        }
    }
    results.write_plan(&plan)?;

    let done = results.completed();
    let total = plan.order.len();
    let pending: Vec<(usize, _)> = plan
        .order
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, slot)| {
            !done.contains(&(plan.expansion.points[slot.point].id.clone(), slot.repeat))
        })
        .collect();
    let mut outcome = SweepOutcome {
        ran: 0,
        skipped: total - pending.len(),
        failed: 0,
        interrupted: false,
    };
    log(&format!(
        "sweep {}: {} points x {} repeats = {total} runs over {expected_rows} records of '{}' \
         (seed {}); {} done already, {} to run",
        spec.name,
        plan.expansion.points.len(),
        spec.repeat,
        options.topic,
        spec.seed,
        outcome.skipped,
        pending.len()
    ));
    let mut failures_in_a_row = 0;
    for (order, slot) in pending {
        let point = &plan.expansion.points[slot.point];
        log(&format!(
            "[{}/{total}] {} (repeat {})",
            order + 1,
            point.label,
            slot.repeat
        ));
        let slot_run = SlotRun {
            spec,
            options,
            point,
            repeat: slot.repeat,
            order,
            expected_rows,
        };
        let Some(record) = slot_run.run(&results, log)? else {
            outcome.interrupted = true;
            log("interrupted: rerun the same command to resume");
            break;
        };
        log(&format!("    {}", describe(&record)));
        let ok = record.status == RunStatus::Ok;
        results.append(record)?;
        outcome.ran += 1;
        if ok {
            failures_in_a_row = 0;
        } else {
            outcome.failed += 1;
            failures_in_a_row += 1;
            if failures_in_a_row >= options.max_consecutive_failures {
                bail!(
                    "{failures_in_a_row} runs failed in a row; see the last run's spark.log under {}",
                    options.results_dir.display()
                );
            }
        }
    }
    Ok(outcome)
}

/// One line about a finished run.
fn describe(r: &RunRecord) -> String {
    let rate = r
        .rows_per_s
        .map_or("-".to_string(), |v| format!("{v:.0} rows/s"));
    let rss = r
        .driver_peak_rss_mib
        .map_or("-".to_string(), |v| format!("{v:.0} MiB"));
    format!(
        "{:?}: wall {:.1} s, query {}, {rate}, {} batches, {} rows, driver peak {rss}",
        r.status,
        r.wall_s,
        r.query_s.map_or("-".to_string(), |v| format!("{v:.1} s")),
        r.batches,
        r.input_rows
    )
}

/// One (point, repeat) to run.
struct SlotRun<'a> {
    spec: &'a SweepSpec,
    options: &'a SweepOptions,
    point: &'a Point,
    repeat: u32,
    order: usize,
    expected_rows: i64,
}

impl SlotRun<'_> {
    /// Runs the job once; `None` when Ctrl-C stopped it.
    fn run(&self, results: &ResultsDir, log: Log<'_>) -> Result<Option<RunRecord>> {
        let slot_dir = results.slot_dir(&self.point.id, self.repeat);
        let checkpoint = slot_dir.join("checkpoint");
        let output = slot_dir.join("output");
        // A retried slot starts from scratch: an old checkpoint would make
        // the job skip what it already read.
        for dir in [&checkpoint, &output] {
            remove_dir_if_present(dir)?;
        }
        let mut run = SparkRun::new(&self.options.home).runs_dir(&slot_dir);
        for (key, value) in self.point.spark_confs() {
            run = run.conf(key, value);
        }
        let job_args = [
            "--available-now".to_string(),
            "--bootstrap-servers".to_string(),
            self.options.kafka.bootstrap_servers.clone(),
            "--topic".to_string(),
            self.options.topic.clone(),
            "--checkpoint-dir".to_string(),
            checkpoint.display().to_string(),
            "--output-dir".to_string(),
            output.display().to_string(),
            "--console-rows".to_string(),
            "0".to_string(),
        ];
        for arg in job_args.into_iter().chain(self.point.job_flags()) {
            run = run.app_arg(arg);
        }

        let load_before = load_average();
        let started_at = rfc3339(SystemTime::now());
        let launched = Instant::now();
        let mut sampler = None;
        let result = run.run(|event| match event {
            RunEvent::Started { pid, paths } => {
                sampler = Some(Sampler::start(pid, Duration::from_millis(250)));
                log(&format!("    run dir {}", paths.dir.display()));
            }
            RunEvent::Stopping(reason) => log(&format!("    stopping the job: {reason:?}")),
            _ => {}
        });
        let wall_s = launched.elapsed().as_secs_f64();
        let memory = sampler.map(Sampler::finish).unwrap_or_default();

        let (summary, dir, error) = match result {
            Ok(outcome) if outcome.stopped == Some(StopReason::Interrupted) => return Ok(None),
            Ok(outcome) => (outcome.summary, outcome.paths.dir, None),
            Err(SparkRunError::Failed(failure)) => {
                let first = failure.to_string().lines().nth(1).unwrap_or("").to_string();
                (failure.summary, failure.paths.dir, Some(first))
            }
            Err(e) => return Err(e).context("cannot run the Spark job"),
        };
        let output_calls = final_call_count(&output);
        // The output is only needed for the count; the checkpoint not at all.
        // Dropping both keeps a 40-run sweep at megabytes instead of gigabytes.
        for dir in [&checkpoint, &output] {
            remove_dir_if_present(dir)?;
        }
        let status = match (&error, output_calls) {
            (Some(_), _) => RunStatus::Failed,
            (None, Some(calls))
                if calls == self.expected_rows
                    && summary.total_input_rows == self.expected_rows =>
            {
                RunStatus::Ok
            }
            (None, _) => RunStatus::WrongCount,
        };
        Ok(Some(self.record(RecordParts {
            status,
            started_at,
            run_dir: relative(&dir, results.path()),
            load_before,
            wall_s,
            summary,
            output_calls,
            memory,
            error,
        })))
    }

    fn record(&self, parts: RecordParts) -> RunRecord {
        let s = &parts.summary;
        RunRecord {
            sweep: self.spec.name.clone(),
            point: self.point.id.clone(),
            label: self.point.label.clone(),
            repeat: self.repeat,
            order: self.order,
            seed: self.spec.seed,
            status: parts.status,
            started_at: parts.started_at,
            run_dir: parts.run_dir,
            load_before: parts.load_before,
            wall_s: parts.wall_s,
            query_s: s.wall_ms.map(|ms| ms as f64 / 1000.0),
            first_batch_s: s.time_to_first_batch_ms.map(|ms| ms as f64 / 1000.0),
            batches: s.non_empty_batches,
            input_rows: s.total_input_rows,
            expected_rows: self.expected_rows,
            output_calls: parts.output_calls,
            rows_per_s: s.overall_rows_per_second,
            batch_rows_per_s_p50: s.processed_rows_per_second.map(|r| r.p50),
            batch_ms_p50: s.batch_latency.map(|l| l.p50_ms),
            batch_ms_p95: s.batch_latency.map(|l| l.p95_ms),
            driver_peak_rss_mib: parts.memory.peak_rss_kib.map(|kib| kib as f64 / 1024.0),
            driver_xmx: parts.memory.xmx,
            error: parts.error,
        }
    }
}

struct RecordParts {
    status: RunStatus,
    started_at: String,
    run_dir: String,
    load_before: f64,
    wall_s: f64,
    summary: RunSummary,
    output_calls: Option<i64>,
    memory: DriverMemory,
    error: Option<String>,
}

/// One line of the job's `final/crime_type_totals.jsonl`.
#[derive(Deserialize)]
struct CrimeTypeTotal {
    count: i64,
}

/// Calls counted over all crime types in the job's final results: equal to
/// the topic's record count when nothing was lost or counted twice.
fn final_call_count(output: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(output.join("final/crime_type_totals.jsonl")).ok()?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<CrimeTypeTotal>(l)
                .ok()
                .map(|t| t.count)
        })
        .sum()
}

/// Records in `topic` now: the sum over partitions of high minus low
/// watermark.
pub fn topic_size(kafka: &KafkaSettings, topic: &str) -> Result<i64> {
    let timeout = Duration::from_secs(10);
    let consumer: BaseConsumer = kafka
        .client_config(&[("log_level", "3"), ("allow.auto.create.topics", "false")])
        .create()
        .context("cannot create a Kafka client")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .with_context(|| format!("cannot read metadata from {}", kafka.bootstrap_servers))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        bail!(
            "topic '{topic}' does not exist on {}",
            kafka.bootstrap_servers
        );
    }
    let mut total = 0;
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .with_context(|| format!("cannot read offsets of {topic}-{partition}"))?;
        total += high - low;
    }
    Ok(total)
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// `path` relative to `base` when it is inside it (it always is for run
/// dirs), so the results directory can move as a whole.
pub fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The 1-minute load average, or NaN where /proc/loadavg is unreadable.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// UTC RFC 3339 with seconds, from the civil-from-days algorithm (H. Hinnant),
/// to avoid a date crate for one timestamp.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        let at = |s: u64| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_608_454), "2026-11-25T12:07:34Z");
    }

    #[test]
    fn final_counts_sum_over_crime_types() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(final_call_count(dir.path()), None);
        std::fs::create_dir_all(dir.path().join("final")).unwrap();
        std::fs::write(
            dir.path().join("final/crime_type_totals.jsonl"),
            "{\"original_crime_type_name\":\"A\",\"count\":3}\n{\"original_crime_type_name\":\"B\",\"count\":4}\n",
        )
        .unwrap();
        assert_eq!(final_call_count(dir.path()), Some(7));
    }

    #[test]
    fn trigger_is_refused_in_throughput_sweeps() {
        let spec = SweepSpec::from_toml(
            "name = \"t\"\n[[vary]]\nkey = \"trigger\"\nvalues = [\"1 second\"]",
        )
        .unwrap();
        let options = SweepOptions {
            home: PathBuf::from("/x"),
            results_dir: PathBuf::from("/x/r"),
            kafka: KafkaSettings::new("127.0.0.1:1"),
            topic: "t".into(),
            max_consecutive_failures: 3,
        };
        let err = plan(&spec, &options, 10).unwrap_err().to_string();
        assert!(err.contains("available-now"), "{err}");
    }
}
