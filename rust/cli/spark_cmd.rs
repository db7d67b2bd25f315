//! `sfcrime spark run`: flags for spark-submit and the job, the live
//! progress table, and the end-of-run summary and results; `spark cluster`
//! is in spark_cluster_cmd.rs.

use crate::kafka_args::{KafkaArgs, TimeoutArgs};
use crate::spark_cluster_cmd::{self, ClusterArgs};
use crate::spark_server_cmd::{self, remote_url, ServerArgs};
use crate::spark_ui_cmd::{self, UiArgs};
use crate::Exit;
use anyhow::{bail, Context, Result};
use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, Subcommand};
use sfcrime_config::{parse_key_value, Settings};
use sfcrime_kafka::admin;
use sfcrime_report::write_run_report;
use sfcrime_spark::job::{CONNECTOR, CONNECTOR_OLD_NAME, LOW_LATENCY, SPARK_SQL_KAFKA};
use sfcrime_spark::{
    new_run_dir, table_header, table_row, FinalResults, JobArgs, RunEvent, SparkRun, SparkRunError,
    Trigger,
};
use sfcrime_stack::history::EVENT_LOG_DIR;
use std::path::Path;
use std::time::Duration;

#[derive(Args)]
pub struct SparkArgs {
    #[command(subcommand)]
    action: SparkAction,
}

#[derive(Subcommand)]
enum SparkAction {
    /// Run python/data_stream.py through spark/submit.sh, show each
    /// micro-batch live, and write progress.jsonl, summary.json and
    /// report.html in a run dir.
    Run(Box<RunArgs>),
    /// Start, stop or inspect a local Spark standalone master and worker.
    Cluster(ClusterArgs),
    /// Start, stop or inspect a local Spark Connect server, a driver that
    /// stays up between runs (`spark run --remote`).
    Server(ServerArgs),
    /// Spark's own web UI for finished runs (the Structured Streaming tab
    /// among them), from their event logs, through Spark's History Server.
    Ui(UiArgs),
}

