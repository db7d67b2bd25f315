//! The job's interface, owned here once: the arguments of
//! `python/data_stream.py` as a typed value that `spark run`, `sweep` and
//! `bench` fill in and turn into its command line and environment, the
//! low-latency preset, and the reader of its final results.

use crate::runner::SparkRun;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// How a child of sfcrime receives the Kafka client settings: a JSON object
/// of librdkafka settings in its environment (a password on a command line
/// can be read by any local user with `ps`). data_stream.py reads it, and so
/// does `sfcrime produce` when a sweep or bench starts it.
pub const KAFKA_SETTINGS_ENV: &str = "SFCRIME_KAFKA_CLIENT_SETTINGS";

/// `settings` as the value of [`KAFKA_SETTINGS_ENV`]; of a key given twice,
/// the later value, as when they are applied in order.
pub fn kafka_settings_env(settings: &[(String, String)]) -> String {
    let object: serde_json::Map<String, serde_json::Value> = settings
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// The settings in a [`KAFKA_SETTINGS_ENV`] value.
pub fn parse_kafka_settings_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("${KAFKA_SETTINGS_ENV} is not JSON: {e}"))?;
    let serde_json::Value::Object(object) = value else {
        return Err(format!("${KAFKA_SETTINGS_ENV} must be a JSON object"));
    };
    object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(value) => Ok((key, value)),
            _ => Err(format!(
                "${KAFKA_SETTINGS_ENV}: the value of {key} must be a string"
            )),
        })
        .collect()
}

/// When the query runs its batches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trigger {
    /// The job's own default processing-time trigger.
    #[default]
    JobDefault,
    /// Read what the topic holds now, in batches, then stop.
    AvailableNow,
    /// A processing-time trigger, e.g. "10 seconds" ("0 seconds": the next
    /// batch starts as soon as the last one ended).
    ProcessingTime(String),
    /// The stateless enriched-calls pipeline in Spark's real-time mode; the
    /// value is its checkpoint interval (None: the job's default).
    RealTime(Option<String>),
}

/// Spark settings and job options of the job's low-latency run (`spark run
/// --low-latency`, `bench latency`): each measured in docs/BENCHMARKS.md.
pub struct Preset {
    pub name: &'static str,
    pub confs: &'static [(&'static str, &'static str)],
    /// By their sweep names ([`JOB_OPTIONS`]), for [`JobArgs::set_option`].
    pub job_options: &'static [(&'static str, &'static str)],
}

/// The stateful query tuned for end-to-end latency: a new batch as soon as
/// the last one ended, one state-store partition (each shuffle partition
/// costs a task, a state-store load and a commit per batch) read in the same
/// task as the topic (no shuffle), and RocksDB state with changelog
/// checkpointing (the default HDFS-backed store copies its whole map for
/// every batch; Spark's own latency benchmarks use RocksDB the same way).
pub const LOW_LATENCY: Preset = Preset {
    name: "low-latency",
    confs: &[
        ("spark.sql.shuffle.partitions", "1"),
        (
            "spark.sql.streaming.stateStore.providerClass",
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
        ),
        (
            "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled",
            "true",
        ),
        (
            "spark.sql.streaming.stateStore.rocksdb.trackTotalNumberOfRows",
            "false",
        ),
    ],
    job_options: &[("trigger", "0 seconds"), ("readInOneTask", "true")],
};

/// The job's `--source` for Spark's own Kafka source, spark-sql-kafka.
pub const SPARK_SQL_KAFKA: &str = "kafka";
/// The job's `--source` for sfcrime's Rust connector, and the connector's one
/// name: its PySpark data source and Python module (python/sfcrime_connector.py),
/// that module's compiled half `_sfcrime_connector`, the crate rust/connector.
pub const CONNECTOR: &str = "sfcrime_connector";
/// The connector's `--source` before it was named [`CONNECTOR`]: still taken
/// until the next release (the job reads it as [`CONNECTOR`]).
pub const CONNECTOR_OLD_NAME: &str = "sfcrime";

