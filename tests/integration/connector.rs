//! The sfcrime_connector PySpark data source (python/sfcrime_connector.py over
//! rust/connector) against a real broker and a real Spark: raw mode row for
//! row equal to spark-sql-kafka, calls mode equal to ground truth with its
//! corrupt records kept, and an AvailableNow query with a rate limit that is
//! stopped and resumed from its checkpoint ending exactly at ground truth;
//! with `spark run --commit-group`, the query's progress in a consumer group
//! that Kafka's own tool and `consume --lag` read back, never ahead of the
//! checkpoint, through a kill and a restart.
//!
//! The Spark side is tests/python/connector_check.py, run through
//! spark/submit.sh (which brings spark-sql-kafka's jars), with the connector
//! that scripts/setup.sh installs into .venv.

use crate::common::background::{own_pgid, processes_with_arg, spawn, KillGroupsWith};
use crate::common::{
    create_topic, data_slice, home, shared_broker, spark_turn, Aggregates, Broker,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

const TOPIC: &str = "connector.calls";

/// The first calls of the dataset, about 10,000 per partition: every check
/// here is about the connector's reading, which a slice proves as well as the
/// whole file (tests/integration/spark_job.rs runs the whole file through it).
const CALLS: usize = 30_000;

/// Two records that are not calls, written after the calls: one not
/// even JSON (nor UTF-8), one JSON missing most fields.
const CORRUPT: [(i32, &[u8]); 2] = [
    (1, b"\xff\xfe this is not JSON"),
    (
        2,
        br#"{"crime_id":"x","original_crime_type_name":"Missing Fields"}"#,
    ),
];

/// What `_corrupt_record` shows for each of them, and at which offset.
struct Loaded {
    corrupt: Vec<(String, i32, i64)>,
    /// The offset after the last record, per partition.
    ends: BTreeMap<i32, i64>,
}

/// The topic with [`CALLS`] calls plus the corrupt records, made once per
/// test binary (the tests only read it).
fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        let broker = shared_broker();
        create_topic(broker, TOPIC);
        broker
            .sfcrime()
            .args(["produce", "-t", TOPIC, "--limit", &CALLS.to_string()])
            .assert()
            .success();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .create()
            .unwrap();
        for (i, (partition, value)) in CORRUPT.iter().enumerate() {
            let key = format!("corrupt-{i}");
            producer
                .send(
                    BaseRecord::to(TOPIC)
                        .partition(*partition)
                        .key(&key)
                        .payload(*value),
                )
                .map_err(|(e, _)| e)
                .unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
        let ends = watermarks(broker);
        // Each is the last record of its partition.
        let corrupt = CORRUPT
            .iter()
            .map(|(p, value)| {
                let shown = String::from_utf8_lossy(value).into_owned();
                (shown, *p, ends[p] - 1)
            })
            .collect();
        Loaded { corrupt, ends }
    })
}

fn watermarks(broker: &Broker) -> BTreeMap<i32, i64> {
    watermarks_of(broker, TOPIC)
}

/// The offset after the last record of each of `topic`'s 3 partitions.
fn watermarks_of(broker: &Broker, topic: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    (0..3)
        .map(|p| {
            let (_, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(30))
                .unwrap();
            (p, high)
        })
        .collect()
}

