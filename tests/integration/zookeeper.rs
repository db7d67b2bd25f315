//! The original exercise's set-up: `stack up --mode zookeeper` runs a real
//! ZooKeeper and a real Kafka 3.9 broker on free ports; a slice of the calls
//! goes through them and through the Spark job (spark-sql-kafka 4.2 against
//! the 3.9 broker) with nothing lost or duplicated and aggregates equal to
//! ground truth; `stack down` stops both. A cluster of brokers is KRaft's
//! alone: asking ZooKeeper mode for one is refused.

use crate::common::{announced_run_dir, data_slice, ports, sfcrime, Aggregates, Broker, TOPIC};
use predicates::str::contains;
use std::time::Instant;

const RECORDS: usize = 20_000;

#[test]
fn zookeeper_mode_carries_a_slice_to_exact_spark_results_and_stops_cleanly() {
    // The broker lane while ZooKeeper and the broker start, the Spark lane
    // for the Spark run (one lane at a time: the broker one is free for others
    // meanwhile).
    let broker_turn = crate::common::broker_turn_before_spark();
    let started = Instant::now();
    let broker = Broker::start_with(&["--mode", "zookeeper"]);
    let up_s = started.elapsed().as_secs_f64();
    let zookeeper_pid = broker.recorded_pid("zookeeper.pid").unwrap();
    let broker_pid = broker.pid().unwrap();
    let out = broker.stack(&["status"]).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{status}");
    for line in [
        format!(
            "ZooKeeper 3.8.4 running: pid {zookeeper_pid}, 127.0.0.1:{}",
            broker.zookeeper_port
        ),
        format!("node 1: Kafka broker running (zookeeper mode): pid {broker_pid}"),
        format!("topic {TOPIC}: 3 partitions"),
    ] {
        assert!(status.contains(&line), "no '{line}' in:\n{status}");
    }
    // The broker really is Kafka 3.9, run from its own jar cache.
    let cmdline = std::fs::read(format!("/proc/{broker_pid}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("/kafka-3.9.2/*"),
        "{}",
        String::from_utf8_lossy(&cmdline)
    );
    // Those jars are cached: installing them again needs no Maven.
    sfcrime()
        .env("PATH", "/nonexistent")
        .args(["stack", "install", "--mode", "zookeeper"])
        .assert()
        .success()
        .stdout(contains("kafka-3.9.2"));

    let produced = Instant::now();
    broker
        .sfcrime()
        .args(["produce", "--limit", &RECORDS.to_string()])
        .assert()
        .success()
        .stdout(contains(format!(
            "produced {RECORDS} records to '{TOPIC}' ({RECORDS} acknowledged, 0 failed"
        )));
    let produce_s = produced.elapsed().as_secs_f64();
    let (_slice_dir, slice) = data_slice(RECORDS);
    broker
        .sfcrime()
        .args(["consume", "--verify"])
        .arg(&slice)
        .assert()
        .success()
        .stdout(contains(format!(
            "verify OK: {RECORDS} expected, {RECORDS} present, 0 missing, 0 duplicated, \
             0 corrupted"
        )));

    drop(broker_turn);
    let spark_turn = crate::common::spark_turn();
    let spark = Instant::now();
    let output = tempfile::tempdir().unwrap();
    let out = broker
        .sfcrime()
        .args(["spark", "run", "--available-now", "--output-dir"])
        .arg(output.path())
        .output()
        .unwrap();
    drop(spark_turn);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "spark run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spark_s = spark.elapsed().as_secs_f64();
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(announced_run_dir(&out.stderr).join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["total_input_rows"], RECORDS);
    let got = Aggregates::from_job_output(output.path());
    got.assert_equal(&Aggregates::ground_truth(&slice));

    let stopped = Instant::now();
    broker
        .stack(&["down"])
        .assert()
        .success()
        .stdout(contains(format!(
            "Kafka broker stopped: node 1 (pid {broker_pid})"
        )))
        .stdout(contains(format!("ZooKeeper stopped (pid {zookeeper_pid})")));
    let down_s = stopped.elapsed().as_secs_f64();
    for pid in [broker_pid, zookeeper_pid] {
        assert!(
            !sfcrime_process::is_alive(pid),
            "pid {pid} still alive after stack down"
        );
    }
    broker
        .stack(&["status", "--mode", "zookeeper"])
        .assert()
        .code(3)
        .stdout(contains("no ZooKeeper running"))
        .stdout(contains("no Kafka broker running"));

    // A ZooKeeper port in use stops `up` before anything starts.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let ports = ports::reserve();
    sfcrime()
        .args(["stack", "up", "--mode", "zookeeper", "--port"])
        .arg(ports.port(0).to_string())
        .arg("--zookeeper-port")
        .arg(busy_port.to_string())
        .arg("--stack-dir")
        .arg(broker.stack_dir())
        .assert()
        .failure()
        .stderr(contains(format!(
            "the ZooKeeper port {busy_port} on 127.0.0.1 is already in use"
        )))
        .stderr(contains("--zookeeper-port or SFCRIME_ZOOKEEPER_PORT"));
    assert!(broker.pid().is_none() && broker.recorded_pid("zookeeper.pid").is_none());

    eprintln!(
        "zookeeper: up {up_s:.1} s, produce {RECORDS} in {produce_s:.1} s, verify OK, \
         spark {} rows in {spark_s:.1} s, {} windows = ground truth, down {down_s:.1} s",
        summary["total_input_rows"],
        got.windows.len()
    );
}

#[test]
fn an_unknown_mode_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    sfcrime()
        .args(["stack", "up", "--mode", "zk", "--stack-dir"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains(
            "setting 'kafka.mode' = 'zk' (from flag) is invalid: unknown Kafka mode 'zk': \
             use 'kraft'",
        ));
    sfcrime()
        .env("SFCRIME_KAFKA_MODE", "ZooKeeper")
        .args(["stack", "status", "--stack-dir"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains("'ZooKeeper' (from env) is invalid"));
}

#[test]
fn zookeeper_mode_refuses_a_cluster_of_brokers() {
    let dir = tempfile::tempdir().unwrap();
    sfcrime()
        .args(["stack", "up", "--mode", "zookeeper", "--brokers", "3"])
        .arg("--stack-dir")
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(contains(
            "ZooKeeper mode runs one broker, not 3 (kafka.brokers / --brokers)",
        ));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the refused `up` left something in the stack dir"
    );
}
