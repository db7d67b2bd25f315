//! Running a sweep: every (point, repeat) of the plan, in its seeded order,
//! each an `--available-now` run of the job over the same pre-loaded topic
//! with a fresh checkpoint and output directory, so every run reads the
//! whole topic from offset 0 and does the same work. This file owns the
//! sweep as a whole (its options, plan, order, resumption and outcome);
//! one run is [`crate::slot`]'s, a latency run's producer
//! [`crate::load`]'s.
//!
//! Runs that already succeeded (per `results.json`) are skipped, so an
//! interrupted sweep resumes where it stopped. A Ctrl-C stops the running
//! job (through `SparkRun`) and the sweep, recording nothing for that run.
//!
//! A latency sweep (`[latency]` in the spec) runs differently: each run gets
//! a fresh topic, the job runs on a processing-time trigger reporting its
//! records' Kafka timestamps, and once its first trigger has fired a
//! `sfcrime produce --rate R --duration S` child writes to the topic; when
//! the producer is done and the query has caught up, the job is stopped.
//! A point that sets `realTime` runs the job's real-time pipeline instead:
//! its latency is read from the enriched topic afterwards, record by record
//! (each output's append time minus its input's), and the same read checks
//! that every produced call came out exactly once.

use anyhow::{bail, Context, Result};
use sfcrime_kafka::admin;
use sfcrime_kafka::client::KafkaSettings;
use sfcrime_records::{RecordKey, RecordReader};
use sfcrime_spark::JobArgs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::grid::{run_order, Point, SweepSpec, TRIGGER_KEYS};
use crate::results::{too_busy, ResultsDir, RunRecord, RunStatus, SweepPlan};
use crate::scaled::Scaled;
use crate::slot::SlotRun;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

/// Where and against what a sweep runs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The project root (where `spark/submit.sh` is).
    pub home: PathBuf,
    /// The `sfcrime` binary, for the producer of latency runs.
    pub sfcrime: PathBuf,
    pub results_dir: PathBuf,
    /// Every Kafka client of the sweep uses these (-X / -F, e.g. SASL_SSL):
    /// its own admin and consumer calls, the job, and the producers it starts.
    pub kafka: KafkaSettings,
    pub topic: String,
    /// The calls file latency runs produce from (and real-time runs are
    /// checked against).
    pub data_file: PathBuf,
    /// Before each run, wait (at most `max_wait`) until the 1-minute load
    /// average is at most `max_load`: on 2 cores, the previous run's
    /// lingering load changes the next one's result. A run that still
    /// starts above it is recorded as noisy.
    pub quiet: QuietWait,
    /// Give up after this many failed runs in a row (a broken setup fails
    /// every run; one bad point should not stop the study).
    pub max_consecutive_failures: usize,
    /// The Spark Connect server every run is sent to (`spark run --remote`),
    /// instead of a driver JVM of each run's own.
    pub remote: Option<String>,
}

/// How quiet the machine must be for a run to count, and how long to wait
/// for it before each run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietWait {
    /// The highest 1-minute load average a run may start at and count.
    pub max_load: f64,
    pub max_wait: Duration,
}

/// `--max-load`'s default: on 2 cores, below 1.5 the machine has most of
/// a core to spare when a run starts (docs/TUNING.md).
pub const DEFAULT_MAX_LOAD: f64 = 1.5;
/// `--max-wait`'s default: a Spark run's own load average decays from
/// about 2 to below 1.5 in a minute or two; longer means other work.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(300);