/// Runs one check of connector_check.py in Spark, in its turn.
fn spark_check(check: &str, args: &[&str]) {
    let _turn = spark_turn();
    let mut submit = std::process::Command::new(home().join("spark/submit.sh"));
    crate::common::test_environment(&mut submit);
    let out = submit
        .args(["--conf", "spark.ui.enabled=false"])
        .arg(home().join("tests/python/connector_check.py"))
        .args([check, "--bootstrap", &shared_broker().bootstrap()])
        .args(["--topic", TOPIC])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "connector_check.py {check} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn raw_mode_returns_exactly_the_rows_spark_sql_kafka_returns() {
    let loaded = loaded();
    // Offsets that start and end mid-partition, with -1 (latest) for one
    // end, and ranges split over several tasks (maxRecordsPerPartition).
    let starting = format!(r#"{{"{TOPIC}":{{"0":5,"1":6000,"2":-2}}}}"#);
    let ending = format!(r#"{{"{TOPIC}":{{"0":7000,"1":-1,"2":8000}}}}"#);
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("compare.json");
    spark_check(
        "compare-raw",
        &[
            "--starting",
            &starting,
            "--ending",
            &ending,
            "--max-records-per-partition",
            "2000",
            "--out",
            result.to_str().unwrap(),
        ],
    );
    let result = read_json(&result);
    let expected_rows = (7_000 - 5) + (loaded.ends[&1] - 6_000) + 8_000;
    for variant in ["plain", "headers"] {
        let r = &result[variant];
        assert_eq!(r["schema_ours"], r["schema_theirs"], "{variant} schema");
        assert_eq!(r["rows_theirs"], expected_rows, "{variant}");
        assert_eq!(r["rows_ours"], expected_rows, "{variant}");
        assert_eq!(
            r["only_theirs"], 0,
            "{variant}: rows only spark-sql-kafka read"
        );
        assert_eq!(
            r["only_ours"], 0,
            "{variant}: rows only sfcrime_connector read"
        );
        let tasks = |offsets: i64| (offsets + 1_999) / 2_000;
        assert_eq!(
            r["input_partitions_ours"],
            tasks(7_000 - 5) + tasks(loaded.ends[&1] - 6_000) + tasks(8_000),
            "{variant}"
        );
    }
    let headers = &result["headers"]["schema_ours"]["fields"][7];
    assert_eq!(headers["name"], "headers");
}

#[test]
fn calls_mode_equals_ground_truth_and_keeps_corrupt_records() {
    let loaded = loaded();
    let out = tempfile::tempdir().unwrap();
    spark_check(
        "calls",
        &[
            "--max-records-per-partition",
            "4000",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    let summary = read_json(&out.path().join("summary.json"));
    assert_eq!(summary["rows"], CALLS + CORRUPT.len());
    let mut corrupt: Vec<(String, i32, i64)> = summary["corrupt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(
                r["fields_null"], true,
                "a corrupt row has no call fields: {r}"
            );
            (
                r["_corrupt_record"].as_str().unwrap().to_owned(),
                r["partition"].as_i64().unwrap() as i32,
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    corrupt.sort_by_key(|c| c.1);
    assert_eq!(corrupt, loaded.corrupt);
    assert!(corrupt[0]
        .0
        .starts_with("\u{fffd}\u{fffd} this is not JSON"));

    // Typed columns: call_date_time is a timestamp and the hourly windows
    // over it match ground truth to the row.
    let fields = summary["schema"]["fields"].as_array().unwrap();
    let type_of = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no column {name}"))["type"]
            .clone()
    };
    assert_eq!(type_of("call_date_time"), "timestamp");
    assert_eq!(type_of("crime_id"), "string");
    assert_eq!(type_of("_corrupt_record"), "string");
    let got = Aggregates::from_job_output(out.path());
    let (_dir, slice) = data_slice(CALLS);
    got.assert_equal(&Aggregates::ground_truth(&slice));
}

/// (batchId, numInputRows, startOffset, endOffset) of each micro-batch.
fn batches(progress: &Value) -> Vec<(i64, i64, Value, Value)> {
    progress
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let offsets = |key: &str| serde_json::from_str(p[key].as_str().unwrap()).unwrap();
            (
                p["batchId"].as_i64().unwrap(),
                p["numInputRows"].as_i64().unwrap(),
                offsets("startOffset"),
                offsets("endOffset"),
            )
        })
        .collect()
}

#[test]
fn available_now_stopped_and_resumed_from_its_checkpoint_counts_exactly() {
    let loaded = loaded();
    let out = tempfile::tempdir().unwrap();
    let checkpoint = out.path().join("checkpoint");
    let run = |n: &str, extra: &[&str]| {
        let mut args = vec![
            "--max-offsets-per-trigger",
            "5000",
            "--checkpoint-dir",
            checkpoint.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--run",
            n,
        ];
        args.extend_from_slice(extra);
        spark_check("stream", &args);
        batches(&read_json(&out.path().join(format!("progress-{n}.json"))))
    };
    let first = run("1", &["--stop-after", "3"]);
    let second = run("2", &[]);

    let total = (CALLS + CORRUPT.len()) as i64;
    let end: Value = serde_json::json!({
        TOPIC: loaded.ends.iter().map(|(p, o)| (p.to_string(), *o)).collect::<BTreeMap<_, _>>()
    });
    let stopped_at = &first.last().expect("the first run made no batch").3;
    assert!(first.len() >= 3, "stopped before 3 batches: {first:?}");
    assert_ne!(stopped_at, &end, "the first run was not stopped early");
    assert_eq!(&second.last().unwrap().3, &end, "did not read to the end");
    // One chain of batches over both runs: the second goes on exactly where
    // the first stopped (a batch the stop cut short is replayed from the
    // offset log under its own id), so every offset is read exactly once.
    let all: Vec<_> = first.iter().chain(&second).collect();
    for (i, pair) in all.windows(2).enumerate() {
        let ((a, _, _, a_end), (b, _, b_start, _)) = (pair[0], pair[1]);
        assert_eq!((*a, *b), (i as i64, i as i64 + 1), "batch ids: {all:?}");
        assert_eq!(a_end, b_start, "batch {b} does not start where {a} ended");
    }
    for (batch, rows, _, _) in &all {
        assert!(
            (1..=5_000).contains(rows),
            "batch {batch}: {rows} rows, limit 5000"
        );
    }
    assert_eq!(all.iter().map(|b| b.1).sum::<i64>(), total);

    // Complete mode: the last batch's output holds the final counts.
    let last = second.last().unwrap().0;
    let rows = read_json(&out.path().join(format!("batches/{last:06}.json")));
    let (mut crime_types, mut dispositions) = (BTreeMap::new(), BTreeMap::new());
    let mut corrupt = 0;
    for r in rows.as_array().unwrap() {
        let count = r["count"].as_u64().unwrap();
        if r["_corrupt_record"].is_null() {
            let crime = r["original_crime_type_name"].as_str().unwrap().to_owned();
            *crime_types.entry(crime).or_insert(0) += count;
            let disposition = r["disposition"].as_str().unwrap().to_owned();
            *dispositions.entry(disposition).or_insert(0) += count;
        } else {
            corrupt += count;
        }
    }
    assert_eq!(corrupt, CORRUPT.len() as u64);
    let (_dir, slice) = data_slice(CALLS);
    let truth = Aggregates::ground_truth(&slice);
    assert_eq!(
        crime_types.into_iter().collect::<Vec<_>>(),
        truth.crime_types
    );
    let truth_dispositions: Vec<(String, u64)> = truth
        .dispositions
        .into_iter()
        .map(|(d, _, count)| (d, count))
        .collect();
    assert_eq!(
        dispositions.into_iter().collect::<Vec<_>>(),
        truth_dispositions
    );
}

// ---------------------------------------------------------------------------
// Committed offsets (`spark run --commit-group`)

/// A topic of its own: the job's counts are checked against ground truth,
/// which [`TOPIC`]'s corrupt records are not part of.
const LAG_TOPIC: &str = "connector.lag";
/// On the SASL_SSL stack the consumer may only use groups named `sfcrime-*`.
const LAG_GROUP: &str = "sfcrime-connector-lag-test";

/// `partition -> (committed, end)` as `sfcrime consume --lag` reports it.
fn group_offsets(broker: &Broker) -> BTreeMap<i64, (Option<i64>, i64)> {
    let out = broker
        .sfcrime()
        .args(["consume", "-t", LAG_TOPIC, "--lag", LAG_GROUP, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "consume --lag failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = crate::common::json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["group"], LAG_GROUP);
    report["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (committed, end) = (p["committed"].as_i64(), p["end"].as_i64().unwrap());
            assert_eq!(p["lag"].as_i64(), committed.map(|c| end - c), "{p}");
            (p["partition"].as_i64().unwrap(), (committed, end))
        })
        .collect()
}

/// The end offsets of the last batch in the checkpoint's commit log (what a
/// restart goes on from), or None before the first: `offsets/<n>` is the
/// version, the metadata, then one line of offset JSON per source.
fn checkpointed(checkpoint: &Path) -> Option<BTreeMap<i64, i64>> {
    let last = std::fs::read_dir(checkpoint.join("commits"))
        .ok()?
        .filter_map(|e| e.unwrap().file_name().to_str()?.parse::<u64>().ok())
        .max()?;
    let text = std::fs::read_to_string(checkpoint.join(format!("offsets/{last}"))).unwrap();
    let offsets: Value = serde_json::from_str(text.lines().nth(2).unwrap()).unwrap();
    Some(
        offsets[LAG_TOPIC]
            .as_object()
            .unwrap()
            .iter()
            .map(|(p, o)| (p.parse().unwrap(), o.as_i64().unwrap()))
            .collect(),
    )
}

/// Reads the group, then the checkpoint: the group must never be ahead of
/// the checkpoint (what Spark committed before the group was read can only
/// have grown since). Returns the group's total lag, None before its first
/// commit.
fn sample_lag(broker: &Broker, checkpoint: &Path) -> Option<i64> {
    let group = group_offsets(broker);
    let spark = checkpointed(checkpoint);
    for (partition, (committed, _)) in &group {
        if let Some(committed) = committed {
            let spark_at = spark.as_ref().map_or(0, |s| s[partition]);
            assert!(
                *committed <= spark_at,
                "partition {partition}: the group committed {committed}, the checkpoint \
                 only {spark_at}"
            );
        }
    }
    let lags: Option<Vec<i64>> = group.values().map(|(c, end)| c.map(|c| end - c)).collect();
    lags.map(|l| l.iter().sum())
}

/// Kafka's own `kafka-consumer-groups.sh --describe --group` (the class it
/// runs, from the cached Kafka jars): `partition -> (CURRENT-OFFSET,
/// LOG-END-OFFSET, LAG)`.
fn describe_with_kafkas_tool(broker: &Broker) -> BTreeMap<i64, (i64, i64, i64)> {
    let cache = home().join(".stack/cache");
    let lib = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|dir| {
            std::fs::read_dir(dir).is_ok_and(|mut files| {
                files.any(|f| {
                    let name = f.unwrap().file_name();
                    let name = name.to_string_lossy();
                    name.starts_with("kafka-tools-") && !name.starts_with("kafka-tools-api")
                })
            })
        })
        .max()
        .unwrap_or_else(|| panic!("no Kafka with kafka-tools in {}", cache.display()));
    let java = std::env::var("SFCRIME_JAVA").unwrap_or_else(|_| "java".into());
    let out = std::process::Command::new(java)
        .env("JAVA_TOOL_OPTIONS", crate::common::JAVA_TOOL_OPTIONS)
        .arg("-cp")
        .arg(format!("{}/*", lib.display()))
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            home().join("config/broker-log4j2.properties").display()
        ))
        .arg("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand")
        .args(["--bootstrap-server", &broker.bootstrap()])
        .args(["--describe", "--group", LAG_GROUP])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ConsumerGroupCommand failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
    stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 6 && f[0] == LAG_GROUP && f[1] == LAG_TOPIC)
        .map(|f| {
            let n = |i: usize| {
                f[i].parse::<i64>()
                    .unwrap_or_else(|_| panic!("column {i} of {f:?}"))
            };
            (n(2), (n(3), n(4), n(5)))
        })
        .collect()
}