#[derive(Args)]
#[command(
    after_help = "The run directory (runs/<UTC time>/) holds spark.log, progress.jsonl \
(one StreamingQueryProgress per line), summary.json, eventlog/ (Spark's event log, for \
`sfcrime spark ui`), report.html (the run's page: summary, charts batch by batch, the top \
crime types and dispositions; self-contained, redrawn by `sfcrime report RUN_DIR`), and \
unless given elsewhere the checkpoint/ and output/ (updates/ per batch, final/*.jsonl exact \
results). A run that fails still gets a report.html of what it left.\n\n\
-X / -F take librdkafka client settings, as for produce and consume (e.g. -F a file with \
security.protocol=SASL_SSL, sasl.mechanisms, sasl.username, sasl.password, ssl.ca.location). \
Both sources get them; for spark-sql-kafka's Java client, data_stream.py turns \
sasl.mechanisms, sasl.username + sasl.password and ssl.ca.location into sasl.mechanism, \
sasl.jaas.config and a PEM ssl.truststore. They reach the job through its environment, never \
its command line or the run directory.\n\n\
--low-latency runs the same counts with the settings measured to give the lowest \
end-to-end latency: a new micro-batch as soon as the last one ended (trigger 0) and one \
shuffle partition (flags and --conf still win). --real-time runs the stateless pipeline in \
Spark's real-time mode instead: every call, its radio-code description joined, to \
--output-topic (default <topic>.enriched), until Ctrl-C; `sfcrime consume -t TOPIC.enriched \
--verify FILE` checks it. Spark 4.2's real-time mode runs no stateful query, so it has no \
counts; it needs a task slot per topic partition (default master local[4]).\n\n\
Ctrl-C stops the query after the running batch and still writes the final results; a \
second Ctrl-C kills it."
)]
pub struct RunArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    wait: TimeoutArgs,
    /// Spark master: local[*], local[2], spark://host:7077, yarn, ... (a
    /// local standalone one: `sfcrime spark cluster up`) [default: local[*];
    /// local[4] with --real-time].
    #[arg(long)]
    master: Option<String>,
    /// Run on a Spark Connect server instead of a driver of its own: the job
    /// is only its client, so Spark's start-up is the server's, once.
    /// Without a value, this machine's (`sfcrime spark server up`,
    /// sc://127.0.0.1:<connect.port>). --conf then sets the run's session
    /// settings (spark.sql.*); no event log.
    #[arg(long, value_name = "sc://HOST:PORT", num_args = 0..=1, default_missing_value = "",
          conflicts_with_all = ["master", "driver_memory"])]
    remote: Option<String>,
    /// A Spark setting, as spark-submit's --conf (repeatable).
    #[arg(long = "conf", short = 'c', value_name = "KEY=VALUE", value_parser = parse_key_value)]
    confs: Vec<(String, String)>,
    /// Driver memory, as spark-submit's --driver-memory.
    #[arg(long)]
    driver_memory: Option<String>,
    /// How the job reads the calls: kafka = Spark's spark-sql-kafka, JSON
    /// parsed by from_json in the JVM; sfcrime_connector = sfcrime's Rust
    /// connector (a Python data source), JSON parsed into typed Arrow columns
    /// in Rust (its old name, sfcrime, is still taken until the next release).
    #[arg(long, default_value = SPARK_SQL_KAFKA, value_parser = sources())]
    source: String,
    /// Process what the topic holds now (in batches) and stop.
    #[arg(long, conflicts_with_all = ["trigger_interval", "real_time"])]
    available_now: bool,
    /// Processing-time trigger, e.g. "10 seconds" (runs until Ctrl-C or --stop-after).
    #[arg(long, conflicts_with = "real_time")]
    trigger_interval: Option<String>,
    /// The counts tuned for end-to-end latency (see below).
    #[arg(long, conflicts_with = "real_time")]
    low_latency: bool,
    /// The real-time pipeline (see below); the value is its checkpoint
    /// interval [default: the job's, 5 minutes].
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "")]
    real_time: Option<String>,
    /// --real-time: the topic of enriched calls [default: <topic>.enriched].
    #[arg(long, requires = "real_time")]
    output_topic: Option<String>,
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
    /// About N Spark tasks per batch's read instead of one per topic
    /// partition (both sources' minPartitions): with 3 partitions on 2 cores,
    /// 6 keeps both cores busy to the end of a large batch's read.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..),
        conflicts_with_all = ["real_time", "low_latency"]
    )]
    min_partitions: Option<u64>,
    /// failOnDataLoss of the Kafka source.
    #[arg(long)]
    fail_on_data_loss: Option<bool>,
    /// Event-time window length.
    #[arg(long)]
    window: Option<String>,
    /// Count each record of the file once when the topic holds it more than
    /// once (a resume with --start-at, two producers), by its sfcrime.index
    /// header; records without the header are all counted. Costs state: every
    /// index seen.
    #[arg(long)]
    drop_duplicates: bool,
    /// With --source sfcrime_connector: commit the query's progress to this
    /// Kafka consumer group once Spark has checkpointed it, so that
    /// `sfcrime consume --lag GROUP` and kafka-consumer-groups.sh --describe
    /// show its lag (a restart still goes on from the checkpoint). On the
    /// SASL_SSL stack the name must start with a kafka.consumer.groups
    /// prefix, e.g. sfcrime-.
    #[arg(long, value_name = "GROUP")]
    commit_group: Option<String>,
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
            SparkAction::Server(server) => server.apply(settings),
            SparkAction::Ui(ui) => ui.apply(settings),
        }
    }
}

/// `--source`'s values. The old name is passed on as it is: the job reads it
/// as the connector, as it does in a sweep saved before the rename.
fn sources() -> PossibleValuesParser {
    PossibleValuesParser::new([
        PossibleValue::new(SPARK_SQL_KAFKA),
        PossibleValue::new(CONNECTOR).alias(CONNECTOR_OLD_NAME),
    ])
}

