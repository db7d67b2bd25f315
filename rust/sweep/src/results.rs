//! A sweep's results directory: `sweep.json` (the resolved design and run
//! order), one [`RunRecord`] per finished run in `results.json` (an array,
//! rewritten atomically after each run) and `results.csv` (appended), and
//! the runs themselves under `runs/<point>/r<repeat>/`.
//!
//! A resumed sweep skips the (point, repeat) pairs that already have a
//! successful record; failed ones are run again (the failure stays on record).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::grid::{Expansion, Slot, SweepSpec};

pub const SWEEP_FILE: &str = "sweep.json";
pub const RESULTS_JSON: &str = "results.json";
pub const RESULTS_CSV: &str = "results.csv";
pub const RUNS_DIR: &str = "runs";

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Exited by itself, with every row read and counted.
    Ok,
    /// Exited by itself, but read or counted the wrong number of rows.
    WrongCount,
    /// The job failed (see the run's spark.log).
    Failed,
}

/// What the sweep measures in one run. Flat, so the same struct is a CSV row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub sweep: String,
    pub point: String,
    pub label: String,
    pub repeat: u32,
    /// Position in the seeded run order.
    pub order: usize,
    pub seed: u64,
    pub status: RunStatus,
    /// Local time the run started, RFC 3339.
    pub started_at: String,
    /// The run's directory (spark.log, progress.jsonl, summary.json),
    /// relative to the results directory.
    pub run_dir: String,
    /// 1-minute load average when the run started (after the wait for a
    /// quiet machine): a busy machine shows here.
    pub load_before: f64,
    /// 1-minute load average when the job had exited. For the reader only:
    /// on 2 cores it is mostly the run's own load, so it does not make a
    /// run noisy (see [`RunRecord::judge_noise`]).
    #[serde(default)]
    pub load_after: Option<f64>,
    /// The `--max-load` this run was judged by (none: recorded before the
    /// noise check; such runs count as quiet unless a report re-judges them).
    #[serde(default)]
    pub max_load: Option<f64>,
    /// The load average at the run's start was above `max_load`: reports
    /// leave the run out of every answer.
    #[serde(default)]
    pub noisy: bool,
    /// spark-submit launch to exit: JVM start, the query, the final results.
    pub wall_s: f64,
    /// First trigger's start to the last trigger's end (the query alone).
    pub query_s: Option<f64>,
    /// Launch to the end of the first batch that read rows.
    pub first_batch_s: Option<f64>,
    /// Launch to the start of the first trigger (the start-up).
    #[serde(default)]
    pub first_trigger_s: Option<f64>,
    pub batches: usize,
    pub input_rows: i64,
    /// Records in the topic when the sweep started.
    pub expected_rows: i64,
    /// Calls counted in the job's final per-crime-type totals.
    pub output_calls: Option<i64>,
    /// input rows over `query_s`.
    pub rows_per_s: Option<f64>,
    /// Median over batches of Spark's `processedRowsPerSecond`.
    pub batch_rows_per_s_p50: Option<f64>,
    pub batch_ms_p50: Option<i64>,
    pub batch_ms_p95: Option<i64>,
    /// Peak resident memory of the driver JVM (VmHWM), in MiB.
    pub driver_peak_rss_mib: Option<f64>,
    /// The driver JVM's `-Xmx`, as launched (checks that the memory setting
    /// reached the JVM).
    pub driver_xmx: Option<String>,
    /// CPU seconds (user + system) the driver JVM used.
    #[serde(default)]
    pub driver_cpu_s: Option<f64>,
    /// Rows in the state store at the end (the last stateful trigger's
    /// `numRowsTotal`; 0 from RocksDB with `trackTotalNumberOfRows=false`).
    #[serde(default)]
    pub state_rows: Option<i64>,
    /// What the state store left in the checkpoint (`<checkpoint>/state`,
    /// every file, in MiB) when the job had exited: the state's size on
    /// disk, whichever the provider.
    #[serde(default)]
    pub state_disk_mib: Option<f64>,
    /// What the state store held in memory at the end (the last stateful
    /// trigger's `memoryUsedBytes`, in MiB): with the HDFS-backed store,
    /// the whole state lives on the driver's heap.
    #[serde(default)]
    pub state_memory_mib: Option<f64>,
    /// Latency sweeps: the producer's rate (records/s) and the pooled
    /// end-to-end latency (Kafka append to batch commit) of the run's records.
    #[serde(default)]
    pub produce_rate: Option<f64>,
    #[serde(default)]
    pub e2e_ms_p50: Option<f64>,
    #[serde(default)]
    pub e2e_ms_p95: Option<f64>,
    #[serde(default)]
    pub e2e_ms_p99: Option<f64>,
    /// First line of the failure, for failed runs.
    pub error: Option<String>,
}

