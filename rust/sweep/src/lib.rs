//! sfcrime's tuning study: sweeps SparkSession settings and Kafka source
//! options over the streaming job and reports what they do to throughput,
//! latency and memory.
//!
//! - [`grid`]: the sweep's points, from a TOML file or `--param` flags, and
//!   the seeded run order.
//! - [`results`]: one record per run, appended to `results.csv` and
//!   `results.json`; what a resumed sweep skips.
//! - [`memory`]: the driver JVM's peak resident memory, sampled from /proc.
//! - [`sweep`]: running the points with `spark/submit.sh`, one run each
//!   (`slot.rs`).
//! - [`load`]: the producer of a latency run, and `sfcrime produce` with the
//!   sweep's settings.
//! - [`scaled`]: the data N times over for `copies` points, and its N-fold
//!   ground truth.
//! - [`points`]: per-point medians, spreads and the ranking of effects.
//! - [`charts`]: the report's charts comparing settings (SVG and PNG).
//! - [`report`]: `report.md`, answering the study's questions with links
//!   to the runs behind every number.

pub mod charts;
pub mod grid;
pub mod load;
pub mod memory;
pub mod points;
pub mod report;
pub mod results;
pub mod scaled;
mod slot;
pub mod sweep;
