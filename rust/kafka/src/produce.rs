//! `sfcrime produce`: streams the calls file into a topic with an idempotent
//! rdkafka producer. Every record is accounted for: delivered, failed (and
//! named), or — with `skip_invalid` — sent verbatim to the dead-letter topic.
//! With `copies` N it streams the file N times, one copy after another, each
//! record as [`sfcrime_records::copies`] defines its copy.

use crate::acl::{self, Operation};
use crate::admin;
use crate::client::KafkaSettings;
use crate::delivery::{leading_ones, set_bit, Deliveries, Tracked, TrackingContext};
use crate::pace::{self, Pace, Pacer};
use crate::resume::IndexSet;
use crate::wire::{compact_json, INDEX_HEADER};
use anyhow::{bail, Context, Result};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use sfcrime_records::copies::{copy_crime_id, copy_json};
use sfcrime_records::truth::Timestamp;
use sfcrime_records::{Element, FromFields, ReadError, RecordKey, RecordReader};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// librdkafka settings sfcrime uses unless `-X` overrides them: durable
/// (acks=all + idempotence: no loss, no duplicates on retry), compressed, and
/// batched for throughput. The queue is bounded so a slow broker applies
/// back-pressure instead of the whole file piling up in memory.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("compression.type", "lz4"),
    ("linger.ms", "50"),
    ("batch.size", "1000000"),
    ("batch.num.messages", "100000"),
    ("queue.buffering.max.kbytes", "16384"),
    ("queue.buffering.max.messages", "200000"),
    ("message.timeout.ms", "60000"),
    ("log_level", "3"),
];

#[derive(Debug, Clone)]
pub struct ProduceOptions {
    pub file: PathBuf,
    pub topic: String,
    pub kafka: KafkaSettings,
    pub pace: Pace,
    /// Send the file this many times (at least 1), copy c's record i with
    /// index `c × records of the file + i` ([`sfcrime_records::copies`]).
    /// Indexes below (`start_at`, `already_in_topic`, the confirmed prefix)
    /// are these. Not with `Pace::Replay`.
    pub copies: u64,
    /// Skip records with a lower index (resume after a partial run).
    pub start_at: u64,
    /// Records the topic already holds (`--resume`, from
    /// [`crate::resume::topic_contents`]): not sent again.
    pub already_in_topic: Option<Arc<IndexSet>>,
    /// Send at most this many records (of all copies together).
    pub limit: Option<u64>,
    /// Stop reading after this long (pacing tests, timed loads).
    pub duration: Option<Duration>,
    /// Dead-letter bad records instead of stopping at the first one.
    pub skip_invalid: bool,
    /// How long to wait for the broker before giving up.
    pub connect_timeout: Duration,
    /// Set (e.g. by a Ctrl-C handler) to stop reading: what was handed to
    /// the producer is still delivered or timed out, and the summary says
    /// so ([`ProduceSummary::interrupted`]).
    pub stop: Option<Arc<AtomicBool>>,
}

/// A snapshot for progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProduceProgress {
    pub sent: u64,
    pub delivered: u64,
    pub bytes: u64,
    /// Decompressed bytes of the file read so far (each copy reads it once
    /// more), and the total of all copies if known.
    pub file_pos: u64,
    pub file_len: Option<u64>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ProduceSummary {
    pub topic: String,
    /// Records handed to the producer (after `start_at`, within `limit`).
    pub sent: u64,
    /// Records of the file not sent because the topic holds them already
    /// (`already_in_topic`).
    pub already_in_topic: u64,
    /// Records the broker acknowledged.
    pub delivered: u64,
    pub failed: u64,
    pub dead_lettered: u64,
    /// Value bytes sent (compacted JSON).
    pub bytes: u64,
    pub seconds: f64,
    /// Every index below this was acknowledged (bad records by the
    /// dead-letter topic): resume with `--start-at`.
    pub confirmed_prefix: u64,
    /// The first delivery failures: (record index, error).
    pub failures: Vec<(u64, String)>,
    /// `stop` ended the run before the file did.
    pub interrupted: bool,
}

impl ProduceSummary {
    pub fn records_per_second(&self) -> f64 {
        self.delivered as f64 / self.seconds.max(1e-9)
    }

    pub fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }
}

