//! What a call looks like on the wire: the record's JSON with insignificant
//! whitespace removed (the file is pretty-printed), its `crime_id` as key, and
//! its position in the file as a header, so a consumer can prove that nothing
//! is missing or duplicated.

use std::hash::{Hash, Hasher};

/// Header carrying the record's 0-based index in the source file.
pub const INDEX_HEADER: &str = "sfcrime.index";

/// `raw` without whitespace outside strings. The bytes inside strings are
/// copied untouched, so the value is the same JSON document, only smaller.
pub fn compact_json(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(raw.len());
    let mut in_string = false;
    let mut escaped = false;
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
            if byte == b'"' {
                in_string = true;
            }
            out.push(byte);
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

    #[test]
    fn index_header_round_trips() {
        assert_eq!(parse_index(b"199998"), Some(199_998));
        assert_eq!(parse_index(b"x"), None);
    }
}
