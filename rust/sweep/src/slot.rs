//! One run of a sweep: a (point, repeat) of the plan. Sets up its topic,
//! checkpoint and output, runs the job with the point's settings (and, in a
//! latency sweep, a producer beside it, [`crate::load`]), checks what came
//! out against what went in, and turns it all into the run's record.

use anyhow::{Context, Result};
use sfcrime_kafka::admin;
use sfcrime_kafka::consume::{consume, ConsumeOptions, Start};
use sfcrime_spark::clock::rfc3339_utc;
use sfcrime_spark::latency::{e2e_latency, E2eLatency};
use sfcrime_spark::{
    read_progress_file, FinalResults, JobArgs, RunEvent, RunSummary, SparkRun, SparkRunError,
    StopReason, Trigger,
};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::grid::{fixed_by_server, LatencySpec, Point, SweepSpec};
use crate::load::{copies_for, Load};
use crate::memory::{DriverMemory, Sampler};
use crate::results::{ResultsDir, RunRecord, RunStatus};
use crate::scaled::Scaled;
use crate::sweep::{load_average, relative, Log, SweepOptions};

/// One (point, repeat) to run.
pub(crate) struct SlotRun<'a> {
    pub(crate) spec: &'a SweepSpec,
    pub(crate) options: &'a SweepOptions,
    pub(crate) point: &'a Point,
    pub(crate) repeat: u32,
    pub(crate) order: usize,
    /// Records in the sweep's topic (throughput sweeps).
    pub(crate) expected_rows: i64,
    /// A `copies` point's topic and N-fold ground truth.
    pub(crate) scaled: Option<&'a Scaled>,
    /// Records in the data file (latency sweeps, which produce from it).
    pub(crate) data_records: u64,
}

