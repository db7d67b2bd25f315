//! Process handling for the background services that `up` leaves running
//! (Kafka brokers, ZooKeeper in ZooKeeper mode, the Spark standalone master
//! and worker): start each in its own process group (so a Ctrl-C in the
//! terminal that ran `up` does not kill it), record it in a pid file,
//! recognise it by pid and main class, wait until it answers, stop it (or
//! its whole group, or several at once) gracefully, and read its log on
//! failure. Before a start, each service's ports are checked to be free.

use anyhow::{bail, Context, Result};
use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        let program = command.get_program().to_owned();
        let child = spawn_detached(
            command
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )
        .with_context(|| {
            format!(
                "cannot start the {} with {}",
                self.name,
                Path::new(&program).display()
            )
        })?;
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
        Ok(runs_class(pid, self.main_class).then_some(pid))
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
            stop_group(pid, timeout)
        } else {
            stop(pid, timeout)
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

fn spawn_detached(command: &mut Command) -> std::io::Result<Child> {
    command.process_group(0).spawn()
}

/// Some thread of the process still runs. A JVM's main thread can end
/// before its last threads do: the process then shows as a zombie while it
/// still holds its ports, so a zombie only counts as gone (waiting to be
/// reaped) once no other thread is left.
fn is_alive(pid: u32) -> bool {
    match stat_fields(pid) {
        Some((state, _)) if state == 'Z' || state == 'X' => {
            fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|threads| threads.count() > 1)
        }
        Some(_) => true,
        None => false,
    }
}

/// (state, process group) from /proc/<pid>/stat.
fn stat_fields(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the parenthesised command name: state, ppid, pgrp.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let group = fields.nth(1)?.parse().ok()?;
    Some((state, group))
}

/// Alive, and a JVM with `main_class` among its arguments.
fn runs_class(pid: u32, main_class: &str) -> bool {
    is_alive(pid)
        && fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| {
                cmdline
                    .split(|b| *b == 0)
                    .any(|arg| arg == main_class.as_bytes())
            })
            .unwrap_or(false)
}

/// Some live process is in process group `pgid`.
fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| stat_fields(pid).is_some_and(|(_, group)| group == pgid) && is_alive(pid))
}

/// [`stop`] for the whole process group led by `pgid` (a process started by
/// [`spawn_detached`]) and whatever it started in it, such as the executors
/// of a Spark worker.
fn stop_group(pgid: u32, timeout: Duration) -> Result<()> {
    send_group(pgid, libc::SIGTERM);
    let deadline = Instant::now() + timeout;
    while group_alive(pgid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if group_alive(pgid) {
        send_group(pgid, libc::SIGKILL);
        let hard_deadline = Instant::now() + Duration::from_secs(10);
        while group_alive(pgid) {
            if Instant::now() >= hard_deadline {
                bail!("process group {pgid} survived SIGKILL");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// SIGTERM, wait up to `timeout` for a clean shutdown, then SIGKILL.
pub fn stop(pid: u32, timeout: Duration) -> Result<()> {
    stop_all(&[pid], timeout)
}

/// [`stop`] for several processes at once: the brokers of a cluster shut
/// down side by side, while their controller quorum still stands (one by
/// one, the last ones would wait for a quorum that is gone).
pub fn stop_all(pids: &[u32], timeout: Duration) -> Result<()> {
    for pid in pids {
        send(*pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + timeout;
    while pids.iter().any(|pid| is_alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let survivors: Vec<u32> = pids.iter().copied().filter(|p| is_alive(*p)).collect();
    for pid in &survivors {
        send(*pid, libc::SIGKILL);
    }
    let hard_deadline = Instant::now() + Duration::from_secs(10);
    while let Some(pid) = survivors.iter().find(|pid| is_alive(**pid)) {
        if Instant::now() >= hard_deadline {
            bail!("process {pid} survived SIGKILL");
        }
        std::thread::sleep(Duration::from_millis(50));
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

fn send_group(pgid: u32, signal: libc::c_int) {
    // A group id of 0 or 1 would signal our own group or every process.
    if pgid > 1 {
        // SAFETY: as in `send`.
        unsafe {
            libc::kill(-(pgid as libc::pid_t), signal);
        }
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