#[test]
fn commit_group_shows_the_querys_lag_and_is_never_ahead_of_the_checkpoint() {
    let broker = shared_broker();
    create_topic(broker, LAG_TOPIC);
    broker
        .sfcrime()
        .args(["produce", "-t", LAG_TOPIC, "--limit", &CALLS.to_string()])
        .assert()
        .success();
    let (_slice_dir, slice) = data_slice(CALLS);
    let _turn = spark_turn();
    let work = tempfile::tempdir().unwrap();
    let checkpoint = work.path().join("checkpoint");
    let checkpoint_arg = checkpoint.display().to_string();
    let output = work.path().join("output");
    let output_arg = output.display().to_string();
    let _cleanup = KillGroupsWith(checkpoint_arg.clone());
    // 10 batches of 3,000 records, each committed to the group in turn.
    let args = [
        "spark",
        "run",
        "--available-now",
        "--source",
        "sfcrime_connector",
        "--commit-group",
        LAG_GROUP,
        "-t",
        LAG_TOPIC,
        "--max-offsets-per-trigger",
        "3000",
        "--checkpoint-dir",
        &checkpoint_arg,
        "--output-dir",
        &output_arg,
    ];

    // The first run is killed (SIGKILL, the job's process group) once the
    // group shows three batches done; the group is checked against the
    // checkpoint all along.
    let first = spawn(broker, &args);
    let run_dir = first.run_dir(Duration::from_secs(120));
    let mut first_lags = Vec::new();
    crate::common::wait_for(
        "the group at 3 batches",
        Duration::from_secs(900),
        &run_dir.join("spark.log"),
        || {
            first_lags.extend(sample_lag(broker, &checkpoint));
            first_lags
                .last()
                .is_some_and(|l| *l <= (CALLS - 9_000) as i64)
        },
    );
    let cli = first.child.id();
    let jobs: Vec<_> = processes_with_arg(&checkpoint_arg)
        .into_iter()
        .filter(|(pid, _)| *pid != cli)
        .collect();
    assert!(!jobs.is_empty(), "no process runs with {checkpoint_arg}");
    let pgid = jobs[0].1;
    assert_ne!(pgid, own_pgid(), "the job must not share the test's group");
    sfcrime_process::signal_group(pgid, libc::SIGKILL).expect("the job's group can be killed");
    let (status, _, _) = first.finish(Duration::from_secs(60));
    assert!(!status.success(), "the killed run exited successfully");
    let after_kill = sample_lag(broker, &checkpoint).expect("nothing committed");
    assert!(after_kill > 0, "the first run was not killed early");

    // The rerun goes on from the checkpoint; the group's lag only shrinks,
    // to 0, and every record is counted once.
    let mut second = spawn(broker, &args);
    let mut lags = vec![after_kill];
    let deadline = std::time::Instant::now() + Duration::from_secs(900);
    let (status, _, stderr) = loop {
        lags.extend(sample_lag(broker, &checkpoint));
        if second.child.try_wait().unwrap().is_some() {
            break second.finish(Duration::from_secs(60));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rerun took 15 minutes"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(status.success(), "the rerun failed:\n{stderr}");
    lags.extend(sample_lag(broker, &checkpoint));
    eprintln!("connector: group lag during the first run {first_lags:?}, then {lags:?}");
    assert!(
        lags.windows(2).all(|w| w[1] <= w[0]),
        "the lag grew: {lags:?}"
    );
    assert_eq!(lags.last(), Some(&0));
    let distinct = |l: &[i64]| l.iter().collect::<std::collections::BTreeSet<_>>().len();
    assert!(
        distinct(&first_lags) + distinct(&lags) >= 4,
        "the lag was not seen shrinking batch by batch: {first_lags:?} {lags:?}"
    );

    // Both tools agree: the group is at the topic's end.
    let ends = watermarks_of(broker, LAG_TOPIC);
    let ours = group_offsets(broker);
    let theirs = describe_with_kafkas_tool(broker);
    for (partition, end) in &ends {
        let p = i64::from(*partition);
        assert_eq!(ours[&p], (Some(*end), *end), "consume --lag, partition {p}");
        assert_eq!(
            theirs[&p],
            (*end, *end, 0),
            "kafka-consumer-groups, partition {p}"
        );
    }
    assert_eq!(theirs.len(), ends.len());
    Aggregates::from_job_output(&output).assert_equal(&Aggregates::ground_truth(&slice));
}
