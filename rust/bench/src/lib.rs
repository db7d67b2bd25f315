//! Side-by-side benchmarks against the reference tools, in one run on the
//! same broker: `bench kafka` pits `sfcrime produce`/`consume` against
//! Apache Kafka's own ProducerPerformance/ConsumerPerformance.

pub mod kafka;
mod measure;

pub use measure::{median, Measured};
