//! Integration-test harness: a real Kafka broker (or a cluster of them) on
//! reserved ports (see `ports`) in a private stack directory, started with `sfcrime stack up`
//! and stopped on drop, so no test leaves a java process behind even when it
//! fails.

pub mod background;
pub mod history;
pub mod ports;

use assert_cmd::Command;
use serde_json::Value;
use sfcrime_spark::FinalResults;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const TOPIC: &str = "sf.police.calls";

pub fn home() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Java options of every JVM the tests start (brokers, ZooKeeper, Kafka's
/// storage format, Spark drivers and executors), through the JVM's own
/// JAVA_TOOL_OPTIONS: the C1 compiler alone. Each lives for seconds to a
/// minute on small data, where the C2 compiler's work (on the other core)
/// never pays off. Measured: a 5,000-call `spark run --available-now`, 3
/// interleaved runs each at load 1.0-2.2, wall 26.6 s (25.3-27.8) against
/// 32.1 s (31.6-32.1), not slower on the whole file (2 runs each); on
/// 2026-11-30, a broker's start-up (`stack up`, load 0.99 before the first
/// run, 2 runs each) took 1.6-1.7 s of CPU for the storage format and 5.4 s
/// for the broker up to 2 s after it answered, against 2.9-3.0 s and
/// 8.8-10.2 s.
pub const JAVA_TOOL_OPTIONS: &str = "-XX:TieredStopAtLevel=1";

/// Clears inherited SFCRIME_* settings from `cmd` and sets the project home
/// and the tests' Java options.
pub fn test_environment(cmd: &mut std::process::Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("SFCRIME_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("SFCRIME_HOME", home())
        .env("JAVA_TOOL_OPTIONS", JAVA_TOOL_OPTIONS);
}

/// `sfcrime` with the project home set and no inherited SFCRIME_* settings.
pub fn sfcrime() -> Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sfcrime"));
    test_environment(&mut cmd);
    Command::from_std(cmd)
}

/// A local stack of `brokers` nodes (usually one) on a reserved port block:
/// node n listens on `port + 2(n-1)` and `controller_port + 2(n-1)`, as
/// `stack up` assigns, ZooKeeper (if any) after them.
pub struct Broker {
    pub port: u16,
    pub controller_port: u16,
    /// Used only by a broker started with `--mode zookeeper`.
    pub zookeeper_port: u16,
    pub brokers: u16,
    pub dir: tempfile::TempDir,
    /// Environment of every `stack` command (e.g. the admin password).
    env: Vec<(String, String)>,
    /// Declared last: released only after `drop` has stopped the stack.
    _ports: ports::PortBlock,
}

impl Broker {
    pub fn start() -> Broker {
        Self::start_with(&[])
    }

    /// Starts a broker; `extra` flags go to `stack up` (e.g. a topic name).
    pub fn start_with(extra: &[&str]) -> Broker {
        Self::start_configured(extra, &[]).0
    }

    /// Starts a broker with `extra` flags for `stack up` and `env` for
    /// every `stack` command run on it; also returns what `stack up` printed.
    pub fn start_configured(
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Broker, std::process::Output) {
        Self::start_stack(1, extra, env)
    }

    /// Starts `brokers` nodes (a KRaft quorum of them) on consecutive
    /// ports: brokers on the even offsets, controllers on the odd ones; `env`
    /// goes to every `stack` command run on them.
    pub fn start_cluster(brokers: u16, env: &[(&str, &str)]) -> Broker {
        Self::start_stack(brokers, &[], env).0
    }

    fn start_stack(
        brokers: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Broker, std::process::Output) {
        let ports = ports::reserve();
        let dir = tempfile::Builder::new()
            .prefix("sfcrime-broker-")
            .tempdir()
            .unwrap();
        let broker = Broker {
            port: ports.port(0),
            controller_port: ports.port(1),
            zookeeper_port: ports.port(2 * brokers),
            brokers,
            dir,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _ports: ports,
        };
        let out = broker.stack(&["up"]).args(extra).output().unwrap();
        assert!(
            out.status.success(),
            "stack up failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (broker, out)
    }

    /// Every broker, comma-separated.
    pub fn bootstrap(&self) -> String {
        (1..=self.brokers)
            .map(|n| format!("127.0.0.1:{}", self.node_port(n)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The broker port of node `n` (1-based).
    pub fn node_port(&self, n: u16) -> u16 {
        self.port + 2 * (n - 1)
    }

    pub fn stack_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `sfcrime stack <args>` pointed at this broker.
    pub fn stack(&self, args: &[&str]) -> Command {
        let mut cmd = sfcrime();
        cmd.arg("stack")
            .args(args)
            .arg("--brokers")
            .arg(self.brokers.to_string())
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--controller-port")
            .arg(self.controller_port.to_string())
            .arg("--zookeeper-port")
            .arg(self.zookeeper_port.to_string())
            .arg("--stack-dir")
            .arg(self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `sfcrime` with this broker as the bootstrap server.
    pub fn sfcrime(&self) -> Command {
        let mut cmd = sfcrime();
        cmd.env("SFCRIME_BOOTSTRAP_SERVERS", self.bootstrap());
        cmd
    }

    /// Kills node `n` (1-based) outright, as a crash or the OOM killer
    /// would, and waits until the process is gone (its ports are then free
    /// again). Returns its pid.
    pub fn crash_node(&self, n: u16) -> u32 {
        let pid = self.node_pid(n).expect("the broker has a pid file");
        sfcrime_process::signal(pid, libc::SIGKILL).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while sfcrime_process::is_alive(pid) {
            assert!(Instant::now() < deadline, "broker {pid} survived SIGKILL");
            std::thread::sleep(Duration::from_millis(50));
        }
        pid
    }

    /// The pid of the (first) broker recorded by `stack up`, if any.
    pub fn pid(&self) -> Option<u32> {
        self.node_pid(1)
    }

    /// The pid of node `n` (1-based) recorded by `stack up`, if any.
    pub fn node_pid(&self, n: u16) -> Option<u32> {
        self.recorded_pid(&format!("node-{n}/kafka.pid"))
    }

    /// The pid in the stack dir's `pid_file` (`zookeeper.pid` for ZooKeeper).
    pub fn recorded_pid(&self, pid_file: &str) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join(pid_file))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.stack(&["down"]).output();
    }
}

/// How many Spark applications run at once. A Spark start-up is mostly one
/// busy driver thread (class loading, planning), so two side by side keep
/// both cores busy; more only make each slower (and their timeouts closer).
const SPARK_SLOTS: usize = 2;

static SPARK_LANE: Lane = Lane::new(SPARK_SLOTS);
static BROKER_LANE: Lane = Lane::new(1);

/// The Spark lane: one of [`SPARK_SLOTS`] Spark applications at a time. Hold
/// the turn for as long as the test's Spark work (and the services started
/// for it) run.
pub fn spark_turn() -> Turn {
    SPARK_LANE.take(1, Priority::Normal)
}

/// The whole Spark lane, for a test whose Spark work needs the machine to
/// itself (a standalone cluster with its own executor), before anyone else's:
/// it holds the broker lane meanwhile (take that with
/// [`broker_turn_before_spark`]), and every other broker test would wait.
pub fn whole_spark_lane() -> Turn {
    SPARK_LANE.take(SPARK_SLOTS, Priority::First)
}

/// The broker lane, beside the Spark lane: one test at a time that starts
/// brokers of its own (their JVMs' start-up is the other heavy load) or kills
/// one. Tests that only use the shared broker need no turn. A test that
/// needs both lanes at once takes the broker lane first: one order, no
/// deadlock.
pub fn broker_turn() -> Turn {
    BROKER_LANE.take(1, Priority::Normal)
}

/// The broker lane for a test that goes on to Spark once its brokers are up:
/// served before the tests that only need brokers, so that its Spark work is
/// not left for the end of the run.
pub fn broker_turn_before_spark() -> Turn {
    BROKER_LANE.take(1, Priority::First)
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Priority {
    First,
    Normal,
}

/// Slots handed out in order of priority, then of asking (a test that needs
/// several slots is not overtaken forever by tests that need one).
pub struct Lane {
    state: Mutex<LaneState>,
    changed: Condvar,
}

struct LaneState {
    free: usize,
    waiting: std::collections::BTreeSet<(Priority, u64)>,
    next_ticket: u64,
}

impl Lane {
    const fn new(slots: usize) -> Self {
        Lane {
            state: Mutex::new(LaneState {
                free: slots,
                waiting: std::collections::BTreeSet::new(),
                next_ticket: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn take(&'static self, slots: usize, priority: Priority) -> Turn {
        let mut state = lock(&self.state);
        let me = (priority, state.next_ticket);
        state.next_ticket += 1;
        state.waiting.insert(me);
        while state.waiting.first() != Some(&me) || state.free < slots {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.waiting.remove(&me);
        state.free -= slots;
        self.changed.notify_all();
        Turn { lane: self, slots }
    }
}

/// A place in a lane, given back when dropped.
pub struct Turn {
    lane: &'static Lane,
    slots: usize,
}

impl Drop for Turn {
    fn drop(&mut self) {
        lock(&self.lane.state).free += self.slots;
        self.lane.changed.notify_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A failed test poisons the mutex; the next one may still run.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One broker shared by all tests of a test binary (each binary is a process),
/// stopped when the process exits, even after failed tests.
pub fn shared_broker() -> &'static Broker {
    static SHARED: std::sync::OnceLock<Broker> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        extern "C" fn stop_shared() {
            if let Some(broker) = SHARED.get() {
                let _ = broker.stack(&["down"]).output();
            }
        }
        // SAFETY: registering a plain extern "C" function has no
        // preconditions; it runs once at process exit.
        unsafe {
            libc::atexit(stop_shared);
        }
        Broker::start()
    })
}

/// A Spark standalone master and worker on free ports in a private dir,
/// started with `sfcrime spark cluster up` and stopped on drop (the worker
/// with its process group, so executors go too).
pub struct SparkCluster {
    pub master_port: u16,
    master_ui_port: u16,
    worker_ui_port: u16,
    pub dir: tempfile::TempDir,
    /// Declared last: released only after `drop` has stopped the cluster.
    _ports: ports::PortBlock,
}

impl SparkCluster {
    pub fn start() -> SparkCluster {
        let ports = ports::reserve();
        let cluster = SparkCluster {
            master_port: ports.port(0),
            master_ui_port: ports.port(1),
            worker_ui_port: ports.port(2),
            dir: tempfile::Builder::new()
                .prefix("sfcrime-spark-")
                .tempdir()
                .unwrap(),
            _ports: ports,
        };
        let out = cluster.command(&["up"]).output().unwrap();
        assert!(
            out.status.success(),
            "spark cluster up failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    /// `sfcrime spark cluster <args>` pointed at this cluster.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = sfcrime();
        cmd.args(["spark", "cluster"])
            .args(args)
            .arg("--master-port")
            .arg(self.master_port.to_string())
            .arg("--master-ui-port")
            .arg(self.master_ui_port.to_string())
            .arg("--worker-ui-port")
            .arg(self.worker_ui_port.to_string())
            .arg("--dir")
            .arg(self.dir.path());
        cmd
    }

    pub fn master_url(&self) -> String {
        format!("spark://127.0.0.1:{}", self.master_port)
    }

    /// The worker's pid (also its process group, which its executors share).
    pub fn worker_pid(&self) -> u32 {
        std::fs::read_to_string(self.dir.path().join("worker.pid"))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The executor directories the worker made, per application:
    /// `work/<app id>/<executor id>`.
    pub fn executor_dirs(&self) -> Vec<(String, Vec<String>)> {
        let names = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        };
        let work = self.dir.path().join("work");
        names(&work)
            .into_iter()
            .map(|app| {
                let executors = names(&work.join(&app));
                (app, executors)
            })
            .collect()
    }
}

impl Drop for SparkCluster {
    fn drop(&mut self) {
        let _ = self.command(&["down"]).output();
    }
}

/// Creates `topic` (3 partitions) on `broker` through `stack up`.
pub fn create_topic(broker: &Broker, topic: &str) {
    let out = broker.stack(&["up", "--topic", topic]).output().unwrap();
    assert!(
        out.status.success(),
        "creating topic {topic} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sfcrime spark run --available-now -t TOPIC EXTRA...` in the Spark lane,
/// into a fresh output dir: the job's final results (a failed run panics
/// with its stdout and stderr).
pub fn available_now_results(broker: &Broker, topic: &str, extra: &[&str]) -> Aggregates {
    let _turn = spark_turn();
    let output = tempfile::tempdir().unwrap();
    let out = broker
        .sfcrime()
        .args([
            "spark",
            "run",
            "--available-now",
            "-t",
            topic,
            "--output-dir",
        ])
        .arg(output.path())
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "spark run {extra:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Aggregates::from_job_output(output.path())
}

/// The first JSON document on `stdout` (the `--json` summary; `consume
/// --verify` prints its verdict line after it).
pub fn json(stdout: &str) -> Value {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .next()
        .unwrap_or_else(|| panic!("no JSON in:\n{stdout}"))
        .unwrap_or_else(|e| panic!("bad JSON ({e}) in:\n{stdout}"))
}

/// `consume --verify FILE --json` on `topic`; its `verify` report.
pub fn verify(broker: &Broker, topic: &str, file: &Path) -> Value {
    let out = broker
        .sfcrime()
        .args(["consume", "-t", topic, "--json", "--verify"])
        .arg(file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "verify failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&stdout)["verify"].clone()
}

/// The `produce --json` summary of a producer that exited 0 having sent,
/// delivered and confirmed (as one unbroken prefix) all `records`.
pub fn assert_all_delivered(
    status: std::process::ExitStatus,
    stdout: &str,
    stderr: &str,
    records: u64,
) -> Value {
    assert!(
        status.success(),
        "producer failed ({status}):\n{stdout}\n{stderr}"
    );
    let summary = json(stdout);
    assert_eq!(count(&summary, "sent"), records, "{summary}");
    assert_eq!(count(&summary, "delivered"), records, "{summary}");
    assert_eq!(count(&summary, "failed"), 0, "{summary}");
    assert_eq!(count(&summary, "confirmed_prefix"), records, "{summary}");
    summary
}

/// The number `key` of a JSON report, or a panic naming it.
pub fn count(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

/// Writes `contents` to a file named `name` in a new temp dir.
pub fn temp_file(name: &str, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}

/// The full dataset committed in data/.
pub fn data_file() -> PathBuf {
    home().join("data/police-department-calls-for-service.json.gz")
}

/// The first `n` elements of the dataset, verbatim, as a JSON array file:
/// what `produce --limit n` sends, to `--verify` against and to compute the
/// ground truth of.
pub fn data_slice(n: usize) -> (tempfile::TempDir, PathBuf) {
    let mut slice = b"[".to_vec();
    for element in sfcrime_records::RecordReader::open(data_file())
        .unwrap()
        .take(n)
    {
        let element = element.unwrap();
        if element.index > 0 {
            slice.extend_from_slice(b",\n");
        }
        slice.extend_from_slice(&element.raw);
    }
    slice.extend_from_slice(b"]\n");
    temp_file("slice.json", &slice)
}

/// The job's exact results in comparable form: (window start, crime type,
/// count), (crime type, count), (disposition, description, count), sorted.
#[derive(Debug, PartialEq, Eq)]
pub struct Aggregates {
    pub windows: Vec<(String, String, u64)>,
    pub crime_types: Vec<(String, u64)>,
    pub dispositions: Vec<(String, Option<String>, u64)>,
}

impl Aggregates {
    /// Sorted, so that two results compare equal exactly when their contents do.
    fn sorted(
        mut windows: Vec<(String, String, u64)>,
        mut crime_types: Vec<(String, u64)>,
        mut dispositions: Vec<(String, Option<String>, u64)>,
    ) -> Aggregates {
        windows.sort();
        crime_types.sort();
        dispositions.sort();
        Aggregates {
            windows,
            crime_types,
            dispositions,
        }
    }

    /// Reads `<output dir>/final/*.jsonl` written by python/data_stream.py,
    /// with sfcrime's own reader of them (`sfcrime_spark::FinalResults`).
    pub fn from_job_output(output_dir: &Path) -> Aggregates {
        let named = |name: Option<String>, what: &str| {
            name.unwrap_or_else(|| panic!("a null {what} in {}", output_dir.display()))
        };
        let totals = FinalResults::read(output_dir).unwrap_or_else(|e| panic!("{e}"));
        let windows: Vec<_> = FinalResults::read_windows(output_dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|w| {
                let crime_type = named(w.original_crime_type_name, "crime type");
                (w.window_start, crime_type, w.count)
            })
            .collect();
        let crime_types: Vec<_> = totals
            .crime_type_totals
            .into_iter()
            .map(|t| (named(t.original_crime_type_name, "crime type"), t.count))
            .collect();
        let dispositions: Vec<_> = totals
            .dispositions
            .into_iter()
            .map(|d| (named(d.disposition, "disposition"), d.description, d.count))
            .collect();
        Aggregates::sorted(windows, crime_types, dispositions)
    }

    /// Ground truth computed straight from `file` by sfcrime-records.
    pub fn ground_truth(file: &Path) -> Aggregates {
        Aggregates::ground_truth_copies(file, 1)
    }

    /// Ground truth of `copies` copies of `file`, as `produce --copies`
    /// sends them.
    pub fn ground_truth_copies(file: &Path, copies: u64) -> Aggregates {
        use sfcrime_records::truth;
        let codes = truth::radio_codes(home().join("data/radio_code.json")).unwrap();
        let records = sfcrime_records::RecordReader::open(file)
            .unwrap()
            .records()
            .map(|r| r.unwrap());
        let truth =
            truth::compute_copies(records, &codes, truth::DEFAULT_WINDOW_SECONDS, copies).unwrap();
        let windows: Vec<_> = truth
            .windows
            .into_iter()
            .map(|w| {
                (
                    w.window_start.to_string(),
                    w.original_crime_type_name,
                    w.count,
                )
            })
            .collect();
        let crime_types: Vec<_> = truth
            .crime_types
            .into_iter()
            .map(|t| (t.original_crime_type_name, t.count))
            .collect();
        let dispositions: Vec<_> = truth
            .dispositions
            .into_iter()
            .map(|d| (d.disposition, d.description, d.count))
            .collect();
        Aggregates::sorted(windows, crime_types, dispositions)
    }

    /// Panics with the first differences, not a 100k-line dump.
    pub fn assert_equal(&self, truth: &Aggregates) {
        fn first_diffs<T: Ord + std::fmt::Debug + Clone>(got: &[T], want: &[T]) -> Vec<String> {
            let got: std::collections::BTreeSet<_> = got.iter().cloned().collect();
            let want: std::collections::BTreeSet<_> = want.iter().cloned().collect();
            let extra = got
                .difference(&want)
                .take(5)
                .map(|x| format!("unexpected {x:?}"));
            let missing = want
                .difference(&got)
                .take(5)
                .map(|x| format!("missing {x:?}"));
            extra.chain(missing).collect()
        }
        let problems: Vec<String> = [
            ("windows", first_diffs(&self.windows, &truth.windows)),
            (
                "crime types",
                first_diffs(&self.crime_types, &truth.crime_types),
            ),
            (
                "dispositions",
                first_diffs(&self.dispositions, &truth.dispositions),
            ),
        ]
        .into_iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|(what, d)| format!("{what}:\n  {}", d.join("\n  ")))
        .collect();
        assert!(
            problems.is_empty(),
            "job output differs from ground truth:\n{}",
            problems.join("\n")
        );
        assert_eq!(self.windows.len(), truth.windows.len());
    }
}

/// The progress events (StreamingQueryProgress) in a progress file so far.
/// Polls `done` every 200 ms; fails naming `what` and the log to read after
/// `timeout`.
pub fn wait_for(what: &str, timeout: Duration, log: &Path, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {timeout:?}; log {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn progress_events(progress: &Path) -> Vec<Value> {
    std::fs::read_to_string(progress)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// (batch id, input rows) of the batches with input in a progress file.
pub fn batches_with_rows(progress: &Path) -> Vec<(u64, u64)> {
    progress_events(progress)
        .into_iter()
        .filter(|p| p["numInputRows"].as_u64().unwrap_or(0) > 0)
        .map(|p| {
            (
                p["batchId"].as_u64().unwrap(),
                p["numInputRows"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A new topic of the shared broker holding the first `n` calls; the slice
/// file lives as long as the returned value.
pub fn topic_with_slice(broker: &Broker, topic: &str, n: usize) -> (tempfile::TempDir, PathBuf) {
    create_topic(broker, topic);
    let (dir, slice) = data_slice(n);
    broker
        .sfcrime()
        .args(["produce", "-t", topic, "-f"])
        .arg(&slice)
        .assert()
        .success();
    (dir, slice)
}

/// The run records of a sweep's (or bench's) results directory.
pub fn run_records(results_dir: &Path) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(results_dir.join("results.json")).unwrap())
        .unwrap()
}

/// The run directory that `sfcrime spark run` announced on stderr.
pub fn announced_run_dir(stderr: &[u8]) -> PathBuf {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("spark: run dir "))
        .unwrap_or_else(|| panic!("no run dir announced in:\n{text}"));
    PathBuf::from(line.trim())
}
