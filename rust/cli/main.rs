//! The `sfcrime` command line: parses flags, loads the layered settings and
//! hands off to the library crates. It owns no logic of its own.

mod bench_cmd;
mod consume_cmd;
mod kafka_args;
mod produce_cmd;
mod quiet_args;
mod spark_cluster_cmd;
mod spark_cmd;
mod spark_server_cmd;
mod spark_ui_cmd;
mod stack_cmd;
mod sweep_cmd;

use anyhow::Result;
use clap::{Parser, Subcommand};
use sfcrime_config::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sfcrime",
    version,
    about = "Run, inspect and tune a Kafka -> Spark Structured Streaming pipeline on SF police calls",
    long_about = "Run, inspect and tune a Kafka -> Spark Structured Streaming pipeline on SF police calls.\n\n\
Settings are layered: built-in defaults < config/sfcrime.properties (or --config) \
< SFCRIME_* environment variables < flags."
)]
struct Cli {
    /// Project config file (default: config/sfcrime.properties under the project home).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the effective settings (secrets redacted) before running.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install, start, stop or inspect the local Kafka broker (KRaft, or
    /// `--mode zookeeper`: the original exercise's ZooKeeper + Kafka 3.9).
    Stack(stack_cmd::StackArgs),
    /// Stream the calls file into the topic (fast, --rate N, or --replay).
    Produce(produce_cmd::ProduceArgs),
    /// Read the topic: print records, latency, or --verify against a file.
    Consume(consume_cmd::ConsumeArgs),
    /// Benchmarks side by side with the reference tools (e.g. `bench kafka`).
    Bench(bench_cmd::BenchArgs),
    /// Run the PySpark job with live progress (`spark run`), or a local
    /// Spark standalone cluster (`spark cluster up`) or Spark Connect server
    /// (`spark server up`) to run it on.
    Spark(spark_cmd::SparkArgs),
    /// Sweep Spark settings over the job, repeated, and record what they do.
    Sweep(sweep_cmd::SweepArgs),
    /// Write a sweep's Markdown report and charts, or redraw a run's report.html.
    Report(sweep_cmd::ReportArgs),
}

/// How a command ended without an error (an error is exit 1). Every status
/// other than 0 and 1 is named here once; the commands' `--help` texts and
/// README list them.
pub enum Exit {
    Ok,
    /// 2: `produce`: some records failed delivery; `consume --verify`: the
    /// topic does not hold the file exactly.
    Incomplete,
    /// 3: `stack status`, `spark cluster status`, `spark server status`:
    /// something is not running.
    NotRunning,
    /// 130 (as a shell reports SIGINT): Ctrl-C stopped a sweep, which the
    /// same command resumes, or a `produce` (`--resume` completes it).
    Interrupted,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(match exit {
            Exit::Ok => 0,
            Exit::Incomplete => 2,
            Exit::NotRunning => 3,
            Exit::Interrupted => 130,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(exit) => exit.into(),
        // The reader of our stdout (e.g. `| head`) has all it wanted: as for
        // any Unix filter, that is the end of the output, not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sfcrime: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<Exit> {
    let home = sfcrime_config::find_home(env!("CARGO_MANIFEST_DIR").as_ref());
    let mut settings = Settings::load(&home, cli.config.as_deref())?;
    cli.command.apply(&mut settings);
    if cli.verbose {
        eprintln!("# effective settings (home {})", settings.home().display());
        eprint!("{}", settings.dump());
    }
    match cli.command {
        Command::Stack(args) => stack_cmd::run(args, &settings),
        Command::Produce(args) => produce_cmd::run(args, &settings),
        Command::Consume(args) => consume_cmd::run(args, &settings),
        Command::Bench(args) => bench_cmd::run(args, &settings),
        Command::Spark(args) => spark_cmd::run(args, &settings),
        Command::Sweep(args) => sweep_cmd::run(args, &settings),
        Command::Report(args) => sweep_cmd::report(args),
    }
}

impl Command {
    /// Lays the command's flags over the loaded settings.
    fn apply(&self, settings: &mut Settings) {
        match self {
            Command::Stack(args) => args.apply(settings),
            Command::Produce(args) => args.apply(settings),
            Command::Consume(args) => args.apply(settings),
            Command::Bench(args) => args.apply(settings),
            Command::Spark(args) => args.apply(settings),
            Command::Sweep(args) => args.apply(settings),
            // A sweep's results directory or a run directory is all it reads.
            Command::Report(_) => {}
        }
    }
}
