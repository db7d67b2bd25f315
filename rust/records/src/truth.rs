//! Ground truth: the aggregates the Spark job computes, computed here
//! directly from the records so Spark's output can be checked exactly.
//!
//! The semantics mirror the job: counts per (tumbling event-time window,
//! `original_crime_type_name`) with windows aligned to the epoch like
//! Spark's `window()`; total counts per `original_crime_type_name`; and
//! counts per `disposition` LEFT-joined with the radio codes, so
//! dispositions without a code keep a `None` description. Every record
//! counts, duplicates included, because the job does not deduplicate.
//! `call_date_time` is a naive timestamp taken as is (no time zone shift),
//! which matches a job whose session time zone is UTC.
//!
//! The ground truth of the N-fold dataset (`produce --copies N`) counts each
//! record's N copies, made by [`crate::copies::copy_record`].

use crate::calendar::{days_from_civil, CivilTime};
use crate::copies::{copy_record, CopyError};
use crate::record::CallRecord;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The job's window: one hour.
pub const DEFAULT_WINDOW_SECONDS: u64 = 3600;

/// A naive timestamp at one-second precision: seconds since
/// 1970-01-01T00:00:00 with no time zone attached.
///
/// Shown and serialized as `YYYY-MM-DDTHH:MM:SS`. Parsing accepts what the
/// data file and Spark's JSON writer produce: a `T` or space separator,
/// optional seconds and fraction (dropped: windows are whole seconds, so
/// flooring to the second never changes a window), and an optional `Z` or
/// `+00:00` suffix (any other offset is refused, since the value would no
/// longer be the naive time the window was computed from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_epoch_seconds(secs: i64) -> Timestamp {
        Timestamp(secs)
    }

    pub fn epoch_seconds(self) -> i64 {
        self.0
    }

    /// The start of the tumbling window of `window_seconds` holding this
    /// instant, aligned to the epoch as Spark's `window()` aligns them.
    pub fn window_start(self, window_seconds: u64) -> Timestamp {
        let len = i64::try_from(window_seconds).unwrap_or(i64::MAX).max(1);
        Timestamp(self.0 - self.0.rem_euclid(len))
    }
}

/// A string that is not a timestamp [`Timestamp`] accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a timestamp like 2018-12-31T23:57:00.000: {0:?}")]
pub struct TimestampError(pub String);

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        parse_timestamp(s).ok_or_else(|| TimestampError(s.to_owned()))
    }
}

fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && (at(10, b'T') || at(10, b' ')) && at(13, b':')) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute) = (num(11, 2)?, num(14, 2)?);
    let mut rest = &s[16..];
    let mut second = 0;
    if let Some(r) = rest.strip_prefix(':') {
        second = num(17, 2)?;
        rest = &r[2..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = &frac[digits..];
        }
    }
    if !matches!(rest, "" | "Z" | "+00:00") {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // In range: checked above.
    let days = days_from_civil(year, month as u32, day as u32);
    Some(Timestamp(
        days * 86_400 + hour * 3600 + minute * 60 + second,
    ))
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = CivilTime::from_epoch_seconds(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Calls of one crime type within one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCount {
    pub window_start: Timestamp,
    /// Exclusive, as in Spark's `window.end`.
    pub window_end: Timestamp,
    pub original_crime_type_name: String,
    pub count: u64,
}

/// Calls of one crime type over the whole input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrimeTypeCount {
    pub original_crime_type_name: String,
    pub count: u64,
}

/// Calls with one disposition, and that disposition's radio code
/// description when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionCount {
    pub disposition: String,
    pub description: Option<String>,
    pub count: u64,
}

/// All three aggregates. Rows are sorted by their keys (window start, then
/// name) so that two results compare equal exactly when their contents do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub window_seconds: u64,
    /// Records counted, duplicates included.
    pub records: u64,
    pub windows: Vec<WindowCount>,
    pub crime_types: Vec<CrimeTypeCount>,
    pub dispositions: Vec<DispositionCount>,
}

