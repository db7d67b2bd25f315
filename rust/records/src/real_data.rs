//! Checks against the real data file the repository ships: its known
//! shape, read end to end by the streaming reader, and the ground truth
//! cross-checked against an independent computation.

use crate::fixtures::data_file;
use crate::truth::{self, DEFAULT_WINDOW_SECONDS};
use crate::{CallRecord, RecordReader};
use std::collections::{BTreeMap, HashMap, HashSet};

#[test]
fn real_file_has_the_documented_shape_and_truth() {
    let mut records: Vec<CallRecord> = Vec::new();
    let mut first_offset = None;
    for (i, item) in RecordReader::open(data_file("police-department-calls-for-service.json.gz"))
        .unwrap()
        .enumerate()
    {
        let e = item.unwrap();
        assert_eq!(e.index, i as u64);
        first_offset.get_or_insert(e.offset);
        let record = e.record.unwrap();
        assert!(record.extra.is_empty(), "record {i} has extra fields");
        records.push(record);
    }
    assert_eq!(records.len(), 199_999);
    // "[\n    {": the first element starts after the bracket and indent.
    assert_eq!(first_offset, Some(6));

    // Sorted by call_date_time, newest first; the fixed-width format makes
    // string order time order.
    assert!(records
        .windows(2)
        .all(|w| w[0].call_date_time >= w[1].call_date_time));
    assert_eq!(records[0].call_date_time, "2018-12-31T23:57:00.000");
    assert_eq!(records[199_998].call_date_time, "2018-10-02T09:11:00.000");

    let types: HashSet<&str> = records
        .iter()
        .map(|r| r.original_crime_type_name.as_str())
        .collect();
    assert_eq!(types.len(), 3_418);

    // "4 duplicate crime_ids": four ids appear twice each, as whole-record
    // duplicates (same call exported twice), so 199,995 distinct ids.
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        by_id.entry(&r.crime_id).or_default().push(i);
    }
    assert_eq!(by_id.len(), 199_995);
    let mut dups: Vec<(&str, &Vec<usize>)> = by_id
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(id, at)| (*id, at))
        .collect();
    dups.sort();
    let ids: Vec<&str> = dups.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, ["182791511", "182872744", "182963316", "183131152"]);
    for (id, at) in &dups {
        assert_eq!(at.len(), 2, "{id}");
        assert_eq!(records[at[0]], records[at[1]], "{id}");
    }

    let codes = truth::radio_codes(data_file("radio_code.json")).unwrap();
    let truth = truth::compute(&records, &codes, DEFAULT_WINDOW_SECONDS).unwrap();
    assert_eq!(truth.records, 199_999);
    assert_eq!(truth.crime_types.len(), 3_418);
    assert_eq!(truth.dispositions.len(), 28);
    let uncoded: Vec<&str> = truth
        .dispositions
        .iter()
        .filter(|d| d.description.is_none())
        .map(|d| d.disposition.as_str())
        .collect();
    assert_eq!(
        uncoded,
        [
            "CHP",
            "DUP",
            "ENC",
            "FIR",
            "GEN",
            "HOT",
            "INC",
            "Not recorded",
            "OTS",
            "TH2",
            "TOW"
        ]
    );
    let not_recorded = truth
        .dispositions
        .iter()
        .find(|d| d.disposition == "Not recorded")
        .unwrap();
    assert_eq!(not_recorded.count, 19_238);
    for counts in [
        truth.windows.iter().map(|w| w.count).sum::<u64>(),
        truth.crime_types.iter().map(|t| t.count).sum(),
        truth.dispositions.iter().map(|d| d.count).sum(),
    ] {
        assert_eq!(counts, 199_999);
    }

    // Hourly windows of this naive, fixed-width format are its first 13
    // characters; counting those is an independent route to the truth.
    let mut hourly: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for r in &records {
        let hour = format!("{}:00:00", &r.call_date_time[..13]);
        *hourly
            .entry((hour, &r.original_crime_type_name))
            .or_default() += 1;
    }
    assert_eq!(hourly.len(), 83_871);
    let computed: BTreeMap<(String, &str), u64> = truth
        .windows
        .iter()
        .map(|w| {
            assert_eq!(
                w.window_end.epoch_seconds() - w.window_start.epoch_seconds(),
                3600
            );
            (
                (
                    w.window_start.to_string(),
                    w.original_crime_type_name.as_str(),
                ),
                w.count,
            )
        })
        .collect();
    assert_eq!(computed, hourly);

    // `produce --copies`: every record can be copied, and copies never
    // share a window, not even a day's, so the N-fold state is N times the
    // state (3 copies: 3 × the windows).
    let daily = truth::compute_copies(&records, &codes, 86_400, 3).unwrap();
    assert_eq!(daily.records, 3 * 199_999);
    let single_daily = truth::compute(&records, &codes, 86_400).unwrap();
    assert_eq!(daily.windows.len(), 3 * single_daily.windows.len());
    let copy = crate::copies::copy_record(&records[199_998], 1).unwrap();
    assert_eq!(copy.call_date_time, "2019-01-01T09:11:00.000");
}