/// Everything `python/data_stream.py` is told, as typed values.
#[derive(Debug, Clone, Default)]
pub struct JobArgs {
    /// [`SPARK_SQL_KAFKA`] or [`CONNECTOR`]; None: the job's default.
    pub source: Option<String>,
    pub bootstrap_servers: String,
    pub topic: String,
    pub starting_offsets: Option<String>,
    pub radio_codes: Option<PathBuf>,
    pub max_offsets_per_trigger: Option<u64>,
    pub min_offsets_per_trigger: Option<u64>,
    pub max_trigger_delay: Option<String>,
    /// About this many Spark tasks per batch's read (both sources'
    /// `minPartitions`; None: one per topic partition).
    pub min_partitions: Option<u64>,
    pub fail_on_data_loss: Option<bool>,
    pub window: Option<String>,
    pub watermark: Option<String>,
    /// A path or URI (the checkpoint may be on HDFS or S3).
    pub checkpoint_dir: String,
    pub output_dir: PathBuf,
    pub trigger: Trigger,
    /// The real-time pipeline's output topic (None: `<topic>.enriched`).
    pub output_topic: Option<String>,
    /// Updated rows printed per batch (None: the job's default).
    pub console_rows: Option<u32>,
    /// Read all topic partitions in one task (no shuffle with one shuffle
    /// partition): faster small batches, slower large ones.
    pub read_in_one_task: bool,
    /// Count each record of the file once when the topic holds it more than
    /// once (by its `sfcrime.index` header).
    pub drop_duplicates: bool,
    /// Report each batch's Kafka timestamps, for end-to-end latency.
    pub observe_kafka_timestamps: bool,
    /// The consumer group the connector commits the query's progress to
    /// ([`CONNECTOR`] only), so that Kafka's tools show its lag.
    pub commit_group: Option<String>,
    /// librdkafka client settings (-X / -F), passed through the environment.
    pub kafka_settings: Vec<(String, String)>,
}

/// A sweep parameter that is not one of the job's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownJobOption(pub String);

impl fmt::Display for UnknownJobOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a job option (known: {})",
            self.0,
            JOB_OPTIONS.join(", ")
        )
    }
}

/// The job options a sweep can vary, by the names sweeps use (the Kafka
/// source's option names where there is one).
pub const JOB_OPTIONS: [&str; 9] = [
    "source",
    "maxOffsetsPerTrigger",
    "minOffsetsPerTrigger",
    "maxTriggerDelay",
    "minPartitions",
    "trigger",
    "realTime",
    "readInOneTask",
    "dropDuplicates",
];

impl JobArgs {
    /// Sets one option by its sweep name ([`JOB_OPTIONS`]). `trigger` is a
    /// processing-time interval; `realTime` a real-time checkpoint interval
    /// ("default" for the job's).
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<(), String> {
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{key} must be a whole number, not '{v}'"))
        };
        let boolean = |v: &str| {
            v.parse::<bool>()
                .map_err(|_| format!("{key} must be true or false, not '{v}'"))
        };
        match key {
            "source" => self.source = Some(value.to_string()),
            "maxOffsetsPerTrigger" => self.max_offsets_per_trigger = Some(number(value)?),
            "minOffsetsPerTrigger" => self.min_offsets_per_trigger = Some(number(value)?),
            "maxTriggerDelay" => self.max_trigger_delay = Some(value.to_string()),
            "minPartitions" => self.min_partitions = Some(number(value)?),
            "trigger" => self.trigger = Trigger::ProcessingTime(value.to_string()),
            "realTime" => {
                self.trigger =
                    Trigger::RealTime(Some(value).filter(|v| *v != "default").map(String::from))
            }
            "readInOneTask" => self.read_in_one_task = boolean(value)?,
            "dropDuplicates" => self.drop_duplicates = boolean(value)?,
            _ => return Err(UnknownJobOption(key.to_string()).to_string()),
        }
        Ok(())
    }

    /// The job's command line, flag by flag.
    pub fn command_line(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                args.push(name.to_string());
                args.push(value);
            }
        };
        flag("--source", self.source.clone());
        flag("--bootstrap-servers", Some(self.bootstrap_servers.clone()));
        flag("--topic", Some(self.topic.clone()));
        flag("--starting-offsets", self.starting_offsets.clone());
        flag(
            "--radio-codes",
            self.radio_codes.as_ref().map(|p| p.display().to_string()),
        );
        flag(
            "--max-offsets-per-trigger",
            self.max_offsets_per_trigger.map(|n| n.to_string()),
        );
        flag(
            "--min-offsets-per-trigger",
            self.min_offsets_per_trigger.map(|n| n.to_string()),
        );
        flag("--max-trigger-delay", self.max_trigger_delay.clone());
        flag(
            "--min-partitions",
            self.min_partitions.map(|n| n.to_string()),
        );
        flag("--commit-group", self.commit_group.clone());
        flag(
            "--fail-on-data-loss",
            self.fail_on_data_loss.map(|b| b.to_string()),
        );
        flag("--window", self.window.clone());
        flag("--watermark", self.watermark.clone());
        flag("--checkpoint-dir", Some(self.checkpoint_dir.clone()));
        flag("--output-dir", Some(self.output_dir.display().to_string()));
        flag("--output-topic", self.output_topic.clone());
        flag("--console-rows", self.console_rows.map(|n| n.to_string()));
        match &self.trigger {
            Trigger::JobDefault => {}
            Trigger::AvailableNow => args.push("--available-now".into()),
            Trigger::ProcessingTime(interval) => {
                args.push("--trigger-interval".into());
                args.push(interval.clone());
            }
            Trigger::RealTime(interval) => {
                // An optional value: given as one word so it cannot be
                // taken for the next flag's.
                args.push(match interval {
                    Some(interval) => format!("--real-time={interval}"),
                    None => "--real-time".into(),
                });
            }
        }
        if self.read_in_one_task {
            args.push("--read-in-one-task".into());
        }
        if self.drop_duplicates {
            args.push("--drop-duplicates".into());
        }
        if self.observe_kafka_timestamps {
            args.push("--observe-kafka-timestamps".into());
        }
        args
    }

    /// `run` with this job's arguments and settings environment added.
    pub fn apply(&self, mut run: SparkRun) -> SparkRun {
        for arg in self.command_line() {
            run = run.app_arg(arg);
        }
        if !self.kafka_settings.is_empty() {
            run = run.env(KAFKA_SETTINGS_ENV, kafka_settings_env(&self.kafka_settings));
        }
        run
    }

    /// Where the real-time pipeline writes (the job's own default).
    pub fn enriched_topic(&self) -> String {
        self.output_topic
            .clone()
            .unwrap_or_else(|| format!("{}.enriched", self.topic))
    }
}

