//! Property tests ("fuzzing") of the record reader on malformed input.
//!
//! Each case starts from a valid data file that proptest generates (a JSON
//! array or JSON lines of random call records, random layout, optional BOM,
//! optionally gzipped), applies one mutation (truncation, inserted or
//! overwritten garbage, invalid UTF-8, a non-object or deeply nested
//! element, an I/O failure of the source, a cut gzip stream, or bytes that
//! were never JSON) and feeds it through a source that hands out the bytes
//! in small chunks and sometimes fails with `Interrupted`. Then it checks:
//!
//! - the reader never panics and ends within a time bound (it runs on a
//!   thread with a deadline; an endless loop fails the case);
//! - every error carries the record index it belongs to and a byte offset
//!   inside the input, and stream errors point at the byte they name;
//! - the yielded elements (good or with a record-level error) are numbered
//!   0, 1, 2, ... with no gaps, and at most one stream error ends the
//!   stream, so every element up to the failure point is accounted for;
//! - where the mutation leaves elements intact (before the mutated byte, or
//!   all but the one replaced element), they come back byte for byte, at
//!   the same offset, with the very record that was generated;
//! - valid records round-trip: the parsed record serializes back to the
//!   JSON value of its raw bytes, and re-reading that yields the same record.
//!
//! `cargo test --release -p sfcrime-records --test fuzz_reader` runs 256
//! cases per property (`PROPTEST_CASES=N` changes that). For a long run:
//!
//! ```text
//! SFCRIME_FUZZ_SECONDS=300 cargo test --release -p sfcrime-records \
//!     --test fuzz_reader -- --ignored --nocapture
//! ```
//!
//! which generates cases until the time is up and prints how many it ran.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use sfcrime_records::{CallRecord, Element, ErrorKind, Format, ReadError, RecordReader};
use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Per-case deadline. Generous: the machine may be busy, and the largest
/// case is tens of kilobytes; a reader stuck in a loop never finishes.
const CASE_DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Valid inputs

/// A valid data file and where each element sits in it.
#[derive(Debug, Clone)]
struct Valid {
    format: Format,
    bytes: Vec<u8>,
    records: Vec<CallRecord>,
    spans: Vec<Span>,
    bom: bool,
    /// Array: position of `[` and one past the closing `]`.
    open: usize,
    close_end: usize,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    /// One past the element's last byte (`}` in both formats).
    end: usize,
    /// JSON lines: one past the line's `\n`, if the line has one.
    line_end: Option<usize>,
}

/// Short strings biased towards characters JSON has to escape or that the
/// scanner treats specially, plus anything else Unicode has.
fn text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => any::<char>(),
        1 => prop::sample::select(vec!['"', '\\', '\n', '\r', '{', '}', '[', ']', ',', ':', '\u{0}', '\u{2028}', 'é', '😀']),
    ];
    prop::collection::vec(ch, 0..8).prop_map(String::from_iter)
}

fn extra_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::from),
        prop::collection::vec(text(), 0..3).prop_map(Value::from),
    ]
}

fn record() -> impl Strategy<Value = CallRecord> {
    (
        prop::collection::vec(text(), 14),
        prop::collection::btree_map(
            (0u32..50).prop_map(|n| format!("extra_{n}")),
            extra_value(),
            0..3,
        ),
    )
        .prop_map(|(fields, extra)| {
            let mut f = fields.into_iter();
            let mut next = || f.next().expect("14 fields");
            CallRecord {
                crime_id: next(),
                original_crime_type_name: next(),
                report_date: next(),
                call_date: next(),
                offense_date: next(),
                call_time: next(),
                call_date_time: next(),
                disposition: next(),
                address: next(),
                city: next(),
                state: next(),
                agency_id: next(),
                address_type: next(),
                common_location: next(),
                extra: extra.into_iter().collect::<Map<String, Value>>(),
            }
        })
}

