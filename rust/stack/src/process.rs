//! Process handling for the JVMs that `stack up` leaves running (the broker,
//! and ZooKeeper in ZooKeeper mode): start one in its own process group (so a
//! Ctrl-C in the terminal that ran `stack up` does not kill it), record it in
//! a pid file, recognise it by pid and main class, wait until it answers,
//! stop it gracefully, and read its log on failure.

use anyhow::{bail, Context, Result};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One background JVM of the stack: what it runs and where it keeps its pid
/// file (`<pid> <fields...>`, e.g. the port it listens on) and its log.
pub struct Daemon {
    /// For messages: "Kafka broker", "ZooKeeper".
    pub name: &'static str,
    /// Its main class, which tells it apart from whatever reuses its pid.
    pub main_class: &'static str,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
}

impl Daemon {
    /// Starts `java <jvm_args> -cp <classpath> <main_class> <config>` with
    /// stdout and stderr appended to the log, and records its pid followed by
    /// `fields` in the pid file.
    pub fn start(
        &self,
        java: &Path,
        jvm_args: &[String],
        classpath: &str,
        config: &Path,
        fields: &str,
    ) -> Result<Child> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .with_context(|| format!("cannot open {}", self.log_file.display()))?;
        let child = spawn_detached(
            Command::new(java)
                .args(jvm_args)
                .args(["-cp", classpath, self.main_class])
                .arg(config)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )
        .with_context(|| format!("cannot start the {} with {}", self.name, java.display()))?;
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
            let _ = stop(child.id(), stop_timeout);
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
        Ok(runs_main_class(pid, self.main_class).then_some(pid))
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
            stop(pid, timeout)?;
        }
        let _ = fs::remove_file(&self.pid_file);
        Ok(pid)
    }
}

fn spawn_detached(command: &mut Command) -> std::io::Result<Child> {
    command.process_group(0).spawn()
}

/// Alive and not a zombie (a broker whose parent has not reaped it yet is
/// dead for our purposes).
fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn runs_main_class(pid: u32, main_class: &str) -> bool {
    is_alive(pid)
        && fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| {
                cmdline
                    .split(|b| *b == 0)
                    .any(|arg| arg == main_class.as_bytes())
            })
            .unwrap_or(false)
}

/// SIGTERM, wait up to `timeout` for a clean shutdown, then SIGKILL.
fn stop(pid: u32, timeout: Duration) -> Result<()> {
    send(pid, libc::SIGTERM);
    let deadline = Instant::now() + timeout;
    while is_alive(pid) {
        if Instant::now() >= deadline {
            send(pid, libc::SIGKILL);
            let hard_deadline = Instant::now() + Duration::from_secs(10);
            while is_alive(pid) {
                if Instant::now() >= hard_deadline {
                    bail!("process {pid} survived SIGKILL");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn send(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; a stale pid only
    // yields ESRCH, which the callers treat as "already stopped".
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
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