/// Streams `options.file` into Kafka. Returns the summary even when some
/// deliveries failed (the caller decides the exit code); fails outright when
/// the broker cannot be reached, or the file is bad and `skip_invalid` is off
/// (after flushing what was already sent, so the summary stays true).
pub fn produce(
    options: &ProduceOptions,
    mut on_progress: impl FnMut(&ProduceProgress),
) -> Result<ProduceSummary> {
    if options.copies == 0 {
        bail!("copies must be at least 1");
    }
    if options.copies > 1 && matches!(options.pace, Pace::Replay { .. }) {
        bail!("replay cannot send copies: it sorts the file in memory, and copies follow one another in time anyway (send them without replay, or replay one copy)");
    }
    admin::metadata(&options.kafka, options.connect_timeout)?;
    admin::partition_count(&options.kafka, &options.topic, options.connect_timeout)?
        .with_context(|| {
            format!(
                "topic '{}' does not exist on {} (create it with `sfcrime stack up` or your admin tools)",
                options.topic, options.kafka.bootstrap_servers
            )
        })?;
    let deliveries = Arc::new(Deliveries {
        start_at: options.start_at,
        ..Deliveries::default()
    });
    if let Some(present) = &options.already_in_topic {
        // Records in the topic count towards the confirmed prefix as if
        // acknowledged now: the resume point covers them.
        let mut acked = deliveries.acked.lock().unwrap();
        for index in present.iter().filter(|i| *i >= options.start_at) {
            set_bit(&mut acked, index - options.start_at);
        }
    }
    // A BaseProducer, polled by this thread, not a ThreadedProducer: its
    // delivery reports then free each record's librdkafka allocations on
    // the thread that made them. Freed on a polling thread instead, they
    // cost glibc's malloc a fifth of the producer's CPU time (perf).
    let producer: BaseProducer<TrackingContext> = options
        .kafka
        .client_config(PRODUCER_DEFAULTS)
        .create_with_context(TrackingContext(deliveries.clone()))
        .context("cannot create the Kafka producer (check -X settings)")?;
    let file_len = uncompressed_len(&options.file);
    let total_len = file_len.map(|len| len * options.copies);

    let mut run = Run {
        options,
        producer: &producer,
        pacer: Pacer::new(),
        sent: 0,
        already_in_topic: 0,
        bytes: 0,
        dead_lettered: 0,
        dlq_ready: false,
        file_len,
        compact: Vec::with_capacity(2048),
        value: Vec::with_capacity(2048),
    };
    let mut last_report = Instant::now();
    let mut report = |run: &Run, file_pos: u64, force: bool| {
        if force || last_report.elapsed() >= Duration::from_millis(200) {
            last_report = Instant::now();
            on_progress(&ProduceProgress {
                sent: run.sent,
                delivered: deliveries.delivered.load(Ordering::Relaxed),
                bytes: run.bytes,
                file_pos,
                file_len: total_len,
                elapsed: run.pacer.elapsed(),
            });
        }
    };
    let outcome = match options.pace {
        Pace::Replay { speedup } => {
            let reader = RecordReader::open_as(&options.file)?;
            let elements = replay_order(reader, options, &mut run.already_in_topic)?;
            let first = elements.first().map(|(ts, _)| *ts).unwrap_or(0);
            let mut result = Ok(());
            for (ts, element) in elements {
                if run.out_of_time() {
                    break;
                }
                run.wait_until(pace::replay_offset(ts, first, speedup));
                let index = element.index;
                if let Err(err) = run.send(&element, 0, index) {
                    result = Err(err);
                    break;
                }
                report(&run, 0, false);
            }
            result
        }
        Pace::Fastest | Pace::Rate(_) => {
            run.stream(RecordReader::open_as(&options.file)?, &mut report)
        }
    };
    // Whatever happened, wait for what was handed to librdkafka so the
    // summary counts real acknowledgements.
    let flushed = producer.flush(options.kafka_flush_timeout());
    if let Some(code) = run.refusal() {
        return Err(acl::not_authorized(
            &options.kafka,
            Operation::Write,
            &options.topic,
            code,
        ));
    }
    report(&run, total_len.unwrap_or(0), true);
    let summary = ProduceSummary {
        topic: options.topic.clone(),
        sent: run.sent,
        already_in_topic: run.already_in_topic,
        delivered: deliveries.delivered.load(Ordering::Relaxed),
        failed: deliveries.failed.load(Ordering::Relaxed),
        dead_lettered: run.dead_lettered,
        bytes: run.bytes,
        seconds: run.pacer.elapsed().as_secs_f64(),
        confirmed_prefix: options.start_at + leading_ones(&deliveries.acked.lock().unwrap()),
        failures: deliveries.failures.lock().unwrap().clone(),
        interrupted: run.stop_requested(),
    };
    if let Err(err) = outcome {
        let mut message = format!("{err:#}");
        if summary.sent > 0 {
            message.push_str(&format!(
                "\n{} records were sent before that ({} acknowledged); every record below \
                 index {} is in the topic. {}",
                summary.sent,
                summary.delivered,
                summary.confirmed_prefix,
                how_to_resume(summary.confirmed_prefix)
            ));
        }
        bail!(message);
    }
    if let Err(err) = flushed {
        bail!(
            "{} of {} records were still unacknowledged when the flush timed out ({err}); \
             every record below index {} is in the topic. {}",
            summary.sent - summary.delivered - summary.failed,
            summary.sent,
            summary.confirmed_prefix,
            how_to_resume(summary.confirmed_prefix)
        );
    }
    Ok(summary)
}

