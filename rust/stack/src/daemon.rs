//! The background services that `up` leaves running (Kafka brokers,
//! ZooKeeper in ZooKeeper mode, the Spark standalone master and worker,
//! Spark's History Server): start each in its own process group (so a
//! Ctrl-C in the terminal that ran `up` does not kill it), record it in a
//! pid file, recognise it by pid and main class, wait until it answers,
//! stop it (or its whole group) gracefully, and read its log on failure.
//! Before a start, each service's ports are checked to be free. Spawning,
//! /proc and signals are sfcrime_process's.

use anyhow::{bail, Context, Result};
use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One background JVM: what it runs and where it keeps its pid file
/// (`<pid> <fields...>`, e.g. the port it listens on) and its log.
pub struct Daemon {
    /// For messages: "Kafka broker", "ZooKeeper", "Spark worker".
    pub name: &'static str,
    /// Its main class, which tells it apart from whatever reuses its pid.
    pub main_class: &'static str,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
    /// Stopping it stops its whole process group: what it started (a Spark
    /// worker's executors) goes with it.
    pub group: bool,
}

impl Daemon {
    /// Starts `java <jvm_args> -cp <classpath> <main_class> <config>` (see
    /// [`Daemon::spawn`]).
    pub fn start(
        &self,
        java: &Path,
        jvm_args: &[String],
        classpath: &str,
        config: &Path,
        fields: &str,
    ) -> Result<Child> {
        self.spawn(
            Command::new(java)
                .args(jvm_args)
                .args(["-cp", classpath, self.main_class])
                .arg(config),
            fields,
        )
    }

    /// Starts `command` (which must exec the JVM, so that its pid is the
    /// JVM's) detached, with stdout and stderr appended to the log, and
    /// records its pid followed by `fields` in the pid file.
    pub fn spawn(&self, command: &mut Command, fields: &str) -> Result<Child> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .with_context(|| format!("cannot open {}", self.log_file.display()))?;
        let child = sfcrime_process::spawn(
            command
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .process_group(0),
        )
        .with_context(|| format!("cannot start the {}", self.name))?;
        fs::write(&self.pid_file, format!("{} {fields}\n", child.id()))
            .with_context(|| format!("cannot write {}", self.pid_file.display()))?;
        Ok(child)
    }

    /// Runs `ready`, which may ask whether the process still lives. If it
    /// fails, the process is stopped and forgotten, and the error gets the
    /// telling end of its log.
    pub fn await_ready<T>(
        &self,
        child: &mut Child,
        stop_timeout: Duration,
        ready: impl FnOnce(&mut dyn FnMut() -> bool) -> Result<T>,
    ) -> Result<T> {
        let mut alive = || matches!(child.try_wait(), Ok(None));
        let outcome = ready(&mut alive);
        if let Err(err) = outcome {
            let _ = self.halt(child.id(), stop_timeout);
            let _ = child.wait();
            let _ = fs::remove_file(&self.pid_file);
            bail!(
                "{err:#}\nlast lines of {}:\n{}",
                self.log_file.display(),
                tail_interesting(&self.log_file, 15)
            );
        }
        outcome
    }

    /// The recorded pid if that process is alive and runs our main class (a
    /// pid can be reused by an unrelated process after a reboot).
    pub fn running_pid(&self) -> Result<Option<u32>> {
        let Ok(text) = fs::read_to_string(&self.pid_file) else {
            return Ok(None);
        };
        let pid: u32 = text
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("corrupt pid file {}", self.pid_file.display()))?;
        let ours =
            sfcrime_process::is_alive(pid) && sfcrime_process::runs_arg(pid, self.main_class);
        Ok(ours.then_some(pid))
    }

    /// The `n`th field recorded after the pid (0 is the first).
    pub fn recorded(&self, n: usize) -> Option<String> {
        fs::read_to_string(&self.pid_file)
            .ok()?
            .split_whitespace()
            .nth(n + 1)
            .map(str::to_string)
    }

    /// Stops the recorded process and waits for it; returns its pid, or
    /// None when it was not running. The pid file goes either way.
    pub fn stop(&self, timeout: Duration) -> Result<Option<u32>> {
        let pid = self.running_pid()?;
        if let Some(pid) = pid {
            self.halt(pid, timeout)?;
        }
        let _ = fs::remove_file(&self.pid_file);
        Ok(pid)
    }

    fn halt(&self, pid: u32, timeout: Duration) -> Result<()> {
        if self.group {
            sfcrime_process::stop_group(pid, timeout)
        } else {
            sfcrime_process::stop(pid, timeout)
        }
    }
}

/// Fails with `hint` when something listens on `port` of 127.0.0.1.
pub fn ensure_port_free(what: &str, port: u16, hint: &str) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(err) => bail!("the {what} port {port} on 127.0.0.1 is already in use ({err}); {hint}"),
    }
}

/// The last `n` lines of a log worth showing: ERROR/FATAL lines and
/// exceptions if there are any, else simply the last lines.
fn tail_interesting(log: &Path, n: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let interesting: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            l.contains(" ERROR ")
                || l.contains(" FATAL ")
                || l.contains("Exception")
                || l.starts_with("Error")
        })
        .collect();
    let chosen = if interesting.is_empty() {
        &lines[..]
    } else {
        &interesting[..]
    };
    chosen[chosen.len().saturating_sub(n)..].join("\n")
}
