//! Kafka records -> one Arrow record batch in a [`Mode`]'s layout (see
//! crate::schema). Pure: no Kafka here, so every row-level rule is
//! unit-tested.

use crate::call::parse_call;
use crate::schema::{header_fields, header_item, schema, Mode, Record, CALL_TIMESTAMP_FIELDS};
use arrow::array::{
    ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder, StructBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use sfcrime_kafka::wire::{parse_index, INDEX_HEADER};
use sfcrime_records::FIELDS;
use std::sync::Arc;

/// Accumulates records into the columns of one batch.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Columns,
}

// Boxed: a builder is made once per batch, and they differ a lot in size.
enum Columns {
    Raw(Box<RawColumns>),
    Call(Box<CallColumns>),
}

struct RawColumns {
    key: BinaryBuilder,
    value: BinaryBuilder,
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    timestamp: TimestampMicrosecondBuilder,
    timestamp_type: Int32Builder,
    headers: Option<ListBuilder<StructBuilder>>,
}

/// A call field's column: a string, or a timestamp parsed from one.
enum FieldColumn {
    Str(StringBuilder),
    Ts(TimestampMicrosecondBuilder),
}

struct CallColumns {
    fields: Vec<FieldColumn>,
    partition: Int32Builder,
    offset: Int64Builder,
    timestamp: TimestampMicrosecondBuilder,
    index: Int64Builder,
    corrupt: StringBuilder,
}

fn timestamps(capacity: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

impl BatchBuilder {
    /// A builder expecting about `capacity` records (a hint, not a limit).
    pub fn new(mode: Mode, capacity: usize) -> BatchBuilder {
        let columns = match mode {
            Mode::Raw { include_headers } => Columns::Raw(Box::new(RawColumns {
                key: BinaryBuilder::with_capacity(capacity, capacity * 16),
                value: BinaryBuilder::with_capacity(capacity, capacity * 512),
                topic: StringBuilder::with_capacity(capacity, capacity * 16),
                partition: Int32Builder::with_capacity(capacity),
                offset: Int64Builder::with_capacity(capacity),
                timestamp: timestamps(capacity),
                timestamp_type: Int32Builder::with_capacity(capacity),
                headers: include_headers.then(|| {
                    let item = StructBuilder::from_fields(header_fields(), capacity);
                    ListBuilder::with_capacity(item, capacity).with_field(header_item())
                }),
            })),
            Mode::Calls => Columns::Call(Box::new(CallColumns {
                fields: FIELDS
                    .iter()
                    .map(|name| {
                        if CALL_TIMESTAMP_FIELDS.contains(name) {
                            FieldColumn::Ts(timestamps(capacity))
                        } else {
                            FieldColumn::Str(StringBuilder::with_capacity(capacity, capacity * 24))
                        }
                    })
                    .collect(),
                partition: Int32Builder::with_capacity(capacity),
                offset: Int64Builder::with_capacity(capacity),
                timestamp: timestamps(capacity),
                index: Int64Builder::with_capacity(capacity),
                corrupt: StringBuilder::new(),
            })),
        };
        BatchBuilder {
            schema: schema(mode),
            columns,
        }
    }

    /// Adds one record as one row: a record is never dropped, in `calls`
    /// mode one that is not a valid call becomes a `_corrupt_record` row.
    pub fn append(&mut self, record: &Record<'_>) {
        match &mut self.columns {
            Columns::Raw(c) => c.append(record),
            Columns::Call(c) => c.append(record),
        }
    }

    pub fn finish(self) -> RecordBatch {
        let columns: Vec<ArrayRef> = match self.columns {
            Columns::Raw(c) => c.finish(),
            Columns::Call(c) => c.finish(),
        };
        RecordBatch::try_new(self.schema, columns)
            .expect("the builders follow the schema they were made from")
    }
}

impl RawColumns {
    fn append(&mut self, r: &Record<'_>) {
        self.key.append_option(r.key);
        self.value.append_option(r.value);
        self.topic.append_value(r.topic);
        self.partition.append_value(r.partition);
        self.offset.append_value(r.offset);
        self.timestamp.append_value(r.timestamp_ms * 1000);
        self.timestamp_type.append_value(r.timestamp_type);
        if let Some(headers) = &mut self.headers {
            // spark-sql-kafka: a record without headers has a null array,
            // not an empty one.
            if r.headers.is_empty() {
                headers.append_null();
            } else {
                let item = headers.values();
                for h in r.headers {
                    field::<StringBuilder>(item, 0).append_value(h.key);
                    field::<BinaryBuilder>(item, 1).append_option(h.value);
                    item.append(true);
                }
                headers.append(true);
            }
        }
    }

    fn finish(mut self) -> Vec<ArrayRef> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.key.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.timestamp_type.finish()),
        ];
        if let Some(mut headers) = self.headers {
            columns.push(Arc::new(headers.finish()));
        }
        columns
    }
}