/// Why ground truth could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("window length must be at least one second")]
    ZeroWindow,
    #[error("record {index} (crime_id {crime_id:?}): call_date_time: {source}")]
    BadTimestamp {
        index: u64,
        crime_id: String,
        source: TimestampError,
    },
    #[error("{}: cannot read radio codes: {source}", path.display())]
    RadioCodesIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a JSON array of {{\"disposition_code\", \"description\"}} objects: {source}", path.display())]
    RadioCodesJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("record {index} (crime_id {crime_id:?}): {source}")]
    Copy {
        index: u64,
        crime_id: String,
        source: CopyError,
    },
    // A duplicated code would make the join emit its disposition twice.
    #[error("{}: disposition_code {code:?} appears more than once", path.display())]
    DuplicateRadioCode { path: PathBuf, code: String },
}

/// Loads `radio_code.json`: disposition code -> description.
pub fn radio_codes(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>, TruthError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RadioCode {
        disposition_code: String,
        description: String,
    }
    let path = path.as_ref();
    let text = std::fs::read(path).map_err(|source| TruthError::RadioCodesIo {
        path: path.to_owned(),
        source,
    })?;
    let codes: Vec<RadioCode> =
        serde_json::from_slice(&text).map_err(|source| TruthError::RadioCodesJson {
            path: path.to_owned(),
            source,
        })?;
    let mut map = BTreeMap::new();
    for c in codes {
        if map.contains_key(&c.disposition_code) {
            return Err(TruthError::DuplicateRadioCode {
                path: path.to_owned(),
                code: c.disposition_code,
            });
        }
        map.insert(c.disposition_code, c.description);
    }
    Ok(map)
}

/// Accumulates counts one record at a time, so the ground truth of a
/// streamed file needs no more memory than the counts themselves.
#[derive(Debug, Clone)]
pub struct Accumulator {
    window_seconds: u64,
    records: u64,
    windows: HashMap<i64, HashMap<String, u64>>,
    crime_types: HashMap<String, u64>,
    dispositions: HashMap<String, u64>,
}

impl Accumulator {
    pub fn new(window_seconds: u64) -> Result<Accumulator, TruthError> {
        if window_seconds == 0 {
            return Err(TruthError::ZeroWindow);
        }
        Ok(Accumulator {
            window_seconds,
            records: 0,
            windows: HashMap::new(),
            crime_types: HashMap::new(),
            dispositions: HashMap::new(),
        })
    }

    /// Counts one record; a `call_date_time` that does not parse is an
    /// error (and the record is not counted at all), since silently
    /// dropping it would hide a mismatch with Spark.
    pub fn add(&mut self, record: &CallRecord) -> Result<(), TruthError> {
        let ts: Timestamp =
            record
                .call_date_time
                .parse()
                .map_err(|source| TruthError::BadTimestamp {
                    index: self.records,
                    crime_id: record.crime_id.clone(),
                    source,
                })?;
        let start = ts.window_start(self.window_seconds).epoch_seconds();
        let name = &record.original_crime_type_name;
        bump(self.windows.entry(start).or_default(), name);
        bump(&mut self.crime_types, name);
        bump(&mut self.dispositions, &record.disposition);
        self.records += 1;
        Ok(())
    }

    /// Counts copies 0 to `copies - 1` of one record, as `produce --copies`
    /// sends them.
    pub fn add_copies(&mut self, record: &CallRecord, copies: u64) -> Result<(), TruthError> {
        self.add(record)?;
        for copy in 1..copies {
            let copied = copy_record(record, copy).map_err(|source| TruthError::Copy {
                index: self.records,
                crime_id: record.crime_id.clone(),
                source,
            })?;
            self.add(&copied)?;
        }
        Ok(())
    }