const BOM: &[u8] = b"\xef\xbb\xbf";
const WHITESPACE: &[&str] = &["", "", " ", "\n", "\r\n", "\t", "  \n  "];

/// Layout choices: per element pretty or compact, and a whitespace pick for
/// every gap between tokens.
fn valid() -> impl Strategy<Value = Valid> {
    (
        any::<bool>(),
        prop::collection::vec(record(), 0..6),
        prop::collection::vec(any::<bool>(), 6),
        prop::collection::vec(0..WHITESPACE.len(), 16),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, records, pretty, ws, bom, terminated)| {
            if lines {
                build_lines(records, &ws, bom, terminated)
            } else {
                build_array(records, &pretty, &ws, bom)
            }
        })
}

fn build_array(records: Vec<CallRecord>, pretty: &[bool], ws: &[usize], bom: bool) -> Valid {
    let mut ws = ws.iter().cycle().map(|i| WHITESPACE[*i].as_bytes());
    let mut bytes = Vec::new();
    if bom {
        bytes.extend_from_slice(BOM);
    }
    bytes.extend_from_slice(ws.next().unwrap());
    let open = bytes.len();
    bytes.push(b'[');
    let mut spans = Vec::new();
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        bytes.extend_from_slice(ws.next().unwrap());
        let start = bytes.len();
        let json = if pretty[i] {
            serde_json::to_vec_pretty(record)
        } else {
            serde_json::to_vec(record)
        };
        bytes.extend_from_slice(&json.unwrap());
        spans.push(Span {
            start,
            end: bytes.len(),
            line_end: None,
        });
        bytes.extend_from_slice(ws.next().unwrap());
    }
    bytes.push(b']');
    let close_end = bytes.len();
    bytes.extend_from_slice(ws.next().unwrap());
    Valid {
        format: Format::Array,
        bytes,
        records,
        spans,
        bom,
        open,
        close_end,
    }
}

fn build_lines(records: Vec<CallRecord>, ws: &[usize], bom: bool, terminated: bool) -> Valid {
    let mut picks = ws.iter().cycle();
    let mut bytes = Vec::new();
    if bom {
        bytes.extend_from_slice(BOM);
    }
    let mut spans = Vec::new();
    for (i, record) in records.iter().enumerate() {
        // A blank line now and then, and leading/trailing blanks on a line.
        let pick = *picks.next().unwrap();
        if pick == 3 {
            bytes.extend_from_slice(b" \t\n");
        }
        bytes.extend_from_slice(if pick.is_multiple_of(2) { b"" } else { b" " });
        let start = bytes.len();
        bytes.extend_from_slice(&serde_json::to_vec(record).unwrap());
        let end = bytes.len();
        let last = i + 1 == records.len();
        let line_end = if last && !terminated {
            None
        } else {
            bytes.extend_from_slice(if pick == 4 { b" \r\n" } else { b"\n" });
            Some(bytes.len())
        };
        spans.push(Span {
            start,
            end,
            line_end,
        });
    }
    if records.is_empty() && terminated {
        bytes.extend_from_slice(b"\n \n");
    }
    Valid {
        format: Format::Lines,
        close_end: bytes.len(),
        bytes,
        records,
        spans,
        bom,
        open: 0,
    }
}

// ---------------------------------------------------------------------------
// Mutations

#[derive(Debug, Clone)]
enum Mutation {
    None,
    /// The file ends after this many bytes.
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Overwrite(usize, u8),
    /// Invalid UTF-8 put inside the first string (a key) of element `.0`.
    BadUtf8(usize, Vec<u8>),
    /// Element `.0` replaced by this text: valid JSON that is not an object,
    /// garbage that is well delimited, or deep nesting.
    Replace(usize, String),
    /// This many `[` or `{` inserted at a position, never closed.
    DeepOpen(usize, usize, u8),
    /// The source fails with an I/O error after this many bytes.
    FailAfter(usize),
    /// The gzipped file cut after this many compressed bytes.
    CutGzip(usize),
    /// Nothing, or only whitespace.
    Empty(String),
    /// Bytes that were never a data file.
    Random(Vec<u8>),
}

