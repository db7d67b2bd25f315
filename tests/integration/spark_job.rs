//! The PySpark job end to end against a real broker and a real Spark: the
//! whole dataset read through spark-sql-kafka (`--source kafka`) and through
//! sfcrime's Rust connector (`--source sfcrime`), each with results equal to
//! ground truth computed straight from the file.

use crate::common::{
    announced_run_dir, create_topic, data_file, shared_broker, spark_turn, Aggregates, Broker,
};
use std::sync::OnceLock;

const TOPIC: &str = "spark.full";

/// The shared broker with the whole dataset in [`TOPIC`], loaded once.
fn loaded_broker() -> &'static Broker {
    static LOADED: OnceLock<()> = OnceLock::new();
    let broker = shared_broker();
    LOADED.get_or_init(|| {
        create_topic(broker, TOPIC);
        broker
            .sfcrime()
            .args(["produce", "-t", TOPIC])
            .assert()
            .success();
    });
    broker
}

#[test]
fn spark_sql_kafka_on_the_full_dataset_equals_ground_truth() {
    available_now_equals_ground_truth("kafka");
}

#[test]
fn sfcrime_connector_on_the_full_dataset_equals_ground_truth() {
    available_now_equals_ground_truth("sfcrime");
}

fn available_now_equals_ground_truth(source: &str) {
    let broker = loaded_broker();
    let _turn = spark_turn();
    let output = tempfile::tempdir().unwrap();
    let out = broker
        .sfcrime()
        .args(["spark", "run", "--available-now", "--source", source])
        .args(["-t", TOPIC, "--output-dir"])
        .arg(output.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "spark run --source {source} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("summary: 199999 input rows"), "{stdout}");
    assert!(stdout.contains("19238  Not recorded   -"), "{stdout}");

    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(announced_run_dir(&out.stderr).join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["total_input_rows"], 199_999);

    let got = Aggregates::from_job_output(output.path());
    let truth = Aggregates::ground_truth(&data_file());
    got.assert_equal(&truth);
    assert_eq!(got.crime_types.len(), 3418);
    assert_eq!(got.dispositions.len(), 28);
    let not_recorded = got
        .dispositions
        .iter()
        .find(|d| d.0 == "Not recorded")
        .unwrap();
    assert_eq!(not_recorded, &("Not recorded".to_string(), None, 19_238));
}
