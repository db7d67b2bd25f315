//! The N-fold dataset of `sfcrime produce --copies N`: what copy `c` of a
//! record is. This module is the one owner of that transformation; the
//! producer rewrites the wire JSON with [`copy_json`], the ground truth and
//! the verifier derive their expectations from the same [`copied_field`].
//!
//! Copy 0 is the record itself. Copy `c` ≥ 1 differs in two ways only:
//! - `crime_id` gets the suffix `-c<c>` (`183653763` → `183653763-c2`), so
//!   no copy shares a key with another (the file's ids are digits);
//! - each timestamp field ([`TIMESTAMP_FIELDS`]) moves `c` × 13 weeks
//!   ([`WEEKS_PER_COPY`]) later. The file spans 2018-10-02 09:11 to
//!   2018-12-31 23:57, under 13 weeks, so copies never share an hour (or a
//!   day) window and follow one another on the calendar; whole weeks keep
//!   each call's weekday and time of day. Only the date part changes: the
//!   time and its fraction are kept as written.
//!
//! Its index header is `c × records of the file + index in the file`
//! ([`copy_index`]).

use crate::calendar::{civil_from_days, days_from_civil};
use crate::record::CallRecord;
use crate::truth::{Timestamp, TimestampError};
use std::borrow::Cow;

/// How far each copy moves its record's timestamps: 13 weeks (91 days),
/// the smallest whole number of weeks longer than the data's span.
pub const WEEKS_PER_COPY: i64 = 13;

/// The fields a copy shifts, in the data file's order.
pub const TIMESTAMP_FIELDS: [&str; 4] =
    ["report_date", "call_date", "offense_date", "call_date_time"];

/// Why a record cannot be copied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    #[error("field `{field}` cannot be moved to copy {copy}: {source}")]
    Timestamp {
        field: &'static str,
        copy: u64,
        source: TimestampError,
    },
    #[error("field `{field}` moved to copy {copy} would fall after the year 9999")]
    OutOfRange { field: &'static str, copy: u64 },
    #[error("not a JSON object of string fields, cannot make copy {copy} of it")]
    NotARecord { copy: u64 },
}

/// The index header of copy `copy` of the file's record `index`.
pub fn copy_index(copy: u64, file_records: u64, index: u64) -> u64 {
    copy * file_records + index
}

/// The `crime_id` of copy `copy`: the original for copy 0.
pub fn copy_crime_id(crime_id: &str, copy: u64) -> Cow<'_, str> {
    match copy {
        0 => Cow::Borrowed(crime_id),
        c => Cow::Owned(format!("{crime_id}-c{c}")),
    }
}

/// The value copy `copy` has in `field`, when it differs from `value`:
/// `None` for copy 0 and for the fields copies keep.
pub fn copied_field(field: &str, value: &str, copy: u64) -> Result<Option<String>, CopyError> {
    if copy == 0 {
        return Ok(None);
    }
    if field == "crime_id" {
        return Ok(Some(copy_crime_id(value, copy).into_owned()));
    }
    let Some(field) = TIMESTAMP_FIELDS.iter().find(|f| **f == field) else {
        return Ok(None);
    };
    let timestamp = |source| CopyError::Timestamp {
        field,
        copy,
        source,
    };
    // Parsed as the ground truth parses it, so only what it accepts moves.
    value.parse::<Timestamp>().map_err(timestamp)?;
    let digits = |range: std::ops::Range<usize>| value[range].parse::<u32>().ok();
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(timestamp(TimestampError(value.to_owned())));
    };
    let shift = i64::try_from(copy)
        .ok()
        .and_then(|c| c.checked_mul(WEEKS_PER_COPY * 7))
        .ok_or(CopyError::OutOfRange { field, copy })?;
    let (year, month, day) = civil_from_days(days_from_civil(i64::from(year), month, day) + shift);
    if year > 9999 {
        return Err(CopyError::OutOfRange { field, copy });
    }
    Ok(Some(format!(
        "{year:04}-{month:02}-{day:02}{}",
        &value[10..]
    )))
}

