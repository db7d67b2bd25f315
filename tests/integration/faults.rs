//! Faults injected into the real pipeline, and what must survive them:
//!
//! - the broker is killed (SIGKILL) while the full dataset is being produced
//!   and restarted on the same data: the idempotent producer finishes and
//!   the topic holds every record exactly once;
//! - the broker stays down past the producer's delivery timeout: the
//!   producer fails and names the index to resume from; `produce --resume`
//!   then sends exactly what the topic lacks: nothing lost, nothing twice;
//! - the Spark job is killed (SIGKILL, its whole process group) after a few
//!   micro-batches and rerun on the same checkpoint: its final aggregates
//!   equal the ground truth exactly;
//! - a file with bad records of every kind, produced with --skip-invalid:
//!   sent + dead-lettered == elements, and the resume point covers them all.
//!
//! The two broker faults each start a broker of their own, in the broker lane
//! (`broker_turn`): a killed broker must not take other tests' topics with it.
//! The Spark fault and the bad input need only a topic of the shared broker;
//! the Spark fault runs on a 30,000-call slice (10 batches), which proves
//! the replay as well as the whole file would.
//! Measurements go to stderr as `faults: ...` lines (`--nocapture` shows
//! them; docs/RELIABILITY.md records a run).

use crate::common::background::{own_pgid, processes_with_arg, spawn, KillGroupsWith, Running};
use crate::common::{
    assert_all_delivered, batches_with_rows, broker_turn, count, create_topic, data_file,
    data_slice, json, shared_broker, spark_turn, verify, Aggregates, Broker, TOPIC,
};
use serde_json::Value;
use std::time::{Duration, Instant};

const RECORDS: u64 = 199_999;

// ---------------------------------------------------------------------------
// Kafka helpers

