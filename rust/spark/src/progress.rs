//! Typed model of Spark's `StreamingQueryProgress` JSON, one event per line of
//! the progress file, and what can be read off one event (rows, latencies,
//! Kafka offsets and how far the query is behind the topic).
//!
//! The model follows what Spark really writes (`progress.scala` in
//! `sql/api`, Spark 4): `safeDecimalToJValue` *omits* a rate that is NaN or
//! infinite, `safeMapToJValue` omits empty maps (`eventTime`,
//! `observedMetrics`, `customMetrics`), `name` is `null` when the query has
//! none, `numOutputRows` is `-1` when the sink cannot count, and a source's
//! offsets are its own JSON (`{"topic":{"0":123}}` for Kafka, a bare number
//! for the rate source, `{"logOffset":0}` for files) or `null` before the
//! first batch. A writer that re-serialises PySpark's dict form instead
//! (`json.dumps(dict(progress))`) emits `NaN`/`Infinity` literals and
//! offsets as JSON-in-a-string (`"None"` when absent); those are accepted too,
//! so the parser does not depend on how `data_stream.py` chooses to write.

use anyhow::Context;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use crate::clock::parse_utc_millis;

/// Keys of `durationMs` that Spark's micro-batch engine reports. Others
/// (`commitBatch`, `total`, ...) are kept in the map as they come.
pub mod duration_key {
    pub const ADD_BATCH: &str = "addBatch";
    pub const COMMIT_OFFSETS: &str = "commitOffsets";
    pub const GET_BATCH: &str = "getBatch";
    pub const LATEST_OFFSET: &str = "latestOffset";
    pub const QUERY_PLANNING: &str = "queryPlanning";
    pub const TRIGGER_EXECUTION: &str = "triggerExecution";
    pub const WAL_COMMIT: &str = "walCommit";

    /// The phases of a micro-batch's trigger that the live table and the
    /// run report show, in the table's column order.
    pub const PHASES: [&str; 6] = [
        ADD_BATCH,
        GET_BATCH,
        LATEST_OFFSET,
        QUERY_PLANNING,
        WAL_COMMIT,
        COMMIT_OFFSETS,
    ];
}

/// A line of the progress file that is not a progress event.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("not a Spark StreamingQueryProgress event: {0}")]
    Json(#[from] serde_json::Error),
    /// QueryStarted/Idle/Terminated events carry only id, runId and
    /// timestamp; a progress event always has at least one of these.
    #[error("a query event without batchId, sources or durationMs, not a progress event")]
    NotProgress,
}

/// One `StreamingQueryProgress` event: what one trigger of the query did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamingQueryProgress {
    /// Query id, stable across restarts from the same checkpoint.
    pub id: String,
    /// Id of this start of the query.
    pub run_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Start of the trigger, UTC ISO-8601.
    pub timestamp: String,
    /// Not incremented by triggers that found no new data. Spark has always
    /// written it, but the programming guide's sample event lacks it.
    #[serde(default)]
    pub batch_id: Option<i64>,
    /// Whole trigger in ms; absent before Spark 3.2.
    #[serde(default)]
    pub batch_duration: Option<i64>,
    /// Sum over sources; PySpark's dict form can carry `null`, hence the
    /// option (see [`Self::input_rows`]).
    #[serde(default)]
    pub num_input_rows: Option<i64>,
    /// Absent when Spark computed NaN or infinity (e.g. a zero-length trigger).
    #[serde(default)]
    pub input_rows_per_second: Option<f64>,
    #[serde(default)]
    pub processed_rows_per_second: Option<f64>,
    /// Phase durations in ms, keyed as Spark names them ([`duration_key`]).
    #[serde(default, deserialize_with = "null_as_default")]
    pub duration_ms: BTreeMap<String, i64>,
    /// `min`/`max`/`avg`/`watermark`, UTC ISO-8601; absent without event time.
    #[serde(default, deserialize_with = "null_as_default")]
    pub event_time: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub state_operators: Vec<StateOperatorProgress>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sources: Vec<SourceProgress>,
    #[serde(default)]
    pub sink: Option<SinkProgress>,
    /// Named `observe()` metrics, as rows rendered to JSON by Spark.
    #[serde(default, deserialize_with = "null_as_default")]
    pub observed_metrics: BTreeMap<String, Value>,
}