/// Bytes that are likely to matter to the scanner, and any byte at all.
fn garbage_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        2 => prop::sample::select(b"{}[]\",:\\ \n0a-tfn\xff\xc3\x1f\x8b".to_vec()),
        1 => any::<u8>(),
    ]
}

fn invalid_utf8() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        vec![0xff],
        vec![0xfe],
        vec![0x80],
        vec![0xc3],
        vec![0xe2, 0x82],
        vec![0xed, 0xa0, 0x80],       // a UTF-16 surrogate
        vec![0xc0, 0x80],             // overlong NUL
        vec![0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
        vec![0xf8, 0x88, 0x80, 0x80, 0x80],
    ])
}

fn non_object() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "42",
            "-0.5e3",
            "\"text\"",
            "\"\"",
            "true",
            "false",
            "null",
            "[]",
            "[1,{\"a\":2}]",
            "tru",
            "01",
            "1.2.3",
            "abc",
            "-",
            "\"a\\\"b\"",
            "{}",
            "{\"crime_id\":null}",
            "{\"crime_id\":1}",
            "{\"a\" 1}",
            "{,}",
            "{\"a\":}",
        ])
        .prop_map(str::to_string),
        (1usize..5000).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d))),
        (1usize..5000).prop_map(|d| format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d))),
    ]
}

/// A case: the valid file, the mutation, and how the bytes are delivered.
#[derive(Debug, Clone)]
struct Case {
    valid: Valid,
    mutation: Mutation,
    gzip: bool,
    /// Largest read the source serves at once.
    chunk: usize,
    /// Whether every third read fails with `Interrupted` first.
    interrupts: bool,
}

fn case() -> impl Strategy<Value = Case> {
    valid().prop_flat_map(|valid| {
        let len = valid.bytes.len();
        let k = valid.records.len().max(1);
        let mutation = prop_oneof![
            2 => Just(Mutation::None),
            3 => (0..=len).prop_map(Mutation::Truncate),
            3 => (0..=len, prop::collection::vec(garbage_byte(), 1..6))
                .prop_map(|(p, g)| Mutation::Insert(p, g)),
            3 => (0..=len, garbage_byte()).prop_map(|(p, b)| Mutation::Overwrite(p, b)),
            2 => (0..k, invalid_utf8()).prop_map(|(j, b)| Mutation::BadUtf8(j, b)),
            2 => (0..k, non_object()).prop_map(|(j, t)| Mutation::Replace(j, t)),
            1 => (0..=len, 1usize..20_000, prop::sample::select(vec![b'[', b'{']))
                .prop_map(|(p, d, b)| Mutation::DeepOpen(p, d, b)),
            2 => (0..=len + 1).prop_map(Mutation::FailAfter),
            // At least the two magic bytes: a lone 0x1f is no longer recognisably gzip.
            2 => (2usize..400).prop_map(Mutation::CutGzip),
            1 => prop::sample::select(vec!["", " ", "\n\r\t ", "\u{feff}", "\u{feff}  "])
                .prop_map(|s| Mutation::Empty(s.to_string())),
            1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Mutation::Random),
        ];
        (
            Just(valid),
            mutation,
            any::<bool>(),
            prop_oneof![Just(usize::MAX), 1usize..64],
            any::<bool>(),
        )
            .prop_map(|(valid, mutation, gzip, chunk, interrupts)| Case {
                valid,
                mutation,
                gzip,
                chunk,
                interrupts,
            })
    })
}

// ---------------------------------------------------------------------------
// Running the reader

