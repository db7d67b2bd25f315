//! Process handling for the background broker: start it in its own process
//! group (so a Ctrl-C in the terminal that ran `stack up` does not kill it),
//! recognise it by pid, stop it gracefully, and read its log on failure.

use anyhow::{bail, Result};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn spawn_detached(command: &mut Command) -> std::io::Result<Child> {
    command.process_group(0).spawn()
}

/// Alive and not a zombie (a broker whose parent has not reaped it yet is
/// dead for our purposes).
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

pub fn is_kafka_broker(pid: u32) -> bool {
    is_alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| cmdline.split(|b| *b == 0).any(|arg| arg == b"kafka.Kafka"))
            .unwrap_or(false)
}

/// SIGTERM, wait up to `timeout` for a clean shutdown, then SIGKILL.
pub fn stop(pid: u32, timeout: Duration) -> Result<()> {
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
