//! `sfcrime consume`: flags, output formats and the summary around
//! sfcrime_kafka::consume, and `consume --lag`, a consumer group's lag
//! (sfcrime_kafka::group).

use crate::kafka_args::{KafkaArgs, TimeoutArgs};
use crate::Exit;
use anyhow::Result;
use clap::{Args, ValueEnum};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use sfcrime_config::Settings;
use sfcrime_kafka::consume::{consume, ConsumeOptions, Start};
use sfcrime_kafka::group::{lag, Lag};
use sfcrime_kafka::wire::INDEX_HEADER;
use sfcrime_stack::security::Role;
use std::io::Write;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// The record's JSON value, one per line.
    Json,
    /// A compact table: partition, offset, index, time, id, type, disposition.
    Table,
    /// Nothing per record (for --verify and latency runs).
    None,
}

#[derive(Args)]
#[command(
    after_help = "Without --group, reads every partition from its first offset up to \
the end offsets seen at start, then stops. With --group, reads as that consumer group from \
its committed offsets until --max-messages or --timeout seconds without a message. \
With --lag, reads nothing: prints the group's committed offset, the end offset and the lag \
of every partition (what kafka-consumer-groups.sh --describe shows), e.g. of a Spark query \
run with `spark run --source sfcrime_connector --commit-group GROUP`.\n\n\
Exit status: 0 ok; 1 error; 2 --verify found missing, duplicated or corrupted records."
)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    wait: TimeoutArgs,
    /// Read from the beginning to the current end (the default without --group).
    #[arg(long, conflicts_with = "group")]
    from_beginning: bool,
    /// Consume as this consumer group (committed offsets, rebalancing).
    #[arg(long, short = 'G')]
    group: Option<String>,
    /// Stop after this many messages.
    #[arg(long, short = 'n')]
    max_messages: Option<u64>,
    /// Output per record.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Check that the topic holds every record of FILE exactly once and intact
    /// (by the sfcrime.index header and content); prints missing/duplicate counts.
    /// Also checks the real-time pipeline's enriched calls (`spark run
    /// --real-time`): their fields other than the added description must be
    /// the file record's.
    #[arg(long, value_name = "FILE")]
    verify: Option<PathBuf>,
    /// With --verify: expect only the first N records (as sent by `produce
    /// -n N`; with --copies, of all copies together).
    #[arg(long, value_name = "N", requires = "verify")]
    verify_first: Option<u64>,
    /// With --verify: expect N copies of FILE, as `produce --copies N` sends
    /// them (N x its records, each copy with its own indexes, crime_ids and
    /// event times).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "verify",
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    copies: u64,
    /// Print GROUP's committed offset, end offset and lag per partition of
    /// the topic, and read nothing.
    #[arg(long, value_name = "GROUP", conflicts_with_all = [
        "group", "from_beginning", "max_messages", "verify"
    ])]
    lag: Option<String>,
    /// Print the summary (with --lag, the report) as JSON on stdout.
    #[arg(long)]
    json: bool,
}

impl ConsumeArgs {
    pub fn apply(&self, settings: &mut Settings) {
        self.kafka.apply(settings);
    }
}

pub fn run(args: ConsumeArgs, settings: &Settings) -> Result<Exit> {
    if let Some(group) = &args.lag {
        let kafka = args.kafka.kafka_settings(settings, Role::Consumer)?;
        let topic = settings.string("topic")?;
        let report = lag(&kafka, group, &topic, args.wait.timeout())?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_lag(&report);
        }
        return Ok(Exit::Ok);
    }
    let options = ConsumeOptions {
        topic: settings.string("topic")?,
        kafka: args.kafka.kafka_settings(settings, Role::Consumer)?,
        start: match &args.group {
            Some(group) => Start::Group(group.clone()),
            None => Start::Beginning,
        },
        max_messages: args.max_messages,
        timeout: args.wait.timeout(),
        verify: args.verify.clone(),
        verify_copies: args.copies,
        verify_first: args.verify_first,
        pipeline_latency_since_ms: 0,
    };
    let format = if args.json || args.verify.is_some() {
        Format::None
    } else {
        args.format
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_error = None;
    let summary = consume(&options, |message| {
        if write_error.is_none() {
            if let Err(err) = print_message(&mut out, format, message) {
                write_error = Some(err);
            }
        }
    })?;
    out.flush()?;
    drop(out);
    if let Some(err) = write_error {
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        if err.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(err.into());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        eprintln!(
            "consumed {} messages ({:.1} MB) in {:.2} s, {:.0} messages/s",
            summary.messages,
            summary.bytes as f64 / 1e6,
            summary.seconds,
            summary.messages as f64 / summary.seconds.max(1e-9)
        );
        if let Some(l) = &summary.latency {
            eprintln!(
                "latency since produce (message timestamp -> consumed): p50 {} ms, p95 {} ms, \
                 p99 {} ms, max {} ms",
                l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            );
        }
        if let Some(l) = &summary.pipeline_latency {
            eprintln!(
                "pipeline latency (input record's timestamp -> this record's, {} records): \
                 p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
                l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            );
        }
    }
    if let Some(v) = &summary.verify {
        let verdict = if v.is_exact() { "OK" } else { "MISMATCH" };
        println!(
            "verify {verdict}: {} expected, {} present, {} missing, {} duplicated, {} corrupted, \
             {} foreign",
            v.expected, v.present, v.missing, v.duplicated, v.corrupted, v.foreign
        );
        if !v.first_missing.is_empty() {
            println!("first missing indexes: {:?}", v.first_missing);
        }
        if !v.is_exact() {
            return Ok(Exit::Incomplete);
        }
    }
    Ok(Exit::Ok)
}

/// The report as kafka-consumer-groups.sh shows it, "-" where the group
/// has committed nothing.
fn print_lag(report: &Lag) {
    let shown = |o: Option<i64>| o.map_or_else(|| "-".to_owned(), |o| o.to_string());
    println!("group {} on topic {}", report.group, report.topic);
    println!(
        "{:>9} {:>12} {:>12} {:>10}",
        "partition", "committed", "end", "lag"
    );
    for p in &report.partitions {
        println!(
            "{:>9} {:>12} {:>12} {:>10}",
            p.partition,
            shown(p.committed),
            p.end,
            shown(p.lag)
        );
    }
    println!(
        "{:>9} {:>12} {:>12} {:>10}",
        "total",
        "",
        "",
        report.total()
    );
}

fn print_message(
    out: &mut impl Write,
    format: Format,
    message: &BorrowedMessage<'_>,
) -> std::io::Result<()> {
    match format {
        Format::None => Ok(()),
        Format::Json => {
            out.write_all(message.payload().unwrap_or_default())?;
            out.write_all(b"\n")
        }
        Format::Table => {
            let index = message
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == INDEX_HEADER))
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_else(|| "-".into());
            let record: Option<sfcrime_records::CallRecord> = message
                .payload()
                .and_then(|p| serde_json::from_slice(p).ok());
            match record {
                Some(r) => writeln!(
                    out,
                    "{:>2} {:>8} {:>7} {:<23} {:<10} {:<28.28} {}",
                    message.partition(),
                    message.offset(),
                    index,
                    r.call_date_time,
                    r.crime_id,
                    r.original_crime_type_name,
                    r.disposition
                ),
                None => writeln!(
                    out,
                    "{:>2} {:>8} {:>7} (not a call record: {} bytes)",
                    message.partition(),
                    message.offset(),
                    index,
                    message.payload_len()
                ),
            }
        }
    }
}
