//! `sfcrime sweep`: runs the tuning study (sfcrime_sweep) over the Spark job.

use crate::kafka_args::KafkaArgs;
use crate::quiet_args::{parse_load, QuietArgs};
use crate::spark_server_cmd::{remote_url, REMOTE_TIMEOUT};
use crate::Exit;
use anyhow::{bail, Result};
use clap::Args;
use sfcrime_config::Settings;
use sfcrime_sweep::grid::{Design, LatencySpec, SweepSpec, DEFAULT_REPEAT};
use sfcrime_sweep::sweep::{self, SweepOptions};
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Every run is `spark/submit.sh ... --available-now` over the same pre-loaded \
topic, with a fresh checkpoint, so each reads the whole topic. Parameters are Spark confs \
(spark.*, including spark.master and spark.driver.memory) or the Kafka source's options \
(maxOffsetsPerTrigger, minOffsetsPerTrigger, maxTriggerDelay, minPartitions), or the job's: `source` \
(kafka: Spark's spark-sql-kafka, sfcrime_connector: sfcrime's Rust connector), `trigger` (a \
processing-time interval; latency mode), `realTime` (the real-time pipeline's checkpoint \
interval; latency mode), `readInOneTask` (true: all topic partitions read by one task, \
--low-latency's); or the run's: `copies` (N: the data file N times over, from the topic \
<topic>.x<N>, which the sweep produces once with `produce --copies N`; every run's counts must \
equal the N-fold ground truth; for cost against data size) and `rate` (latency mode: the \
producer's records/s, for latency against rate); `none` leaves one unset. The \
baseline is Spark's own defaults (local[*], 1g, 200 shuffle partitions), passed explicitly.\n\n\
Results go to runs/sweeps/<name>/ (results.csv, results.json, sweep.json, runs/); rerunning \
the same command resumes, skipping the runs that succeeded. Then: sfcrime report <dir>.\n\n\
Noise: the points run interleaved in a seeded order; before each run the sweep waits (up to \
--max-wait) for the 1-minute load average to drop to --max-load and records it, and the load \
after the run. A run that starts above --max-load is recorded as noisy: the report leaves it \
out of every answer and says how many there were. Each median gets a 95% bootstrap interval; \
an effect is clear only when the intervals do not overlap.\n\n\
Every Kafka client of the sweep (its topic checks, latency mode's producer and topics, the \
job) uses the -X / -F settings, as `spark run` does: e.g. -F a client.properties for a \
SASL_SSL broker.\n\n\
Exit status: 0 every pending run ran (a failed run is recorded, not fatal); 1 error, or \
--max-failures runs failed in a row; 130 Ctrl-C stopped it (rerun to resume).\n\n\
Examples:\n  sfcrime sweep --spec config/sweeps/default.toml\n  \
sfcrime sweep --name quick --param spark.sql.shuffle.partitions=2,8 --repeat 1",
    mut_arg("topic", |a| a.help(
        "Topic every run reads; it must already hold the data (a latency sweep makes a \
         fresh one per run) [setting topic]"
    ))
)]
pub struct SweepArgs {
    /// Sweep file (TOML; see config/sweeps/).
    #[arg(long, short = 's', value_name = "FILE", conflicts_with_all = ["param", "base", "full_grid", "latency_rate"])]
    spec: Option<PathBuf>,
    /// Vary KEY over these values, one factor at a time (repeatable).
    #[arg(long, short = 'p', value_name = "KEY=V1,V2,...")]
    param: Vec<String>,
    /// Set KEY=VALUE in the baseline that --param varies around (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    base: Vec<String>,
    /// Run every combination of the --param values instead of one at a time.
    #[arg(long)]
    full_grid: bool,
    /// Latency mode: each run produces to a fresh topic at this many
    /// records/s while the job runs on a processing-time trigger (vary it
    /// with --param trigger=...), measuring Kafka-append-to-commit latency.
    #[arg(long, value_name = "RECORDS/S")]
    latency_rate: Option<f64>,
    /// Latency mode: how long the producer sends, in seconds.
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        requires = "latency_rate"
    )]
    latency_duration: f64,
    /// Latency mode: seconds the producer sends before --latency-duration,
    /// not measured (the job's first batches run on a cold JIT).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "SECONDS",
        requires = "latency_rate"
    )]
    latency_warmup: f64,
    /// Sweep name [default: the file's `name`, else "adhoc"].
    #[arg(long)]
    name: Option<String>,
    /// Runs per point [default: the file's, else 5].
    #[arg(long)]
    repeat: Option<u32>,
    /// Seed of the random run order [default: the file's, else 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Results directory [default: runs/sweeps/<name>].
    #[arg(long, value_name = "DIR")]
    results_dir: Option<PathBuf>,
    #[command(flatten)]
    kafka: KafkaArgs,
    #[command(flatten)]
    quiet: QuietArgs,
    /// Stop after this many failed runs in a row.
    #[arg(long, default_value_t = 3, value_name = "N")]
    max_failures: usize,
    /// Send every run to a Spark Connect server (`spark run --remote`); without
    /// a value, this machine's (`sfcrime spark server up`). Only session
    /// settings (spark.sql.*) can vary then.
    #[arg(long, value_name = "sc://HOST:PORT", num_args = 0..=1, default_missing_value = "")]
    remote: Option<String>,
    /// Print the points and the run order, run nothing.
    #[arg(long)]
    dry_run: bool,
}