fn field<T: arrow::array::ArrayBuilder>(item: &mut StructBuilder, i: usize) -> &mut T {
    item.field_builder::<T>(i)
        .expect("header struct fields are (Utf8, Binary)")
}

impl CallColumns {
    fn append(&mut self, r: &Record<'_>) {
        match r.value.and_then(parse_call) {
            Some(call) => {
                for (i, column) in self.fields.iter_mut().enumerate() {
                    match column {
                        FieldColumn::Str(b) => b.append_value(&call.texts[i]),
                        FieldColumn::Ts(b) => b.append_option(call.micros[i]),
                    }
                }
                self.corrupt.append_null();
            }
            None => {
                for column in &mut self.fields {
                    match column {
                        FieldColumn::Str(b) => b.append_null(),
                        FieldColumn::Ts(b) => b.append_null(),
                    }
                }
                // Lossy on purpose: the column is a string (as in Spark's
                // JSON reader), and a value that is not even UTF-8 is shown
                // with replacement characters rather than dropped. A null
                // value (a tombstone) is shown as "".
                let text = String::from_utf8_lossy(r.value.unwrap_or_default());
                self.corrupt.append_value(text);
            }
        }
        self.partition.append_value(r.partition);
        self.offset.append_value(r.offset);
        self.timestamp.append_value(r.timestamp_ms * 1000);
        let index = r
            .headers
            .iter()
            .find(|h| h.key == INDEX_HEADER)
            .and_then(|h| parse_index(h.value?))
            .and_then(|index| i64::try_from(index).ok());
        self.index.append_option(index);
    }

    fn finish(self) -> Vec<ArrayRef> {
        let CallColumns {
            fields,
            mut partition,
            mut offset,
            mut timestamp,
            mut index,
            mut corrupt,
        } = self;
        let mut columns: Vec<ArrayRef> = fields
            .into_iter()
            .map(|column| -> ArrayRef {
                match column {
                    FieldColumn::Str(mut b) => Arc::new(b.finish()),
                    FieldColumn::Ts(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        columns.push(Arc::new(partition.finish()));
        columns.push(Arc::new(offset.finish()));
        columns.push(Arc::new(timestamp.finish()));
        columns.push(Arc::new(index.finish()));
        columns.push(Arc::new(corrupt.finish()));
        columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        Array, BinaryArray, Int32Array, Int64Array, ListArray, StringArray, StructArray,
        TimestampMicrosecondArray,
    };
    use serde_json::json;

    use crate::call::call_json;
    use crate::schema::{Header, INDEX_COLUMN};
    use arrow::datatypes::DataType;

    fn record<'a>(value: Option<&'a [u8]>, offset: i64, headers: &'a [Header<'a>]) -> Record<'a> {
        Record {
            key: Some(b"k"),
            value,
            topic: "sf.police.calls",
            partition: 2,
            offset,
            timestamp_ms: 1_546_300_620_123,
            timestamp_type: 0,
            headers,
        }
    }

    fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
        batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .as_any()
            .downcast_ref::<T>()
            .unwrap_or_else(|| panic!("column {name} has another type"))
    }

