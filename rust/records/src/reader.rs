//! Streaming readers of the data file: a top-level JSON array (plain or
//! gzipped) or JSON lines, yielded one element at a time with its index,
//! byte offset and raw bytes.
//!
//! The array is never parsed as a whole: a small scanner finds each
//! element's boundaries (tracking strings, escapes and bracket nesting) in
//! the buffered input, copies just that element, and only then hands it to
//! serde_json. Memory is therefore O(largest element), not O(file), and a
//! bad element can be reported and skipped without losing the rest.
//!
//! This module owns what both formats share (opening and gzip sniffing, the
//! buffered input and its position, parsing a delimited element); array.rs
//! and lines.rs find the elements of each format.

mod array;
mod lines;

use crate::error::{describe_byte, ErrorKind, ReadError};
use crate::record::{CallRecord, Checked, FromFields};
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// Big enough that per-chunk overhead vanishes next to scanning, small
/// enough to keep the reader's footprint in the hundreds of kilobytes.
const BUF_CAPACITY: usize = 256 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// How elements are laid out in the (decompressed) stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One top-level JSON array of objects, as the city's export ships it.
    Array,
    /// One object per line (JSON lines); blank lines are skipped.
    Lines,
}

impl Format {
    /// JSON lines for names ending in `.jsonl` or `.ndjson` (optionally
    /// followed by `.gz`), an array otherwise. Compression is not decided
    /// here: the reader sniffs the gzip magic bytes, because files get
    /// renamed and extensions lie.
    pub fn from_path(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            Format::Lines
        } else {
            Format::Array
        }
    }
}

/// One element of the file, with its record parsed as an `R`: a whole
/// [`CallRecord`] by default, or only what a caller needs (see
/// [`FromFields`]).
#[derive(Debug)]
pub struct Element<R = CallRecord> {
    /// 0-based position among the file's elements (blank lines of a JSON
    /// lines file do not count).
    pub index: u64,
    /// Byte offset of the element's first byte in the decompressed stream.
    pub offset: u64,
    /// The element exactly as it appears in the file, so the producer can
    /// send it untouched and dead-letter bad ones verbatim.
    pub raw: Vec<u8>,
    /// The parsed record, or a record-level error (the stream goes on).
    pub record: Result<R, ReadError>,
}

impl<R> Element<R> {
    /// The same element with its parsed record turned into something else
    /// (e.g. reduced to what a caller keeps).
    pub fn map_record<S>(self, f: impl FnOnce(R) -> S) -> Element<S> {
        Element {
            index: self.index,
            offset: self.offset,
            raw: self.raw,
            record: self.record.map(f),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// After `[`: an element or `]` may follow.
    First,
    /// After `,`: only an element may follow.
    AfterComma,
    AfterElement,
    /// After the closing `]`: only whitespace may follow.
    End,
    Done,
}

/// Reads call records element by element, each parsed as an `R`
/// ([`CallRecord`] unless opened with [`RecordReader::open_as`]).
///
/// Iterating yields `Ok(Element)` for every element, whose `record` holds
/// the parse result (record-level errors live there), and `Err` for a
/// stream-level error, after which the iterator is exhausted.
pub struct RecordReader<R = CallRecord> {
    input: Box<dyn BufRead + Send>,
    path: Option<PathBuf>,
    format: Format,
    state: State,
    /// Bytes consumed so far from the decompressed stream.
    pos: u64,
    /// Index the next element will get.
    index: u64,
    /// Open brackets of the element being scanned; kept across elements so
    /// its allocation is reused.
    stack: Vec<u8>,
    parsed: PhantomData<fn() -> R>,
}

impl RecordReader {
    /// Opens a data file, choosing the format from its name (see
    /// [`Format::from_path`]) and decompressing it if it starts with the
    /// gzip magic bytes.
    pub fn open(path: impl AsRef<Path>) -> Result<RecordReader, ReadError> {
        Self::open_as(path)
    }

    /// Reads from any byte source (stdin, memory), gzipped or not.
    pub fn from_reader<S: Read + Send + 'static>(
        source: S,
        format: Format,
    ) -> Result<RecordReader, ReadError> {
        Self::from_reader_as(source, format)
    }
}

impl<R: FromFields> RecordReader<R> {
    /// Like [`RecordReader::open`], with each record parsed as an `R`.
    pub fn open_as(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref();
        let io_err = |e| ReadError {
            path: Some(path.to_owned()),
            index: 0,
            offset: 0,
            kind: ErrorKind::Io(e),
        };
        let file = File::open(path).map_err(io_err)?;
        let input = sniff(file).map_err(io_err)?;
        Ok(Self::with_input(
            input,
            Format::from_path(path),
            Some(path.to_owned()),
        ))
    }

