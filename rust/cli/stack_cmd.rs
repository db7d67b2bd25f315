//! `sfcrime stack up|down|status`: flags for the local brokers (and, in
//! ZooKeeper mode, its ZooKeeper).

use crate::Exit;
use anyhow::Result;
use clap::{Args, Subcommand};
use sfcrime_config::Settings;
use sfcrime_kafka::admin::TopicState;
use sfcrime_stack::security::Role;
use sfcrime_stack::{
    ClientLogin, DownReport, NodeState, Stack, TopicUp, UpReport, ZookeeperStatus, ZookeeperUp,
};

#[derive(Args)]
pub struct StackArgs {
    #[command(subcommand)]
    action: StackAction,
    /// `kraft`: Kafka 4, each broker also a controller. `zookeeper`: the
    /// original exercise's set-up, a ZooKeeper server and one Kafka 3.9
    /// broker [setting kafka.mode, default kraft]. `down` and `status` act
    /// on whatever runs in the stack dir.
    #[arg(long, global = true, value_name = "kraft|zookeeper")]
    mode: Option<String>,
    /// Number of brokers, each also a KRaft controller, so 3 make a 3-voter
    /// quorum; KRaft mode only [setting kafka.brokers, default 1].
    #[arg(long, global = true, value_name = "N")]
    brokers: Option<u16>,
    /// Broker port on 127.0.0.1; broker n of several uses PORT + 2(n-1)
    /// [setting kafka.port, default 9092].
    #[arg(long, global = true)]
    port: Option<u16>,
    /// KRaft controller port; controller n of several uses PORT + 2(n-1)
    /// [setting kafka.controller.port, default 9093].
    #[arg(long, global = true)]
    controller_port: Option<u16>,
    /// ZooKeeper's client port in ZooKeeper mode [setting zookeeper.port,
    /// default 2181].
    #[arg(long, global = true)]
    zookeeper_port: Option<u16>,
    /// Topic to create [setting topic].
    #[arg(long, short = 't', global = true)]
    topic: Option<String>,
    /// Partitions of a newly created topic [setting topic.partitions, default 3].
    #[arg(long, global = true)]
    partitions: Option<u32>,
    /// Directory for the brokers' pid files, logs and data, broker n in
    /// node-<n>/ [setting stack.dir].
    #[arg(long, global = true)]
    stack_dir: Option<String>,
    /// Security of the client listener: plaintext, or sasl_ssl (TLS with a
    /// generated CA in kafka.tls.dir, SCRAM-SHA-512 user kafka.admin.user
    /// whose password comes from SFCRIME_KAFKA_ADMIN_PASSWORD or the config
    /// file) [setting kafka.security, default plaintext].
    #[arg(long, global = true, value_name = "plaintext|sasl_ssl")]
    security: Option<String>,
}

#[derive(Subcommand)]
enum StackAction {
    /// Download Kafka's jars (once), format storage (once), start the brokers
    /// that are not running in the background (after ZooKeeper, in ZooKeeper
    /// mode), wait until they answer and create the topic (replicated over
    /// up to 3 brokers).
    Up {
        /// Delete the topic (and everything in it) and create it anew.
        #[arg(long)]
        recreate_topic: bool,
    },
    /// Stop every broker started by `up` from the stack dir and wait for
    /// them to exit, then ZooKeeper if it runs.
    Down,
    /// Say whether each broker (and ZooKeeper) runs, where, and which topics
    /// the cluster has. Exits 0 when every one answers, 3 when any is
    /// stopped or not answering.
    Status,
    /// Only download the mode's Kafka jars into the cache (for offline use
    /// later).
    Install,
}

impl StackArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("kafka.mode", self.mode.as_ref());
        settings.set_flag("kafka.brokers", self.brokers);
        settings.set_flag("kafka.port", self.port);
        settings.set_flag("kafka.controller.port", self.controller_port);
        settings.set_flag("zookeeper.port", self.zookeeper_port);
        settings.set_flag("topic", self.topic.as_ref());
        settings.set_flag("topic.partitions", self.partitions);
        settings.set_flag("stack.dir", self.stack_dir.as_ref());
        settings.set_flag("kafka.security", self.security.as_ref());
    }
}

