//! The .properties files sfcrime generates from the templates in config/:
//! each broker's server properties, in either mode, and (through
//! [`write_generated`]) ZooKeeper's. The template keeps every setting that
//! sfcrime does not own, so a user tunes the broker there.

use crate::mode::Mode;
use crate::security::{self, write_private, Security};
use crate::{Node, Stack};
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

impl Stack {
    /// The mode's server config template with the keys sfcrime owns set for
    /// `node`: its identity, listeners and storage, the quorum and
    /// replication settings shared by every KRaft node, and with SASL_SSL
    /// the listeners' security and the authorizer. Then it holds the admin
    /// user's password (the broker's own login on its inter-broker
    /// listener), so it is written with mode 0600.
    pub(crate) fn write_server_properties(&self, node: &Node) -> Result<PathBuf> {
        let (port, cport) = (node.port, node.controller_port);
        // The client listener is named after its protocol.
        let name = match self.security {
            Security::Plaintext => "PLAINTEXT",
            Security::SaslSsl => "SASL_SSL",
        };
        // With SASL_SSL the controller listener is TLS with client
        // certificates: behind the authorizer, whoever reaches it is a
        // super user, and only the brokers hold a key the CA signed.
        let controller = match self.security {
            Security::Plaintext => "PLAINTEXT",
            Security::SaslSsl => "SSL",
        };
        let mut owned = vec![
            ("advertised.listeners", format!("{name}://127.0.0.1:{port}")),
            ("inter.broker.listener.name", name.to_string()),
            ("log.dirs", node.data_dir().display().to_string()),
        ];
        match self.mode {
            Mode::Kraft => {
                owned.extend([
                    ("node.id", node.id.to_string()),
                    (
                        "listeners",
                        format!("{name}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}"),
                    ),
                    (
                        "listener.security.protocol.map",
                        format!("{name}:{name},CONTROLLER:{controller}"),
                    ),
                ]);
                owned.extend(self.shared_kraft_settings());
            }
            // One broker, whose broker.id the template keeps (a data dir
            // remembers it).
            Mode::Zookeeper => owned.extend([
                (
                    "zookeeper.connect",
                    format!("127.0.0.1:{}", self.zookeeper_port),
                ),
                ("listeners", format!("{name}://127.0.0.1:{port}")),
                ("listener.security.protocol.map", format!("{name}:{name}")),
            ]),
        }
        if self.security == Security::SaslSsl {
            let mechanism = security::MECHANISM;
            owned.extend([
                ("sasl.enabled.mechanisms", mechanism.to_string()),
                (
                    "sasl.mechanism.inter.broker.protocol",
                    mechanism.to_string(),
                ),
                (
                    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                    self.credentials()?.jaas(),
                ),
                ("ssl.keystore.type", "PEM".to_string()),
                (
                    "ssl.keystore.location",
                    self.tls.key_store().display().to_string(),
                ),
                ("ssl.truststore.type", "PEM".to_string()),
                (
                    "ssl.truststore.location",
                    self.tls.ca().display().to_string(),
                ),
                // KRaft's authorizer (SASL_SSL runs in KRaft mode only): the
                // admin and the brokers may do anything, every other user
                // what its ACLs allow (`up` grants the client users theirs).
                (
                    "authorizer.class.name",
                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_string(),
                ),
                (
                    "super.users",
                    format!(
                        "User:{};User:{}",
                        self.credentials()?.user,
                        security::BROKER_PRINCIPAL
                    ),
                ),
                (
                    "listener.name.controller.ssl.client.auth",
                    "required".to_string(),
                ),
                (
                    "ssl.principal.mapping.rules",
                    format!("RULE:^.*$/{}/", security::BROKER_PRINCIPAL),
                ),
            ]);
        }
        fs::create_dir_all(&node.dir)
            .with_context(|| format!("cannot create {}", node.dir.display()))?;
        write_generated(
            &self.home.join(self.mode.server_template()),
            &owned,
            &node.dir,
        )
    }
}

/// Copies `template` into `dir` under its own file name, with the `owned`
/// keys' lines replaced by sfcrime's values; every other line is kept.
pub(crate) fn write_generated(
    template: &Path,
    owned: &[(&str, String)],
    dir: &Path,
) -> Result<PathBuf> {
    let text = fs::read_to_string(template)
        .with_context(|| format!("cannot read {}", template.display()))?;
    let mut out = format!(
        "# Generated by sfcrime from {}; edit that file, not this one.\n",
        template.display()
    );
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        if !owned.iter().any(|(k, _)| *k == key) {
            out.push_str(line);
            out.push('\n');
        }
    }
    for (key, value) in owned {
        out.push_str(&format!("{key}={value}\n"));
    }
    let path = dir.join(template.file_name().context("a template is a file")?);
    write_private(&path, &out)?;
    Ok(path)
}
