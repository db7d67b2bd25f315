//! sfcrime's own client of the local brokers (the admin user's librdkafka
//! settings, and what a refused login means there), the project's topic it
//! creates, and with SASL_SSL the client users: `up` creates the producer
//! and consumer users with their ACLs and writes one settings file per user
//! so that other clients reach the brokers with `-F`.

use crate::security::{self, generated_password, write_private, Role, Security};
use crate::Stack;
use anyhow::Result;
use sfcrime_config::parse_properties;
use sfcrime_kafka::acl;
use sfcrime_kafka::admin::{self, TopicState};
use sfcrime_kafka::client::{KafkaSettings, Refused};
use std::fs;
use std::path::{Path, PathBuf};
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
    /// The CA that signed the brokers' certificate.
    pub ca: PathBuf,
    /// The admin, the producer and the consumer.
    pub users: Vec<UserLogin>,
    /// The consumer's group name prefixes.
    pub consumer_groups: Vec<String>,
}

/// One user's login, as `up` wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLogin {
    pub role: Role,
    pub user: String,
    /// The librdkafka settings file, for `-F`.
    pub settings: PathBuf,
}

const GRANT_TIMEOUT: Duration = Duration::from_secs(30);

impl Stack {
    /// librdkafka settings for `role`'s user, written by `up` when the
    /// listener is SASL_SSL: `sfcrime produce -F <this file>` etc. The
    /// admin's keeps the name it had before there were other users.
    pub fn client_settings_file(&self, role: Role) -> PathBuf {
        let name = match role {
            Role::Admin => "client",
            other => other.name(),
        };
        self.stack_dir.join(format!("{name}.properties"))
    }

    /// The librdkafka settings that reach a broker run with `security` as
    /// the admin user.
    pub(crate) fn client_overrides(&self, security: Security) -> Result<Vec<(String, String)>> {
        Ok(match security {
            Security::Plaintext => Vec::new(),
            Security::SaslSsl => {
                let admin = self.credentials()?;
                self.login(&admin.user, admin.password())
            }
        })
    }

    /// librdkafka's SASL_SSL settings for `user` on the local brokers.
    fn login(&self, user: &str, password: &str) -> Vec<(String, String)> {
        [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", security::MECHANISM),
            ("sasl.username", user),
            ("sasl.password", password),
            ("ssl.ca.location", &self.tls.ca().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A client of the brokers at `bootstrap` run with `security`.
    pub(crate) fn client(&self, bootstrap: String, security: Security) -> Result<KafkaSettings> {
        let mut kafka = KafkaSettings::new(bootstrap);
        kafka.overrides = self.client_overrides(security)?;
        Ok(kafka)
    }

    /// With SASL_SSL, creates (or updates) the producer and consumer users
    /// and their ACLs on the project's topic, (re)writes every user's
    /// settings file and says how they log in; a plaintext listener needs
    /// none. A client user keeps the password in its file while the file
    /// names it; otherwise it gets a new one.
    pub(crate) fn set_up_clients(&self) -> Result<Option<ClientLogin>> {
        if self.security == Security::Plaintext {
            return Ok(None);
        }
        let admin = self.credentials()?;
        let grants = self.grants()?;
        let mut logins = vec![(
            Role::Admin,
            admin.user.clone(),
            admin.password().to_string(),
        )];
        for role in [Role::Producer, Role::Consumer] {
            let user = grants.user(role).unwrap_or_default().to_string();
            let password = match stored_password(&self.client_settings_file(role), &user) {
                Some(password) => password,
                None => generated_password()?,
            };
            logins.push((role, user, password));
        }
        let kafka = self.client(self.bootstrap(), self.security)?;
        let clients: Vec<(&str, &str)> = logins[1..]
            .iter()
            .map(|(_, user, password)| (user.as_str(), password.as_str()))
            .collect();
        acl::upsert_scram_users(&kafka, &clients, GRANT_TIMEOUT)?;
        acl::create_acls(&kafka, &grants.acls(&self.topic), GRANT_TIMEOUT)?;
        let mut users = Vec::new();
        for (role, user, password) in logins {
            let path = self.client_settings_file(role);
            let text: String = self
                .login(&user, &password)
                .iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect();
            write_private(
                &path,
                &format!(
                    "# librdkafka settings of the {} user for the local SASL_SSL brokers, \
                     written by `sfcrime stack up`.\n{text}",
                    role.name()
                ),
            )?;
            users.push(UserLogin {
                role,
                user,
                settings: path,
            });
        }
        Ok(Some(ClientLogin {
            mechanism: security::MECHANISM,
            ca: self.tls.ca(),
            users,
            consumer_groups: grants.groups.clone(),
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

/// The password in a settings file `up` wrote, if the file is for `user`.
fn stored_password(path: &Path, user: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let settings = parse_properties(&text).ok()?;
    let value = |key: &str| {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    (value("sasl.username")? == user)
        .then(|| value("sasl.password"))
        .flatten()
        .filter(|p| !p.is_empty())
}
