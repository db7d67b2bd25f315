//! Test-only builders of call records and data files, so each test states
//! just the fields it is about.

use crate::record::CallRecord;
use serde_json::{json, Value};

/// A complete record as JSON, like one element of the real file.
pub(crate) fn record_json(
    crime_id: &str,
    crime_type: &str,
    call_date_time: &str,
    disposition: &str,
) -> Value {
    json!({
        "crime_id": crime_id,
        "original_crime_type_name": crime_type,
        "report_date": "2018-12-31T00:00:00.000",
        "call_date": "2018-12-31T00:00:00.000",
        "offense_date": "2018-12-31T00:00:00.000",
        "call_time": "23:57",
        "call_date_time": call_date_time,
        "disposition": disposition,
        "address": "Geary Bl/divisadero St",
        "city": "San Francisco",
        "state": "CA",
        "agency_id": "1",
        "address_type": "Intersection",
        "common_location": ""
    })
}

pub(crate) fn record(
    crime_id: &str,
    crime_type: &str,
    call_date_time: &str,
    disposition: &str,
) -> CallRecord {
    serde_json::from_value(record_json(
        crime_id,
        crime_type,
        call_date_time,
        disposition,
    ))
    .unwrap()
}

/// The `n`-th of a family of distinct, valid records, compact JSON.
pub(crate) fn nth(n: usize) -> String {
    record_json(
        &format!("18{n:07}"),
        "Traffic Stop",
        "2018-12-31T23:57:00.000",
        "ADM",
    )
    .to_string()
}

/// The path of the real data file, which the repository ships.
pub(crate) fn data_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}
