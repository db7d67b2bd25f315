//! `sfcrime bench ...`: side-by-side benchmarks against the reference tools.

use anyhow::Result;
use clap::{Args, Subcommand};
use sfcrime_bench::kafka::{self, KafkaBenchOptions};
use sfcrime_config::Settings;
use sfcrime_stack::{java, Mode, Stack};
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
    /// Recreates the topics bench.sfcrime and bench.kafka-perf each round.
    Kafka {
        /// Bootstrap brokers [setting bootstrap.servers; default the local broker].
        #[arg(short = 'b', long = "brokers")]
        brokers: Option<String>,
        /// Data file [setting data.file].
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
        /// Rounds; each alternates which tool goes first.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Also write the numbers as JSON to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

impl BenchArgs {
    pub fn apply(&self, settings: &mut Settings) {
        let BenchTarget::Kafka { brokers, file, .. } = &self.target;
        settings.set_flag("bootstrap.servers", brokers.as_ref());
        settings.set_flag("data.file", file.as_ref().map(|f| f.display()));
    }
}

pub fn run(args: BenchArgs, settings: &Settings) -> Result<()> {
    let BenchTarget::Kafka { repeat, json, .. } = args.target;
    let mut progress = |step: &str| eprintln!("bench: {step}");
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
    };
    let report = kafka::run(&options, &mut progress)?;
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    }
    print!("{}", report.to_markdown());
    Ok(())
}
