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

    /// With SASL_SSL, (re)writes the clients' settings and says where they
    /// are; nothing to say for a plaintext listener.
    pub(crate) fn write_client_properties(&self) -> Result<String> {
        if self.security == Security::Plaintext {
            return Ok(String::new());
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
        Ok(format!(
            "\nclients: SASL_SSL ({}) as '{}', CA {}; settings in {} (-F)",
            security::MECHANISM,
            self.credentials()?.user,
            self.tls.ca().display(),
            self.client_properties().display()
        ))
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

    pub(crate) fn ensure_topic(&self) -> Result<String> {
        let kafka = self.client(self.bootstrap(), self.security)?;
        if self.recreate_topic {
            admin::delete_topic(&kafka, &self.topic, Duration::from_secs(30))?;
            admin::wait_deleted(&kafka, &self.topic, Duration::from_secs(30))?;
        }
        let min_insync = self.min_insync().to_string();
        let state = admin::ensure_topic(
            &kafka,
            &self.topic,
            self.partitions,
            self.replication,
            &[("min.insync.replicas", &min_insync)],
            Duration::from_secs(30),
        )?;
        Ok(match state {
            TopicState::Created { partitions } => format!(
                "topic '{}' created with {partitions} partitions, {} replica{}, \
                 min.insync.replicas {min_insync}",
                self.topic,
                self.replication,
                if self.replication == 1 { "" } else { "s" }
            ),
            TopicState::Existed { partitions } if partitions as i32 != self.partitions => format!(
                "topic '{}' exists with {partitions} partitions (config asks for {}; \
                 delete the stack dir to recreate)",
                self.topic, self.partitions
            ),
            TopicState::Existed { partitions } => {
                format!("topic '{}' exists with {partitions} partitions", self.topic)
            }
        })
    }
}
