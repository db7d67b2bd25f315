//! The data N times over, for a sweep's `copies` points: one topic per N,
//! `<topic>.x<N>`, produced once with `sfcrime produce --copies N` (and kept
//! for the next sweep), and the N-fold ground truth that every run's counts
//! must equal exactly.

use anyhow::{bail, Context, Result};
use sfcrime_kafka::admin;
use sfcrime_records::truth::{self, Accumulator, GroundTruth, DEFAULT_WINDOW_SECONDS};
use sfcrime_records::RecordReader;
use sfcrime_spark::FinalResults;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::load::produce_command;
use crate::sweep::{topic_size, Log, SweepOptions};

/// Partitions of a copies topic, as the job's own topic has.
const PARTITIONS: i32 = 3;

/// The topic of `copies` copies of the data file.
pub fn copies_topic(topic: &str, copies: u64) -> String {
    format!("{topic}.x{copies}")
}

/// The data of one `copies` value.
pub(crate) struct Scaled {
    pub(crate) topic: String,
    pub(crate) truth: GroundTruth,
}

impl Scaled {
    /// Computes the N-fold ground truth of the data file and makes sure its
    /// topic holds exactly the N copies: produced now when it is empty,
    /// refused when it holds anything else.
    pub(crate) fn prepare(options: &SweepOptions, copies: u64, log: Log<'_>) -> Result<Scaled> {
        let file = &options.data_file;
        let truth = n_fold_truth(&options.home, file, copies)?;
        let topic = copies_topic(&options.topic, copies);
        let want = truth.records as i64;
        admin::ensure_topic(
            &options.kafka,
            &topic,
            PARTITIONS,
            1,
            &[],
            Duration::from_secs(30),
        )?;
        let mut have = topic_size(&options.kafka, &topic)?;
        if have == 0 {
            log(&format!(
                "producing {} {copies}x ({want} records) to '{topic}', once",
                file.display()
            ));
            let mut produce = produce_command(options, &topic);
            produce
                .arg("--copies")
                .arg(copies.to_string())
                .stdin(Stdio::null());
            sfcrime_process::output(&mut produce)?;
            have = topic_size(&options.kafka, &topic)?;
        }
        if have != want {
            bail!(
                "topic '{topic}' holds {have} records, not the {want} of {copies} copies of {}: \
                 delete the topic (the sweep produces it again) or use another --topic",
                file.display()
            );
        }
        Ok(Scaled { topic, truth })
    }

    /// How a run's final results differ from the N-fold truth, at most a few
    /// lines; empty when every count is exact.
    pub(crate) fn differences(&self, output: &Path) -> Vec<String> {
        let (totals, windows) = match FinalResults::read(output)
            .and_then(|t| FinalResults::read_windows(output).map(|w| (t, w)))
        {
            Ok(read) => read,
            Err(e) => return vec![e],
        };
        let mut diffs = Vec::new();
        compare(
            "crime type",
            totals
                .crime_type_totals
                .into_iter()
                .map(|t| (t.original_crime_type_name, t.count)),
            self.truth
                .crime_types
                .iter()
                .map(|t| (Some(t.original_crime_type_name.clone()), t.count)),
            &mut diffs,
        );
        compare(
            "disposition",
            totals
                .dispositions
                .into_iter()
                .map(|d| ((d.disposition, d.description), d.count)),
            self.truth.dispositions.iter().map(|d| {
                (
                    (Some(d.disposition.clone()), d.description.clone()),
                    d.count,
                )
            }),
            &mut diffs,
        );
        compare(
            "window",
            windows
                .into_iter()
                .map(|w| ((w.window_start, w.original_crime_type_name), w.count)),
            self.truth.windows.iter().map(|w| {
                (
                    (
                        w.window_start.to_string(),
                        Some(w.original_crime_type_name.clone()),
                    ),
                    w.count,
                )
            }),
            &mut diffs,
        );
        diffs
    }
}

/// Most differences [`Scaled::differences`] lists per aggregate.
const SHOWN: usize = 3;

/// Adds to `diffs` the first keys whose counts differ.
fn compare<K: Ord + Debug>(
    what: &str,
    got: impl Iterator<Item = (K, u64)>,
    want: impl Iterator<Item = (K, u64)>,
    diffs: &mut Vec<String>,
) {
    let mut got: BTreeMap<K, u64> = got.collect();
    let mut shown = 0;
    for (key, count) in want {
        match got.remove(&key) {
            Some(counted) if counted == count => {}
            counted => {
                if shown < SHOWN {
                    diffs.push(format!(
                        "{what} {key:?}: counted {}, the data has {count}",
                        counted.unwrap_or(0)
                    ));
                }
                shown += 1;
            }
        }
    }
    for (key, counted) in got {
        if shown < SHOWN {
            diffs.push(format!(
                "{what} {key:?}: counted {counted}, not in the data"
            ));
        }
        shown += 1;
    }
    if shown > SHOWN {
        diffs.push(format!("... {} more {what} differences", shown - SHOWN));
    }
}

/// The ground truth of `copies` copies of `file`, as `produce --copies`
/// sends them, with the job's window and radio codes.
fn n_fold_truth(home: &Path, file: &Path, copies: u64) -> Result<GroundTruth> {
    let codes = truth::radio_codes(home.join("data/radio_code.json"))?;
    let mut counts = Accumulator::new(DEFAULT_WINDOW_SECONDS)?;
    let reader = RecordReader::open(file)
        .with_context(|| format!("cannot read the data file {}", file.display()))?;
    for record in reader.records() {
        let record = record.with_context(|| format!("in {}", file.display()))?;
        counts.add_copies(&record, copies)?;
    }
    Ok(counts.finish(&codes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_first_few_keys_both_ways() {
        let mut diffs = Vec::new();
        compare(
            "crime type",
            [("a", 2), ("b", 1), ("x", 5)].into_iter(),
            [("a", 2), ("b", 3), ("c", 1)].into_iter(),
            &mut diffs,
        );
        assert_eq!(
            diffs,
            [
                "crime type \"b\": counted 1, the data has 3",
                "crime type \"c\": counted 0, the data has 1",
                "crime type \"x\": counted 5, not in the data",
            ]
        );
        let mut diffs = Vec::new();
        compare(
            "window",
            (0..10).map(|i| (i, 1)),
            (0..10).map(|i| (i, 2)),
            &mut diffs,
        );
        assert_eq!(diffs.len(), SHOWN + 1);
        assert_eq!(diffs[SHOWN], "... 7 more window differences");
        let mut diffs = Vec::new();
        compare(
            "same",
            [(1, 1)].into_iter(),
            [(1, 1)].into_iter(),
            &mut diffs,
        );
        assert!(diffs.is_empty());
    }

    #[test]
    fn copies_topics_are_named_by_their_copies() {
        assert_eq!(copies_topic("sf.police.calls", 20), "sf.police.calls.x20");
    }
}