/// A stateful operator's state-store metrics for one trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateOperatorProgress {
    #[serde(default, deserialize_with = "null_as_default")]
    pub operator_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_rows_total: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_rows_updated: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub all_updates_time_ms: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_rows_removed: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub all_removals_time_ms: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub commit_time_ms: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub memory_used_bytes: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_rows_dropped_by_watermark: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_shuffle_partitions: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_state_store_instances: i64,
    /// Provider-specific counters (`loadedMapCacheHitCount`, ...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_metrics: BTreeMap<String, i64>,
}

/// What one source read during the trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceProgress {
    /// e.g. `KafkaV2[Subscribe[sf.police.calls]]`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// Offsets as the source's own JSON; `Null` when absent.
    #[serde(default, deserialize_with = "offset_value")]
    pub start_offset: Value,
    #[serde(default, deserialize_with = "offset_value")]
    pub end_offset: Value,
    #[serde(default, deserialize_with = "offset_value")]
    pub latest_offset: Value,
    #[serde(default, deserialize_with = "null_as_default")]
    pub num_input_rows: i64,
    #[serde(default)]
    pub input_rows_per_second: Option<f64>,
    #[serde(default)]
    pub processed_rows_per_second: Option<f64>,
    /// Source metrics; Kafka reports `{min,max,avg}OffsetsBehindLatest`,
    /// as strings (`"270941269.0"`; older Spark wrote `"2.70941269E8"`, see
    /// SPARK-53690).
    #[serde(default, deserialize_with = "null_as_default")]
    pub metrics: BTreeMap<String, String>,
}

/// What the sink wrote during the trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SinkProgress {
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// `-1` when the sink cannot count (Spark's `DEFAULT_NUM_OUTPUT_ROWS`).
    #[serde(default = "unknown_output_rows")]
    pub num_output_rows: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metrics: BTreeMap<String, String>,
}

/// One Kafka topic partition, the key of Kafka source offsets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// Offset per topic partition, as in a Kafka source's `endOffset`.
pub type PartitionOffsets = BTreeMap<TopicPartition, i64>;

impl StreamingQueryProgress {
    /// Parses one progress line, accepting the non-finite literals and
    /// string-wrapped offsets that a Python writer may produce.
    pub fn from_json(line: &str) -> Result<Self, ProgressError> {
        let progress: Self = serde_json::from_str(&non_finite_to_null(line))?;
        if progress.batch_id.is_none()
            && progress.sources.is_empty()
            && progress.duration_ms.is_empty()
        {
            return Err(ProgressError::NotProgress);
        }
        Ok(progress)
    }

    /// Rows read in this trigger. Spark defines the top-level count as the sum
    /// over sources, so that sum stands in when the field is missing.
    pub fn input_rows(&self) -> i64 {
        self.num_input_rows
            .unwrap_or_else(|| self.sources.iter().map(|s| s.num_input_rows).sum())
    }

    /// Whether the trigger processed any rows (idle triggers do not).
    pub fn has_input(&self) -> bool {
        self.input_rows() > 0
    }

    /// One entry of `durationMs`, by its Spark name ([`duration_key`]).
    pub fn duration(&self, key: &str) -> Option<i64> {
        self.duration_ms.get(key).copied()
    }

    /// How long the trigger took: `durationMs.triggerExecution`, else
    /// `batchDuration` (the two differ by a few ms of bookkeeping).
    pub fn batch_latency_ms(&self) -> Option<i64> {
        self.duration(duration_key::TRIGGER_EXECUTION)
            .or(self.batch_duration)
    }

    /// The trigger's start as milliseconds since the epoch.
    pub fn timestamp_millis(&self) -> Option<i64> {
        parse_utc_millis(&self.timestamp)
    }