    #[test]
    fn raw_rows_are_the_kafka_record_as_spark_shows_it() {
        let mut b = BatchBuilder::new(
            Mode::Raw {
                include_headers: false,
            },
            1,
        );
        let mut tombstone = record(None, 8, &[]);
        tombstone.key = None;
        tombstone.timestamp_ms = -1;
        tombstone.timestamp_type = -1;
        b.append(&record(Some(b"not json at all"), 7, &[]));
        b.append(&tombstone);
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        let names: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            [
                "key",
                "value",
                "topic",
                "partition",
                "offset",
                "timestamp",
                "timestampType"
            ]
        );
        let value = column::<BinaryArray>(&batch, "value");
        assert_eq!(value.value(0), b"not json at all");
        assert!(value.is_null(1));
        assert!(column::<BinaryArray>(&batch, "key").is_null(1));
        assert_eq!(
            column::<StringArray>(&batch, "topic").value(1),
            "sf.police.calls"
        );
        assert_eq!(column::<Int32Array>(&batch, "partition").value(0), 2);
        assert_eq!(column::<Int64Array>(&batch, "offset").values(), &[7, 8]);
        let ts = column::<TimestampMicrosecondArray>(&batch, "timestamp");
        assert_eq!(ts.values(), &[1_546_300_620_123_000, -1000]);
        assert_eq!(ts.timezone(), Some("UTC"));
        assert_eq!(
            column::<Int32Array>(&batch, "timestampType").values(),
            &[0, -1]
        );
    }

    #[test]
    fn headers_are_a_list_of_structs_and_null_when_absent() {
        let mode = Mode::Raw {
            include_headers: true,
        };
        let mut b = BatchBuilder::new(mode, 0);
        let headers = [
            Header {
                key: "sfcrime.index",
                value: Some(b"41"),
            },
            Header {
                key: "empty",
                value: None,
            },
        ];
        b.append(&record(Some(b"{}"), 0, &headers));
        b.append(&record(Some(b"{}"), 1, &[]));
        let batch = b.finish();
        let list = column::<ListArray>(&batch, "headers");
        assert!(list.is_null(1));
        let first = list.value(0);
        let items = first.as_any().downcast_ref::<StructArray>().unwrap();
        let keys = items
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let values = items
            .column(1)
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap();
        assert_eq!(
            (keys.value(0), values.value(0)),
            ("sfcrime.index", &b"41"[..])
        );
        assert_eq!(keys.value(1), "empty");
        assert!(values.is_null(1));
        // PySpark compares the whole Arrow type, item field name included.
        let DataType::List(item) = schema(mode)
            .field_with_name("headers")
            .unwrap()
            .data_type()
            .clone()
        else {
            panic!("headers is not a list");
        };
        assert_eq!(
            (item.name().as_str(), item.is_nullable()),
            ("element", true)
        );
        assert_eq!(item.data_type(), &DataType::Struct(header_fields()));
    }

    #[test]
    fn a_valid_call_is_typed_field_by_field() {
        let mut b = BatchBuilder::new(Mode::Calls, 0);
        let value = call_json("183653763", "Traffic Stop", "2018-12-31T23:57:00.250");
        b.append(&record(Some(&value), 11, &[]));
        let batch = b.finish();
        assert_eq!(batch.schema(), schema(Mode::Calls));
        assert_eq!(
            column::<StringArray>(&batch, "crime_id").value(0),
            "183653763"
        );
        assert_eq!(
            column::<StringArray>(&batch, "original_crime_type_name").value(0),
            "Traffic Stop"
        );
        assert_eq!(column::<StringArray>(&batch, "call_time").value(0), "23:57");
        assert_eq!(
            column::<StringArray>(&batch, "common_location").value(0),
            ""
        );
        let when = column::<TimestampMicrosecondArray>(&batch, "call_date_time");
        assert_eq!(when.value(0), 1_546_300_620_250_000);
        let day = column::<TimestampMicrosecondArray>(&batch, "call_date");
        assert_eq!(day.value(0), 1_546_214_400_000_000);
        assert_eq!(column::<Int64Array>(&batch, "offset").value(0), 11);
        assert_eq!(
            column::<TimestampMicrosecondArray>(&batch, "timestamp").value(0),
            1_546_300_620_123_000
        );
        assert!(column::<StringArray>(&batch, "_corrupt_record").is_null(0));
    }

    #[test]
    fn the_index_header_becomes_its_own_column() {
        let mut b = BatchBuilder::new(Mode::Calls, 0);
        let value = call_json("1", "Theft", "2018-12-31T23:57:00.000");
        let indexed = [
            Header {
                key: "other",
                value: Some(b"7"),
            },
            Header {
                key: INDEX_HEADER,
                value: Some(b"199998"),
            },
        ];
        let unreadable = [Header {
            key: INDEX_HEADER,
            value: Some(b"x"),
        }];
        b.append(&record(Some(&value), 0, &indexed));
        b.append(&record(Some(&value), 1, &[]));
        b.append(&record(Some(b"not a call"), 2, &unreadable));
        let batch = b.finish();
        let index = column::<Int64Array>(&batch, INDEX_COLUMN);
        assert_eq!(index.value(0), 199_998);
        assert!(index.is_null(1) && index.is_null(2));
    }

    #[test]
    fn every_field_lands_in_its_own_column() {
        // Each string field holds its own name, so a mix-up shows.
        let mut v: serde_json::Map<String, serde_json::Value> =
            FIELDS.iter().map(|f| (f.to_string(), json!(f))).collect();
        for f in CALL_TIMESTAMP_FIELDS {
            v[f] = json!("2018-12-31T23:57:00");
        }
        let value = serde_json::Value::Object(v).to_string().into_bytes();
        let mut b = BatchBuilder::new(Mode::Calls, 1);
        b.append(&record(Some(&value), 0, &[]));
        let batch = b.finish();
        for name in FIELDS.iter().filter(|f| !CALL_TIMESTAMP_FIELDS.contains(f)) {
            assert_eq!(column::<StringArray>(&batch, name).value(0), *name);
        }
    }

    #[test]
    fn records_that_are_not_calls_become_corrupt_rows_never_dropped() {
        let good = call_json("1", "Traffic Stop", "2018-12-31T23:57:00.000");
        let mut missing: serde_json::Value = serde_json::from_slice(&good).unwrap();
        missing.as_object_mut().unwrap().remove("city");
        let missing = missing.to_string().into_bytes();
        let bad_time = call_json("2", "Traffic Stop", "2018-12-31 noon");
        let null_field = String::from_utf8(good.clone())
            .unwrap()
            .replace(r#""disposition":"ADM""#, r#""disposition":null"#)
            .into_bytes();
        let inputs: Vec<(Option<&[u8]>, &str)> = vec![
            (Some(b"this is not json"), "this is not json"),
            (Some(b"[1,2]"), "[1,2]"),
            (Some(&missing), std::str::from_utf8(&missing).unwrap()),
            (Some(&bad_time), std::str::from_utf8(&bad_time).unwrap()),
            (Some(&null_field), std::str::from_utf8(&null_field).unwrap()),
            (Some(b"\xff{\"a\":1}"), "\u{fffd}{\"a\":1}"),
            (None, ""),
        ];
        let mut b = BatchBuilder::new(Mode::Calls, 0);
        b.append(&record(Some(&good), 0, &[]));
        for (i, (value, _)) in inputs.iter().enumerate() {
            b.append(&record(*value, i as i64 + 1, &[]));
        }
        let batch = b.finish();
        assert_eq!(batch.num_rows(), inputs.len() + 1);
        let corrupt = column::<StringArray>(&batch, "_corrupt_record");
        assert!(corrupt.is_null(0));
        for (i, (_, shown)) in inputs.iter().enumerate() {
            let row = i + 1;
            assert_eq!(corrupt.value(row), *shown, "row {row}");
            for field in FIELDS {
                assert!(
                    batch.column_by_name(field).unwrap().is_null(row),
                    "{field} row {row}"
                );
            }
            // Where it came from is always known, so it can be found again.
            assert_eq!(
                column::<Int64Array>(&batch, "offset").value(row),
                row as i64
            );
            assert!(!column::<Int32Array>(&batch, "partition").is_null(row));
        }
    }
}
