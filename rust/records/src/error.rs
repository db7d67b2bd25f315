//! The reader's error: where in which file it happened, and what went wrong,
//! split into record-level faults (the stream goes on) and stream-level
//! faults (nothing after this point can be trusted).

use crate::record::FieldError;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failure while reading records, located by record index and byte offset
/// (both in the decompressed stream, both 0-based).
///
/// `offset` is where the element starts for record-level errors and for a
/// file that ends inside an element (so the user can find the broken
/// record); for the other stream-level errors it is the offending byte, or
/// the end of the data when an array is left open between elements.
#[derive(Debug)]
pub struct ReadError {
    /// The file, when the reader was opened from one.
    pub path: Option<PathBuf>,
    /// The record index: the element's own index for record-level errors,
    /// the index the next element would have had for stream-level ones.
    pub index: u64,
    pub offset: u64,
    pub kind: ErrorKind,
}

impl ReadError {
    /// True when only this element is bad and reading can go on, so a
    /// `--skip-invalid` caller may dead-letter it; false when the stream
    /// itself is broken and the reader has stopped.
    pub fn is_record_level(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::NotAnObject { .. }
                | ErrorKind::InvalidUtf8 { .. }
                | ErrorKind::InvalidJson(_)
                | ErrorKind::Field(_)
        )
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        if let (ErrorKind::Io(e), 0) = (&self.kind, self.offset) {
            // Failing before the first byte (opening, or a corrupt gzip
            // header) has no record to point at.
            return write!(f, "{e}");
        }
        write!(
            f,
            "record {} (byte {}): {}",
            self.index, self.offset, self.kind
        )
    }
}

// No `source()`: Display already includes the inner error, and a chain
// printer (anyhow's `{:#}`) would otherwise print it twice.
impl std::error::Error for ReadError {}

/// What went wrong. The first four variants are record-level, the rest
/// stream-level; see [`ReadError::is_record_level`].
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// A well-delimited element that is valid JSON but not an object.
    #[error("element is {found}, not an object")]
    NotAnObject { found: &'static str },
    /// Invalid UTF-8 inside an element; `at` is the absolute byte offset of
    /// the first bad byte.
    #[error("invalid UTF-8 at byte {at}")]
    InvalidUtf8 { at: u64 },
    /// A well-delimited element whose JSON does not parse. serde_json's
    /// line and column are relative to the element, not the file.
    #[error("invalid JSON in the element: {0}")]
    InvalidJson(serde_json::Error),
    /// An object that is not a call record (missing, null, mistyped field).
    #[error(transparent)]
    Field(FieldError),

    /// The file could not be opened, read or decompressed.
    #[error("cannot read: {0}")]
    Io(io::Error),
    /// Nothing but whitespace.
    #[error("file is empty (expected a JSON array of call records)")]
    Empty,
    /// The first non-blank byte does not open an array.
    #[error("not a JSON array: starts with {found}{}",
        if found == "'{'" { " (JSON lines files need a .jsonl name)" } else { "" })]
    NotAnArray { found: String },
    /// The data ends inside an array, object or string (`inside`), at byte
    /// `eof_at`.
    #[error("file ends at byte {eof_at} inside an unterminated {inside}")]
    Truncated { inside: &'static str, eof_at: u64 },
    /// A byte that cannot stand where it is: garbage between elements, a
    /// trailing comma, a mismatched bracket, data after the closing `]`.
    #[error("unexpected {found}, expected {expected}")]
    Unexpected {
        found: String,
        expected: &'static str,
    },
}

/// Names a byte for an error message in a way that survives non-printable
/// and non-ASCII input.
pub(crate) fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}
