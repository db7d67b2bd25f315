//! sfcrime's own client of the local brokers (the admin user's librdkafka
//! settings, and what a refused login means there), the project's topic it
//! creates, and the settings file `up` writes so that other clients reach
//! SASL_SSL brokers with `-F`.

use crate::security::{self, write_private, Security};
use crate::Stack;
use anyhow::Result;
use sfcrime_kafka::admin::{self, TopicState};
use sfcrime_kafka::client::{KafkaSettings, Refused};
use std::path::PathBuf;
use std::time::Duration;

/// The project's topic after `up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicUp {
    pub name: String,
    /// Whether `up` created it, and its partitions.
    pub state: TopicState,
    /// What the settings ask for: a new topic gets these, an existing one
    /// keeps its own.
    pub partitions_wanted: i32,
    pub replication: i32,
    pub min_insync: i32,
}

/// How clients log in to the SASL_SSL brokers, as `up` wrote it for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientLogin {
    pub mechanism: &'static str,
    pub user: String,
    /// The CA that signed the brokers' certificate.
    pub ca: PathBuf,
    /// The librdkafka settings file, for `-F`.
    pub settings: PathBuf,
}

impl Stack {
    /// librdkafka settings for the admin user, written by `up` when the
    /// listener is SASL_SSL: `sfcrime produce -F <this file>` etc.
    pub fn client_properties(&self) -> PathBuf {
        self.stack_dir.join("client.properties")
    }

    /// The librdkafka settings that reach a broker run with `security` as
    /// the admin user.
    pub(crate) fn client_overrides(&self, security: Security) -> Result<Vec<(String, String)>> {
        Ok(match security {
            Security::Plaintext => Vec::new(),
            Security::SaslSsl => {
                let admin = self.credentials()?;
                [
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanisms", security::MECHANISM),
                    ("sasl.username", &admin.user),
                    ("sasl.password", admin.password()),
                    ("ssl.ca.location", &self.tls.ca().display().to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
            }
        })
    }

    /// A client of the brokers at `bootstrap` run with `security`.
    pub(crate) fn client(&self, bootstrap: String, security: Security) -> Result<KafkaSettings> {
        let mut kafka = KafkaSettings::new(bootstrap);
        kafka.overrides = self.client_overrides(security)?;
        Ok(kafka)
    }

    /// With SASL_SSL, (re)writes the clients' settings and says how they
    /// log in; a plaintext listener needs none.
    pub(crate) fn write_client_properties(&self) -> Result<Option<ClientLogin>> {
        if self.security == Security::Plaintext {
            return Ok(None);
        }
        let text: String = self
            .client_overrides(self.security)?
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        write_private(
            &self.client_properties(),
            &format!(
                "# librdkafka settings for the local SASL_SSL brokers, written by \
                 `sfcrime stack up`.\n{text}"
            ),
        )?;
        Ok(Some(ClientLogin {
            mechanism: security::MECHANISM,
            user: self.credentials()?.user.clone(),
            ca: self.tls.ca(),
            settings: self.client_properties(),
        }))
    }

    /// A refused login while waiting for our own broker means the SCRAM user
    /// in its storage is not the configured one: say how that happens.
    pub(crate) fn explain_refusal(&self, err: anyhow::Error) -> anyhow::Error {
        if !err.is::<Refused>() {
            return err;
        }
        let user = self
            .credentials()
            .map(|c| c.user.clone())
            .unwrap_or_default();
        err.context(format!(
            "The SCRAM user '{user}' is created when the storage is formatted: by the first \
             `stack up --security sasl_ssl` on an empty stack dir, with the password of that \
             moment. If {} was formatted before, or with another password, delete the data \
             dirs of its nodes ({}/node-*/{}) to format them anew (their topics are lost).",
            self.stack_dir.display(),
            self.stack_dir.display(),
            self.mode.data_dir()
        ))
    }

    /// Creates the project's topic unless it exists (after deleting it
    /// when `recreate_topic`).
    pub(crate) fn ensure_topic(&self) -> Result<TopicUp> {
        let kafka = self.client(self.bootstrap(), self.security)?;
        if self.recreate_topic {
            admin::delete_topic(&kafka, &self.topic, Duration::from_secs(30))?;
            admin::wait_deleted(&kafka, &self.topic, Duration::from_secs(30))?;
        }
        let state = admin::ensure_topic(
            &kafka,
            &self.topic,
            self.partitions,
            self.replication,
            &[("min.insync.replicas", &self.min_insync().to_string())],
            Duration::from_secs(30),
        )?;
        Ok(TopicUp {
            name: self.topic.clone(),
            state,
            partitions_wanted: self.partitions,
            replication: self.replication,
            min_insync: self.min_insync(),
        })
    }
}