    /// The aggregates, with dispositions LEFT-joined to `radio_codes`.
    pub fn finish(self, radio_codes: &BTreeMap<String, String>) -> GroundTruth {
        let len = self.window_seconds as i64;
        let mut windows: Vec<WindowCount> = self
            .windows
            .into_iter()
            .flat_map(|(start, names)| {
                names.into_iter().map(move |(name, count)| WindowCount {
                    window_start: Timestamp(start),
                    window_end: Timestamp(start + len),
                    original_crime_type_name: name,
                    count,
                })
            })
            .collect();
        windows.sort_by(|a, b| {
            (a.window_start, &a.original_crime_type_name)
                .cmp(&(b.window_start, &b.original_crime_type_name))
        });
        let mut crime_types: Vec<CrimeTypeCount> = self
            .crime_types
            .into_iter()
            .map(|(name, count)| CrimeTypeCount {
                original_crime_type_name: name,
                count,
            })
            .collect();
        crime_types.sort_by(|a, b| a.original_crime_type_name.cmp(&b.original_crime_type_name));
        let mut dispositions: Vec<DispositionCount> = self
            .dispositions
            .into_iter()
            .map(|(code, count)| DispositionCount {
                description: radio_codes.get(&code).cloned(),
                disposition: code,
                count,
            })
            .collect();
        dispositions.sort_by(|a, b| a.disposition.cmp(&b.disposition));
        GroundTruth {
            window_seconds: self.window_seconds,
            records: self.records,
            windows,
            crime_types,
            dispositions,
        }
    }
}