    /// Like [`RecordReader::from_reader`], with each record parsed as an `R`.
    pub fn from_reader_as<S: Read + Send + 'static>(
        source: S,
        format: Format,
    ) -> Result<Self, ReadError> {
        let input = sniff(source).map_err(|e| ReadError {
            path: None,
            index: 0,
            offset: 0,
            kind: ErrorKind::Io(e),
        })?;
        Ok(Self::with_input(input, format, None))
    }

    fn with_input(input: Box<dyn BufRead + Send>, format: Format, path: Option<PathBuf>) -> Self {
        RecordReader {
            input,
            path,
            format,
            state: State::Start,
            pos: 0,
            index: 0,
            stack: Vec::new(),
            parsed: PhantomData,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Just the records, for callers that treat every error alike (record-
    /// and stream-level errors both come through as `Err`).
    pub fn records(self) -> impl Iterator<Item = Result<R, ReadError>> {
        self.map(|e| e.and_then(|e| e.record))
    }

    fn error(&self, index: u64, offset: u64, kind: ErrorKind) -> ReadError {
        ReadError {
            path: self.path.clone(),
            index,
            offset,
            kind,
        }
    }

    /// A stream-level error at the current position.
    fn here(&self, kind: ErrorKind) -> ReadError {
        self.error(self.index, self.pos, kind)
    }

    fn unexpected(&self, found: u8, expected: &'static str) -> ReadError {
        self.here(ErrorKind::Unexpected {
            found: describe_byte(found),
            expected,
        })
    }

    fn fill(&mut self) -> Result<&[u8], ReadError> {
        loop {
            match self.input.fill_buf() {
                // At the end the buffer stays empty, so a second fill_buf
                // below would read the source again: an `Interrupted` there
                // panicked, and a terminal or pipe would be read past EOF.
                Ok([]) => return Ok(&[]),
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.here(ErrorKind::Io(e))),
            }
        }
        // Re-borrow to return: the match's borrow cannot be returned from
        // the loop in today's borrow checker. The buffer holds data, so
        // this returns it without reading.
        Ok(self.input.fill_buf().expect("buffer already filled"))
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.pos += n as u64;
    }

    /// Skips JSON whitespace and returns the next byte without consuming
    /// it, or `None` at the end of the stream.
    fn peek_non_ws(&mut self) -> Result<Option<u8>, ReadError> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf.iter().position(|b| !is_ws(*b)) {
                Some(i) => {
                    let b = buf[i];
                    self.consume(i);
                    return Ok(Some(b));
                }
                None => {
                    let n = buf.len();
                    self.consume(n);
                }
            }
        }
    }

