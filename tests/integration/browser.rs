//! What a person sees, checked in a real browser: a small run's page in
//! Spark's History Server (its Structured Streaming tab) and its
//! `report.html`, each loaded in headless Chromium through
//! `scripts/browser.sh` and asserted on the DOM after load (the query's
//! name, its batches, the charts), with a screenshot of each saved in the
//! run's directory. Chromium is part of the set-up (`scripts/setup.sh`), so
//! a machine without it fails here rather than skipping.

use crate::common::history::HistoryUi;
use crate::common::{
    announced_run_dir, batches_with_rows, home, shared_broker, spark_turn, topic_with_slice,
};
use std::path::Path;
use std::time::Duration;

const CALLS: usize = 3000;
/// At most 1,000 calls per batch: three batches or more (Spark splits the
/// limit over the topic's partitions, rounding).
const PER_BATCH: &str = "1000";
const QUERY: &str = "sfcrime_counts";

#[test]
fn a_small_run_in_the_history_server_and_its_report_in_chromium() {
    // Fails first, and with what to do, where the browser is missing.
    browser_dom("about:blank");
    let broker = shared_broker();
    let topic = "browser.small";
    let _slice = topic_with_slice(broker, topic, CALLS);
    let turn = spark_turn();
    let out = broker
        .sfcrime()
        .args(["spark", "run", "--available-now", "-t", topic])
        .args(["--max-offsets-per-trigger", PER_BATCH])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(turn);
    let run_dir = announced_run_dir(&out.stderr);
    let page = run_dir.join("report.html");
    assert!(
        stdout.contains(&format!("report:   {}", page.display())),
        "{stdout}"
    );
    let progress = run_dir.join("progress.jsonl");
    let batches = batches_with_rows(&progress).len();
    assert!(batches >= 3, "{stdout}");
    let shots = run_dir.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // report.html, from the file, as a person opens it.
    let url = format!("file://{}", page.display());
    let dom = browser_dom(&url);
    assert!(
        visible_text(&dom).contains(&format!(
            "Query {QUERY}: {batches} batches with rows, {CALLS} input rows."
        )),
        "{dom}"
    );
    let titles = [
        "Input vs processed rows per second",
        "Batch duration by phase (durationMs)",
        "Rows per batch",
        "State store: rows and memory",
    ];
    assert_eq!(dom.matches("<svg").count(), titles.len(), "{dom}");
    for title in titles {
        assert!(visible_text(&dom).contains(title), "no chart {title:?}");
    }
    for series in [
        "input rows/s",
        "processed rows/s",
        "addBatch",
        "rows in state",
    ] {
        assert!(dom.contains(series), "no series {series:?}");
    }
    assert!(
        dom.contains(&format!("{CALLS} calls counted over")),
        "{dom}"
    );
    assert!(dom.contains("<table id=\"dispositions\">"), "{dom}");
    screenshot(&url, &shots.join("report.png"));

    // Spark's History Server: the streaming tab lists the finished query,
    // and its statistics page counts its batches.
    let history = HistoryUi::new();
    let streaming = history.show(broker, &run_dir);
    // The first requests make the server load the application.
    let list = wait_for_dom(&streaming, QUERY);
    assert!(list.contains("Completed Streaming Queries (1)"), "{list}");
    let run_id = first_run_id(&progress);
    assert!(list.contains(&run_id), "{list}");
    let statistics = format!("{streaming}statistics/?id={run_id}");
    let dom = wait_for_dom(&statistics, QUERY);
    assert!(
        visible_text(&dom).contains(&format!("({batches} completed batches)")),
        "{dom}"
    );
    for graph in ["Input Rate", "Process Rate", "Batch Duration"] {
        assert!(dom.contains(graph), "no {graph} graph on {statistics}");
    }
    assert!(dom.contains("<svg"), "the graphs were not drawn: {dom}");
    screenshot(&statistics, &shots.join("structured-streaming.png"));
    let stopped = history.command(broker, &["--stop"]).output().unwrap();
    assert!(stopped.status.success());
}

/// The page's DOM after load, from `scripts/browser.sh dom`.
fn browser_dom(url: &str) -> String {
    let out = std::process::Command::new(home().join("scripts/browser.sh"))
        .args(["dom", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "headless Chromium failed on {url} (scripts/setup.sh installs Debian's chromium):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of a DOM as a person reads it: tags dropped, white space
/// collapsed.
fn visible_text(dom: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The DOM of `url` once it shows `text` (a history server answers with a
/// loading page while it reads an application's event log).
fn wait_for_dom(url: &str, text: &str) -> String {
    let mut dom = String::new();
    for _ in 0..30 {
        dom = browser_dom(url);
        if dom.contains(text) {
            return dom;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!("{url} never showed {text:?}: {dom}");
}

fn screenshot(url: &str, file: &Path) {
    let status = std::process::Command::new(home().join("scripts/browser.sh"))
        .arg("screenshot")
        .arg(file)
        .arg(url)
        .status()
        .unwrap();
    assert!(status.success(), "no screenshot of {url}");
    let png = std::fs::read(file).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        "{}",
        file.display()
    );
}

/// The `runId` of the run's query, as the history server keys its pages.
fn first_run_id(progress: &Path) -> String {
    let line = std::fs::read_to_string(progress).unwrap();
    let event: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    event["runId"].as_str().unwrap().to_string()
}