// Looks up by &str first so the common case (a name already seen) does not
// allocate a key.
fn bump(counts: &mut HashMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(c) => *c += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// Ground truth of a whole sequence of records.
pub fn compute<I>(
    records: I,
    radio_codes: &BTreeMap<String, String>,
    window_seconds: u64,
) -> Result<GroundTruth, TruthError>
where
    I: IntoIterator,
    I::Item: Borrow<CallRecord>,
{
    compute_copies(records, radio_codes, window_seconds, 1)
}

/// Ground truth of `copies` copies of a sequence of records (the N-fold
/// dataset of `produce --copies`).
pub fn compute_copies<I>(
    records: I,
    radio_codes: &BTreeMap<String, String>,
    window_seconds: u64,
    copies: u64,
) -> Result<GroundTruth, TruthError>
where
    I: IntoIterator,
    I::Item: Borrow<CallRecord>,
{
    let mut acc = Accumulator::new(window_seconds)?;
    for r in records {
        acc.add_copies(r.borrow(), copies)?;
    }
    Ok(acc.finish(radio_codes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{data_file, record};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn timestamps_parse_as_naive_seconds() {
        assert_eq!(ts("1970-01-01T00:00:00").epoch_seconds(), 0);
        assert_eq!(ts("2018-12-31T23:57:00.000").epoch_seconds(), 1_546_300_620);
        assert_eq!(ts("2018-12-31 23:57"), ts("2018-12-31T23:57:00.000"));
        assert_eq!(ts("2018-12-31T23:57:00.999Z"), ts("2018-12-31T23:57:00"));
        assert_eq!(ts("2018-12-31T23:57:00+00:00"), ts("2018-12-31T23:57:00"));
        assert_eq!(ts("2016-02-29T12:00:00").to_string(), "2016-02-29T12:00:00");
        assert_eq!(ts("1969-12-31T23:59:59").epoch_seconds(), -1);
        for bad in [
            "",
            "2018-12-31",
            "2018-13-01T00:00:00",
            "2018-02-29T00:00:00",
            "2018-12-31T24:00:00",
            "2018-12-31T23:57:00.",
            "2018-12-31T23:57:00-08:00",
            "2018-12-31T23:57:00 ",
            "2018-12-3lT23:57:00",
            "2018/12/31T23:57:00",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_round_trips_over_centuries() {
        for secs in (-5_000_000_000i64..5_000_000_000).step_by(86_400 * 997 + 3_599) {
            let t = Timestamp::from_epoch_seconds(secs);
            assert_eq!(ts(&t.to_string()), t, "{t}");
        }
    }

    #[test]
    fn windows_align_to_the_epoch() {
        let t = ts("2018-12-31T23:57:42");
        assert_eq!(t.window_start(3600), ts("2018-12-31T23:00:00"));
        assert_eq!(t.window_start(900), ts("2018-12-31T23:45:00"));
        assert_eq!(t.window_start(86_400), ts("2018-12-31T00:00:00"));
        // 7 hours does not divide a day: windows follow the epoch, not
        // midnight, exactly like Spark's window().
        assert_eq!(t.window_start(7 * 3600), ts("2018-12-31T23:00:00"));
        assert_eq!(
            ts("2018-12-31T22:59:00").window_start(7 * 3600),
            ts("2018-12-31T16:00:00")
        );
        assert_eq!(
            ts("2018-12-31T23:00:00").window_start(3600),
            ts("2018-12-31T23:00:00")
        );
        assert_eq!(
            ts("1969-12-31T23:30:00").window_start(3600),
            ts("1969-12-31T23:00:00")
        );
    }

    fn codes() -> BTreeMap<String, String> {
        [("ADM", "Admonished"), ("CIT", "Cited")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn counts_windows_types_and_left_joined_dispositions() {
        let records = [
            record("1", "Traffic Stop", "2018-12-31T23:57:00.000", "ADM"),
            record("2", "Traffic Stop", "2018-12-31T23:00:00.000", "CIT"),
            record(
                "3",
                "Passing Call",
                "2018-12-31T22:59:59.000",
                "Not recorded",
            ),
            record(
                "3",
                "Passing Call",
                "2018-12-31T22:59:59.000",
                "Not recorded",
            ),
            record("4", "Traffic Stop", "2018-12-31T22:10:00.000", "ADM"),
        ];
        let truth = compute(&records, &codes(), DEFAULT_WINDOW_SECONDS).unwrap();
        let w = |start: &str, end: &str, name: &str, count| WindowCount {
            window_start: ts(start),
            window_end: ts(end),
            original_crime_type_name: name.to_owned(),
            count,
        };
        let expected = GroundTruth {
            window_seconds: 3600,
            records: 5,
            windows: vec![
                w(
                    "2018-12-31T22:00:00",
                    "2018-12-31T23:00:00",
                    "Passing Call",
                    2,
                ),
                w(
                    "2018-12-31T22:00:00",
                    "2018-12-31T23:00:00",
                    "Traffic Stop",
                    1,
                ),
                w(
                    "2018-12-31T23:00:00",
                    "2019-01-01T00:00:00",
                    "Traffic Stop",
                    2,
                ),
            ],
            crime_types: vec![
                CrimeTypeCount {
                    original_crime_type_name: "Passing Call".into(),
                    count: 2,
                },
                CrimeTypeCount {
                    original_crime_type_name: "Traffic Stop".into(),
                    count: 3,
                },
            ],
            dispositions: vec![
                DispositionCount {
                    disposition: "ADM".into(),
                    description: Some("Admonished".into()),
                    count: 2,
                },
                DispositionCount {
                    disposition: "CIT".into(),
                    description: Some("Cited".into()),
                    count: 1,
                },
                DispositionCount {
                    disposition: "Not recorded".into(),
                    description: None,
                    count: 2,
                },
            ],
        };
        assert_eq!(truth, expected);

        let daily = compute(&records, &codes(), 86_400).unwrap();
        assert_eq!(daily.windows.len(), 2);
        assert_eq!(daily.windows[0].window_start, ts("2018-12-31T00:00:00"));
    }

    #[test]
    fn serializes_to_spark_comparable_json_and_back() {
        let records = [record(
            "1",
            "Traffic Stop",
            "2018-12-31T23:57:00.000",
            "GEN",
        )];
        let truth = compute(records, &codes(), 3600).unwrap();
        let json = serde_json::to_value(&truth).unwrap();
        assert_eq!(
            json["windows"][0],
            serde_json::json!({
                "window_start": "2018-12-31T23:00:00",
                "window_end": "2019-01-01T00:00:00",
                "original_crime_type_name": "Traffic Stop",
                "count": 1
            })
        );
        assert_eq!(
            json["dispositions"][0]["description"],
            serde_json::Value::Null
        );
        let back: GroundTruth = serde_json::from_value(json).unwrap();
        assert_eq!(back, truth);
        // Spark's JSON writer (session time zone UTC) spells them so.
        let spark: WindowCount = serde_json::from_str(
            r#"{"window_start":"2018-12-31T23:00:00.000Z","window_end":"2019-01-01T00:00:00.000Z",
                "original_crime_type_name":"Traffic Stop","count":1}"#,
        )
        .unwrap();
        assert_eq!(spark, truth.windows[0]);
    }

    #[test]
    fn bad_timestamp_and_zero_window_are_errors() {
        let records = [
            record("1", "T", "2018-12-31T23:57:00.000", "ADM"),
            record("2", "T", "yesterday", "ADM"),
        ];
        let err = compute(&records, &codes(), 3600).unwrap_err();
        assert_eq!(
            err.to_string(),
            "record 1 (crime_id \"2\"): call_date_time: \
             not a timestamp like 2018-12-31T23:57:00.000: \"yesterday\""
        );
        assert!(matches!(
            compute(&records[..1], &codes(), 0),
            Err(TruthError::ZeroWindow)
        ));
    }

    #[test]
    fn the_n_fold_truth_counts_each_copy_in_its_own_window() {
        let records = [
            record("1", "Traffic Stop", "2018-12-31T23:57:00.000", "ADM"),
            record("2", "Passing Call", "2018-10-02T09:11:00.000", "CIT"),
        ];
        let single = compute(&records, &codes(), 3600).unwrap();
        let triple = compute_copies(&records, &codes(), 3600, 3).unwrap();
        assert_eq!(triple.records, 6);
        assert_eq!(triple.windows.len(), 3 * single.windows.len());
        assert!(triple.windows.iter().all(|w| w.count == 1));
        // Each copy's windows are copy 0's moved by 13 weeks.
        let week = 7 * 86_400;
        for copy in 0..3i64 {
            for w in &single.windows {
                let start = w.window_start.epoch_seconds() + copy * 13 * week;
                assert!(triple
                    .windows
                    .iter()
                    .any(|t| t.window_start.epoch_seconds() == start
                        && t.original_crime_type_name == w.original_crime_type_name));
            }
        }
        let counts = |t: &GroundTruth| t.crime_types.iter().map(|c| c.count).collect::<Vec<_>>();
        assert_eq!(counts(&triple), vec![3, 3]);
        assert_eq!(triple.dispositions.iter().map(|d| d.count).sum::<u64>(), 6);
        assert_eq!(compute_copies(&records, &codes(), 3600, 1).unwrap(), single);

        let bad = [record("3", "T", "2018-12-31T23:57:00.000", "ADM")];
        let mut broken = bad[0].clone();
        broken.offense_date = "soon".into();
        let err = compute_copies([broken], &codes(), 3600, 2).unwrap_err();
        assert!(matches!(err, TruthError::Copy { .. }), "{err}");
        assert!(err.to_string().contains("offense_date"), "{err}");
    }

    #[test]
    fn radio_codes_load_and_fail_with_the_path() {
        let real = radio_codes(data_file("radio_code.json")).unwrap();
        assert_eq!(real.len(), 19);
        assert_eq!(real["ADM"], "Admonished");

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = radio_codes(&missing).unwrap_err();
        assert!(matches!(err, TruthError::RadioCodesIo { .. }));
        assert!(err.to_string().starts_with(&missing.display().to_string()));

        for (name, text) in [
            ("not-array.json", r#"{"ADM": "Admonished"}"#),
            ("wrong-key.json", r#"[{"code": "ADM", "description": "x"}]"#),
            (
                "null.json",
                r#"[{"disposition_code": "ADM", "description": null}]"#,
            ),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let err = radio_codes(&path).unwrap_err();
            assert!(
                matches!(err, TruthError::RadioCodesJson { .. }),
                "{name}: {err}"
            );
            assert!(err.to_string().starts_with(&path.display().to_string()));
        }

        let path = dir.path().join("dup.json");
        std::fs::write(
            &path,
            r#"[{"disposition_code": "ADM", "description": "a"},
                {"disposition_code": "ADM", "description": "b"}]"#,
        )
        .unwrap();
        assert!(matches!(
            radio_codes(&path),
            Err(TruthError::DuplicateRadioCode { code, .. }) if code == "ADM"
        ));
    }
}