/// `stack up` on the same stack dir and ports: restarts on the same data.
/// Returns how long it took until the broker answered.
fn restart(broker: &Broker) -> Duration {
    let started = Instant::now();
    let out = broker.stack(&["up"]).output().unwrap();
    assert!(
        out.status.success(),
        "restart failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// The index in "resume with --start-at N".
fn resume_point(stderr: &str) -> u64 {
    let (_, rest) = stderr
        .rsplit_once("resume with --start-at ")
        .unwrap_or_else(|| panic!("no resume point in:\n{stderr}"));
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Broker faults

/// Starts producing the whole file at 20,000 records/s (~10 s) with the given
/// delivery timeout and SIGKILLs the broker 3 s in, a third of the way.
fn produce_and_crash_the_broker(broker: &Broker, message_timeout_ms: u64) -> (Running, Instant) {
    let timeout = format!("message.timeout.ms={message_timeout_ms}");
    let producer = spawn(
        broker,
        &[
            "produce", "-t", TOPIC, "--rate", "20000", "--json", "-X", &timeout,
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    broker.crash_node(1);
    (producer, Instant::now())
}

#[test]
fn broker_killed_mid_produce_and_restarted_loses_and_duplicates_nothing() {
    let _turn = broker_turn();
    let broker = Broker::start();
    // The default 60 s already outlasts a restart; more, because a JVM
    // restart on a busy 2-core machine can take a while, and this test is
    // about the crash, not the timeout (next test).
    let (producer, killed_at) = produce_and_crash_the_broker(&broker, 180_000);
    std::thread::sleep(Duration::from_secs(2));
    let restart_took = restart(&broker);
    let (status, stdout, stderr) = producer.finish(Duration::from_secs(300));
    let producer_done_after_kill = killed_at.elapsed();
    let summary = assert_all_delivered(status, &stdout, &stderr, RECORDS);

    let report = verify(&broker, TOPIC, &data_file());
    eprintln!(
        "faults: broker crash mid-produce: down 2 s, restart took {:.1} s, producer done \
         {:.1} s after the kill ({:.1} s in all); summary {summary}; verify {report}",
        restart_took.as_secs_f64(),
        producer_done_after_kill.as_secs_f64(),
        summary["seconds"].as_f64().unwrap_or(0.0)
    );
    assert_eq!(count(&report, "present"), RECORDS, "{report}");
    assert_eq!(count(&report, "missing"), 0, "{report}");
    assert_eq!(count(&report, "duplicated"), 0, "{report}");
    assert_eq!(count(&report, "corrupted"), 0, "{report}");
    assert_eq!(count(&report, "foreign"), 0, "{report}");
}

#[test]
fn broker_down_past_the_delivery_timeout_fails_and_resumes_without_loss() {
    let _turn = broker_turn();
    let broker = Broker::start();
    let (producer, killed_at) = produce_and_crash_the_broker(&broker, 5_000);
    let (status, stdout, stderr) = producer.finish(Duration::from_secs(180));
    let gave_up_after = killed_at.elapsed();
    // 2: deliveries failed (listed); 1: the producer hit an error it could
    // not go on from. Either way it must say where to resume.
    let code = status.code();
    assert!(
        matches!(code, Some(1 | 2)),
        "producer exit {status}:\n{stdout}\n{stderr}"
    );
    let start_at = resume_point(&stderr);
    let first = (code == Some(2)).then(|| json(&stdout));
    if let Some(summary) = &first {
        assert_eq!(count(summary, "confirmed_prefix"), start_at, "{summary}");
        assert!(count(summary, "failed") > 0, "{summary}");
    }
    assert!(
        start_at > 0 && start_at < RECORDS,
        "resume point {start_at}"
    );

    let restart_took = restart(&broker);
    // What the failed run left in the topic: everything below the resume
    // point, plus whatever of the unconfirmed window the broker had
    // written before it died.
    let before = verify(&broker, TOPIC, &data_file());
    let present_before = count(&before, "present");
    assert_eq!(count(&before, "duplicated"), 0, "{before}");
    assert!(present_before >= start_at, "{before}");
    if let Some(first_missing) = before["first_missing"].as_array().and_then(|m| m.first()) {
        assert!(
            first_missing.as_u64().unwrap() >= start_at,
            "a record below the resume point {start_at} is missing: {before}"
        );
    }

    let resumed_at = Instant::now();
    let out = broker
        .sfcrime()
        .args(["produce", "-t", TOPIC, "--json", "--resume"])
        .output()
        .unwrap();
    let resume_took = resumed_at.elapsed();
    let resumed = json(&String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "resume failed: {resumed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        count(&resumed, "sent"),
        RECORDS - present_before,
        "{resumed}"
    );
    assert_eq!(
        count(&resumed, "already_in_topic"),
        present_before,
        "{resumed}"
    );
    assert_eq!(count(&resumed, "confirmed_prefix"), RECORDS, "{resumed}");

    let after = verify(&broker, TOPIC, &data_file());
    eprintln!(
        "faults: broker down past message.timeout.ms=5000: producer exit {code:?} {:.1} s after \
         the kill, resume point {start_at} ({} confirmed), {present_before} records in the \
         topic before the resume (so {} unconfirmed ones made it), restart {:.1} s, resume \
         sent {} in {:.1} s; first run summary {}; verify after resume {after}",
        gave_up_after.as_secs_f64(),
        start_at,
        present_before - start_at,
        restart_took.as_secs_f64(),
        count(&resumed, "sent"),
        resume_took.as_secs_f64(),
        first
            .map(|s| s.to_string())
            .unwrap_or_else(|| "(exit 1: none)".into()),
    );
    // Nothing lost, nothing twice: the unconfirmed records that had reached
    // the topic anyway were not sent again (--start-at would have).
    assert_eq!(count(&after, "present"), RECORDS, "{after}");
    assert_eq!(count(&after, "missing"), 0, "{after}");
    assert_eq!(count(&after, "duplicated"), 0, "{after}");
    assert_eq!(count(&after, "corrupted"), 0, "{after}");
    assert_eq!(count(&after, "foreign"), 0, "{after}");
}

// ---------------------------------------------------------------------------
// Spark job fault

/// The Spark fault runs on a slice of the dataset in a topic of the shared
/// broker: a killed job, not a killed broker, so no broker of its own.
const SPARK_TOPIC: &str = "faults.spark";
const SPARK_RECORDS: u64 = 30_000;

/// `spark run --available-now` with 3,000-record micro-batches (10 in all)
/// on the given checkpoint and output dirs.
fn spark_args<'a>(checkpoint: &'a str, output: &'a str) -> Vec<&'a str> {
    vec![
        "spark",
        "run",
        "--available-now",
        "-t",
        SPARK_TOPIC,
        "--max-offsets-per-trigger",
        "3000",
        "--checkpoint-dir",
        checkpoint,
        "--output-dir",
        output,
    ]
}

#[test]
fn spark_job_killed_mid_stream_reruns_to_exact_results() {
    let broker = shared_broker();
    create_topic(broker, SPARK_TOPIC);
    broker
        .sfcrime()
        .args(["produce", "-t", SPARK_TOPIC, "--limit"])
        .arg(SPARK_RECORDS.to_string())
        .assert()
        .success();
    let (_slice_dir, slice) = data_slice(SPARK_RECORDS as usize);
    let _turn = spark_turn();
    let work = tempfile::tempdir().unwrap();
    let checkpoint = work.path().join("checkpoint").display().to_string();
    let output = work.path().join("output");
    let output_arg = output.display().to_string();
    let _cleanup = KillGroupsWith(checkpoint.clone());

    let first = spawn(broker, &spark_args(&checkpoint, &output_arg));
    let run_dir = first.run_dir(Duration::from_secs(120));
    let progress = run_dir.join("progress.jsonl");
    let deadline = Instant::now() + Duration::from_secs(900);
    while batches_with_rows(&progress).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "fewer than 3 batches after 15 minutes; log {}",
            run_dir.join("spark.log").display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let done_before_kill = batches_with_rows(&progress);

    // The runner starts spark/submit.sh in a process group of its own; the
    // job's driver (python) and the script carry the checkpoint dir in
    // their arguments, and the JVM is in the same group.
    // `sfcrime spark run` itself has it too: it stays out of the kill, so
    // the test sees whether it notices the job's death and ends by itself.
    let cli = first.child.id();
    let jobs: Vec<_> = processes_with_arg(&checkpoint)
        .into_iter()
        .filter(|(pid, _)| *pid != cli)
        .collect();
    assert!(!jobs.is_empty(), "no process runs with {checkpoint}");
    let pgid = jobs[0].1;
    assert!(
        jobs.iter().all(|(_, g)| *g == pgid),
        "several groups: {jobs:?}"
    );
    assert_ne!(pgid, own_pgid(), "the job must not share the test's group");
    let killed_at = Instant::now();
    sfcrime_process::signal_group(pgid, libc::SIGKILL).unwrap();
    let (status, _, stderr) = first.finish(Duration::from_secs(60));
    assert!(
        !status.success(),
        "the killed run exited successfully:\n{stderr}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while sfcrime_process::group_alive(pgid) {
        assert!(
            Instant::now() < deadline,
            "process group {pgid} survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let cli_gone_after = killed_at.elapsed();
    assert!(
        !output.join("final").exists(),
        "the killed run must not have finalized"
    );

    let rerun_started = Instant::now();
    let out = broker
        .sfcrime()
        .args(spark_args(&checkpoint, &output_arg))
        .output()
        .unwrap();
    let rerun_took = rerun_started.elapsed();
    assert!(
        out.status.success(),
        "rerun failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rerun_progress = crate::common::announced_run_dir(&out.stderr).join("progress.jsonl");
    let rerun_batches = batches_with_rows(&rerun_progress);
    let rerun_rows: u64 = rerun_batches.iter().map(|b| b.1).sum();
    let committed_rows: u64 = done_before_kill.iter().map(|b| b.1).sum();
    eprintln!(
        "faults: spark job killed after batches {done_before_kill:?} ({committed_rows} rows); \
         sfcrime exited {status} and the group was gone {:.1} s after the kill; the rerun \
         processed {rerun_rows} rows in batches {:?} and took {:.1} s",
        cli_gone_after.as_secs_f64(),
        rerun_batches.iter().map(|b| b.0).collect::<Vec<_>>(),
        rerun_took.as_secs_f64()
    );
    // It resumed from the checkpoint (not from the start), and nothing was
    // skipped: a batch cut short by the kill is replayed whole.
    assert!(
        rerun_rows < SPARK_RECORDS,
        "the rerun started over: {rerun_rows} rows"
    );
    assert!(rerun_rows + committed_rows >= SPARK_RECORDS);
    assert!(rerun_batches[0].0 <= done_before_kill.last().unwrap().0 + 1);

    let got = Aggregates::from_job_output(&output);
    got.assert_equal(&Aggregates::ground_truth(&slice));
}

// ---------------------------------------------------------------------------
// Bad input

/// 300 elements: the first real records, every tenth (from the fourth)
/// replaced by a bad one of another kind.
fn mixed_fixture() -> (Vec<u8>, u64) {
    let good: Vec<Vec<u8>> = sfcrime_records::RecordReader::open(data_file())
        .unwrap()
        .take(300)
        .map(|e| e.unwrap().raw)
        .collect();
    let mut null_city: Value = serde_json::from_slice(&good[0]).unwrap();
    null_city["city"] = Value::Null;
    let mut numeric_id: Value = serde_json::from_slice(&good[0]).unwrap();
    numeric_id["crime_id"] = Value::from(180_000_001);
    let mut bad_utf8 = good[1].clone();
    let quote = bad_utf8.iter().position(|b| *b == b'"').unwrap();
    bad_utf8.insert(quote + 1, 0xff);
    let bad: Vec<Vec<u8>> = vec![
        b"42".to_vec(),
        b"\"a string\"".to_vec(),
        b"null".to_vec(),
        b"[1, 2]".to_vec(),
        b"{\"crime_id\": \"x\"}".to_vec(),
        null_city.to_string().into_bytes(),
        numeric_id.to_string().into_bytes(),
        bad_utf8,
        format!("{}{}", "[".repeat(1000), "]".repeat(1000)).into_bytes(),
        b"{\"crime_id\": tru}".to_vec(),
    ];
    let mut file = b"[".to_vec();
    let mut dead = 0;
    for (i, element) in good.iter().enumerate() {
        if i > 0 {
            file.extend_from_slice(b",\n");
        }
        if i % 10 == 3 {
            file.extend_from_slice(&bad[dead % bad.len()]);
            dead += 1;
        } else {
            file.extend_from_slice(element);
        }
    }
    file.extend_from_slice(b"]\n");
    (file, dead as u64)
}

#[test]
fn skip_invalid_accounts_for_every_element() {
    // Only a topic of its own is needed: the shared broker serves it.
    const MIXED_TOPIC: &str = "faults.mixed";
    let broker = shared_broker();
    create_topic(broker, MIXED_TOPIC);
    let (contents, dead) = mixed_fixture();
    let (_dir, path) = crate::common::temp_file("mixed.json", &contents);
    let out = broker
        .sfcrime()
        .args([
            "produce",
            "-t",
            MIXED_TOPIC,
            "--skip-invalid",
            "--json",
            "-f",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let summary = json(&String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{summary}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("faults: --skip-invalid on 300 elements ({dead} bad): {summary}");
    assert_eq!(
        count(&summary, "sent") + count(&summary, "dead_lettered"),
        300
    );
    assert_eq!(count(&summary, "dead_lettered"), dead);
    assert_eq!(count(&summary, "delivered"), 300 - dead);
    assert_eq!(count(&summary, "failed"), 0);
    // Dead-lettered records are accounted for too: resuming must not send
    // everything after the first bad record again.
    assert_eq!(count(&summary, "confirmed_prefix"), 300, "{summary}");

    let report = verify(broker, MIXED_TOPIC, &path);
    assert_eq!(count(&report, "expected"), 300 - dead, "{report}");
    assert_eq!(count(&report, "present"), 300 - dead, "{report}");
    assert_eq!(count(&report, "missing") + count(&report, "duplicated"), 0);
    let dlq = broker
        .sfcrime()
        .args(["consume", "-t", &format!("{MIXED_TOPIC}.dlq"), "--json"])
        .output()
        .unwrap();
    assert!(
        dlq.status.success(),
        "{}",
        String::from_utf8_lossy(&dlq.stderr)
    );
    let dlq = json(&String::from_utf8_lossy(&dlq.stdout));
    assert_eq!(count(&dlq, "messages"), dead, "{dlq}");
}
