//! Builds librdkafka client configurations: the bootstrap list plus any
//! `key=value` settings (from `-X` flags or a properties file), applied in
//! order so a later setting overrides an earlier one.

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// librdkafka settings for one client: bootstrap servers and overrides.
#[derive(Debug, Clone, Default)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    /// Raw librdkafka properties, e.g. `security.protocol=SASL_SSL`.
    pub overrides: Vec<(String, String)>,
}

impl KafkaSettings {
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        KafkaSettings {
            bootstrap_servers: bootstrap_servers.into(),
            overrides: Vec::new(),
        }
    }

    /// A client config with the given defaults, then the overrides on top.
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.overrides {
            config.set(key, value);
        }
        config
    }
}

/// The code of a consumer error that librdkafka recovers from by itself
/// (it reconnects and refetches metadata): one broker of several gone, a
/// partition leader moving. Readers note it and keep polling; their own
/// idle timeout ends a wait that leads nowhere.
pub fn transient_consumer_error(err: &KafkaError) -> Option<RDKafkaErrorCode> {
    match err {
        KafkaError::MessageConsumption(
            code @ (RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::NetworkException
            | RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::LeaderNotAvailable),
        ) => Some(*code),
        _ => None,
    }
}
