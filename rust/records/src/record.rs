//! The typed call record: the 14 string fields of one police call, plus any
//! extra fields kept verbatim, with deserialization that names every missing
//! field instead of only the first one.
//!
//! A JSON `null` in one of the 14 fields is an error, not an empty string:
//! Spark's `from_json` turns `null` into SQL NULL, which groups apart from
//! `""`, so reading it as empty would make the ground truth disagree with
//! Spark. Rejecting it dead-letters the record before it is ever produced,
//! which keeps "every produced record has 14 strings" true downstream.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// The 14 fields every record must carry, in the data file's order.
pub const FIELDS: [&str; 14] = [
    "crime_id",
    "original_crime_type_name",
    "report_date",
    "call_date",
    "offense_date",
    "call_time",
    "call_date_time",
    "disposition",
    "address",
    "city",
    "state",
    "agency_id",
    "address_type",
    "common_location",
];

/// One call for service. Every field is kept as the string the file holds:
/// the Spark job parses timestamps itself, and the ground truth must see
/// exactly what Spark sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    pub crime_id: String,
    pub original_crime_type_name: String,
    pub report_date: String,
    pub call_date: String,
    pub offense_date: String,
    pub call_time: String,
    pub call_date_time: String,
    pub disposition: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub agency_id: String,
    pub address_type: String,
    pub common_location: String,
    /// Fields beyond the 14, kept so that re-serializing loses nothing.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why an object is not a valid call record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("missing field{} {}", if .0.len() == 1 { "" } else { "s" }, quoted(.0))]
    Missing(Vec<&'static str>),
    #[error("field `{0}` is null (a call record needs a string there)")]
    Null(&'static str),
    #[error("field `{field}` is {found}, not a string")]
    NotAString {
        field: &'static str,
        found: &'static str,
    },
    #[error("field `{0}` appears more than once")]
    Duplicate(&'static str),
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a parse builds from a valid record: the whole [`CallRecord`], or
/// just what the producer needs ([`RecordKey`]). Both come out of the same
/// checks (missing, duplicate, null and non-string fields; JSON syntax), so
/// a record one of them refuses the other refuses too.
pub trait FromFields: Sized {
    /// Whether fields beyond the 14 are kept; if not, they are still parsed
    /// (a syntax error in them is still an error) and then dropped.
    const KEEPS_EXTRA: bool;
    /// Builds the value from the 14 fields, in [`FIELDS`] order. A field is
    /// borrowed from the element's text unless it held an escape.
    fn from_fields(fields: [Cow<'_, str>; 14], extra: Map<String, Value>) -> Self;
}

impl FromFields for CallRecord {
    const KEEPS_EXTRA: bool = true;

    fn from_fields(fields: [Cow<'_, str>; 14], extra: Map<String, Value>) -> Self {
        let [crime_id, original_crime_type_name, report_date, call_date, offense_date, call_time, call_date_time, disposition, address, city, state, agency_id, address_type, common_location] =
            fields.map(Cow::into_owned);
        CallRecord {
            crime_id,
            original_crime_type_name,
            report_date,
            call_date,
            offense_date,
            call_time,
            call_date_time,
            disposition,
            address,
            city,
            state,
            agency_id,
            address_type,
            common_location,
            extra,
        }
    }
}

/// A record checked exactly as [`CallRecord`] is, of which only the key is
/// kept. `produce` sends the element's own bytes, so owning all 14 fields
/// would cost it 14 allocations per record, freed on another thread: a
/// third of its CPU time in the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey {
    pub crime_id: String,
}

impl FromFields for RecordKey {
    const KEEPS_EXTRA: bool = false;

    fn from_fields(fields: [Cow<'_, str>; 14], _extra: Map<String, Value>) -> Self {
        let [crime_id, ..] = fields;
        RecordKey {
            crime_id: crime_id.into_owned(),
        }
    }
}

/// Deserializes like `CallRecord` (or any [`FromFields`]) but hands back
/// field problems as a typed value, so the reader can report them without
/// parsing error messages. A JSON syntax error still surfaces as a serde
/// error.
pub(crate) struct Checked<R>(pub(crate) Result<R, FieldError>);

impl<'de, R: FromFields> Deserialize<'de> for Checked<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor(PhantomData)).map(Checked)
    }
}

impl<'de> Deserialize<'de> for CallRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Checked::<CallRecord>::deserialize(d)?
            .0
            .map_err(de::Error::custom)
    }
}

struct RecordVisitor<R>(PhantomData<R>);

impl<'de, R: FromFields> Visitor<'de> for RecordVisitor<R> {
    type Value = Result<R, FieldError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a call record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut slots: [Option<Cow<'de, str>>; 14] = Default::default();
        let mut seen = [false; 14];
        let mut extra = Map::new();
        // The whole object is consumed even after a problem, so a syntax
        // error later in the element still wins: it is the more basic fault.
        let mut problem = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Known(i) => {
                    let value = map.next_value::<FieldValue>()?;
                    if seen[i] {
                        problem.get_or_insert(FieldError::Duplicate(FIELDS[i]));
                    }
                    seen[i] = true;
                    match value {
                        FieldValue::Str(s) => slots[i] = Some(s),
                        FieldValue::Null => {
                            problem.get_or_insert(FieldError::Null(FIELDS[i]));
                        }
                        FieldValue::Other(found) => {
                            problem.get_or_insert(FieldError::NotAString {
                                field: FIELDS[i],
                                found,
                            });
                        }
                    }
                }
                Key::Other(name) if R::KEEPS_EXTRA => {
                    extra.insert(name, map.next_value::<Value>()?);
                }
                Key::Other(_) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(p) = problem {
            return Ok(Err(p));
        }
        let missing: Vec<&'static str> = FIELDS
            .iter()
            .zip(seen)
            .filter(|(_, s)| !s)
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            return Ok(Err(FieldError::Missing(missing)));
        }
        Ok(Ok(R::from_fields(
            slots.map(Option::unwrap_or_default),
            extra,
        )))
    }
}

