//! A Spark standalone cluster on this machine, for `spark run --master
//! spark://…`: one master and one worker JVM started from the pinned
//! pyspark's `bin/spark-class` (pip's pyspark has no `sbin/start-*.sh`) in
//! the background as [`daemon::Daemon`]s, with pid files, logs and the
//! worker's work dir in `standalone.dir`. Readiness and status come from the
//! master's JSON page. Each is stopped with its process group, so the
//! executors the worker launched go with it.

use crate::daemon::{self, ensure_port_free};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use sfcrime_config::Settings;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Everything needed to run the local Spark standalone cluster.
#[derive(Debug, Clone)]
pub struct Standalone {
    home: PathBuf,
    /// Pid files, logs and the worker's work dir (executor logs, app jars).
    pub dir: PathBuf,
    pub master_port: u16,
    pub master_ui_port: u16,
    pub worker_ui_port: u16,
    pub worker_cores: u32,
    /// As Spark writes it: 512m, 2g, ...
    pub worker_memory: String,
}

/// One of the two daemons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    Master,
    Worker,
}

impl Daemon {
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Master => "master",
            Daemon::Worker => "worker",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Daemon::Master => "Spark master",
            Daemon::Worker => "Spark worker",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Daemon::Master => "org.apache.spark.deploy.master.Master",
            Daemon::Worker => "org.apache.spark.deploy.worker.Worker",
        }
    }
}

/// What `status` found.
#[derive(Debug)]
pub struct StandaloneStatus {
    pub master_pid: Option<u32>,
    pub worker_pid: Option<u32>,
    /// Where the running master listens (else the configured address).
    pub master_url: String,
    pub master_ui: String,
    /// The master's `/json/` page, when it answered.
    pub master: Option<Value>,
}

impl StandaloneStatus {
    /// Both daemons run, the master answers and counts a live worker.
    pub fn ready(&self) -> bool {
        self.worker_pid.is_some() && self.master.as_ref().is_some_and(has_live_worker)
    }
}

const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const PORT_HINT: &str = "is another Spark master running? Pick other ports with the \
    `spark cluster` flags or standalone.master.port, standalone.master.ui.port, \
    standalone.worker.ui.port";
/// Heap of the master and the worker daemons themselves (not executors).
const DAEMON_MEMORY: &str = "512m";