impl SweepArgs {
    pub fn apply(&self, settings: &mut Settings) {
        self.kafka.apply(settings);
    }

    fn spec(&self) -> Result<SweepSpec> {
        let mut spec = match &self.spec {
            Some(path) => SweepSpec::load(path)?,
            None if self.param.is_empty() => {
                bail!("give a sweep file (--spec FILE) or at least one --param KEY=V1,V2")
            }
            None => SweepSpec::from_flags(
                "adhoc",
                &self.param,
                &self.base,
                DEFAULT_REPEAT,
                1,
                if self.full_grid {
                    Design::Full
                } else {
                    Design::Ofat
                },
                self.latency_rate.map(|rate| LatencySpec {
                    rate,
                    duration_s: self.latency_duration,
                    warmup_s: self.latency_warmup,
                }),
            )?,
        };
        if let Some(name) = &self.name {
            spec.name = name.clone();
        }
        if let Some(repeat) = self.repeat {
            spec.repeat = repeat;
        }
        if let Some(seed) = self.seed {
            spec.seed = seed;
        }
        // Overrides go through the same checks as the file.
        spec.validate()?;
        Ok(spec)
    }
}

pub fn run(args: SweepArgs, settings: &Settings) -> Result<Exit> {
    let spec = args.spec()?;
    let options = SweepOptions {
        home: settings.home().to_path_buf(),
        sfcrime: std::env::current_exe()?,
        results_dir: args
            .results_dir
            .clone()
            .unwrap_or_else(|| settings.home().join("runs/sweeps").join(&spec.name)),
        kafka: args.kafka.job_kafka_settings(settings)?,
        topic: settings.string("topic")?,
        data_file: settings.path("data.file")?,
        quiet: args.quiet.quiet(),
        max_consecutive_failures: args.max_failures.max(1),
        remote: args
            .remote
            .as_deref()
            .map(|flag| remote_url(flag, settings, REMOTE_TIMEOUT))
            .transpose()?,
    };
    if args.dry_run {
        let plan = sweep::plan(&spec, &options, 0)?;
        println!(
            "sweep {}: {} points x {} repeats, seed {}, results in {}",
            spec.name,
            plan.expansion.points.len(),
            spec.repeat,
            spec.seed,
            options.results_dir.display()
        );
        for (i, slot) in plan.order.iter().enumerate() {
            let point = &plan.expansion.points[slot.point];
            println!("{:>4}  r{}  {}", i + 1, slot.repeat, point.label);
        }
        return Ok(Exit::Ok);
    }
    let mut log = |line: &str| eprintln!("sweep: {line}");
    let outcome = sweep::run_sweep(&spec, &options, &mut log)?;
    eprintln!(
        "sweep: {} runs done now ({} failed), {} were done before; results in {}",
        outcome.ran,
        outcome.failed,
        outcome.skipped,
        options.results_dir.display()
    );
    Ok(if outcome.interrupted {
        Exit::Interrupted
    } else {
        Exit::Ok
    })
}

/// `sfcrime report`: a sweep's Markdown report and charts, or one run's
/// page.
#[derive(Args)]
#[command(
    after_help = "For a sweep's results directory: writes report.md and the charts \
(throughput, latency, memory, effects, batches; each .svg and .png) into --out, linking every \
number to the runs it comes from (each run's report.html). For a run directory (runs/<time>, \
as `spark run` makes): (re)writes its report.html, self-contained (charts inline as SVG), \
from progress.jsonl, summary.json and the job's final results (--output-dir if the run wrote \
them elsewhere). Chart text uses DejaVu Sans (Debian's fonts-dejavu-core) or the TTF named \
by SFCRIME_FONT."
)]
pub struct ReportArgs {
    /// A sweep's results directory (e.g. runs/sweeps/default) or a run
    /// directory (e.g. runs/20261201T042123Z).
    dir: PathBuf,
    /// A sweep: where to write report.md and the charts [default: the results directory].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A sweep: judge every run against this load average instead of the
    /// --max-load it ran with (noisy: started above it) [default: as recorded].
    #[arg(long, value_name = "LOAD", value_parser = parse_load, conflicts_with = "output_dir")]
    max_load: Option<f64>,
    /// A run: where its job wrote its results [default: <run dir>/output].
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    output_dir: Option<PathBuf>,
}

pub fn report(args: ReportArgs) -> Result<Exit> {
    if sfcrime_report::is_run_dir(&args.dir) {
        if args.out.is_some() || args.max_load.is_some() {
            bail!(
                "{} is a run directory: its report.html is written into it (--out and \
                 --max-load are for sweeps)",
                args.dir.display()
            );
        }
        let output_dir = args.output_dir.unwrap_or_else(|| args.dir.join("output"));
        let page = sfcrime_report::write_run_report(&args.dir, &output_dir)?;
        println!("{}", page.display());
        return Ok(Exit::Ok);
    }
    if args.output_dir.is_some() {
        bail!(
            "{} is not a run directory (no progress.jsonl or spark.log): --output-dir is for runs",
            args.dir.display()
        );
    }
    let out = args.out.unwrap_or_else(|| args.dir.clone());
    let files = sfcrime_sweep::report::write_report(&args.dir, &out, args.max_load)?;
    println!("{}", files.markdown.display());
    for chart in files.charts {
        println!("{}", chart.display());
    }
    Ok(Exit::Ok)
}
