//! Processes in the background for fault tests: `sfcrime` commands whose
//! output is collected while the test acts (killed if the test ends first),
//! and finding and killing what a command started (through
//! sfcrime_process's /proc reading and signals).

use super::Broker;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `sfcrime` running in the background with its output collected; killed
/// if the test ends before it does.
pub struct Running {
    pub child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    /// stderr as it comes, line by line.
    pub stderr_lines: Receiver<String>,
}

/// Starts `sfcrime ARGS` against `broker`, like `Broker::sfcrime()` does
/// for foreground runs.
pub fn spawn(broker: &Broker, args: &[&str]) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sfcrime"));
    super::test_environment(&mut cmd);
    let mut child = cmd
        .env("SFCRIME_BOOTSTRAP_SERVERS", broker.bootstrap())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sfcrime starts");
    let mut stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, stderr_lines) = mpsc::channel();
    Running {
        child,
        stdout: Some(std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        })),
        stderr: Some(std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                text.push_str(&line);
                text.push('\n');
            }
            text
        })),
        stderr_lines,
    }
}

impl Running {
    /// The run directory a background `sfcrime spark run` announces on
    /// stderr, waiting at most `timeout` for it.
    pub fn run_dir(&self, timeout: Duration) -> PathBuf {
        loop {
            let line = self
                .stderr_lines
                .recv_timeout(timeout)
                .expect("spark run announces its run dir");
            if let Some(dir) = line.strip_prefix("spark: run dir ") {
                return PathBuf::from(dir.trim());
            }
        }
    }

    /// Waits for the exit, at most `timeout`; returns status, stdout, stderr.
    pub fn finish(mut self, timeout: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "sfcrime (pid {}) still runs after {timeout:?}",
                self.child.id()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (status, stdout, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Live (not zombie) processes whose command line has `needle` as an
/// argument, with their process groups.
pub fn processes_with_arg(needle: &str) -> Vec<(u32, u32)> {
    sfcrime_process::pids()
        .into_iter()
        .filter(|pid| *pid != std::process::id() && sfcrime_process::runs_arg(*pid, needle))
        .filter_map(|pid| match sfcrime_process::stat(pid)? {
            s if s.state == 'Z' || s.state == 'X' => None,
            s => Some((pid, s.pgid)),
        })
        .collect()
}

/// Kills every process group running with `needle` in its arguments when
/// dropped, so a failed Spark test leaves no JVM behind.
pub struct KillGroupsWith(pub String);

impl Drop for KillGroupsWith {
    fn drop(&mut self) {
        for (_, pgid) in processes_with_arg(&self.0) {
            if pgid != own_pgid() {
                // Failure means the group is gone already.
                let _ = sfcrime_process::signal_group(pgid, libc::SIGKILL);
            }
        }
    }
}

/// The test process's own process group.
pub fn own_pgid() -> u32 {
    sfcrime_process::stat(std::process::id())
        .expect("/proc/self/stat is readable")
        .pgid
}
