//! Admin operations against a running cluster: wait until a broker answers a
//! metadata request, create the project's topic, describe partitions and the
//! offsets they hold.

use crate::acl::{self, Operation};
use crate::client::{fetch_metadata, KafkaSettings, LoggedConsumer, Refused};
use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::Metadata;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the cluster told us in a metadata response.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub brokers: Vec<String>,
    pub topics: Vec<TopicInfo>,
}

/// A topic's shape, with how many of its replicas are in sync right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: usize,
    /// Replicas per partition (the most of any partition).
    pub replicas: usize,
    /// Partitions with fewer in-sync replicas than replicas.
    pub under_replicated: usize,
}

/// Asks for cluster metadata once, waiting at most `timeout`.
pub fn metadata(settings: &KafkaSettings, timeout: Duration) -> Result<ClusterInfo> {
    let client = settings.logged_consumer(&[("log_level", "4")])?;
    let metadata = match fetch_metadata(&client, &settings.bootstrap_servers, None, timeout) {
        Ok(metadata) => metadata,
        Err(err) if err.is::<Refused>() => return Err(err),
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "no Kafka broker answered at {} within {:.0?}",
                    settings.bootstrap_servers, timeout
                )
            })
        }
    };
    Ok(ClusterInfo {
        brokers: metadata
            .brokers()
            .iter()
            .map(|b| format!("{}:{} (id {})", b.host(), b.port(), b.id()))
            .collect(),
        topics: metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| TopicInfo {
                name: t.name().to_string(),
                partitions: t.partitions().len(),
                replicas: t
                    .partitions()
                    .iter()
                    .map(|p| p.replicas().len())
                    .max()
                    .unwrap_or(0),
                under_replicated: t
                    .partitions()
                    .iter()
                    .filter(|p| p.isr().len() < p.replicas().len())
                    .count(),
            })
            .collect(),
    })
}

