//! The PySpark job end to end against a real broker and a real Spark: the
//! whole dataset read through spark-sql-kafka (`--source kafka`) and through
//! sfcrime's Rust connector (`--source sfcrime_connector`), each with results equal to
//! ground truth computed straight from the file; and a local run listening
//! on loopback only.

use crate::common::background::{processes_with_arg, spawn, KillGroupsWith};
use crate::common::history::HistoryUi;
use crate::common::{
    announced_run_dir, available_now_results, create_topic, data_file, data_slice, progress_events,
    shared_broker, spark_turn, topic_with_slice, wait_for, Aggregates, Broker,
};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use std::time::Duration;

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
    available_now_equals_ground_truth("sfcrime_connector");
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

    let run_dir = announced_run_dir(&out.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["total_input_rows"], 199_999);
    // The run's page, with the results from the --output-dir, stays small.
    let page = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(
        page.len() < 1_000_000,
        "report.html is {} bytes",
        page.len()
    );
    assert!(page.contains("199999 calls counted over 3418 crime types"));
    assert!(page.contains("<td class=\"n\">19238</td><td>Not recorded</td>"));

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

/// A topic that holds records twice (a slice, then its first 500 again, as a
/// resume with --start-at would): `--drop-duplicates` counts each call once,
/// equal to the slice's ground truth, through both sources; without it the
/// job counts the 500 twice.
#[test]
fn drop_duplicates_counts_each_record_once_through_both_sources() {
    let broker = shared_broker();
    let topic = "spark.duplicates";
    create_topic(broker, topic);
    let (_slice_dir, slice) = data_slice(2000);
    for limit in ["2000", "500"] {
        broker
            .sfcrime()
            .args(["produce", "-t", topic, "--limit", limit, "-f"])
            .arg(&slice)
            .assert()
            .success();
    }
    let truth = Aggregates::ground_truth(&slice);
    let run = |extra: &[&str]| available_now_results(broker, topic, extra);
    for source in ["kafka", "sfcrime_connector"] {
        run(&["--drop-duplicates", "--source", source]).assert_equal(&truth);
    }
    let counted: u64 = run(&[]).crime_types.iter().map(|(_, n)| n).sum();
    assert_eq!(counted, 2500);
}

/// During a local `spark run`, every listening socket of ours is on
/// loopback: the broker's, and the Spark driver's RPC, block manager and web
/// UI, which Spark binds to the machine's address unless told otherwise
/// (spark/submit.sh does). The UI's kill links are off.
#[test]
fn a_local_spark_run_listens_on_loopback_only() {
    let broker = shared_broker();
    let topic = "spark.loopback";
    let _slice = topic_with_slice(broker, topic, 300);
    let _turn = spark_turn();
    let output = tempfile::tempdir().unwrap();
    let output_arg = output.path().display().to_string();
    let _cleanup = KillGroupsWith(output_arg.clone());
    let job = spawn(
        broker,
        &[
            "spark",
            "run",
            "-t",
            topic,
            "--trigger-interval",
            "1 second",
            "--output-dir",
            &output_arg,
        ],
    );
    let run_dir = job.run_dir(Duration::from_secs(120));
    let ui = loop {
        let line = job
            .stderr_lines
            .recv_timeout(Duration::from_secs(300))
            .expect("spark run announces the Spark UI");
        if let Some(url) = line.strip_prefix("spark: Spark UI at ") {
            break url.trim().to_string();
        }
    };
    wait_for(
        "the query's first progress event",
        Duration::from_secs(300),
        &run_dir.join("spark.log"),
        || !progress_events(&run_dir.join("progress.jsonl")).is_empty(),
    );
    let ui_port = ui
        .strip_prefix("http://127.0.0.1:")
        .or_else(|| ui.strip_prefix("http://localhost:"))
        .unwrap_or_else(|| panic!("the UI is not on loopback: {ui}"));
    let applications = http_get(ui_port, "/api/v1/applications");
    let application = applications[0]["id"].as_str().unwrap().to_string();
    let environment = http_get(
        ui_port,
        &format!("/api/v1/applications/{application}/environment"),
    );
    assert!(
        environment["sparkProperties"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["spark.ui.killEnabled", "false"])),
        "the UI's kill links are on: {environment}"
    );

    // The job's processes: its process groups (submit.sh, the Python
    // driver, the JVM, Python workers), found by the output dir they got.
    let groups: Vec<u32> = processes_with_arg(&output_arg)
        .into_iter()
        .map(|(_, pgid)| pgid)
        .collect();
    let job_pids: Vec<u32> = sfcrime_process::pids()
        .into_iter()
        .filter(|pid| sfcrime_process::stat(*pid).is_some_and(|s| groups.contains(&s.pgid)))
        .collect();
    let job_sockets = listening_sockets(&job_pids);
    let broker_sockets = listening_sockets(&[broker.pid().expect("the broker runs")]);
    sfcrime_process::signal(job.child.id(), libc::SIGINT).unwrap();
    let (status, stdout, stderr) = job.finish(Duration::from_secs(180));
    assert!(status.success(), "spark run failed:\n{stdout}\n{stderr}");

    // The driver's RPC, block manager, UI and py4j gateway at least.
    assert!(
        job_sockets.len() >= 4,
        "too few listening sockets found for the job's processes {job_pids:?}: {job_sockets:?}"
    );
    assert!(
        !broker_sockets.is_empty(),
        "no listening socket of the broker"
    );
    for (pid, ip, port) in job_sockets.iter().chain(&broker_sockets) {
        let loopback = ip.is_loopback()
            || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
        assert!(
            loopback,
            "pid {pid} listens on {ip}:{port}, beyond loopback\n{stderr}"
        );
    }
}

