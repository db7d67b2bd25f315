//! `sfcrime spark cluster up|down|status`: flags for the local Spark
//! standalone master and worker.

use crate::Exit;
use anyhow::Result;
use clap::{Args, Subcommand};
use sfcrime_config::Settings;
use sfcrime_stack::standalone::{Daemon, Standalone};

#[derive(Args)]
#[command(after_help = "Then run the job on it with \
`sfcrime spark run --master spark://127.0.0.1:<master port>`.")]
pub struct ClusterArgs {
    #[command(subcommand)]
    action: ClusterAction,
    /// Master port on 127.0.0.1 [setting standalone.master.port, default 7077].
    #[arg(long, global = true)]
    master_port: Option<u16>,
    /// Master web UI port [setting standalone.master.ui.port, default 8080].
    #[arg(long, global = true)]
    master_ui_port: Option<u16>,
    /// Worker web UI port [setting standalone.worker.ui.port, default 8081].
    #[arg(long, global = true)]
    worker_ui_port: Option<u16>,
    /// Cores the worker offers to executors [setting standalone.worker.cores, default 2].
    #[arg(long, global = true)]
    worker_cores: Option<u32>,
    /// Memory the worker offers to executors, e.g. 2g [setting standalone.worker.memory].
    #[arg(long, global = true)]
    worker_memory: Option<String>,
    /// Directory for pid files, logs and the worker's work dir
    /// [setting standalone.dir, default .stack/spark-standalone].
    #[arg(long, global = true)]
    dir: Option<String>,
}

#[derive(Subcommand)]
enum ClusterAction {
    /// Start a master and a worker (pyspark's spark-class) in the background
    /// and wait until the worker has joined.
    Up,
    /// Stop the worker (and its executors) and the master.
    Down,
    /// Say whether they run, with the master's workers, cores and applications.
    /// Exits 0 when the master answers with a live worker, 3 otherwise.
    Status,
}

impl ClusterArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("standalone.master.port", self.master_port);
        settings.set_flag("standalone.master.ui.port", self.master_ui_port);
        settings.set_flag("standalone.worker.ui.port", self.worker_ui_port);
        settings.set_flag("standalone.worker.cores", self.worker_cores);
        settings.set_flag("standalone.worker.memory", self.worker_memory.as_ref());
        settings.set_flag("standalone.dir", self.dir.as_ref());
    }
}

pub fn run(args: ClusterArgs, settings: &Settings) -> Result<Exit> {
    let cluster = Standalone::from_settings(settings)?;
    let mut progress = |step: &str| eprintln!("sfcrime: {step}...");
    match args.action {
        ClusterAction::Up => {
            println!("{}", cluster.up(&mut progress)?);
            println!(
                "run the job on it with: sfcrime spark run --master {}",
                cluster.master_url()
            );
        }
        ClusterAction::Down => println!("{}", cluster.down()?),
        ClusterAction::Status => {
            let status = cluster.status()?;
            for (daemon, pid) in [
                (Daemon::Master, status.master_pid),
                (Daemon::Worker, status.worker_pid),
            ] {
                let log = cluster.log_file(daemon);
                match pid {
                    Some(pid) => println!(
                        "Spark {}: running, pid {pid}, log {}",
                        daemon.name(),
                        log.display()
                    ),
                    None => println!("Spark {}: not running", daemon.name()),
                }
            }
            if let Some(json) = &status.master {
                println!(
                    "  master {} ({}), web UI {}: {} live worker(s), {} cores ({} used), \
                     {} MiB ({} used)",
                    status.master_url,
                    json["status"].as_str().unwrap_or("?"),
                    status.master_ui,
                    json["aliveworkers"],
                    json["cores"],
                    json["coresused"],
                    json["memory"],
                    json["memoryused"]
                );
                for app in json["activeapps"].as_array().into_iter().flatten() {
                    println!(
                        "  application {} ({}): {}",
                        app["id"].as_str().unwrap_or("?"),
                        app["name"].as_str().unwrap_or("?"),
                        app["state"].as_str().unwrap_or("?")
                    );
                }
            } else if status.master_pid.is_some() {
                println!(
                    "  the master does not answer on {}; see {}",
                    status.master_ui,
                    cluster.log_file(Daemon::Master).display()
                );
            }
            if !status.ready() {
                return Ok(Exit::NotRunning);
            }
        }
    }
    Ok(Exit::Ok)
}