impl Default for QuietWait {
    fn default() -> Self {
        QuietWait {
            max_load: DEFAULT_MAX_LOAD,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

impl QuietWait {
    /// Waits until the load average is at most `max_load` or `max_wait`
    /// has passed, and returns the load it then is (the run records the
    /// load it starts at, and is noisy if that is still above `max_load`).
    pub fn wait(&self, log: Log<'_>) -> f64 {
        let started = Instant::now();
        let mut load = load_average();
        if too_busy(load, self.max_load) && !self.max_wait.is_zero() {
            log(&format!(
                "    waiting for a 1-minute load average of at most {} (now {load:.2}, at most {:.0?})",
                self.max_load, self.max_wait
            ));
        }
        while too_busy(load, self.max_load) && started.elapsed() < self.max_wait {
            std::thread::sleep(Duration::from_secs(5).min(self.max_wait));
            load = load_average();
        }
        load
    }

    /// Whether a run that started at `load` is noisy.
    pub fn is_noisy(&self, load: f64) -> bool {
        too_busy(load, self.max_load)
    }
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
    for point in &expansion.points {
        // Every option must turn into a job argument before anything runs.
        let mut job = JobArgs::default();
        for (key, value) in point.job_options() {
            job.set_option(key, value)
                .map_err(|e| anyhow::anyhow!("point {}: {e}", point.label))?;
        }
        let trigger_key = TRIGGER_KEYS.iter().find(|k| point.get(k).is_some());
        if let (Some(key), None) = (trigger_key, spec.latency) {
            bail!(
                "point {} sets `{key}`, but sweep runs use --available-now, which ignores \
                 the trigger; vary it in a latency sweep instead",
                point.label
            );
        }
        match (point.copies()?, point.rate()?, spec.latency) {
            (Some(_), _, Some(_)) => bail!(
                "point {} sets `copies`, but a latency sweep's runs produce their own data \
                 at a rate; vary copies in a throughput sweep",
                point.label
            ),
            (_, Some(_), None) => bail!(
                "point {} sets `rate`, which only a latency sweep ([latency] or \
                 --latency-rate) produces at",
                point.label
            ),
            _ => {}
        }
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
    // Before any run starts Spark, as `spark run` does: an unreachable
    // broker is one clear error in seconds, not a failed run after another.
    admin::metadata(&options.kafka, BROKER_TIMEOUT)?;
    // Throughput points read the sweep's topic, except `copies` points.
    let reads_topic = |point: &Point| spec.latency.is_none() && point.get("copies").is_none();
    let expansion = spec.expand()?;
    if options.remote.is_some() {
        expansion.check_remote()?;
    }
    let any_reads_topic = expansion.points.iter().any(reads_topic);
    let expected_rows = match spec.latency {
        // Each run's own topic is checked after its producer is done.
        Some(l) => (l.rate * (l.warmup_s + l.duration_s)).round() as i64,
        None if any_reads_topic => topic_size(&options.kafka, &options.topic)?,
        None => 0,
    };
    if any_reads_topic && expected_rows == 0 {
        bail!(
            "topic '{}' is empty: load it first (sfcrime produce -t {})",
            options.topic,
            options.topic
        );
    }
    let plan = plan(spec, options, expected_rows)?;
    let mut results = ResultsDir::open(&options.results_dir)?;
    // Throughput runs compare only over the same data; latency runs each
    // produce their own, and so does each `copies` value.
    let previous = results.records().iter().find(|r| {
        let point = plan.expansion.points.iter().find(|p| p.id == r.point);
        point.is_none_or(reads_topic)
    });
    if let (Some(previous), None) = (previous, spec.latency) {
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
    // A latency run sends the file as many times over as its rate needs.
    let data_records = match spec.latency {
        Some(_) => count_records(&options.data_file)?,
        None => 0,
    };
    let mut scaled = BTreeMap::new();
    for point in &plan.expansion.points {
        if let Some(copies) = point.copies()? {
            if let Entry::Vacant(entry) = scaled.entry(copies) {
                entry.insert(Scaled::prepare(options, copies, log)?);
            }
        }
    }

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
    let source = match spec.latency {
        Some(l) if l.warmup_s > 0.0 => format!(
            "a fresh topic per run, produced at {} records/s for {} s after {} s of warm-up",
            l.rate, l.duration_s, l.warmup_s
        ),
        Some(l) => format!(
            "a fresh topic per run, produced at {} records/s for {} s",
            l.rate, l.duration_s
        ),
        None => {
            let topic = format!("{expected_rows} records of '{}'", options.topic);
            let copies = scaled
                .values()
                .map(|s| format!("{} records of '{}'", s.truth.records, s.topic));
            any_reads_topic
                .then_some(topic)
                .into_iter()
                .chain(copies)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    log(&format!(
        "sweep {}: {} points x {} repeats = {total} runs over {source} \
         (seed {}); {} done already, {} to run",
        spec.name,
        plan.expansion.points.len(),
        spec.repeat,
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
        let _ = options.quiet.wait(log);
        let slot_run = SlotRun {
            spec,
            options,
            point,
            repeat: slot.repeat,
            order,
            expected_rows,
            scaled: point.copies()?.and_then(|copies| scaled.get(&copies)),
            data_records,
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
    let cpu = r
        .driver_cpu_s
        .map_or("-".to_string(), |v| format!("{v:.0} s"));
    let e2e = match (r.e2e_ms_p50, r.e2e_ms_p95, r.e2e_ms_p99) {
        (Some(p50), Some(p95), Some(p99)) => {
            format!(", e2e latency p50/p95/p99 {p50:.0}/{p95:.0}/{p99:.0} ms")
        }
        _ => String::new(),
    };
    let noisy = match r.max_load {
        Some(max) if r.noisy => format!(
            "; noisy (load average {:.2} at the start, above {max}): left out of the report",
            r.load_before
        ),
        _ => String::new(),
    };
    format!(
        "{:?}: wall {:.1} s, query {}, {rate}, {} batches, {} rows, driver peak {rss}, CPU {cpu}{e2e}{noisy}",
        r.status,
        r.wall_s,
        r.query_s.map_or("-".to_string(), |v| format!("{v:.1} s")),
        r.batches,
        r.input_rows
    )
}

/// Records in a data file.
pub fn count_records(file: &Path) -> Result<u64> {
    let reader = RecordReader::<RecordKey>::open_as(file)
        .with_context(|| format!("cannot read the data file {}", file.display()))?;
    let mut records = 0;
    for element in reader {
        element.with_context(|| format!("in {}", file.display()))?;
        records += 1;
    }
    Ok(records)
}

/// How long a sweep waits for the broker to answer.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// Records in `topic` now (a topic that does not exist is an error).
pub fn topic_size(kafka: &KafkaSettings, topic: &str) -> Result<i64> {
    admin::topic_size(kafka, topic, BROKER_TIMEOUT)
}

/// `path` relative to `base` when it is inside it (it always is for run
/// dirs), so the results directory can move as a whole.
pub fn relative(path: &Path, base: &Path) -> String {
    // Compared as absolute paths: a results dir given as `runs/x` holds run
    // dirs that the runner names absolutely.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, base) = (absolute(path), absolute(base));
    path.strip_prefix(&base)
        .unwrap_or(&path)
        .display()
        .to_string()
}

/// The 1-minute load average, or NaN where /proc/loadavg is unreadable.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn run_dirs_are_recorded_relative_to_a_relative_results_dir() {
        let cwd = std::env::current_dir().unwrap();
        let run = cwd.join("runs/sweeps/x/runs/p/r0/20261125T000000Z");
        assert_eq!(
            relative(&run, Path::new("runs/sweeps/x")),
            "runs/p/r0/20261125T000000Z"
        );
        assert_eq!(
            relative(&run, &cwd.join("runs/sweeps/x")),
            "runs/p/r0/20261125T000000Z"
        );
        assert_eq!(
            relative(Path::new("/elsewhere/r"), Path::new("runs")),
            "/elsewhere/r"
        );
    }

    /// Options of a sweep that never reaches a broker, for unit tests.
    pub(crate) fn options() -> SweepOptions {
        SweepOptions {
            home: PathBuf::from("/x"),
            sfcrime: PathBuf::from("/x/sfcrime"),
            results_dir: PathBuf::from("/x/r"),
            kafka: KafkaSettings::new("127.0.0.1:1"),
            topic: "t".into(),
            data_file: PathBuf::from("/x/calls.json"),
            quiet: QuietWait::default(),
            max_consecutive_failures: 3,
            remote: None,
        }
    }

    #[test]
    fn trigger_is_refused_in_throughput_sweeps() {
        let spec = SweepSpec::from_toml(
            "name = \"t\"\n[[vary]]\nkey = \"trigger\"\nvalues = [\"1 second\"]",
        )
        .unwrap();
        let options = options();
        let err = plan(&spec, &options, 10).unwrap_err().to_string();
        assert!(err.contains("available-now"), "{err}");
        let bad = SweepSpec::from_toml(
            "name = \"t\"\n[[vary]]\nkey = \"maxOffsetsPerTrigger\"\nvalues = [\"many\"]",
        )
        .unwrap();
        let err = plan(&bad, &options, 10).unwrap_err().to_string();
        assert!(err.contains("whole number"), "{err}");
        // A latency sweep runs on the processing-time trigger it varies.
        let latency = SweepSpec::from_toml(
            "name = \"t\"\n[latency]\nrate = 10\nduration_s = 5\n\
             [[vary]]\nkey = \"trigger\"\nvalues = [\"1 second\"]",
        )
        .unwrap();
        let plan = plan(&latency, &options, 50).unwrap();
        let options: Vec<_> = plan.expansion.points[1].job_options().collect();
        assert_eq!(options, [("trigger", "1 second")]);
    }
}