pub fn run(args: SparkArgs, settings: &Settings) -> Result<Exit> {
    match args.action {
        SparkAction::Run(run) => run_job(*run, settings),
        SparkAction::Cluster(cluster) => spark_cluster_cmd::run(cluster, settings),
        SparkAction::Server(server) => spark_server_cmd::run(server, settings),
        SparkAction::Ui(ui) => spark_ui_cmd::run(ui, settings),
    }
}

fn run_job(args: RunArgs, settings: &Settings) -> Result<Exit> {
    if args.available_now && args.stop_after.is_some() {
        bail!("--stop-after is for processing-time triggers; --available-now stops by itself");
    }
    let kafka = args.kafka.job_kafka_settings(settings)?;
    // Before Spark starts (half a minute), as produce and consume do: an
    // unreachable broker or a missing topic is said within --timeout, where
    // Spark's Kafka source would retry for minutes.
    let topic = settings.string("topic")?;
    admin::metadata(&kafka, args.wait.timeout())?;
    admin::partition_count(&kafka, &topic, args.wait.timeout())?.with_context(|| {
        format!(
            "topic '{topic}' does not exist on {} (create it with `sfcrime stack up` or your admin tools)",
            kafka.bootstrap_servers
        )
    })?;
    let run_dir = new_run_dir(&settings.home().join("runs"))?;
    let output_dir = match &args.output_dir {
        Some(dir) => settings.home().join(dir),
        None => run_dir.join("output"),
    };
    let mut job = SparkRun::new(settings.home()).run_dir(&run_dir);
    if let Some(remote) = &args.remote {
        let url = remote_url(remote, settings, args.wait.timeout())?;
        job = job.spark_arg("--remote").spark_arg(url);
    } else {
        let master = match (&args.master, &args.real_time) {
            (Some(master), _) => master.clone(),
            // One long-running task per partition of the 3-partition topic.
            (None, Some(_)) => "local[4]".to_string(),
            (None, None) => "local[*]".to_string(),
        };
        job = job.master(&master);
        if let Some(memory) = &args.driver_memory {
            job = job.spark_arg("--driver-memory").spark_arg(memory);
        }
        // Spark's event log, for `sfcrime spark ui` after the run (a later
        // --conf spark.eventLog.enabled=false turns it off). A Connect
        // server's driver was started with its own.
        let event_log = run_dir.join(EVENT_LOG_DIR);
        std::fs::create_dir_all(&event_log)
            .with_context(|| format!("cannot create {}", event_log.display()))?;
        job = job
            .conf("spark.eventLog.enabled", "true")
            .conf(
                "spark.eventLog.dir",
                &format!("file:{}", event_log.display()),
            )
            .conf("spark.eventLog.compress", "true")
            .conf("spark.eventLog.rolling.enabled", "true");
    }
    if args.low_latency {
        for (key, value) in LOW_LATENCY.confs {
            job = job.conf(key, value);
        }
    }
    // Later --conf flags win over the preset's.
    for (key, value) in &args.confs {
        job = job.conf(key, value);
    }
    let trigger = match (&args.real_time, &args.trigger_interval) {
        (Some(interval), _) => Trigger::RealTime(Some(interval.clone()).filter(|i| !i.is_empty())),
        _ if args.available_now => Trigger::AvailableNow,
        (None, Some(interval)) => Trigger::ProcessingTime(interval.clone()),
        (None, None) => Trigger::JobDefault,
    };
    let mut job_args = JobArgs {
        source: Some(args.source.clone()),
        bootstrap_servers: kafka.bootstrap_servers.clone(),
        topic,
        starting_offsets: Some(args.starting_offsets.clone()),
        radio_codes: Some(settings.path("radio.codes")?),
        max_offsets_per_trigger: args.max_offsets_per_trigger,
        min_offsets_per_trigger: args.min_offsets_per_trigger,
        max_trigger_delay: args.max_trigger_delay.clone(),
        min_partitions: args.min_partitions,
        fail_on_data_loss: args.fail_on_data_loss,
        window: args.window.clone(),
        watermark: args.watermark.clone(),
        checkpoint_dir: args
            .checkpoint_dir
            .clone()
            .unwrap_or_else(|| run_dir.join("checkpoint").display().to_string()),
        output_dir: output_dir.clone(),
        trigger,
        output_topic: args.output_topic.clone(),
        console_rows: None,
        // The -X / -F client settings (SASL, TLS) go to both Spark sources
        // as kafka.* options; data_stream.py renames them for
        // spark-sql-kafka's Java client.
        kafka_settings: kafka.overrides.clone(),
        drop_duplicates: args.drop_duplicates,
        commit_group: args.commit_group.clone(),
        ..JobArgs::default()
    };
    if args.low_latency {
        for (key, value) in LOW_LATENCY.job_options {
            // A trigger given on the command line wins over the preset's.
            if *key == "trigger" && job_args.trigger != Trigger::JobDefault {
                continue;
            }
            job_args
                .set_option(key, value)
                .map_err(anyhow::Error::msg)?;
        }
    }
    let real_time = args.real_time.is_some();
    if real_time {
        // Spark's Kafka sink does not create topics (nor does our broker).
        admin::ensure_topic_like(
            &kafka,
            &job_args.enriched_topic(),
            &job_args.topic,
            args.wait.timeout(),
        )?;
    }
    let mut job = job_args.apply(job);
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
        RunEvent::Polled => {}
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(SparkRunError::Failed(failure)) => {
            // A page of what the failed run left, then why it failed.
            match write_run_report(&failure.paths.dir, &output_dir) {
                Ok(page) => eprintln!("spark: report of what the run left: {}", page.display()),
                Err(e) => eprintln!("spark: no report.html: {e:#}"),
            }
            bail!("{failure}")
        }
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
    if real_time {
        println!(
            "enriched calls in topic '{}' (check: sfcrime consume -t {} --verify FILE)",
            job_args.enriched_topic(),
            job_args.enriched_topic()
        );
    } else {
        print_results(&output_dir, args.top)?;
    }
    let page = write_run_report(&outcome.paths.dir, &output_dir)?;
    println!(
        "progress: {}\nsummary:  {}\nreport:   {}",
        outcome.paths.progress.display(),
        outcome.paths.summary.display(),
        page.display()
    );
    Ok(Exit::Ok)
}