/// Serves bytes in chunks of at most `chunk`, optionally interrupting every
/// third read, and failing for good after `fail_after` bytes.
struct Source {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    interrupts: bool,
    reads: u64,
    fail_after: Option<usize>,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.interrupts && self.reads.is_multiple_of(3) {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let limit = self.fail_after.unwrap_or(usize::MAX).min(self.data.len());
        if self.pos >= limit && self.fail_after.is_some() {
            return Err(io::Error::other("injected failure"));
        }
        let n = buf.len().min(self.chunk).min(limit - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Everything the reader said.
#[derive(Debug)]
struct Outcome {
    /// `from_reader` itself failed (the source failed in its first bytes).
    open_error: Option<ReadError>,
    items: Vec<Result<Element, ReadError>>,
}

impl Outcome {
    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.items.iter().filter_map(|i| i.as_ref().ok())
    }

    fn stream_error(&self) -> Option<&ReadError> {
        self.open_error
            .as_ref()
            .or_else(|| self.items.last().and_then(|i| i.as_ref().err()))
    }
}

/// Runs the reader to its end on a thread, failing if it takes longer than
/// the deadline, yields more items than there are bytes, or yields again
/// after it ended.
fn read_all(source: Source, format: Format, max_items: usize) -> Result<Outcome, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = match RecordReader::from_reader(source, format) {
            Err(e) => Ok(Outcome {
                open_error: Some(e),
                items: Vec::new(),
            }),
            Ok(mut reader) => {
                let mut items = Vec::new();
                let mut verdict = Ok(());
                for item in reader.by_ref() {
                    items.push(item);
                    if items.len() > max_items {
                        verdict = Err(format!("more than {max_items} items"));
                        break;
                    }
                }
                if verdict.is_ok() && (reader.next().is_some() || reader.next().is_some()) {
                    verdict = Err("the reader yielded again after it ended".to_string());
                }
                verdict.map(|()| Outcome {
                    open_error: None,
                    items,
                })
            }
        };
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(CASE_DEADLINE) {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(problem)) => Err(TestCaseError::fail(problem)),
        // A panic drops the sender: the reader panicked.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(TestCaseError::fail("the reader panicked"))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(TestCaseError::fail(format!(
            "the reader did not finish within {CASE_DEADLINE:?}"
        ))),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

// ---------------------------------------------------------------------------
// Checks