/// Copy `copy` of a record: [`copied_field`] applied to its fields.
pub fn copy_record(record: &CallRecord, copy: u64) -> Result<CallRecord, CopyError> {
    let mut copied = record.clone();
    for (field, value) in [
        ("crime_id", &mut copied.crime_id),
        ("report_date", &mut copied.report_date),
        ("call_date", &mut copied.call_date),
        ("offense_date", &mut copied.offense_date),
        ("call_date_time", &mut copied.call_date_time),
    ] {
        if let Some(new) = copied_field(field, value, copy)? {
            *value = new;
        }
    }
    Ok(copied)
}

/// Copy `copy` of a record's compact JSON object (no whitespace outside
/// strings, as the wire has it) into `out`: every top-level field in its
/// order, each byte kept but the values [`copied_field`] changes.
pub fn copy_json(compact: &[u8], copy: u64, out: &mut Vec<u8>) -> Result<(), CopyError> {
    out.clear();
    if copy == 0 {
        out.extend_from_slice(compact);
        return Ok(());
    }
    let bad = || CopyError::NotARecord { copy };
    if compact.first() != Some(&b'{') {
        return Err(bad());
    }
    out.push(b'{');
    let mut at = 1;
    while compact.get(at).is_some_and(|b| *b != b'}') {
        let key_end = value_end(compact, at);
        let key: Cow<str> = serde_json::from_slice(&compact[at..key_end]).map_err(|_| bad())?;
        if compact.get(key_end) != Some(&b':') {
            return Err(bad());
        }
        let value_start = key_end + 1;
        let value_end = value_end(compact, value_start);
        let value = &compact[value_start..value_end];
        out.extend_from_slice(&compact[at..value_start]);
        let changed = match serde_json::from_slice::<Cow<str>>(value) {
            Ok(text) => copied_field(&key, &text, copy)?,
            Err(_) if key == "crime_id" || TIMESTAMP_FIELDS.contains(&key.as_ref()) => {
                return Err(bad())
            }
            Err(_) => None,
        };
        match changed {
            Some(new) => serde_json::to_writer(&mut *out, &new).map_err(|_| bad())?,
            None => out.extend_from_slice(value),
        }
        at = value_end;
        if compact.get(at) == Some(&b',') {
            out.push(b',');
            at += 1;
        }
    }
    if compact.get(at) != Some(&b'}') || at + 1 != compact.len() {
        return Err(bad());
    }
    out.push(b'}');
    Ok(())
}