    /// Kafka end offsets of all sources together: where the query has read to.
    pub fn end_offsets(&self) -> PartitionOffsets {
        self.sources
            .iter()
            .filter_map(SourceProgress::end_offsets)
            .flatten()
            .collect()
    }

    /// Records the query still has to read, summed over the sources that can
    /// tell ([`SourceProgress::offsets_behind_latest`]); `None` if none can.
    pub fn offsets_behind_latest(&self) -> Option<i64> {
        self.sources
            .iter()
            .filter_map(SourceProgress::offsets_behind_latest)
            .reduce(|a, b| a + b)
    }
}

impl SourceProgress {
    /// Kafka-shaped start offsets, if this is a Kafka source that has them.
    pub fn start_offsets(&self) -> Option<PartitionOffsets> {
        kafka_offsets(&self.start_offset)
    }

    pub fn end_offsets(&self) -> Option<PartitionOffsets> {
        kafka_offsets(&self.end_offset)
    }

    pub fn latest_offsets(&self) -> Option<PartitionOffsets> {
        kafka_offsets(&self.latest_offset)
    }

    /// A numeric source metric; Spark reports them as strings.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key)?.trim().parse().ok()
    }

    /// Records between where this trigger read to and the partition heads:
    /// the sum over partitions of `latestOffset - endOffset`. Without both
    /// offset maps it falls back to Kafka's `avgOffsetsBehindLatest` metric
    /// times the partition count, which is the same sum when the partitions
    /// are known.
    pub fn offsets_behind_latest(&self) -> Option<i64> {
        let end = self.end_offsets();
        if let (Some(end), Some(latest)) = (&end, self.latest_offsets()) {
            // Partitions the trigger did not read yet (just added) have no end
            // offset; Spark skips them too until they are assigned.
            return Some(
                latest
                    .iter()
                    .filter_map(|(tp, head)| end.get(tp).map(|read| (head - read).max(0)))
                    .sum(),
            );
        }
        let partitions = end.or_else(|| self.latest_offsets())?.len();
        let avg = self.metric("avgOffsetsBehindLatest")?;
        Some((avg * partitions as f64).round() as i64)
    }
}

impl SinkProgress {
    /// Rows written, or `None` when the sink reports Spark's "unknown" `-1`.
    pub fn output_rows(&self) -> Option<i64> {
        (self.num_output_rows >= 0).then_some(self.num_output_rows)
    }
}

/// Reads offsets shaped `{"topic": {"partition": offset}}` (Kafka's
/// `KafkaSourceOffset` JSON); any other shape is not Kafka's and gives `None`.
pub fn kafka_offsets(offset: &Value) -> Option<PartitionOffsets> {
    let mut out = PartitionOffsets::new();
    for (topic, partitions) in offset.as_object()? {
        for (partition, value) in partitions.as_object()? {
            let key = TopicPartition {
                topic: topic.clone(),
                partition: partition.parse().ok()?,
            };
            out.insert(key, value.as_i64()?);
        }
    }
    Some(out)
}

/// Reads a whole progress file (one event per line, blank lines ignored).
pub fn read_progress_file(path: &Path) -> anyhow::Result<Vec<StreamingQueryProgress>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading progress file {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            StreamingQueryProgress::from_json(line)
                .with_context(|| format!("{}:{}", path.display(), i + 1))
        })
        .collect()
}

fn unknown_output_rows() -> i64 {
    -1
}

/// `null` reads as the type's default; Spark omits empty maps but a Python
/// writer may emit `null` for them.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Spark's `SourceProgress.jsonValue` parses an offset string as JSON and
/// falls back to the plain string; PySpark's `fromJObject` keeps the string
/// (`str(None)` being `"None"`). Applying the same parse here gives one shape
/// whichever way the line was written.
fn offset_value<'de, D>(deserializer: D) -> Result<Value, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => match s.trim() {
            "" | "None" | "null" => Value::Null,
            trimmed => serde_json::from_str(trimmed).unwrap_or(Value::String(s)),
        },
        other => other,
    })
}

