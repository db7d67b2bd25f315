//! The PySpark job end to end against a real broker and a real Spark: the
//! whole dataset through spark-sql-kafka, with results equal to ground truth
//! computed straight from the file.

mod common;

use common::{announced_run_dir, create_topic, data_file, shared_broker, Aggregates};

#[test]
fn available_now_on_the_full_dataset_equals_ground_truth() {
    let broker = shared_broker();
    create_topic(broker, "spark.full");
    broker
        .sfcrime()
        .args(["produce", "-t", "spark.full"])
        .assert()
        .success();
    let output = tempfile::tempdir().unwrap();
    let out = broker
        .sfcrime()
        .args([
            "spark",
            "run",
            "--available-now",
            "-t",
            "spark.full",
            "--output-dir",
        ])
        .arg(output.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "spark run failed:\n{stdout}\n{}",
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
