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

/// One broker shared by all tests of a test binary (each binary is a process),
/// stopped when the process exits, even after failed tests.
pub fn shared_broker() -> &'static Broker {
    static SHARED: std::sync::OnceLock<Broker> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        extern "C" fn stop_shared() {
            if let Some(broker) = SHARED.get() {
                let _ = broker.stack(&["down"]).output();
            }
        }
        // SAFETY: registering a plain extern "C" function has no
        // preconditions; it runs once at process exit.
        unsafe {
            libc::atexit(stop_shared);
        }
        Broker::start()
    })
}

/// Creates `topic` (3 partitions) on `broker` through `stack up`.
pub fn create_topic(broker: &Broker, topic: &str) {
    let out = broker.stack(&["up", "--topic", topic]).output().unwrap();
    assert!(
        out.status.success(),
        "creating topic {topic} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `contents` to a file named `name` in a new temp dir.
pub fn temp_file(name: &str, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}

/// The full dataset committed in data/.
pub fn data_file() -> PathBuf {
    home().join("data/police-department-calls-for-service.json.gz")
}
