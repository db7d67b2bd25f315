//! The runner end to end against `fixtures/fake-submit.sh`, a bash stand-in
//! for `spark/submit.sh` with the same calling convention: it replays real
//! progress lines, prints a real failure log, or runs until signalled.

use sfcrime_spark::{
    new_run_dir, FailureKind, RunEvent, RunSummary, SparkRun, SparkRunError, StopReason,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A run of the fake script in a fresh root; `mode` and `replay` are its
/// job arguments.
fn fake_run(root: &Path, mode: &str, replay: Option<&str>) -> SparkRun {
    let mut run = SparkRun::new(root)
        .script(fixture("fake-submit.sh"))
        .poll_interval(Duration::from_millis(10))
        .master("local[2]")
        .conf("spark.sql.shuffle.partitions", "4")
        .app_arg("--mode")
        .app_arg(mode);
    if let Some(replay) = replay {
        run = run.app_arg("--replay").app_arg(fixture(replay));
    }
    run
}

/// What the callback saw, in order, as short strings; the polls, which come
/// every poll interval whatever happens, left out.
fn recorder(seen: &mut Vec<String>) -> impl FnMut(RunEvent<'_>) + '_ {
    move |event| {
        seen.push(match event {
            RunEvent::Polled => return,
            RunEvent::Started { paths, pid } => {
                assert!(pid > 0 && paths.dir.is_dir());
                "started".to_string()
            }
            RunEvent::UiAddress(url) => format!("ui {url}"),
            RunEvent::Progress(p) => format!("batch {}", p.batch_id.unwrap()),
            RunEvent::BadProgressLine { line, error } => {
                format!(
                    "bad {line}: {}",
                    error.to_string().split(':').next().unwrap()
                )
            }
            RunEvent::Stopping(reason) => format!("stopping {reason:?}"),
        })
    }
}

#[test]
fn a_successful_run_streams_progress_and_writes_its_summary() {
    let root = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    let outcome = fake_run(root.path(), "ok", Some("spark-4.2.0/rate-stateful.jsonl"))
        .env("SFCRIME_FAKE", "passed through")
        .run(recorder(&mut seen))
        .unwrap();

    assert_eq!(seen[0], "started");
    assert!(
        seen.contains(&"ui http://localhost:4040".to_string()),
        "{seen:?}"
    );
    let batches: Vec<&String> = seen.iter().filter(|s| s.starts_with("batch ")).collect();
    let expected: Vec<String> = (0..18).map(|b| format!("batch {b}")).collect();
    assert_eq!(batches, expected.iter().collect::<Vec<_>>());
    // The non-JSON line after the third event is reported and skipped.
    let bad_at = seen.iter().position(|s| s.starts_with("bad ")).unwrap();
    assert_eq!(
        seen[bad_at],
        "bad this is not json: not a Spark StreamingQueryProgress event"
    );
    assert_eq!(seen[bad_at - 1], "batch 2");

    assert_eq!(outcome.stopped, None);
    assert_eq!(outcome.ui_address.as_deref(), Some("http://localhost:4040"));
    let paths = &outcome.paths;
    assert_eq!(paths.dir.parent(), Some(root.path().join("runs").as_path()));
    let log = std::fs::read_to_string(&paths.log).unwrap();
    assert!(log.contains("spark-submit --master local[2] --conf spark.sql.shuffle.partitions=4\n"));
    assert!(log.contains("SFCRIME_FAKE=passed through\n"));

    let written: RunSummary =
        serde_json::from_str(&std::fs::read_to_string(&paths.summary).unwrap()).unwrap();
    assert_eq!(written, outcome.summary);
    assert_eq!(written.progress_events, 18);
    assert_eq!(written.total_input_rows, 1150);
    // Measured from launch: the replayed timestamps are from 2026-11-25, so
    // only the origin is checked, not the value.
    assert_eq!(
        written.time_origin,
        Some(sfcrime_spark::summary::TimeOrigin::Launch)
    );
}

#[test]
fn a_failed_run_explains_the_relevant_log_lines() {
    let root = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    let err = fake_run(root.path(), "fail", Some("logs/broker-down.log"))
        .run(recorder(&mut seen))
        .unwrap_err();
    let SparkRunError::Failed(failure) = &err else {
        panic!("expected a failure, got {err}");
    };
    assert_eq!(failure.status.code(), Some(1));
    assert_eq!(failure.diagnosis.primary(), Some(FailureKind::BrokerDown));
    assert_eq!(failure.summary.progress_events, 0);
    assert!(failure.paths.summary.is_file());

    let shown = err.to_string();
    let mut lines = shown.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "spark/submit.sh failed (exit status 1); full log: {}",
            failure.paths.log.display()
        )
    );
    assert_eq!(lines.next().unwrap(), FailureKind::BrokerDown.explanation());
    assert_eq!(lines.count(), 3, "{shown}");
}

