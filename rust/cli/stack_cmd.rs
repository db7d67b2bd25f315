//! `sfcrime stack up|down|status`: flags for the local brokers (and, in
//! ZooKeeper mode, its ZooKeeper).

use crate::Exit;
use anyhow::Result;
use clap::{Args, Subcommand};
use sfcrime_config::Settings;
use sfcrime_stack::{NodeState, Stack, ZookeeperStatus};

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
            println!("{}", stack.up(&mut progress)?)
        }
        StackAction::Down => println!("{}", stack.down()?),
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
