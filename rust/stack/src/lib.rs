//! The local services that sfcrime starts and stops. Mainly the Apache
//! Kafka stack: in KRaft mode (the default) `kafka.brokers` nodes on this
//! machine, each one JVM that is both broker and controller, so N nodes make
//! an N-voter quorum; in ZooKeeper mode one Kafka 3.9 broker beside a
//! ZooKeeper server ([`zookeeper`]). Every broker is a [`node`] with its own
//! files and ports, and its client listener is PLAINTEXT or SASL_SSL
//! ([`security`]). This file owns the [`Stack`], its orchestration and
//! what it reports (which the caller puts into words): `up` checks the
//! settings against what runs, resolves the jars once (`jars.rs`), writes
//! each node's server properties (`properties.rs`), formats KRaft storage
//! for one cluster id (`kraft.rs`), starts the nodes in the background,
//! waits until each answers, creates the project's topic replicated over
//! them and, with SASL_SSL, the client users and their ACLs
//! (`clients.rs`); `down` stops them by their recorded pids;
//! `status` asks each. All three first move a stack dir of an older
//! sfcrime into today's layout (`legacy.rs`). [`standalone`] runs a Spark
//! standalone master and worker the same way, [`connect`] a Spark Connect
//! server.

mod clients;
pub mod connect;
mod daemon;
pub mod history;
mod jars;
pub mod java;
mod kraft;
mod legacy;
mod mode;
pub mod node;
mod properties;
pub mod security;
pub mod standalone;
mod zookeeper;

pub use clients::{ClientLogin, TopicUp, UserLogin};
pub use mode::Mode;
pub use node::Node;
pub use zookeeper::{ZookeeperStatus, ZookeeperUp};

use anyhow::{bail, Context, Result};
use security::{Credentials, Grants, Security, Tls};
use sfcrime_config::Settings;
use sfcrime_kafka::admin::{self, ClusterInfo};
use std::fs;
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

/// Everything needed to run the local stack, resolved from [`Settings`].
#[derive(Debug, Clone)]
pub struct Stack {
    pub home: PathBuf,
    /// Runtime directory: one `node-<id>/` per node, ZooKeeper's files, the
    /// clients' settings.
    pub stack_dir: PathBuf,
    /// Jar cache shared by every stack dir.
    pub cache_dir: PathBuf,
    pub mode: Mode,
    /// How many nodes `up` runs (`kafka.brokers`): the first of `nodes`.
    pub brokers: usize,
    /// The configured nodes, then any more that the stack dir holds from a
    /// stack started with more brokers (`down` and `status` see them too).
    pub nodes: Vec<Node>,
    /// ZooKeeper's client port (ZooKeeper mode only).
    pub zookeeper_port: u16,
    pub topic: String,
    pub partitions: i32,
    /// Replicas of the topic and of Kafka's internal topics.
    pub replication: i32,
    /// Delete and recreate the topic on `up`, for a run from a clean slate.
    pub recreate_topic: bool,
    /// The client listener's security (`kafka.security`).
    pub security: Security,
    /// CA and broker certificate for SASL_SSL (`kafka.tls.dir`).
    pub tls: Tls,
    /// The SCRAM user, or why there is none (only needed for SASL_SSL).
    admin: Result<Credentials, String>,
    /// The client users and what they may do, or why the settings give
    /// none (only needed for SASL_SSL).
    grants: Result<Grants, String>,
    java_setting: String,
}

/// What `status` found: each node, and what the cluster says when any
/// node answers.
#[derive(Debug)]
pub struct StackStatus {
    pub nodes: Vec<(Node, NodeState)>,
    pub cluster: Option<ClusterInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Running {
        pid: u32,
        port: u16,
    },
    /// The process runs but did not answer a metadata request.
    Unresponsive {
        pid: u32,
        port: u16,
    },
    Stopped,
}

impl StackStatus {
    /// Every node of the stack runs and answers.
    pub fn all_running(&self) -> bool {
        self.nodes
            .iter()
            .all(|(_, state)| matches!(state, NodeState::Running { .. }))
    }

    pub fn any_process(&self) -> bool {
        self.nodes
            .iter()
            .any(|(_, state)| !matches!(state, NodeState::Stopped))
    }
}

/// What `up` did, for its caller to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpReport {
    /// ZooKeeper, in ZooKeeper mode when `up` had a broker to start (with
    /// every broker running, `up` does not look at it).
    pub zookeeper: Option<ZookeeperUp>,
    /// Every configured node, by id.
    pub nodes: Vec<NodeUp>,
    pub kafka_version: String,
    pub mode: Mode,
    /// Every configured broker, comma-separated, as clients are given them.
    pub bootstrap: String,
    pub topic: TopicUp,
    /// With SASL_SSL, how each user logs in (plaintext needs no settings).
    pub clients: Option<ClientLogin>,
}

