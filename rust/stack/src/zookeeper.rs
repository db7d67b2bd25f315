//! ZooKeeper mode's ZooKeeper server: standalone `QuorumPeerMain` from the
//! Kafka 3.9 jars, configured from config/zookeeper.properties, started
//! before the broker and stopped after it, and checked with ZooKeeper's
//! `srvr` four-letter word (which tells "serving" from "port open").

use crate::daemon::{self, ensure_port_free};
use crate::mode::Mode;
use crate::properties::write_generated;
use crate::{java, Stack, READY_TIMEOUT, STOP_TIMEOUT};
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What `stack up` found or did about ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZookeeperUp {
    /// It ran before this `up`, which left it alone.
    AlreadyRunning { pid: u32, port: u16 },
    /// This `up` started it, so a broker that then fails to start must not
    /// leave it behind.
    Started {
        pid: u32,
        port: u16,
        /// As its `srvr` says, e.g. 3.8.4.
        version: String,
        log: PathBuf,
    },
}

/// What `status` found about ZooKeeper.
#[derive(Debug)]
pub enum ZookeeperStatus {
    Running {
        pid: u32,
        port: u16,
        version: String,
        znodes: u64,
    },
    /// The process runs but did not answer `srvr`.
    Unresponsive {
        pid: u32,
        port: u16,
    },
    Stopped,
}

/// What ZooKeeper's `srvr` says about it.
struct Srvr {
    version: String,
    znodes: u64,
}

impl Stack {
    /// The ZooKeeper process; its pid file records `<pid> <port>`.
    fn zookeeper(&self) -> daemon::Daemon {
        daemon::Daemon {
            name: "ZooKeeper",
            main_class: "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            pid_file: self.stack_dir.join("zookeeper.pid"),
            log_file: self.zookeeper_log_file(),
            group: false,
        }
    }

    pub fn zookeeper_log_file(&self) -> PathBuf {
        self.stack_dir.join("zookeeper.log")
    }

