//! `sfcrime consume`: the console consumer. Reads a topic from the beginning
//! (up to the end offsets seen at start) or as a consumer group, prints
//! records, measures end-to-end latency from message timestamps (and, for
//! the real-time pipeline's enriched calls, from each input record's append
//! to its output's), and can verify that the topic holds every record of a
//! file (or its first N), or of its N-fold copy (`produce --copies N`),
//! exactly once, intact.

use crate::acl::{self, Operation};
use crate::admin;
use crate::client::{transient_consumer_error, KafkaSettings};
use crate::wire::{
    compact_json, enriched_call_fingerprint, fingerprint, parse_index, INDEX_HEADER,
    SOURCE_TIMESTAMP_HEADER,
};
use anyhow::{bail, Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use sfcrime_records::copies::copy_json;
use sfcrime_records::{RecordKey, RecordReader};
use sfcrime_stats::nearest_rank;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Every partition from its first offset to the end offset at start.
    Beginning,
    /// Subscribe as this consumer group, from its committed offsets.
    Group(String),
}

#[derive(Debug, Clone)]
pub struct ConsumeOptions {
    pub topic: String,
    pub kafka: KafkaSettings,
    pub start: Start,
    pub max_messages: Option<u64>,
    /// Give up waiting for a broker, or for the next message, after this.
    pub timeout: Duration,
    /// Check the topic against this data file.
    pub verify: Option<PathBuf>,
    /// With `verify`: the topic holds this many copies of the file, as
    /// `produce --copies` sends them (1: the file itself).
    pub verify_copies: u64,
    /// With `verify`: only the first N records (of all copies together) are
    /// expected (what `produce -n N`, or `--rate R --duration S` for N =
    /// R x S, sends).
    pub verify_first: Option<u64>,
    /// Pipeline latency only of records whose input was appended at or
    /// after this time (ms since the epoch), leaving out a warm-up.
    pub pipeline_latency_since_ms: i64,
}

/// librdkafka consumer settings unless `-X` overrides them.
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "true"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
    ("fetch.max.bytes", "52428800"),
    ("max.partition.fetch.bytes", "10485760"),
    ("queued.max.messages.kbytes", "65536"),
    ("log_level", "3"),
];

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LatencyStats {
    pub count: usize,
    pub p50_ms: i64,
    pub p95_ms: i64,
    pub p99_ms: i64,
    pub max_ms: i64,
}

impl LatencyStats {
    /// Nearest-rank percentiles of `samples` (milliseconds).
    pub fn from_samples(mut samples: Vec<i64>) -> Option<LatencyStats> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        Some(LatencyStats {
            count: samples.len(),
            p50_ms: nearest_rank(&samples, 50.0)?,
            p95_ms: nearest_rank(&samples, 95.0)?,
            p99_ms: nearest_rank(&samples, 99.0)?,
            max_ms: *samples.last()?,
        })
    }
}

/// The result of `--verify`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Valid records in the file (bad ones belong in the dead-letter topic).
    pub expected: u64,
    /// Distinct file records found in the topic with the right content.
    pub present: u64,
    pub missing: u64,
    /// Extra copies of records already seen.
    pub duplicated: u64,
    /// Messages whose index is in the file but whose value differs.
    pub corrupted: u64,
    /// Messages without a usable index header, or with an index past the file.
    pub foreign: u64,
    pub first_missing: Vec<u64>,
}

