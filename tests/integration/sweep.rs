//! `sfcrime sweep` and `sfcrime report` end to end: a real broker, real
//! Spark runs of the job over a small data file once and twice over (the
//! sweep produces each `copies` topic once and checks every run's counts
//! against the N-fold ground truth), a resumed sweep that reruns nothing,
//! the noise check (runs above `--max-load` recorded as noisy and left out
//! of the report), and a report with 95% intervals whose charts, the cost
//! against data size among them, and links are real files.

use crate::common::{data_slice, sfcrime, shared_broker, spark_turn};
use std::path::Path;

const TOPIC: &str = "sweep.small";
const RECORDS: i64 = 5000;

#[test]
fn the_study_files_expand_to_their_documented_size() {
    let out = sfcrime()
        .args(["sweep", "--spec", "config/sweeps/default.toml", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("sweep default: 14 points x 5 repeats"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1 + 70, "{stdout}");
    assert!(stdout.contains("  baseline\n"), "{stdout}");

    let out = sfcrime()
        .args(["sweep", "--spec", "config/sweeps/smoke.toml", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("sweep smoke: 2 points x 1 repeats"));
}

#[test]
fn a_small_sweep_resumes_and_reports() {
    let broker = shared_broker();
    let (_slice_dir, slice) = data_slice(RECORDS as usize);
    let results = tempfile::tempdir().unwrap();
    let _turn = spark_turn();
    // Two points, two runs each: the data once and twice over, 2 shuffle
    // partitions keeping them short. A load average of 0 is never reached
    // while Spark runs, so with no wait every run is recorded as noisy; the
    // report re-judges them below.
    let sweep = || {
        let mut cmd = broker.sfcrime();
        cmd.env("SFCRIME_DATA_FILE", &slice)
            .args([
                "sweep",
                "--name",
                "it",
                "--base",
                "spark.sql.shuffle.partitions=2",
                "--base",
                "copies=1",
                "--param",
                "copies=2",
                "--repeat",
                "2",
                "--max-load",
                "0",
                "--max-wait",
                "0",
                "-t",
                TOPIC,
                "--results-dir",
            ])
            .arg(results.path());
        cmd
    };
    let out = sweep().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sweep failed:\n{stderr}");
    assert!(
        stderr.contains("4 runs done now (0 failed), 0 were done before"),
        "{stderr}"
    );
    assert!(stderr.contains("; noisy (load average"), "{stderr}");
    for (copies, records) in [(1, RECORDS), (2, 2 * RECORDS)] {
        let produced = format!("{copies}x ({records} records) to '{TOPIC}.x{copies}', once");
        assert!(stderr.contains(&produced), "{stderr}");
    }

    let records: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(results.path().join("results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(records.len(), 4);
    for r in &records {
        let copies = if r["label"] == "copies=2" { 2 } else { 1 };
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["noisy"], true, "{r}");
        assert_eq!(r["max_load"], 0.0, "{r}");
        assert!(r["load_after"].as_f64().unwrap() > 0.0, "{r}");
        assert_eq!(r["input_rows"], copies * RECORDS);
        assert_eq!(r["expected_rows"], copies * RECORDS);
        assert_eq!(r["output_calls"], copies * RECORDS);
        assert_eq!(r["batches"], 1);
        // The baseline's Spark default memory reached the driver JVM.
        assert_eq!(r["driver_xmx"], "1g", "{r}");
        assert!(r["driver_peak_rss_mib"].as_f64().unwrap() > 100.0, "{r}");
        assert!(r["driver_cpu_s"].as_f64().unwrap() > 1.0, "{r}");
        assert!(r["rows_per_s"].as_f64().unwrap() > 0.0, "{r}");
        // The HDFS-backed state store counts its rows, and leaves its
        // delta files in the checkpoint (measured before it is dropped).
        assert!(r["state_rows"].as_i64().unwrap() > 0, "{r}");
        assert!(r["state_disk_mib"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["state_memory_mib"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["wall_s"].as_f64().unwrap() > r["query_s"].as_f64().unwrap());
        let run_dir = results.path().join(r["run_dir"].as_str().unwrap());
        assert!(
            run_dir.join("progress.jsonl").is_file(),
            "{}",
            run_dir.display()
        );
        // Checkpoint and output are dropped once counted.
        assert!(!run_dir.parent().unwrap().join("checkpoint").exists());
    }
    let labels: Vec<&str> = records
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"baseline"));
    assert!(labels.contains(&"copies=2"));
    let csv = std::fs::read_to_string(results.path().join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");

    // Rerunning resumes: everything is done, nothing runs again.
    let out = sweep().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("0 runs done now (0 failed), 4 were done before"),
        "{stderr}"
    );
    // The copies topics were kept, and checked, not produced again.
    assert!(!stderr.contains("records) to '"), "{stderr}");

    let report = |out_dir: &Path, max_load: Option<&str>| {
        let mut cmd = sfcrime();
        cmd.arg("report")
            .arg(results.path())
            .arg("--out")
            .arg(out_dir);
        if let Some(max_load) = max_load {
            cmd.args(["--max-load", max_load]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "report failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(out_dir.join("report.md")).unwrap()
    };
    // As recorded, every run is noisy: the report says so and answers nothing.
    let noisy = report(results.path(), None);
    assert!(
        noisy.contains("4 of them were noisy and are left out of every answer"),
        "{noisy}"
    );
    assert!(noisy.contains("## Noisy runs (left out)"), "{noisy}");
    assert!(
        noisy.contains("4 of 4 runs started at a 1-minute load average above 0 "),
        "{noisy}"
    );
    assert!(
        noisy.contains("- baseline: 2 noisy, 0 counted: [r0 at "),
        "{noisy}"
    );
    assert!(
        noisy.contains("- copies=2: 2 noisy, 0 counted: "),
        "{noisy}"
    );
    assert!(
        noisy.contains("## Answers\n\nNone: no run both succeeded"),
        "{noisy}"
    );
    assert!(!noisy.contains("### Best setting"), "{noisy}");
    assert!(!noisy.contains("## Parameters ranked"), "{noisy}");
    assert!(!results.path().join("throughput.svg").exists());
    assert_links_resolve(&noisy, results.path(), 3);

    // Judged against a threshold every run met: every run counts, and
    // every median has its 95% interval.
    let quiet_dir = tempfile::tempdir().unwrap();
    let report = report(quiet_dir.path(), Some("1000"));
    assert!(!report.contains("noisy"), "{report}");
    assert!(report.contains("95% bootstrap interval"), "{report}");
    // Rows of the table of every point (the best one's label is marked).
    for label in ["baseline (all defaults)", "copies=2"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(&format!("| {label}")) && l.contains(" | 2 | "))
            .unwrap_or_else(|| panic!("no row for {label}:\n{report}"));
        let cells: Vec<&str> = row.split(" | ").collect();
        // ok runs, then rows/s as "median [low..high]" (just the median
        // when both repeats were equal).
        assert_eq!(cells[1], "2", "{row}");
        let (median, interval) = cells[2].split_once(" [").unwrap_or((cells[2], "]"));
        let median: f64 = median.parse().unwrap();
        if let Some((low, high)) = interval.trim_end_matches(']').split_once("..") {
            let (low, high): (f64, f64) = (low.parse().unwrap(), high.parse().unwrap());
            assert!(low < median && median < high, "{row}");
        }
    }
    assert!(
        report.contains("the 95% intervals"),
        "the best-setting answer says whether the intervals overlap:\n{report}"
    );
    assert!(
        report.contains("### Best setting against all defaults"),
        "{report}"
    );
    assert!(
        report.contains("## Parameters ranked by effect size"),
        "{report}"
    );
    assert_links_resolve(&report, quiet_dir.path(), 5);
    for (chart, labels) in [
        ("throughput", &["baseline", "copies=2", "rows/s"][..]),
        ("latency", &["seconds per micro-batch"][..]),
        ("memory", &["MiB"][..]),
        ("effects", &["copies: 1 -&gt; 2", "95% interval"][..]),
        (
            "cost_vs_size",
            &["records read", "baseline", "95% interval"][..],
        ),
        (
            "batches",
            &["input rows/s", "processed rows/s", "batch duration (ms)"][..],
        ),
    ] {
        let svg = std::fs::read_to_string(quiet_dir.path().join(format!("{chart}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{chart}.svg");
        for label in labels {
            assert!(svg.contains(label), "{chart}.svg lacks {label:?}");
        }
        let png = std::fs::read(quiet_dir.path().join(format!("{chart}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{chart}.png");
        assert!(
            png.len() > 10_000,
            "{chart}.png is only {} bytes",
            png.len()
        );
        assert!(
            report.contains(&format!("({chart}.svg)")),
            "report lacks {chart}"
        );
    }
}

/// Every relative Markdown link `](target)` names an existing file, and
/// there are more than `at_least`.
fn assert_links_resolve(markdown: &str, base: &Path, at_least: usize) {
    let mut links = 0;
    for part in markdown.split("](").skip(1) {
        let target = &part[..part.find(')').unwrap()];
        assert!(base.join(target).exists(), "broken link {target}");
        links += 1;
    }
    assert!(links > at_least, "only {links} links in the report");
}

#[test]
fn bench_connector_takes_the_data_size_from_copies_only() {
    let dir = tempfile::tempdir().unwrap();
    sfcrime()
        .args(["bench", "connector", "--copies", "0", "--results-dir"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicates::str::contains("--copies"));
    sfcrime()
        .args(["bench", "connector", "--base", "copies=5", "--results-dir"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "--base copies=5: give the data's size with --copies",
        ));
}
