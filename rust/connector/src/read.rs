//! The Kafka side: reading an exact offset range of one partition (the
//! offsets a topic holds are `sfcrime_kafka::admin::partition_offsets`). A reader is a librdkafka consumer assigned to
//! the start offset: no consumer group, no committed offsets, so where a
//! query is lives only in Spark's checkpoint.

use crate::batch::BatchBuilder;
use crate::schema::{Header, Mode, Record};
use anyhow::{bail, Context, Result};
use arrow::record_batch::RecordBatch;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use sfcrime_kafka::client::{transient_consumer_error, KafkaSettings, LoggedConsumer};
use std::time::{Duration, Instant};

/// How to read a range.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub mode: Mode,
    /// Offsets missing from the partition (aged out, or never there) are an
    /// error when true; when false the range shrinks to what exists, like
    /// spark-sql-kafka's `failOnDataLoss=false`.
    pub fail_on_data_loss: bool,
    /// How long a read may go without progress, and the limit for each
    /// metadata request, before it fails.
    pub timeout: Duration,
}

fn client(settings: &KafkaSettings, extra: &[(&str, &str)]) -> Result<LoggedConsumer> {
    // Quiet librdkafka: its warnings have no reader in a Spark worker, and
    // every failure that matters comes back as an error below (a refused
    // login or TLS handshake too: it is logged at error level).
    let mut defaults = vec![("log_level", "3"), ("allow.auto.create.topics", "false")];
    defaults.extend_from_slice(extra);
    settings
        .logged_consumer(&defaults)
        .context("cannot create a Kafka consumer (check the kafka.* options)")
}

/// The records of `topic`/`partition` with offsets in `[start, end)` as one
/// batch. Offsets that hold no record (compaction, transaction markers) are
/// simply not there; the read ends once the consumer's position reaches
/// `end`, so it never waits for a record that cannot come.
pub fn read_range(
    settings: &KafkaSettings,
    topic: &str,
    partition: i32,
    start: i64,
    end: i64,
    options: &ReadOptions,
) -> Result<RecordBatch> {
    let consumer = client(
        settings,
        &[
            // librdkafka refuses assign() without a group id; the group is
            // never joined (no subscribe) and nothing is committed to it.
            ("group.id", "sfcrime-connector"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            // A range that became invalid while being read is an error, never
            // a silent jump elsewhere: the checks below decide what is lost.
            ("auto.offset.reset", "error"),
            ("enable.partition.eof", "true"),
        ],
    )?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, options.timeout)
        .with_context(|| {
            format!(
                "cannot read the offsets of '{topic}' partition {partition} from {}",
                settings.bootstrap_servers
            )
        })?;
    let (from, until) = (start.max(low), end.min(high));
    if (from, until) != (start, end) && start < end && options.fail_on_data_loss {
        bail!(
            "'{topic}' partition {partition} holds offsets {low}..{high}, so offsets \
             {start}..{end} cannot all be read: records were deleted (retention) or the \
             topic was recreated; set failOnDataLoss=false to read what is left"
        );
    }
    let mut builder = BatchBuilder::new(options.mode, usize::try_from(until - from).unwrap_or(0));
    if from >= until {
        return Ok(builder.finish());
    }
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, partition, Offset::Offset(from))?;
    consumer.assign(&assignment)?;
    // `calls` reads one header, the record's index.
    let include_headers = matches!(
        options.mode,
        Mode::Raw {
            include_headers: true
        } | Mode::Calls
    );
    let mut progress = Instant::now();
    let mut last_error = None;
    loop {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                progress = Instant::now();
                let offset = message.offset();
                if offset >= until {
                    break;
                }
                let headers = if include_headers {
                    headers_of(&message)
                } else {
                    Vec::new()
                };
                builder.append(&record(&message, &headers));
                if offset + 1 >= until {
                    break;
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {
                if position(&consumer, topic, partition)? >= until {
                    break;
                }
            }
            Some(Err(e)) if transient_consumer_error(&e).is_some() => {
                last_error = transient_consumer_error(&e);
            }
            Some(Err(e)) => {
                return Err(e).with_context(|| {
                    format!("reading '{topic}' partition {partition} at {from}..{until} failed")
                })
            }
        }
        if progress.elapsed() >= options.timeout {
            bail!(
                "no record of '{topic}' partition {partition} for {:.0?} while reading \
                 {from}..{until} (at {}); is the broker at {} up?{}",
                options.timeout,
                position(&consumer, topic, partition)?,
                settings.bootstrap_servers,
                last_error
                    .map(|code| format!(" (last error: {code})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(builder.finish())
}

fn position(consumer: &LoggedConsumer, topic: &str, partition: i32) -> Result<i64> {
    let list = consumer.position()?;
    Ok(
        match list.find_partition(topic, partition).map(|p| p.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1,
        },
    )
}

fn headers_of<'a>(message: &'a BorrowedMessage<'_>) -> Vec<Header<'a>> {
    message.headers().map_or_else(Vec::new, |headers| {
        headers
            .iter()
            .map(|h| Header {
                key: h.key,
                value: h.value,
            })
            .collect()
    })
}

fn record<'a>(message: &'a BorrowedMessage<'_>, headers: &'a [Header<'a>]) -> Record<'a> {
    // The Java client's TimestampType ids, which spark-sql-kafka shows.
    let (timestamp_ms, timestamp_type) = match message.timestamp() {
        Timestamp::NotAvailable => (-1, -1),
        Timestamp::CreateTime(ms) => (ms, 0),
        Timestamp::LogAppendTime(ms) => (ms, 1),
    };
    Record {
        key: message.key(),
        value: message.payload(),
        topic: message.topic(),
        partition: message.partition(),
        offset: message.offset(),
        timestamp_ms,
        timestamp_type,
        headers,
    }
}