/// One line of `final/crime_type_totals.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CrimeTypeTotal {
    pub original_crime_type_name: Option<String>,
    pub count: u64,
}

/// One line of `final/dispositions.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DispositionTotal {
    pub disposition: Option<String>,
    pub description: Option<String>,
    pub count: u64,
}

/// One line of `final/crime_type_window.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WindowCount {
    pub window_start: String,
    pub original_crime_type_name: Option<String>,
    pub count: u64,
}

/// The job's exact totals, `<output dir>/final/`: per crime type and per
/// disposition. (Its third file, the counts per window and crime type, has
/// ~127,000 lines for the whole dataset: read only on request,
/// [`FinalResults::read_windows`].)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalResults {
    pub crime_type_totals: Vec<CrimeTypeTotal>,
    pub dispositions: Vec<DispositionTotal>,
}

impl FinalResults {
    /// Reads the totals files the job writes when it ends.
    pub fn read(output_dir: &Path) -> Result<Self, String> {
        let dir = output_dir.join("final");
        Ok(FinalResults {
            crime_type_totals: read_jsonl(&dir.join("crime_type_totals.jsonl"))?,
            dispositions: read_jsonl(&dir.join("dispositions.jsonl"))?,
        })
    }

    /// The counts per (window, crime type), `final/crime_type_window.jsonl`:
    /// what the tests compare with the ground truth.
    pub fn read_windows(output_dir: &Path) -> Result<Vec<WindowCount>, String> {
        read_jsonl(&output_dir.join("final").join("crime_type_window.jsonl"))
    }

    /// Calls counted over all crime types.
    pub fn total_calls(&self) -> u64 {
        self.crime_type_totals.iter().map(|t| t.count).sum()
    }

