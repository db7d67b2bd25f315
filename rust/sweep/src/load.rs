//! The producer side of one latency run: `sfcrime produce` at the spec's
//! rate into the run's fresh topic, started once the query runs, and the
//! job's stop once the producer is done and the query has caught up.

use anyhow::Result;
use sfcrime_kafka::admin;
use sfcrime_spark::job::{kafka_settings_env, KAFKA_SETTINGS_ENV};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::grid::LatencySpec;
use crate::sweep::{topic_size, Log, SweepOptions};

/// The producer side of one latency run.
pub(crate) struct Load {
    spec: LatencySpec,
    /// Times the data file is sent over ([`copies_for`]).
    copies: u64,
    topic: String,
    producer: Option<Child>,
    /// The producer was started (and may have finished).
    produced: bool,
    stop_sent: bool,
    /// When the warm-up ends: records appended before are not measured.
    pub(crate) measure_from_ms: i64,
    /// When the producer was first seen done (every record acknowledged).
    producer_done_ms: Option<i64>,
    /// The real-time pipeline's output topic: the run is caught up when it
    /// holds as many records as the input (its progress comes only once a
    /// checkpoint interval, which may be minutes).
    output_topic: Option<String>,
    last_output_check: Option<Instant>,
    /// The job's lifecycle events ([`sfcrime_spark::RunPaths::events`]).
    pub(crate) events_file: Option<PathBuf>,
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
    /// The load of a run reading `topic` (and, in the real-time pipeline,
    /// writing `output_topic`); nothing is produced yet.
    pub(crate) fn new(
        spec: LatencySpec,
        copies: u64,
        topic: &str,
        output_topic: Option<String>,
    ) -> Self {
        Load {
            spec,
            copies,
            topic: topic.to_string(),
            output_topic,
            last_output_check: None,
            events_file: None,
            producer: None,
            produced: false,
            stop_sent: false,
            measure_from_ms: 0,
            producer_done_ms: None,
        }
    }

    /// Starts the producer at the query's first trigger (so the load does
    /// not pile up behind a JVM that is still starting), and stops the job
    /// once the producer is done and the query has read everything.
    pub(crate) fn on_progress(
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
        match sfcrime_process::spawn(
            produce_command(options, &self.topic)
                .arg("--rate")
                .arg(self.spec.rate.to_string())
                .arg("--duration")
                .arg((self.spec.warmup_s + self.spec.duration_s).to_string())
                .arg("--copies")
                .arg(self.copies.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        ) {
            Ok(child) => {
                self.measure_from_ms = unix_millis() + (self.spec.warmup_s * 1000.0) as i64;
                log(&format!(
                    "    producing {} records/s for {} s (+{} s warm-up) to {}",
                    self.spec.rate, self.spec.duration_s, self.spec.warmup_s, self.topic
                ));
                self.producer = Some(child);
            }
            Err(e) => log(&format!("    {e}")),
        }
    }

    /// Between progress events: a real-time run is caught up once its
    /// output topic holds every input record (checked once a second).
    pub(crate) fn on_poll(&mut self, pgid: u32, options: &SweepOptions, log: Log<'_>) {
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
        // A group already gone has nothing left to stop.
        let _ = sfcrime_process::signal_group(pgid, libc::SIGINT);
    }

    /// Ends the producer if it still runs, and returns how many records
    /// the topic got; the topic is deleted to keep the broker small.
    pub(crate) fn finish(&mut self, options: &SweepOptions) -> Result<i64> {
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

/// How many copies of a data file of `records` records a latency run sends
/// (`produce --copies`): enough that the file does not run out before the
/// run's time does (at 20,000 records/s one copy of the calls lasts 10 s).
pub(crate) fn copies_for(spec: LatencySpec, records: u64) -> u64 {
    let wanted = spec.rate * (spec.warmup_s + spec.duration_s);
    ((wanted / records.max(1) as f64).ceil() as u64).max(1)
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::tests::options;

    #[test]
    fn a_fast_run_sends_the_file_as_many_times_as_its_time_needs() {
        let spec = |rate| LatencySpec {
            rate,
            duration_s: 30.0,
            warmup_s: 15.0,
        };
        assert_eq!(copies_for(spec(1000.0), 199_999), 1);
        assert_eq!(copies_for(spec(4444.0), 199_999), 1);
        assert_eq!(copies_for(spec(5000.0), 199_999), 2);
        assert_eq!(copies_for(spec(20_000.0), 199_999), 5);
        assert_eq!(copies_for(spec(1.0), 0), 45);
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
}
