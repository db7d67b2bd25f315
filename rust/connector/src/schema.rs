//! The connector's layouts: the two [`Mode`]s, the Kafka record they are
//! made from, and the Arrow schema of each.
//!
//! The Arrow types are the ones PySpark checks a Python data source's
//! batches against (`to_arrow_schema(schema, timezone="UTC")`): Spark
//! `TimestampType` is `timestamp[us, tz=UTC]`, `StringType` is `utf8` (not
//! `large_utf8`), every field nullable, and an array's item field is named
//! `element`. A batch that differs in any of these is refused by PySpark,
//! so the schemas below are the contract with python/sfcrime_connector.py.

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use sfcrime_records::FIELDS;
use std::str::FromStr;
use std::sync::Arc;

/// The layout of the batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// spark-sql-kafka's columns: key, value, topic, partition, offset,
    /// timestamp, timestampType, and `headers` when asked for.
    Raw { include_headers: bool },
    /// The 14 call fields typed, then partition, offset, timestamp,
    /// `sfcrime_index` and `_corrupt_record`.
    Calls,
}

impl FromStr for Mode {
    type Err = String;

    /// `raw` or `calls`; headers are a separate switch, so `raw` means
    /// without them.
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "raw" => Ok(Mode::Raw {
                include_headers: false,
            }),
            "calls" => Ok(Mode::Calls),
            other => Err(format!("unknown mode {other:?} (expected raw or calls)")),
        }
    }
}

/// The `calls` column with each record's `sfcrime.index` header.
pub const INDEX_COLUMN: &str = "sfcrime_index";

/// The call fields held as timestamps in `calls` mode. The data file writes
/// them as naive wall-clock times ("2018-12-31T23:57:00.000"); they become
/// Spark `TimestampType` values whose UTC reading is that wall-clock time,
/// exactly what `to_timestamp` yields in a UTC session (the Spark job runs
/// in one), so windows and results match a `from_json` job. `call_time`
/// ("23:57") stays a string: it is a time of day, which Spark's Arrow path
/// for Python data sources has no type for.
pub const CALL_TIMESTAMP_FIELDS: [&str; 4] =
    ["report_date", "call_date", "offense_date", "call_date_time"];

/// One Kafka record, borrowed from the consumer's buffers.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch; -1 when the record has none, as the
    /// Java client reports it (and so as Spark shows it).
    pub timestamp_ms: i64,
    /// The Java client's `TimestampType.id`: -1 none, 0 create time, 1 log
    /// append time.
    pub timestamp_type: i32,
    /// Only looked at when headers are included.
    pub headers: &'a [Header<'a>],
}

/// One record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub key: &'a str,
    pub value: Option<&'a [u8]>,
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub(crate) fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, true),
        Field::new("value", DataType::Binary, true),
    ])
}

pub(crate) fn header_item() -> Arc<Field> {
    Arc::new(Field::new(
        "element",
        DataType::Struct(header_fields()),
        true,
    ))
}

/// The Arrow schema of `mode`'s batches.
pub fn schema(mode: Mode) -> SchemaRef {
    let mut fields = Vec::new();
    match mode {
        Mode::Raw { include_headers } => {
            fields.extend([
                Field::new("key", DataType::Binary, true),
                Field::new("value", DataType::Binary, true),
                Field::new("topic", DataType::Utf8, true),
                Field::new("partition", DataType::Int32, true),
                Field::new("offset", DataType::Int64, true),
                Field::new("timestamp", timestamp_type(), true),
                Field::new("timestampType", DataType::Int32, true),
            ]);
            if include_headers {
                fields.push(Field::new("headers", DataType::List(header_item()), true));
            }
        }
        Mode::Calls => {
            fields.extend(FIELDS.iter().map(|name| {
                let ty = if CALL_TIMESTAMP_FIELDS.contains(name) {
                    timestamp_type()
                } else {
                    DataType::Utf8
                };
                Field::new(*name, ty, true)
            }));
            fields.extend([
                Field::new("partition", DataType::Int32, true),
                Field::new("offset", DataType::Int64, true),
                Field::new("timestamp", timestamp_type(), true),
                // The record's `sfcrime.index` header (its place in the
                // file), null without one: what the job drops duplicates by.
                Field::new(INDEX_COLUMN, DataType::Int64, true),
                Field::new("_corrupt_record", DataType::Utf8, true),
            ]);
        }
    }
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_by_name() {
        assert_eq!("calls".parse(), Ok(Mode::Calls));
        assert_eq!(
            "raw".parse(),
            Ok(Mode::Raw {
                include_headers: false
            })
        );
        assert!("json".parse::<Mode>().unwrap_err().contains("raw or calls"));
    }
}
