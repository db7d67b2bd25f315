//! `sfcrime spark server up|down|status`: flags for the local Spark Connect
//! server that `spark run --remote` sends its query to.

use crate::Exit;
use anyhow::Result;
use clap::{Args, Subcommand};
use sfcrime_config::{parse_key_value, Settings};
use sfcrime_stack::connect::{check_reachable, python_processes, ConnectServer};
use std::time::Duration;

#[derive(Args)]
#[command(
    after_help = "Then run the job on it with `sfcrime spark run --remote`: the job is \
only a Python client; the server's driver JVM, already started and warm from earlier runs, \
runs the query. Each batch's table goes to the server's log; the progress, summary and \
final results are the run's, as always. A setting the server fixed when it started \
(spark.driver.*, the master, ...) is given here with --conf, not to `spark run`."
)]
pub struct ServerArgs {
    #[command(subcommand)]
    action: ServerAction,
    /// Port on 127.0.0.1 [setting connect.port, default 15002].
    #[arg(long, global = true)]
    port: Option<u16>,
    /// Directory for the pid file and log [setting connect.dir, default
    /// .stack/spark-connect].
    #[arg(long, global = true)]
    dir: Option<String>,
}

#[derive(Subcommand)]
enum ServerAction {
    /// Start the server (`spark/submit.sh --connect-server`: local[*], the
    /// job's jars and defaults) in the background and wait until it answers.
    Up {
        /// A Spark setting for the server's driver, as spark-submit's --conf
        /// (repeatable), e.g. spark.driver.memory=4g.
        #[arg(long = "conf", short = 'c', value_name = "KEY=VALUE", value_parser = parse_key_value)]
        confs: Vec<(String, String)>,
    },
    /// Stop the server and its Python workers.
    Down,
    /// Say whether it runs. Exits 0 when it does, 3 otherwise.
    Status,
}

impl ServerArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("connect.port", self.port);
        settings.set_flag("connect.dir", self.dir.as_ref());
    }
}

/// How long a sweep or bench waits for its `--remote` server to answer.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Spark Connect URL of a `--remote` flag: its value, or without one
/// this machine's server (connect.port); checked to answer within `timeout`.
pub fn remote_url(flag: &str, settings: &Settings, timeout: Duration) -> Result<String> {
    let url = match flag {
        "" => ConnectServer::from_settings(settings)?.url(),
        url => url.to_string(),
    };
    check_reachable(&url, timeout)?;
    Ok(url)
}

pub fn run(args: ServerArgs, settings: &Settings) -> Result<Exit> {
    let server = ConnectServer::from_settings(settings)?;
    match args.action {
        ServerAction::Up { confs } => {
            let up = server.up(&confs, &mut |step| eprintln!("sfcrime: {step}..."))?;
            let state = if up.started {
                "started"
            } else {
                "already running"
            };
            println!(
                "Spark Connect server {state} at {} (pid {}, log {})",
                up.url,
                up.pid,
                up.log_file.display()
            );
            println!("run the job on it with: sfcrime spark run --remote");
        }
        ServerAction::Down => match server.down()? {
            Some(pid) => println!("Spark Connect server stopped (pid {pid})"),
            None => println!("no Spark Connect server is running"),
        },
        ServerAction::Status => match server.running()? {
            Some((pid, port)) => {
                println!(
                    "Spark Connect server: running at sc://127.0.0.1:{port}, pid {pid}, log {}",
                    server.log_file().display()
                );
                let (count, resident_kib) = python_processes(pid);
                println!(
                    "  {count} Python processes (workers, planner daemons), {} MiB resident; \
                     Spark 4.2 keeps a planner daemon per run until the server stops",
                    resident_kib / 1024
                );
            }
            None => {
                println!("Spark Connect server: not running");
                return Ok(Exit::NotRunning);
            }
        },
    }
    Ok(Exit::Ok)
}
