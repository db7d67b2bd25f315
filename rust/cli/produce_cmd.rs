//! `sfcrime produce`: flags, the progress bar and the summary around
//! sfcrime_kafka::produce.

use crate::kafka_args::{KafkaArgs, TimeoutArgs};
use crate::Exit;
use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sfcrime_config::Settings;
use sfcrime_kafka::pace::Pace;
use sfcrime_kafka::produce::{produce, ProduceOptions, ProduceProgress};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
#[command(
    after_help = "Each record is sent as compact JSON, keyed by crime_id, with header \
sfcrime.index = its position in the file, so `sfcrime consume --verify FILE` can prove that \
nothing is missing or duplicated. Defaults: acks=all, idempotence on, lz4; override any \
librdkafka setting with -X or config/producer.properties.\n\n\
Exit status: 0 all delivered; 1 error (nothing half-done goes unreported); 2 some records \
failed delivery (listed)."
)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    wait: TimeoutArgs,
    /// Data file: a JSON array (.json or .json.gz) or JSON lines (.jsonl)
    /// [setting data.file].
    #[arg(short = 'f', long)]
    file: Option<PathBuf>,
    /// Send this many records per second instead of as fast as possible.
    #[arg(long, conflicts_with = "replay")]
    rate: Option<f64>,
    /// Send in call_date_time order (oldest first), spaced by the calls'
    /// real gaps divided by --speedup. Holds the file in memory to sort it.
    #[arg(long)]
    replay: bool,
    /// Replay speed-up factor: 3600 plays one hour of calls per second.
    #[arg(long, default_value_t = 3600.0, requires = "replay")]
    speedup: f64,
    /// Skip records before this index (resume a run that stopped).
    #[arg(long, default_value_t = 0, value_name = "INDEX")]
    start_at: u64,
    /// Send at most this many records.
    #[arg(long, short = 'n')]
    limit: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Send bad records verbatim to <topic>.dlq (with index, byte offset and
    /// error headers) and go on, instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

impl ProduceArgs {
    pub fn apply(&self, settings: &mut Settings) {
        self.kafka.apply(settings);
        settings.set_flag("data.file", self.file.as_ref().map(|p| p.display()));
    }
}

pub fn run(args: ProduceArgs, settings: &Settings) -> Result<Exit> {
    let pace = match (args.rate, args.replay) {
        (Some(rate), _) if !(rate > 0.0 && rate.is_finite()) => {
            bail!("--rate must be a positive number of records per second, got {rate}")
        }
        (Some(rate), _) => Pace::Rate(rate),
        (None, true) if args.speedup <= 0.0 || args.speedup.is_nan() => {
            bail!("--speedup must be positive")
        }
        (None, true) => Pace::Replay {
            speedup: args.speedup,
        },
        (None, false) => Pace::Fastest,
    };
    let options = ProduceOptions {
        file: settings.path("data.file")?,
        topic: settings.string("topic")?,
        kafka: args.kafka.kafka_settings(settings, "producer")?,
        pace,
        start_at: args.start_at,
        limit: args.limit,
        duration: args.duration.map(Duration::from_secs_f64),
        skip_invalid: args.skip_invalid,
        connect_timeout: args.wait.timeout(),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} ETA {eta}")
                .expect("valid template"),
        );
        bar
    });
    let summary = produce(&options, |p: &ProduceProgress| {
        if let Some(bar) = &bar {
            bar.set_length(p.file_len.unwrap_or(0));
            bar.set_position(p.file_pos);
            let secs = p.elapsed.as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} sent, {} acked, {:.0} rec/s, {:.1} MB/s",
                p.sent,
                p.delivered,
                p.sent as f64 / secs,
                p.bytes as f64 / 1e6 / secs
            ));
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let summary = summary?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "produced {} records to '{}' ({} acknowledged, {} failed, {} dead-lettered): \
             {:.1} MB in {:.2} s, {:.0} records/s, {:.1} MB/s",
            summary.sent,
            summary.topic,
            summary.delivered,
            summary.failed,
            summary.dead_lettered,
            summary.bytes as f64 / 1e6,
            summary.seconds,
            summary.records_per_second(),
            summary.megabytes_per_second()
        );
    }
    if summary.failed > 0 {
        eprintln!("sfcrime: {} records failed delivery:", summary.failed);
        for (index, error) in &summary.failures {
            eprintln!("  record {index}: {error}");
        }
        eprintln!(
            "sfcrime: every record below index {0} is in the topic; resume with --start-at {0}",
            summary.confirmed_prefix
        );
        return Ok(Exit::Incomplete);
    }
    Ok(Exit::Ok)
}