/// The JSON of a GET to the driver's web UI on 127.0.0.1.
fn http_get(port: &str, path: &str) -> serde_json::Value {
    let body = http_get_text(port, path);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// The body of a GET to a web UI on 127.0.0.1 that answers 200, after
/// following its redirects (the History Server redirects while it loads
/// an application).
fn http_get_text(port: &str, path: &str) -> String {
    let mut path = path.to_string();
    for _ in 0..5 {
        match http_get_once(port, &path) {
            Ok(body) => return body,
            Err(location) => {
                path = match location.split_once("://") {
                    Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_string(),
                    None => location,
                }
            }
        }
    }
    panic!("GET {path}: too many redirects");
}

/// The body of a 200 answer, or the Location of a redirect.
fn http_get_once(port: &str, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    if head.starts_with("HTTP/1.1 302") || head.starts_with("HTTP/1.0 302") {
        let location = head
            .lines()
            .find_map(|line| line.strip_prefix("Location: "))
            .unwrap_or_else(|| panic!("GET {path}: a redirect without a Location: {head}"));
        return Err(location.trim().to_string());
    }
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "GET {path}: {head}"
    );
    Ok(body.to_string())
}

/// Spark's History Server shows a finished run: `spark ui RUN_DIR` starts
/// it over the run's event log and prints the run's Structured Streaming
/// page, which names the query; `spark ui --stop` stops it. A run dir
/// without an event log is refused with one clear line.
#[test]
fn spark_ui_shows_a_finished_run_in_the_history_server() {
    let broker = shared_broker();
    let topic = "spark.history";
    let _slice = topic_with_slice(broker, topic, 300);
    let turn = spark_turn();
    let out = broker
        .sfcrime()
        .args(["spark", "run", "--available-now", "-t", topic])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_dir = announced_run_dir(&out.stderr);
    drop(turn);

    let history = HistoryUi::new();
    let port = history.port.to_string();
    let url = history.show(broker, &run_dir);
    let prefix = format!("http://127.0.0.1:{port}");
    let path = url.strip_prefix(&prefix).unwrap().to_string();
    assert!(path.ends_with("/StreamingQuery/"), "{url}");
    // The first request makes the server load the application.
    let mut page = String::new();
    for _ in 0..60 {
        page = http_get_text(&port, &path);
        if page.contains("sfcrime_counts") {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        page.contains("sfcrime_counts"),
        "the query is not on {url}: {page}"
    );
    assert!(page.contains("Completed Streaming Queries (1)"), "{page}");

    let stopped = history.command(broker, &["--stop"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&stopped.stdout).contains("Spark History Server stopped"),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err());

    let empty = tempfile::tempdir().unwrap();
    let refused = history
        .command(broker, &[empty.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("has no Spark event log"), "{stderr}");
}

/// (pid, address, port) of the TCP sockets the processes `pids` listen on:
/// the listening sockets of /proc/net/tcp and tcp6, by inode, matched
/// against each process's open file descriptors.
fn listening_sockets(pids: &[u32]) -> Vec<(u32, IpAddr, u16)> {
    const LISTEN: &str = "0A";
    let mut by_inode = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields[3] != LISTEN {
                continue;
            }
            let (address, port) = fields[1].split_once(':').unwrap();
            let inode: u64 = fields[9].parse().unwrap();
            by_inode.insert(
                inode,
                (
                    kernel_address(address),
                    u16::from_str_radix(port, 16).unwrap(),
                ),
            );
        }
    }
    let mut sockets = Vec::new();
    for &pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue; // exited meanwhile
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.display().to_string();
            let inode = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inode| inode.parse::<u64>().ok());
            if let Some((ip, port)) = inode.and_then(|inode| by_inode.get(&inode)) {
                sockets.push((pid, *ip, *port));
            }
        }
    }
    sockets
}

/// An address as /proc/net/tcp{,6} prints it: the network-order bytes as
/// 32-bit words in the machine's byte order, in hex.
fn kernel_address(hex: &str) -> IpAddr {
    let bytes: Vec<u8> = (0..hex.len() / 8)
        .flat_map(|word| {
            u32::from_str_radix(&hex[word * 8..word * 8 + 8], 16)
                .unwrap()
                .to_ne_bytes()
        })
        .collect();
    match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap())),
        _ => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap())),
    }
}
