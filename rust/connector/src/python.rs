//! The `_sfcrime_connector` Python extension module (built by maturin with
//! the `python` feature), the compiled half of python/sfcrime_connector.py:
//! the Rust reader's functions, the batch handed to pyarrow through the
//! Arrow C data interface, without a copy, and the commit of a query's
//! progress to a consumer group.

use crate::read::{self, ReadOptions};
use crate::schema::Mode;
use arrow::pyarrow::ToPyArrow;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use sfcrime_kafka::client::KafkaSettings;
use std::collections::BTreeMap;
use std::time::Duration;

fn settings(bootstrap: &str, options: Option<BTreeMap<String, String>>) -> KafkaSettings {
    KafkaSettings {
        bootstrap_servers: bootstrap.to_owned(),
        overrides: options.unwrap_or_default().into_iter().collect(),
    }
}

fn kafka_error(e: anyhow::Error) -> PyErr {
    // `{:#}` keeps the whole cause chain, e.g. which broker did not answer.
    PyRuntimeError::new_err(format!("{e:#}"))
}

/// `{partition: (low, high)}` of every partition of `topic`: the first
/// offset held and the offset of the next record. `options` are librdkafka
/// settings (e.g. `security.protocol`), applied after the defaults.
#[pyfunction]
#[pyo3(signature = (bootstrap, topic, options=None, *, timeout_ms=120_000))]
fn partition_offsets(
    py: Python<'_>,
    bootstrap: &str,
    topic: &str,
    options: Option<BTreeMap<String, String>>,
    timeout_ms: u64,
) -> PyResult<BTreeMap<i32, (i64, i64)>> {
    let settings = settings(bootstrap, options);
    py.detach(|| {
        sfcrime_kafka::admin::partition_offsets(&settings, topic, Duration::from_millis(timeout_ms))
    })
    .map_err(kafka_error)
}

/// The records of `topic`/`partition` with offsets in `[start, end)` as one
/// `pyarrow.RecordBatch` in `mode` `"raw"` (spark-sql-kafka's columns, plus
/// `headers` with `include_headers`) or `"calls"` (the call fields typed,
/// invalid records in `_corrupt_record`).
#[pyfunction]
#[pyo3(signature = (
    bootstrap, topic, partition, start, end, mode="raw", options=None, *,
    include_headers=false, fail_on_data_loss=true, timeout_ms=120_000
))]
#[allow(clippy::too_many_arguments)] // a Python signature with keywords
fn read_range<'py>(
    py: Python<'py>,
    bootstrap: &str,
    topic: &str,
    partition: i32,
    start: i64,
    end: i64,
    mode: &str,
    options: Option<BTreeMap<String, String>>,
    include_headers: bool,
    fail_on_data_loss: bool,
    timeout_ms: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let mode = match mode.parse().map_err(PyValueError::new_err)? {
        Mode::Raw { .. } => Mode::Raw { include_headers },
        Mode::Calls if include_headers => {
            return Err(PyValueError::new_err(
                "include_headers is for mode \"raw\"; \"calls\" has no headers column",
            ))
        }
        Mode::Calls => Mode::Calls,
    };
    let settings = settings(bootstrap, options);
    let options = ReadOptions {
        mode,
        fail_on_data_loss,
        timeout: Duration::from_millis(timeout_ms),
    };
    // Reading waits on the network: let other Python threads run meanwhile.
    let batch = py
        .detach(|| read::read_range(&settings, topic, partition, start, end, &options))
        .map_err(kafka_error)?;
    batch.to_pyarrow(py)
}

/// Commits `offsets` (`{(topic, partition): next offset}`) to consumer
/// group `group`, without joining it: what the data source does once Spark
/// has checkpointed a batch, so that Kafka's tools show the query's lag.
#[pyfunction]
#[pyo3(signature = (bootstrap, group, offsets, options=None, *, timeout_ms=120_000))]
fn commit_offsets(
    py: Python<'_>,
    bootstrap: &str,
    group: &str,
    offsets: BTreeMap<(String, i32), i64>,
    options: Option<BTreeMap<String, String>>,
    timeout_ms: u64,
) -> PyResult<()> {
    let settings = settings(bootstrap, options);
    py.detach(|| {
        sfcrime_kafka::group::commit_offsets(
            &settings,
            group,
            &offsets,
            Duration::from_millis(timeout_ms),
        )
    })
    .map_err(kafka_error)
}

// Named as pyproject.toml's module-name; Python's leading underscore marks it
// as the compiled helper of python/sfcrime_connector.py.
#[pymodule]
#[pyo3(name = "_sfcrime_connector")]
fn sfcrime_connector(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(partition_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(read_range, m)?)?;
    m.add_function(wrap_pyfunction!(commit_offsets, m)?)?;
    Ok(())
}