/// Where the compact JSON value (or object key) starting at `at` ends: past
/// its closing quote or bracket, or at the `,`, `:` or `}` after a scalar.
fn value_end(json: &[u8], mut at: usize) -> usize {
    let (mut depth, mut in_string) = (0usize, false);
    while let Some(&byte) = json.get(at) {
        at += 1;
        if in_string {
            match byte {
                b'\\' => at += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return at;
                    }
                }
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return at - 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return at;
                }
            }
            b',' | b':' if depth == 0 => return at - 1,
            _ => {}
        }
    }
    json.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::record_json;

    fn compact(value: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    #[test]
    fn index_and_crime_id() {
        assert_eq!(copy_index(0, 199_999, 7), 7);
        assert_eq!(copy_index(2, 199_999, 7), 400_005);
        assert_eq!(copy_crime_id("183653763", 0), "183653763");
        assert_eq!(copy_crime_id("183653763", 2), "183653763-c2");
    }

    #[test]
    fn timestamps_move_whole_weeks_keeping_their_time_and_format() {
        let moved = |value: &str, copy| copied_field("call_date_time", value, copy).unwrap();
        assert_eq!(moved("2018-12-31T23:57:00.000", 0), None);
        assert_eq!(
            moved("2018-12-31T23:57:00.000", 1).as_deref(),
            Some("2019-04-01T23:57:00.000")
        );
        // The data's first call: copy 1 starts after copy 0's last one.
        assert_eq!(
            moved("2018-10-02T09:11:00.000", 1).as_deref(),
            Some("2019-01-01T09:11:00.000")
        );
        for (value, copy) in [("2018-10-02T09:11:00.000", 3), ("2020-02-29 12:00", 19)] {
            let shifted = moved(value, copy).unwrap();
            let (a, b): (Timestamp, Timestamp) = (value.parse().unwrap(), shifted.parse().unwrap());
            assert_eq!(
                b.epoch_seconds() - a.epoch_seconds(),
                copy as i64 * WEEKS_PER_COPY * 7 * 86_400
            );
            assert_eq!(shifted[10..], value[10..]);
        }
        assert_eq!(copied_field("address", "x", 1).unwrap(), None);
        assert_eq!(copied_field("call_time", "23:57", 1).unwrap(), None);
        assert!(matches!(
            copied_field("offense_date", "yesterday", 1),
            Err(CopyError::Timestamp {
                field: "offense_date",
                copy: 1,
                ..
            })
        ));
        assert!(matches!(
            copied_field("call_date", "9999-12-01T00:00:00.000", 1),
            Err(CopyError::OutOfRange { .. })
        ));
        assert!(copied_field("call_date", "2018-12-01T00:00:00.000", u64::MAX).is_err());
    }

    #[test]
    fn a_copy_changes_the_id_and_every_timestamp_only() {
        let original = record_json(
            "183653763",
            "Traffic Stop",
            "2018-12-31T23:57:00.000",
            "ADM",
        );
        let record: CallRecord = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(copy_record(&record, 0).unwrap(), record);
        let copy = copy_record(&record, 2).unwrap();
        assert_eq!(copy.crime_id, "183653763-c2");
        for (before, after) in [
            (&record.report_date, &copy.report_date),
            (&record.call_date, &copy.call_date),
            (&record.offense_date, &copy.offense_date),
            (&record.call_date_time, &copy.call_date_time),
        ] {
            let (a, b): (Timestamp, Timestamp) = (before.parse().unwrap(), after.parse().unwrap());
            assert_eq!(b.epoch_seconds() - a.epoch_seconds(), 2 * 91 * 86_400);
        }
        let unchanged = |r: &CallRecord| {
            let mut r = r.clone();
            r.crime_id.clear();
            r.report_date.clear();
            r.call_date.clear();
            r.offense_date.clear();
            r.call_date_time.clear();
            r
        };
        assert_eq!(unchanged(&copy), unchanged(&record));
    }

    #[test]
    fn the_json_copy_keeps_field_order_and_bytes_and_equals_the_record_copy() {
        let mut original = record_json(
            "183653763",
            "Traffic Stop",
            "2018-12-31T23:57:00.000",
            "ADM",
        );
        original["source"] = serde_json::json!({"batch": [1, {"x": "a,\"}"}], "n": 1.50});
        original["zz"] = serde_json::json!(null);
        let mut wire = compact(&original);
        // Unusual but valid bytes must survive: an escaped quote and a
        // number spelled as the file spells it.
        let text = String::from_utf8(wire).unwrap().replace("1.5", "1.50");
        wire = text
            .replace("\"Traffic Stop\"", r#""Traffic \"Stop\"""#)
            .into_bytes();
        let record: CallRecord = serde_json::from_slice(&wire).unwrap();

        let mut out = Vec::new();
        copy_json(&wire, 0, &mut out).unwrap();
        assert_eq!(out, wire);
        copy_json(&wire, 3, &mut out).unwrap();
        let copied: CallRecord = serde_json::from_slice(&out).unwrap();
        assert_eq!(copied, copy_record(&record, 3).unwrap());
        // Everything but the five values is byte for byte the original's,
        // field order included.
        let expected = String::from_utf8(wire.clone())
            .unwrap()
            .replace("\"183653763\"", "\"183653763-c3\"")
            .replace("2018-12-31T00:00:00.000", "2019-09-30T00:00:00.000")
            .replace("2018-12-31T23:57:00.000", "2019-09-30T23:57:00.000");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn a_json_copy_of_a_non_record_is_an_error() {
        let mut out = Vec::new();
        for bad in [
            &b"[1]"[..],
            b"",
            b"{\"crime_id\":1}",
            b"{\"a\":1",
            b"{\"a\":1}x",
        ] {
            assert_eq!(
                copy_json(bad, 1, &mut out),
                Err(CopyError::NotARecord { copy: 1 }),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
