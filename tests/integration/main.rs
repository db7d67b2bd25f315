//! The one integration test binary (ripgrep's layout): every scenario against
//! real Kafka brokers and a real Spark, one module per area. One binary means
//! `tests/integration/common` is compiled and linked once, and one broker per
//! process (`common::shared_broker`) serves every test that only needs a topic.
//!
//! Two lanes keep the 2-core machine busy without thrashing it: a Spark lane
//! (`common::spark_turn`, two Spark applications at a time; the cluster test
//! takes it whole) and a broker lane
//! (`common::broker_turn`, one test with brokers of its own at a time); light
//! tests run beside both. Every test should start at once and wait for its
//! lane, so scripts/test.sh runs this binary with RUST_TEST_THREADS=32 (a plain
//! `cargo test` runs the same tests, just with fewer at once).

mod common;

mod browser;
mod cluster;
mod connect;
mod connector;
mod copies;
mod data_checksums;
mod faults;
mod latency_modes;
mod produce_consume;
mod security;
mod spark_job;
mod stack;
mod sweep;
mod zookeeper;
