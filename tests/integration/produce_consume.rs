//! The producer and console consumer against a real broker: the full dataset
//! arrives exactly once and intact, bad input is named by record index and
//! byte offset (or dead-lettered), pacing holds, an absent broker fails fast.

use crate::common::background::spawn;
use crate::common::{
    count, create_topic, data_file, data_slice, json, shared_broker, temp_file, test_environment,
    topic_with_slice, verify,
};
use predicates::str::contains;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn record(id: &str, time: &str) -> String {
    format!(
        r#"{{"crime_id": "{id}", "original_crime_type_name": "Theft", "report_date": "2018-12-31T00:00:00.000",
  "call_date": "2018-12-31T00:00:00.000", "offense_date": "2018-12-31T00:00:00.000", "call_time": "23:57",
  "call_date_time": "{time}", "disposition": "ADV", "address": "100 Block Of Main St", "city": "San Francisco",
  "state": "CA", "agency_id": "1", "address_type": "Premise Address", "common_location": ""}}"#
    )
}

#[test]
fn full_dataset_arrives_exactly_once_and_intact() {
    let broker = shared_broker();
    create_topic(broker, "full");
    broker
        .sfcrime()
        .args(["produce", "-t", "full"])
        .assert()
        .success()
        .stdout(contains(
            "produced 199999 records to 'full' (199999 acknowledged, 0 failed",
        ));
    broker
        .sfcrime()
        .args(["consume", "-t", "full", "--verify"])
        .arg(data_file())
        .assert()
        .success()
        .stdout(contains(
            "verify OK: 199999 expected, 199999 present, 0 missing, 0 duplicated, 0 corrupted",
        ));
}