    /// Crime types, the most calls first (ties by name), as every report
    /// lists them.
    pub fn crime_types_by_count(&self) -> Vec<&CrimeTypeTotal> {
        let mut types: Vec<&CrimeTypeTotal> = self.crime_type_totals.iter().collect();
        types.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.original_crime_type_name.cmp(&b.original_crime_type_name))
        });
        types
    }

    /// Dispositions, the most calls first (ties by code).
    pub fn dispositions_by_count(&self) -> Vec<&DispositionTotal> {
        let mut dispositions: Vec<&DispositionTotal> = self.dispositions.iter().collect();
        dispositions.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.disposition.cmp(&b.disposition))
        });
        dispositions
    }
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the job wrote no {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_settings_go_through_the_environment_and_back() {
        let settings = vec![
            ("security.protocol".to_string(), "SASL_SSL".to_string()),
            ("sasl.password".to_string(), "a\"b=c\\d".to_string()),
            ("security.protocol".to_string(), "SSL".to_string()),
        ];
        let text = kafka_settings_env(&settings);
        let mut back = parse_kafka_settings_env(&text).unwrap();
        back.sort();
        assert_eq!(
            back,
            [
                ("sasl.password".to_string(), "a\"b=c\\d".to_string()),
                ("security.protocol".to_string(), "SSL".to_string()),
            ]
        );
        assert_eq!(kafka_settings_env(&[]), "{}");
        for bad in ["", "[1]", r#"{"acks": 1}"#] {
            let err = parse_kafka_settings_env(bad).unwrap_err();
            assert!(err.contains(KAFKA_SETTINGS_ENV), "{err}");
        }
    }

    fn args() -> JobArgs {
        JobArgs {
            bootstrap_servers: "b:9092".into(),
            topic: "t".into(),
            checkpoint_dir: "/c".into(),
            output_dir: "/o".into(),
            ..JobArgs::default()
        }
    }

    #[test]
    fn command_line_has_only_what_is_set() {
        let mut job = args();
        job.trigger = Trigger::AvailableNow;
        job.max_offsets_per_trigger = Some(5);
        job.commit_group = Some("sfcrime-g".into());
        assert_eq!(
            job.command_line(),
            [
                "--bootstrap-servers",
                "b:9092",
                "--topic",
                "t",
                "--max-offsets-per-trigger",
                "5",
                "--commit-group",
                "sfcrime-g",
                "--checkpoint-dir",
                "/c",
                "--output-dir",
                "/o",
                "--available-now"
            ]
        );
    }

    #[test]
    fn real_time_interval_is_one_word() {
        let mut job = args();
        job.set_option("realTime", "5 seconds").unwrap();
        assert!(job
            .command_line()
            .ends_with(&["--real-time=5 seconds".to_string()]));
        job.set_option("realTime", "default").unwrap();
        assert!(job.command_line().ends_with(&["--real-time".to_string()]));
        assert_eq!(job.enriched_topic(), "t.enriched");
    }

    #[test]
    fn sweep_options_are_typed_and_unknown_ones_refused() {
        let mut job = args();
        job.set_option("trigger", "0 seconds").unwrap();
        assert_eq!(job.trigger, Trigger::ProcessingTime("0 seconds".into()));
        let err = job.set_option("maxOffsetsPerTrigger", "x").unwrap_err();
        assert!(err.contains("whole number"), "{err}");
        let err = job.set_option("maxRatePerPartition", "5").unwrap_err();
        assert!(err.contains("not a job option"), "{err}");
        job.set_option("readInOneTask", "true").unwrap();
        assert!(job
            .command_line()
            .contains(&"--read-in-one-task".to_string()));
        let err = job.set_option("readInOneTask", "yes").unwrap_err();
        assert!(err.contains("true or false"), "{err}");
        job.set_option("dropDuplicates", "true").unwrap();
        assert!(job
            .command_line()
            .contains(&"--drop-duplicates".to_string()));
    }

    #[test]
    fn final_results_are_read_and_summed() {
        let dir = tempfile::tempdir().unwrap();
        let final_dir = dir.path().join("final");
        std::fs::create_dir_all(&final_dir).unwrap();
        std::fs::write(
            final_dir.join("crime_type_totals.jsonl"),
            "{\"original_crime_type_name\":\"A\",\"count\":3}\n{\"original_crime_type_name\":null,\"count\":4}\n",
        )
        .unwrap();
        let missing = FinalResults::read(dir.path()).unwrap_err();
        assert!(missing.contains("dispositions.jsonl"), "{missing}");
        std::fs::write(
            final_dir.join("dispositions.jsonl"),
            "{\"disposition\":\"ND\",\"description\":null,\"count\":7}\n",
        )
        .unwrap();
        let results = FinalResults::read(dir.path()).unwrap();
        assert_eq!(results.total_calls(), 7);
        assert_eq!(results.dispositions[0].description, None);
    }
}
