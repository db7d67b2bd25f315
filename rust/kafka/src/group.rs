//! A consumer group's committed offsets: committing given offsets without
//! joining the group (what the Spark connector does once Spark has
//! checkpointed a batch, so that Kafka's tools see the query's progress),
//! and reading them back beside the topic's end offsets as a lag report
//! (`sfcrime consume --lag`).

use crate::acl;
use crate::admin::{partition_count, partition_offsets};
use crate::client::{KafkaSettings, LoggedConsumer};
use anyhow::{bail, Context, Result};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A client of `group` that never joins it (no subscribe) and never commits
/// on its own: only the offsets given to [`commit_offsets`] are committed.
fn group_client(settings: &KafkaSettings, group: &str) -> Result<LoggedConsumer> {
    settings.logged_consumer(&[
        ("log_level", "4"),
        ("allow.auto.create.topics", "false"),
        ("group.id", group),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
    ])
}

/// Why the group's coordinator refused, with what the user can do when it
/// is an authorization error (on the SASL_SSL stack the consumer user may
/// only use groups whose names start with a `kafka.consumer.groups` prefix).
fn group_error(e: KafkaError, what: &str, group: &str, settings: &KafkaSettings) -> anyhow::Error {
    let denied = e.rdkafka_error_code().is_some_and(acl::is_authorization);
    let hint = if denied {
        " (not authorized: the user needs Read on the group and the topic; on sfcrime's \
         SASL_SSL stack group names must start with a kafka.consumer.groups prefix, e.g. \
         sfcrime-)"
    } else {
        ""
    };
    anyhow::Error::new(e).context(format!(
        "cannot {what} consumer group '{group}' at {}{hint}",
        settings.bootstrap_servers
    ))
}

/// The committed offsets of `list` in the client's group. A group's first
/// request on a new cluster creates `__consumer_offsets`, and its
/// coordinator answers "not coordinator" or "loading" until that is done:
/// those are retried until `timeout`.
fn committed(
    consumer: &LoggedConsumer,
    list: &TopicPartitionList,
    timeout: Duration,
) -> KafkaResult<TopicPartitionList> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match consumer.committed_offsets(list.clone(), left) {
            Err(e)
                if Instant::now() < deadline
                    && matches!(
                        e.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::NotCoordinator
                                | RDKafkaErrorCode::CoordinatorNotAvailable
                                | RDKafkaErrorCode::CoordinatorLoadInProgress
                        )
                    ) =>
            {
                std::thread::sleep(Duration::from_millis(200));
            }
            result => return result,
        }
    }
}

/// Commits `offsets` (`{(topic, partition): next offset to read}`) to
/// `group`, waiting for the coordinator's answer. An offset is only ever
/// what the caller passes: nothing is read, nothing committed on a timer.
pub fn commit_offsets(
    settings: &KafkaSettings,
    group: &str,
    offsets: &BTreeMap<(String, i32), i64>,
    timeout: Duration,
) -> Result<()> {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .with_context(|| {
                format!("invalid offset {offset} for '{topic}' partition {partition}")
            })?;
    }
    let consumer = group_client(settings, group)?;
    // A sync commit has no timeout of its own. Fetching the committed
    // offsets first finds the coordinator within `timeout` (and says so
    // when there is none).
    committed(&consumer, &list, timeout)
        .map_err(|e| group_error(e, "reach the coordinator of", group, settings))?;
    consumer
        .commit(&list, CommitMode::Sync)
        .map_err(|e| group_error(e, "commit offsets to", group, settings))
}

/// One partition of a [`Lag`] report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionLag {
    pub partition: i32,
    /// The group's committed offset; None when it has committed none.
    pub committed: Option<i64>,
    /// The offset the next record will get (the high watermark).
    pub end: i64,
    /// `end - committed`; None without a committed offset.
    pub lag: Option<i64>,
}

/// How far `group` is behind on `topic`, partition by partition, as
/// `kafka-consumer-groups.sh --describe` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lag {
    pub group: String,
    pub topic: String,
    pub partitions: Vec<PartitionLag>,
}

impl Lag {
    /// The sum over the partitions that have a committed offset.
    pub fn total(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.lag).sum()
    }
}

/// `group`'s committed offsets on every partition of `topic`, with the end
/// offsets read right after them, so that a lag is never negative (a
/// group never commits past the end).
pub fn lag(settings: &KafkaSettings, group: &str, topic: &str, timeout: Duration) -> Result<Lag> {
    let Some(count) = partition_count(settings, topic, timeout)? else {
        bail!(
            "topic '{topic}' does not exist on {}",
            settings.bootstrap_servers
        );
    };
    let mut list = TopicPartitionList::new();
    for partition in 0..count {
        list.add_partition(topic, partition as i32);
    }
    let consumer = group_client(settings, group)?;
    let committed = committed(&consumer, &list, timeout)
        .map_err(|e| group_error(e, "read the offsets of", group, settings))?;
    let ends = partition_offsets(settings, topic, timeout)?;
    let partitions = ends
        .iter()
        .map(|(&partition, &(_, end))| {
            let committed = match committed
                .find_partition(topic, partition)
                .map(|p| p.offset())
            {
                Some(Offset::Offset(o)) => Some(o),
                _ => None,
            };
            PartitionLag {
                partition,
                committed,
                end,
                lag: committed.map(|c| end - c),
            }
        })
        .collect();
    Ok(Lag {
        group: group.to_owned(),
        topic: topic.to_owned(),
        partitions,
    })
}
