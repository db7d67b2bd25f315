//! SASL_SSL end to end: a broker started by `stack up --security sasl_ssl`
//! (generated CA and certificate, SCRAM-SHA-512 user), then the producer,
//! `consume --verify` and `spark run` over both sources, all connecting with
//! the `-F` file that `stack up` wrote. A wrong password fails each of them
//! at once with one clear error. Then the password is looked for everywhere
//! it must not be: every command's stdout and stderr, every process's
//! command line while the test runs, the run directories, and the stack
//! directory, where only the broker's config and the client settings may
//! hold it, both mode 0600. A 3-broker SASL_SSL cluster replicates (its
//! brokers log in to each other as the admin user) and loses nothing. A
//! sweep and `bench connector` given only `-F` reach a SASL_SSL broker with
//! every client they run, the producers they start among them.

use crate::common::{
    announced_run_dir, data_file, data_slice, home, run_records, Aggregates, Broker, TOPIC,
};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A slice of the dataset: enough for every crime type's top rows, small
/// enough that each Spark run is one short batch.
const RECORDS: usize = 5_000;

/// Scans every process's command line until stopped; returns the pids and
/// programs whose command line held one of the secrets.
struct CommandLineWatch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<String>>,
}

impl CommandLineWatch {
    fn start(secrets: &[&str]) -> CommandLineWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut hits = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                for entry in fs::read_dir("/proc").unwrap().flatten() {
                    let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    if secrets.iter().any(|secret| contains(&cmdline, secret)) {
                        let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
                        hits.push(format!(
                            "pid {:?} ({})",
                            entry.file_name(),
                            String::from_utf8_lossy(program)
                        ));
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            hits
        });
        CommandLineWatch { stop, thread }
    }

    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file under `dir` that contains `secret`.