/// How the reader names a byte in messages (mirrors the crate's private
/// `describe_byte`), to check that an error's offset points at that byte.
fn describe(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// Invariants that hold for any input. `plain` is the decompressed input
/// when it is known (not for a gzip stream that was cut).
fn check_general(outcome: &Outcome, plain: Option<&[u8]>) -> Result<(), TestCaseError> {
    if let Some(e) = &outcome.open_error {
        prop_assert!(matches!(e.kind, ErrorKind::Io(_)), "open error {e:?}");
        prop_assert_eq!((e.index, e.offset), (0, 0));
        return Ok(());
    }
    let mut previous_end = 0u64;
    for (n, item) in outcome.items.iter().enumerate() {
        let element = match item {
            Ok(element) => element,
            Err(e) => {
                prop_assert_eq!(
                    n + 1,
                    outcome.items.len(),
                    "a stream error is the last item"
                );
                check_stream_error(e, n as u64, plain)?;
                continue;
            }
        };
        prop_assert_eq!(
            element.index,
            n as u64,
            "elements are numbered without gaps"
        );
        prop_assert!(!element.raw.is_empty());
        prop_assert!(
            element.offset >= previous_end,
            "element {} at {} overlaps the previous one ending at {previous_end}",
            n,
            element.offset
        );
        previous_end = element.offset + element.raw.len() as u64;
        if let Some(plain) = plain {
            let range = element.offset as usize..previous_end as usize;
            prop_assert!(range.end <= plain.len(), "element {n} runs past the input");
            prop_assert!(
                plain[range.clone()] == element.raw[..],
                "element {n}: raw bytes differ from the input at {range:?}"
            );
        }
        match &element.record {
            Ok(record) => {
                // Nothing lost, nothing invented: the record is the raw JSON.
                let raw: Value = serde_json::from_slice(&element.raw)
                    .map_err(|e| TestCaseError::fail(format!("good record, bad JSON: {e}")))?;
                prop_assert_eq!(serde_json::to_value(record).unwrap(), raw);
                let again: CallRecord =
                    serde_json::from_slice(&serde_json::to_vec(record).unwrap()).unwrap();
                prop_assert_eq!(&again, record);
            }
            Err(e) => {
                prop_assert!(e.is_record_level(), "element error not record-level: {e:?}");
                prop_assert_eq!((e.index, e.offset), (element.index, element.offset));
                let end = element.offset + element.raw.len() as u64;
                match &e.kind {
                    ErrorKind::InvalidUtf8 { at } => {
                        prop_assert!((element.offset..end).contains(at), "{e:?}");
                        let before = &element.raw[..(at - element.offset) as usize];
                        prop_assert!(std::str::from_utf8(before).is_ok());
                        prop_assert!(std::str::from_utf8(&element.raw).is_err());
                    }
                    ErrorKind::InvalidJson(_) => {
                        prop_assert!(
                            serde_json::from_slice::<Value>(&element.raw).is_err(),
                            "valid JSON reported as invalid: {e:?}"
                        );
                    }
                    ErrorKind::NotAnObject { .. } => {
                        let value = serde_json::from_slice::<Value>(&element.raw);
                        prop_assert!(matches!(value, Ok(ref v) if !v.is_object()), "{e:?}");
                    }
                    ErrorKind::Field(_) => {
                        let value = serde_json::from_slice::<Value>(&element.raw);
                        prop_assert!(matches!(value, Ok(ref v) if v.is_object()), "{e:?}");
                    }
                    other => prop_assert!(false, "record-level kind {other:?}"),
                }
            }
        }
    }
    Ok(())
}

fn check_stream_error(
    e: &ReadError,
    index: u64,
    plain: Option<&[u8]>,
) -> Result<(), TestCaseError> {
    prop_assert!(!e.is_record_level(), "stream error is record-level: {e:?}");
    prop_assert_eq!(e.index, index, "stream error index: {:?}", e);
    let Some(plain) = plain else {
        return Ok(());
    };
    let len = plain.len() as u64;
    prop_assert!(e.offset <= len, "offset past the input ({len}): {e:?}");
    match &e.kind {
        ErrorKind::Unexpected { found, .. } | ErrorKind::NotAnArray { found } => {
            prop_assert!(e.offset < len, "{e:?}");
            prop_assert_eq!(found, &describe(plain[e.offset as usize]), "{:?}", e);
        }
        ErrorKind::Truncated { eof_at, .. } => prop_assert_eq!(*eof_at, len, "{:?}", e),
        ErrorKind::Empty => prop_assert_eq!(e.offset, len, "{:?}", e),
        ErrorKind::Io(_) => {}
        other => prop_assert!(false, "stream-level kind {other:?}"),
    }
    Ok(())
}

/// The elements `[0, n)` came back exactly as generated, at `shift` bytes
/// from where they were generated when `shift_from` ≤ their index.
fn check_intact(
    outcome: &Outcome,
    valid: &Valid,
    n: usize,
    skip: Option<usize>,
    shift: isize,
) -> Result<(), TestCaseError> {
    let elements: Vec<&Element> = outcome.elements().collect();
    prop_assert!(
        elements.len() >= n,
        "{} elements, expected at least {n}",
        elements.len()
    );
    for i in (0..n).filter(|i| Some(*i) != skip) {
        let span = valid.spans[i];
        let moved = if skip.is_some_and(|j| i > j) {
            shift
        } else {
            0
        };
        let element = elements[i];
        prop_assert_eq!(
            element.offset as isize,
            span.start as isize + moved,
            "element {}",
            i
        );
        prop_assert!(
            element.raw[..] == valid.bytes[span.start..span.end],
            "element {i} raw"
        );
        prop_assert_eq!(
            element.record.as_ref().ok(),
            Some(&valid.records[i]),
            "element {}",
            i
        );
    }
    Ok(())
}

/// Elements that a change at byte `p` cannot touch: they end before it (a
/// line also with its newline, since a JSON line ends at `\n`).
fn untouched_before(valid: &Valid, p: usize) -> usize {
    valid
        .spans
        .iter()
        .take_while(|s| match valid.format {
            Format::Array => s.end <= p,
            Format::Lines => s.line_end.is_some_and(|e| e <= p),
        })
        .count()
}

fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let valid = &case.valid;
    let k = valid.records.len();
    let mut plain = valid.bytes.clone();
    let mut fail_after = None;
    let mut cut_gzip = None;
    match &case.mutation {
        Mutation::None | Mutation::CutGzip(_) => {}
        Mutation::Truncate(p) => plain.truncate(*p),
        Mutation::Insert(p, bytes) => {
            plain.splice(*p..*p, bytes.iter().copied());
        }
        Mutation::Overwrite(p, b) => match plain.get_mut(*p) {
            Some(byte) => *byte = *b,
            None => plain.push(*b),
        },
        Mutation::BadUtf8(j, bytes) if *j < k => {
            let span = valid.spans[*j];
            let quote = span.start + plain[span.start..].iter().position(|b| *b == b'"').unwrap();
            plain.splice(quote + 1..quote + 1, bytes.iter().copied());
        }
        Mutation::Replace(j, text) if *j < k => {
            let span = valid.spans[*j];
            plain.splice(span.start..span.end, text.bytes());
        }
        Mutation::BadUtf8(..) | Mutation::Replace(..) => {} // no element to change
        Mutation::DeepOpen(p, depth, b) => {
            plain.splice(*p..*p, std::iter::repeat_n(*b, *depth));
        }
        Mutation::FailAfter(p) => fail_after = Some(*p),
        Mutation::Empty(text) => plain = text.as_bytes().to_vec(),
        Mutation::Random(bytes) => plain = bytes.clone(),
    }
    let mut data = if case.gzip || matches!(case.mutation, Mutation::CutGzip(_)) {
        gzip(&plain)
    } else {
        plain.clone()
    };
    if let Mutation::CutGzip(q) = case.mutation {
        if q < data.len() {
            data.truncate(q);
            cut_gzip = Some(q);
        }
    }
    // A source failing part-way through a gzip stream fails inside the
    // compressed bytes: the decompressed input is then unknown.
    // So is a plain input that starts with the gzip magic by chance (the
    // reader then decompresses it).
    let magic = !case.gzip && plain.starts_with(&[0x1f, 0x8b]);
    let known_plain = cut_gzip.is_none() && !(case.gzip && fail_after.is_some()) && !magic;
    let max_items = plain.len() + 1;
    let source = Source {
        data,
        pos: 0,
        chunk: case.chunk,
        interrupts: case.interrupts,
        reads: 0,
        fail_after,
    };
    let outcome = read_all(source, valid.format, max_items)?;
    check_general(&outcome, known_plain.then_some(&plain[..]))?;
    let oks = outcome.elements().count();
    let stream_error = outcome.stream_error();

    match &case.mutation {
        Mutation::None => match (valid.format, k) {
            (Format::Lines, 0) => {
                prop_assert!(
                    matches!(stream_error.map(|e| &e.kind), Some(ErrorKind::Empty)),
                    "{stream_error:?}"
                );
            }
            _ => {
                prop_assert!(stream_error.is_none(), "valid input: {stream_error:?}");
                prop_assert_eq!(oks, k);
                check_intact(&outcome, valid, k, None, 0)?;
                // Re-serialized records read back the same (round trip).
                let again = serde_json::to_vec(&valid.records).unwrap();
                let reread: Vec<CallRecord> =
                    RecordReader::from_reader(io::Cursor::new(again), Format::Array)
                        .unwrap()
                        .records()
                        .collect::<Result<_, _>>()
                        .map_err(|e| TestCaseError::fail(format!("round trip: {e}")))?;
                prop_assert_eq!(&reread, &valid.records);
            }
        },
        Mutation::Truncate(p) => check_truncation(valid, *p, &outcome)?,
        Mutation::Insert(p, _) | Mutation::Overwrite(p, _) | Mutation::DeepOpen(p, _, _) => {
            check_intact(&outcome, valid, untouched_before(valid, *p), None, 0)?;
        }
        Mutation::BadUtf8(j, bytes) if *j < k => {
            check_one_bad(&outcome, valid, *j, bytes.len() as isize)?;
            let bad = outcome.elements().nth(*j).unwrap();
            let quote = bad.raw.iter().position(|b| *b == b'"').unwrap();
            let expected_at = bad.offset + quote as u64 + 1;
            prop_assert!(
                matches!(bad.record, Err(ReadError { kind: ErrorKind::InvalidUtf8 { at }, .. }) if at == expected_at),
                "expected invalid UTF-8 at {expected_at}: {:?}",
                bad.record
            );
        }
        Mutation::Replace(j, text) if *j < k => {
            let shift =
                text.len() as isize - (valid.spans[*j].end - valid.spans[*j].start) as isize;
            let last_unterminated =
                valid.format == Format::Lines && *j + 1 == k && valid.spans[*j].line_end.is_none();
            if let (true, Some(error)) = (last_unterminated, stream_error) {
                // A cut-off looking last line reads as a truncated file.
                prop_assert!(
                    matches!(error.kind, ErrorKind::Truncated { .. }),
                    "{error:?}"
                );
                check_intact(&outcome, valid, *j, None, 0)?;
            } else {
                check_one_bad(&outcome, valid, *j, shift)?;
            }
        }
        Mutation::BadUtf8(..) | Mutation::Replace(..) => {}
        Mutation::FailAfter(p) => {
            prop_assert!(
                matches!(stream_error.map(|e| &e.kind), Some(ErrorKind::Io(_))),
                "a failing source must end in an I/O error: {stream_error:?}"
            );
            if !case.gzip {
                check_intact(
                    &outcome,
                    valid,
                    untouched_before(valid, *p).min(oks),
                    None,
                    0,
                )?;
                prop_assert!(oks >= untouched_before(valid, *p));
            } else {
                check_intact(&outcome, valid, oks, None, 0)?;
            }
        }
        Mutation::CutGzip(_) => {
            // Whatever came out is intact, and a cut stream never passes
            // for a complete one.
            check_intact(&outcome, valid, oks, None, 0)?;
            if cut_gzip.is_some() {
                prop_assert!(stream_error.is_some(), "a cut gzip stream read as complete");
            }
        }
        Mutation::Empty(_) => {
            prop_assert_eq!(outcome.items.len(), 1);
            let e = stream_error.unwrap();
            prop_assert!(matches!(e.kind, ErrorKind::Empty), "{e:?}");
            prop_assert_eq!((e.index, e.offset), (0, plain.len() as u64));
        }
        Mutation::Random(_) => {}
    }
    Ok(())
}