impl Standalone {
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        Ok(Standalone {
            home: settings.home().to_path_buf(),
            dir: settings.path("standalone.dir")?,
            master_port: settings.parse("standalone.master.port")?,
            master_ui_port: settings.parse("standalone.master.ui.port")?,
            worker_ui_port: settings.parse("standalone.worker.ui.port")?,
            worker_cores: settings.parse("standalone.worker.cores")?,
            worker_memory: memory_size(settings, "standalone.worker.memory")?,
        })
    }

    pub fn master_url(&self) -> String {
        format!("spark://127.0.0.1:{}", self.master_port)
    }

    pub fn master_ui(&self) -> String {
        format!("http://127.0.0.1:{}", self.master_ui_port)
    }

    pub fn log_file(&self, daemon: Daemon) -> PathBuf {
        self.dir.join(format!("{}.log", daemon.name()))
    }

    /// The daemon's process; its pid file records `<pid> <master port>
    /// <master web UI port>`.
    fn process(&self, daemon: Daemon) -> daemon::Daemon {
        daemon::Daemon {
            name: daemon.title(),
            main_class: daemon.class(),
            pid_file: self.dir.join(format!("{}.pid", daemon.name())),
            log_file: self.log_file(daemon),
            group: true,
        }
    }

    /// The recorded pid, if that process is alive and is this daemon.
    pub fn running_pid(&self, daemon: Daemon) -> Result<Option<u32>> {
        self.process(daemon).running_pid()
    }

    /// The (master, master web UI) ports the running master was started
    /// with, which may not be the configured ones.
    fn recorded_ports(&self) -> Option<(u16, u16)> {
        let master = self.process(Daemon::Master);
        Some((
            master.recorded(0)?.parse().ok()?,
            master.recorded(1)?.parse().ok()?,
        ))
    }

    /// Starts whichever daemon is not running and waits until the master
    /// counts a live worker.
    pub fn up(&self, progress: &mut dyn FnMut(&str)) -> Result<String> {
        let master_pid = self.running_pid(Daemon::Master)?;
        if let (Some(pid), Some(ports)) = (master_pid, self.recorded_ports()) {
            if ports != (self.master_port, self.master_ui_port) {
                bail!(
                    "a Spark master from {} already runs on port {} with its web UI on {} \
                     (pid {pid}), not {} and {}; run `sfcrime spark cluster down` first",
                    self.dir.display(),
                    ports.0,
                    ports.1,
                    self.master_port,
                    self.master_ui_port
                );
            }
        }
        let worker_pid = self.running_pid(Daemon::Worker)?;
        if master_pid.is_some() && worker_pid.is_some() {
            return Ok(format!(
                "Spark standalone cluster already running: master {} (pid {}), worker pid {}",
                self.master_url(),
                master_pid.unwrap_or_default(),
                worker_pid.unwrap_or_default()
            ));
        }
        let spark_class = spark_class(&self.home)?;
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let mut report = Vec::new();
        let mut started_master = false;
        if master_pid.is_none() {
            for (what, port) in [
                ("Spark master", self.master_port),
                ("Spark master web UI", self.master_ui_port),
            ] {
                ensure_port_free(what, port, PORT_HINT)?;
            }
            progress("starting the Spark master");
            let master_port = self.master_port.to_string();
            let ui_port = self.master_ui_port.to_string();
            let mut child = self.spawn(
                &spark_class,
                Daemon::Master,
                &[
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &master_port,
                    "--webui-port",
                    &ui_port,
                ],
            )?;
            self.wait(&mut child, Daemon::Master, |json| json["status"] == "ALIVE")?;
            started_master = true;
            report.push(format!(
                "Spark master at {} (pid {}, web UI {}, log {})",
                self.master_url(),
                child.id(),
                self.master_ui(),
                self.log_file(Daemon::Master).display()
            ));
        }
        if worker_pid.is_none() {
            progress("starting the Spark worker");
            match self.start_worker(&spark_class) {
                Ok(line) => report.push(line),
                Err(err) => {
                    // Leave nothing half up: a master this call started goes too.
                    if started_master {
                        let _ = self.process(Daemon::Master).stop(STOP_TIMEOUT);
                    }
                    return Err(err);
                }
            }
        }
        Ok(report.join("\n"))
    }

    /// Starts the worker and waits until the master counts it.
    fn start_worker(&self, spark_class: &Path) -> Result<String> {
        ensure_port_free("Spark worker web UI", self.worker_ui_port, PORT_HINT)?;
        let work_dir = self.dir.join("work");
        let cores = self.worker_cores.to_string();
        let ui_port = self.worker_ui_port.to_string();
        let work = work_dir.display().to_string();
        let mut child = self.spawn(
            spark_class,
            Daemon::Worker,
            &[
                &self.master_url(),
                "--host",
                "127.0.0.1",
                "--cores",
                &cores,
                "--memory",
                &self.worker_memory,
                "--work-dir",
                &work,
                "--webui-port",
                &ui_port,
            ],
        )?;
        self.wait(&mut child, Daemon::Worker, has_live_worker)?;
        Ok(format!(
            "Spark worker with {} cores, {} (pid {}, log {})",
            self.worker_cores,
            self.worker_memory,
            child.id(),
            self.log_file(Daemon::Worker).display()
        ))
    }

    /// Starts `daemon` in the background (spark-class execs the JVM, so the
    /// recorded pid is the JVM's).
    fn spawn(&self, spark_class: &Path, daemon: Daemon, args: &[&str]) -> Result<Child> {
        let spark_home = spark_class
            .parent()
            .and_then(Path::parent)
            .context("spark-class has no SPARK_HOME")?;
        self.process(daemon).spawn(
            Command::new(spark_class)
                .arg(daemon.class())
                .args(args)
                .env("SPARK_HOME", spark_home)
                .env("SPARK_DAEMON_MEMORY", DAEMON_MEMORY)
                // Bind to loopback only, like the brokers.
                .env("SPARK_LOCAL_IP", "127.0.0.1")
                // Marks the JVM as ours in `ps` (and for scripts/test.sh's
                // check that no test left one behind).
                .env(
                    "SPARK_DAEMON_JAVA_OPTS",
                    format!("-Dsfcrime.standalone.dir={}", self.dir.display()),
                )
                // The REST submission server wants the fixed port 6066,
                // which two masters on one machine cannot share; sfcrime
                // submits in client mode and needs none.
                .env("SPARK_MASTER_OPTS", "-Dspark.master.rest.enabled=false")
                .current_dir(&self.dir),
            // The master's ports: those it listens on, or that the worker joined.
            &format!("{} {}", self.master_port, self.master_ui_port),
        )
    }

    /// Waits until the master's JSON satisfies `ready`; on failure stops
    /// `child` and says why, with the end of its log.
    fn wait(
        &self,
        child: &mut Child,
        daemon: Daemon,
        ready: impl Fn(&Value) -> bool,
    ) -> Result<()> {
        self.process(daemon)
            .await_ready(child, STOP_TIMEOUT, |alive| {
                let deadline = Instant::now() + READY_TIMEOUT;
                loop {
                    if master_json(self.master_ui_port).is_ok_and(|json| ready(&json)) {
                        return Ok(());
                    }
                    if !alive() {
                        bail!("the Spark {} exited while starting", daemon.name());
                    }
                    if Instant::now() >= deadline {
                        bail!(
                            "the Spark {} was not ready within {READY_TIMEOUT:.0?}",
                            daemon.name()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
    }

    /// Stops the worker (with its executors), then the master.
    pub fn down(&self) -> Result<String> {
        let mut stopped = Vec::new();
        for daemon in [Daemon::Worker, Daemon::Master] {
            if let Some(pid) = self.process(daemon).stop(STOP_TIMEOUT)? {
                stopped.push(format!("{} (pid {pid})", daemon.name()));
            }
        }
        Ok(if stopped.is_empty() {
            "no Spark standalone cluster is running".to_string()
        } else {
            format!("Spark standalone cluster stopped: {}", stopped.join(", "))
        })
    }

    pub fn status(&self) -> Result<StandaloneStatus> {
        let master_pid = self.running_pid(Daemon::Master)?;
        let (port, ui_port) = self
            .recorded_ports()
            .unwrap_or((self.master_port, self.master_ui_port));
        Ok(StandaloneStatus {
            master_pid,
            worker_pid: self.running_pid(Daemon::Worker)?,
            master_url: format!("spark://127.0.0.1:{port}"),
            master_ui: format!("http://127.0.0.1:{ui_port}"),
            master: master_pid.and_then(|_| master_json(ui_port).ok()),
        })
    }
}

/// `spark-class` of the pyspark in the project's .venv under `home`: it
/// starts Spark's daemons (pip's pyspark has no `sbin/start-*.sh`).
pub(crate) fn spark_class(home: &Path) -> Result<PathBuf> {
    let lib = home.join(".venv/lib");
    let found = fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages/pyspark/bin/spark-class"))
        .find(|p| p.is_file());
    found.with_context(|| {
        format!(
            "no pyspark in {} (its bin/spark-class starts Spark's daemons); \
             run scripts/setup.sh",
            lib.display()
        )
    })
}

/// The master's `/json/` status page (workers, cores, applications).
fn master_json(ui_port: u16) -> Result<Value> {
    http_json(ui_port, "/json/")
}

/// The JSON a Spark daemon's web UI on 127.0.0.1:`port` serves at `path`.
pub(crate) fn http_json(port: u16, path: &str) -> Result<Value> {
    let address = format!("127.0.0.1:{port}");
    let mut stream = TcpStream::connect_timeout(
        &address.parse().expect("a literal socket address"),
        Duration::from_secs(2),
    )
    .with_context(|| format!("no Spark web UI answers on {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .with_context(|| format!("no HTTP response from {address}"))?;
    serde_json::from_str(body).with_context(|| format!("bad JSON from {address}{path}"))
}

/// A memory size as Spark reads one (512m, 2g, 1024mb, ...); Spark's own
/// complaint about a bad one is a usage text about the master URL.
fn memory_size(settings: &Settings, key: &str) -> Result<String> {
    let raw = settings.string(key)?.trim().to_string();
    let digits = raw.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = raw[digits.len()..].to_ascii_lowercase();
    let units = ["", "b", "k", "kb", "m", "mb", "g", "gb", "t", "tb"];
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !units.contains(&unit.as_str())
    {
        bail!(
            "setting '{key}' = '{raw}' (from {}) is invalid: expected a size like 512m or 2g",
            settings
                .layer(key)
                .unwrap_or(sfcrime_config::Layer::Default)
        );
    }
    Ok(raw)
}

fn has_live_worker(json: &Value) -> bool {
    json["aliveworkers"].as_u64().unwrap_or(0) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_memory_must_be_a_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::load_with_env(dir.path(), None, Vec::new()).unwrap();
        assert_eq!(
            Standalone::from_settings(&settings).unwrap().worker_memory,
            "2g"
        );
        for good in ["512m", "2G", "1024mb", "3"] {
            settings.set_flag("standalone.worker.memory", Some(good));
            assert!(Standalone::from_settings(&settings).is_ok(), "{good}");
        }
        for bad in ["lots", "2 g", "g", "-1g", "1.5g"] {
            settings.set_flag("standalone.worker.memory", Some(bad));
            let err = Standalone::from_settings(&settings)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("standalone.worker.memory") && err.contains("(from flag)"),
                "{err}"
            );
        }
    }
}