pub fn run(args: StackArgs, settings: &Settings) -> Result<Exit> {
    let mut stack = Stack::from_settings(settings)?;
    let mut progress = |step: &str| eprintln!("sfcrime: {step}...");
    match args.action {
        StackAction::Up { recreate_topic } => {
            stack.recreate_topic = recreate_topic;
            println!("{}", up_text(&stack.up(&mut progress)?))
        }
        StackAction::Down => println!("{}", down_text(&stack.down()?)),
        StackAction::Install => {
            let lib = stack.install(&mut progress)?;
            println!(
                "Kafka jars ({} mode) cached in {}",
                stack.mode,
                lib.display()
            );
        }
        StackAction::Status => {
            // Both are reported, whichever is down.
            let zookeeper_ok = zookeeper_status(&stack)?;
            if !(broker_status(&stack)? && zookeeper_ok) {
                return Ok(Exit::NotRunning);
            }
        }
    }
    Ok(Exit::Ok)
}

/// What `up` did: ZooKeeper's line, a line per node, then the cluster, its
/// topic and, with SASL_SSL, how clients log in.
fn up_text(report: &UpReport) -> String {
    let mut lines = Vec::new();
    if let Some(zookeeper) = &report.zookeeper {
        lines.push(match zookeeper {
            ZookeeperUp::AlreadyRunning { pid, port } => {
                format!("ZooKeeper already running at 127.0.0.1:{port} (pid {pid})")
            }
            ZookeeperUp::Started {
                pid,
                port,
                version,
                log,
            } => format!(
                "ZooKeeper {version} up at 127.0.0.1:{port} (pid {pid}, log {})",
                log.display()
            ),
        });
    }
    for node in &report.nodes {
        lines.push(if node.already_running {
            format!(
                "node {}: Kafka broker already running at {} (pid {})",
                node.id, node.address, node.pid
            )
        } else {
            format!(
                "node {}: Kafka broker up at {} (pid {}, log {})",
                node.id,
                node.address,
                node.pid,
                node.log.display()
            )
        });
    }
    let brokers = report.nodes.len();
    lines.push(format!(
        "Kafka {} ({} mode), {brokers} broker{} at {}; {}",
        report.kafka_version,
        report.mode,
        if brokers == 1 { "" } else { "s" },
        report.bootstrap,
        topic_text(&report.topic)
    ));
    if let Some(clients) = &report.clients {
        lines.extend(clients_text(clients, &report.topic.name));
    }
    lines.join("\n")
}

