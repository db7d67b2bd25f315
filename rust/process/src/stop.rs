//! Signals to a process or a whole process group, and graceful stops:
//! SIGTERM, up to a grace period for a clean shutdown, then SIGKILL. A
//! service that runs in a process group of its own (see [`crate::spawn`]
//! with `process_group(0)`) is stopped as a group, so what it started (a
//! Spark worker's executors, a job's JVMs) goes with it.

use crate::procfs::{group_alive, is_alive};
use anyhow::{bail, Result};
use std::io;
use std::time::{Duration, Instant};

/// How long a process may take to vanish after SIGKILL before that is an
/// error (the kernel may need a moment to tear down a large JVM).
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `signal` to process `pid`. An error of kind `NotFound` means it
/// is gone.
pub fn signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| invalid("pid", pid))?;
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    kill(unsafe { libc::kill(pid, signal) })
}

/// Sends `signal` to every process in group `pgid`.
pub fn signal_group(pgid: u32, signal: libc::c_int) -> io::Result<()> {
    // A group id of 0 or 1 would signal our own group or every process.
    let pgid = libc::pid_t::try_from(pgid)
        .ok()
        .filter(|g| *g > 1)
        .ok_or_else(|| invalid("process group", pgid))?;
    // SAFETY: as in `signal`.
    kill(unsafe { libc::kill(-pgid, signal) })
}

fn kill(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    Err(match err.raw_os_error() {
        Some(libc::ESRCH) => io::Error::new(io::ErrorKind::NotFound, err),
        _ => err,
    })
}

fn invalid(what: &str, id: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} {id} cannot be signalled"),
    )
}

/// SIGTERM, wait up to `grace` for a clean shutdown, then SIGKILL.
pub fn stop(pid: u32, grace: Duration) -> Result<()> {
    stop_all(&[pid], grace)
}

/// [`stop`] for several processes at once: the brokers of a cluster shut
/// down side by side, while their controller quorum still stands (one by
/// one, the last ones would wait for a quorum that is gone).
pub fn stop_all(pids: &[u32], grace: Duration) -> Result<()> {
    for pid in pids {
        // A process that is already gone needs no stopping.
        let _ = signal(*pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while pids.iter().any(|pid| is_alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let survivors: Vec<u32> = pids.iter().copied().filter(|p| is_alive(*p)).collect();
    for pid in &survivors {
        let _ = signal(*pid, libc::SIGKILL);
    }
    let hard_deadline = Instant::now() + KILL_TIMEOUT;
    while let Some(pid) = survivors.iter().find(|pid| is_alive(**pid)) {
        if Instant::now() >= hard_deadline {
            bail!("process {pid} survived SIGKILL");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// [`stop`] for the whole process group `pgid`: whatever its leader
/// started goes too.
pub fn stop_group(pgid: u32, grace: Duration) -> Result<()> {
    let _ = signal_group(pgid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while group_alive(pgid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if group_alive(pgid) {
        let _ = signal_group(pgid, libc::SIGKILL);
        let hard_deadline = Instant::now() + KILL_TIMEOUT;
        while group_alive(pgid) {
            if Instant::now() >= hard_deadline {
                bail!("process group {pgid} survived SIGKILL");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::stat;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn a_group_that_ignores_sigterm_is_killed_after_the_grace_period() {
        // A leader and a grandchild of its own, both deaf to SIGTERM.
        let mut leader = Command::new("sh")
            .args([
                "-c",
                "trap '' TERM; sh -c \"trap '' TERM; sleep 60\" & wait",
            ])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::pids()
            .into_iter()
            .filter(|pid| stat(*pid).is_some_and(|s| s.pgid == pgid))
            .count()
            < 2
        {
            assert!(Instant::now() < deadline, "the group never grew");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Reaped in the background, as a daemon's parent would.
        let reaper = std::thread::spawn(move || leader.wait());
        let started = Instant::now();
        stop_group(pgid, Duration::from_millis(300)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(!group_alive(pgid));
        assert!(reaper.join().unwrap().is_ok());
    }

    #[test]
    fn signals_to_nobody_say_so() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let err = signal(pid, libc::SIGTERM).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = signal_group(1, libc::SIGTERM).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        stop(pid, Duration::from_millis(10)).unwrap();
    }
}
