//! Test ports that cannot collide. Binding port 0 hands out a port from the
//! kernel's ephemeral range, which any outbound connection (a broker's Raft
//! client, Spark, a producer) may be given a moment later, before the service
//! the test meant it for has bound it. So ports here come only from outside
//! that range (`/proc/sys/net/ipv4/ip_local_port_range`), in fixed blocks,
//! each reserved by an exclusive `flock` on a file of its own that every test
//! process on the machine shares: two tests, threads or processes, never get
//! the same block, and a block is held until its `PortBlock` is dropped (after
//! the services on it are stopped). A process that dies releases its locks.

use std::fs::File;
use std::net::TcpListener;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Ports per block: a 3-broker stack (6) + ZooKeeper + a Spark master,
/// its UI and a worker UI fit, with room to spare.
pub const BLOCK: u16 = 16;

/// The lowest port handed out: well above the well-known and registered
/// services people run on a laptop (databases, web servers).
const LOWEST: u16 = 20_000;

/// A reserved block of [`BLOCK`] consecutive ports, none in the ephemeral
/// range, none listened on when reserved. Released on drop.
#[derive(Debug)]
pub struct PortBlock {
    pub first: u16,
    /// Holds the block's `flock`; closing it releases the block.
    _lock: File,
}

impl PortBlock {
    /// The `i`-th port of the block.
    pub fn port(&self, i: u16) -> u16 {
        assert!(i < BLOCK, "a port block has {BLOCK} ports, asked for #{i}");
        self.first + i
    }

    pub fn ports(&self) -> Range<u16> {
        self.first..self.first + BLOCK
    }
}

/// The kernel's ephemeral port range, inclusive.
pub fn ephemeral_range() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("/proc/sys/net/ipv4/ip_local_port_range is readable");
    let mut bounds = text.split_whitespace().map(|n| n.parse::<u16>().unwrap());
    (bounds.next().unwrap(), bounds.next().unwrap())
}

/// The first port of every block that lies wholly outside the ephemeral range.
fn candidate_blocks() -> Vec<u16> {
    let (low, high) = ephemeral_range();
    let outside = |first: u16| {
        let last = first + (BLOCK - 1);
        last < low || first > high
    };
    // The last block ends at 65534, so `first + BLOCK` (a range's end) fits a u16.
    (LOWEST..=u16::MAX - BLOCK)
        .step_by(BLOCK as usize)
        .filter(|&first| outside(first))
        .collect()
}

fn lock_dir() -> PathBuf {
    // Shared by every test process of every checkout on the machine.
    let dir = std::env::temp_dir().join("sfcrime-test-ports");
    std::fs::create_dir_all(&dir).expect("the port lock dir can be made");
    dir
}

fn lock_file(dir: &Path, first: u16) -> PathBuf {
    dir.join(format!("block-{first}.lock"))
}

/// Takes the block's lock without waiting; `None` if another holder has it.
fn try_lock(dir: &Path, first: u16) -> Option<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_file(dir, first))
        .expect("a port lock file can be opened");
    // SAFETY: flock on a descriptor we own, which stays open as long as `file`.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    locked.then_some(file)
}

/// Reserves a block of [`BLOCK`] ports that nobody else listens on. Starts
/// at a place that depends on the process and the moment, so concurrent
/// test binaries rarely even try the same block.
pub fn reserve() -> PortBlock {
    reserve_in(&lock_dir())
}

/// [`reserve`] with the locks in `dir` (the tests of this module use a
/// private one, so that other tests' reservations cannot interfere).
fn reserve_in(dir: &Path) -> PortBlock {
    let blocks = candidate_blocks();
    assert!(
        !blocks.is_empty(),
        "no port block lies outside the ephemeral range {:?}",
        ephemeral_range()
    );
    let seed = std::process::id() as usize
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as usize;
    for step in 0..blocks.len() {
        let first = blocks[(seed + step) % blocks.len()];
        let Some(lock) = try_lock(dir, first) else {
            continue;
        };
        // Something outside the tests may listen there: skip the block.
        let free = (first..first + BLOCK).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if free {
            return PortBlock { first, _lock: lock };
        }
    }
    panic!("every port block outside the ephemeral range is taken or in use");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn concurrent_reservations_never_share_a_port_or_touch_the_ephemeral_range() {
        let (low, high) = ephemeral_range();
        let dir = tempfile::tempdir().unwrap();
        // Each thread opens its own lock files, as separate processes would
        // (flock locks belong to the open file, not the process).
        let blocks: Vec<PortBlock> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|_| scope.spawn(|| (0..4).map(|_| reserve_in(dir.path())).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let mut seen = BTreeSet::new();
        for block in &blocks {
            for port in block.ports() {
                assert!(
                    !(low..=high).contains(&port),
                    "port {port} is in the ephemeral range {low}-{high}"
                );
                assert!(seen.insert(port), "port {port} was handed out twice");
            }
        }
        assert_eq!(seen.len(), 64 * BLOCK as usize);
    }

    #[test]
    fn every_candidate_block_is_whole_and_outside_the_ephemeral_range() {
        let (low, high) = ephemeral_range();
        let blocks = candidate_blocks();
        assert!(blocks.len() > 100, "only {} blocks", blocks.len());
        for first in blocks {
            // A block at the very top once wrapped to an empty range.
            let end = first
                .checked_add(BLOCK)
                .expect("the block's range fits a u16");
            assert!(
                first >= LOWEST && (end - 1 < low || first > high),
                "block {first}"
            );
        }
    }

    #[test]
    fn a_block_is_free_again_once_dropped_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let block = reserve_in(dir.path());
        assert!(
            try_lock(dir.path(), block.first).is_none(),
            "a held block can be locked"
        );
        // Another process (util-linux's flock) cannot take it either.
        let lock_file = lock_file(dir.path(), block.first);
        let other = std::process::Command::new("flock")
            .args(["--nonblock", "--conflict-exit-code", "7"])
            .arg(&lock_file)
            .arg("true")
            .status()
            .expect("flock(1) runs");
        assert_eq!(other.code(), Some(7), "another process took a held block");
        let first = block.first;
        drop(block);
        // Not always at once: a process that another test thread is forking
        // holds a copy of every descriptor until its exec closes them
        // (close-on-exec), and with it the lock.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while try_lock(dir.path(), first).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "a dropped block stays locked"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