/// How each user of the SASL_SSL brokers logs in, and what it may do.
fn clients_text(clients: &ClientLogin, topic: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "clients: SASL_SSL ({}), CA {}; each user's settings (-F):",
        clients.mechanism,
        clients.ca.display()
    )];
    for login in &clients.users {
        let may = match login.role {
            Role::Admin => "super user".to_string(),
            Role::Producer => format!("writes '{topic}' and '{topic}.dlq'"),
            Role::Consumer => format!(
                "reads '{topic}' as groups {}",
                clients
                    .consumer_groups
                    .iter()
                    .map(|g| format!("{g}*"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        lines.push(format!(
            "  {} '{}' ({may}): {}",
            login.role.name(),
            login.user,
            login.settings.display()
        ));
    }
    lines
}

fn topic_text(topic: &TopicUp) -> String {
    match topic.state {
        TopicState::Created { partitions } => format!(
            "topic '{}' created with {partitions} partitions, {} replica{}, \
             min.insync.replicas {}",
            topic.name,
            topic.replication,
            if topic.replication == 1 { "" } else { "s" },
            topic.min_insync
        ),
        TopicState::Existed { partitions } if partitions as i32 != topic.partitions_wanted => {
            format!(
                "topic '{}' exists with {partitions} partitions (config asks for {}; \
                 delete the stack dir to recreate)",
                topic.name, topic.partitions_wanted
            )
        }
        TopicState::Existed { partitions } => {
            format!("topic '{}' exists with {partitions} partitions", topic.name)
        }
    }
}

/// What `down` stopped: the brokers on one line, then ZooKeeper.
fn down_text(report: &DownReport) -> String {
    let stopped: Vec<String> = report
        .older_broker_pid
        .map(|pid| format!("the broker of an older sfcrime (pid {pid})"))
        .into_iter()
        .chain(
            report
                .nodes
                .iter()
                .map(|node| format!("node {} (pid {})", node.id, node.pid)),
        )
        .collect();
    let brokers = if stopped.is_empty() {
        "no Kafka broker is running".to_string()
    } else {
        format!("Kafka broker stopped: {}", stopped.join(", "))
    };
    match report.zookeeper_pid {
        Some(pid) => format!("{brokers}\nZooKeeper stopped (pid {pid})"),
        None => brokers,
    }
}

/// Prints ZooKeeper's state, if there is one to report; false when it should
/// run but does not answer.
fn zookeeper_status(stack: &Stack) -> Result<bool> {
    let log = stack.zookeeper_log_file();
    Ok(match stack.zookeeper_status()? {
        None => true,
        Some(ZookeeperStatus::Running {
            pid,
            port,
            version,
            znodes,
        }) => {
            println!("ZooKeeper {version} running: pid {pid}, 127.0.0.1:{port}, {znodes} znodes");
            println!("  log: {}", log.display());
            true
        }
        Some(ZookeeperStatus::Unresponsive { pid, port }) => {
            println!(
                "ZooKeeper process {pid} exists but does not serve on 127.0.0.1:{port}; see {}",
                log.display()
            );
            false
        }
        Some(ZookeeperStatus::Stopped) => {
            println!(
                "no ZooKeeper running (stack dir {})",
                stack.stack_dir.display()
            );
            false
        }
    })
}

/// Prints each broker's state and the cluster's topics; false when any
/// broker is stopped or does not answer.
fn broker_status(stack: &Stack) -> Result<bool> {
    let status = stack.status()?;
    if !status.any_process() {
        println!(
            "no Kafka broker running (stack dir {})",
            stack.stack_dir.display()
        );
        return Ok(false);
    }
    for (node, state) in &status.nodes {
        let log = node.log_file();
        match state {
            NodeState::Running { pid, port } => println!(
                "node {}: Kafka broker running ({} mode): pid {pid}, bootstrap \
                 127.0.0.1:{port}, log {}",
                node.id,
                node.recorded_mode(),
                log.display()
            ),
            NodeState::Unresponsive { pid, port } => println!(
                "node {}: Kafka broker process {pid} exists but does not answer on \
                 127.0.0.1:{port}; see {}",
                node.id,
                log.display()
            ),
            NodeState::Stopped => println!("node {}: stopped (log {})", node.id, log.display()),
        }
    }
    if let Some(cluster) = &status.cluster {
        println!("  brokers: {}", cluster.brokers.join(", "));
        for topic in &cluster.topics {
            println!(
                "  topic {}: {} partitions, {} replicas, {}",
                topic.name,
                topic.partitions,
                topic.replicas,
                match topic.under_replicated {
                    0 => "all in sync".to_string(),
                    n => format!("{n} under-replicated"),
                }
            );
        }
    }
    Ok(status.all_running())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfcrime_stack::{Mode, NodeStopped, NodeUp, UserLogin};
    use std::path::PathBuf;

    fn node(id: u32, pid: u32, already_running: bool) -> NodeUp {
        NodeUp {
            id,
            address: format!("127.0.0.1:{}", 9090 + 2 * id),
            pid,
            log: PathBuf::from(format!("/s/node-{id}/kafka.log")),
            already_running,
        }
    }

    fn topic(state: TopicState, replication: i32) -> TopicUp {
        TopicUp {
            name: "sfcrime".to_string(),
            state,
            partitions_wanted: 3,
            replication,
            min_insync: (replication - 1).max(1),
        }
    }

    #[test]
    fn up_tells_each_node_then_the_cluster_its_topic_and_the_clients_login() {
        let report = UpReport {
            zookeeper: None,
            nodes: vec![node(1, 11, true), node(2, 22, false), node(3, 33, false)],
            kafka_version: "4.1.1".to_string(),
            mode: Mode::Kraft,
            bootstrap: "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096".to_string(),
            topic: topic(TopicState::Created { partitions: 3 }, 3),
            clients: Some(ClientLogin {
                mechanism: "SCRAM-SHA-512",
                ca: PathBuf::from("/s/tls/ca.pem"),
                users: [
                    (Role::Admin, "admin", "client"),
                    (Role::Producer, "p", "producer"),
                    (Role::Consumer, "c", "consumer"),
                ]
                .into_iter()
                .map(|(role, user, file)| UserLogin {
                    role,
                    user: user.to_string(),
                    settings: PathBuf::from(format!("/s/{file}.properties")),
                })
                .collect(),
                consumer_groups: vec!["sfcrime-".to_string(), "spark-kafka-".to_string()],
            }),
        };
        assert_eq!(
            up_text(&report),
            "node 1: Kafka broker already running at 127.0.0.1:9092 (pid 11)\n\
             node 2: Kafka broker up at 127.0.0.1:9094 (pid 22, log /s/node-2/kafka.log)\n\
             node 3: Kafka broker up at 127.0.0.1:9096 (pid 33, log /s/node-3/kafka.log)\n\
             Kafka 4.1.1 (kraft mode), 3 brokers at \
             127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096; topic 'sfcrime' created with 3 \
             partitions, 3 replicas, min.insync.replicas 2\n\
             clients: SASL_SSL (SCRAM-SHA-512), CA /s/tls/ca.pem; each user's settings (-F):\n  \
             admin 'admin' (super user): /s/client.properties\n  \
             producer 'p' (writes 'sfcrime' and 'sfcrime.dlq'): /s/producer.properties\n  \
             consumer 'c' (reads 'sfcrime' as groups sfcrime-*, spark-kafka-*): \
             /s/consumer.properties"
        );
    }

    #[test]
    fn up_in_zookeeper_mode_tells_zookeeper_first() {
        let mut report = UpReport {
            zookeeper: Some(ZookeeperUp::Started {
                pid: 7,
                port: 2181,
                version: "3.8.4".to_string(),
                log: PathBuf::from("/s/zookeeper.log"),
            }),
            nodes: vec![node(1, 11, false)],
            kafka_version: "3.9.1".to_string(),
            mode: Mode::Zookeeper,
            bootstrap: "127.0.0.1:9092".to_string(),
            topic: topic(TopicState::Existed { partitions: 3 }, 1),
            clients: None,
        };
        assert_eq!(
            up_text(&report),
            "ZooKeeper 3.8.4 up at 127.0.0.1:2181 (pid 7, log /s/zookeeper.log)\n\
             node 1: Kafka broker up at 127.0.0.1:9092 (pid 11, log /s/node-1/kafka.log)\n\
             Kafka 3.9.1 (zookeeper mode), 1 broker at 127.0.0.1:9092; topic 'sfcrime' exists \
             with 3 partitions"
        );
        report.zookeeper = Some(ZookeeperUp::AlreadyRunning { pid: 7, port: 2181 });
        report.topic = topic(TopicState::Created { partitions: 3 }, 1);
        assert!(up_text(&report).starts_with(
            "ZooKeeper already running at 127.0.0.1:2181 (pid 7)\nnode 1: Kafka broker up"
        ));
        assert!(up_text(&report).ends_with(
            "topic 'sfcrime' created with 3 partitions, 1 replica, min.insync.replicas 1"
        ));
    }

    #[test]
    fn up_says_when_an_existing_topic_has_other_partitions_than_asked() {
        let topic = topic(TopicState::Existed { partitions: 6 }, 1);
        assert_eq!(
            topic_text(&topic),
            "topic 'sfcrime' exists with 6 partitions (config asks for 3; delete the stack dir \
             to recreate)"
        );
    }

    #[test]
    fn down_tells_the_brokers_stopped_then_zookeeper() {
        let report = DownReport {
            older_broker_pid: Some(5),
            nodes: vec![
                NodeStopped { id: 1, pid: 11 },
                NodeStopped { id: 2, pid: 22 },
            ],
            zookeeper_pid: Some(7),
        };
        assert_eq!(
            down_text(&report),
            "Kafka broker stopped: the broker of an older sfcrime (pid 5), node 1 (pid 11), \
             node 2 (pid 22)\nZooKeeper stopped (pid 7)"
        );
        let nothing = DownReport {
            older_broker_pid: None,
            nodes: Vec::new(),
            zookeeper_pid: None,
        };
        assert_eq!(down_text(&nothing), "no Kafka broker is running");
    }
}
