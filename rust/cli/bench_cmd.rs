//! `sfcrime bench ...`: side-by-side benchmarks against the reference tools.

use crate::kafka_args::KafkaArgs;
use crate::quiet_args::QuietArgs;
use crate::spark_server_cmd::{remote_url, REMOTE_TIMEOUT};
use crate::Exit;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use sfcrime_bench::connector::{self, ConnectorBenchOptions};
use sfcrime_bench::kafka::{self, KafkaBenchOptions};
use sfcrime_bench::latency::{self, LatencyBenchOptions};
use sfcrime_config::Settings;
use sfcrime_stack::{java, Mode, Stack};
use sfcrime_sweep::grid::DEFAULT_REPEAT;
use sfcrime_sweep::sweep::{QuietWait, SweepOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(Subcommand)]
enum BenchTarget {
    /// sfcrime produce/consume vs Kafka's ProducerPerformance/ConsumerPerformance
    /// on the same broker, records and settings (acks=all, idempotence, lz4).
    /// Recreates the topics bench.sfcrime and bench.kafka-perf each round, after one
    /// unmeasured warm-up round of both producers (a freshly started broker runs cold).
    /// Plaintext brokers only: Kafka's Java tools do not take librdkafka's -X / -F.
    #[command(
        mut_arg("topic", |a| a.hide(true)),
        mut_arg("librdkafka", |a| a.hide(true)),
        mut_arg("client_config", |a| a.hide(true))
    )]
    Kafka {
        #[command(flatten)]
        kafka: KafkaArgs,
        /// Data file [setting data.file].
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
        /// Rounds; each alternates which tool goes first.
        #[arg(long, default_value_t = DEFAULT_REPEAT as usize)]
        repeat: usize,
        /// Also write the numbers as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        #[command(flatten)]
        quiet: QuietArgs,
    },
    /// The Spark job with spark-sql-kafka + from_json vs sfcrime's Rust
    /// connector (calls mode) on the same topic: `--available-now` runs over
    /// the whole dataset, alternating in a seeded order, each checked for the
    /// exact call count. Loads its topic (bench.connector unless -t) from
    /// the data file when it does not hold it yet.
    #[command(
        after_help = "Needs the broker (sfcrime stack up). One run takes about a \
minute on 2 cores; the runs and their logs are kept in the results directory (a sweep: \
`sfcrime report DIR` draws it). Every Kafka client of the bench (its topic checks, the \
producer that loads the topic, both Spark sources) uses the -X / -F settings.",
        mut_arg("topic", |a| a.help(
            "Topic both sources read, loaded from --file when it does not hold exactly \
             its records [default bench.connector]"
        ))
    )]
    Connector {
        #[command(flatten)]
        kafka: KafkaArgs,
        /// Data file [setting data.file].
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
        /// Runs per source.
        #[arg(long, default_value_t = DEFAULT_REPEAT)]
        repeat: u32,
        /// Both sources read the data file N times over: from a topic of its N
        /// copies (distinct crime_ids, shifted weeks; `produce --copies`), made
        /// once as <topic>.x<N>, each run checked against the N-fold ground truth.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u64).range(1..))]
        copies: u64,
        #[command(flatten)]
        quiet: QuietArgs,
        /// Setting of both runs, KEY=VALUE: a Spark conf or a job option as in
        /// `sfcrime sweep` (repeatable) [default: spark.sql.shuffle.partitions=2].
        #[arg(long, value_name = "KEY=VALUE")]
        base: Vec<String>,
        /// Results directory; give an interrupted bench's to resume it
        /// [default: a new runs/bench-connector/<time>].
        #[arg(long, value_name = "DIR")]
        results_dir: Option<PathBuf>,
        /// Also write the numbers as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Send every run to a Spark Connect server (`spark run --remote`),
        /// after unmeasured runs of each source to warm it up (--warm-up);
        /// without a value, this machine's (`sfcrime spark server up`).
        #[arg(long, value_name = "sc://HOST:PORT", num_args = 0..=1, default_missing_value = "")]
        remote: Option<String>,
        /// With --remote: unmeasured runs of each source before the measured
        /// ones (the server's JIT keeps improving over the first few runs).
        #[arg(long, value_name = "N", default_value_t = 1, requires = "remote")]
        warm_up: u32,
    },
    /// End-to-end latency (a record's Kafka append to the commit of its
    /// micro-batch, or to the append of its enriched copy) of the previous
    /// defaults (10 s trigger), `spark run --low-latency` and `spark run
    /// --real-time`, interleaved in a seeded order, at one produce rate.
    #[command(
        after_help = "Needs the broker (sfcrime stack up). Each run makes fresh topics \
stamped with the broker's append time, starts the job, produces --rate records/s for \
--warmup + --duration seconds from its first progress event (latency is measured on the \
records after the warm-up), stops it once caught up and checks the \
results: the counts equal what was produced, every enriched call is there exactly once. \
About 2 minutes per run. The run records (results.json, with each run's load average \
before it) stay in the results directory. Every Kafka client of the bench (topic creation, \
the producer, the checks of the output, the job) uses the -X / -F settings.",
        mut_arg("topic", |a| a.hide(true))
    )]
    Latency {
        #[command(flatten)]
        kafka: KafkaArgs,
        /// Data file to produce from [setting data.file].
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
        /// Records per second produced during each run.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds of producing per run, measured.
        #[arg(long, default_value_t = 60.0)]
        duration: f64,
        /// Seconds of producing before that, not measured: the job's first
        /// batches run on a cold JIT (start-up, not the steady state).
        #[arg(long, default_value_t = 20.0)]
        warmup: f64,
        /// Runs per mode.
        #[arg(long, default_value_t = DEFAULT_REPEAT)]
        repeat: u32,
        /// Seed of the run order.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        quiet: QuietArgs,
        /// Results directory; give an interrupted bench's to resume it
        /// [default: a new runs/bench-latency/<time>].
        #[arg(long, value_name = "DIR")]
        results_dir: Option<PathBuf>,
        /// Also write the numbers as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

impl BenchArgs {
    pub fn apply(&self, settings: &mut Settings) {
        let (BenchTarget::Kafka { kafka, file, .. }
        | BenchTarget::Connector { kafka, file, .. }
        | BenchTarget::Latency { kafka, file, .. }) = &self.target;
        kafka.apply(settings);
        settings.set_flag("data.file", file.as_ref().map(|f| f.display()));
    }
}

pub fn run(args: BenchArgs, settings: &Settings) -> Result<Exit> {
    let mut progress = |step: &str| eprintln!("bench: {step}");
    let (markdown, json_text, json) = match args.target {
        BenchTarget::Kafka {
            kafka,
            repeat,
            json,
            quiet,
            ..
        } => {
            if kafka.topic.is_some() {
                bail!("bench kafka uses its own topics, bench.sfcrime and bench.kafka-perf: leave out -t");
            }
            if kafka.has_client_settings() {
                bail!(
                    "bench kafka runs Kafka's Java perf tools beside sfcrime's clients, and \
                     they do not take librdkafka settings: leave out -X / -F (a plaintext broker only)"
                );
            }
            // Kafka 4's perf tools (and their Log4j 2 set-up) talk to either broker.
            let mut tools = Stack::from_settings(settings)?;
            tools.mode = Mode::Kraft;
            let options = KafkaBenchOptions {
                sfcrime: std::env::current_exe()?,
                home: settings.home().to_path_buf(),
                bootstrap: settings.bootstrap_servers()?,
                file: settings.path("data.file")?,
                repeat: repeat.max(1),
                java: java::find(&settings.string("java")?)?.path,
                kafka_lib: tools.install(&mut progress)?,
                quiet: quiet.quiet(),
            };
            let report = kafka::run(&options, &mut progress)?;
            (
                report.to_markdown(),
                serde_json::to_string_pretty(&report)?,
                json,
            )
        }
        BenchTarget::Connector {
            kafka,
            repeat,
            copies,
            quiet,
            base,
            results_dir,
            json,
            remote,
            warm_up,
            ..
        } => {
            let results_dir = match results_dir {
                Some(dir) => dir,
                None => connector::new_results_dir(&settings.home().join("runs/bench-connector"))?,
            };
            let remote = remote
                .map(|flag| remote_url(&flag, settings, REMOTE_TIMEOUT))
                .transpose()?;
            // Not the `topic` setting: its data need not be --file's.
            let topic = kafka.topic.as_deref().unwrap_or(connector::TOPIC);
            let options = ConnectorBenchOptions {
                sweep: SweepOptions {
                    remote,
                    ..sweep_options(settings, &kafka, results_dir, topic, quiet.quiet())?
                },
                repeat: repeat.max(1),
                base: if base.is_empty() {
                    connector::DEFAULT_BASE
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                } else {
                    base
                },
                copies,
                warm_up_runs: warm_up,
            };
            let report = connector::run(&options, &mut progress)?;
            (
                report.to_markdown(),
                serde_json::to_string_pretty(&report)?,
                json,
            )
        }
        BenchTarget::Latency {
            kafka,
            rate,
            duration,
            warmup,
            repeat,
            seed,
            quiet,
            results_dir,
            json,
            ..
        } => {
            if kafka.topic.is_some() {
                bail!("bench latency makes fresh topics for each run: leave out -t");
            }
            if !(rate > 0.0 && duration > 0.0 && warmup >= 0.0) {
                bail!("--rate and --duration must be positive, --warmup not negative");
            }
            let results_dir = match results_dir {
                Some(dir) => dir,
                None => connector::new_results_dir(&settings.home().join("runs/bench-latency"))?,
            };
            let topic = settings.string("topic")?;
            let options = LatencyBenchOptions {
                sweep: sweep_options(settings, &kafka, results_dir, &topic, quiet.quiet())?,
                rate,
                duration_s: duration,
                warmup_s: warmup,
                repeat: repeat.max(1),
                seed,
            };
            let report = latency::run(&options, &mut progress)?;
            (
                report.to_markdown(),
                serde_json::to_string_pretty(&report)?,
                json,
            )
        }
    };
    if let Some(path) = json {
        std::fs::write(&path, json_text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    print!("{markdown}");
    Ok(Exit::Ok)
}

/// How a bench's sweep runs: against the configured broker (with the -X /
/// -F client settings, resolved as `spark run` does) and data file, giving
/// up after 2 failed runs in a row.
fn sweep_options(
    settings: &Settings,
    kafka: &KafkaArgs,
    results_dir: PathBuf,
    topic: &str,
    quiet: QuietWait,
) -> Result<SweepOptions> {
    Ok(SweepOptions {
        home: settings.home().to_path_buf(),
        sfcrime: std::env::current_exe()?,
        results_dir,
        kafka: kafka.job_kafka_settings(settings)?,
        topic: topic.to_string(),
        data_file: settings.path("data.file")?,
        quiet,
        max_consecutive_failures: 2,
        remote: None,
    })
}
