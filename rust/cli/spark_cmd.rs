//! `sfcrime spark run`: flags for spark-submit and the job, the live
//! progress table, and the end-of-run summary and results; `spark cluster`
//! is in spark_cluster_cmd.rs.

use crate::kafka_args::KafkaArgs;
use crate::spark_cluster_cmd::{self, ClusterArgs};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use sfcrime_config::{parse_key_value, Settings};
use sfcrime_spark::{new_run_dir, table_header, table_row, RunEvent, SparkRun, SparkRunError};
use std::path::Path;
use std::time::Duration;

/// How data_stream.py receives the Kafka client settings: a JSON object.
const KAFKA_SETTINGS_ENV: &str = "SFCRIME_KAFKA_CLIENT_SETTINGS";

#[derive(Args)]
pub struct SparkArgs {
    #[command(subcommand)]
    action: SparkAction,
}

#[derive(Subcommand)]
enum SparkAction {
    /// Run python/data_stream.py through spark/submit.sh, show each
    /// micro-batch live, and write progress.jsonl + summary.json in a run dir.
    Run(Box<RunArgs>),
    /// Start, stop or inspect a local Spark standalone master and worker.
    Cluster(ClusterArgs),
}

#[derive(Args)]
#[command(
    after_help = "The run directory (runs/<UTC time>/) holds spark.log, progress.jsonl \
(one StreamingQueryProgress per line), summary.json, and unless given elsewhere the \
checkpoint/ and output/ (updates/ per batch, final/*.jsonl exact results).\n\n\
-X / -F take librdkafka client settings, as for produce and consume (e.g. -F a file with \
security.protocol=SASL_SSL, sasl.mechanisms, sasl.username, sasl.password, ssl.ca.location). \
Both sources get them; for spark-sql-kafka's Java client, data_stream.py turns \
sasl.mechanisms, sasl.username + sasl.password and ssl.ca.location into sasl.mechanism, \
sasl.jaas.config and a PEM ssl.truststore. They reach the job through its environment, never \
its command line or the run directory.\n\n\
Ctrl-C stops the query after the running batch and still writes the final results; a \
second Ctrl-C kills it."
)]
pub struct RunArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Spark master: local[*], local[2], spark://host:7077, yarn, ... (a
    /// local standalone one: `sfcrime spark cluster up`).
    #[arg(long, default_value = "local[*]")]
    master: String,
    /// A Spark setting, as spark-submit's --conf (repeatable).
    #[arg(long = "conf", short = 'c', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    confs: Vec<(String, String)>,
    /// Driver memory, as spark-submit's --driver-memory.
    #[arg(long)]
    driver_memory: Option<String>,
    /// How the job reads the calls: kafka = Spark's spark-sql-kafka, JSON
    /// parsed by from_json in the JVM; sfcrime = sfcrime's Rust connector (a
    /// Python data source), JSON parsed into typed Arrow columns in Rust.
    #[arg(long, default_value = "kafka", value_parser = ["kafka", "sfcrime"])]
    source: String,
    /// Process what the topic holds now (in batches) and stop.
    #[arg(long, conflicts_with = "trigger_interval")]
    available_now: bool,
    /// Processing-time trigger, e.g. "10 seconds" (runs until Ctrl-C or --stop-after).
    #[arg(long)]
    trigger_interval: Option<String>,
    /// Where to start without a checkpoint: earliest, latest or per-partition JSON.
    #[arg(long, default_value = "earliest")]
    starting_offsets: String,
    /// Cap on records per micro-batch (Kafka source maxOffsetsPerTrigger).
    #[arg(long)]
    max_offsets_per_trigger: Option<u64>,
    /// Minimum records per micro-batch (minOffsetsPerTrigger; needs --max-trigger-delay).
    #[arg(long)]
    min_offsets_per_trigger: Option<u64>,
    /// Longest wait for minOffsetsPerTrigger, e.g. "30s" (maxTriggerDelay).
    #[arg(long)]
    max_trigger_delay: Option<String>,
    /// failOnDataLoss of the Kafka source.
    #[arg(long)]
    fail_on_data_loss: Option<bool>,
    /// Event-time window length.
    #[arg(long)]
    window: Option<String>,
    /// Event-time watermark (default none: see data_stream.py --help).
    #[arg(long)]
    watermark: Option<String>,
    /// Streaming checkpoint (default: <run dir>/checkpoint, i.e. a fresh start).
    #[arg(long)]
    checkpoint_dir: Option<String>,
    /// Results directory (default: <run dir>/output).
    #[arg(long)]
    output_dir: Option<String>,
    /// Stop the query after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    stop_after: Option<f64>,
    /// Rows of the top crime types to print at the end.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

impl SparkArgs {
    pub fn apply(&self, settings: &mut Settings) {
        match &self.action {
            SparkAction::Run(run) => run.kafka.apply(settings),
            SparkAction::Cluster(cluster) => cluster.apply(settings),
        }
    }
}

pub fn run(args: SparkArgs, settings: &Settings) -> Result<()> {
    match args.action {
        SparkAction::Run(run) => run_job(*run, settings),
        SparkAction::Cluster(cluster) => spark_cluster_cmd::run(cluster, settings),
    }
}

