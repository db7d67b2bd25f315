//! `sfcrime spark ui [RUN_DIR...]`: Spark's own web UI for finished runs,
//! through Spark's History Server over their event logs.

use crate::Exit;
use anyhow::{Context, Result};
use clap::Args;
use sfcrime_config::Settings;
use sfcrime_stack::history::{HistoryServer, EVENT_LOG_DIR};
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Every `spark run` writes Spark's event log into its run directory \
(eventlog/). This starts Spark's History Server (from the pinned pyspark, bound to \
127.0.0.1, in the background) over the chosen runs and prints each run's Structured \
Streaming page; a server already running is restarted with the new set. Stop it with \
`sfcrime spark ui --stop`."
)]
pub struct UiArgs {
    /// Run directories to show [default: the newest run under runs/ with an event log].
    run_dirs: Vec<PathBuf>,
    /// Port of the History Server's web UI on 127.0.0.1 [setting history.port, default 18080].
    #[arg(long)]
    port: Option<u16>,
    /// Stop the History Server.
    #[arg(long, conflicts_with = "run_dirs")]
    stop: bool,
}

impl UiArgs {
    pub fn apply(&self, settings: &mut Settings) {
        settings.set_flag("history.port", self.port);
    }
}

pub fn run(args: UiArgs, settings: &Settings) -> Result<Exit> {
    let server = HistoryServer::from_settings(settings)?;
    if args.stop {
        match server.stop()? {
            Some(pid) => println!("Spark History Server stopped (pid {pid})"),
            None => println!("no Spark History Server is running"),
        }
        return Ok(Exit::Ok);
    }
    let run_dirs = match args.run_dirs {
        dirs if dirs.is_empty() => vec![newest_run(settings)?],
        dirs => dirs,
    };
    let mut progress = |step: &str| eprintln!("sfcrime: {step}...");
    let report = server.show(&run_dirs, &mut progress)?;
    println!(
        "Spark History Server at {} (pid {}, log {})",
        report.ui,
        report.pid,
        report.log_file.display()
    );
    for run in &report.runs {
        println!("{}: {}", run.run_dir.display(), run.streaming_url);
    }
    Ok(Exit::Ok)
}

/// The newest run directory under runs/ that has an event log.
fn newest_run(settings: &Settings) -> Result<PathBuf> {
    let runs = settings.home().join("runs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&runs)
        .with_context(|| {
            format!(
                "no runs in {}: make one with `sfcrime spark run`",
                runs.display()
            )
        })?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|dir| dir.join(EVENT_LOG_DIR).is_dir())
        .collect();
    // Run dirs are named by their UTC start time, so the newest sorts last.
    dirs.sort();
    dirs.pop().with_context(|| {
        format!(
            "no run in {} has an event log yet: make one with `sfcrime spark run`",
            runs.display()
        )
    })
}