/// The advice after a partial run whose records below `confirmed_prefix`
/// are all in the topic.
pub fn how_to_resume(confirmed_prefix: u64) -> String {
    format!(
        "Run again with --resume to send only the records the topic lacks, or resume with \
         --start-at {confirmed_prefix} (which sends again any unconfirmed record the broker \
         did write: duplicates)"
    )
}

impl ProduceOptions {
    /// Whether the topic holds record `index` already (`--resume`).
    fn holds_already(&self, index: u64) -> bool {
        self.already_in_topic
            .as_ref()
            .is_some_and(|present| present.contains(index))
    }

    /// The largest record librdkafka takes (`message.max.bytes`).
    fn message_size_limit(&self) -> u64 {
        self.kafka
            .overrides
            .iter()
            .rev()
            .find(|(k, _)| k == "message.max.bytes")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1_000_000)
    }

    fn kafka_flush_timeout(&self) -> Duration {
        // message.timeout.ms bounds each record's life; wait a little longer
        // so every record ends as delivered or failed, never unknown.
        let message_timeout = self
            .kafka
            .overrides
            .iter()
            .rev()
            .find(|(k, _)| k == "message.timeout.ms" || k == "delivery.timeout.ms")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(60_000);
        Duration::from_millis(message_timeout) + Duration::from_secs(5)
    }
}

/// How often (in records sent) `enqueue` serves delivery reports when the
/// queue has room: often enough that progress and the confirmed prefix
/// lag by a fraction of a batch, rarely enough to cost nothing.
const DELIVERY_POLL_EVERY: u64 = 64;

struct Run<'a> {
    options: &'a ProduceOptions,
    producer: &'a BaseProducer<TrackingContext>,
    pacer: Pacer,
    sent: u64,
    already_in_topic: u64,
    bytes: u64,
    dead_lettered: u64,
    dlq_ready: bool,
    /// The decompressed size of one copy of the file, for progress.
    file_len: Option<u64>,
    /// A record's compact JSON, which copies rewrite into `value`.
    compact: Vec<u8>,
    /// What goes on the wire.
    value: Vec<u8>,
}

/// Up to [`Run::stream`]'s chunk of consecutive elements of one copy.
struct Chunk {
    copy: u64,
    /// The index of this copy's first record: copy × records of the file.
    first_index: u64,
    elements: Elements,
}

type Elements = Vec<Result<Element<RecordKey>, ReadError>>;

