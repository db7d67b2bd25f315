//! Ctrl-C during a run stops the job gracefully instead of killing this
//! process, and a second Ctrl-C does not wait for the grace period. In a test
//! binary of its own, as one test: the signals are process-wide and would
//! stop the runs of other tests too.

use sfcrime_spark::{RunEvent, RunOutcome, SparkRun, StopReason};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Sends SIGINT to this process, as a terminal's Ctrl-C would.
fn ctrl_c() {
    sfcrime_process::signal(std::process::id(), libc::SIGINT).unwrap();
}

/// Presses Ctrl-C from another thread once the fake job logged "ready",
/// i.e. once its own SIGINT trap is in place.
fn ctrl_c_when_ready(log: PathBuf) {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().any(|l| l == "ready") {
                return ctrl_c();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}

fn fake_run(root: &Path, mode: &str) -> SparkRun {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-submit.sh");
    SparkRun::new(root)
        .script(script)
        .poll_interval(Duration::from_millis(10))
        .app_arg("--mode")
        .app_arg(mode)
}

#[test]
fn ctrl_c_is_forwarded_and_a_second_one_hurries() {
    // One Ctrl-C: SIGINT reaches the job, which stops by itself.
    let root = tempfile::tempdir().unwrap();
    let mut stopping = Vec::new();
    let outcome: RunOutcome = fake_run(root.path(), "forever")
        .run(|event| match event {
            RunEvent::Started { paths, .. } => ctrl_c_when_ready(paths.log.clone()),
            RunEvent::Stopping(reason) => stopping.push(reason),
            _ => {}
        })
        .unwrap();
    assert_eq!(outcome.stopped, Some(StopReason::Interrupted));
    assert_eq!(stopping, [StopReason::Interrupted]);
    let log = std::fs::read_to_string(&outcome.paths.log).unwrap();
    assert!(log.contains("stopping on SIGINT"), "{log}");

    // A job that ignores SIGINT, with a grace period far longer than the test:
    // only the second Ctrl-C can explain a quick end (by SIGTERM).
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let outcome = fake_run(root.path(), "stubborn")
        .stop_grace(Duration::from_secs(20))
        .run(|event| match event {
            RunEvent::Started { paths, .. } => ctrl_c_when_ready(paths.log.clone()),
            RunEvent::Stopping(_) => ctrl_c(),
            _ => {}
        })
        .unwrap();
    assert_eq!(outcome.stopped, Some(StopReason::Interrupted));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "waited out the grace period: {took:?}"
    );
}
