//! The JSON array format: the state machine over `[`, `,` and `]`, and the
//! scanner that finds where each element ends (tracking strings, escapes
//! and bracket nesting) without parsing it.

use super::{is_ws, Element, RecordReader, State};
use crate::error::{describe_byte, ErrorKind, ReadError};
use crate::record::FromFields;

impl<R: FromFields> RecordReader<R> {
    pub(super) fn next_array(&mut self) -> Result<Option<Element<R>>, ReadError> {
        loop {
            match self.state {
                State::Start => {
                    self.skip_bom()?;
                    match self.peek_non_ws()? {
                        None => return Err(self.here(ErrorKind::Empty)),
                        Some(b'[') => {
                            self.consume(1);
                            self.state = State::First;
                        }
                        Some(b) => {
                            return Err(self.here(ErrorKind::NotAnArray {
                                found: describe_byte(b),
                            }))
                        }
                    }
                }
                State::First | State::AfterComma => match self.peek_non_ws()? {
                    None => return Err(self.truncated("array")),
                    Some(b']') if self.state == State::First => {
                        self.consume(1);
                        self.state = State::End;
                    }
                    Some(b) if matches!(b, b']' | b',' | b'}' | b':') => {
                        return Err(self.unexpected(b, "an element"))
                    }
                    Some(b) => {
                        let offset = self.pos;
                        let raw = if matches!(b, b'{' | b'[' | b'"') {
                            self.scan_nested()?
                        } else {
                            self.scan_scalar()?
                        };
                        self.state = State::AfterElement;
                        return Ok(Some(self.element(offset, raw)));
                    }
                },
                State::AfterElement => match self.peek_non_ws()? {
                    None => return Err(self.truncated("array")),
                    Some(b',') => {
                        self.consume(1);
                        self.state = State::AfterComma;
                    }
                    Some(b']') => {
                        self.consume(1);
                        self.state = State::End;
                    }
                    Some(b) => return Err(self.unexpected(b, "',' or ']' after an element")),
                },
                State::End => match self.peek_non_ws()? {
                    None => return Ok(None),
                    Some(b) => return Err(self.unexpected(b, "end of file after the closing ']'")),
                },
                State::Done => return Ok(None),
            }
        }
    }

    /// Copies an object, array or string element, starting at the current
    /// byte, up to and including its closing byte.
    fn scan_nested(&mut self) -> Result<Vec<u8>, ReadError> {
        let start = self.pos;
        let mut raw = Vec::with_capacity(1024);
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        let mut in_string = false;
        let mut escaped = false;
        let result = loop {
            let buf = match self.fill() {
                Ok(buf) => buf,
                Err(e) => break Err(e),
            };
            if buf.is_empty() {
                let inside = match (in_string, stack.last()) {
                    (true, _) => "string",
                    (false, Some(b'{')) => "object",
                    _ => "array",
                };
                let eof_at = self.pos;
                break Err(self.error(self.index, start, ErrorKind::Truncated { inside, eof_at }));
            }
            match scan_chunk(buf, &mut stack, &mut in_string, &mut escaped) {
                Scan::End(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    self.consume(n);
                    break Ok(raw);
                }
                Scan::More => {
                    let n = buf.len();
                    raw.extend_from_slice(buf);
                    self.consume(n);
                }
                Scan::Mismatch(i) => {
                    // The element's end is unknowable once brackets
                    // disagree, so nothing after it can be delimited: the
                    // stream is broken, not just this element.
                    let found = buf[i];
                    self.consume(i);
                    let expected = match stack.last() {
                        Some(b'{') => "'}' to close the object (mismatched bracket)",
                        _ => "']' to close the array (mismatched bracket)",
                    };
                    break Err(self.unexpected(found, expected));
                }
            }
        };
        self.stack = stack;
        result
    }

    /// Copies a bare scalar element (number, literal, or garbage) up to the
    /// next delimiter. It is never a valid record, but it is well
    /// delimited, so it is reported as a record-level error.
    fn scan_scalar(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut raw = Vec::new();
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(raw);
            }
            // The first byte is already known not to be a delimiter, so at
            // least one byte is taken and the scan always advances.
            let skip = usize::from(raw.is_empty());
            let n = buf[skip..]
                .iter()
                .position(|&b| is_ws(b) || b"{}[]\",:".contains(&b))
                .map(|p| p + skip);
            let take = n.unwrap_or(buf.len());
            raw.extend_from_slice(&buf[..take]);
            self.consume(take);
            if n.is_some() {
                return Ok(raw);
            }
        }
    }
}