fn files_containing(dir: &Path, secret: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && contains(&fs::read(&path).unwrap(), secret.as_bytes()) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// No password was on a command line while its `watches` ran, none is in
/// `outputs` or in a file under `dirs`.
fn assert_passwords_nowhere(
    passwords: &[&str],
    watches: Vec<CommandLineWatch>,
    outputs: &Outputs,
    dirs: &[&Path],
) {
    for watch in watches {
        let on_command_lines = watch.finish();
        assert!(
            on_command_lines.is_empty(),
            "a password was on a command line: {on_command_lines:?}"
        );
    }
    for (n, password) in passwords.iter().enumerate() {
        for (what, bytes) in &outputs.0 {
            assert!(
                !contains(bytes, password.as_bytes()),
                "password #{n} is in the {what}"
            );
        }
        for dir in dirs {
            let found = files_containing(dir, password);
            assert!(found.is_empty(), "password #{n} is in {found:?}");
        }
    }
}

/// The outputs of every command the test ran, to search for the password.
#[derive(Default)]
struct Outputs(Vec<(String, Vec<u8>)>);

impl Outputs {
    fn run(&mut self, what: &str, command: &mut assert_cmd::Command) -> (Output, Duration) {
        let started = Instant::now();
        let out = command.output().unwrap();
        let took = started.elapsed();
        self.0.push((format!("{what} stdout"), out.stdout.clone()));
        self.0.push((format!("{what} stderr"), out.stderr.clone()));
        (out, took)
    }

    /// Runs `command`, which must be refused: exit 1 with one line on
    /// stderr that starts with `sfcrime: error: {refusal}` and names
    /// `cause`, within 30 s (not after its --timeout). Returns how long.
    fn refused(
        &mut self,
        what: &str,
        command: &mut assert_cmd::Command,
        refusal: &str,
        cause: &str,
    ) -> Duration {
        let (out, took) = self.run(what, command);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(
            stderr.starts_with(&format!("sfcrime: error: {refusal}")) && stderr.contains(cause),
            "{what}: {stderr}"
        );
        assert!(took < Duration::from_secs(30), "{what} took {took:?}");
        took
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The first `RECORDS` calls as JSON lines.
fn write_slice(dir: &Path) -> PathBuf {
    let lines: Vec<String> = sfcrime_records::RecordReader::open(data_file())
        .unwrap()
        .records()
        .take(RECORDS)
        .map(|r| serde_json::to_string(&r.unwrap()).unwrap())
        .collect();
    let path = dir.join("slice.jsonl");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Asks the connector's Python module for the topic's offsets with the
/// librdkafka settings in a properties file.
const CONNECTOR_CHECK: &str = r##"
import sys, _sfcrime_connector
bootstrap, topic, path = sys.argv[1:]
lines = open(path).read().splitlines()
options = dict(l.split("=", 1) for l in lines if l.strip() and not l.startswith("#"))
try:
    _sfcrime_connector.partition_offsets(bootstrap, topic, options, timeout_ms=30000)
except RuntimeError as e:
    sys.exit(f"error: {e}")
"##;

#[test]
fn sasl_ssl_round_trip_with_the_password_in_no_output() {
    // The broker lane while its broker starts and the clients run, the Spark
    // lane for the Spark runs (one lane at a time: the broker one is free for
    // others meanwhile).
    let broker_turn = crate::common::broker_turn_before_spark();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    // Unique, so that finding it means it leaked; with the characters that
    // need care in a JAAS line, a Java @argfile, StorageTool's SCRAM spec,
    // .properties files and JSON.
    let password = format!("Sfc-{}-{nanos:x}!#=[]'$&;:", std::process::id());
    let watch = CommandLineWatch::start(&[&password]);
    let mut outputs = Outputs::default();

    // As a user would keep it: in the environment of every `stack` command.
    let (broker, first_up) = Broker::start_configured(
        &[],
        &[
            ("SFCRIME_KAFKA_SECURITY", "sasl_ssl"),
            ("SFCRIME_KAFKA_ADMIN_PASSWORD", &password),
        ],
    );
    outputs.0.push(("stack up stdout".into(), first_up.stdout));
    outputs.0.push(("stack up stderr".into(), first_up.stderr));
    let stack_dir = broker.stack_dir().to_path_buf();
    // The client users' passwords are generated by that first `up`: from
    // here on they are watched for too.
    let producer = stack_dir.join("producer.properties");
    let consumer = stack_dir.join("consumer.properties");
    let user_passwords = [sasl_password(&producer), sasl_password(&consumer)];
    let user_watch = CommandLineWatch::start(&[&user_passwords[0], &user_passwords[1]]);
    // A second `up` grants again (nothing fails for existing users and
    // ACLs) and keeps the users' passwords.
    let (out, _) = outputs.run("stack up (running)", &mut broker.stack(&["up"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for line in [
        "clients: SASL_SSL (SCRAM-SHA-512), CA ",
        &format!(
            "  admin 'sfcrime-admin' (super user): {}",
            stack_dir.join("client.properties").display()
        ),
        &format!(
            "  producer 'sfcrime-producer' (writes '{TOPIC}' and '{TOPIC}.dlq'): {}",
            producer.display()
        ),
        &format!(
            "  consumer 'sfcrime-consumer' (reads '{TOPIC}' as groups sfcrime-*, \
             spark-kafka-*): {}",
            consumer.display()
        ),
    ] {
        assert!(shown.contains(line), "no '{line}' in:\n{shown}");
    }
    assert_eq!(
        [sasl_password(&producer), sasl_password(&consumer)],
        user_passwords
    );
    // -v dumps the settings: the password only as [redacted].
    let (out, _) = outputs.run("stack status -v", &mut broker.stack(&["status", "-v"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("kafka.admin.password = [redacted]  (env)"),
        "{}",
        text(&out.stderr)
    );

    let scratch = tempfile::tempdir().unwrap();
    let bad = with_login(
        &stack_dir.join("client.properties"),
        &scratch.path().join("wrong-password.properties"),
        "sasl.password=not-the-password",
    );
    let unknown = with_login(
        &consumer,
        &scratch.path().join("unknown-user.properties"),
        "sasl.username=nobody-we-know",
    );
    let slice = write_slice(scratch.path());

    // Each client with its own user's -F file.
    let (out, took) = outputs.run(
        "produce",
        broker
            .sfcrime()
            .args(["produce", "--json", "-F"])
            .arg(&producer)
            .arg("-f")
            .arg(&slice),
    );
    assert!(out.status.success(), "produce: {}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["delivered"], RECORDS as u64, "{summary}");
    eprintln!("security: produce {RECORDS} records over SASL_SSL in {took:.1?}");
    let (out, _) = outputs.run(
        "consume --verify",
        broker
            .sfcrime()
            .args(["consume", "-F"])
            .arg(&consumer)
            .arg("--verify")
            .arg(&slice),
    );
    let verdict = text(&out.stdout);
    assert!(out.status.success(), "{verdict}{}", text(&out.stderr));
    let expected = format!(
        "verify OK: {RECORDS} expected, {RECORDS} present, 0 missing, 0 duplicated, 0 corrupted"
    );
    assert!(verdict.contains(&expected), "{verdict}");

    // Least privilege: the consumer may not write, the producer may not
    // read; each is told so in one line, at once.
    for (what, args, settings, refusal) in [
        (
            "produce as the consumer",
            vec!["produce", "--limit", "10"],
            &consumer,
            format!("user 'sfcrime-consumer' is not authorized to write to topic '{TOPIC}'"),
        ),
        (
            "consume as the producer",
            vec!["consume", "--format", "none"],
            &producer,
            format!("user 'sfcrime-producer' is not authorized to read topic '{TOPIC}'"),
        ),
    ] {
        let took = outputs.refused(
            what,
            broker
                .sfcrime()
                .args(&args)
                .args(["--timeout", "60", "-F"])
                .arg(settings),
            &refusal,
            "AuthorizationFailed",
        );
        eprintln!("security: {what} was refused after {took:.1?}");
    }
    // The topic holds exactly the slice still: nothing the consumer tried
    // to write got in.
    let (out, _) = outputs.run(
        "consume --verify (after the refused writes)",
        broker
            .sfcrime()
            .args(["consume", "-F"])
            .arg(&consumer)
            .arg("--verify")
            .arg(&slice),
    );
    assert!(
        text(&out.stdout).contains(&expected),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // A wrong password or an unknown user: one clear error, at once (not
    // after --timeout).
    for (what, args, settings) in [
        (
            "produce (wrong password)",
            vec!["produce", "--limit", "10"],
            &bad,
        ),
        (
            "consume (wrong password)",
            vec!["consume", "--format", "none"],
            &bad,
        ),
        (
            "consume (unknown user)",
            vec!["consume", "--format", "none"],
            &unknown,
        ),
    ] {
        let took = outputs.refused(
            what,
            broker
                .sfcrime()
                .args(&args)
                .args(["--timeout", "60", "-F"])
                .arg(settings),
            "the Kafka broker refused the SASL login",
            "invalid credentials",
        );
        eprintln!("security: {what} failed after {took:.1?}");
    }
    let python = home().join(".venv/bin/python");
    let (out, took) = outputs.run(
        "connector (wrong password)",
        assert_cmd::Command::new(&python)
            .args([
                "-c",
                CONNECTOR_CHECK,
                &broker.bootstrap(),
                crate::common::TOPIC,
            ])
            .arg(&bad),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the Kafka broker refused the SASL login"),
        "{stderr}"
    );
    eprintln!("security: the connector with a wrong password failed after {took:.1?}");

    // spark run over each source, results equal to the slice's ground truth.
    drop(broker_turn);
    let spark_turn = crate::common::spark_turn();
    let truth = Aggregates::ground_truth(&slice);
    let mut run_dirs = Vec::new();
    for source in ["kafka", "sfcrime_connector"] {
        let (out, took) = outputs.run(
            &format!("spark run --source {source}"),
            broker
                .sfcrime()
                .args(["spark", "run", "--available-now", "--source", source])
                // 5,000 rows: 2 state stores do, and cost less than 8.
                .args(["-c", "spark.sql.shuffle.partitions=2", "-F"])
                .arg(&consumer),
        );
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "spark run --source {source}:\n{stdout}\n{}",
            text(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("summary: {RECORDS} input rows")),
            "{stdout}"
        );
        let run_dir = announced_run_dir(&out.stderr);
        Aggregates::from_job_output(&run_dir.join("output")).assert_equal(&truth);
        eprintln!("security: spark run --source {source} as the consumer user over SASL_SSL: {RECORDS} rows, exact, {took:.1?}");
        run_dirs.push(run_dir);
    }
    let (out, took) = outputs.run(
        "spark run (wrong password)",
        broker
            .sfcrime()
            .args(["spark", "run", "--available-now", "-F"])
            .arg(&bad),
    );
    // spark run checks the broker before it starts Spark: the same one
    // line as produce, at once, and no run dir left behind.
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("sfcrime: error: the Kafka broker refused the SASL login"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("sfcrime: error:").count(), 1, "{stderr}");
    assert!(!stderr.contains("spark: run dir"), "{stderr}");
    eprintln!("security: spark run with a wrong password failed after {took:.1?}");
    drop(spark_turn);

    // On the local SASL_SSL stack (no bootstrap.servers), `produce` is the
    // producer user and `consume` the consumer user without -F.
    let local = |args: &[&str]| {
        let mut command = crate::common::sfcrime();
        command
            .env("SFCRIME_KAFKA_SECURITY", "sasl_ssl")
            .env("SFCRIME_STACK_DIR", &stack_dir)
            .env("SFCRIME_KAFKA_PORT", broker.port.to_string())
            .args(args);
        command
    };
    let (out, _) = outputs.run(
        "consume (local stack, no -F)",
        &mut local(&["consume", "-n", "1", "--format", "none"]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (out, _) = outputs.run(
        "produce (local stack, no -F, another topic)",
        &mut local(&["produce", "--limit", "1", "-t", "not.granted"]),
    );
    // (the admin would be told that the topic does not exist)
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "sfcrime: error: user 'sfcrime-producer' is not authorized to see topic 'not.granted'"
        ),
        "{stderr}"
    );

    // Where the passwords are, and where they are not.
    let dirs: Vec<&Path> = run_dirs.iter().map(PathBuf::as_path).collect();
    assert_passwords_nowhere(
        &[&password, &user_passwords[0], &user_passwords[1]],
        vec![watch, user_watch],
        &outputs,
        &dirs,
    );
    eprintln!(
        "security: no password is in any of {} outputs, on a command line, in a file of {} run dirs",
        outputs.0.len(),
        run_dirs.len()
    );
    for (password, files) in [
        (
            password.as_str(),
            vec![
                stack_dir.join("client.properties"),
                stack_dir.join("node-1/server.properties"),
            ],
        ),
        (user_passwords[0].as_str(), vec![producer.clone()]),
        (user_passwords[1].as_str(), vec![consumer.clone()]),
    ] {
        assert_eq!(
            files_containing(&stack_dir, password),
            files,
            "files of the stack dir holding a password"
        );
        for file in &files {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
    }
    let key_store = stack_dir.join("tls/broker.pem");
    assert_eq!(mode(&key_store), 0o600, "{}", key_store.display());
}

/// The `sasl.password` in a settings file `stack up` wrote.
fn sasl_password(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("sasl.password="))
        .unwrap_or_else(|| panic!("no password in {}", path.display()));
    assert!(
        password.len() >= 20,
        "a weak password in {}",
        path.display()
    );
    password.to_string()
}

/// A copy of the settings file `from` at `to` with the line of the key in
/// `line` replaced by it.
fn with_login(from: &Path, to: &Path, line: &str) -> PathBuf {
    let key = line.split('=').next().unwrap();
    let changed: String = fs::read_to_string(from)
        .unwrap()
        .lines()
        .map(|l| match l.starts_with(&format!("{key}=")) {
            true => format!("{line}\n"),
            false => format!("{l}\n"),
        })
        .collect();
    fs::write(to, changed).unwrap();
    to.to_path_buf()
}

#[test]
fn sasl_ssl_on_three_brokers_replicates_every_record() {
    let _turn = crate::common::broker_turn();
    const SLICE: usize = 2_000;
    let password = format!("Sfc3-{}-=;:'$", std::process::id());
    let broker = Broker::start_cluster(
        3,
        &[
            ("SFCRIME_KAFKA_SECURITY", "sasl_ssl"),
            ("SFCRIME_KAFKA_ADMIN_PASSWORD", &password),
        ],
    );
    let settings = broker.stack_dir().join("client.properties");
    let (_dir, slice) = data_slice(SLICE);
    let out = broker
        .sfcrime()
        .args(["produce", "-t", TOPIC, "-F"])
        .arg(&settings)
        .arg("-f")
        .arg(&slice)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Every replica in sync: the followers fetched over SASL_SSL, logged in
    // as the admin user.
    let out = broker.stack(&["status"]).output().unwrap();
    let status = text(&out.stdout);
    assert!(out.status.success(), "{status}{}", text(&out.stderr));
    assert!(
        status.contains(&format!(
            "topic {TOPIC}: 3 partitions, 3 replicas, all in sync"
        )),
        "{status}"
    );
    let verify_out = broker
        .sfcrime()
        .args(["consume", "-t", TOPIC, "--verify"])
        .arg(&slice)
        .arg("-F")
        .arg(&settings)
        .output()
        .unwrap();
    let verdict = text(&verify_out.stdout);
    assert!(
        verdict.contains(&format!(
            "verify OK: {SLICE} expected, {SLICE} present, 0 missing, 0 duplicated"
        )),
        "{verdict}{}",
        text(&verify_out.stderr)
    );
    for n in 1..=3 {
        let config = broker
            .stack_dir()
            .join(format!("node-{n}/server.properties"));
        let text = fs::read_to_string(&config).unwrap();
        assert!(
            text.contains(&format!(
                "listeners=SASL_SSL://127.0.0.1:{},CONTROLLER://",
                broker.node_port(n)
            )) && text.contains("inter.broker.listener.name=SASL_SSL"),
            "{text}"
        );
        assert_eq!(mode(&config), 0o600, "{}", config.display());
    }
    eprintln!(
        "security: 3 SASL_SSL brokers, {SLICE} records produced and verified, 3 replicas in sync"
    );
}

/// The results of every run in a sweep's results directory.
#[test]
fn sasl_ssl_sweep_and_bench_connector_use_the_client_settings_everywhere() {
    let broker_turn = crate::common::broker_turn_before_spark();
    let password = format!("Sfc-sweep-{}-=;:'$&", std::process::id());
    let watch = CommandLineWatch::start(&[&password]);
    let mut outputs = Outputs::default();
    let (broker, _) = Broker::start_configured(
        &[],
        &[
            ("SFCRIME_KAFKA_SECURITY", "sasl_ssl"),
            ("SFCRIME_KAFKA_ADMIN_PASSWORD", &password),
        ],
    );
    let settings = broker.stack_dir().join("client.properties");
    const SLICE: usize = 2_000;
    let (_slice_dir, slice) = data_slice(SLICE);
    let scratch = tempfile::tempdir().unwrap();
    drop(broker_turn);
    let _spark_turn = crate::common::spark_turn();

    // bench connector: its topic checks, the `sfcrime produce` that loads
    // the topic, and both Spark sources, all over SASL_SSL.
    let bench_dir = scratch.path().join("bench");
    let report = scratch.path().join("bench.json");
    let (out, took) = outputs.run(
        "bench connector",
        broker
            .sfcrime()
            .args(["bench", "connector", "-t", "bench.sasl", "--repeat", "1"])
            // The test machine is never quiet: no waiting for it.
            .args(["--max-load", "1000", "-F"])
            .arg(&settings)
            .arg("-f")
            .arg(&slice)
            .arg("--results-dir")
            .arg(&bench_dir)
            .arg("--json")
            .arg(&report),
    );
    assert!(
        out.status.success(),
        "bench connector:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains(&format!("loading the {SLICE} records")),
        "{}",
        text(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["records"], SLICE as u64, "{report}");
    let runs = run_records(&bench_dir);
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        assert_eq!(run["status"], "ok", "{run}");
        assert_eq!(run["input_rows"], SLICE as u64, "{run}");
        assert_eq!(run["output_calls"], SLICE as u64, "{run}");
    }
    eprintln!(
        "security: bench connector over SASL_SSL, {SLICE} records, both sources exact, {took:.1?}"
    );

    // A latency sweep of one point: it creates its topics, starts `sfcrime
    // produce` and reads the topics' sizes over SASL_SSL.
    let sweep_dir = scratch.path().join("sweep");
    let (out, took) = outputs.run(
        "sweep",
        broker
            .sfcrime()
            .env("SFCRIME_DATA_FILE", &slice)
            .args([
                "sweep",
                "--name",
                "sasl",
                "--repeat",
                "1",
                "--max-wait",
                "0",
            ])
            .args(["--latency-rate", "200", "--latency-duration", "5"])
            .args(["--base", "trigger=1 second", "--base"])
            .args(["spark.sql.shuffle.partitions=2", "--param"])
            .args(["spark.sql.shuffle.partitions=2", "-F"])
            .arg(&settings)
            .arg("--results-dir")
            .arg(&sweep_dir),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "sweep:\n{stderr}");
    assert!(
        stderr.contains("1 runs done now (0 failed), 0 were done before"),
        "{stderr}"
    );
    let runs = run_records(&sweep_dir);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run["status"], "ok", "{run}");
    let produced = run["expected_rows"].as_u64().unwrap();
    assert!(produced > 500, "{run}");
    assert_eq!(run["input_rows"], produced, "{run}");
    assert_eq!(run["output_calls"], produced, "{run}");
    eprintln!("security: latency sweep over SASL_SSL, {produced} records produced and counted, {took:.1?}");

    assert_passwords_nowhere(
        &[&password],
        vec![watch],
        &outputs,
        &[&bench_dir, &sweep_dir],
    );
}
