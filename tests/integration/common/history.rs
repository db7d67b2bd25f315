//! Spark's History Server over finished runs, as `sfcrime spark ui` starts
//! it, on a reserved port with a private directory, so tests never meet a
//! user's server or each other's; killed on drop whatever happens.

use super::background::KillGroupsWith;
use super::ports::{self, PortBlock};
use super::Broker;
use assert_cmd::Command;
use std::path::Path;

pub struct HistoryUi {
    // Dropped in this order: the server, then its directory and port.
    _kill: KillGroupsWith,
    pub port: u16,
    dir: tempfile::TempDir,
    _block: PortBlock,
}

impl HistoryUi {
    /// A server not started yet: run [`Self::command`] with the run dirs.
    pub fn new() -> HistoryUi {
        let block = ports::reserve();
        let dir = tempfile::Builder::new()
            .prefix("sfcrime-history-")
            .tempdir()
            .unwrap();
        HistoryUi {
            port: block.port(0),
            _kill: KillGroupsWith(format!("-Dsfcrime.history.dir={}", dir.path().display())),
            dir,
            _block: block,
        }
    }

    /// `sfcrime spark ui --port PORT ARGS...` with this server's directory.
    pub fn command(&self, broker: &Broker, args: &[&str]) -> Command {
        let mut command = broker.sfcrime();
        command
            .env("SFCRIME_HISTORY_DIR", self.dir.path())
            .args(["spark", "ui", "--port", &self.port.to_string()])
            .args(args);
        command
    }

    /// Starts the server over `run_dir` and returns the run's Structured
    /// Streaming page, as `spark ui` printed it.
    pub fn show(&self, broker: &Broker, run_dir: &Path) -> String {
        let out = self
            .command(broker, &[run_dir.to_str().unwrap()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{}: ", run_dir.display())))
            .unwrap_or_else(|| panic!("no Structured Streaming page for the run in: {stdout}"))
            .to_string()
    }
}
