//! sfcrime's own Spark connector, Rust side: reads an exact offset range of
//! one Kafka partition with librdkafka and returns it as one Arrow record
//! batch, ready to hand to the PySpark data source python/sfcrime_connector.py
//! without a single Python object per row.
//!
//! Two layouts ([`Mode`]): `raw`, column for column what Spark's own Kafka
//! source (spark-sql-kafka) returns, and `calls`, the call record already
//! parsed and typed, so a job needs no `from_json` at all.
//!
//! The crate is plain Rust unless the `python` feature is on: only the
//! extension module that maturin builds needs pyo3, and keeping it out of
//! `cargo test`/`cargo clippy` of the workspace means nothing there links
//! against libpython.

mod batch;
mod call;
#[cfg(feature = "python")]
mod python;
mod read;
mod schema;

pub use batch::BatchBuilder;
pub use read::{read_range, ReadOptions};
pub use schema::{schema, Header, Mode, Record, CALL_TIMESTAMP_FIELDS};
pub use sfcrime_kafka::admin::partition_offsets;
