//! `sfcrime stack up|down|status`: flags for the local broker.

use anyhow::Result;
use clap::{Args, Subcommand};
use sfcrime_config::Settings;
use sfcrime_stack::{Stack, Status};

#[derive(Args)]
pub struct StackArgs {
    #[command(subcommand)]
    action: StackAction,
    /// Broker port on 127.0.0.1 [setting kafka.port, default 9092].
    #[arg(long, global = true)]
    port: Option<u16>,
    /// KRaft controller port [setting kafka.controller.port, default 9093].
    #[arg(long, global = true)]
    controller_port: Option<u16>,
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
    /// in the background, wait until it answers and create the topic.
    Up {
        /// Delete the topic (and everything in it) and create it anew.
        #[arg(long)]
        recreate_topic: bool,
    },
    /// Stop the broker started by `up` and wait for it to exit.
    Down,
    /// Say whether the broker runs, where, and which topics it has.
    /// Exits 0 when it answers, 3 when it is stopped or not answering.
    Status,
    /// Only download Kafka's jars into the cache (for offline use later).
    Install,
}

impl StackArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("kafka.port", self.port);
        settings.set_flag("kafka.controller.port", self.controller_port);
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
            println!("Kafka jars cached in {}", lib.display());
        }
        StackAction::Status => match stack.status()? {
            Status::Running {
                pid,
                port,
                brokers,
                topics,
            } => {
                println!("Kafka broker running: pid {pid}, bootstrap 127.0.0.1:{port}");
                println!("  brokers: {}", brokers.join(", "));
                for (topic, partitions) in topics {
                    println!("  topic {topic}: {partitions} partitions");
                }
                println!("  log: {}", stack.log_file().display());
            }
            Status::Unresponsive { pid, port } => {
                println!(
                    "Kafka broker process {pid} exists but does not answer on 127.0.0.1:{port}; \
                     see {}",
                    stack.log_file().display()
                );
                std::process::exit(3);
            }
            Status::Stopped => {
                println!(
                    "no Kafka broker running (stack dir {})",
                    stack.stack_dir.display()
                );
                std::process::exit(3);
            }
        },
    }
    Ok(())
}
