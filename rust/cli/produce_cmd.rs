//! `sfcrime produce`: flags, the progress bar and the summary around
//! sfcrime_kafka::produce.

use crate::kafka_args::{KafkaArgs, TimeoutArgs};
use crate::Exit;
use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sfcrime_config::Settings;
use sfcrime_kafka::pace::Pace;
use sfcrime_kafka::produce::{how_to_resume, produce, ProduceOptions, ProduceProgress};
use sfcrime_kafka::resume::topic_contents;
use sfcrime_stack::security::Role;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
#[command(
    after_help = "Each record is sent as compact JSON, keyed by crime_id, with header \
sfcrime.index = its position in the file, so `sfcrime consume --verify FILE` can prove that \
nothing is missing or duplicated. Defaults: acks=all, idempotence on, lz4; override any \
librdkafka setting with -X or config/producer.properties.\n\n\
--copies N sends the file N times, one copy after another: copy c (0-based) of record i has \
index c x (records of the file) + i, crime_id with the suffix -c<c> (copy 0 unchanged) and \
report_date, call_date, offense_date and call_date_time c x 13 weeks later (the data spans \
under 13 weeks, so copies share no window); `consume --verify FILE --copies N` checks them. \
--start-at, --resume and the indexes in messages are those of the N-fold data; -n counts \
records of all copies.\n\n\
Ctrl-C or SIGTERM stops reading; what was sent is still delivered (or times out), the \
summary says where to resume, and `--resume` sends the rest; a second Ctrl-C exits at \
once.\n\n\
Exit status: 0 all delivered; 1 error (nothing half-done goes unreported); 2 some records \
failed delivery (listed); 130 stopped by Ctrl-C/SIGTERM."
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
    /// Send the file this many times, each copy with its own indexes,
    /// crime_ids and event times (see below); 1 is the file as it is.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1000),
          conflicts_with = "replay")]
    copies: u64,
    /// Replay speed-up factor: 3600 plays one hour of calls per second.
    #[arg(long, default_value_t = 3600.0, requires = "replay")]
    speedup: f64,
    /// Skip records before this index (resume a run that stopped; records
    /// the broker wrote but never confirmed are then sent twice: --resume
    /// does not).
    #[arg(long, default_value_t = 0, value_name = "INDEX")]
    start_at: u64,
    /// Read the topic (and <topic>.dlq) first and send only the records of
    /// the file it does not hold, by their sfcrime.index header: completes
    /// a run that stopped without duplicates. Costs a read of the topic.
    #[arg(long)]
    resume: bool,
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
    /// Compression codec of the records (kcat's -z; librdkafka's
    /// compression.type, default lz4). A consumer must be able to decode it:
    /// librdkafka and the Java client read all of them, kafka-python needs
    /// the `lz4` package for lz4 (or `zstandard`, `python-snappy`).
    #[arg(short = 'z', long, value_name = "CODEC",
          value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    compression: Option<String>,
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
    let topic = settings.string("topic")?;
    let mut kafka = args.kafka.kafka_settings(settings, Role::Producer)?;
    if let Some(codec) = &args.compression {
        kafka
            .overrides
            .push(("compression.type".to_string(), codec.clone()));
    }
    let already_in_topic = match args.resume {
        true => {
            let contents = topic_contents(&kafka, &topic, args.wait.timeout())?;
            eprintln!(
                "sfcrime: '{topic}' holds {} records of the file already{}{}; sending the rest",
                contents.indexes.len(),
                match contents.duplicates {
                    0 => String::new(),
                    n => format!(" ({n} of them more than once)"),
                },
                match contents.foreign {
                    0 => String::new(),
                    n => format!(", and {n} records without an sfcrime.index header"),
                },
            );
            Some(Arc::new(contents.indexes))
        }
        false => None,
    };
    let options = ProduceOptions {
        file: settings.path("data.file")?,
        topic,
        kafka,
        pace,
        copies: args.copies,
        start_at: args.start_at,
        already_in_topic,
        limit: args.limit,
        duration: args.duration.map(Duration::from_secs_f64),
        skip_invalid: args.skip_invalid,
        connect_timeout: args.wait.timeout(),
        stop: Some(sfcrime_process::interrupt::stop_flag()),
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
        if summary.already_in_topic > 0 {
            println!(
                "{} records of the file were in the topic already, not sent again",
                summary.already_in_topic
            );
        }
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
            "sfcrime: every record below index {} is in the topic. {}",
            summary.confirmed_prefix,
            how_to_resume(summary.confirmed_prefix)
        );
        return Ok(Exit::Incomplete);
    }
    if summary.interrupted {
        eprintln!(
            "sfcrime: stopped by a signal after sending {} records ({} acknowledged); every \
             record below index {} is in the topic. {}",
            summary.sent,
            summary.delivered,
            summary.confirmed_prefix,
            how_to_resume(summary.confirmed_prefix)
        );
        return Ok(Exit::Interrupted);
    }
    Ok(Exit::Ok)
}
