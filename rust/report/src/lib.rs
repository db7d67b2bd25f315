//! A run's `report.html`: one self-contained page (inline SVG charts, no
//! script, nothing fetched) with the run's progress batch by batch, its
//! summary and the job's final results, written into the run directory by
//! `spark run` and by sweeps, and redrawn by `sfcrime report RUN_DIR`.
//!
//! - [`panels`]: progress events as chart series.
//! - [`html`]: the page, rendered from a [`RunReport`].
//!
//! A run that failed half-way still gets a page of what it left (a missing
//! or cut-off progress file, no final results): each gap is said on the
//! page. The page is written to a temporary file and renamed, so a reader
//! never sees half of one.

pub mod html;
pub mod panels;

use anyhow::{Context, Result};
use sfcrime_spark::latency::{e2e_latency, E2eLatency};
use sfcrime_spark::{FinalResults, RunClock, RunSummary, StreamingQueryProgress};
use std::path::{Path, PathBuf};

/// The page's name in a run directory.
pub const REPORT_FILE: &str = "report.html";
const PROGRESS_FILE: &str = "progress.jsonl";
const SUMMARY_FILE: &str = "summary.json";
/// What every run directory holds from its first second.
const LOG_FILE: &str = "spark.log";

/// Everything a run's page shows, read from its directory.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_dir: PathBuf,
    /// The streaming query's name (`queryName`), from its progress.
    pub query_name: Option<String>,
    pub events: Vec<StreamingQueryProgress>,
    /// Lines of the progress file that were not progress events (a line cut
    /// off by a crash), with why.
    pub unreadable: Vec<String>,
    /// Why there are no events at all, when the progress file is missing.
    pub no_progress: Option<String>,
    /// From `summary.json` (timed from the launch) when the run wrote one,
    /// else from the events.
    pub summary: RunSummary,
    /// Pooled over the batches that observed their Kafka timestamps.
    pub e2e: Option<E2eLatency>,
    /// The job's final results, or why there are none.
    pub results: Result<FinalResults, String>,
}

/// Whether `dir` is a run directory (as opposed to a sweep's results).
pub fn is_run_dir(dir: &Path) -> bool {
    dir.join(PROGRESS_FILE).is_file() || dir.join(LOG_FILE).is_file()
}

impl RunReport {
    /// Reads the run in `run_dir`, whose job wrote its results to
    /// `output_dir`.
    pub fn read(run_dir: &Path, output_dir: &Path) -> Result<Self> {
        if !run_dir.is_dir() {
            anyhow::bail!("{} is not a directory", run_dir.display());
        }
        let progress = run_dir.join(PROGRESS_FILE);
        let (events, unreadable, no_progress) = match std::fs::read_to_string(&progress) {
            Ok(text) => {
                let (events, unreadable) = parse_progress(&text, &progress);
                (events, unreadable, None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                Vec::new(),
                Vec::new(),
                Some(format!(
                    "the job wrote no {} (it ended before its first batch; see {LOG_FILE})",
                    progress.display()
                )),
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", progress.display())),
        };
        let summary = std::fs::read_to_string(run_dir.join(SUMMARY_FILE))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_else(|| RunSummary::from_progress(&events, RunClock::default()));
        Ok(RunReport {
            run_dir: run_dir.to_path_buf(),
            query_name: events.iter().find_map(|p| p.name.clone()),
            e2e: e2e_latency(&events, 0),
            unreadable,
            no_progress,
            summary,
            events,
            results: FinalResults::read(output_dir),
        })
    }
}

/// The events of a progress file, and a line per line that is not one.
fn parse_progress(text: &str, path: &Path) -> (Vec<StreamingQueryProgress>, Vec<String>) {
    let mut events = Vec::new();
    let mut unreadable = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match StreamingQueryProgress::from_json(line) {
            Ok(event) => events.push(event),
            Err(e) => unreadable.push(format!("{}:{}: {e}", path.display(), i + 1)),
        }
    }
    (events, unreadable)
}

/// Writes `<run_dir>/report.html` for the run whose job wrote its results
/// to `output_dir`, and returns its path.
pub fn write_run_report(run_dir: &Path, output_dir: &Path) -> Result<PathBuf> {
    let report = RunReport::read(run_dir, output_dir)?;
    let page = html::render(&report)?;
    let path = run_dir.join(REPORT_FILE);
    let temporary = run_dir.join(format!(".{REPORT_FILE}.{}", std::process::id()));
    std::fs::write(&temporary, page)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, &path)
        .with_context(|| format!("cannot move {} to {}", temporary.display(), path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"id":"q","runId":"r","name":"sfcrime_counts","timestamp":"2026-01-01T00:00:00.000Z","batchId":0,"numInputRows":300,"inputRowsPerSecond":50.0,"processedRowsPerSecond":150.0,"durationMs":{"addBatch":1500,"triggerExecution":2000},"stateOperators":[{"numRowsTotal":40,"memoryUsedBytes":1048576}]}"#;

    #[test]
    fn a_run_cut_short_still_gets_a_page_of_what_it_left() {
        let run = tempfile::tempdir().unwrap();
        std::fs::write(run.path().join(LOG_FILE), "").unwrap();
        assert!(is_run_dir(run.path()));
        // No progress at all: the page says so.
        let path = write_run_report(run.path(), &run.path().join("output")).unwrap();
        let page = std::fs::read_to_string(&path).unwrap();
        assert!(page.contains("the job wrote no"), "{page}");
        assert!(page.contains("no final results"), "{page}");

        // One batch, then a line cut off by a crash.
        std::fs::write(
            run.path().join(PROGRESS_FILE),
            format!("{EVENT}\n{{\"id\":\"q\",\"runId"),
        )
        .unwrap();
        let report = RunReport::read(run.path(), &run.path().join("output")).unwrap();
        assert_eq!(report.events.len(), 1);
        assert_eq!(report.unreadable.len(), 1, "{:?}", report.unreadable);
        assert_eq!(report.query_name.as_deref(), Some("sfcrime_counts"));
        assert_eq!(report.summary.total_input_rows, 300);
        write_run_report(run.path(), &run.path().join("output")).unwrap();
        let page = std::fs::read_to_string(&path).unwrap();
        assert!(page.contains("sfcrime_counts") && page.contains("progress.jsonl:2"));
        // Only the page is left: no temporary file.
        let mut names: Vec<String> = std::fs::read_dir(run.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [PROGRESS_FILE, REPORT_FILE, LOG_FILE]);
    }

    #[test]
    fn a_missing_run_dir_is_an_error_naming_it() {
        let err = write_run_report(Path::new("/no/such/run"), Path::new("/no")).unwrap_err();
        assert!(err.to_string().contains("/no/such/run"), "{err}");
    }
}
