//! Call records of the SF police calls-for-service data: the typed record
//! ([`CallRecord`]), streaming readers of the data file ([`RecordReader`]),
//! and the ground truth of the aggregates the Spark job computes
//! ([`truth`]), and what each copy of a record is in the N-fold dataset
//! ([`copies`]).
//!
//! The reader yields every element with its index, byte offset and raw
//! bytes, and separates record-level errors (dead-letter and go on) from
//! stream-level ones (stop), so the producer can honour `--skip-invalid`.

pub mod calendar;
pub mod copies;
mod error;
#[cfg(test)]
mod fixtures;
mod reader;
#[cfg(test)]
mod real_data;
mod record;
pub mod truth;

pub use error::{ErrorKind, ReadError};
pub use reader::{Element, Format, RecordReader};
pub use record::{CallRecord, FieldError, FromFields, RecordKey, FIELDS};
