//! KRaft mode's quorum and storage: every node is a voter, so the voters
//! and the replication of Kafka's internal topics are the same in every
//! node's server properties; storage is formatted once per node (Kafka's
//! StorageTool) for one cluster id, which also fixes the voters, and with
//! SASL_SSL creates the SCRAM user.

use crate::security::{write_private, Security};
use crate::{java, Mode, Node, Stack, MAX_AUTO_REPLICATION};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

impl Stack {
    /// Formats the storage of the nodes that have none, for the cluster id
    /// the others have (or a new one); with SASL_SSL, also adds the SCRAM
    /// user, whose password reaches StorageTool in a 0600 Java argument file
    /// (`java @file`), not on its command line, which any local user can
    /// read in `ps`.
    pub(crate) fn format_storage(
        &self,
        nodes: &[&Node],
        configs: &[PathBuf],
        java: &java::Java,
        classpath: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let unformatted: Vec<_> = nodes
            .iter()
            .zip(configs)
            .filter(|(node, _)| !node.is_formatted())
            .collect();
        if unformatted.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = unformatted.iter().map(|(n, _)| n.id.to_string()).collect();
        progress(&format!(
            "formatting the storage of node {}",
            ids.join(", ")
        ));
        let cluster_id = match self.configured().iter().find_map(Node::cluster_id) {
            Some(id) => id,
            None => random_cluster_id()?,
        };
        let scram = match self.security {
            Security::Plaintext => None,
            Security::SaslSsl => Some(self.credentials()?),
        };
        // The admin password goes in an argument file only, but the tool
        // might echo it.
        let redact = |err: sfcrime_process::ProcessError| match scram {
            Some(admin) => err.redact(admin.password()),
            None => err,
        };
        // One StorageTool JVM per node, side by side: each takes seconds
        // to start on a busy machine.
        let formats: Vec<_> = unformatted
            .iter()
            .map(|(node, config)| {
                let argfile = node.dir.join("storage-tool.args");
                let mut args = vec!["kafka.tools.StorageTool".to_string()];
                args.extend(["format", "-t", &cluster_id, "-c"].map(String::from));
                args.push(config.display().to_string());
                args.push("--ignore-formatted".to_string());
                let mut command = Command::new(&java.path);
                command.args(["-cp", classpath]);
                let child = match scram {
                    Some(admin) => {
                        args.extend(["--add-scram".to_string(), admin.scram_spec()]);
                        write_private(&argfile, &java_argfile(&args))
                            .map(|()| command.arg(format!("@{}", argfile.display())))
                    }
                    None => Ok(command.args(&args)),
                }
                .and_then(|command| Ok(sfcrime_process::spawn_piped(command)?));
                (node.id, argfile, child)
            })
            .collect();
        // Every format is waited for, so that every argument file goes.
        let mut failure = None;
        for (id, argfile, child) in formats {
            let out = child.and_then(|c| Ok(c.finish().map_err(redact)?));
            let _ = fs::remove_file(&argfile);
            if let Err(err) = out {
                failure.get_or_insert(err.context(format!("formatting node {id}")));
            }
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// The server.properties keys that are the same on every KRaft node:
    /// the quorum and how many replicas Kafka's internal topics get.
    pub(crate) fn shared_kraft_settings(&self) -> Vec<(&'static str, String)> {
        let voters = self
            .configured()
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect::<Vec<_>>()
            .join(",");
        let internal = self.brokers.min(MAX_AUTO_REPLICATION);
        let internal_min_isr = internal.saturating_sub(1).max(1);
        vec![
            ("controller.quorum.voters", voters),
            ("offsets.topic.replication.factor", internal.to_string()),
            (
                "transaction.state.log.replication.factor",
                internal.to_string(),
            ),
            (
                "transaction.state.log.min.isr",
                internal_min_isr.to_string(),
            ),
            (
                "share.coordinator.state.topic.replication.factor",
                internal.to_string(),
            ),
            (
                "share.coordinator.state.topic.min.isr",
                internal_min_isr.to_string(),
            ),
            ("default.replication.factor", internal.to_string()),
            ("min.insync.replicas", internal_min_isr.to_string()),
        ]
    }

    /// Refuses to run a stack dir formatted for another set of nodes: the
    /// voters of a KRaft quorum are fixed when its storage is formatted.
    pub(crate) fn check_shape(&self) -> Result<()> {
        if self.mode != Mode::Kraft {
            return Ok(());
        }
        let want: Vec<u32> = self.configured().iter().map(|n| n.id).collect();
        for node in self.nodes.iter().filter(|n| n.is_formatted()) {
            let voters = node.formatted_voters();
            if node.id as usize <= self.brokers && voters.as_ref().is_none_or(|v| *v == want) {
                continue;
            }
            let held = voters.unwrap_or_else(|| {
                self.nodes
                    .iter()
                    .filter(|n| n.is_formatted())
                    .map(|n| n.id)
                    .collect()
            });
            bail!(
                "{} holds a {}-broker stack (quorum of nodes {}), not {}: a KRaft quorum's \
                 voters are fixed when its storage is formatted; start it with --brokers {}, \
                 or stop it and remove the directory to make a new one",
                self.stack_dir.display(),
                held.len(),
                held.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                self.brokers,
                held.len()
            );
        }
        Ok(())
    }
}

/// A new cluster id as Kafka makes them (`Uuid.randomUuid()`), without
/// starting a JVM for it: 16 random bytes, never one that prints with a
/// leading '-'.
fn random_cluster_id() -> Result<String> {
    let mut urandom = fs::File::open("/dev/urandom").context("cannot open /dev/urandom")?;
    loop {
        let mut bytes = [0u8; 16];
        std::io::Read::read_exact(&mut urandom, &mut bytes).context("cannot read /dev/urandom")?;
        let id = kafka_uuid_string(&bytes);
        if !id.starts_with('-') && bytes.iter().any(|b| *b != 0) {
            return Ok(id);
        }
    }
}

/// Kafka's `Uuid.toString()`: URL-safe base64 of the 16 bytes, no padding.
fn kafka_uuid_string(bytes: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .chain(std::iter::repeat(&0))
            .take(3)
            .fold(0u32, |n, b| n << 8 | u32::from(*b));
        // Without padding, n bytes make n + 1 characters.
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    out
}

/// A Java launcher argument file: one double-quoted argument per line.
fn java_argfile(args: &[String]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"\n", a.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node;
    use crate::tests::stack;

    #[test]
    fn cluster_ids_print_like_kafka_uuids() {
        // Uuid.METADATA_TOPIC_ID (0, 1) and a random-looking one, as Kafka prints them.
        let mut one = [0u8; 16];
        one[15] = 1;
        assert_eq!(kafka_uuid_string(&one), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert_eq!(kafka_uuid_string(&[0xff; 16]), "_____________________w");
        let id = random_cluster_id().unwrap();
        assert_eq!(id.len(), 22);
        assert!(!id.starts_with('-'));
    }

    /// Fakes node `id` of a stack formatted for a quorum of `voters`.
    fn formatted_node(dir: &std::path::Path, id: u32, voters: &str) {
        let node = node::node_dir(&dir.join("stack"), id);
        fs::create_dir_all(node.join("data")).unwrap();
        fs::write(node.join("data/meta.properties"), "cluster.id=abc\n").unwrap();
        fs::write(
            node.join("server.properties"),
            format!("node.id={id}\ncontroller.quorum.voters={voters}\n"),
        )
        .unwrap();
    }

    #[test]
    fn a_stack_dir_runs_only_with_the_quorum_it_was_formatted_for() {
        let dir = tempfile::tempdir().unwrap();
        assert!(stack(dir.path(), 3).check_shape().is_ok(), "a new dir");
        let voters = "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097";
        for id in 1..=3 {
            formatted_node(dir.path(), id, voters);
        }
        let three = stack(dir.path(), 3);
        assert!(three.check_shape().is_ok());
        assert_eq!(
            three.bootstrap(),
            "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
        );
        assert_eq!((three.replication, three.min_insync()), (3, 2));

        // Without --brokers: down and status still see all three nodes,
        // up refuses.
        let one = stack(dir.path(), 1);
        assert_eq!(one.nodes.len(), 3);
        assert_eq!(one.configured().len(), 1);
        let err = one.check_shape().unwrap_err().to_string();
        assert!(
            err.contains("holds a 3-broker stack (quorum of nodes 1, 2, 3), not 1")
                && err.contains("--brokers 3"),
            "{err}"
        );

        let single = tempfile::tempdir().unwrap();
        formatted_node(single.path(), 1, "1@127.0.0.1:9093");
        let err = stack(single.path(), 3)
            .check_shape()
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds a 1-broker stack"), "{err}");
        let one = stack(single.path(), 1);
        assert!(one.check_shape().is_ok());
        assert_eq!((one.replication, one.min_insync()), (1, 1));
    }
}
