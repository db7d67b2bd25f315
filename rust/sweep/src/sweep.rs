//! Running a sweep: every (point, repeat) of the plan, in its seeded order,
//! each an `--available-now` run of the job over the same pre-loaded topic
//! with a fresh checkpoint and output directory, so every run reads the
//! whole topic from offset 0 and does the same work.
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
use sfcrime_kafka::consume::{consume, ConsumeOptions, Start};
use sfcrime_spark::clock::rfc3339_utc;
use sfcrime_spark::job::{kafka_settings_env, KAFKA_SETTINGS_ENV};
use sfcrime_spark::latency::{e2e_latency, E2eLatency};
use sfcrime_spark::{
    read_progress_file, FinalResults, JobArgs, RunEvent, RunSummary, SparkRun, SparkRunError,
    StopReason, Trigger,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::grid::{run_order, LatencySpec, Point, SweepSpec, TRIGGER_KEYS};
use crate::memory::{DriverMemory, Sampler};
use crate::results::{ResultsDir, RunRecord, RunStatus, SweepPlan};

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
    /// lingering load changes the next one's result.
    pub quiet: Option<QuietWait>,
    /// Give up after this many failed runs in a row (a broken setup fails
    /// every run; one bad point should not stop the study).
    pub max_consecutive_failures: usize,
}

/// How long to wait for a quiet machine before each run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietWait {
    pub max_load: f64,
    pub max_wait: Duration,
}

