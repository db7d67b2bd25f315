//! Call records of the SF police calls-for-service data: the typed record
//! ([`CallRecord`]) and streaming readers of the data file
//! ([`RecordReader`]).
//!
//! The reader yields every element with its index, byte offset and raw
//! bytes, and separates record-level errors (dead-letter and go on) from
//! stream-level ones (stop), so the producer can honour `--skip-invalid`.

mod error;
#[cfg(test)]
mod fixtures;
mod reader;
mod record;

pub use error::{ErrorKind, ReadError};
pub use reader::{Element, Format, RecordReader};
pub use record::{CallRecord, FieldError, FIELDS};
