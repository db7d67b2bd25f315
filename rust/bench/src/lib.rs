//! Side-by-side benchmarks against the reference tools, in one run on the
//! same broker: `bench kafka` pits `sfcrime produce`/`consume` against
//! Apache Kafka's own ProducerPerformance/ConsumerPerformance; `bench
//! connector` pits sfcrime's Rust Spark connector against spark-sql-kafka;
//! `bench latency` the job's end-to-end latency in its three modes.

pub mod connector;
pub mod kafka;
pub mod latency;
mod measure;

pub use measure::Measured;
