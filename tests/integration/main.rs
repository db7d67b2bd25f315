//! The one integration test binary (ripgrep's layout): every scenario against
//! real Kafka brokers and a real Spark, one module per area. One binary means
//! `tests/integration/common` is compiled and linked once, and one broker per
//! process (`common::shared_broker`) serves every test that only needs a topic.

mod common;

mod cluster;
mod connector;
mod data_checksums;
mod faults;
mod produce_consume;
mod security;
mod spark_job;
mod stack;
mod sweep;
mod zookeeper;