impl VerifyReport {
    pub fn is_exact(&self) -> bool {
        self.missing == 0 && self.duplicated == 0 && self.corrupted == 0 && self.foreign == 0
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsumeSummary {
    pub messages: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub latency: Option<LatencyStats>,
    /// Enriched calls only: each output record's timestamp minus its input
    /// record's (the `sfcrime.source.timestamp` header); with both topics
    /// stamped by the broker (LogAppendTime), the pipeline's latency.
    pub pipeline_latency: Option<LatencyStats>,
    pub verify: Option<VerifyReport>,
}

/// Reads the topic, calling `on_message` for each record.
pub fn consume(
    options: &ConsumeOptions,
    mut on_message: impl FnMut(&BorrowedMessage<'_>),
) -> Result<ConsumeSummary> {
    admin::metadata(&options.kafka, options.timeout)?;
    let partitions = admin::partition_count(&options.kafka, &options.topic, options.timeout)?
        .with_context(|| {
            format!(
                "topic '{}' does not exist on {}",
                options.topic, options.kafka.bootstrap_servers
            )
        })?;
    let mut checker = match &options.verify {
        Some(path) => Some(Checker::new(
            path,
            options.verify_copies,
            options.verify_first,
        )?),
        None => None,
    };
    let group = match &options.start {
        Start::Group(group) => group.clone(),
        Start::Beginning => format!("sfcrime-console-{}", std::process::id()),
    };
    let mut defaults = CONSUMER_DEFAULTS.to_vec();
    defaults.push(("group.id", &group));
    if options.start == Start::Beginning {
        // An anonymous read must not leave committed offsets behind.
        defaults.push(("enable.auto.commit", "false"));
    }
    let consumer: BaseConsumer = options
        .kafka
        .client_config(&defaults)
        .create()
        .context("cannot create the Kafka consumer (check -X settings)")?;

    // End offsets at start: a read from the beginning stops there.
    let mut remaining: BTreeMap<i32, i64> = BTreeMap::new();
    match &options.start {
        Start::Beginning => {
            let mut assignment = TopicPartitionList::new();
            for partition in 0..partitions as i32 {
                let (low, high) = consumer
                    .fetch_watermarks(&options.topic, partition, options.timeout)
                    .with_context(|| format!("cannot read offsets of partition {partition}"))?;
                if high > low {
                    remaining.insert(partition, high);
                }
                assignment.add_partition_offset(&options.topic, partition, Offset::Beginning)?;
            }
            consumer.assign(&assignment)?;
        }
        Start::Group(_) => consumer.subscribe(&[&options.topic])?,
    }

    let started = Instant::now();
    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut latencies = Vec::new();
    let mut pipeline_latencies = Vec::new();
    // Per partition: whether its records carry the source timestamp, as
    // the real-time pipeline stamps every enriched record; decided by the
    // first record, so other topics' headers are not parsed for each
    // record (a tenth of this loop's time).
    let mut stamped: BTreeMap<i32, bool> = BTreeMap::new();
    // Since when nothing arrived (None while records flow): the clock is
    // read when a poll comes back without a record, not twice per record.
    let mut idle_since = Some(Instant::now());
    let mut last_error = None;
    loop {
        if options.max_messages.is_some_and(|max| messages >= max) {
            break;
        }
        if options.start == Start::Beginning && remaining.is_empty() {
            break;
        }
        if idle_since.is_some_and(|since| since.elapsed() >= options.timeout) {
            if options.start == Start::Beginning {
                bail!(
                    "no message for {:.0?} while {} partition(s) of '{}' still had data \
                     (broker gone?{}); read {messages} messages",
                    options.timeout,
                    remaining.len(),
                    options.topic,
                    last_error
                        .map(|code| format!(" last error: {code}"))
                        .unwrap_or_default()
                );
            }
            break;
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            idle_since.get_or_insert_with(Instant::now);
            continue;
        };
        let message = match message {
            Ok(message) => message,
            Err(err) if transient_consumer_error(&err).is_some() => {
                // (the idle timeout above names it if nothing follows)
                last_error = transient_consumer_error(&err);
                idle_since.get_or_insert_with(Instant::now);
                continue;
            }
            Err(err) => {
                if let Some(code) = acl::authorization_failure(&err) {
                    return Err(acl::not_authorized(
                        &options.kafka,
                        Operation::Read,
                        &options.topic,
                        code,
                    ));
                }
                return Err(err).with_context(|| format!("reading '{}' failed", options.topic));
            }
        };
        idle_since = None;
        if let Some(end) = remaining.get(&message.partition()) {
            if message.offset() + 1 >= *end {
                remaining.remove(&message.partition());
            }
        }
        messages += 1;
        bytes += message.payload_len() as u64;
        if let Some(created) = message.timestamp().to_millis() {
            latencies.push(now_millis() - created);
            let source = match stamped.get(&message.partition()) {
                Some(false) => None,
                _ => {
                    let source = header(&message, SOURCE_TIMESTAMP_HEADER);
                    stamped.insert(message.partition(), source.is_some());
                    source.and_then(parse_index)
                }
            };
            if let Some(source) = source.map(|ms| ms as i64) {
                if source >= options.pipeline_latency_since_ms {
                    pipeline_latencies.push(created - source);
                }
            }
        }
        if let Some(checker) = checker.as_mut() {
            checker.check(&message)?;
        }
        on_message(&message);
    }
    Ok(ConsumeSummary {
        messages,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
        latency: LatencyStats::from_samples(latencies),
        pipeline_latency: LatencyStats::from_samples(pipeline_latencies),
        verify: checker.map(Checker::finish),
    })
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The value of a message's header `key`, if it has one.
fn header<'a>(message: &'a BorrowedMessage<'_>, key: &str) -> Option<&'a [u8]> {
    let headers = message.headers()?;
    headers.iter().find(|h| h.key == key)?.value
}

/// For each record index of the file's `copies` copies (the first
/// `limit`), the fingerprint `of` its compact value; `None` for bad records
/// and records that cannot be copied, which the producer dead-letters.
fn file_fingerprints(
    path: &Path,
    copies: u64,
    limit: Option<u64>,
    of: impl Fn(&[u8]) -> u64,
) -> Result<Vec<Option<u64>>> {
    let limit = limit.map_or(usize::MAX, |n| n as usize);
    let mut fingerprints = Vec::new();
    let (mut compact, mut value) = (Vec::new(), Vec::new());
    for copy in 0..copies {
        if fingerprints.len() >= limit {
            break;
        }
        // Only whether each record is valid matters here, not its fields.
        let reader = RecordReader::<RecordKey>::open_as(path)?;
        for element in reader.take(limit - fingerprints.len()) {
            let element =
                element.with_context(|| format!("cannot verify against {}", path.display()))?;
            let wire = element.record.is_ok().then(|| {
                compact_json(&element.raw, &mut compact);
                copy_json(&compact, copy, &mut value)
                    .ok()
                    .map(|()| of(&value))
            });
            fingerprints.push(wire.flatten());
        }
    }
    Ok(fingerprints)
}

/// The fingerprint an enriched copy of a file record must have (the file's
/// good records are all JSON objects, so the 0 for others never matters).
fn enriched_fingerprint(value: &[u8]) -> u64 {
    enriched_call_fingerprint(value).unwrap_or_default()
}

struct Checker {
    file: PathBuf,
    copies: u64,
    limit: Option<u64>,
    /// Each record's wire value's fingerprint.
    expected: Vec<Option<u64>>,
    /// The fingerprints an enriched copy must have, made from the file when
    /// the first enriched call comes (a JSON parse of every record, which a
    /// plain topic never needs).
    enriched: Option<Vec<Option<u64>>>,
    seen: Vec<bool>,
    report: VerifyReport,
}

const MAX_LISTED_MISSING: usize = 20;

impl Checker {
    fn new(file: &Path, copies: u64, limit: Option<u64>) -> Result<Self> {
        if copies == 0 {
            bail!("a topic to verify holds at least 1 copy of the file");
        }
        let expected = file_fingerprints(file, copies, limit, fingerprint)?;
        Ok(Checker {
            file: file.to_path_buf(),
            copies,
            limit,
            seen: vec![false; expected.len()],
            report: VerifyReport {
                expected: expected.iter().filter(|f| f.is_some()).count() as u64,
                ..VerifyReport::default()
            },
            expected,
            enriched: None,
        })
    }

    fn check(&mut self, message: &BorrowedMessage<'_>) -> Result<()> {
        let index = header(message, INDEX_HEADER).and_then(parse_index);
        let Some(Some(wire)) = index.and_then(|i| self.expected.get(i as usize)).copied() else {
            self.report.foreign += 1;
            return Ok(());
        };
        let index = index.unwrap_or_default() as usize;
        let value = message.payload().unwrap_or_default();
        let intact = if header(message, SOURCE_TIMESTAMP_HEADER).is_some() {
            let enriched = match &self.enriched {
                Some(enriched) => enriched,
                None => self.enriched.insert(file_fingerprints(
                    &self.file,
                    self.copies,
                    self.limit,
                    enriched_fingerprint,
                )?),
            };
            enriched_call_fingerprint(value).is_some_and(|f| enriched[index] == Some(f))
        } else {
            fingerprint(value) == wire
        };
        if !intact {
            self.report.corrupted += 1;
        } else if std::mem::replace(&mut self.seen[index], true) {
            self.report.duplicated += 1;
        } else {
            self.report.present += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> VerifyReport {
        for (index, (seen, want)) in self.seen.iter().zip(&self.expected).enumerate() {
            if !seen && want.is_some() {
                self.report.missing += 1;
                if self.report.first_missing.len() < MAX_LISTED_MISSING {
                    self.report.first_missing.push(index as u64);
                }
            }
        }
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let stats = LatencyStats::from_samples((1..=100).rev().collect()).unwrap();
        assert_eq!(
            (stats.p50_ms, stats.p95_ms, stats.p99_ms, stats.max_ms),
            (50, 95, 99, 100)
        );
        assert!(LatencyStats::from_samples(Vec::new()).is_none());
        assert_eq!(LatencyStats::from_samples(vec![7]).unwrap().p50_ms, 7);
    }
}