impl SlotRun<'_> {
    /// Runs the job once; `None` when Ctrl-C stopped it.
    pub(crate) fn run(&self, results: &ResultsDir, log: Log<'_>) -> Result<Option<RunRecord>> {
        let slot_dir = results.slot_dir(&self.point.id, self.repeat);
        let checkpoint = slot_dir.join("checkpoint");
        let output = slot_dir.join("output");
        // A retried slot starts from scratch: an old checkpoint would make
        // the job skip what it already read.
        for dir in [&checkpoint, &output] {
            remove_dir_if_present(dir)?;
        }
        let latency = self.latency();
        let topic = match (latency, self.scaled) {
            (Some(_), _) => {
                let topic = self.latency_topic_name();
                self.create_latency_topic(&topic)?;
                topic
            }
            (None, Some(scaled)) => scaled.topic.clone(),
            (None, None) => self.options.topic.clone(),
        };
        let mut run = SparkRun::new(&self.options.home).runs_dir(&slot_dir);
        let remote = self.options.remote.as_ref();
        if let Some(url) = remote {
            run = run.spark_arg("--remote").spark_arg(url);
        }
        for (key, value) in self.point.spark_confs() {
            // (the same in every point: run_sweep checked)
            if remote.is_none() || !fixed_by_server(key) {
                run = run.conf(key, value);
            }
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
        let copies = latency.map_or(1, |l| copies_for(l, self.data_records));
        let mut load =
            latency.map(|spec| Load::new(spec, copies, &topic, job.output_topic.clone()));
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
        let load_after = load_average();
        let memory = sampler.map(Sampler::finish).unwrap_or_default();
        let expected_rows = match (load.as_mut(), self.scaled) {
            (Some(load), _) => load.finish(self.options)?,
            (None, Some(scaled)) => scaled.truth.records as i64,
            (None, None) => self.expected_rows,
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
                self.read_enriched(enriched, expected_rows, copies, measure_from)?
            }
            (_, Some(_)) => (None, None),
            (Some(_), None) => (
                e2e_latency(&read_progress_file(&paths.progress)?, measure_from),
                final_call_count(&output),
            ),
            (None, None) => (None, final_call_count(&output)),
        };
        // A latency run that measured no record has no latency to report.
        let error = match (latency, error, &e2e) {
            (Some(_), None, None) => {
                Some("no record was appended after the warm-up: nothing was measured".to_string())
            }
            (_, error, _) => error,
        };
        if let Some(enriched) = &job.output_topic {
            admin::delete_topic(&self.options.kafka, enriched, Duration::from_secs(30))?;
        }
        // A `copies` run counts only when every count equals the N-fold truth.
        let mismatch = match (self.scaled, &error) {
            (Some(scaled), None) => {
                let diffs = scaled.differences(&output);
                (!diffs.is_empty()).then(|| {
                    format!(
                        "the counts differ from the {}-record ground truth: {}",
                        scaled.truth.records,
                        diffs.join("; ")
                    )
                })
            }
            _ => None,
        };
        // The run's page, while its output is still there. A sweep goes on
        // without it: the run's numbers are in its record either way.
        if let Err(e) = sfcrime_report::write_run_report(&paths.dir, &output) {
            log(&format!("    no run report: {e:#}"));
        }
        let state_disk_bytes = dir_size(&checkpoint.join("state"));
        // The output is only needed for the count; the checkpoint for the
        // state's size. Dropping both keeps a 40-run sweep at megabytes
        // instead of gigabytes.
        for dir in [&checkpoint, &output] {
            remove_dir_if_present(dir)?;
        }
        let status = match (&error, output_calls) {
            (Some(_), _) => RunStatus::Failed,
            (None, _) if mismatch.is_some() => RunStatus::WrongCount,
            (None, Some(calls))
                if calls == expected_rows
                    && (real_time || summary.total_input_rows == expected_rows) =>
            {
                RunStatus::Ok
            }
            (None, _) => RunStatus::WrongCount,
        };
        let mut record = self.record(RecordParts {
            status,
            started_at,
            run_dir: relative(&paths.dir, results.path()),
            load_before,
            load_after,
            wall_s,
            summary,
            expected_rows,
            output_calls,
            memory,
            state_disk_bytes,
            e2e,
            error: error.or(mismatch),
        });
        record.judge_noise(self.options.quiet.max_load);
        Ok(Some(record))
    }

    /// The latency spec of this run, at the point's `rate` if it has one.
    fn latency(&self) -> Option<LatencySpec> {
        let rate = self.point.rate().ok().flatten();
        self.spec.latency.map(|l| LatencySpec {
            rate: rate.unwrap_or(l.rate),
            ..l
        })
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
        copies: u64,
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
                verify_copies: copies,
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
            load_after: Some(parts.load_after),
            // Set by `judge_noise`.
            max_load: None,
            noisy: false,
            wall_s: parts.wall_s,
            query_s: s.wall_ms.map(|ms| ms as f64 / 1000.0),
            first_batch_s: s.time_to_first_batch_ms.map(|ms| ms as f64 / 1000.0),
            first_trigger_s: s.time_to_first_trigger_ms.map(|ms| ms as f64 / 1000.0),
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
            state_rows: s.state_rows_at_end,
            state_disk_mib: parts.state_disk_bytes.map(|b| mib(b as f64)),
            state_memory_mib: s.state_memory_bytes_at_end.map(|b| mib(b as f64)),
            produce_rate: self.latency().map(|l| l.rate),
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
    load_after: f64,
    wall_s: f64,
    summary: RunSummary,
    expected_rows: i64,
    output_calls: Option<i64>,
    memory: DriverMemory,
    state_disk_bytes: Option<u64>,
    e2e: Option<E2eLatency>,
    error: Option<String>,
}

/// Partitions of a latency run's topic, as the main topic has.
const LATENCY_PARTITIONS: i32 = 3;

/// Calls counted over all crime types in the job's final results: equal to
/// the topic's record count when nothing was lost or counted twice.
fn final_call_count(output: &Path) -> Option<i64> {
    FinalResults::read(output)
        .ok()
        .map(|results| results.total_calls() as i64)
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

/// Bytes of every file under `dir` (symlinks not followed), or None when
/// `dir` does not exist (a stateless query leaves no state) or cannot be
/// read.
fn dir_size(dir: &Path) -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        let kind = entry.file_type().ok()?;
        total += if kind.is_dir() {
            dir_size(&entry.path())?
        } else {
            entry.metadata().ok()?.len()
        };
    }
    Some(total)
}
