//! `sfcrime sweep`: runs the tuning study (sfcrime_sweep) over the Spark job.

use anyhow::{bail, Result};
use clap::Args;
use sfcrime_config::Settings;
use sfcrime_kafka::client::KafkaSettings;
use sfcrime_sweep::grid::{Design, SweepSpec};
use sfcrime_sweep::sweep::{self, SweepOptions};
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Every run is `spark/submit.sh ... --available-now` over the same pre-loaded \
topic, with a fresh checkpoint, so each reads the whole topic. Parameters are Spark confs \
(spark.*, including spark.master and spark.driver.memory) or the Kafka source's options \
(maxOffsetsPerTrigger, minOffsetsPerTrigger, maxTriggerDelay); `none` leaves one unset. The \
baseline is Spark's own defaults (local[*], 1g, 200 shuffle partitions), passed explicitly.\n\n\
Results go to runs/sweeps/<name>/ (results.csv, results.json, sweep.json, runs/); rerunning \
the same command resumes, skipping the runs that succeeded. Then: sfcrime report <dir>.\n\n\
Examples:\n  sfcrime sweep --spec config/sweeps/default.toml\n  \
sfcrime sweep --name quick --param spark.sql.shuffle.partitions=2,8 --repeat 1"
)]
pub struct SweepArgs {
    /// Sweep file (TOML; see config/sweeps/).
    #[arg(long, short = 's', value_name = "FILE", conflicts_with_all = ["param", "base", "full_grid"])]
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
    /// Sweep name [default: the file's `name`, else "adhoc"].
    #[arg(long)]
    name: Option<String>,
    /// Runs per point [default: the file's, else 3].
    #[arg(long)]
    repeat: Option<u32>,
    /// Seed of the random run order [default: the file's, else 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Results directory [default: runs/sweeps/<name>].
    #[arg(long, value_name = "DIR")]
    results_dir: Option<PathBuf>,
    /// Bootstrap brokers [setting bootstrap.servers].
    #[arg(short = 'b', long = "brokers")]
    brokers: Option<String>,
    /// Topic to read; it must already hold the data [setting topic].
    #[arg(short = 't', long)]
    topic: Option<String>,
    /// Stop after this many failed runs in a row.
    #[arg(long, default_value_t = 3, value_name = "N")]
    max_failures: usize,
    /// Print the points and the run order, run nothing.
    #[arg(long)]
    dry_run: bool,
}

impl SweepArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("bootstrap.servers", self.brokers.as_ref());
        settings.set_flag("topic", self.topic.as_ref());
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
                3,
                1,
                if self.full_grid {
                    Design::Full
                } else {
                    Design::Ofat
                },
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

pub fn run(args: SweepArgs, settings: &Settings) -> Result<()> {
    let spec = args.spec()?;
    let options = SweepOptions {
        home: settings.home().to_path_buf(),
        results_dir: args
            .results_dir
            .clone()
            .unwrap_or_else(|| settings.home().join("runs/sweeps").join(&spec.name)),
        kafka: KafkaSettings::new(settings.bootstrap_servers()?),
        topic: settings.string("topic")?,
        max_consecutive_failures: args.max_failures.max(1),
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
        return Ok(());
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
    if outcome.interrupted {
        std::process::exit(130);
    }
    Ok(())
}
