//! Spark's History Server on this machine, for `sfcrime spark ui`: Spark's
//! own web UI (jobs, stages, the Structured Streaming tab) for runs that
//! have ended, read from the event logs `spark run` writes into each run
//! directory. Started from the pinned pyspark's `bin/spark-class` as a
//! background [`daemon::Daemon`] bound to 127.0.0.1, over a directory of
//! links to the chosen runs' event logs (under `history.dir`).

use crate::daemon::{self, ensure_port_free};
use crate::standalone::{http_json, spark_class};
use anyhow::{bail, Context, Result};
use sfcrime_config::Settings;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The sub-directory of a run directory that holds Spark's event log.
pub const EVENT_LOG_DIR: &str = "eventlog";

const MAIN_CLASS: &str = "org.apache.spark.deploy.history.HistoryServer";
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the history server keeps its pid file, log and links, and its port.
#[derive(Debug, Clone)]
pub struct HistoryServer {
    home: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
}

/// One run the history server shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRun {
    pub run_dir: PathBuf,
    /// Spark's application id, e.g. `local-1796090651566`.
    pub app_id: String,
    /// Its Structured Streaming page.
    pub streaming_url: String,
}

/// What `show` did.
#[derive(Debug, Clone)]
pub struct HistoryReport {
    pub pid: u32,
    pub ui: String,
    pub log_file: PathBuf,
    pub runs: Vec<HistoryRun>,
}

impl HistoryServer {
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        Ok(HistoryServer {
            home: settings.home().to_path_buf(),
            dir: settings.path("history.dir")?,
            port: settings.parse("history.port")?,
        })
    }

    pub fn ui(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn process(&self) -> daemon::Daemon {
        daemon::Daemon {
            name: "Spark History Server",
            main_class: MAIN_CLASS,
            pid_file: self.dir.join("history.pid"),
            log_file: self.dir.join("history.log"),
            group: true,
        }
    }

    /// (Re)starts the server over the event logs of `run_dirs` and waits
    /// until it lists every one of their applications.
    pub fn show(
        &self,
        run_dirs: &[PathBuf],
        progress: &mut dyn FnMut(&str),
    ) -> Result<HistoryReport> {
        if run_dirs.is_empty() {
            bail!("no run directory to show");
        }
        let mut logs = Vec::new();
        for run_dir in run_dirs {
            logs.push((run_dir, event_log(run_dir)?));
        }
        // A running server reads a fixed log directory at start: begin anew.
        if let Some(pid) = self.process().stop(STOP_TIMEOUT)? {
            progress(&format!(
                "stopped the running Spark History Server (pid {pid})"
            ));
        }
        ensure_port_free(
            "Spark History Server",
            self.port,
            "pick another with `spark ui --port` or the setting history.port",
        )?;
        let links = self.dir.join("logs");
        if links.exists() {
            fs::remove_dir_all(&links)
                .with_context(|| format!("cannot clear {}", links.display()))?;
        }
        fs::create_dir_all(&links).with_context(|| format!("cannot create {}", links.display()))?;
        let mut runs = Vec::new();
        for (run_dir, (entry, app_id)) in &logs {
            let link = links.join(entry.file_name().context("an event log has a name")?);
            std::os::unix::fs::symlink(entry, &link).with_context(|| {
                format!("cannot link {} to {}", link.display(), entry.display())
            })?;
            runs.push(HistoryRun {
                run_dir: run_dir.to_path_buf(),
                app_id: app_id.clone(),
                streaming_url: format!("{}/history/{app_id}/StreamingQuery/", self.ui()),
            });
        }

        let spark_class = spark_class(&self.home)?;
        let spark_home = spark_class
            .parent()
            .and_then(Path::parent)
            .context("spark-class has no SPARK_HOME")?;
        let options = [
            format!("-Dspark.history.fs.logDirectory=file:{}", links.display()),
            format!("-Dspark.history.ui.port={}", self.port),
            "-Dspark.history.fs.update.interval=1s".to_string(),
            // Marks the JVM as ours in `ps` (scripts/test.sh checks that
            // no test left one behind).
            format!("-Dsfcrime.history.dir={}", self.dir.display()),
        ];
        progress("starting Spark's History Server");
        let daemon = self.process();
        let mut child = daemon.spawn(
            Command::new(&spark_class)
                .arg(MAIN_CLASS)
                .env("SPARK_HOME", spark_home)
                .env("SPARK_DAEMON_MEMORY", "512m")
                // Bind to loopback only, like the brokers.
                .env("SPARK_LOCAL_IP", "127.0.0.1")
                .env("SPARK_HISTORY_OPTS", options.join(" "))
                .current_dir(&self.dir),
            &self.port.to_string(),
        )?;
        let pid = child.id();
        daemon.await_ready(&mut child, STOP_TIMEOUT, |alive| {
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                let listed = http_json(self.port, "/api/v1/applications").ok();
                let missing: Vec<&str> = runs
                    .iter()
                    .map(|run| run.app_id.as_str())
                    .filter(|id| {
                        !listed
                            .as_ref()
                            .and_then(|apps| apps.as_array())
                            .is_some_and(|apps| apps.iter().any(|app| app["id"] == *id))
                    })
                    .collect();
                if missing.is_empty() {
                    return Ok(());
                }
                if !alive() {
                    bail!("the Spark History Server exited while starting");
                }
                if Instant::now() >= deadline {
                    bail!(
                        "the Spark History Server did not list {} within {READY_TIMEOUT:.0?}",
                        missing.join(", ")
                    );
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })?;
        Ok(HistoryReport {
            pid,
            ui: self.ui(),
            log_file: daemon.log_file,
            runs,
        })
    }

    /// Stops the server; its pid, or None when none was running.
    pub fn stop(&self) -> Result<Option<u32>> {
        self.process().stop(STOP_TIMEOUT)
    }
}

/// The event log of a run directory (a file, or a directory when rolled)
/// and its application id.
fn event_log(run_dir: &Path) -> Result<(PathBuf, String)> {
    let dir = run_dir.join(EVENT_LOG_DIR);
    let entries: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    match entries.as_slice() {
        [entry] => {
            let name = entry.file_name().unwrap_or_default().to_string_lossy();
            Ok((entry.clone(), app_id(&name)))
        }
        [] => bail!(
            "{} has no Spark event log ({EVENT_LOG_DIR}/): runs from before sfcrime wrote one, \
             or with -c spark.eventLog.enabled=false, cannot be shown",
            run_dir.display()
        ),
        _ => bail!(
            "{} holds {} event logs, one expected",
            dir.display(),
            entries.len()
        ),
    }
}

/// Spark's application id from an event log's name: `eventlog_v2_<id>` (a
/// rolled log's directory) or `<id>[.<codec>][.inprogress]` (one file).
fn app_id(name: &str) -> String {
    let name = name.strip_prefix("eventlog_v2_").unwrap_or(name);
    let name = name.strip_suffix(".inprogress").unwrap_or(name);
    let name = [".zstd", ".lz4", ".snappy", ".lzf"]
        .iter()
        .find_map(|codec| name.strip_suffix(codec))
        .unwrap_or(name);
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_come_from_every_kind_of_event_log_name() {
        for name in [
            "eventlog_v2_local-1796090651566",
            "local-1796090651566",
            "local-1796090651566.zstd",
            "local-1796090651566.lz4.inprogress",
        ] {
            assert_eq!(app_id(name), "local-1796090651566", "{name}");
        }
    }

    #[test]
    fn a_run_without_an_event_log_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = event_log(dir.path()).unwrap_err().to_string();
        assert!(err.contains("has no Spark event log"), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }
}