/// Where the scan of one buffered chunk stopped.
enum Scan {
    /// The element ends just before this index.
    End(usize),
    /// A closing bracket at this index does not match the open one.
    Mismatch(usize),
    /// The element goes on past the chunk.
    More,
}

/// Bytes that matter to the scanner outside strings (inside, only `\\` and
/// `"` do). Everything else is skipped in a tight loop: outside strings it
/// is short runs of indentation, colons and commas.
const OUTSIDE: [bool; 256] = byte_set(b"\"{}[]");

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

/// Advances the element scan over one chunk. The state (open brackets, in
/// a string, after a backslash) carries over between chunks, so elements
/// may straddle buffer refills anywhere, even inside an escape.
fn scan_chunk(buf: &[u8], stack: &mut Vec<u8>, in_string: &mut bool, escaped: &mut bool) -> Scan {
    let n = buf.len();
    let mut i = 0;
    if *escaped && n > 0 {
        *escaped = false;
        i = 1;
    }
    while i < n {
        if *in_string {
            // String contents are most of the bytes: memchr's vector search
            // skips them several bytes at a time (it halved this function's
            // share of `produce`'s profile).
            match memchr::memchr2(b'\\', b'"', &buf[i..]) {
                Some(k) => i += k,
                None => break,
            }
            if buf[i] == b'\\' {
                if i + 1 == n {
                    *escaped = true;
                    break;
                }
                i += 2;
                continue;
            }
            *in_string = false;
            i += 1;
            if stack.is_empty() {
                return Scan::End(i);
            }
        } else {
            while i < n && !OUTSIDE[buf[i] as usize] {
                i += 1;
            }
            if i == n {
                break;
            }
            match buf[i] {
                b'"' => *in_string = true,
                b @ (b'{' | b'[') => stack.push(b),
                b => {
                    let open = if b == b'}' { b'{' } else { b'[' };
                    if stack.last() != Some(&open) {
                        return Scan::Mismatch(i);
                    }
                    stack.pop();
                    if stack.is_empty() {
                        return Scan::End(i + 1);
                    }
                }
            }
            i += 1;
        }
    }
    Scan::More
}

#[cfg(test)]
mod tests {
    use super::super::tests::{bad, fatal, offset_of, ok, read};
    use crate::fixtures::{nth, record_json};
    use crate::{ErrorKind, Format, RecordReader};
    use std::io::{self, Cursor, Read};

    #[test]
    fn empty_array_has_no_records() {
        assert!(read(b" [ ] \n", Format::Array).is_empty());
    }

    #[test]
    fn object_at_top_level_is_not_an_array() {
        let text = format!("\n  {}", nth(0));
        let items = read(text.as_bytes(), Format::Array);
        let err = fatal(&items);
        assert!(
            matches!(&err.kind, ErrorKind::NotAnArray { found } if found == "'{'"),
            "{err}"
        );
        assert_eq!((err.index, err.offset), (0, 3));
        assert_eq!(
            err.to_string(),
            "record 0 (byte 3): not a JSON array: starts with '{' \
             (JSON lines files need a .jsonl name)"
        );
    }