impl QuietWait {
    /// Waits until the load average is at most `max_load` or `max_wait`
    /// has passed (the run records the load it then starts at).
    fn wait(&self, log: Log<'_>) {
        let started = Instant::now();
        let mut load = load_average();
        if load > self.max_load {
            log(&format!(
                "    waiting for a 1-minute load average of at most {} (now {load:.2}, at most {:.0?})",
                self.max_load, self.max_wait
            ));
        }
        while load > self.max_load && started.elapsed() < self.max_wait {
            std::thread::sleep(Duration::from_secs(5));
            load = load_average();
        }
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
    let expected_rows = match spec.latency {
        // Each run's own topic is checked after its producer is done.
        Some(l) => (l.rate * (l.warmup_s + l.duration_s)).round() as i64,
        None => topic_size(&options.kafka, &options.topic)?,
    };
    if expected_rows == 0 {
        bail!(
            "topic '{}' is empty: load it first (sfcrime produce -t {})",
            options.topic,
            options.topic
        );
    }
    let plan = plan(spec, options, expected_rows)?;
    let mut results = ResultsDir::open(&options.results_dir)?;
    // Throughput runs compare only over the same data; latency runs each
    // produce their own.
    if let (Some(previous), None) = (results.records().first(), spec.latency) {
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
    let source = match spec.latency {
        Some(l) if l.warmup_s > 0.0 => format!(
            "a fresh topic per run, produced at {} records/s for {} s after {} s of warm-up",
            l.rate, l.duration_s, l.warmup_s
        ),
        Some(l) => format!(
            "a fresh topic per run, produced at {} records/s for {} s",
            l.rate, l.duration_s
        ),
        None => format!("{expected_rows} records of '{}'", options.topic),
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
        if let Some(quiet) = options.quiet {
            quiet.wait(log);
        }
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
    let cpu = r
        .driver_cpu_s
        .map_or("-".to_string(), |v| format!("{v:.0} s"));
    let e2e = match (r.e2e_ms_p50, r.e2e_ms_p95, r.e2e_ms_p99) {
        (Some(p50), Some(p95), Some(p99)) => {
            format!(", e2e latency p50/p95/p99 {p50:.0}/{p95:.0}/{p99:.0} ms")
        }
        _ => String::new(),
    };
    format!(
        "{:?}: wall {:.1} s, query {}, {rate}, {} batches, {} rows, driver peak {rss}, CPU {cpu}{e2e}",
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
        let latency = self.spec.latency;
        let topic = match latency {
            Some(_) => {
                let topic = self.latency_topic_name();
                self.create_latency_topic(&topic)?;
                topic
            }
            None => self.options.topic.clone(),
        };
        let mut run = SparkRun::new(&self.options.home).runs_dir(&slot_dir);
        for (key, value) in self.point.spark_confs() {
            run = run.conf(key, value);
        }
        let mut job = JobArgs {
            bootstrap_servers: self.options.kafka.bootstrap_servers.clone(),
            topic: topic.clone(),
            checkpoint_dir: checkpoint.display().to_string(),
            output_dir: output.clone(),
            console_rows: Some(0),
            kafka_settings: self.options.kafka.overrides.clone(),
            trigger: match latency {
                None => Trigger::AvailableNow,
                Some(_) => Trigger::JobDefault,
            },
            observe_kafka_timestamps: latency.is_some(),
            ..JobArgs::default()
        };
        for (key, value) in self.point.job_options() {
            job.set_option(key, value).map_err(anyhow::Error::msg)?;
        }
        let real_time = matches!(job.trigger, Trigger::RealTime(_));
        if real_time {
            // Its latency is measured on the output topic, not per batch.
            job.observe_kafka_timestamps = false;
            let enriched = job.enriched_topic();
            self.create_latency_topic(&enriched)?;
            job.output_topic = Some(enriched);
        }
        if let Some(l) = latency {
            // A safety net only: the run stops itself once caught up.
            run = run.stop_after(Duration::from_secs_f64(l.warmup_s + l.duration_s + 300.0));
        }
        let run = job.apply(run);

        let load_before = load_average();
        let started_at = rfc3339_utc(SystemTime::now());
        let launched = Instant::now();
        let mut sampler = None;
        let mut load = latency.map(|spec| Load {
            spec,
            topic: topic.clone(),
            output_topic: job.output_topic.clone(),
            last_output_check: None,
            events_file: None,
            producer: None,
            produced: false,
            stop_sent: false,
            measure_from_ms: 0,
            producer_done_ms: None,
        });
        let mut pgid = None;
        let result = run.run(|event| match event {
            RunEvent::Started { pid, paths } => {
                sampler = Some(Sampler::start(pid, Duration::from_millis(250)));
                pgid = Some(pid);
                if let Some(load) = load.as_mut() {
                    load.events_file = Some(paths.events.clone());
                }
                log(&format!("    run dir {}", paths.dir.display()));
            }
            RunEvent::Progress(p) => {
                if let (Some(load), Some(pgid)) = (load.as_mut(), pgid) {
                    load.on_progress(p, pgid, self.options, log);
                }
            }
            RunEvent::Polled => {
                if let (Some(load), Some(pgid)) = (load.as_mut(), pgid) {
                    load.on_poll(pgid, self.options, log);
                }
            }
            RunEvent::Stopping(reason) => log(&format!("    stopping the job: {reason:?}")),
            _ => {}
        });
        let wall_s = launched.elapsed().as_secs_f64();
        let memory = sampler.map(Sampler::finish).unwrap_or_default();
        let expected_rows = match load.as_mut() {
            Some(load) => load.finish(self.options)?,
            None => self.expected_rows,
        };
        // Latency counts from the end of the producer's warm-up.
        let measure_from = load.as_ref().map_or(0, |l| l.measure_from_ms);

        let (summary, paths, error) = match result {
            Ok(outcome) if outcome.stopped == Some(StopReason::Interrupted) => return Ok(None),
            Ok(outcome) if outcome.stopped == Some(StopReason::Deadline) => (
                outcome.summary,
                outcome.paths,
                Some("the query did not catch up with the producer in time".to_string()),
            ),
            Ok(outcome) => (outcome.summary, outcome.paths, None),
            Err(SparkRunError::Failed(failure)) => {
                let first = failure.to_string().lines().nth(1).unwrap_or("").to_string();
                (failure.summary, failure.paths, Some(first))
            }
            Err(e) => return Err(e).context("cannot run the Spark job"),
        };
        // A producer that wrote nothing (e.g. no data file) is a failed run,
        // even though the job then read and counted exactly nothing.
        let error = match (latency, error) {
            (Some(_), None) if expected_rows == 0 => {
                Some("the producer wrote nothing to the topic".to_string())
            }
            (_, error) => error,
        };
        let (e2e, output_calls) = match (latency, &job.output_topic) {
            (Some(_), Some(enriched)) if error.is_none() => {
                self.read_enriched(enriched, expected_rows, measure_from)?
            }
            (_, Some(_)) => (None, None),
            (Some(_), None) => (
                e2e_latency(&read_progress_file(&paths.progress)?, measure_from),
                final_call_count(&output),
            ),
            (None, None) => (None, final_call_count(&output)),
        };
        if let Some(enriched) = &job.output_topic {
            admin::delete_topic(&self.options.kafka, enriched, Duration::from_secs(30))?;
        }
        // The run's page, while its output is still there. A sweep goes on
        // without it: the run's numbers are in its record either way.
        if let Err(e) = sfcrime_report::write_run_report(&paths.dir, &output) {
            log(&format!("    no run report: {e:#}"));
        }
        // The output is only needed for the count; the checkpoint not at all.
        // Dropping both keeps a 40-run sweep at megabytes instead of gigabytes.
        for dir in [&checkpoint, &output] {
            remove_dir_if_present(dir)?;
        }
        let status = match (&error, output_calls) {
            (Some(_), _) => RunStatus::Failed,
            (None, Some(calls))
                if calls == expected_rows
                    && (real_time || summary.total_input_rows == expected_rows) =>
            {
                RunStatus::Ok
            }
            (None, _) => RunStatus::WrongCount,
        };
        Ok(Some(self.record(RecordParts {
            status,
            started_at,
            run_dir: relative(&paths.dir, results.path()),
            load_before,
            wall_s,
            summary,
            expected_rows,
            output_calls,
            memory,
            e2e,
            error,
        })))
    }

    /// The name of one latency run's input topic.
    fn latency_topic_name(&self) -> String {
        format!(
            "{}.{}.r{}.{}",
            self.spec.name,
            self.point.id,
            self.repeat,
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        )
    }

    /// A new topic for one latency run, stamped with the broker's append
    /// time so that the job (or the reader of its output) sees when each
    /// record reached Kafka.
    fn create_latency_topic(&self, topic: &str) -> Result<()> {
        admin::ensure_topic(
            &self.options.kafka,
            topic,
            LATENCY_PARTITIONS,
            1,
            &[("message.timestamp.type", "LogAppendTime")],
            Duration::from_secs(30),
        )?;
        Ok(())
    }

    /// A real-time run's output: its record-by-record latency, and how many
    /// produced calls it holds, or None unless each is there exactly once
    /// and intact.
    fn read_enriched(
        &self,
        enriched: &str,
        produced: i64,
        measure_from_ms: i64,
    ) -> Result<(Option<E2eLatency>, Option<i64>)> {
        let summary = consume(
            &ConsumeOptions {
                topic: enriched.to_string(),
                kafka: self.options.kafka.clone(),
                start: Start::Beginning,
                max_messages: None,
                timeout: Duration::from_secs(30),
                verify: Some(self.options.data_file.clone()),
                verify_first: Some(produced.max(0) as u64),
                pipeline_latency_since_ms: measure_from_ms,
            },
            |_| {},
        )
        .with_context(|| format!("cannot read the enriched topic '{enriched}'"))?;
        let e2e = summary.pipeline_latency.map(|l| E2eLatency {
            p50_ms: l.p50_ms as f64,
            p95_ms: l.p95_ms as f64,
            p99_ms: l.p99_ms as f64,
            batches: 0,
            rows: l.count as i64,
        });
        let exact = summary.verify.filter(|v| v.is_exact());
        Ok((e2e, exact.map(|v| v.present as i64)))
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
            expected_rows: parts.expected_rows,
            output_calls: parts.output_calls,
            rows_per_s: s.overall_rows_per_second,
            batch_rows_per_s_p50: s.processed_rows_per_second.map(|r| r.p50),
            batch_ms_p50: s.batch_latency.map(|l| l.p50_ms),
            batch_ms_p95: s.batch_latency.map(|l| l.p95_ms),
            driver_peak_rss_mib: parts.memory.peak_rss_kib.map(|kib| kib as f64 / 1024.0),
            driver_xmx: parts.memory.xmx,
            driver_cpu_s: parts.memory.cpu_s,
            produce_rate: self.spec.latency.map(|l| l.rate),
            e2e_ms_p50: parts.e2e.map(|e| e.p50_ms),
            e2e_ms_p95: parts.e2e.map(|e| e.p95_ms),
            e2e_ms_p99: parts.e2e.map(|e| e.p99_ms),
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
    expected_rows: i64,
    output_calls: Option<i64>,
    memory: DriverMemory,
    e2e: Option<E2eLatency>,
    error: Option<String>,
}

/// Partitions of a latency run's topic, as the main topic has.
const LATENCY_PARTITIONS: i32 = 3;

/// The producer side of one latency run.
struct Load {
    spec: LatencySpec,
    topic: String,
    producer: Option<Child>,
    /// The producer was started (and may have finished).
    produced: bool,
    stop_sent: bool,
    /// When the warm-up ends: records appended before are not measured.
    measure_from_ms: i64,
    /// When the producer was first seen done (every record acknowledged).
    producer_done_ms: Option<i64>,
    /// The real-time pipeline's output topic: the run is caught up when it
    /// holds as many records as the input (its progress comes only once a
    /// checkpoint interval, which may be minutes).
    output_topic: Option<String>,
    last_output_check: Option<Instant>,
    /// The job's lifecycle events ([`sfcrime_spark::RunPaths::events`]).
    events_file: Option<PathBuf>,
}

/// Whether the job's lifecycle events file says its query started.
fn query_started(events: &Path) -> bool {
    std::fs::read_to_string(events).is_ok_and(|text| {
        text.lines().any(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .is_ok_and(|event| event["event"] == "started")
        })
    })
}

impl Load {
    /// Starts the producer at the query's first trigger (so the load does
    /// not pile up behind a JVM that is still starting), and stops the job
    /// once the producer is done and the query has read everything.
    fn on_progress(
        &mut self,
        p: &sfcrime_spark::StreamingQueryProgress,
        pgid: u32,
        options: &SweepOptions,
        log: Log<'_>,
    ) {
        if !self.produced {
            self.start_producer(options, log);
            return;
        }
        self.note_producer_done();
        // Caught up only by a batch that began after the producer was done:
        // an earlier one measured "behind" against an older end of the topic
        // (with trigger 0, stopping then lost the last few hundred records).
        let caught_up = self
            .producer_done_ms
            .zip(p.timestamp_millis())
            .is_some_and(|(done, began)| began >= done)
            && p.offsets_behind_latest() == Some(0);
        if caught_up {
            self.stop_job(pgid, log, "producer done and the query caught up");
        }
    }

    /// Starts `sfcrime produce` at the spec's rate, once.
    fn start_producer(&mut self, options: &SweepOptions, log: Log<'_>) {
        self.produced = true;
        match produce_command(options, &self.topic)
            .arg("--rate")
            .arg(self.spec.rate.to_string())
            .arg("--duration")
            .arg((self.spec.warmup_s + self.spec.duration_s).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
        {
            Ok(child) => {
                self.measure_from_ms = unix_millis() + (self.spec.warmup_s * 1000.0) as i64;
                log(&format!(
                    "    producing {} records/s for {} s (+{} s warm-up) to {}",
                    self.spec.rate, self.spec.duration_s, self.spec.warmup_s, self.topic
                ));
                self.producer = Some(child);
            }
            Err(e) => log(&format!("    cannot start the producer: {e}")),
        }
    }

    /// Between progress events: a real-time run is caught up once its
    /// output topic holds every input record (checked once a second).
    fn on_poll(&mut self, pgid: u32, options: &SweepOptions, log: Log<'_>) {
        let Some(output) = self.output_topic.clone() else {
            return;
        };
        if !self.produced {
            // Its first progress event comes only after a checkpoint
            // interval: produce from the query's start (the warm-up covers
            // its first tasks' start).
            if self.events_file.as_deref().is_some_and(query_started) {
                self.start_producer(options, log);
            }
            return;
        }
        if self.stop_sent
            || self
                .last_output_check
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_output_check = Some(Instant::now());
        self.note_producer_done();
        if self.producer_done_ms.is_none() {
            return;
        }
        let sizes = topic_size(&options.kafka, &self.topic)
            .and_then(|input| topic_size(&options.kafka, &output).map(|output| (input, output)));
        if matches!(sizes, Ok((input, output)) if input > 0 && output >= input) {
            self.stop_job(
                pgid,
                log,
                "producer done and every record is in the output topic",
            );
        }
    }

    fn note_producer_done(&mut self) {
        if self.producer_done_ms.is_none() {
            let done = match self.producer.as_mut() {
                Some(child) => matches!(child.try_wait(), Ok(Some(_))),
                None => true,
            };
            if done {
                self.producer_done_ms = Some(unix_millis());
            }
        }
    }

    /// The job's documented stop: SIGINT to its process group lets the
    /// running batch finish and writes the final results.
    fn stop_job(&mut self, pgid: u32, log: Log<'_>, why: &str) {
        if std::mem::replace(&mut self.stop_sent, true) {
            return;
        }
        log(&format!("    {why}: stopping the job"));
        if let Ok(pgid) = libc::pid_t::try_from(pgid) {
            // SAFETY: kill(2) on our child's process group; plain integers.
            unsafe {
                libc::kill(-pgid, libc::SIGINT);
            }
        }
    }

    /// Ends the producer if it still runs, and returns how many records
    /// the topic got; the topic is deleted to keep the broker small.
    fn finish(&mut self, options: &SweepOptions) -> Result<i64> {
        if let Some(mut child) = self.producer.take() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        let produced = topic_size(&options.kafka, &self.topic)?;
        admin::delete_topic(&options.kafka, &self.topic, Duration::from_secs(30))?;
        Ok(produced)
    }
}

/// Calls counted over all crime types in the job's final results: equal to
/// the topic's record count when nothing was lost or counted twice.
fn final_call_count(output: &Path) -> Option<i64> {
    FinalResults::read(output)
        .ok()
        .map(|results| results.total_calls() as i64)
}

/// `sfcrime produce` of the data file into `topic`, with the sweep's broker
/// and client settings. The settings go through the environment, as the
/// job's do (never a command line), and always: the child then uses
/// exactly these, not its own default properties file.
pub fn produce_command(options: &SweepOptions, topic: &str) -> Command {
    let mut command = Command::new(&options.sfcrime);
    command
        .env("SFCRIME_HOME", &options.home)
        .env(
            KAFKA_SETTINGS_ENV,
            kafka_settings_env(&options.kafka.overrides),
        )
        .args([
            "produce",
            "-t",
            topic,
            "-b",
            &options.kafka.bootstrap_servers,
            "-f",
        ])
        .arg(&options.data_file);
    command
}

/// Records in `topic` now (a topic that does not exist is an error).
/// How long a sweep waits for the broker to answer.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

pub fn topic_size(kafka: &KafkaSettings, topic: &str) -> Result<i64> {
    admin::topic_size(kafka, topic, BROKER_TIMEOUT)
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
    // Compared as absolute paths: a results dir given as `runs/x` holds run
    // dirs that the runner names absolutely.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, base) = (absolute(path), absolute(base));
    path.strip_prefix(&base)
        .unwrap_or(&path)
        .display()
        .to_string()
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The 1-minute load average, or NaN where /proc/loadavg is unreadable.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
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

    fn options() -> SweepOptions {
        SweepOptions {
            home: PathBuf::from("/x"),
            sfcrime: PathBuf::from("/x/sfcrime"),
            results_dir: PathBuf::from("/x/r"),
            kafka: KafkaSettings::new("127.0.0.1:1"),
            topic: "t".into(),
            data_file: PathBuf::from("/x/calls.json"),
            quiet: None,
            max_consecutive_failures: 3,
        }
    }

    #[test]
    fn the_producer_gets_the_client_settings_in_its_environment_only() {
        let mut options = options();
        options.kafka.overrides = vec![
            ("security.protocol".into(), "SASL_SSL".into()),
            ("sasl.password".into(), "hunter2".into()),
        ];
        let command = produce_command(&options, "lt.1");
        let args: Vec<_> = command.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "produce",
                "-t",
                "lt.1",
                "-b",
                "127.0.0.1:1",
                "-f",
                "/x/calls.json"
            ]
        );
        let env = command
            .get_envs()
            .find(|(k, _)| *k == KAFKA_SETTINGS_ENV)
            .and_then(|(_, v)| v)
            .unwrap();
        let mut settings =
            sfcrime_spark::job::parse_kafka_settings_env(env.to_str().unwrap()).unwrap();
        settings.sort();
        assert_eq!(settings, {
            let mut expected = options.kafka.overrides.clone();
            expected.sort();
            expected
        });
        // None at all is passed on as none, not left to the child's defaults.
        let env = produce_command(&self::options(), "t")
            .get_envs()
            .find(|(k, _)| *k == KAFKA_SETTINGS_ENV)
            .and_then(|(_, v)| v.map(|v| v.to_owned()));
        assert_eq!(env.as_deref(), Some(std::ffi::OsStr::new("{}")));
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