/// Replaces the bare `NaN`, `Infinity` and `-Infinity` that Python's
/// `json.dumps` writes (JSON has no such literals) with `null`, leaving string
/// contents untouched. Spark's own JSON never has them, so the common case
/// borrows the line unchanged.
fn non_finite_to_null(line: &str) -> Cow<'_, str> {
    if !line.contains("NaN") && !line.contains("Infinity") {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(literal) = ["NaN", "Infinity", "-Infinity"]
            .into_iter()
            .find(|lit| rest.starts_with(lit))
        {
            out.push_str("null");
            rest = &rest[literal.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal(extra: &str) -> String {
        format!(
            r#"{{"id":"a","runId":"b","timestamp":"2026-11-25T11:47:22.562Z","batchId":3{extra}}}"#
        )
    }

    #[test]
    fn a_bare_event_parses_with_defaults() {
        let p = StreamingQueryProgress::from_json(&minimal("")).unwrap();
        assert_eq!(p.batch_id, Some(3));
        assert_eq!(p.name, None);
        assert_eq!(p.input_rows(), 0);
        assert!(!p.has_input());
        assert_eq!(p.batch_latency_ms(), None);
        assert!(p.sources.is_empty() && p.sink.is_none());
        assert_eq!(p.offsets_behind_latest(), None);
        assert_eq!(
            p.timestamp_millis(),
            parse_utc_millis("2026-11-25T11:47:22.562Z")
        );
    }

    #[test]
    fn other_lines_are_rejected() {
        let err = |line: &str| StreamingQueryProgress::from_json(line).unwrap_err();
        assert!(matches!(err("not json"), ProgressError::Json(_)));
        assert!(matches!(
            err(r#"{"id":"a","runId":"b","batchId":1}"#),
            ProgressError::Json(_)
        ));
        // QueryStartedEvent.json: the same identity, but no trigger in it.
        let started =
            r#"{"id":"a","runId":"b","name":null,"timestamp":"2026-11-25T11:47:22.562Z"}"#;
        assert!(matches!(err(started), ProgressError::NotProgress));
    }

    #[test]
    fn non_finite_literals_read_as_absent() {
        let line = minimal(
            r#","inputRowsPerSecond":NaN,"processedRowsPerSecond":Infinity,
            "sources":[{"description":"NaN Infinity \"NaN\"","inputRowsPerSecond":-Infinity,
            "processedRowsPerSecond":1.5}]"#,
        );
        let p = StreamingQueryProgress::from_json(&line).unwrap();
        assert_eq!(p.input_rows_per_second, None);
        assert_eq!(p.processed_rows_per_second, None);
        // Inside strings the words are data, not literals.
        assert_eq!(p.sources[0].description, r#"NaN Infinity "NaN""#);
        assert_eq!(p.sources[0].input_rows_per_second, None);
        assert_eq!(p.sources[0].processed_rows_per_second, Some(1.5));
    }

    #[test]
    fn clean_lines_are_not_copied() {
        assert!(matches!(non_finite_to_null(r#"{"a":1}"#), Cow::Borrowed(_)));
        assert_eq!(
            non_finite_to_null(r#"[NaN,"NaN",-Infinity]"#),
            r#"[null,"NaN",null]"#
        );
    }

    #[test]
    fn nulls_read_as_empty() {
        let line = minimal(
            r#","numInputRows":null,"durationMs":null,"eventTime":null,"stateOperators":null,
            "sources":null,"sink":null,"observedMetrics":null"#,
        );
        let p = StreamingQueryProgress::from_json(&line).unwrap();
        assert!(p.duration_ms.is_empty() && p.event_time.is_empty());
        assert!(p.state_operators.is_empty() && p.sources.is_empty());
        assert!(p.observed_metrics.is_empty() && p.sink.is_none());
    }

    #[test]
    fn input_rows_fall_back_to_the_sum_over_sources() {
        let line = minimal(r#","sources":[{"numInputRows":4},{"numInputRows":5}]"#);
        let p = StreamingQueryProgress::from_json(&line).unwrap();
        assert_eq!(p.num_input_rows, None);
        assert_eq!(p.input_rows(), 9);
    }

    #[test]
    fn string_wrapped_offsets_are_parsed_like_spark_does() {
        let line = minimal(
            r#","sources":[{"startOffset":"None","endOffset":"{\"t\":{\"0\":5}}",
            "latestOffset":"not json"}]"#,
        );
        let s = &StreamingQueryProgress::from_json(&line).unwrap().sources[0];
        assert_eq!(s.start_offset, Value::Null);
        assert_eq!(s.end_offset, json!({"t": {"0": 5}}));
        assert_eq!(s.latest_offset, json!("not json"));
    }

    #[test]
    fn kafka_offsets_need_the_kafka_shape() {
        let offsets = kafka_offsets(&json!({"b": {"1": 7, "0": 3}, "a": {"0": 1}})).unwrap();
        let flat: Vec<_> = offsets
            .iter()
            .map(|(tp, o)| (tp.topic.as_str(), tp.partition, *o))
            .collect();
        assert_eq!(flat, [("a", 0, 1), ("b", 0, 3), ("b", 1, 7)]);
        assert_eq!(kafka_offsets(&json!({})), Some(PartitionOffsets::new()));
        for other in [
            json!(null),
            json!(0),
            json!("x"),
            json!({"logOffset": 0}),
            json!({"t": {"p": 1}}),
            json!({"t": {"0": "1"}}),
        ] {
            assert_eq!(kafka_offsets(&other), None, "{other}");
        }
    }

    #[test]
    fn offsets_behind_latest_sums_partitions_and_sources() {
        let line = minimal(
            r#","sources":[
              {"endOffset":{"t":{"0":10,"1":20}},"latestOffset":{"t":{"0":15,"1":20,"2":9}}},
              {"endOffset":{"u":{"0":1}},"latestOffset":{"u":{"0":4}}},
              {"endOffset":0,"latestOffset":0}]"#,
        );
        let p = StreamingQueryProgress::from_json(&line).unwrap();
        // t-2 has no end offset yet, so it does not count.
        assert_eq!(p.sources[0].offsets_behind_latest(), Some(5));
        assert_eq!(p.sources[1].offsets_behind_latest(), Some(3));
        assert_eq!(p.sources[2].offsets_behind_latest(), None);
        assert_eq!(p.offsets_behind_latest(), Some(8));
        let ends: Vec<_> = p.end_offsets().into_values().collect();
        assert_eq!(ends, [10, 20, 1]);
    }

    #[test]
    fn offsets_behind_latest_falls_back_to_kafka_metrics() {
        let line = minimal(
            r#","sources":[{"endOffset":{"t":{"0":10,"1":20}},"latestOffset":null,
            "metrics":{"avgOffsetsBehindLatest":"2.5E1","maxOffsetsBehindLatest":"30"}}]"#,
        );
        let s = &StreamingQueryProgress::from_json(&line).unwrap().sources[0];
        assert_eq!(s.metric("maxOffsetsBehindLatest"), Some(30.0));
        assert_eq!(s.metric("minOffsetsBehindLatest"), None);
        assert_eq!(s.offsets_behind_latest(), Some(50));
    }

    #[test]
    fn sink_minus_one_means_unknown() {
        let sink: SinkProgress =
            serde_json::from_str(r#"{"description":"s","numOutputRows":-1}"#).unwrap();
        assert_eq!(sink.output_rows(), None);
        let sink: SinkProgress = serde_json::from_str(r#"{"description":"s"}"#).unwrap();
        assert_eq!(sink.num_output_rows, -1);
        let sink: SinkProgress = serde_json::from_str(r#"{"numOutputRows":0}"#).unwrap();
        assert_eq!(sink.output_rows(), Some(0));
    }

    #[test]
    fn latency_prefers_trigger_execution() {
        let p = StreamingQueryProgress::from_json(&minimal(
            r#","batchDuration":1905,"durationMs":{"triggerExecution":1900}"#,
        ))
        .unwrap();
        assert_eq!(p.batch_latency_ms(), Some(1900));
        let p = StreamingQueryProgress::from_json(&minimal(r#","batchDuration":1905"#)).unwrap();
        assert_eq!(p.batch_latency_ms(), Some(1905));
    }
}