    #[test]
    fn non_object_elements_are_record_level() {
        let good = nth(0);
        let text = format!(r#"[1, "x", null, [1, {{"a": "]"}}], true, {good}]"#);
        let items = read(text.as_bytes(), Format::Array);
        assert_eq!(items.len(), 6);
        let expect = [
            ("1", "a number"),
            (r#""x""#, "a string"),
            ("null", "null"),
            (r#"[1, {"a": "]"}]"#, "an array"),
            ("true", "a boolean"),
        ];
        for (i, (raw, kind)) in expect.iter().enumerate() {
            let err = bad(&items[i]);
            assert!(
                matches!(err.kind, ErrorKind::NotAnObject { found } if found == *kind),
                "{err}"
            );
            assert_eq!(err.index, i as u64);
            assert_eq!(err.offset, offset_of(text.as_bytes(), raw.as_bytes()));
            assert_eq!(items[i].as_ref().unwrap().raw, raw.as_bytes());
        }
        assert_eq!(ok(&items[5]).index, 5);
    }

    #[test]
    fn invalid_json_inside_a_delimited_element_is_record_level() {
        let good = nth(1);
        let text = format!(r#"[{{"crime_id" "1"}}, nope, {good}]"#);
        let items = read(text.as_bytes(), Format::Array);
        assert_eq!(items.len(), 3);
        for (i, offset) in [(0, 1), (1, offset_of(text.as_bytes(), b"nope"))] {
            let err = bad(&items[i]);
            assert!(matches!(err.kind, ErrorKind::InvalidJson(_)), "{err}");
            assert_eq!(err.offset, offset);
        }
        ok(&items[2]);
    }

    #[test]
    fn truncation_is_stream_level_and_located() {
        let good = nth(0);
        let at = good.len() as u64 + 3; // "[" + good + ", "
        let cases: [(String, &str, u64, u64); 6] = [
            (format!(r#"[{good}, {{"crime_id": "12"#), "string", 1, at),
            (format!(r#"[{good}, {{"a": {{"b": 1}}"#), "object", 1, at),
            (format!(r#"[{good}, [1, 2"#), "array", 1, at),
            (format!("[{good}"), "array", 1, at - 2),
            (format!("[{good},\n"), "array", 1, at),
            ("[".to_owned(), "array", 0, 1),
        ];
        for (text, inside, index, offset) in cases {
            let items = read(text.as_bytes(), Format::Array);
            assert_eq!(items.len() as u64, index + 1, "{text}");
            let err = fatal(&items);
            assert!(
                matches!(err.kind, ErrorKind::Truncated { inside: i, eof_at }
                    if i == inside && eof_at == text.len() as u64),
                "{text}: {err}"
            );
            assert_eq!((err.index, err.offset), (index, offset), "{text}");
        }
    }

    #[test]
    fn garbage_between_elements_is_stream_level() {
        let (a, b) = (nth(0), nth(1));
        let after_a = 1 + a.len() as u64;
        let cases = [
            (format!("[{a} x {b}]"), "'x'", after_a + 1),
            (format!("[{a},,{b}]"), "','", after_a + 1),
            (format!("[{a},]"), "']'", after_a + 1),
            (format!("[{a}}}, {b}]"), "'}'", after_a),
            (format!("[{a}]\nx"), "'x'", after_a + 2),
            (format!("[{a}] {b}"), "'{'", after_a + 2),
            (format!("[{a}\u{0}]"), "byte 0x00", after_a),
        ];
        for (text, found, offset) in cases {
            let items = read(text.as_bytes(), Format::Array);
            assert_eq!(items.len(), 2, "{text}");
            ok(&items[0]);
            let err = fatal(&items);
            assert!(
                matches!(&err.kind, ErrorKind::Unexpected { found: f, .. } if f == found),
                "{text}: {err}"
            );
            assert_eq!((err.index, err.offset), (1, offset), "{text}");
        }
    }

    #[test]
    fn mismatched_bracket_is_stream_level() {
        let text = format!(r#"[{{"a": [1}}, {}]"#, nth(0));
        let items = read(text.as_bytes(), Format::Array);
        assert_eq!(items.len(), 1);
        let err = fatal(&items);
        assert!(
            matches!(&err.kind, ErrorKind::Unexpected { found, expected }
                if found == "'}'" && expected.starts_with("']'")),
            "{err}"
        );
        assert_eq!((err.index, err.offset), (0, 9));
    }

    /// Strings full of brackets, quotes and escapes must not move element
    /// boundaries, wherever the buffer happens to be refilled.
    #[test]
    fn scanner_respects_strings_across_any_chunking() {
        struct Trickle(Cursor<Vec<u8>>);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(1);
                self.0.read(&mut buf[..n])
            }
        }
        let tricky = record_json(
            r#"a"}]{["\"#,
            "\\\"}\\",
            "2018-12-31T23:57:00.000",
            "x\u{2028}\u{e9}\u{1F693}",
        )
        .to_string();
        let text = format!("[{tricky},\"]\\\"[\", {}]", nth(1));
        let whole = read(text.as_bytes(), Format::Array);
        let trickled: Vec<_> =
            RecordReader::from_reader(Trickle(Cursor::new(text.into_bytes())), Format::Array)
                .unwrap()
                .collect();
        for items in [&whole, &trickled] {
            assert_eq!(items.len(), 3);
            let r = ok(&items[0]).record.as_ref().unwrap();
            assert_eq!(r.crime_id, r#"a"}]{["\"#);
            assert_eq!(r.original_crime_type_name, "\\\"}\\");
            assert_eq!(bad(&items[1]).offset, 1 + tricky.len() as u64 + 1);
            assert_eq!(ok(&items[2]).index, 2);
        }
        for (w, t) in whole.iter().zip(&trickled) {
            let (w, t) = (w.as_ref().unwrap(), t.as_ref().unwrap());
            assert_eq!((w.index, w.offset, &w.raw), (t.index, t.offset, &t.raw));
        }
    }
}
