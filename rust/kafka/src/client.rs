//! Builds librdkafka client configurations: the bootstrap list plus any
//! `key=value` settings (from `-X` flags or a properties file), applied in
//! order so a later setting overrides an earlier one. Also the metadata
//! request every command starts with, which tells a broker that refuses us
//! (SASL login, TLS handshake) from one that is not there.

use anyhow::{bail, Context, Result};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;
use rdkafka::ClientContext;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// librdkafka settings for one client: bootstrap servers and overrides.
#[derive(Clone, Default)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    /// Raw librdkafka properties, e.g. `security.protocol=SASL_SSL`.
    pub overrides: Vec<(String, String)>,
}

/// Secret values (sasl.password, ...) never show in a debug print.
impl fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overrides: Vec<(&str, &str)> = self
            .overrides
            .iter()
            .map(|(k, v)| (k.as_str(), sfcrime_config::redact(k, v)))
            .collect();
        f.debug_struct("KafkaSettings")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("overrides", &overrides)
            .finish()
    }
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

    /// A consumer that remembers why a broker refused it, for
    /// [`fetch_metadata`] and offset requests.
    pub fn logged_consumer(&self, defaults: &[(&str, &str)]) -> Result<LoggedConsumer> {
        self.client_config(defaults)
            .create_with_context(LastError::default())
            .context("cannot create a Kafka client (check the -X / -F settings)")
    }
}

/// A consumer whose context keeps librdkafka's last warning or error.
pub type LoggedConsumer = BaseConsumer<LastError>;

/// Remembers the last warning or error librdkafka logged (so the client's
/// `log_level` must be at least 4): the only place that says
/// *why* a broker refused us ("SASL authentication error: ... invalid
/// credentials"), where the request itself just times out.
#[derive(Default)]
pub struct LastError(Mutex<Option<String>>);

impl LastError {
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ClientContext for LastError {
    fn log(&self, level: RDKafkaLogLevel, _facility: &str, message: &str) {
        if (level as i32) <= RDKafkaLogLevel::Warning as i32 {
            // "[thrd:sasl_ssl://host:port/bootstrap]: sasl_ssl://host:port/...": the
            // thread name says nothing the rest does not.
            let message = match message.strip_prefix("[thrd:") {
                Some(rest) => rest.split_once("]: ").map_or(message, |(_, m)| m),
                None => message,
            };
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(message.to_string());
        }
    }
}

impl ConsumerContext for LastError {}

/// The broker answered but would not let us in: wrong SASL credentials or
/// mechanism, or a TLS handshake that failed (untrusted certificate, TLS
/// against a plaintext listener). Retrying cannot help, so callers that
/// wait for a broker stop at this error.
#[derive(Debug)]
pub struct Refused {
    pub bootstrap_servers: String,
    pub code: RDKafkaErrorCode,
    /// librdkafka's own account, e.g. "SASL authentication error: ...".
    pub reason: Option<String>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.code {
            RDKafkaErrorCode::SSL => "the TLS handshake with the Kafka broker failed",
            _ => "the Kafka broker refused the SASL login (wrong user, password or mechanism?)",
        };
        write!(f, "{what} at {}", self.bootstrap_servers)?;
        if let Some(reason) = &self.reason {
            write!(f, ": {}", reason.trim())?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

fn is_refusal(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::Authentication
            | RDKafkaErrorCode::SaslAuthenticationFailed
            | RDKafkaErrorCode::SSL
    )
}

/// Cluster metadata (of `topic`, or of every topic), within `timeout`. A
/// refused login or TLS handshake fails at once as [`Refused`]; a timeout
/// carries librdkafka's last error (e.g. "Connection refused").
pub fn fetch_metadata(
    client: &LoggedConsumer,
    bootstrap_servers: &str,
    topic: Option<&str>,
    timeout: Duration,
) -> Result<Metadata> {
    let deadline = Instant::now() + timeout;
    loop {
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(500));
        let err = match client.fetch_metadata(topic, slice) {
            Ok(metadata) => return Ok(metadata),
            Err(err) => err,
        };
        // Errors arrive as events on the client's queue.
        while let Some(event) = client.poll(Duration::ZERO) {
            if let Err(
                KafkaError::MessageConsumption(code) | KafkaError::MessageConsumptionFatal(code),
            ) = event
            {
                if is_refusal(code) {
                    return Err(Refused {
                        bootstrap_servers: bootstrap_servers.to_string(),
                        code,
                        reason: client.context().get(),
                    }
                    .into());
                }
            }
        }
        if Instant::now() >= deadline {
            match client.context().get() {
                Some(last) => bail!("{err} (last error: {last})"),
                None => return Err(err.into()),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_hide_secret_settings() {
        let mut kafka = KafkaSettings::new("b:9092");
        kafka.overrides = vec![
            ("sasl.username".into(), "alice".into()),
            ("sasl.password".into(), "hunter2".into()),
        ];
        let shown = format!("{kafka:?}");
        assert!(
            shown.contains("alice") && shown.contains("[redacted]"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