impl Run<'_> {
    /// Whether sending ends here: the time or record limit, a stop, or a
    /// broker that refuses this user every record.
    fn out_of_time(&self) -> bool {
        self.options
            .duration
            .is_some_and(|limit| self.pacer.elapsed() >= limit)
            || self.options.limit.is_some_and(|limit| self.sent >= limit)
            || self.stop_requested()
            || self.refusal().is_some()
    }

    /// The permission the broker said this user lacks: on a delivery, or
    /// (for the idempotent producer's id, which needs IdempotentWrite) as
    /// the producer's fatal error.
    fn refusal(&self) -> Option<RDKafkaErrorCode> {
        let refused = *self.producer.context().0.refused.lock().unwrap();
        refused.or_else(|| {
            self.producer
                .client()
                .fatal_error()
                .map(|(code, _)| code)
                .filter(|code| acl::is_authorization(*code))
        })
    }

    /// Waits until `offset` after the start, serving delivery reports
    /// meanwhile (so progress and the confirmed prefix stay current while
    /// a paced run waits).
    fn wait_until(&self, offset: Duration) {
        loop {
            self.serve_deliveries();
            let wait = self.pacer.time_until(offset);
            if wait.is_zero() {
                return;
            }
            std::thread::sleep(wait.min(Duration::from_millis(50)));
        }
    }

    /// Serves every delivery report librdkafka has ready, without waiting.
    /// Never `poll` with a timeout here: it counts in whole milliseconds
    /// and spins, polling without blocking, through the last fraction of
    /// one (a seventh of the producer's CPU time when the queue was full).
    fn serve_deliveries(&self) {
        loop {
            // Only served reports lower the count (this thread alone sends).
            let before = self.producer.in_flight_count();
            self.producer.poll(Duration::ZERO);
            if self.producer.in_flight_count() >= before {
                return;
            }
        }
    }

    fn stop_requested(&self) -> bool {
        self.options
            .stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::SeqCst))
    }

    /// Sends records as the reader yields them, the file once per copy
    /// (read again each time, so memory stays that of one reader). Reading
    /// (gunzip + parse) runs on its own thread, in chunks, so it overlaps
    /// with sending.
    fn stream(
        &mut self,
        reader: RecordReader<RecordKey>,
        report: &mut impl FnMut(&Run, u64, bool),
    ) -> Result<()> {
        const CHUNK: usize = 512;
        let start_at = self.options.start_at;
        let (copies, file) = (self.options.copies, self.options.file.clone());
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(8);
        // Sent chunks go back to the reader, which frees their elements and
        // reuses the vector: memory freed on the thread that allocated it
        // stays in that thread's cache; freed here it cost glibc's malloc
        // about a tenth of this thread's time (perf).
        let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Elements>();
        let reading = std::thread::spawn(move || {
            let empty_chunk = || {
                spent_rx.try_recv().map_or_else(
                    |_| Vec::with_capacity(CHUNK),
                    |mut spent| {
                        spent.clear();
                        spent
                    },
                )
            };
            // Copy 0's reader was opened before, so that its errors come first.
            let mut first_reader = Some(reader);
            let mut first_index = 0;
            for copy in 0..copies {
                let reader = match first_reader
                    .take()
                    .map_or_else(|| RecordReader::open_as(&file), Ok)
                {
                    Ok(reader) => reader,
                    Err(err) => {
                        let _ = tx.send(Chunk {
                            copy,
                            first_index,
                            elements: vec![Err(err)],
                        });
                        return;
                    }
                };
                let mut records = 0;
                let mut elements = empty_chunk();
                for element in reader {
                    let failed = element.is_err();
                    if let Ok(e) = &element {
                        records = e.index + 1;
                        if first_index + e.index < start_at {
                            continue;
                        }
                    }
                    elements.push(element);
                    if elements.len() == CHUNK || failed {
                        let full = std::mem::replace(&mut elements, empty_chunk());
                        if tx
                            .send(Chunk {
                                copy,
                                first_index,
                                elements: full,
                            })
                            .is_err()
                            || failed
                        {
                            return; // the sender stopped early, or the file is unreadable
                        }
                    }
                }
                if tx
                    .send(Chunk {
                        copy,
                        first_index,
                        elements,
                    })
                    .is_err()
                {
                    return;
                }
                first_index += records;
            }
        });
        let result = (|| {
            for Chunk {
                copy,
                first_index,
                mut elements,
            } in rx.iter()
            {
                // A stream-level error can only end a chunk.
                let failure = match elements.last() {
                    Some(Err(_)) => elements.pop().and_then(Result::err),
                    _ => None,
                };
                for element in elements.iter().flatten() {
                    if self.out_of_time() {
                        return Ok(());
                    }
                    let index = first_index + element.index;
                    if self.options.holds_already(index) {
                        self.already_in_topic += 1;
                        continue;
                    }
                    if let Pace::Rate(rate) = self.options.pace {
                        self.wait_until(pace::rate_offset(self.sent, rate));
                    }
                    let pos = copy * self.file_len.unwrap_or(0) + element.offset;
                    self.send(element, copy, index)?;
                    report(self, pos, false);
                }
                let _ = spent_tx.send(elements); // the reader may be done
                if let Some(err) = failure {
                    return Err(err.into());
                }
            }
            Ok(())
        })();
        drop(rx);
        reading.join().expect("the reader thread does not panic");
        result
    }

    /// Sends copy `copy` of a record of the file as record `index`.
    fn send(&mut self, element: &Element<RecordKey>, copy: u64, index: u64) -> Result<()> {
        // Only for errors: formatting it for each record cost a few % of the run.
        let place = || {
            let copy = match copy {
                0 => String::new(),
                c => format!(", copy {c} (index {index})"),
            };
            format!(
                "{}: record {} (byte {}){copy}",
                self.options.file.display(),
                element.index,
                element.offset
            )
        };
        let record =
            match &element.record {
                Ok(record) => record,
                Err(err) if self.options.skip_invalid && err.is_record_level() => {
                    return self.dead_letter(&element.raw, index, err.offset, &err.to_string());
                }
                Err(err) if err.is_record_level() => bail!(
                    "{err}\n(use --skip-invalid to send bad records to the dead-letter topic and go on)"
                ),
                Err(err) => bail!("{err}"),
            };
        if copy == 0 {
            compact_json(&element.raw, &mut self.value);
        } else {
            compact_json(&element.raw, &mut self.compact);
            if let Err(err) = copy_json(&self.compact, copy, &mut self.value) {
                let problem = format!("{}: {err}", place());
                if self.options.skip_invalid {
                    return self.dead_letter(&element.raw, index, element.offset, &problem);
                }
                bail!("{problem}\n(use --skip-invalid to send bad records to the dead-letter topic and go on)");
            }
        }
        let mut digits = itoa::Buffer::new(); // no String per record
        let headers = OwnedHeaders::new().insert(Header {
            key: INDEX_HEADER,
            value: Some(digits.format(index).as_bytes()),
        });
        let tracked = Tracked {
            index,
            dead_letter: false,
        };
        let key = copy_crime_id(&record.crime_id, copy);
        let sent = self.enqueue(
            BaseRecord::with_opaque_to(&self.options.topic, tracked.opaque())
                .key(key.as_bytes())
                .payload(self.value.as_slice())
                .headers(headers),
        );
        match sent {
            Ok(()) => {}
            Err(KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)) => {
                let place = place();
                let problem = format!(
                    "{place}: {} bytes, more than the producer's limit of {} \
                     (message.max.bytes)",
                    self.value.len(),
                    self.options.message_size_limit()
                );
                if self.options.skip_invalid {
                    // Its first kilobyte, so that the dead letter fits.
                    let head = &element.raw[..element.raw.len().min(1024)];
                    return self.dead_letter(head, index, element.offset, &problem);
                }
                bail!(
                    "{problem}\n(use --skip-invalid to send its first kilobyte to the dead-letter \
                     topic and go on, or raise -X message.max.bytes and the topic's \
                     max.message.bytes)"
                );
            }
            Err(err) => bail!("{}: cannot hand it to the producer: {err}", place()),
        }
        self.sent += 1;
        self.bytes += self.value.len() as u64;
        Ok(())
    }

    /// Hands a record to librdkafka, waiting while its bounded queue is full.
    /// Delivery reports are served here: every [`DELIVERY_POLL_EVERY`]
    /// records, and while the queue is full (only served reports free it).
    fn enqueue(&self, mut record: BaseRecord<'_, [u8], [u8], usize>) -> Result<(), KafkaError> {
        if self.sent.is_multiple_of(DELIVERY_POLL_EVERY) {
            self.serve_deliveries();
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_micros(200));
                    self.serve_deliveries();
                }
                Err((err, _)) => return Err(err),
            }
        }
    }

    /// Sends `raw` (a bad record, or the head of one too large to send) to
    /// `<topic>.dlq` with its index, byte offset and what was wrong.
    fn dead_letter(&mut self, raw: &[u8], index: u64, offset: u64, error: &str) -> Result<()> {
        let dlq = format!("{}.dlq", self.options.topic);
        if !self.dlq_ready {
            // Replication -1: the cluster's default.replication.factor
            // (which `stack up` sets to its topic's), so on a cluster the
            // dead letters survive losing a broker, like the records do.
            admin::ensure_topic(
                &self.options.kafka,
                &dlq,
                1,
                -1,
                &[],
                self.options.connect_timeout,
            )
            .with_context(|| format!("cannot create the dead-letter topic '{dlq}'"))?;
            self.dlq_ready = true;
        }
        let index_text = index.to_string();
        let offset_text = offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: INDEX_HEADER,
                value: Some(index_text.as_bytes()),
            })
            .insert(Header {
                key: "sfcrime.offset",
                value: Some(offset_text.as_bytes()),
            })
            .insert(Header {
                key: "sfcrime.error",
                value: Some(error.as_bytes()),
            });
        self.enqueue(
            BaseRecord::with_opaque_to(
                &dlq,
                Tracked {
                    index,
                    dead_letter: true,
                }
                .opaque(),
            )
            .payload(raw)
            .headers(headers),
        )
        .with_context(|| format!("cannot send record {index} to the dead-letter topic '{dlq}'"))?;
        self.dead_lettered += 1;
        Ok(())
    }
}