    /// In ZooKeeper mode, starts ZooKeeper unless it runs already and waits
    /// until it serves; in KRaft mode, nothing (None).
    pub(crate) fn zookeeper_up(
        &self,
        java: &java::Java,
        classpath: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Option<ZookeeperUp>> {
        if self.mode != Mode::Zookeeper {
            return Ok(None);
        }
        let zookeeper = self.zookeeper();
        if let Some(pid) = zookeeper.running_pid()? {
            let port = self.recorded_zookeeper_port();
            if port != self.zookeeper_port {
                bail!(
                    "a ZooKeeper from {} already runs on port {port} (pid {pid}), not {}; \
                     run `sfcrime stack down` first",
                    self.stack_dir.display(),
                    self.zookeeper_port
                );
            }
            return Ok(Some(ZookeeperUp::AlreadyRunning { pid, port }));
        }
        let port = self.zookeeper_port;
        ensure_port_free(
            "ZooKeeper",
            port,
            "is another ZooKeeper running? Pick another port with --zookeeper-port or \
             SFCRIME_ZOOKEEPER_PORT",
        )?;
        let config = write_generated(
            &self.home.join("config/zookeeper.properties"),
            &[
                (
                    "dataDir",
                    self.stack_dir.join("zookeeper").display().to_string(),
                ),
                ("clientPort", port.to_string()),
                ("clientPortAddress", "127.0.0.1".to_string()),
            ],
            &self.stack_dir,
        )?;
        progress("starting ZooKeeper");
        let jvm_args = [
            "-Xms64m".to_string(),
            "-Xmx256m".to_string(),
            "-XX:+UseG1GC".to_string(),
            "-Djava.awt.headless=true".to_string(),
            Mode::Zookeeper.logging_flag(&self.home),
        ];
        let mut child =
            zookeeper.start(&java.path, &jvm_args, classpath, &config, &port.to_string())?;
        progress("waiting for ZooKeeper to serve");
        let srvr = zookeeper.await_ready(&mut child, STOP_TIMEOUT, |alive| {
            wait_serving(port, READY_TIMEOUT, alive)
        })?;
        Ok(Some(ZookeeperUp::Started {
            pid: child.id(),
            port,
            version: srvr.version,
            log: self.zookeeper_log_file(),
        }))
    }

    /// Stops the ZooKeeper that this `up` started when the broker then
    /// failed to start; the broker's error is what the user gets to see.
    pub(crate) fn zookeeper_abandon(&self, up: &Option<ZookeeperUp>) {
        if let Some(ZookeeperUp::Started { .. }) = up {
            let _ = self.zookeeper().stop(STOP_TIMEOUT);
        }
    }

    /// Stops ZooKeeper if it runs; the pid it had, or None.
    pub(crate) fn zookeeper_down(&self) -> Result<Option<u32>> {
        self.zookeeper().stop(STOP_TIMEOUT)
    }

    /// ZooKeeper's state; None in KRaft mode unless a ZooKeeper started from
    /// this stack dir still runs.
    pub fn zookeeper_status(&self) -> Result<Option<ZookeeperStatus>> {
        let Some(pid) = self.zookeeper().running_pid()? else {
            return Ok((self.mode == Mode::Zookeeper).then_some(ZookeeperStatus::Stopped));
        };
        let port = self.recorded_zookeeper_port();
        Ok(Some(match srvr(port, Duration::from_secs(5)) {
            Ok(srvr) => ZookeeperStatus::Running {
                pid,
                port,
                version: srvr.version,
                znodes: srvr.znodes,
            },
            Err(_) => ZookeeperStatus::Unresponsive { pid, port },
        }))
    }

    fn recorded_zookeeper_port(&self) -> u16 {
        self.zookeeper()
            .recorded(0)
            .and_then(|port| port.parse().ok())
            .unwrap_or(self.zookeeper_port)
    }
}

/// Asks `srvr` until ZooKeeper serves, it exits, or `timeout` passes.
fn wait_serving(port: u16, timeout: Duration, alive: &mut dyn FnMut() -> bool) -> Result<Srvr> {
    let deadline = Instant::now() + timeout;
    loop {
        match srvr(port, Duration::from_secs(2)) {
            Ok(srvr) => return Ok(srvr),
            Err(_) if !alive() => bail!("ZooKeeper exited while starting"),
            Err(err) if Instant::now() >= deadline => {
                bail!("ZooKeeper on 127.0.0.1:{port} did not serve within {timeout:.0?} ({err:#})")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// ZooKeeper's `srvr` four-letter word, which is always enabled
/// (zkServer.sh relies on it), unlike `ruok` and the others.
fn srvr(port: u16, timeout: Duration) -> Result<Srvr> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("cannot connect to {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"srvr")?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    parse_srvr(&reply)
}

fn parse_srvr(reply: &str) -> Result<Srvr> {
    let field = |name: &str| {
        reply
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
    };
    // Until it serves, ZooKeeper answers "This ZooKeeper instance is not
    // currently serving requests" instead.
    let version = field("Zookeeper version:")
        .with_context(|| format!("ZooKeeper does not serve yet: {}", reply.trim()))?;
    Ok(Srvr {
        // "3.8.4-9316c2a7..., built on 2024-02-12 22:16 UTC"
        version: version
            .split(['-', ','])
            .next()
            .unwrap_or(version)
            .to_string(),
        znodes: field("Node count:")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_and_znodes_from_srvr() {
        let reply = "Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on \
                     2024-02-12 22:16 UTC\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\n\
                     Connections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n";
        let srvr = parse_srvr(reply).unwrap();
        assert_eq!((srvr.version.as_str(), srvr.znodes), ("3.8.4", 5));
        let err = parse_srvr("This ZooKeeper instance is not currently serving requests\n")
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not serve yet"), "{err}");
    }
}
