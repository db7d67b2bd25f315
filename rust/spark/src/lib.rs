//! sfcrime's Spark side: driving `spark/submit.sh` and understanding Spark
//! Structured Streaming's progress events.
//!
//! - [`progress`]: the typed `StreamingQueryProgress` model and its parser.
//! - [`summary`]: statistics over a run's events (`summary.json`).
//! - [`table`]: the live one-row-per-batch progress table.
//! - [`tail`]: following a file another process appends to.
//! - [`diagnose`]: recognising known failures in Spark's log.
//! - [`job`]: the job's arguments, presets and final results.
//! - [`latency`]: end-to-end latency (Kafka append to batch commit) from
//!   the timestamps the job observes per batch.
//! - [`runner`]: one run of the job, tying the above together.

pub mod clock;
pub mod diagnose;
pub mod job;
pub mod latency;
pub mod progress;
pub mod runner;
pub mod summary;
pub mod table;
pub mod tail;

pub use diagnose::{diagnose, find_ui_address, Diagnosis, FailureKind, Finding};
pub use job::{FinalResults, JobArgs, Trigger};
pub use progress::{
    read_progress_file, PartitionOffsets, ProgressError, SinkProgress, SourceProgress,
    StateOperatorProgress, StreamingQueryProgress, TopicPartition,
};
pub use runner::{
    new_run_dir, RunEvent, RunOutcome, RunPaths, SparkFailure, SparkRun, SparkRunError, StopReason,
};
pub use summary::{RunClock, RunSummary};
pub use table::{table_header, table_row};
pub use tail::LineTailer;