impl RunRecord {
    /// Marks the run noisy when its start was above `max_load`. Only the
    /// load before counts: it is what other work made of the machine the
    /// run started on, while the load after is mostly the run's own (a
    /// Spark run alone keeps 2 cores busy), high for every run. An unknown
    /// load (NaN) is noisy: nothing shows the run was quiet.
    pub fn judge_noise(&mut self, max_load: f64) {
        self.max_load = Some(max_load);
        self.noisy = too_busy(self.load_before, max_load);
    }

    /// Succeeded and ran on a quiet machine: a run that answers count.
    pub fn counts(&self) -> bool {
        self.status == RunStatus::Ok && !self.noisy
    }
}

/// Whether a load average of `load` is above `max_load`, an unknown one
/// (NaN) counting as above.
pub(crate) fn too_busy(load: f64, max_load: f64) -> bool {
    load.is_nan() || load > max_load
}

/// The resolved sweep, written at the start so a report needs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    pub spec: SweepSpec,
    pub expansion: Expansion,
    pub order: Vec<Slot>,
    pub topic: String,
    pub bootstrap_servers: String,
    pub expected_rows: i64,
}

/// An open results directory.
pub struct ResultsDir {
    dir: PathBuf,
    records: Vec<RunRecord>,
}

impl ResultsDir {
    /// Opens (creating if needed) `dir` and reads the records already there.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let records = read_records(dir)?;
        Ok(ResultsDir {
            dir: dir.to_path_buf(),
            records,
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn records(&self) -> &[RunRecord] {
        &self.records
    }

    /// The (point id, repeat) pairs that already succeeded.
    pub fn completed(&self) -> BTreeSet<(String, u32)> {
        self.records
            .iter()
            .filter(|r| r.status == RunStatus::Ok)
            .map(|r| (r.point.clone(), r.repeat))
            .collect()
    }

    /// Where the runs of `point`'s `repeat` live.
    pub fn slot_dir(&self, point: &str, repeat: u32) -> PathBuf {
        self.dir
            .join(RUNS_DIR)
            .join(point)
            .join(format!("r{repeat}"))
    }

    pub fn write_plan(&self, plan: &SweepPlan) -> Result<()> {
        write_atomically(
            &self.dir.join(SWEEP_FILE),
            &serde_json::to_string_pretty(plan)?,
        )
    }

    /// Adds a record. Both files are rewritten whole through a rename, so
    /// an interrupt never leaves either half-written, and the CSV always
    /// has the current columns even when records from an older version
    /// lack some.
    pub fn append(&mut self, record: RunRecord) -> Result<()> {
        self.records.push(record);
        let mut csv = csv::Writer::from_writer(Vec::new());
        for record in &self.records {
            csv.serialize(record)?;
        }
        let csv = String::from_utf8(csv.into_inner().map_err(|e| e.into_error())?)?;
        write_atomically(&self.dir.join(RESULTS_CSV), &csv)?;
        write_atomically(
            &self.dir.join(RESULTS_JSON),
            &serde_json::to_string_pretty(&self.records)?,
        )
    }
}

/// The plan of the sweep in `dir`.
pub fn read_plan(dir: &Path) -> Result<SweepPlan> {
    let path = dir.join(SWEEP_FILE);
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (is this a sweep's results directory?)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("in {}", path.display()))
}

/// The records in `dir`'s `results.json` (none if it does not exist yet).
pub fn read_records(dir: &Path) -> Result<Vec<RunRecord>> {
    let path = dir.join(RESULTS_JSON);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("in {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    fs::write(&tmp, text.as_bytes()).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(point: &str, repeat: u32, status: RunStatus) -> RunRecord {
        RunRecord {
            sweep: "t".into(),
            point: point.into(),
            label: point.into(),
            repeat,
            order: 0,
            seed: 1,
            status,
            started_at: "2026-01-01T00:00:00Z".into(),
            run_dir: format!("runs/{point}/r{repeat}/x"),
            load_before: 0.5,
            load_after: Some(2.0),
            max_load: Some(1.5),
            noisy: false,
            wall_s: 60.0,
            query_s: Some(20.0),
            first_batch_s: Some(30.0),
            first_trigger_s: Some(20.0),
            batches: 1,
            input_rows: 100,
            expected_rows: 100,
            output_calls: Some(100),
            rows_per_s: Some(5.0),
            batch_rows_per_s_p50: Some(5.0),
            batch_ms_p50: Some(20_000),
            batch_ms_p95: Some(20_000),
            driver_peak_rss_mib: Some(700.0),
            driver_xmx: Some("1g".into()),
            driver_cpu_s: Some(90.0),
            state_rows: Some(40),
            state_disk_mib: Some(0.5),
            state_memory_mib: Some(1.5),
            produce_rate: None,
            e2e_ms_p50: None,
            e2e_ms_p95: None,
            e2e_ms_p99: None,
            error: None,
        }
    }

    #[test]
    fn records_survive_a_reopen_and_failures_are_retried() {
        let dir = tempfile::tempdir().unwrap();
        let mut results = ResultsDir::open(dir.path()).unwrap();
        results.append(record("a", 0, RunStatus::Ok)).unwrap();
        results.append(record("a", 1, RunStatus::Failed)).unwrap();
        results
            .append(record("b", 0, RunStatus::WrongCount))
            .unwrap();

        let reopened = ResultsDir::open(dir.path()).unwrap();
        assert_eq!(reopened.records().len(), 3);
        assert_eq!(reopened.records()[1], record("a", 1, RunStatus::Failed));
        let done: Vec<_> = reopened.completed().into_iter().collect();
        assert_eq!(done, [("a".to_string(), 0)]);

        let csv = fs::read_to_string(dir.path().join(RESULTS_CSV)).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "one header, three rows:\n{csv}");
        assert!(lines[0].starts_with("sweep,point,label,repeat,order,seed,status"));
        assert!(lines[2].contains(",failed,"));
        assert!(!dir.path().join("results.json.tmp").exists());
        assert!(!dir.path().join("results.csv.tmp").exists());

        // Records written before a column existed still load.
        let old = r#"[{"sweep":"t","point":"a","label":"a","repeat":0,"order":0,"seed":1,
            "status":"ok","started_at":"x","run_dir":"r","load_before":1.0,"wall_s":1.0,
            "query_s":null,"first_batch_s":null,"batches":1,"input_rows":1,"expected_rows":1,
            "output_calls":1,"rows_per_s":null,"batch_rows_per_s_p50":null,"batch_ms_p50":null,
            "batch_ms_p95":null,"driver_peak_rss_mib":null,"driver_xmx":null,"error":null}]"#;
        fs::write(dir.path().join(RESULTS_JSON), old).unwrap();
        let reopened = ResultsDir::open(dir.path()).unwrap();
        assert_eq!(reopened.records()[0].driver_cpu_s, None);
        // Before the noise check: no load after, no threshold, not noisy.
        let old = &reopened.records()[0];
        assert_eq!(
            (old.load_after, old.max_load, old.noisy),
            (None, None, false)
        );
    }

    #[test]
    fn noise_is_the_load_before_the_run() {
        let mut r = record("a", 0, RunStatus::Ok);
        r.load_before = 1.5;
        r.load_after = Some(9.0);
        r.judge_noise(1.5);
        assert!(!r.noisy && r.counts());
        r.judge_noise(1.4);
        assert!(r.noisy && !r.counts());
        assert_eq!(r.max_load, Some(1.4));
        r.load_before = f64::NAN;
        r.judge_noise(100.0);
        assert!(r.noisy);
        let mut failed = record("a", 1, RunStatus::Failed);
        failed.judge_noise(100.0);
        assert!(!failed.counts());
    }

    #[test]
    fn slot_dirs_nest_by_point_and_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir::open(dir.path()).unwrap();
        assert_eq!(results.slot_dir("p-1", 2), dir.path().join("runs/p-1/r2"));
    }
}