fn millis(ms: Option<i64>) -> String {
    ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "-".into())
}

/// The top crime types and the disposition table from the job's final files.
fn print_results(output_dir: &Path, top: usize) -> Result<()> {
    let results = FinalResults::read(output_dir).map_err(anyhow::Error::msg)?;
    println!("\ntop {top} crime types:");
    for t in results.crime_types_by_count().into_iter().take(top) {
        println!(
            "  {:>7}  {}",
            t.count,
            t.original_crime_type_name.as_deref().unwrap_or("-")
        );
    }
    println!("\ndispositions (radio code description; - = no radio code):");
    for d in results.dispositions_by_count() {
        println!(
            "  {:>7}  {:<14} {}",
            d.count,
            d.disposition.as_deref().unwrap_or("-"),
            d.description.as_deref().unwrap_or("-")
        );
    }
    println!();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn source(name: &str) -> Result<String, clap::Error> {
        Run::try_parse_from(["run", "--source", name]).map(|run| run.args.source)
    }

    #[test]
    fn the_connectors_old_source_name_is_still_taken() {
        assert_eq!(source(CONNECTOR).unwrap(), CONNECTOR);
        assert_eq!(source(CONNECTOR_OLD_NAME).unwrap(), CONNECTOR_OLD_NAME);
        let refused = source("sfcrime_kafka").unwrap_err().to_string();
        assert!(
            refused.contains("[possible values: kafka, sfcrime_connector]"),
            "{refused}"
        );
    }
}
