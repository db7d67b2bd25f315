//! Process handling for the background services (Kafka brokers, the Spark
//! standalone master and worker): start each in its own process group (so a
//! Ctrl-C in the terminal that ran `up` does not kill it), recognise it by
//! pid, stop it (or its whole group) gracefully, and read its log on failure.

use anyhow::{bail, Result};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn spawn_detached(command: &mut Command) -> std::io::Result<Child> {
    command.process_group(0).spawn()
}

/// Some thread of the process still runs. A JVM's main thread can end
/// before its last threads do: the process then shows as a zombie while it
/// still holds its ports, so a zombie only counts as gone (waiting to be
/// reaped) once no other thread is left.
pub fn is_alive(pid: u32) -> bool {
    match stat_fields(pid) {
        Some((state, _)) if state == 'Z' || state == 'X' => {
            std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|threads| threads.count() > 1)
        }
        Some(_) => true,
        None => false,
    }
}

/// (state, process group) from /proc/<pid>/stat.
fn stat_fields(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the parenthesised command name: state, ppid, pgrp.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let group = fields.nth(1)?.parse().ok()?;
    Some((state, group))
}

pub fn is_kafka_broker(pid: u32) -> bool {
    runs_class(pid, "kafka.Kafka")
}

/// Alive, and a JVM with `main_class` among its arguments.
pub fn runs_class(pid: u32, main_class: &str) -> bool {
    is_alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| {
                cmdline
                    .split(|b| *b == 0)
                    .any(|arg| arg == main_class.as_bytes())
            })
            .unwrap_or(false)
}

/// Some live process is in process group `pgid`.
fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| stat_fields(pid).is_some_and(|(_, group)| group == pgid) && is_alive(pid))
}

/// [`stop`] for the whole process group led by `pgid` (a process started by
/// [`spawn_detached`]) and whatever it started in it, such as the executors
/// of a Spark worker.
pub fn stop_group(pgid: u32, timeout: Duration) -> Result<()> {
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
pub fn tail_interesting(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
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
