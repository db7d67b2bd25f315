//! sfcrime's tuning study: sweeps SparkSession settings and Kafka source
//! options over the streaming job and reports what they do to throughput,
//! latency and memory.
//!
//! - [`grid`]: the sweep's points, from a TOML file or `--param` flags, and
//!   the seeded run order.
//! - [`results`]: one record per run, appended to `results.csv` and
//!   `results.json`; what a resumed sweep skips.
//! - [`memory`]: the driver JVM's peak resident memory, sampled from /proc.
//! - [`sweep`]: running the points with `spark/submit.sh`.

pub mod grid;
pub mod memory;
pub mod results;
pub mod sweep;