/// What replay keeps of a record besides its bytes: the key, and the event
/// time it orders by.
struct TimedKey {
    key: RecordKey,
    call_date_time: String,
}

impl FromFields for TimedKey {
    const KEEPS_EXTRA: bool = false;

    fn from_fields(
        fields: [Cow<'_, str>; 14],
        _extra: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        let [crime_id, _, _, _, _, _, call_date_time, ..] = fields;
        TimedKey {
            key: RecordKey {
                crime_id: crime_id.into_owned(),
            },
            call_date_time: call_date_time.into_owned(),
        }
    }
}

/// Reads every record and orders them by event time (oldest first); the
/// file is newest first, so replay has to hold the records in memory.
/// Records the topic holds already are left out (and counted), so that the
/// replay's clock starts at the first record it sends.
fn replay_order(
    reader: RecordReader<TimedKey>,
    options: &ProduceOptions,
    already_in_topic: &mut u64,
) -> Result<Vec<(i64, Element<RecordKey>)>> {
    let mut elements = Vec::new();
    for element in reader {
        let element = element?;
        if element.index < options.start_at {
            continue;
        }
        if options.holds_already(element.index) {
            *already_in_topic += 1;
            continue;
        }
        let ts = match &element.record {
            Ok(record) => record
                .call_date_time
                .parse::<Timestamp>()
                .map(|t| t.epoch_seconds())
                .with_context(|| {
                    format!(
                        "record {} (byte {}): call_date_time cannot be replayed",
                        element.index, element.offset
                    )
                })?,
            // Bad records keep their place relative to the previous one;
            // `send` dead-letters or rejects them.
            Err(_) => elements.last().map(|(ts, _)| *ts).unwrap_or(0),
        };
        elements.push((ts, element.map_record(|timed| timed.key)));
    }
    elements.sort_by_key(|(ts, _)| *ts);
    Ok(elements)
}

/// The decompressed size of the file, for progress: the file size, or for
/// gzip the ISIZE trailer (size mod 2^32, exact for files under 4 GiB).
fn uncompressed_len(path: &std::path::Path) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut magic = [0u8; 2];
    file.read_exact(&mut magic).ok()?;
    if magic != [0x1f, 0x8b] {
        return Some(len);
    }
    file.seek(SeekFrom::End(-4)).ok()?;
    let mut isize = [0u8; 4];
    file.read_exact(&mut isize).ok()?;
    Some(u32::from_le_bytes(isize) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_keeps_the_key_and_the_event_time() {
        // Each field holding its own name shows which slot went where.
        let timed = TimedKey::from_fields(
            sfcrime_records::FIELDS.map(Cow::Borrowed),
            serde_json::Map::new(),
        );
        assert_eq!(timed.key.crime_id, "crime_id");
        assert_eq!(timed.call_date_time, "call_date_time");
    }
}
