//! Kafka I/O for sfcrime, on rdkafka (librdkafka): client configuration with
//! kcat-style `-X key=value` passthrough, admin operations (readiness,
//! topics, users and ACLs), the producer that streams the calls file (and
//! resumes it without duplicates), the console consumer that reads and
//! verifies a topic, and consumer groups' committed offsets and lag.

pub mod acl;
pub mod admin;
pub mod client;
pub mod consume;
mod delivery;
pub mod group;
pub mod pace;
pub mod produce;
pub mod resume;
pub mod wire;
