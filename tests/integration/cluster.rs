//! Scale-out on one machine: a 3-broker KRaft cluster (`stack up --brokers
//! 3`: topic replicated 3 times, min.insync.replicas 2) and a Spark
//! standalone master and worker (`spark cluster up`), with faults:
//!
//! - a broker is SIGKILLed a few seconds into a paced produce of 60,000
//!   records and stays down: the producer still gets every record
//!   acknowledged, and `consume --verify` finds each exactly once;
//! - a streaming job on the standalone cluster (`spark run --master
//!   spark://...`), already running when the broker dies, keeps running;
//!   then its executor is SIGKILLed and the worker launches another one; its
//!   final aggregates equal the ground truth exactly.
//!
//! One Spark run serves both clusters to keep CI short; each claim has its
//! own assertions. Measurements go to stderr as `cluster: ...` lines
//! (`--nocapture` shows them; docs/RELIABILITY.md records a run).

use crate::common::background::{processes_with_arg, spawn, KillGroupsWith};
use crate::common::{
    assert_all_delivered, count, data_slice, progress_events, verify, wait_for, Aggregates, Broker,
    SparkCluster, TOPIC,
};
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use serde_json::Value;
use std::time::{Duration, Instant};

const RECORDS: u64 = 60_000;
/// ~10 s of producing at this rate; the broker dies 3 s in.
const RATE: &str = "6000";
/// At least 3 micro-batches for the slice, so the executor dies mid-stream.
const MAX_PER_BATCH: &str = "20000";
const EXECUTOR_CLASS: &str = "org.apache.spark.executor.CoarseGrainedExecutorBackend";

/// A topic-level setting as the cluster reports it.
fn topic_config(bootstrap: &str, topic: &str, key: &str) -> String {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let results = futures_executor::block_on(
        admin.describe_configs([&ResourceSpecifier::Topic(topic)], &options),
    )
    .unwrap();
    let resource = results.into_iter().next().unwrap().unwrap();
    resource
        .get(key)
        .and_then(|entry| entry.value.clone())
        .unwrap_or_else(|| panic!("no {key} in the config of {topic}"))
}

