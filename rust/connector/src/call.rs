//! A call record's JSON parsed into its 14 fields, the timestamp fields
//! also as microseconds since the epoch: what `calls` mode puts in its
//! typed columns. A record parses whole or not at all.

use crate::schema::CALL_TIMESTAMP_FIELDS;
use serde::Deserialize;
use sfcrime_records::truth::Timestamp;
use sfcrime_records::FIELDS;
use std::borrow::Cow;
use std::str::FromStr;

/// A call's 14 fields, borrowed from the record where JSON needs no
/// unescaping. serde's derive enforces exactly `CallRecord`'s rules (every
/// field present, a string, not null, not twice; other fields ignored)
/// without an allocation per field, which halves the parse time; a unit
/// test checks that the two accept the same records.
#[derive(Deserialize)]
struct CallFields<'a> {
    #[serde(borrow)]
    crime_id: Cow<'a, str>,
    #[serde(borrow)]
    original_crime_type_name: Cow<'a, str>,
    #[serde(borrow)]
    report_date: Cow<'a, str>,
    #[serde(borrow)]
    call_date: Cow<'a, str>,
    #[serde(borrow)]
    offense_date: Cow<'a, str>,
    #[serde(borrow)]
    call_time: Cow<'a, str>,
    #[serde(borrow)]
    call_date_time: Cow<'a, str>,
    #[serde(borrow)]
    disposition: Cow<'a, str>,
    #[serde(borrow)]
    address: Cow<'a, str>,
    #[serde(borrow)]
    city: Cow<'a, str>,
    #[serde(borrow)]
    state: Cow<'a, str>,
    #[serde(borrow)]
    agency_id: Cow<'a, str>,
    #[serde(borrow)]
    address_type: Cow<'a, str>,
    #[serde(borrow)]
    common_location: Cow<'a, str>,
}

/// A valid call: its 14 texts in `FIELDS` order, and the parsed value of
/// each timestamp field.
pub(crate) struct ParsedCall<'a> {
    pub texts: [Cow<'a, str>; 14],
    pub micros: [Option<i64>; 14],
}

/// `None` when the value is not a call record or one of its timestamp
/// fields does not parse, so that a row is either wholly valid or wholly
/// `_corrupt_record`.
pub(crate) fn parse_call(value: &[u8]) -> Option<ParsedCall<'_>> {
    // serde's derive also takes a struct written as a JSON array of its
    // values; `CallRecord` does not, and neither does this.
    if value.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let f: CallFields = serde_json::from_slice(value).ok()?;
    // FIELDS order; the unit tests check it.
    let texts = [
        f.crime_id,
        f.original_crime_type_name,
        f.report_date,
        f.call_date,
        f.offense_date,
        f.call_time,
        f.call_date_time,
        f.disposition,
        f.address,
        f.city,
        f.state,
        f.agency_id,
        f.address_type,
        f.common_location,
    ];
    let mut micros = [None; 14];
    for (i, name) in FIELDS.iter().enumerate() {
        if CALL_TIMESTAMP_FIELDS.contains(name) {
            micros[i] = Some(timestamp_micros(&texts[i])?);
        }
    }
    Some(ParsedCall { texts, micros })
}

/// Microseconds since the epoch of a naive timestamp read as UTC. The date
/// and time rules are those of the ground truth ([`Timestamp`]), which keeps
/// whole seconds; the fraction is added back here, to the microsecond
/// (Spark's precision; further digits are cut off, as Spark cuts them).
fn timestamp_micros(text: &str) -> Option<i64> {
    let seconds = Timestamp::from_str(text).ok()?.epoch_seconds();
    // A fraction can only follow seconds, which end at byte 19.
    let fraction = text
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or("");
    let mut micros = 0;
    let mut scale = 100_000;
    for digit in fraction.bytes().take_while(u8::is_ascii_digit).take(6) {
        micros += i64::from(digit - b'0') * scale;
        scale /= 10;
    }
    Some(seconds * 1_000_000 + micros)
}

/// A call as the data file holds it, as JSON, with the given id, crime type
/// and `call_date_time`.
#[cfg(test)]
pub(crate) fn call_json(id: &str, crime: &str, when: &str) -> Vec<u8> {
    serde_json::json!({
        "crime_id": id,
        "original_crime_type_name": crime,
        "report_date": "2018-12-31T00:00:00.000",
        "call_date": "2018-12-31T00:00:00.000",
        "offense_date": "2018-12-31T00:00:00.000",
        "call_time": "23:57",
        "call_date_time": when,
        "disposition": "ADM",
        "address": "Geary Bl/divisadero St",
        "city": "San Francisco",
        "state": "CA",
        "agency_id": "1",
        "address_type": "Intersection",
        "common_location": ""
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_what_call_record_says_it_is() {
        let good =
            String::from_utf8(call_json("1", "Traffic Stop", "2018-12-31T23:57:00")).unwrap();
        let cases = [
            good.clone(),
            good.replacen('{', r#"{"extra":[1,{"x":null}],"#, 1),
            good.replacen('{', r#"{"city":"Oakland","#, 1),
            good.replace(r#""city":"San Francisco","#, ""),
            good.replace(r#""San Francisco""#, "null"),
            good.replace(r#""San Francisco""#, "7"),
            good.replace(r#""San Francisco""#, r#""San \"Fran\u00e7isco\"""#),
            format!("  \n{good}"),
            format!("{good} trailing"),
            r#"["1","2","3","4","5","6","7","8","9","10","11","12","13","14"]"#.to_owned(),
            "null".to_owned(),
            "".to_owned(),
        ];
        for case in cases {
            let by_record = serde_json::from_str::<sfcrime_records::CallRecord>(&case).is_ok();
            let by_us = parse_call(case.as_bytes()).is_some();
            assert_eq!(by_us, by_record, "{case}");
        }
        let escaped = good.replace(r#""San Francisco""#, r#""San \"Fran\u00e7isco\"""#);
        assert_eq!(
            parse_call(escaped.as_bytes()).unwrap().texts[9],
            "San \"Fran\u{e7}isco\""
        );
    }

    #[test]
    fn timestamps_keep_the_fraction_to_the_microsecond() {
        let micros = |s| timestamp_micros(s);
        assert_eq!(micros("1970-01-01T00:00:00"), Some(0));
        assert_eq!(micros("1970-01-01T00:00:01.5"), Some(1_500_000));
        assert_eq!(micros("1970-01-01T00:00:00.1234567"), Some(123_456));
        assert_eq!(micros("1969-12-31T23:59:59.250"), Some(-750_000));
        assert_eq!(micros("2018-12-31 23:57"), Some(1_546_300_620_000_000));
        assert_eq!(
            micros("2018-12-31T23:57:00.000Z"),
            Some(1_546_300_620_000_000)
        );
        assert_eq!(micros("2018-12-31"), None);
        assert_eq!(micros("2018-02-30T00:00:00"), None);
    }
}
