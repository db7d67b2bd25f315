//! One Kafka broker of the local stack, with its own directory
//! `<stack.dir>/node-<id>/` (generated server properties, `kafka.pid`,
//! `kafka.log`, the mode's data dir) and its own ports. In KRaft mode each
//! node is both broker and controller; ZooKeeper mode runs node 1 alone.
//! Its pid file records `<pid> <port> <mode> <security>`.

use crate::daemon;
use crate::mode::Mode;
use crate::security::Security;
use sfcrime_config::LocalNode;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Node {
    /// KRaft `node.id`, 1..N.
    pub id: u32,
    pub port: u16,
    pub controller_port: u16,
    pub dir: PathBuf,
    /// The mode the stack is configured for (it picks the data dir).
    pub mode: Mode,
}

impl Node {
    pub fn new(stack_dir: &Path, local: LocalNode, mode: Mode) -> Node {
        Node {
            id: local.id,
            port: local.port,
            controller_port: local.controller_port,
            dir: node_dir(stack_dir, local.id),
            mode,
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("kafka.log")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join(self.mode.data_dir())
    }

    /// The broker process.
    pub(crate) fn daemon(&self) -> daemon::Daemon {
        daemon::Daemon {
            name: "Kafka broker",
            main_class: "kafka.Kafka",
            pid_file: self.dir.join("kafka.pid"),
            log_file: self.log_file(),
            group: false,
        }
    }

    fn meta_properties(&self) -> PathBuf {
        self.data_dir().join("meta.properties")
    }

    /// Storage formatted (by Kafka's StorageTool) for some cluster.
    pub fn is_formatted(&self) -> bool {
        self.meta_properties().is_file()
    }

    /// The cluster id this node's storage was formatted with.
    pub fn cluster_id(&self) -> Option<String> {
        fs::read_to_string(self.meta_properties())
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("cluster.id="))
            .map(|id| id.trim().to_string())
    }

    /// The node ids of the KRaft quorum this node was last started in, from
    /// its generated server.properties.
    pub fn formatted_voters(&self) -> Option<Vec<u32>> {
        let text = fs::read_to_string(self.dir.join("server.properties")).ok()?;
        let voters = text
            .lines()
            .find_map(|l| l.strip_prefix("controller.quorum.voters="))?;
        voters
            .split(',')
            .map(|v| v.split('@').next()?.trim().parse().ok())
            .collect()
    }

    /// The pid in the pid file if that process is alive and is a Kafka broker
    /// (a pid can be reused by an unrelated process after a reboot).
    pub fn running_pid(&self) -> anyhow::Result<Option<u32>> {
        self.daemon().running_pid()
    }

    /// The broker port the running process was started with.
    pub fn recorded_port(&self) -> Option<u16> {
        self.daemon().recorded(0)?.parse().ok()
    }

    /// The mode the running broker was started in (pid files written before
    /// there were modes record none: those brokers are KRaft).
    pub fn recorded_mode(&self) -> Mode {
        self.daemon()
            .recorded(1)
            .and_then(|mode| mode.parse().ok())
            .unwrap_or(Mode::Kraft)
    }

    /// The client listener's security the running broker was started with
    /// (pid files written before there was a choice record none: plaintext).
    pub fn recorded_security(&self) -> Security {
        self.daemon()
            .recorded(2)
            .and_then(|security| security.parse().ok())
            .unwrap_or(Security::Plaintext)
    }
}

/// Where node `id` of the stack in `stack_dir` lives.
pub fn node_dir(stack_dir: &Path, id: u32) -> PathBuf {
    stack_dir.join(format!("node-{id}"))
}

/// The ids of the `node-<id>` directories in `stack_dir`, sorted.
pub fn ids_on_disk(stack_dir: &Path) -> Vec<u32> {
    let mut ids: Vec<u32> = fs::read_dir(stack_dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name();
            let id = name.to_str()?.strip_prefix("node-")?.parse().ok()?;
            entry.file_type().ok()?.is_dir().then_some(id)
        })
        .collect();
    ids.sort_unstable();
    ids
}