/// `sfcrime consume | head`: once the reader has closed the pipe, consume
/// ends quietly and successfully, as a Unix filter does, instead of
/// reporting the broken pipe as an error.
#[test]
fn consume_into_a_closed_pipe_ends_quietly() {
    let broker = shared_broker();
    // 2,000 calls are ~800 KB of JSON, far more than a pipe's buffer.
    let _slice = topic_with_slice(broker, "pipe", 2000);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sfcrime"));
    test_environment(&mut cmd);
    let mut child = cmd
        .env("SFCRIME_BOOTSTRAP_SERVERS", broker.bootstrap())
        .args(["consume", "-t", "pipe", "--from-beginning"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // (the read end is dropped here: the pipe is closed)
    assert!(first.starts_with(b"{\"crime_id\""), "{first:?}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn verify_reports_missing_and_duplicated_records() {
    let broker = shared_broker();
    create_topic(broker, "partial");
    for _ in 0..2 {
        broker
            .sfcrime()
            .args(["produce", "-t", "partial", "--limit", "100"])
            .assert()
            .success();
    }
    broker
        .sfcrime()
        .args(["consume", "-t", "partial", "--verify"])
        .arg(data_file())
        .assert()
        .code(2)
        .stdout(contains(
            "verify MISMATCH: 199999 expected, 100 present, 199899 missing, 100 duplicated",
        ))
        .stdout(contains("first missing indexes: [100, 101,"));
}

#[test]
fn resume_sends_only_what_the_topic_lacks() {
    let broker = shared_broker();
    create_topic(broker, "resume");
    let (_dir, slice) = data_slice(500);
    let produce = |args: &[&str]| {
        let out = broker
            .sfcrime()
            .args(["produce", "-t", "resume", "--json", "-f"])
            .arg(&slice)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "produce {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&stdout)
    };
    // A topic with gaps: records 0-99 and 300-349.
    produce(&["--limit", "100"]);
    produce(&["--start-at", "300", "--limit", "50"]);
    let resumed = produce(&["--resume"]);
    assert_eq!(count(&resumed, "sent"), 350, "{resumed}");
    assert_eq!(count(&resumed, "already_in_topic"), 150, "{resumed}");
    assert_eq!(count(&resumed, "confirmed_prefix"), 500, "{resumed}");
    let again = produce(&["--resume"]);
    assert_eq!(count(&again, "sent"), 0, "{again}");
    assert_eq!(count(&again, "already_in_topic"), 500, "{again}");

    let report = verify(broker, "resume", &slice);
    assert_eq!(count(&report, "present"), 500, "{report}");
    assert_eq!(count(&report, "missing"), 0, "{report}");
    assert_eq!(count(&report, "duplicated"), 0, "{report}");
}

#[test]
fn an_interrupted_produce_says_where_it_stopped_and_resume_completes_it() {
    let broker = shared_broker();
    create_topic(broker, "interrupted");
    let (_dir, slice) = data_slice(3000);
    let slice_arg = slice.display().to_string();
    let producer = spawn(
        broker,
        &[
            "produce",
            "-t",
            "interrupted",
            "-f",
            &slice_arg,
            "--rate",
            "1000",
            "--json",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    sfcrime_process::signal(producer.child.id(), libc::SIGINT).unwrap();
    let (status, stdout, stderr) = producer.finish(Duration::from_secs(90));
    assert_eq!(status.code(), Some(130), "{stdout}{stderr}");
    let summary = json(&stdout);
    assert_eq!(summary["interrupted"], true, "{summary}");
    let sent = count(&summary, "sent");
    assert!(sent > 0 && sent < 3000, "{summary}");
    assert_eq!(count(&summary, "delivered"), sent, "{summary}");
    assert!(stderr.contains("--resume"), "{stderr}");

    let out = broker
        .sfcrime()
        .args(["produce", "-t", "interrupted", "--json", "--resume", "-f"])
        .arg(&slice)
        .output()
        .unwrap();
    let resumed = json(&String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{resumed}");
    assert_eq!(count(&resumed, "sent"), 3000 - sent, "{resumed}");
    let report = verify(broker, "interrupted", &slice);
    assert_eq!(count(&report, "present"), 3000, "{report}");
    assert_eq!(count(&report, "missing"), 0, "{report}");
    assert_eq!(count(&report, "duplicated"), 0, "{report}");
}

#[test]
fn an_oversized_record_is_named_and_dead_lettered_with_skip_invalid() {
    let broker = shared_broker();
    create_topic(broker, "oversized");
    // An 8 MB field: more than librdkafka's message.max.bytes (1,000,000).
    let big = record("2", "2018-12-31T23:56:00.000")
        .replace("100 Block Of Main St", &"x".repeat(8_000_000));
    let contents = format!(
        "[{},\n{big},\n{}]",
        record("1", "2018-12-31T23:57:00.000"),
        record("3", "2018-12-31T23:55:00.000")
    );
    let offset = contents.find(",\n{").unwrap() + 2;
    let (_dir, file) = temp_file("big.json", contents.as_bytes());
    broker
        .sfcrime()
        .args(["produce", "-t", "oversized", "-f"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(contains(format!("record 1 (byte {offset}): ")))
        .stderr(contains("bytes, more than the producer's limit of 1000000"));

    create_topic(broker, "oversized.skip");
    let out = broker
        .sfcrime()
        .args([
            "produce",
            "-t",
            "oversized.skip",
            "--skip-invalid",
            "--json",
            "-f",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let summary = json(&String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "{summary}");
    assert_eq!(count(&summary, "sent"), 2, "{summary}");
    assert_eq!(count(&summary, "dead_lettered"), 1, "{summary}");
    assert_eq!(count(&summary, "confirmed_prefix"), 3, "{summary}");
}

#[test]
fn every_compression_codec_round_trips() {
    let broker = shared_broker();
    let (_dir, slice) = data_slice(200);
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec.{codec}");
        create_topic(broker, &topic);
        broker
            .sfcrime()
            .args(["produce", "-t", &topic, "-z", codec, "-f"])
            .arg(&slice)
            .assert()
            .success();
        let report = verify(broker, &topic, &slice);
        assert_eq!(count(&report, "present"), 200, "{codec}: {report}");
        assert_eq!(count(&report, "corrupted"), 0, "{codec}: {report}");
    }
}

/// Each bad-input case: (file name, contents, expected message).
fn bad_inputs() -> Vec<(&'static str, Vec<u8>, String)> {
    let first = record("1", "2018-12-31T23:57:00.000");
    let not_object = format!("[{first},\n 42]");
    let not_object_at = not_object.find("42").unwrap();
    let truncated = format!("[{first}, {{\"crime_id\": \"2\"");
    let second_at = truncated.rfind('{').unwrap();
    let mut bad_utf8 = format!("[{first}, ").into_bytes();
    let bad_at = bad_utf8.len();
    bad_utf8.extend_from_slice(
        record("2\u{0}", "2018-12-31T23:58:00.000")
            .replace("\u{0}", "\u{FFFF}")
            .as_bytes(),
    );
    let ffff = bad_utf8
        .windows(3)
        .position(|w| w == "\u{FFFF}".as_bytes())
        .unwrap();
    bad_utf8.splice(ffff..ffff + 3, [0xff]);
    bad_utf8.push(b']');
    vec![
        (
            "not_object.json",
            not_object.into_bytes(),
            format!("record 1 (byte {not_object_at}): element is a number, not an object"),
        ),
        (
            "truncated.json",
            truncated.into_bytes(),
            format!("record 1 (byte {second_at}): file ends at byte"),
        ),
        (
            "bad_utf8.json",
            bad_utf8,
            format!("record 1 (byte {bad_at}): invalid UTF-8 at byte {ffff}"),
        ),
        (
            "empty.json",
            Vec::new(),
            "record 0 (byte 0): file is empty".to_string(),
        ),
    ]
}

#[test]
fn bad_input_is_named_by_record_index_and_byte_offset() {
    let broker = shared_broker();
    create_topic(broker, "bad");
    for (name, contents, message) in bad_inputs() {
        let (_dir, path) = temp_file(name, &contents);
        broker
            .sfcrime()
            .args(["produce", "-t", "bad", "-f"])
            .arg(&path)
            .assert()
            .code(1)
            .stderr(contains(format!("{}: {message}", path.display())));
    }
}

#[test]
fn skip_invalid_dead_letters_bad_records_and_counts_add_up() {
    let broker = shared_broker();
    create_topic(broker, "mixed");
    let good = |i: u32| record(&i.to_string(), "2018-12-31T23:57:00.000");
    let contents = format!(
        "[{}, 42, {}, \"text\", {}, {{\"crime_id\": \"5\"}}]",
        good(0),
        good(2),
        good(4)
    );
    let (_dir, path) = temp_file("mixed.json", contents.as_bytes());
    broker
        .sfcrime()
        .args(["produce", "-t", "mixed", "--skip-invalid", "-f"])
        .arg(&path)
        .assert()
        .success()
        .stdout(contains(
            "produced 3 records to 'mixed' (3 acknowledged, 0 failed, 3 dead-lettered)",
        ));
    broker
        .sfcrime()
        .args(["consume", "-t", "mixed", "--verify"])
        .arg(&path)
        .assert()
        .success()
        .stdout(contains("verify OK: 3 expected, 3 present, 0 missing"));
    let dead = broker
        .sfcrime()
        .args(["consume", "-t", "mixed.dlq", "--format", "table"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&dead.stdout);
    assert!(
        dead.status.success(),
        "{}",
        String::from_utf8_lossy(&dead.stderr)
    );
    let indexes: Vec<&str> = table
        .lines()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    let mut sorted = indexes.clone();
    sorted.sort();
    assert_eq!(sorted, ["1", "3", "5"], "dead letters by index:\n{table}");
}

#[test]
fn rate_500_for_3_seconds_sends_1500_within_5_percent() {
    let broker = shared_broker();
    create_topic(broker, "paced");
    let out = broker
        .sfcrime()
        .args([
            "produce",
            "-t",
            "paced",
            "--rate",
            "500",
            "--duration",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sent = summary["delivered"].as_u64().unwrap();
    assert!((1425..=1575).contains(&sent), "sent {sent}");
}

#[test]
fn an_unreachable_broker_fails_within_the_timeout() {
    let ports = crate::common::ports::reserve();
    let port = ports.port(0);
    let started = Instant::now();
    crate::common::sfcrime()
        .args([
            "produce",
            "--timeout",
            "2",
            "-b",
            &format!("127.0.0.1:{port}"),
        ])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "no Kafka broker answered at 127.0.0.1:{port} within 2s"
        )));
    // Not a speed target: a hang would take far longer than this bound.
    assert!(started.elapsed() < Duration::from_secs(30));
    crate::common::sfcrime()
        .args([
            "consume",
            "--timeout",
            "2",
            "-b",
            &format!("127.0.0.1:{port}"),
        ])
        .assert()
        .code(1)
        .stderr(contains("no Kafka broker answered"));
    // spark run checks before it starts Spark, where Spark's Kafka source
    // would retry for minutes (3 min 12 s measured): within --timeout + 5 s.
    let started = Instant::now();
    crate::common::sfcrime()
        .args([
            "spark",
            "run",
            "--available-now",
            "--timeout",
            "5",
            "-b",
            &format!("127.0.0.1:{port}"),
        ])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "no Kafka broker answered at 127.0.0.1:{port} within 5s"
        )));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "spark run took {took:?}");
    // A sweep too, before its first run starts Spark.
    let results = tempfile::tempdir().unwrap();
    crate::common::sfcrime()
        .args([
            "sweep",
            "--spec",
            "config/sweeps/smoke.toml",
            "--results-dir",
        ])
        .arg(results.path())
        .args(["-b", &format!("127.0.0.1:{port}")])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "no Kafka broker answered at 127.0.0.1:{port} within 10s"
        )));
}

#[test]
fn a_missing_topic_is_a_clear_error() {
    let broker = shared_broker();
    broker
        .sfcrime()
        .args(["produce", "-t", "no-such-topic", "--limit", "1"])
        .assert()
        .code(1)
        .stderr(contains("topic 'no-such-topic' does not exist"));
    broker
        .sfcrime()
        .args(["spark", "run", "--available-now", "-t", "no-such-topic"])
        .assert()
        .code(1)
        .stderr(contains("topic 'no-such-topic' does not exist"));
}