/// A configured node after `up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeUp {
    pub id: u32,
    /// Where clients reach it, `127.0.0.1:<port>`.
    pub address: String,
    pub pid: u32,
    pub log: PathBuf,
    /// It ran before this `up`, which left it alone.
    pub already_running: bool,
}

/// What `down` stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownReport {
    /// The broker an older sfcrime ran straight from the stack dir.
    pub older_broker_pid: Option<u32>,
    /// Each node that ran, by id.
    pub nodes: Vec<NodeStopped>,
    pub zookeeper_pid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStopped {
    pub id: u32,
    pub pid: u32,
}

const KAFKA_PORT_HINT: &str = "is another Kafka running? Pick other base ports with \
    --port / --controller-port or SFCRIME_KAFKA_PORT / SFCRIME_KAFKA_CONTROLLER_PORT";
const READY_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// A lone broker gets more heap; several must fit beside Spark on a small
/// machine (3 x 512 MiB on the 2-core, 24 GiB development box).
const HEAP_SINGLE: &str = "768m";
const HEAP_CLUSTER: &str = "512m";
/// Kafka's internal topics (and the default topic) need no more replicas
/// than this, whatever the number of brokers.
const MAX_AUTO_REPLICATION: usize = 3;

impl Stack {
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        let stack_dir = settings.path("stack.dir")?;
        let mode: Mode = settings.parse("kafka.mode")?;
        let configured = settings.local_nodes()?;
        let brokers = configured.len();
        let on_disk = node::ids_on_disk(&stack_dir)
            .last()
            .map_or(0, |id| *id as usize);
        let known = if on_disk > brokers {
            let count = u16::try_from(on_disk).context("too many node dirs")?;
            settings
                .local_nodes_of(count)
                .with_context(|| format!("{} holds node-{on_disk}", stack_dir.display()))?
        } else {
            configured
        };
        let replication = match settings.string("topic.replication.factor")?.trim() {
            "" => brokers.min(MAX_AUTO_REPLICATION) as i32,
            _ => settings.parse("topic.replication.factor")?,
        };
        let tls_dir = match settings.string("kafka.tls.dir")?.trim() {
            "" => stack_dir.join("tls"),
            _ => settings.path("kafka.tls.dir")?,
        };
        Ok(Stack {
            home: settings.home().to_path_buf(),
            cache_dir: settings.path("cache.dir")?,
            mode,
            brokers,
            nodes: known
                .into_iter()
                .map(|n| Node::new(&stack_dir, n, mode))
                .collect(),
            zookeeper_port: settings.parse("zookeeper.port")?,
            topic: settings.string("topic")?,
            partitions: settings.parse("topic.partitions")?,
            replication,
            recreate_topic: false,
            security: settings.parse("kafka.security")?,
            tls: Tls { dir: tls_dir },
            admin: Credentials::from_settings(settings).map_err(|e| format!("{e:#}")),
            grants: Grants::from_settings(settings).map_err(|e| format!("{e:#}")),
            stack_dir,
            java_setting: settings.string("java")?,
        })
    }

    /// The nodes `up` runs.
    pub fn configured(&self) -> &[Node] {
        &self.nodes[..self.brokers]
    }

    /// Every configured broker, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.configured()
            .iter()
            .map(Node::bootstrap)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `min.insync.replicas` for the topic and the internal topics: one
    /// replica may be lost without stopping writes (`acks=all`).
    pub fn min_insync(&self) -> i32 {
        (self.replication - 1).max(1)
    }

    fn credentials(&self) -> Result<&Credentials> {
        self.admin.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn grants(&self) -> Result<&Grants> {
        self.grants.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Resolves the broker jars of the mode (downloading them once) and
    /// returns the directory that holds them.
    pub fn install(&self, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
        jars::ensure_kafka_jars(&self.home.join(self.mode.pom()), &self.cache_dir, progress)
    }

    /// Installs if needed, formats new nodes, starts every configured node
    /// that is not running (so it also restarts a node that died; in
    /// ZooKeeper mode after ZooKeeper), and creates the topic.
    pub fn up(&self, progress: &mut dyn FnMut(&str)) -> Result<UpReport> {
        self.adopt_single_broker_layout(false)?;
        if self.mode == Mode::Zookeeper {
            if self.brokers > 1 {
                bail!(
                    "ZooKeeper mode runs one broker, not {} (kafka.brokers / --brokers): a \
                     cluster of brokers is offered in KRaft mode only; use --mode kraft or \
                     --brokers 1",
                    self.brokers
                );
            }
            if self.security == Security::SaslSsl {
                bail!(
                    "SASL_SSL is offered for KRaft brokers only (their SCRAM user is made when \
                     the KRaft storage is formatted); use --mode kraft or --security plaintext"
                );
            }
        }
        self.check_shape()?;
        if self.replication < 1 || self.replication as usize > self.brokers {
            bail!(
                "topic.replication.factor {} does not fit a stack of {} broker(s) \
                 (kafka.brokers / --brokers): it must be 1 to {}",
                self.replication,
                self.brokers,
                self.brokers
            );
        }
        // Fails early when SASL_SSL has no admin password or bad users.
        self.client_overrides(self.security)?;
        if self.security == Security::SaslSsl {
            self.grants()?;
        }
        let mut nodes = Vec::new();
        let mut to_start = Vec::new();
        for node in self.configured() {
            match node.running_pid()? {
                Some(pid) => {
                    let port = node.recorded_port().unwrap_or(node.port);
                    let security = node.recorded_security();
                    if (port, security) != (node.port, self.security) {
                        bail!(
                            "node {} of {} already runs on port {port} with {security} (pid \
                             {pid}), not on {} with {}; run `sfcrime stack down` first",
                            node.id,
                            self.stack_dir.display(),
                            node.port,
                            self.security
                        );
                    }
                    let mode = node.recorded_mode();
                    if mode != self.mode {
                        bail!(
                            "a {mode}-mode broker from {} already runs (pid {pid}); run \
                             `sfcrime stack down` before starting one in {} mode",
                            self.stack_dir.display(),
                            self.mode
                        );
                    }
                    nodes.push(NodeUp {
                        id: node.id,
                        address: node.bootstrap(),
                        pid,
                        log: node.log_file(),
                        already_running: true,
                    });
                }
                None => to_start.push(node),
            }
        }
        let zookeeper = if to_start.is_empty() {
            None
        } else {
            let (zookeeper, started) = self.start(&to_start, progress)?;
            nodes.extend(started);
            zookeeper
        };
        nodes.sort_by_key(|node| node.id);
        let topic = self.ensure_topic()?;
        Ok(UpReport {
            zookeeper,
            nodes,
            kafka_version: jars::kafka_version(&self.home.join(self.mode.pom()))?,
            mode: self.mode,
            bootstrap: self.bootstrap(),
            topic,
            clients: self.set_up_clients()?,
        })
    }

    /// Starts `nodes` (after ZooKeeper, in ZooKeeper mode).
    fn start(
        &self,
        nodes: &[&Node],
        progress: &mut dyn FnMut(&str),
    ) -> Result<(Option<ZookeeperUp>, Vec<NodeUp>)> {
        let java = java::find(&self.java_setting)?;
        for node in nodes {
            daemon::ensure_port_free("broker", node.port, KAFKA_PORT_HINT)?;
            if self.mode == Mode::Kraft {
                daemon::ensure_port_free("controller", node.controller_port, KAFKA_PORT_HINT)?;
            }
        }
        let lib = self.install(progress)?;
        fs::create_dir_all(&self.stack_dir)
            .with_context(|| format!("cannot create {}", self.stack_dir.display()))?;
        if self.security == Security::SaslSsl {
            self.tls.ensure(progress)?;
        }
        let classpath = format!("{}/*", lib.display());
        // In ZooKeeper mode the broker registers in ZooKeeper, so that starts first.
        let zookeeper = self.zookeeper_up(&java, &classpath, progress)?;
        let started = self
            .start_nodes(nodes, &java, &classpath, progress)
            .inspect_err(|_| self.zookeeper_abandon(&zookeeper))?;
        Ok((zookeeper, started))
    }

    /// Formats (KRaft, once) and starts `nodes` together (a quorum forms
    /// only once a majority runs), then waits until each answers.
    fn start_nodes(
        &self,
        nodes: &[&Node],
        java: &java::Java,
        classpath: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<NodeUp>> {
        let mut configs = Vec::new();
        for node in nodes {
            configs.push(self.write_server_properties(node)?);
        }
        if self.mode == Mode::Kraft {
            self.format_storage(nodes, &configs, java, classpath, progress)?;
        }
        let heap = if self.brokers == 1 {
            HEAP_SINGLE
        } else {
            HEAP_CLUSTER
        };
        let jvm_args = [
            "-Xms256m".to_string(),
            format!("-Xmx{heap}"),
            "-XX:+UseG1GC".to_string(),
            "-Djava.awt.headless=true".to_string(),
            self.mode.logging_flag(&self.home),
        ];
        progress(&format!(
            "starting {} node{}",
            nodes.len(),
            if nodes.len() == 1 { "" } else { "s" }
        ));
        let fields = |node: &Node| format!("{} {} {}", node.port, self.mode, self.security);
        let mut started: Vec<(&Node, Child)> = Vec::new();
        for (node, config) in nodes.iter().zip(&configs) {
            match node
                .daemon()
                .start(&java.path, &jvm_args, classpath, config, &fields(node))
            {
                Ok(child) => started.push((node, child)),
                Err(err) => {
                    stop_started(&mut started);
                    return Err(err);
                }
            }
        }
        progress("waiting for the brokers to answer");
        let mut up = Vec::new();
        for i in 0..started.len() {
            let node = started[i].0;
            let kafka = self.client(node.bootstrap(), self.security)?;
            let ready = node
                .daemon()
                .await_ready(&mut started[i].1, STOP_TIMEOUT, |alive| {
                    admin::wait_ready(&kafka, READY_TIMEOUT, alive)
                        .map_err(|e| self.explain_refusal(e))
                });
            if let Err(err) = ready {
                stop_started(&mut started);
                return Err(err.context(format!("node {} did not start", node.id)));
            }
            up.push(NodeUp {
                id: node.id,
                address: node.bootstrap(),
                pid: started[i].1.id(),
                log: node.log_file(),
                already_running: false,
            });
        }
        Ok(up)
    }

    /// Stops every node that runs from the stack dir, waiting for them to
    /// exit, then ZooKeeper if it runs (the broker leaves it on the way down).
    pub fn down(&self) -> Result<DownReport> {
        let older_broker_pid = self.adopt_single_broker_layout(true)?;
        let mut running = Vec::new();
        for node in &self.nodes {
            if let Some(pid) = node.running_pid()? {
                running.push(NodeStopped { id: node.id, pid });
            }
        }
        let pids: Vec<u32> = running.iter().map(|node| node.pid).collect();
        sfcrime_process::stop_all(&pids, STOP_TIMEOUT)?;
        for node in &self.nodes {
            let _ = fs::remove_file(node.daemon().pid_file);
        }
        Ok(DownReport {
            older_broker_pid,
            nodes: running,
            zookeeper_pid: self.zookeeper_down()?,
        })
    }

    pub fn status(&self) -> Result<StackStatus> {
        self.adopt_single_broker_layout(false)?;
        let on_disk = node::ids_on_disk(&self.stack_dir);
        let mut nodes = Vec::new();
        let mut cluster = None;
        for node in &self.nodes {
            if node.id as usize > self.brokers && !on_disk.contains(&node.id) {
                continue;
            }
            let state = match node.running_pid()? {
                None => NodeState::Stopped,
                Some(pid) => {
                    let port = node.recorded_port().unwrap_or(node.port);
                    let kafka =
                        self.client(format!("127.0.0.1:{port}"), node.recorded_security())?;
                    match admin::metadata(&kafka, Duration::from_secs(5)) {
                        Ok(info) => {
                            cluster.get_or_insert(info);
                            NodeState::Running { pid, port }
                        }
                        Err(_) => NodeState::Unresponsive { pid, port },
                    }
                }
            };
            nodes.push((node.clone(), state));
        }
        Ok(StackStatus { nodes, cluster })
    }
}

/// Stops the nodes a failed start had launched, so none is left behind.
fn stop_started(started: &mut [(&Node, Child)]) {
    let pids: Vec<u32> = started.iter().map(|(_, child)| child.id()).collect();
    let _ = sfcrime_process::stop_all(&pids, STOP_TIMEOUT);
    for (node, child) in started.iter_mut() {
        let _ = child.wait();
        let _ = fs::remove_file(node.daemon().pid_file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack over `dir` with `brokers` configured, as `stack up` would see it.
    pub(crate) fn stack(dir: &std::path::Path, brokers: u16) -> Stack {
        let mut settings = Settings::load_with_env(dir, None, Vec::new()).unwrap();
        settings.set_flag("stack.dir", Some(dir.join("stack").display()));
        settings.set_flag("kafka.brokers", Some(brokers));
        Stack::from_settings(&settings).unwrap()
    }

    #[test]
    fn down_reports_no_process_for_stale_pid_files_and_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let stack = stack(dir.path(), 1);
        let node = &stack.nodes[0];
        fs::create_dir_all(&node.dir).unwrap();
        // No process has this pid.
        let stale = format!("{} 9092\n", u32::MAX);
        fs::write(node.daemon().pid_file, &stale).unwrap();
        fs::write(stack.stack_dir.join("zookeeper.pid"), &stale).unwrap();
        assert_eq!(
            stack.down().unwrap(),
            DownReport {
                older_broker_pid: None,
                nodes: Vec::new(),
                zookeeper_pid: None,
            }
        );
        assert!(!node.daemon().pid_file.exists());
        assert!(!stack.stack_dir.join("zookeeper.pid").exists());
    }
}