/// Exactly one element, `j`, is bad (record-level); all `k` are there and
/// the stream ends cleanly.
fn check_one_bad(
    outcome: &Outcome,
    valid: &Valid,
    j: usize,
    shift: isize,
) -> Result<(), TestCaseError> {
    let k = valid.records.len();
    prop_assert!(
        outcome.stream_error().is_none(),
        "{:?}",
        outcome.stream_error()
    );
    prop_assert_eq!(outcome.elements().count(), k);
    check_intact(outcome, valid, k, Some(j), shift)?;
    let bad = outcome.elements().nth(j).unwrap();
    prop_assert!(
        bad.record.as_ref().is_err_and(|e| e.is_record_level()),
        "{:?}",
        bad.record
    );
    Ok(())
}

/// A file cut after `p` bytes: everything before the cut is there, then a
/// truncation error that names the element the cut went through.
fn check_truncation(valid: &Valid, p: usize, outcome: &Outcome) -> Result<(), TestCaseError> {
    let error = outcome.stream_error();
    let kind = error.map(|e| &e.kind);
    if valid.bom && (1..BOM.len()).contains(&p) {
        prop_assert!(
            matches!(
                kind,
                Some(ErrorKind::Truncated {
                    inside: "byte order mark",
                    ..
                })
            ),
            "{error:?}"
        );
        return Ok(());
    }
    let complete = valid.spans.iter().filter(|s| s.end <= p).count();
    check_intact(outcome, valid, complete, None, 0)?;
    prop_assert_eq!(outcome.elements().count(), complete);
    let cut_through = valid.spans.iter().find(|s| s.start < p && p < s.end);
    match valid.format {
        Format::Array if p <= valid.open => {
            prop_assert!(matches!(kind, Some(ErrorKind::Empty)), "{error:?}");
        }
        Format::Array if p < valid.close_end => {
            prop_assert!(
                matches!(kind, Some(ErrorKind::Truncated { .. })),
                "{error:?}"
            );
            let expected = cut_through.map_or(p, |s| s.start) as u64;
            prop_assert_eq!(error.unwrap().offset, expected, "{:?}", error);
        }
        Format::Array => prop_assert!(error.is_none(), "{error:?}"),
        Format::Lines => match cut_through {
            Some(span) => {
                prop_assert!(
                    matches!(kind, Some(ErrorKind::Truncated { .. })),
                    "{error:?}"
                );
                prop_assert_eq!(error.unwrap().offset, span.start as u64);
            }
            None if complete == 0 => {
                prop_assert!(matches!(kind, Some(ErrorKind::Empty)), "{error:?}")
            }
            None => prop_assert!(error.is_none(), "{error:?}"),
        },
    }
    Ok(())
}

