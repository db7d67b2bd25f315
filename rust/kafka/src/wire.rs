//! What a call looks like on the wire: the record's JSON with insignificant
//! whitespace removed (the file is pretty-printed), its `crime_id` as key, and
//! its position in the file as a header, so a consumer can prove that nothing
//! is missing or duplicated.

use std::hash::{Hash, Hasher};

/// Header carrying the record's 0-based index in the source file.
pub const INDEX_HEADER: &str = "sfcrime.index";

/// Header the real-time pipeline (data_stream.py --real-time) adds to each
/// enriched call: the input record's Kafka timestamp in ms.
pub const SOURCE_TIMESTAMP_HEADER: &str = "sfcrime.source.timestamp";

/// The field the real-time pipeline adds to each call.
const ENRICHED_FIELD: &str = "description";

/// A fingerprint of a call's fields that an enriched copy shares with the
/// original: the JSON object without `description`, without null fields
/// (the pipeline writes every field, the file may leave some out), keys
/// sorted. `None` when `value` is not a JSON object.
pub fn enriched_call_fingerprint(value: &[u8]) -> Option<u64> {
    let serde_json::Value::Object(mut fields) = serde_json::from_slice(value).ok()? else {
        return None;
    };
    fields.remove(ENRICHED_FIELD);
    let canonical: std::collections::BTreeMap<_, _> =
        fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
    Some(fingerprint(&serde_json::to_vec(&canonical).ok()?))
}

/// `raw` without whitespace outside strings. The bytes inside strings are
/// copied untouched, so the value is the same JSON document, only smaller.
pub fn compact_json(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(raw.len());
    let mut rest = raw;
    // Outside strings byte by byte (tokens and indentation are short);
    // a string's contents, most of a call's bytes, are copied as one span up
    // to its closing quote (memchr finds the next quote or backslash).
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        out.push(byte);
        if byte != b'"' {
            continue;
        }
        loop {
            let Some(at) = memchr::memchr2(b'"', b'\\', rest) else {
                out.extend_from_slice(rest); // unterminated: keep the bytes as they are
                return;
            };
            let (span, after) = rest.split_at(at);
            out.extend_from_slice(span);
            if after[0] == b'"' {
                out.push(b'"');
                rest = &after[1..];
                break;
            }
            // A backslash and the byte it escapes, which may be a quote.
            let escape = &after[..after.len().min(2)];
            out.extend_from_slice(escape);
            rest = &after[escape.len()..];
        }
    }
}

/// A content fingerprint, to check that what came back is what was sent.
pub fn fingerprint(value: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Parses the index header's value.
pub fn parse_index(header: &[u8]) -> Option<u64> {
    std::str::from_utf8(header).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_keeps_string_contents() {
        let raw = b"{\n\t\"a b\" : \"x \\\" y\\\\\",\n  \"n\": [1, 2]\n}";
        let mut out = Vec::new();
        compact_json(raw, &mut out);
        assert_eq!(out, br#"{"a b":"x \" y\\","n":[1,2]}"#);
        let before: serde_json::Value = serde_json::from_slice(raw).unwrap();
        let after: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(before, after);
    }

    /// The definition, one byte at a time: what the span-copying
    /// `compact_json` must equal on any input, valid JSON or not.
    fn compact_bytewise(raw: &[u8]) -> Vec<u8> {
        let (mut out, mut in_string, mut escaped) = (Vec::new(), false, false);
        for &byte in raw {
            if in_string {
                out.push(byte);
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    in_string = false;
                }
            } else if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                in_string = byte == b'"';
                out.push(byte);
            }
        }
        out
    }

    #[test]
    fn compaction_equals_the_bytewise_definition_on_every_input() {
        let mut out = Vec::new();
        for raw in [
            &b""[..],
            b"\"",
            b"\"\\",
            b"\"a\\\"",
            b"\"\\\\\" x",
            b"{ \"\xc3\xa9 \" }",
        ] {
            compact_json(raw, &mut out);
            assert_eq!(
                out,
                compact_bytewise(raw),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        // Every string of up to 7 bytes over the bytes that matter.
        let alphabet = b" \n\"\\a{";
        let mut raw = Vec::new();
        for len in 0..=7u32 {
            for mut n in 0..alphabet.len().pow(len) {
                raw.clear();
                for _ in 0..len {
                    raw.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                compact_json(&raw, &mut out);
                assert_eq!(
                    out,
                    compact_bytewise(&raw),
                    "{:?}",
                    String::from_utf8_lossy(&raw)
                );
            }
        }
    }

    #[test]
    fn an_enriched_call_matches_its_original() {
        let original = br#"{"crime_id":"1","disposition":"ND","city":null}"#;
        let enriched =
            br#"{"disposition":"ND","crime_id":"1","city":null,"description":"No Disposition"}"#;
        let changed = br#"{"crime_id":"2","disposition":"ND","description":"No Disposition"}"#;
        let fp = enriched_call_fingerprint(original).unwrap();
        assert_eq!(enriched_call_fingerprint(enriched), Some(fp));
        assert_ne!(enriched_call_fingerprint(changed), Some(fp));
        assert_eq!(enriched_call_fingerprint(b"[1]"), None);
    }

    #[test]
    fn index_header_round_trips() {
        assert_eq!(parse_index(b"199998"), Some(199_998));
        assert_eq!(parse_index(b"x"), None);
    }
}