fn run_job(args: RunArgs, settings: &Settings) -> Result<()> {
    if args.available_now && args.stop_after.is_some() {
        bail!("--stop-after is for processing-time triggers; --available-now stops by itself");
    }
    let kafka = args.kafka.kafka_settings(settings, "consumer")?;
    let run_dir = new_run_dir(&settings.home().join("runs"))?;
    let output_dir = match &args.output_dir {
        Some(dir) => settings.home().join(dir),
        None => run_dir.join("output"),
    };
    let mut job = SparkRun::new(settings.home())
        .run_dir(&run_dir)
        .master(&args.master);
    if let Some(memory) = &args.driver_memory {
        job = job.spark_arg("--driver-memory").spark_arg(memory);
    }
    for (key, value) in &args.confs {
        job = job.conf(key, value);
    }
    let app = vec![
        ("--source", Some(args.source.clone())),
        ("--bootstrap-servers", Some(kafka.bootstrap_servers.clone())),
        ("--topic", Some(settings.string("topic")?)),
        ("--starting-offsets", Some(args.starting_offsets.clone())),
        (
            "--radio-codes",
            Some(settings.path("radio.codes")?.display().to_string()),
        ),
        (
            "--max-offsets-per-trigger",
            args.max_offsets_per_trigger.map(|n| n.to_string()),
        ),
        (
            "--min-offsets-per-trigger",
            args.min_offsets_per_trigger.map(|n| n.to_string()),
        ),
        ("--max-trigger-delay", args.max_trigger_delay.clone()),
        (
            "--fail-on-data-loss",
            args.fail_on_data_loss.map(|b| b.to_string()),
        ),
        ("--window", args.window.clone()),
        ("--watermark", args.watermark.clone()),
        (
            "--checkpoint-dir",
            Some(
                args.checkpoint_dir
                    .clone()
                    .unwrap_or_else(|| run_dir.join("checkpoint").display().to_string()),
            ),
        ),
        ("--output-dir", Some(output_dir.display().to_string())),
        ("--trigger-interval", args.trigger_interval.clone()),
    ];
    for (flag, value) in app {
        if let Some(value) = value {
            job = job.app_arg(flag).app_arg(value);
        }
    }
    if args.available_now {
        job = job.app_arg("--available-now");
    }
    // The -X / -F client settings (SASL, TLS) go to both Spark sources as
    // kafka.* options; data_stream.py renames them for spark-sql-kafka's Java
    // client. Through the environment: a password on the job's command line
    // could be read by any local user (ps).
    if !kafka.overrides.is_empty() {
        let settings: serde_json::Map<String, serde_json::Value> = kafka
            .overrides
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        job = job.env(KAFKA_SETTINGS_ENV, serde_json::to_string(&settings)?);
    }
    if let Some(seconds) = args.stop_after {
        job = job.stop_after(Duration::from_secs_f64(seconds));
    }

    let mut header_shown = false;
    let outcome = job.run(|event| match event {
        RunEvent::Started { paths, .. } => {
            eprintln!("spark: run dir {}", paths.dir.display());
        }
        RunEvent::UiAddress(address) => eprintln!("spark: Spark UI at {address}"),
        RunEvent::Progress(progress) => {
            if !header_shown {
                println!("{}", table_header());
                header_shown = true;
            }
            println!("{}", table_row(progress));
        }
        RunEvent::BadProgressLine { line, error } => {
            eprintln!("spark: skipped a progress line ({error}): {line:.120}");
        }
        RunEvent::Stopping(reason) => eprintln!("spark: stopping the query ({reason:?})"),
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(SparkRunError::Failed(failure)) => bail!("{failure}"),
        Err(err) => return Err(err.into()),
    };
    let summary = &outcome.summary;
    println!();
    println!(
        "summary: {} input rows in {} batches; wall {}; overall {} rows/s; time to first batch {}",
        summary.total_input_rows,
        summary.non_empty_batches,
        millis(summary.wall_ms),
        summary
            .overall_rows_per_second
            .map(|r| format!("{r:.0}"))
            .unwrap_or_else(|| "-".into()),
        millis(summary.time_to_first_batch_ms),
    );
    if let Some(rate) = &summary.processed_rows_per_second {
        println!(
            "processed rows/s per batch: mean {:.0}, median {:.0}, p95 {:.0}",
            rate.mean, rate.p50, rate.p95
        );
    }
    if let Some(latency) = &summary.batch_latency {
        println!(
            "batch latency: p50 {} ms, p95 {} ms, max {} ms",
            latency.p50_ms, latency.p95_ms, latency.max_ms
        );
    }
    print_results(&output_dir.join("final"), args.top)?;
    println!(
        "progress: {}\nsummary:  {}",
        outcome.paths.progress.display(),
        outcome.paths.summary.display()
    );
    Ok(())
}

fn millis(ms: Option<i64>) -> String {
    ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "-".into())
}

#[derive(serde::Deserialize)]
struct CrimeTypeTotal {
    original_crime_type_name: String,
    count: u64,
}

#[derive(serde::Deserialize)]
struct DispositionTotal {
    disposition: String,
    description: Option<String>,
    count: u64,
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("the job wrote no {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("bad line in {}", path.display())))
        .collect()
}

/// The top crime types and the disposition table from the job's final files.
fn print_results(final_dir: &Path, top: usize) -> Result<()> {
    let mut types: Vec<CrimeTypeTotal> = read_jsonl(&final_dir.join("crime_type_totals.jsonl"))?;
    types.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.original_crime_type_name.cmp(&b.original_crime_type_name))
    });
    println!("\ntop {top} crime types:");
    for t in types.iter().take(top) {
        println!("  {:>7}  {}", t.count, t.original_crime_type_name);
    }
    let mut dispositions: Vec<DispositionTotal> =
        read_jsonl(&final_dir.join("dispositions.jsonl"))?;
    dispositions.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.disposition.cmp(&b.disposition))
    });
    println!("\ndispositions (radio code description; - = no radio code):");
    for d in &dispositions {
        println!(
            "  {:>7}  {:<14} {}",
            d.count,
            d.disposition,
            d.description.as_deref().unwrap_or("-")
        );
    }
    println!();
    Ok(())
}