/// proptest's defaults (PROPTEST_CASES and friends still apply), without
/// regression files: a failure prints its minimal case, which belongs in a
/// named unit test in reader.rs once understood.
fn config() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// 256 cases by default; PROPTEST_CASES=N for more.
    #[test]
    fn reader_survives_malformed_input(case in case()) {
        check_case(&case)?;
    }
}

/// The long run: generates cases until `SFCRIME_FUZZ_SECONDS` (default 300)
/// have passed, shrinking and failing on the first bad one.
#[test]
#[ignore = "long run; see the file header"]
fn fuzz_reader_for_a_while() {
    let seconds: u64 = std::env::var("SFCRIME_FUZZ_SECONDS")
        .ok()
        .map(|s| {
            s.parse()
                .expect("SFCRIME_FUZZ_SECONDS is a number of seconds")
        })
        .unwrap_or(300);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut runner = TestRunner::new(config());
    let strategy = case();
    let mut cases = 0u64;
    let mut kinds = std::collections::BTreeMap::<&str, u64>::new();
    while Instant::now() < deadline {
        let tree = strategy
            .new_tree(&mut runner)
            .expect("case generation never rejects");
        let kind = match tree.current().mutation {
            Mutation::None => "none",
            Mutation::Truncate(_) => "truncate",
            Mutation::Insert(..) => "insert",
            Mutation::Overwrite(..) => "overwrite",
            Mutation::BadUtf8(..) => "bad utf-8",
            Mutation::Replace(..) => "replace element",
            Mutation::DeepOpen(..) => "deep unclosed nesting",
            Mutation::FailAfter(_) => "source fails",
            Mutation::CutGzip(_) => "cut gzip",
            Mutation::Empty(_) => "empty",
            Mutation::Random(_) => "random bytes",
        };
        *kinds.entry(kind).or_default() += 1;
        if let Err(failure) = runner.run_one(tree, |case| check_case(&case)) {
            panic!("after {cases} passing cases: {failure}");
        }
        cases += 1;
    }
    println!("fuzz_reader: {cases} cases passed in {seconds} s: {kinds:?}");
}
