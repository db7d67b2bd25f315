//! The job on a Spark Connect server (`spark server up`, `spark run
//! --remote`): one server serves consecutive runs through both sources, each
//! equal to ground truth; a setting only the server's start can fix is
//! refused by name; `server status` and `down` say what runs; and a run
//! against a server that is gone fails at once with what to do.

use crate::common::ports::{self, PortBlock};
use crate::common::{
    announced_run_dir, progress_events, run_records, sfcrime, shared_broker, spark_turn,
    topic_with_slice, Aggregates,
};
use assert_cmd::Command;
use std::time::{Duration, Instant};

const TOPIC: &str = "connect.calls";
const CALLS: usize = 5_000;

/// A Spark Connect server on a reserved port in a private dir, stopped on drop.
struct Server {
    dir: tempfile::TempDir,
    /// Declared last: released only after `drop` has stopped the server.
    ports: PortBlock,
}

impl Server {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = sfcrime();
        cmd.args(["spark", "server"])
            .args(args)
            .arg("--port")
            .arg(self.port().to_string())
            .arg("--dir")
            .arg(self.dir.path());
        cmd
    }

    fn port(&self) -> u16 {
        self.ports.port(0)
    }

    fn url(&self) -> String {
        format!("sc://127.0.0.1:{}", self.port())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.command(&["down"]).output();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_connect_server_runs_both_sources_to_ground_truth() {
    let broker = shared_broker();
    let (_slice_dir, slice) = topic_with_slice(broker, TOPIC, CALLS);
    let truth = Aggregates::ground_truth(&slice);

    // The server is one Spark application for as long as it runs.
    let _turn = spark_turn();
    let server = Server {
        dir: tempfile::Builder::new()
            .prefix("sfcrime-connect-")
            .tempdir()
            .unwrap(),
        ports: ports::reserve(),
    };
    let up = server.command(&["up"]).output().unwrap();
    assert!(
        up.status.success(),
        "{}{}",
        text(&up.stdout),
        text(&up.stderr)
    );
    assert!(
        text(&up.stdout).contains(&format!("started at {}", server.url())),
        "{}",
        text(&up.stdout)
    );
    let status = server.command(&["status"]).output().unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stdout));
    let status_text = text(&status.stdout);
    let status_line = status_text.lines().next().unwrap_or_default().to_string();
    assert!(status_line.contains("running at"), "{status_text}");
    // `up` again leaves the running one alone.
    let again = server.command(&["up"]).output().unwrap();
    assert!(
        text(&again.stdout).contains("already running"),
        "{}",
        text(&again.stdout)
    );

    let run = |extra: &[&str]| {
        let output = tempfile::tempdir().unwrap();
        let out = broker
            .sfcrime()
            .args(["spark", "run", "--remote", &server.url(), "--available-now"])
            .args(["-t", TOPIC, "--output-dir"])
            .arg(output.path())
            .args(extra)
            .output()
            .unwrap();
        (out, output)
    };
    for source in ["kafka", "sfcrime_connector", "kafka"] {
        let (out, output) = run(&["--source", source]);
        assert!(
            out.status.success(),
            "--remote --source {source}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        Aggregates::from_job_output(output.path()).assert_equal(&truth);
        // The client wrote the server's progress reports.
        let events = progress_events(&announced_run_dir(&out.stderr).join("progress.jsonl"));
        let rows: u64 = events
            .iter()
            .filter_map(|p| p["sources"][0]["numInputRows"].as_u64())
            .sum();
        assert_eq!(rows, CALLS as u64);
        assert!(
            !text(&out.stdout).contains("Batch: 0"),
            "{}",
            text(&out.stdout)
        );
    }
    // Every run was the same server's: its sink printed each run's batch in
    // the server's log, not on the run's stdout.
    let after = server.command(&["status"]).output().unwrap();
    let after = text(&after.stdout);
    assert_eq!(after.lines().next(), Some(status_line.as_str()));
    // ... which started the connector's Python processes, and says so.
    assert!(
        !after.contains(" 0 Python processes") && after.contains("Python processes"),
        "{after}"
    );
    let log = std::fs::read_to_string(server.dir.path().join("server.log")).unwrap();
    assert_eq!(log.matches("Batch: 0  (").count(), 3, "{log}");

    // The bench on the server: warm-up runs apart, then the measured ones,
    // each counted exactly (its numbers are for a quiet machine, not here).
    let bench_dir = tempfile::tempdir().unwrap();
    let report = bench_dir.path().join("bench.json");
    let out = broker
        .sfcrime()
        .args([
            "bench",
            "connector",
            "--remote",
            &server.url(),
            "--warm-up",
            "1",
        ])
        .args(["--repeat", "1", "-t", TOPIC, "--max-load", "1000", "-f"])
        .arg(&slice)
        .arg("--results-dir")
        .arg(bench_dir.path().join("results"))
        .arg("--json")
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench connector --remote: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["remote"], server.url(), "{report}");
    assert_eq!(report["warm_up_runs"], 1, "{report}");
    let results = bench_dir.path().join("results");
    for dir in [results.clone(), results.join("warm-up")] {
        let runs = run_records(&dir);
        assert_eq!(runs.len(), 2, "{runs:?}");
        for run in &runs {
            assert_eq!(run["status"], "ok", "{run}");
            assert_eq!(run["output_calls"], CALLS as u64, "{run}");
        }
    }

    // A driver setting cannot change per run: refused by name, nothing written.
    let (out, output) = run(&["-c", "spark.driver.memory=3g"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("spark.driver.memory") && stderr.contains("CANNOT_MODIFY_CONFIG"),
        "{stderr}"
    );
    assert!(!output.path().join("final").exists());

    let down = server.command(&["down"]).output().unwrap();
    assert!(
        text(&down.stdout).contains("stopped"),
        "{}",
        text(&down.stdout)
    );
    let status = server.command(&["status"]).output().unwrap();
    assert_eq!(status.status.code(), Some(3), "{}", text(&status.stdout));
    // No server: said within the timeout, not after the client's minutes of retries.
    let started = Instant::now();
    let (out, _output) = run(&["--timeout", "5"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no Spark Connect server answers")
            && stderr.contains("sfcrime spark server up"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