    /// Skips a UTF-8 byte order mark at the very start, which some
    /// editors and exporters write. Byte by byte, because the first fill
    /// may hold just the two bytes replayed from gzip sniffing.
    fn skip_bom(&mut self) -> Result<(), ReadError> {
        for (i, &expected) in UTF8_BOM.iter().enumerate() {
            match self.fill()?.first() {
                Some(&b) if b == expected => self.consume(1),
                // Only a partial mark is an error: the stream cannot be
                // JSON, and what follows would be reported confusingly.
                Some(&b) if i > 0 => {
                    return Err(self.unexpected(b, "the rest of a UTF-8 byte order mark"))
                }
                _ if i > 0 => return Err(self.truncated("byte order mark")),
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    fn truncated(&self, inside: &'static str) -> ReadError {
        self.here(ErrorKind::Truncated {
            inside,
            eof_at: self.pos,
        })
    }

    /// Wraps a delimited element, parsing it and taking the next index.
    fn element(&mut self, offset: u64, raw: Vec<u8>) -> Element<R> {
        let index = self.index;
        self.index += 1;
        let record = parse(&raw, offset).map_err(|kind| self.error(index, offset, kind));
        Element {
            index,
            offset,
            raw,
            record,
        }
    }
}

impl<R: FromFields> Iterator for RecordReader<R> {
    type Item = Result<Element<R>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match self.format {
            Format::Array => self.next_array(),
            Format::Lines => self.next_line(),
        };
        match next {
            Ok(Some(element)) => Some(Ok(element)),
            Ok(None) => {
                self.state = State::Done;
                None
            }
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

impl<R: FromFields> FusedIterator for RecordReader<R> {}

impl<R> std::fmt::Debug for RecordReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("pos", &self.pos)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// Parses one delimited element; `offset` makes UTF-8 positions absolute.
fn parse<R: FromFields>(raw: &[u8], offset: u64) -> Result<R, ErrorKind> {
    let text = std::str::from_utf8(raw).map_err(|e| ErrorKind::InvalidUtf8 {
        at: offset + e.valid_up_to() as u64,
    })?;
    if !raw.starts_with(b"{") {
        return Err(match serde_json::from_str::<Value>(text) {
            Ok(v) => ErrorKind::NotAnObject {
                found: json_kind(&v),
            },
            Err(e) => ErrorKind::InvalidJson(e),
        });
    }
    match serde_json::from_str::<Checked<R>>(text) {
        Ok(Checked(Ok(record))) => Ok(record),
        Ok(Checked(Err(e))) => Err(ErrorKind::Field(e)),
        Err(e) => Err(ErrorKind::InvalidJson(e)),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Peeks at the first two bytes and puts a gzip decoder in front when they
/// are the gzip magic; the peeked bytes are replayed either way.
fn sniff<R: Read + Send + 'static>(mut reader: R) -> io::Result<Box<dyn BufRead + Send>> {
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let replay = Cursor::new(head[..got].to_vec()).chain(reader);
    Ok(if head[..got] == GZIP_MAGIC {
        Box::new(BufReader::with_capacity(
            BUF_CAPACITY,
            MultiGzDecoder::new(replay),
        ))
    } else {
        Box::new(BufReader::with_capacity(BUF_CAPACITY, replay))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{data_file, nth, record_json};
    use crate::record::{FieldError, RecordKey};
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    pub(super) fn read(bytes: &[u8], format: Format) -> Vec<Result<Element, ReadError>> {
        RecordReader::from_reader(Cursor::new(bytes.to_vec()), format)
            .unwrap()
            .collect()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    pub(super) fn offset_of(haystack: &[u8], needle: &[u8]) -> u64 {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("needle present") as u64
    }

    pub(super) fn ok(item: &Result<Element, ReadError>) -> &Element {
        let e = item.as_ref().expect("element, not a stream error");
        assert!(e.record.is_ok(), "record {}: {:?}", e.index, e.record);
        e
    }

    /// The record-level error of an element that must still be yielded.
    pub(super) fn bad(item: &Result<Element, ReadError>) -> &ReadError {
        let e = item.as_ref().expect("element, not a stream error");
        let err = e.record.as_ref().expect_err("a record-level error");
        assert!(err.is_record_level(), "{err}");
        assert_eq!((err.index, err.offset), (e.index, e.offset));
        err
    }

    /// The stream-level error that must end the iteration.
    pub(super) fn fatal(items: &[Result<Element, ReadError>]) -> &ReadError {
        let err = items
            .last()
            .unwrap()
            .as_ref()
            .expect_err("the stream ends in an error");
        assert!(!err.is_record_level(), "{err}");
        err
    }

    #[test]
    fn yields_index_offset_and_exact_raw_bytes() {
        let (a, b) = (nth(0), nth(1));
        let text = format!("[\n    {a},\n    {b}\n]\n");
        let items = read(text.as_bytes(), Format::Array);
        assert_eq!(items.len(), 2);
        for (i, raw) in [a, b].iter().enumerate() {
            let e = ok(&items[i]);
            assert_eq!(e.index, i as u64);
            assert_eq!(e.offset, offset_of(text.as_bytes(), raw.as_bytes()));
            assert_eq!(e.raw, raw.as_bytes());
            assert_eq!(e.record.as_ref().unwrap().crime_id, format!("18{i:07}"));
        }
    }

    #[test]
    fn key_reader_agrees_with_the_full_reader_on_good_and_bad_records() {
        let (a, b) = (nth(0), nth(1));
        let null_city = b.replacen(r#""city":"#, r#""city":null,"x":"#, 1);
        let text = format!(
            "[{a}, 7, {{\"crime_id\": \"1\"}}, {null_city}, {{\"a\" 1}}, {b}, \
             {{\"crime_id\": 2, \"crime_id\": null}}]"
        );
        let full = read(text.as_bytes(), Format::Array);
        let keys: Vec<_> = RecordReader::<RecordKey>::from_reader_as(
            Cursor::new(text.into_bytes()),
            Format::Array,
        )
        .unwrap()
        .collect();
        assert_eq!(full.len(), 7);
        assert_eq!(keys.len(), full.len());
        for (full, key) in full.iter().zip(&keys) {
            let (full, key) = (full.as_ref().unwrap(), key.as_ref().unwrap());
            assert_eq!(
                (key.index, key.offset, &key.raw),
                (full.index, full.offset, &full.raw)
            );
            match (&full.record, &key.record) {
                (Ok(record), Ok(key)) => assert_eq!(key.crime_id, record.crime_id),
                (Err(full), Err(key)) => assert_eq!(key.to_string(), full.to_string()),
                (full, key) => panic!("full {full:?} but key {key:?}"),
            }
        }
        assert_eq!(
            full.iter()
                .filter(|e| e.as_ref().unwrap().record.is_ok())
                .count(),
            2
        );
    }

    #[test]
    fn empty_file_is_an_error() {
        for (text, format) in [
            (&b""[..], Format::Array),
            (b" \n\t", Format::Array),
            (b"", Format::Lines),
            (b"\n\n", Format::Lines),
        ] {
            let items = read(text, format);
            assert_eq!(items.len(), 1);
            let err = fatal(&items);
            assert!(matches!(err.kind, ErrorKind::Empty), "{err}");
            assert_eq!((err.index, err.offset), (0, text.len() as u64));
        }
    }

    #[test]
    fn missing_and_null_fields_are_record_level() {
        let mut missing = record_json("1", "T", "2018-12-31T23:57:00.000", "ADM");
        missing.as_object_mut().unwrap().remove("city");
        let mut null = missing.clone();
        null["city"] = Value::Null;
        let text = format!("[{missing},{null},{}]", nth(2));
        let items = read(text.as_bytes(), Format::Array);
        let err = bad(&items[0]);
        assert!(
            matches!(&err.kind, ErrorKind::Field(FieldError::Missing(f)) if f == &["city"]),
            "{err}"
        );
        assert_eq!(err.to_string(), "record 0 (byte 1): missing field `city`");
        let err = bad(&items[1]);
        assert!(
            matches!(err.kind, ErrorKind::Field(FieldError::Null("city"))),
            "{err}"
        );
        ok(&items[2]);
    }

    #[test]
    fn invalid_utf8_is_record_level_with_the_bad_byte_located() {
        let mut text = b"[".to_vec();
        let first = nth(0).replacen("Traffic Stop", "Traffic \u{e9}top", 1);
        let mut broken = first.into_bytes();
        let e9 = broken.iter().position(|&b| b == 0xc3).unwrap();
        broken[e9] = 0xff;
        text.extend_from_slice(&broken);
        text.extend_from_slice(format!(",\n{}]", nth(1)).as_bytes());
        let items = read(&text, Format::Array);
        assert_eq!(items.len(), 2);
        let err = bad(&items[0]);
        assert!(
            matches!(err.kind, ErrorKind::InvalidUtf8 { at } if at == 1 + e9 as u64),
            "{err}"
        );
        ok(&items[1]);
    }

    #[test]
    fn leading_byte_order_mark_is_skipped() {
        let text = format!("\u{feff}[{}]", nth(0));
        let items = read(text.as_bytes(), Format::Array);
        assert_eq!(ok(&items[0]).offset, 4);
        let text = format!("\u{feff}{}\n", nth(0));
        let items = read(text.as_bytes(), Format::Lines);
        assert_eq!(ok(&items[0]).offset, 3);
        let err = fatal(&read(b"\xef\xbb[]", Format::Array)).to_string();
        assert_eq!(
            err,
            "record 0 (byte 2): unexpected '[', expected the rest of a UTF-8 byte order mark"
        );
    }

    #[test]
    fn interrupted_reads_are_retried_up_to_the_end() {
        // Found by tests/fuzz_reader.rs: at the end of the data the buffer
        // was filled a second time, and an `Interrupted` there panicked.
        struct Interrupting(Cursor<Vec<u8>>, bool);
        impl Read for Interrupting {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 = !self.1;
                if self.1 {
                    return Err(io::Error::from(io::ErrorKind::Interrupted));
                }
                self.0.read(buf)
            }
        }
        let array = format!("[{}, {}]", nth(0), nth(1));
        let lines = format!("{}\n{}", nth(0), nth(1));
        for (format, text) in [(Format::Array, array), (Format::Lines, lines)] {
            let source = Interrupting(Cursor::new(text.into_bytes()), false);
            let items: Vec<_> = RecordReader::from_reader(source, format).unwrap().collect();
            assert_eq!(items.len(), 2, "{format:?}: {items:?}");
            items.iter().for_each(|i| assert!(ok(i).record.is_ok()));
        }
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("[{},{}]", nth(0), nth(1));
        let lines = format!("{}\n{}\n", nth(0), nth(1));
        let files = [
            ("plain.json", text.as_bytes().to_vec()),
            ("zipped.json.gz", gzip(text.as_bytes())),
            ("misnamed.json", gzip(text.as_bytes())),
            ("not-zipped.json.gz", text.as_bytes().to_vec()),
            ("plain.jsonl", lines.as_bytes().to_vec()),
            ("zipped.jsonl.gz", gzip(lines.as_bytes())),
        ];
        let mut seen = Vec::new();
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let reader = RecordReader::open(&path).unwrap();
            assert_eq!(reader.path(), Some(path.as_path()));
            let records: Vec<_> = reader.records().map(Result::unwrap).collect();
            seen.push(records);
        }
        assert_eq!(seen[0].len(), 2);
        assert!(seen.iter().all(|r| r == &seen[0]));
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.json");
        let text = format!("[{}, 7]", nth(0));
        std::fs::write(&path, &text).unwrap();
        let items: Vec<_> = RecordReader::open(&path).unwrap().collect();
        let err = bad(&items[1]);
        assert_eq!(err.path.as_deref(), Some(path.as_path()));
        assert_eq!(
            err.to_string(),
            format!(
                "{}: record 1 (byte {}): element is a number, not an object",
                path.display(),
                text.len() - 2
            )
        );

        let missing = dir.path().join("nope.json");
        let err = RecordReader::open(&missing).unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Io(_)), "{err}");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}: ", missing.display())),
            "{shown}"
        );
        assert!(!shown.contains("record 0"), "{shown}");

        let text = "\n  x";
        let err = fatal(&read(text.as_bytes(), Format::Array)).to_string();
        assert_eq!(err, "record 0 (byte 3): not a JSON array: starts with 'x'");
    }

    #[test]
    fn corrupt_gzip_is_stream_level() {
        let text = format!("[{},{}]", nth(0), nth(1));
        let gz = gzip(text.as_bytes());
        for broken in [&gz[..gz.len() / 2], &[0x1f, 0x8b, 0, 0, 0, 0]] {
            let items = read(broken, Format::Array);
            let err = fatal(&items);
            assert!(
                matches!(err.kind, ErrorKind::Io(_) | ErrorKind::Truncated { .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn iteration_stops_after_a_stream_error() {
        let mut reader =
            RecordReader::from_reader(Cursor::new(b"[1 2]".to_vec()), Format::Array).unwrap();
        assert!(reader.next().unwrap().is_ok());
        assert!(reader.next().unwrap().is_err());
        assert!(reader.next().is_none());
        assert!(reader.next().is_none());
    }

    #[test]
    fn reader_and_errors_cross_threads() {
        fn send<T: Send>() {}
        fn shareable<T: Send + Sync + 'static>() {}
        send::<RecordReader>();
        send::<Element>();
        shareable::<ReadError>();
    }

    #[test]
    fn format_follows_the_name() {
        for (name, format) in [
            ("a.json", Format::Array),
            ("a.json.gz", Format::Array),
            ("a.JSONL", Format::Lines),
            ("a.jsonl.gz", Format::Lines),
            ("a.ndjson", Format::Lines),
            ("a", Format::Array),
        ] {
            assert_eq!(Format::from_path(Path::new(name)), format, "{name}");
        }
    }

    /// The three formats of the same records read the same, on a slice of
    /// the real file so the fixture has its real shape and characters.
    #[test]
    fn json_gz_and_jsonl_of_the_same_records_agree() {
        let source = data_file("police-department-calls-for-service.json.gz");
        let raws: Vec<Vec<u8>> = RecordReader::open(source)
            .unwrap()
            .take(500)
            .map(|e| e.unwrap().raw)
            .collect();
        let array = format!(
            "[\n{}\n]\n",
            raws.iter()
                .map(|r| std::str::from_utf8(r).unwrap())
                .collect::<Vec<_>>()
                .join(",\n")
        );
        let lines: String = raws
            .iter()
            .map(|r| serde_json::from_slice::<Value>(r).unwrap().to_string() + "\n")
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let files = [
            ("calls.json", array.as_bytes().to_vec()),
            ("calls.json.gz", gzip(array.as_bytes())),
            ("calls.jsonl", lines.into_bytes()),
        ];
        let mut all = Vec::new();
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let records: Vec<(u64, CallRecord)> = RecordReader::open(&path)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (e.index, e.record.unwrap())
                })
                .collect();
            all.push(records);
        }
        assert_eq!(all[0].len(), 500);
        assert_eq!(all[0], all[1]);
        assert_eq!(all[0], all[2]);
    }
}
