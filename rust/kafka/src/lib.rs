//! Kafka I/O for sfcrime, on rdkafka (librdkafka): client configuration with
//! kcat-style `-X key=value` passthrough, and admin operations (broker
//! readiness, topic creation and description).

pub mod admin;
pub mod client;
