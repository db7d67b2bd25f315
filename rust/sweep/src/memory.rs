//! Peak memory of the driver JVM of a run.
//!
//! `wait4`'s rusage cannot give it: `spark/submit.sh` runs the Python
//! driver, which launches `spark-submit`, which execs `java`; the JVM is a
//! grandchild that nobody waits for (it exits when its stdin closes), so its
//! peak never reaches our rusage. The run does keep one process group
//! (`SparkRun` makes the script a group leader and nothing below it starts a
//! session), so a sampler thread scans `/proc` for the group's `java`
//! process and reads its `VmHWM`, the kernel's own high-water mark of
//! resident memory. Since VmHWM only grows, sampling misses at most what
//! the JVM adds in its last interval before exiting.

use sfcrime_process::procfs::clock_ticks_per_second;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the sampler saw of the driver JVM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriverMemory {
    /// Highest VmHWM seen, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// The `-Xmx` the JVM was started with (e.g. `1g`).
    pub xmx: Option<String>,
    /// CPU time (user + system) the JVM had used at the last sample, in
    /// seconds: the work a setting costs, which unlike wall time hardly
    /// depends on what else the machine is running.
    pub cpu_s: Option<f64>,
}

/// A background thread sampling one process group until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<DriverMemory>,
}

impl Sampler {
    /// Starts sampling the process group `pgid` every `every`.
    pub fn start(pgid: u32, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut seen = DriverMemory::default();
            while !flag.load(Ordering::SeqCst) {
                sample(pgid, &mut seen);
                std::thread::sleep(every);
            }
            seen
        });
        Sampler { stop, handle }
    }

    /// Stops the thread and returns what it saw.
    pub fn finish(self) -> DriverMemory {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap_or_default()
    }
}

/// One scan of `/proc` for the group's java processes.
fn sample(pgid: u32, seen: &mut DriverMemory) {
    for pid in sfcrime_process::pids() {
        // Processes come and go under us: any read may fail; skip them.
        let Some(stat) = sfcrime_process::stat(pid) else {
            continue;
        };
        if stat.pgid != pgid || stat.comm != "java" {
            continue;
        }
        // The group also runs Spark's short-lived launcher JVM (-Xmx128m,
        // org.apache.spark.launcher.Main, SparkSubmit as its argument); only
        // the other one is the driver.
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if !is_driver(&cmdline) {
            continue;
        }
        if let Some(hwm) = sfcrime_process::status_kib(pid, "VmHWM:") {
            seen.peak_rss_kib = Some(seen.peak_rss_kib.map_or(hwm, |p| p.max(hwm)));
        }
        if seen.xmx.is_none() {
            seen.xmx = xmx(&cmdline);
        }
        seen.cpu_s = Some(stat.cpu_ticks as f64 / clock_ticks_per_second());
    }
}

/// Whether a JVM's NUL-separated command line runs Spark's driver. The
/// launcher JVM names SparkSubmit too, as an argument after its own main
/// class, so it is told apart by that class.
fn is_driver(cmdline: &[u8]) -> bool {
    let has = |class: &[u8]| cmdline.split(|&b| b == 0).any(|arg| arg == class);
    has(b"org.apache.spark.deploy.SparkSubmit") && !has(b"org.apache.spark.launcher.Main")
}

/// The last `-Xmx` argument of a NUL-separated command line (the JVM takes
/// the last one).
fn xmx(cmdline: &[u8]) -> Option<String> {
    cmdline
        .rsplit(|&b| b == 0)
        .find_map(|arg| arg.strip_prefix(b"-Xmx"))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_fields() {
        let cmdline = b"java\0-cp\0x\0-Xmx1g\0-Xmx2g\0org.apache.spark.deploy.SparkSubmit\0";
        assert_eq!(xmx(cmdline).as_deref(), Some("2g"));
        assert_eq!(xmx(b"java\0-version\0"), None);
        assert!(is_driver(cmdline));
        assert!(!is_driver(
            b"java\0-Xmx128m\0org.apache.spark.launcher.Main\0org.apache.spark.deploy.SparkSubmit\0"
        ));
    }

    #[test]
    fn samples_a_real_process_group() {
        // This test process's own group has no java in it: nothing is seen,
        // and the sampler stops cleanly.
        let pgid = std::process::id();
        let sampler = Sampler::start(pgid, Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(sampler.finish(), DriverMemory::default());
    }
}
