//! Integration-test harness: a real Kafka broker on free ports in a private
//! stack directory, started with `sfcrime stack up` and stopped on drop, so
//! no test leaves a java process behind even when it fails.

#![allow(dead_code)] // each test binary uses a different part of the harness

use assert_cmd::Command;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

pub const TOPIC: &str = "sf.police.calls";

pub fn home() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `sfcrime` with the project home set and no inherited SFCRIME_* settings.
pub fn sfcrime() -> Command {
    let mut cmd = Command::cargo_bin("sfcrime").unwrap();
    for (key, _) in std::env::vars() {
        if key.starts_with("SFCRIME_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("SFCRIME_HOME", home());
    cmd
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Broker {
    pub port: u16,
    pub controller_port: u16,
    pub dir: tempfile::TempDir,
}

impl Broker {
    pub fn start() -> Broker {
        Self::start_with(&[])
    }

    /// Starts a broker; `extra` flags go to `stack up` (e.g. a topic name).
    pub fn start_with(extra: &[&str]) -> Broker {
        let dir = tempfile::Builder::new()
            .prefix("sfcrime-broker-")
            .tempdir()
            .unwrap();
        let broker = Broker {
            port: free_port(),
            controller_port: free_port(),
            dir,
        };
        let out = broker.stack(&["up"]).args(extra).output().unwrap();
        assert!(
            out.status.success(),
            "stack up failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        broker
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn stack_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `sfcrime stack <args>` pointed at this broker.
    pub fn stack(&self, args: &[&str]) -> Command {
        let mut cmd = sfcrime();
        cmd.arg("stack")
            .args(args)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--controller-port")
            .arg(self.controller_port.to_string())
            .arg("--stack-dir")
            .arg(self.dir.path());
        cmd
    }

    /// `sfcrime` with this broker as the bootstrap server.
    pub fn sfcrime(&self) -> Command {
        let mut cmd = sfcrime();
        cmd.env("SFCRIME_BOOTSTRAP_SERVERS", self.bootstrap());
        cmd
    }

    /// The pid recorded by `stack up`, if any.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("kafka.pid"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.stack(&["down"]).output();
    }
}