/// A map key, resolved to a field slot while it is still borrowed so that
/// known keys cost no allocation.
enum Key {
    Known(usize),
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match FIELDS.iter().position(|f| *f == s) {
                    Some(i) => Key::Known(i),
                    None => Key::Other(s.to_owned()),
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A field's value, classified rather than rejected, so that a wrong type
/// becomes a `FieldError` naming the field instead of serde's generic text.
enum FieldValue<'de> {
    /// Borrowed from the element's text unless the string held an escape.
    Str(Cow<'de, str>),
    Null,
    Other(&'static str),
}

impl<'de> Deserialize<'de> for FieldValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = FieldValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(FieldValue::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(FieldValue::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(FieldValue::Str(Cow::Owned(s)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FieldValue::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FieldValue::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(FieldValue::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(FieldValue::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(FieldValue::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(FieldValue::Other("a number"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FieldValue::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(FieldValue::Other("an object"))
            }
        }
        d.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::record_json;
    use serde_json::json;

    fn sample() -> Value {
        record_json(
            "183653763",
            "Traffic Stop",
            "2018-12-31T23:57:00.000",
            "ADM",
        )
    }
    /// The full parse's verdict, after checking that the key-only parse
    /// gives the same one: the producer must refuse what the truth refuses.
    fn checked(v: &Value) -> Result<CallRecord, FieldError> {
        let text = v.to_string();
        let full = serde_json::from_str::<Checked<CallRecord>>(&text)
            .unwrap()
            .0;
        let key = serde_json::from_str::<Checked<RecordKey>>(&text).unwrap().0;
        assert_eq!(
            key,
            full.clone().map(|r| RecordKey {
                crime_id: r.crime_id
            })
        );
        full
    }

    #[test]
    fn round_trips_with_extra_fields_kept() {
        let mut v = sample();
        v["source"] = json!({"batch": 7});
        let r: CallRecord = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(r.crime_id, "183653763");
        assert_eq!(r.common_location, "");
        assert_eq!(r.extra["source"], json!({"batch": 7}));
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
    }

    #[test]
    fn names_every_missing_field() {
        let mut v = sample();
        let o = v.as_object_mut().unwrap();
        o.remove("city");
        o.remove("crime_id");
        assert_eq!(
            checked(&v),
            Err(FieldError::Missing(vec!["crime_id", "city"]))
        );
        let err = serde_json::from_value::<CallRecord>(v).unwrap_err();
        assert_eq!(err.to_string(), "missing fields `crime_id`, `city`");
    }

    #[test]
    fn null_is_an_error_not_empty() {
        let mut v = sample();
        v["disposition"] = Value::Null;
        assert_eq!(checked(&v), Err(FieldError::Null("disposition")));
    }

    #[test]
    fn non_string_values_name_the_field() {
        let mut v = sample();
        v["agency_id"] = json!(1);
        assert_eq!(
            checked(&v),
            Err(FieldError::NotAString {
                field: "agency_id",
                found: "a number"
            })
        );
        v["agency_id"] = json!(["1"]);
        assert_eq!(
            checked(&v),
            Err(FieldError::NotAString {
                field: "agency_id",
                found: "an array"
            })
        );
    }

    #[test]
    fn duplicate_known_field_is_an_error() {
        let text = sample()
            .to_string()
            .replacen('{', r#"{"city":"Oakland","#, 1);
        let r = serde_json::from_str::<Checked<CallRecord>>(&text)
            .unwrap()
            .0;
        assert_eq!(r, Err(FieldError::Duplicate("city")));
        let key = serde_json::from_str::<Checked<RecordKey>>(&text).unwrap().0;
        assert_eq!(key, Err(FieldError::Duplicate("city")));
    }

    #[test]
    fn escaped_strings_are_unescaped_and_extra_fields_still_checked() {
        let text = sample()
            .to_string()
            .replacen(r#""183653763""#, r#""1836\u00353763""#, 1)
            .replacen('{', r#"{"note":[1,{"a":"b"}],"#, 1);
        let full = serde_json::from_str::<Checked<CallRecord>>(&text)
            .unwrap()
            .0;
        assert_eq!(full.unwrap().crime_id, "183653763");
        let key = serde_json::from_str::<Checked<RecordKey>>(&text).unwrap().0;
        assert_eq!(key.unwrap().crime_id, "183653763");
        // A syntax error inside an extra field is an error for both.
        let broken = text.replacen(r#"{"a":"b"}"#, r#"{"a" "b"}"#, 1);
        assert!(serde_json::from_str::<Checked<CallRecord>>(&broken).is_err());
        assert!(serde_json::from_str::<Checked<RecordKey>>(&broken).is_err());
    }

    #[test]
    fn non_object_is_a_type_error() {
        let err = serde_json::from_str::<CallRecord>("[1]").unwrap_err();
        assert!(err.to_string().contains("a call record object"), "{err}");
    }
}