/// Sum of the Kafka end offsets of the latest batch: how far the job has read.
fn read_up_to(events: &[Value]) -> u64 {
    events
        .last()
        .and_then(|p| p["sources"][0]["endOffset"][TOPIC].as_object())
        .map(|partitions| partitions.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

#[test]
fn broker_and_executor_lost_mid_stream_lose_nothing() {
    // Both lanes: 3 brokers, a Spark master, worker, driver and executor are
    // all the machine can take at once.
    let _brokers = crate::common::broker_turn_before_spark();
    let _spark = crate::common::whole_spark_lane();
    let started = Instant::now();
    let (slice_dir, slice) = data_slice(RECORDS as usize);
    // The two clusters start side by side; the ground truth meanwhile.
    let (broker, spark, truth) = std::thread::scope(|s| {
        let spark = s.spawn(SparkCluster::start);
        let truth = s.spawn(|| Aggregates::ground_truth(&slice));
        let broker = Broker::start_cluster(3, &[]);
        (broker, spark.join().unwrap(), truth.join().unwrap())
    });
    let clusters_up = started.elapsed();

    // The stack is what it says: 3 brokers answering, the topic on all of
    // them, 2 replicas needed in sync for a write.
    let status = broker.stack(&["status"]).output().unwrap();
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{status_text}");
    for n in 1..=3 {
        assert!(
            status_text.contains(&format!(
                "node {n}: Kafka broker running (kraft mode): pid {}",
                broker.node_pid(n).unwrap()
            )),
            "{status_text}"
        );
    }
    assert!(
        status_text.contains(&format!(
            "topic {TOPIC}: 3 partitions, 3 replicas, all in sync"
        )),
        "{status_text}"
    );
    assert_eq!(
        topic_config(&broker.bootstrap(), TOPIC, "min.insync.replicas"),
        "2"
    );

    // A live query on the standalone cluster, reading all three brokers.
    let work = tempfile::tempdir().unwrap();
    let checkpoint = work.path().join("checkpoint").display().to_string();
    let output = work.path().join("output");
    let output_arg = output.display().to_string();
    let _cleanup = KillGroupsWith(checkpoint.clone());
    let master = spark.master_url();
    let job = spawn(
        &broker,
        &[
            "spark",
            "run",
            "--master",
            &master,
            "-t",
            TOPIC,
            "--trigger-interval",
            "2 seconds",
            "--max-offsets-per-trigger",
            MAX_PER_BATCH,
            // The worker has 2 cores: 2 state stores, not 8.
            "-c",
            "spark.sql.shuffle.partitions=2",
            "--checkpoint-dir",
            &checkpoint,
            "--output-dir",
            &output_arg,
        ],
    );
    let run_dir = job.run_dir(Duration::from_secs(120));
    let progress = run_dir.join("progress.jsonl");
    let spark_log = run_dir.join("spark.log");
    wait_for(
        "the query's first (empty) trigger",
        Duration::from_secs(300),
        &spark_log,
        || !progress_events(&progress).is_empty(),
    );
    let query_running_after = started.elapsed();

    // Kafka: a broker dies mid-produce and stays dead.
    let producer = spawn(
        &broker,
        &[
            "produce",
            "-t",
            TOPIC,
            "-f",
            slice.to_str().unwrap(),
            "--rate",
            RATE,
            "--json",
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    let killed_broker = broker.crash_node(1);
    let killed_at = Instant::now();
    let (status, stdout, stderr) = producer.finish(Duration::from_secs(300));
    let producer_done_after_kill = killed_at.elapsed();
    let summary = assert_all_delivered(status, &stdout, &stderr, RECORDS);

    let degraded = broker.stack(&["status"]).output().unwrap();
    let degraded_text = String::from_utf8_lossy(&degraded.stdout);
    assert_eq!(degraded.status.code(), Some(3), "{degraded_text}");
    assert!(degraded_text.contains("node 1: stopped"), "{degraded_text}");
    assert!(
        degraded_text.contains("node 2: Kafka broker running")
            && degraded_text.contains("node 3: Kafka broker running"),
        "{degraded_text}"
    );
    assert!(
        degraded_text.contains("3 under-replicated"),
        "{degraded_text}"
    );

    let report = verify(&broker, TOPIC, &slice);
    eprintln!(
        "cluster: broker node 1 (pid {killed_broker}) SIGKILLed 3 s into produce --rate {RATE}; \
         producer done {:.1} s after the kill; summary {summary}; verify {report}",
        producer_done_after_kill.as_secs_f64()
    );
    assert_eq!(count(&report, "present"), RECORDS, "{report}");
    assert_eq!(count(&report, "missing"), 0, "{report}");
    assert_eq!(count(&report, "duplicated"), 0, "{report}");
    assert_eq!(count(&report, "corrupted"), 0, "{report}");
    assert_eq!(count(&report, "foreign"), 0, "{report}");

    // Spark: lose the executor once a batch with rows is done and at least
    // one more is to come (at most MAX_PER_BATCH rows a batch).
    wait_for(
        "a micro-batch with rows",
        Duration::from_secs(300),
        &spark_log,
        || {
            progress_events(&progress)
                .iter()
                .any(|p| p["numInputRows"].as_u64().unwrap_or(0) > 0)
        },
    );
    let read_before = read_up_to(&progress_events(&progress));
    assert!(read_before < RECORDS, "read {read_before} already");
    let worker = spark.worker_pid();
    let executors: Vec<u32> = processes_with_arg(EXECUTOR_CLASS)
        .into_iter()
        .filter(|(_, pgid)| *pgid == worker)
        .map(|(pid, _)| pid)
        .collect();
    assert_eq!(
        executors.len(),
        1,
        "executors of worker {worker}: {executors:?}"
    );
    sfcrime_process::signal(executors[0], libc::SIGKILL).unwrap();
    let executor_killed_at = Instant::now();
    while sfcrime_process::is_alive(executors[0]) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The worker replaces it within the same application (executor dirs
    // work/<app>/<id>: a second id).
    wait_for(
        "a replacement executor",
        Duration::from_secs(120),
        &spark.dir.path().join("worker.log"),
        || {
            spark
                .executor_dirs()
                .iter()
                .any(|(_, executors)| executors.len() >= 2)
        },
    );
    let replaced_after = executor_killed_at.elapsed();

    wait_for(
        "the job reading the whole slice",
        Duration::from_secs(600),
        &spark_log,
        || read_up_to(&progress_events(&progress)) >= RECORDS,
    );
    let caught_up_after_executor_kill = executor_killed_at.elapsed();
    // It kept running through both faults: still up when asked to stop.
    let mut job = job;
    assert!(
        job.child.try_wait().unwrap().is_none(),
        "spark run ended by itself; log {}",
        spark_log.display()
    );
    sfcrime_process::signal(job.child.id(), libc::SIGINT).unwrap();
    let (status, stdout, stderr) = job.finish(Duration::from_secs(300));
    assert!(
        status.success(),
        "spark run failed ({status}):\n{stdout}\n{stderr}"
    );

    // One application all along: the job was not restarted.
    let apps = spark.executor_dirs();
    assert_eq!(apps.len(), 1, "one application expected: {apps:?}");

    let events = progress_events(&progress);
    let rows: u64 = events
        .iter()
        .filter_map(|p| p["numInputRows"].as_u64())
        .sum();
    let batches: Vec<(u64, u64, u64)> = events
        .iter()
        .filter(|p| p["numInputRows"].as_u64().unwrap_or(0) > 0)
        .map(|p| {
            (
                p["batchId"].as_u64().unwrap(),
                p["numInputRows"].as_u64().unwrap(),
                p["durationMs"]["triggerExecution"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // The broker kill must cost a batch's offset lookup seconds, not the Java
    // client's 60 s default.api.timeout.ms (the job sets 10 s; docs/RELIABILITY.md).
    let (slowest_lookup_batch, slowest_lookup_ms) = events
        .iter()
        .map(|p| {
            (
                p["batchId"].as_u64().unwrap(),
                p["durationMs"]["latestOffset"].as_u64().unwrap_or(0),
            )
        })
        .max_by_key(|&(_, ms)| ms)
        .unwrap();
    eprintln!(
        "cluster: clusters up in {:.1} s, query running at {:.1} s; executor (pid {}) \
         SIGKILLed after the job had read {read_before} records, replaced {:.1} s later; the \
         job had read all {RECORDS} {:.1} s after the kill; executors per app {apps:?}; {rows} \
         input rows in batches (id, rows, ms) {batches:?}; longest latestOffset {} ms (batch \
         {}); whole test {:.1} s",
        clusters_up.as_secs_f64(),
        query_running_after.as_secs_f64(),
        executors[0],
        replaced_after.as_secs_f64(),
        caught_up_after_executor_kill.as_secs_f64(),
        slowest_lookup_ms,
        slowest_lookup_batch,
        started.elapsed().as_secs_f64()
    );
    assert!(
        slowest_lookup_ms <= 15_000,
        "batch {slowest_lookup_batch} spent {slowest_lookup_ms} ms in latestOffset"
    );
    let got = Aggregates::from_job_output(&output);
    got.assert_equal(&truth);
    drop(slice_dir);
}