/// Polls for metadata until a broker answers, `alive()` turns false (the
/// broker process died, so waiting longer is pointless), it refuses us
/// ([`Refused`]: waiting cannot fix credentials) or `timeout` passes.
pub fn wait_ready(
    settings: &KafkaSettings,
    timeout: Duration,
    mut alive: impl FnMut() -> bool,
) -> Result<ClusterInfo> {
    let deadline = Instant::now() + timeout;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match metadata(settings, remaining.min(Duration::from_secs(2))) {
            Ok(info) if !info.brokers.is_empty() => return Ok(info),
            Err(err) if err.is::<Refused>() => return Err(err),
            Ok(_) | Err(_) if !alive() => bail!("the broker process exited while starting"),
            Ok(_) | Err(_) if Instant::now() >= deadline => bail!(
                "the broker at {} did not answer within {:.0?}",
                settings.bootstrap_servers,
                timeout
            ),
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// The outcome of [`ensure_topic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicState {
    Created { partitions: usize },
    Existed { partitions: usize },
}

/// Creates `topic` unless it exists; an existing topic is left as it is and
/// its partition count reported, so callers can warn about a mismatch.
/// Creates `topic` (unless it exists) with the partitions and replication
/// of the existing topic `like`.
pub fn ensure_topic_like(
    settings: &KafkaSettings,
    topic: &str,
    like: &str,
    timeout: Duration,
) -> Result<TopicState> {
    let info = metadata(settings, timeout)?;
    let Some(model) = info.topics.iter().find(|t| t.name == like) else {
        bail!(
            "topic '{like}' does not exist on {}",
            settings.bootstrap_servers
        );
    };
    ensure_topic(
        settings,
        topic,
        model.partitions as i32,
        model.replicas as i32,
        &[],
        timeout,
    )
}

pub fn ensure_topic(
    settings: &KafkaSettings,
    topic: &str,
    partitions: i32,
    replication: i32,
    topic_config: &[(&str, &str)],
    timeout: Duration,
) -> Result<TopicState> {
    if let Some(existing) = partition_count(settings, topic, timeout)? {
        return Ok(TopicState::Existed {
            partitions: existing,
        });
    }
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config(&[("log_level", "3")])
        .create()
        .context("cannot create a Kafka admin client")?;
    let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
    for (key, value) in topic_config {
        new_topic = new_topic.set(key, value);
    }
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let results = futures_executor::block_on(admin.create_topics([&new_topic], &options))
        .with_context(|| format!("cannot create topic '{topic}'"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("cannot create topic '{name}': {code}"),
        }
    }
    // Creation is asynchronous on the controller; wait until metadata shows
    // every partition so the first producer does not race it.
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(count) = partition_count(settings, topic, timeout)? {
            if count == partitions as usize {
                return Ok(TopicState::Created { partitions: count });
            }
        }
        if Instant::now() >= deadline {
            bail!("topic '{topic}' was created but its partitions did not appear within {timeout:.0?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A client for metadata and offsets only. librdkafka logs nothing (the
/// context keeps its last warning, so a refused login says why): every
/// failure that matters comes back as an error to the caller, and a Spark
/// worker has no reader for librdkafka's warnings.
fn quiet_consumer(settings: &KafkaSettings) -> Result<LoggedConsumer> {
    settings.logged_consumer(&[("log_level", "4"), ("allow.auto.create.topics", "false")])
}

/// Metadata of `topic` as [`fetch_metadata`] gets it, with the context of
/// which topic and brokers it was.
fn topic_metadata(
    consumer: &LoggedConsumer,
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<Metadata> {
    fetch_metadata(consumer, &settings.bootstrap_servers, Some(topic), timeout).with_context(|| {
        format!(
            "cannot read metadata of topic '{topic}' from {}",
            settings.bootstrap_servers
        )
    })
}

/// `{partition: (low, high)}`: the first offset still held and the offset
/// the next record will get, for every partition of `topic`.
pub fn partition_offsets(
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<BTreeMap<i32, (i64, i64)>> {
    let consumer = quiet_consumer(settings)?;
    let metadata = topic_metadata(&consumer, settings, topic, timeout)?;
    let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic) else {
        bail!("topic '{topic}' does not exist");
    };
    match meta.error().map(RDKafkaErrorCode::from) {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => bail!("topic '{topic}' does not exist"),
        Some(code) => bail!("cannot read metadata of topic '{topic}': {code}"),
        None if meta.partitions().is_empty() => bail!("topic '{topic}' has no partitions"),
        None => {}
    }
    meta.partitions()
        .iter()
        .map(|p| {
            let id = p.id();
            let marks = consumer
                .fetch_watermarks(topic, id, timeout)
                .with_context(|| format!("cannot read the offsets of '{topic}' partition {id}"))?;
            Ok((id, marks))
        })
        .collect()
}

/// How many records `topic` holds now: the sum over its partitions of the
/// high minus the low watermark.
pub fn topic_size(settings: &KafkaSettings, topic: &str, timeout: Duration) -> Result<i64> {
    Ok(partition_offsets(settings, topic, timeout)?
        .values()
        .map(|(low, high)| high - low)
        .sum())
}

/// The number of partitions of `topic`, or `None` if it does not exist.
/// A user who may not see it (no Describe) is told so, not that it is
/// missing.
pub fn partition_count(
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<Option<usize>> {
    let consumer = quiet_consumer(settings)?;
    let metadata = topic_metadata(&consumer, settings, topic, timeout)?;
    let refused = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .find_map(|t| t.error().map(RDKafkaErrorCode::from))
        .filter(|code| acl::is_authorization(*code));
    if let Some(code) = refused {
        return Err(acl::not_authorized(
            settings,
            Operation::Describe,
            topic,
            code,
        ));
    }
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len()))
}

/// Deletes `topic` if it exists (used to reset a run's topic).
pub fn delete_topic(settings: &KafkaSettings, topic: &str, timeout: Duration) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config(&[("log_level", "3")])
        .create()
        .context("cannot create a Kafka admin client")?;
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let results = futures_executor::block_on(admin.delete_topics(&[topic], &options))
        .with_context(|| format!("cannot delete topic '{topic}'"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((name, code)) => bail!("cannot delete topic '{name}': {code}"),
        }
    }
    Ok(())
}

/// Waits until `topic` no longer appears in metadata (deletion is
/// asynchronous, and recreating a topic too early fails).
pub fn wait_deleted(settings: &KafkaSettings, topic: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while partition_count(settings, topic, timeout)?.is_some() {
        if Instant::now() >= deadline {
            bail!("topic '{topic}' was not deleted within {timeout:.0?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