#[test]
fn a_deadline_stops_the_job_with_sigint() {
    let root = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    let outcome = fake_run(root.path(), "forever", None)
        .stop_after(Duration::from_millis(300))
        .run(recorder(&mut seen))
        .unwrap();
    assert_eq!(outcome.stopped, Some(StopReason::Deadline));
    assert_eq!(seen, ["started", "stopping Deadline"]);
    let log = std::fs::read_to_string(&outcome.paths.log).unwrap();
    assert!(log.contains("stopping on SIGINT"), "{log}");
    assert_eq!(outcome.summary.progress_events, 0);
}

#[test]
fn the_caller_is_polled_while_the_job_runs() {
    let root = tempfile::tempdir().unwrap();
    let mut polls = 0;
    fake_run(root.path(), "forever", None)
        .poll_interval(Duration::from_millis(20))
        .stop_after(Duration::from_millis(400))
        .run(|event| {
            if matches!(event, RunEvent::Polled) {
                polls += 1;
            }
        })
        .unwrap();
    // 400 ms at one poll per 20 ms, on a busy machine too.
    assert!(polls >= 5, "{polls} polls");
}

#[test]
fn a_job_that_ignores_sigint_gets_sigterm() {
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let outcome = fake_run(root.path(), "stubborn", None)
        .stop_after(Duration::from_millis(500))
        .stop_grace(Duration::from_millis(300))
        .run(|_| {})
        .unwrap();
    assert_eq!(outcome.stopped, Some(StopReason::Deadline));
    // SIGINT at 500 ms did nothing; SIGTERM one grace period later did.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_run_that_ends_early_takes_the_job_with_it() {
    let root = tempfile::tempdir().unwrap();
    let mut pid = 0;
    let run = fake_run(root.path(), "forever", None);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run.run(|event| {
            if let RunEvent::Started { pid: started, .. } = event {
                pid = started;
                panic!("the caller's display broke");
            }
        })
    }));
    assert!(result.is_err());
    assert!(pid > 0);
    // Killed and reaped: the pid names no process any more.
    assert!(
        sfcrime_process::stat(pid).is_none(),
        "job {pid} outlived its run"
    );
}

#[test]
fn a_run_directory_made_beforehand_is_used_as_is() {
    let root = tempfile::tempdir().unwrap();
    let dir = new_run_dir(&root.path().join("elsewhere")).unwrap();
    // e.g. for the job's checkpoint and output, as `sfcrime spark run` does.
    std::fs::create_dir(dir.join("checkpoint")).unwrap();
    let outcome = fake_run(root.path(), "forever", None)
        .run_dir(&dir)
        .stop_after(Duration::from_millis(300))
        .run(|_| {})
        .unwrap();
    assert_eq!(outcome.paths.dir, dir);
    assert!(outcome.paths.log.is_file() && outcome.paths.summary.is_file());
    assert!(dir.join("checkpoint").is_dir());
    assert!(!root.path().join("runs").exists());
}

#[test]
fn a_missing_script_is_reported_before_anything_runs() {
    let root = tempfile::tempdir().unwrap();
    let err = SparkRun::new(root.path()).run(|_| {}).unwrap_err();
    assert!(matches!(err, SparkRunError::Io { .. }));
    assert!(
        err.to_string().starts_with(&format!(
            "cannot run {}",
            root.path().join("spark/submit.sh").display()
        )),
        "{err}"
    );
    assert!(!root.path().join("runs").exists());
}
