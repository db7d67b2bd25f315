//! The live progress table: one fixed-width row per progress event, under a
//! header, so a terminal shows batches scrolling by in aligned columns.
//!
//! Columns: batch id, input rows, input and processed rows/s (one decimal, as
//! Spark rounds them), trigger ms, the trigger's phases in ms (addBatch,
//! getBatch, latestOffset, queryPlanning, walCommit, commitOffsets) and the
//! records still behind the Kafka heads. A value Spark did not report shows
//! as `-`, never as 0, since 0 is a real measurement. A value wider than its
//! column widens the row rather than being cut: a truncated number would lie.

use crate::progress::{duration_key, StreamingQueryProgress};

struct Column {
    title: &'static str,
    width: usize,
}

const fn col(title: &'static str, width: usize) -> Column {
    Column { title, width }
}

/// Columns in display order; each is right-aligned in `width` characters.
const COLUMNS: [Column; 12] = [
    col("batch", 6),
    col("rows", 9),
    col("in rows/s", 11),
    col("proc rows/s", 11),
    col("trigger", 8),
    col("addBatch", 8),
    col("getBatch", 8),
    col("latestOff", 9),
    col("planning", 8),
    col("walCommit", 9),
    col("commitOff", 9),
    col("behind", 10),
];

/// The header line naming the columns of [`table_row`]. Durations are in ms.
pub fn table_header() -> String {
    join(COLUMNS.iter().map(|c| c.title.to_string()))
}

/// One progress event as a table row aligned under [`table_header`].
pub fn table_row(p: &StreamingQueryProgress) -> String {
    let mut cells = vec![
        count(p.batch_id),
        p.input_rows().to_string(),
        rate(p.input_rows_per_second),
        rate(p.processed_rows_per_second),
        count(p.duration(duration_key::TRIGGER_EXECUTION)),
    ];
    cells.extend(
        duration_key::PHASES
            .iter()
            .map(|key| count(p.duration(key))),
    );
    cells.push(count(p.offsets_behind_latest()));
    join(cells.into_iter())
}

fn join(cells: impl Iterator<Item = String>) -> String {
    cells
        .zip(COLUMNS.iter())
        .map(|(cell, column)| format!("{cell:>width$}", width = column.width))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

fn count(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(json: &str) -> StreamingQueryProgress {
        StreamingQueryProgress::from_json(json).unwrap()
    }

    #[test]
    fn header_names_every_column() {
        assert_eq!(
            table_header(),
            concat!(
                " batch      rows   in rows/s proc rows/s  trigger addBatch getBatch",
                " latestOff planning walCommit commitOff     behind"
            )
        );
    }

    #[test]
    fn row_aligns_under_the_header() {
        let p = progress(
            r#"{"id":"q","runId":"r","timestamp":"2026-11-25T11:47:28.897Z","batchId":1,
            "numInputRows":300,"inputRowsPerSecond":47.4,"processedRowsPerSecond":157.5,
            "durationMs":{"addBatch":1607,"commitOffsets":82,"getBatch":0,"latestOffset":0,
            "queryPlanning":99,"triggerExecution":1905,"walCommit":91},
            "sources":[{"endOffset":{"t":{"0":300}},"latestOffset":{"t":{"0":450}}}]}"#,
        );
        let row = table_row(&p);
        assert_eq!(
            row,
            concat!(
                "     1       300        47.4       157.5     1905     1607        0",
                "         0       99        91        82        150"
            )
        );
        assert_eq!(row.len(), table_header().len());
    }

    #[test]
    fn unreported_values_show_as_dashes() {
        let p = progress(
            r#"{"id":"q","runId":"r","timestamp":"2026-11-25T11:47:28.897Z","batchId":7,
            "inputRowsPerSecond":NaN,"durationMs":{"latestOffset":2,"triggerExecution":3}}"#,
        );
        let cells: Vec<String> = table_row(&p)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        assert_eq!(
            cells,
            ["7", "0", "-", "-", "3", "-", "-", "2", "-", "-", "-", "-"]
        );
        assert_eq!(table_row(&p).len(), table_header().len());
    }

    #[test]
    fn wide_values_widen_the_row_instead_of_being_cut() {
        let p = progress(
            r#"{"id":"q","runId":"r","timestamp":"2026-11-25T11:47:28.897Z",
            "batchId":12345678,"numInputRows":123456789012}"#,
        );
        let row = table_row(&p);
        assert!(row.starts_with("12345678 123456789012 "), "{row}");
    }
}
