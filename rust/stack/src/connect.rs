//! A Spark Connect server on this machine, for `spark run --remote`: one
//! long-lived driver JVM (Spark's `SparkConnectServer`, started by
//! `spark/submit.sh --connect-server`, so with the job's jars, defaults and
//! class-data-sharing archive) that runs each job's query while the job
//! itself is only a Python client. The server's JVM, its compiled code and
//! its Python workers stay warm between runs, so a run skips Spark's start-up.
//! Started in the background as a [`daemon::Daemon`] with its pid file and
//! log in `connect.dir`; ready once its gRPC port on 127.0.0.1 accepts.

use crate::daemon::{self, ensure_port_free};
use anyhow::{bail, Context, Result};
use sfcrime_config::Settings;
use std::fs;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const MAIN_CLASS: &str = "org.apache.spark.sql.connect.service.SparkConnectServer";
/// A cold start resolves nothing (the jars are cached) but loads Spark.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the server keeps its pid file and log, and the port it serves.
#[derive(Debug, Clone)]
pub struct ConnectServer {
    home: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
}

/// What `up` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectUp {
    pub pid: u32,
    /// False when a server from this dir was already running.
    pub started: bool,
    pub url: String,
    pub log_file: PathBuf,
}

impl ConnectServer {
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        Ok(ConnectServer {
            home: settings.home().to_path_buf(),
            dir: settings.path("connect.dir")?,
            port: settings.parse("connect.port")?,
        })
    }

    /// The address a job connects to (`spark run --remote`).
    pub fn url(&self) -> String {
        format!("sc://127.0.0.1:{}", self.port)
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Its pid file records `<pid> <port>`.
    fn process(&self) -> daemon::Daemon {
        daemon::Daemon {
            name: "Spark Connect server",
            main_class: MAIN_CLASS,
            pid_file: self.dir.join("server.pid"),
            log_file: self.log_file(),
            // its Python workers go with it
            group: true,
        }
    }

    /// The running server's pid and port, if it runs.
    pub fn running(&self) -> Result<Option<(u32, u16)>> {
        let process = self.process();
        let Some(pid) = process.running_pid()? else {
            return Ok(None);
        };
        let port = process
            .recorded(0)
            .and_then(|p| p.parse().ok())
            .unwrap_or(self.port);
        Ok(Some((pid, port)))
    }

    /// Starts the server unless it runs, and waits until it accepts
    /// connections. `confs` are Spark settings for its driver (spark-submit's
    /// --conf), on top of `spark/submit.sh`'s defaults.
    pub fn up(
        &self,
        confs: &[(String, String)],
        progress: &mut dyn FnMut(&str),
    ) -> Result<ConnectUp> {
        if let Some((pid, port)) = self.running()? {
            if port != self.port {
                bail!(
                    "a Spark Connect server from {} already runs on port {port} (pid {pid}), \
                     not {}; run `sfcrime spark server down` first",
                    self.dir.display(),
                    self.port
                );
            }
            return Ok(ConnectUp {
                pid,
                started: false,
                url: self.url(),
                log_file: self.log_file(),
            });
        }
        ensure_port_free(
            "Spark Connect server",
            self.port,
            "is another Spark Connect server running? Pick another port with \
             `spark server up --port` or the setting connect.port",
        )?;
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        progress("starting the Spark Connect server");
        let mut command = Command::new("bash");
        command
            .arg(self.home.join("spark/submit.sh"))
            .arg("--connect-server")
            .args([
                "--conf",
                &format!("spark.connect.grpc.binding.port={}", self.port),
            ])
            // Nobody looks at a long-lived server's live UI here; `spark ui`
            // shows finished runs from event logs.
            .args(["--conf", "spark.ui.enabled=false"]);
        for (key, value) in confs {
            command.args(["--conf", &format!("{key}={value}")]);
        }
        // Marks the JVM as ours in `ps` (and for scripts/test.sh's check that
        // no test left one behind); submit.sh adds its own options to these.
        command
            .env(
                "SPARK_SUBMIT_OPTS",
                format!("-Dsfcrime.connect.dir={}", self.dir.display()),
            )
            .current_dir(&self.home);
        let process = self.process();
        let mut child = process.spawn(&mut command, &self.port.to_string())?;
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        process.await_ready(&mut child, STOP_TIMEOUT, |alive| {
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                if TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
                    return Ok(());
                }
                if !alive() {
                    bail!("the Spark Connect server exited while starting");
                }
                if Instant::now() >= deadline {
                    bail!("the Spark Connect server did not answer within {READY_TIMEOUT:.0?}");
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })?;
        Ok(ConnectUp {
            pid: child.id(),
            started: true,
            url: self.url(),
            log_file: self.log_file(),
        })
    }

    /// Stops the server (and its Python workers); its pid, or None when it
    /// was not running.
    pub fn down(&self) -> Result<Option<u32>> {
        self.process().stop(STOP_TIMEOUT)
    }
}

/// The Python processes a running server has started (its workers and
/// planner daemons, which pyspark puts in process groups of their own, so
/// found as its descendants): how many, and their resident memory in KiB.
/// Spark 4.2 keeps a daemon per session and kind of planner until the
/// server stops (SPARK-54055), so this grows with the runs.
pub fn python_processes(server_pid: u32) -> (usize, u64) {
    // Processes come and go under us: any read may fail; skip them.
    let table: Vec<(u32, sfcrime_process::Stat)> = sfcrime_process::pids()
        .into_iter()
        .filter_map(|pid| Some((pid, sfcrime_process::stat(pid)?)))
        .collect();
    let parent = |pid: u32| table.iter().find(|(p, _)| *p == pid).map(|(_, s)| s.ppid);
    let descends = |mut pid: u32| {
        // a daemon's worker is the server's grandchild; no deeper chains
        for _ in 0..4 {
            match parent(pid) {
                Some(ppid) if ppid == server_pid => return true,
                Some(ppid) if ppid > 1 => pid = ppid,
                _ => return false,
            }
        }
        false
    };
    let mut count = 0;
    let mut resident_kib = 0;
    for (pid, stat) in &table {
        if stat.comm.starts_with("python") && descends(*pid) {
            count += 1;
            resident_kib += sfcrime_process::status_kib(*pid, "VmRSS:").unwrap_or(0);
        }
    }
    (count, resident_kib)
}

/// Fails with a message that says what to do when nothing accepts
/// connections at `url` (`sc://host:port[/;params]`): the Connect client
/// would retry for minutes before saying so.
pub fn check_reachable(url: &str, timeout: Duration) -> Result<()> {
    let rest = url
        .strip_prefix("sc://")
        .with_context(|| format!("--remote {url}: a Spark Connect URL starts with sc://"))?;
    let host_port = rest.split(['/', ';']).next().unwrap_or_default();
    // Spark Connect's default port when the URL names none
    let host_port = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:15002")
    };
    let addresses: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .with_context(|| format!("--remote {url}: cannot resolve {host_port}"))?
        .collect();
    if addresses
        .iter()
        .any(|a| TcpStream::connect_timeout(a, timeout).is_ok())
    {
        return Ok(());
    }
    bail!(
        "no Spark Connect server answers at {url} ({host_port}); start this machine's \
         with `sfcrime spark server up`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // (Reachability itself: tests/integration/connect.rs, on reserved ports.)
    #[test]
    fn a_url_must_be_spark_connects() {
        let err = check_reachable("http://127.0.0.1:1", Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("starts with sc://"), "{err}");
    }
}
