//! Side-by-side benchmarks against the reference tools, in one run on the
//! same broker: `bench kafka` pits `sfcrime produce`/`consume` against
//! Apache Kafka's own ProducerPerformance/ConsumerPerformance; `bench
//! connector` pits sfcrime's Rust Spark connector against spark-sql-kafka.

pub mod connector;
pub mod kafka;
mod measure;

pub use measure::Measured;
