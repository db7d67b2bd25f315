//! `sfcrime stack up|down|status`: flags for the local broker (and, in
//! ZooKeeper mode, its ZooKeeper).

use anyhow::Result;
use clap::{Args, Subcommand};
use sfcrime_config::Settings;
use sfcrime_stack::{Stack, Status, ZookeeperStatus};

#[derive(Args)]
pub struct StackArgs {
    #[command(subcommand)]
    action: StackAction,
    /// `kraft`: Kafka 4, one JVM that is broker and controller. `zookeeper`:
    /// the original exercise's set-up, a ZooKeeper server and a Kafka 3.9
    /// broker [setting kafka.mode, default kraft]. `down` and `status` act
    /// on whatever runs in the stack dir.
    #[arg(long, global = true, value_name = "kraft|zookeeper")]
    mode: Option<String>,
    /// Broker port on 127.0.0.1 [setting kafka.port, default 9092].
    #[arg(long, global = true)]
    port: Option<u16>,
    /// KRaft controller port [setting kafka.controller.port, default 9093].
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
    /// Directory for the broker's pid file, log and data [setting stack.dir].
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
    /// Download Kafka's jars (once), format storage (once), start the broker
    /// in the background (after ZooKeeper, in ZooKeeper mode), wait until it
    /// answers and create the topic.
    Up {
        /// Delete the topic (and everything in it) and create it anew.
        #[arg(long)]
        recreate_topic: bool,
    },
    /// Stop the broker started by `up` and wait for it to exit, then
    /// ZooKeeper if it runs.
    Down,
    /// Say whether the broker (and ZooKeeper) runs, where, and which topics
    /// it has. Exits 0 when it answers, 3 when it is stopped or not answering.
    Status,
    /// Only download the mode's Kafka jars into the cache (for offline use
    /// later).
    Install,
}

impl StackArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("kafka.mode", self.mode.as_ref());
        settings.set_flag("kafka.port", self.port);
        settings.set_flag("kafka.controller.port", self.controller_port);
        settings.set_flag("zookeeper.port", self.zookeeper_port);
        settings.set_flag("topic", self.topic.as_ref());
        settings.set_flag("topic.partitions", self.partitions);
        settings.set_flag("stack.dir", self.stack_dir.as_ref());
        settings.set_flag("kafka.security", self.security.as_ref());
    }
}

pub fn run(args: StackArgs, settings: &Settings) -> Result<()> {
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
                std::process::exit(3);
            }
        }
    }
    Ok(())
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

/// Prints the broker's state; false when it is stopped or does not answer.
fn broker_status(stack: &Stack) -> Result<bool> {
    Ok(match stack.status()? {
        Status::Running {
            pid,
            port,
            brokers,
            topics,
        } => {
            println!(
                "Kafka broker running ({} mode): pid {pid}, bootstrap 127.0.0.1:{port}",
                stack.recorded_mode()
            );
            println!("  brokers: {}", brokers.join(", "));
            for (topic, partitions) in topics {
                println!("  topic {topic}: {partitions} partitions");
            }
            println!("  log: {}", stack.log_file().display());
            true
        }
        Status::Unresponsive { pid, port } => {
            println!(
                "Kafka broker process {pid} exists but does not answer on 127.0.0.1:{port}; \
                 see {}",
                stack.log_file().display()
            );
            false
        }
        Status::Stopped => {
            println!(
                "no Kafka broker running (stack dir {})",
                stack.stack_dir.display()
            );
            false
        }
    })
}
