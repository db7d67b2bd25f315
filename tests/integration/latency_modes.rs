//! The two latency modes of `spark run` on a live stream, small slices with
//! exact results (their speed is measured by `sfcrime bench latency`, not
//! here): `--low-latency`, the counts on back-to-back micro-batches, equal
//! to ground truth once drained; `--real-time`, the enriched-calls pipeline
//! in Spark's real-time mode, every call exactly once with its radio code's
//! description.

use crate::common::background::{spawn, Running};
use crate::common::{
    create_topic, data_slice, home, progress_events, shared_broker, spark_turn, wait_for,
    Aggregates, Broker,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Calls in each test's stream: several micro-batches at the produce rate.
const RECORDS: u64 = 3000;
const RATE: &str = "1000";

/// Rows the query has read, over its progress events.
fn rows_read(progress: &Path) -> u64 {
    progress_events(progress)
        .iter()
        .filter_map(|p| p["numInputRows"].as_u64())
        .sum()
}

/// Starts the job, waits for its first progress event (the query runs),
/// then streams the slice at RATE and waits until the producer is done.
fn stream_into_running_job(
    broker: &Broker,
    topic: &str,
    job_args: &[&str],
    slice: &Path,
) -> (Running, std::path::PathBuf) {
    let mut args = vec!["spark", "run", "-t", topic];
    args.extend_from_slice(job_args);
    let job = spawn(broker, &args);
    let run_dir = job.run_dir(Duration::from_secs(120));
    let progress = run_dir.join("progress.jsonl");
    wait_for(
        "the query's first progress event",
        Duration::from_secs(300),
        &run_dir.join("spark.log"),
        || !progress_events(&progress).is_empty(),
    );
    let producer = spawn(
        broker,
        &[
            "produce",
            "-t",
            topic,
            "-f",
            slice.to_str().unwrap(),
            "--rate",
            RATE,
        ],
    );
    let (status, _, stderr) = producer.finish(Duration::from_secs(120));
    assert!(status.success(), "produce failed: {stderr}");
    (job, run_dir)
}

/// Ctrl-C, as a user stops a streaming run; the run must end cleanly.
fn stop(job: Running) -> String {
    sfcrime_process::signal(job.child.id(), libc::SIGINT).unwrap();
    let (status, stdout, stderr) = job.finish(Duration::from_secs(180));
    assert!(status.success(), "spark run failed:\n{stdout}\n{stderr}");
    stdout
}

#[test]
fn low_latency_counts_a_live_stream_exactly() {
    let broker = shared_broker();
    let topic = "latency.low";
    create_topic(broker, topic);
    let (_slice_dir, slice) = data_slice(RECORDS as usize);
    let _turn = spark_turn();
    let output = tempfile::tempdir().unwrap();
    let output_arg = output.path().display().to_string();
    let (job, run_dir) = stream_into_running_job(
        broker,
        topic,
        &["--low-latency", "--output-dir", &output_arg],
        &slice,
    );
    let progress = run_dir.join("progress.jsonl");
    wait_for(
        "the query reading every produced call",
        Duration::from_secs(120),
        &run_dir.join("spark.log"),
        || rows_read(&progress) >= RECORDS,
    );
    let stdout = stop(job);
    assert!(
        stdout.contains(&format!("summary: {RECORDS} input rows")),
        "{stdout}"
    );

    let events = progress_events(&progress);
    let batches: Vec<&Value> = events
        .iter()
        .filter(|p| p["numInputRows"].as_u64() > Some(0))
        .collect();
    assert!(
        batches.len() >= 2,
        "a live stream in one batch? {} batches",
        batches.len()
    );
    // The preset: one state-store partition, and a new batch as soon as the
    // last one ended (no 10 s wait between two non-empty batches).
    assert_eq!(batches[0]["stateOperators"][0]["numShufflePartitions"], 1);
    Aggregates::from_job_output(output.path()).assert_equal(&Aggregates::ground_truth(&slice));
}

#[test]
fn real_time_pipeline_enriches_every_call_exactly_once() {
    let broker = shared_broker();
    let topic = "latency.real-time";
    create_topic(broker, topic);
    let enriched = format!("{topic}.enriched");
    let (_slice_dir, slice) = data_slice(RECORDS as usize);
    let _turn = spark_turn();
    // A short checkpoint interval: progress (one event per interval) shows soon that it runs.
    let (job, run_dir) =
        stream_into_running_job(broker, topic, &["--real-time", "5 seconds"], &slice);
    let verify = || {
        broker
            .sfcrime()
            .args([
                "consume",
                "-t",
                &enriched,
                "--verify",
                slice.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    wait_for(
        "every call in the enriched topic",
        Duration::from_secs(120),
        &run_dir.join("spark.log"),
        || verify().status.success(),
    );
    let stdout = stop(job);
    assert!(
        stdout.contains(&format!("enriched calls in topic '{enriched}'")),
        "{stdout}"
    );

    // Exactly once and intact (also after the stop), and timed per record.
    let out = verify();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "verify OK: {RECORDS} expected, {RECORDS} present, 0 missing, 0 duplicated"
        )),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "pipeline latency (input record's timestamp -> this record's, {RECORDS} records)"
        )),
        "{stderr}"
    );

    // Each call carries its disposition's radio-code description (null without one).
    let codes: BTreeMap<String, String> = serde_json::from_str::<Vec<Value>>(
        &std::fs::read_to_string(home().join("data/radio_code.json")).unwrap(),
    )
    .unwrap()
    .into_iter()
    .map(|c| {
        (
            c["disposition_code"].as_str().unwrap().to_string(),
            c["description"].as_str().unwrap().to_string(),
        )
    })
    .collect();
    let out = broker
        .sfcrime()
        .args(["consume", "-t", &enriched])
        .output()
        .unwrap();
    let calls: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len() as u64, RECORDS);
    for call in &calls {
        let want = codes.get(call["disposition"].as_str().unwrap());
        assert_eq!(
            call["description"].as_str(),
            want.map(String::as_str),
            "{call}"
        );
    }
    assert!(
        calls.iter().any(|c| c["description"].is_null()),
        "no call without a radio code?"
    );
}
