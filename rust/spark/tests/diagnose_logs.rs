//! Failure recognition on whole logs of real failed pyspark 4.2.0 runs
//! (`tests/fixtures/logs/`), and on excerpts of failures that cannot be
//! produced on this machine, quoted from the messages as Spark, the JVM,
//! macOS and the Kafka client print them.

use sfcrime_spark::diagnose::TAIL_LINES;
use sfcrime_spark::{diagnose, find_ui_address, FailureKind};
use std::path::Path;

fn log(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// Diagnoses `text`, checks its primary failure and that some evidence line
/// contains `quote`; returns the rendered diagnosis.
fn expect(text: &str, kind: FailureKind, quote: &str) -> String {
    let d = diagnose(text);
    assert_eq!(d.primary(), Some(kind), "{d}");
    let evidence = &d.findings[0].lines;
    assert!(!evidence.is_empty() && evidence.len() <= 3, "{d}");
    assert!(
        evidence.iter().any(|l| l.contains(quote)),
        "{quote:?} not in\n{d}"
    );
    assert!(d.tail.is_empty());
    let shown = d.to_string();
    assert!(shown.starts_with(kind.explanation()), "{shown}");
    assert!(!shown.contains(" INFO "), "INFO chatter shown:\n{shown}");
    shown
}

#[test]
fn kafka_connector_missing() {
    expect(
        &log("kafka-connector-missing.log"),
        FailureKind::KafkaConnectorMissing,
        "AnalysisException: Failed to find data source: kafka.",
    );
}

#[test]
fn broker_down() {
    let text = log("broker-down.log");
    let shown = expect(
        &text,
        FailureKind::BrokerDown,
        "[STREAM_FAILED] Query [id = f97d59d4-c725-4952-b82a-642f6dab95c6",
    );
    // A 700-line log comes down to an explanation and three lines.
    assert_eq!(shown.lines().count(), 4, "{shown}");
    assert_eq!(diagnose(&text).findings.len(), 1);
}

/// The project's own pipeline: spark/submit.sh running data_stream.py
/// against a port with no broker (at the script's default WARN log level).
#[test]
fn data_stream_broker_down() {
    let text = log("data-stream-broker-down.log");
    let shown = expect(
        &text,
        FailureKind::BrokerDown,
        "error: streaming query failed: [STREAM_FAILED]",
    );
    assert!(!shown.contains("could not bind on port"), "{shown}");
    assert_eq!(diagnose(&text).findings.len(), 1);
}

#[test]
fn bad_conf_in_sql_and_core() {
    expect(
        &log("bad-conf-sql.log"),
        FailureKind::BadConf,
        r#"The value 'abc' in the config "spark.sql.shuffle.partitions" is invalid"#,
    );
    expect(
        &log("bad-conf-core.log"),
        FailureKind::BadConf,
        r#"The value 'abc' in the config "spark.network.timeout" is invalid"#,
    );
    expect(
        &log("bad-driver-memory.log"),
        FailureKind::BadConf,
        "Invalid maximum heap size: -Xmxlots",
    );
}

#[test]
fn no_java() {
    expect(
        &log("no-java.log"),
        FailureKind::NoJava,
        "JAVA_HOME is not set",
    );
    expect(
        &log("bad-java-home.log"),
        FailureKind::NoJava,
        "/nonexistent/jdk/bin/java: No such file or directory",
    );
    expect(
        "bash: line 1: java: command not found\n",
        FailureKind::NoJava,
        "java: command not found",
    );
    expect(
        "The operation couldn\u{2019}t be completed. Unable to locate a Java Runtime.\n\
         Please visit http://www.java.com for information on installing Java.\n",
        FailureKind::NoJava,
        "Unable to locate a Java Runtime",
    );
}

#[test]
fn spark_or_job_not_found() {
    expect(
        &log("no-spark-home.log"),
        FailureKind::SparkNotFound,
        "Could not find valid SPARK_HOME while searching",
    );
    expect(
        &log("missing-script.log"),
        FailureKind::PythonJob,
        "python3: can't open file '/tmp/sparkprobe/does_not_exist.py'",
    );
}

#[test]
fn version_mismatches() {
    // Spark 4 launched by Java 11.
    expect(
        "Exception in thread \"main\" java.lang.UnsupportedClassVersionError: \
         org/apache/spark/launcher/Main has been compiled by a more recent version of the \
         Java Runtime (class file version 61.0), this version of the Java Runtime only \
         recognizes class file versions up to 55.0\n\
         \tat java.base/java.lang.ClassLoader.defineClass1(Native Method)\n",
        FailureKind::VersionMismatch,
        "class file version 61.0",
    );
    // A connector built for Scala 2.12 on Spark's Scala 2.13.
    expect(
        "25/01/10 09:12:01 ERROR MicroBatchExecution: Query [id = x, runId = y] terminated with error\n\
         java.lang.NoSuchMethodError: 'scala.collection.mutable.ArrayOps scala.Predef$.refArrayOps(java.lang.Object[])'\n\
         \tat org.apache.spark.sql.kafka010.KafkaSourceProvider.createSource(KafkaSourceProvider.scala:99)\n",
        FailureKind::VersionMismatch,
        "NoSuchMethodError: 'scala.collection.mutable.ArrayOps",
    );
    expect(
        "Exception in thread \"main\" java.lang.NoClassDefFoundError: scala/Product$class\n",
        FailureKind::VersionMismatch,
        "scala/Product$class",
    );
}

#[test]
fn topic_missing() {
    expect(
        "25/01/10 09:12:01 WARN NetworkClient: [Consumer clientId=consumer-spark-kafka-source-1, \
         groupId=spark-kafka-source-1] Error while fetching metadata with correlation id 2 : \
         {sf.police.calls=UNKNOWN_TOPIC_OR_PARTITION}\n",
        FailureKind::TopicMissing,
        "{sf.police.calls=UNKNOWN_TOPIC_OR_PARTITION}",
    );
}

#[test]
fn submit_script_refusals() {
    // spark/submit.sh's own checks map to the failure they reveal ...
    expect(
        "spark/submit.sh: error: no java on PATH and JAVA_HOME is unset; install a Java 17+ \
         runtime (e.g. apt-get install openjdk-17-jre-headless)\n",
        FailureKind::NoJava,
        "no java on PATH",
    );
    expect(
        "spark/submit.sh: error: /usr/bin/java is Java 11; Spark 4.2.0 needs Java 17 or newer \
         (set JAVA_HOME)\n",
        FailureKind::VersionMismatch,
        "is Java 11",
    );
    expect(
        "spark/submit.sh: error: mvn not found: it is needed once to download the Spark Kafka \
         connector into /repo/.stack/spark-jars (e.g. apt-get install maven)\n",
        FailureKind::KafkaConnectorMissing,
        "mvn not found",
    );
    // ... and each line is quoted once, under the most specific failure.
    let d = diagnose(
        "spark/submit.sh: error: no pyspark in /repo/.venv; set it up with: python3 -m venv \
         /repo/.venv && /repo/.venv/bin/pip install -r /repo/python/requirements.txt\n",
    );
    assert_eq!(d.primary(), Some(FailureKind::SparkNotFound));
    assert_eq!(d.findings.len(), 1, "{d}");
    // The job's own argument parser (exit status 2).
    expect(
        "usage: data_stream.py [-h] [--source {kafka}] [--bootstrap-servers BOOTSTRAP_SERVERS]\n\
         data_stream.py: error: unrecognized arguments: --topics sf.police.calls\n",
        FailureKind::JobArguments,
        "unrecognized arguments: --topics",
    );
    // Refusals it has no better name for are still explained as its own.
    expect(
        "spark/submit.sh: error: SFCRIME_HOME=/nope is not a directory\n",
        FailureKind::SubmitScript,
        "SFCRIME_HOME=/nope is not a directory",
    );
}

#[test]
fn the_jobs_own_error_line() {
    let text = "26/11/25 12:30:01 WARN Utils: Your hostname, vm, resolves to a loopback address\n\
                error: /repo/runs/spark/output/updates holds batches of an earlier run but \
                checkpoint /repo/runs/spark/checkpoint is new; remove /repo/runs/spark/output \
                or use another --output-dir\n";
    expect(
        text,
        FailureKind::JobError,
        "holds batches of an earlier run",
    );
    // Not a line that merely mentions an error.
    assert_eq!(diagnose("a syntax error: somewhere\n").primary(), None);
    // A recognised cause in the job's line takes precedence, quoted once.
    let d = diagnose(
        "error: [STREAM_FAILED] Query sfcrime_counts terminated with exception: \
         org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node \
         assignment. Call: listNodes\n",
    );
    assert_eq!(d.primary(), Some(FailureKind::BrokerDown));
    assert_eq!(d.findings.len(), 1, "{d}");
}

#[test]
fn signatures_in_info_chatter_do_not_count() {
    let text = "25/01/10 09:12:01 INFO Foo: retrying after IllegalArgumentException\n\
                25/01/10 09:12:02 INFO Foo: all good\n";
    assert!(diagnose(text).findings.is_empty());
}

#[test]
fn unknown_failures_show_the_meaningful_tail() {
    let d = diagnose(&log("python-error.log"));
    assert_eq!(d.primary(), None);
    assert!(d.tail.len() <= TAIL_LINES);
    assert_eq!(
        d.tail.last().map(String::as_str),
        Some("ValueError: topic sf.police.calls has no schema configured")
    );
    assert!(d
        .tail
        .iter()
        .any(|l| l == "Traceback (most recent call last):"));
    assert!(d.tail.iter().all(|l| !l.contains(" INFO ")), "{d}");
    // The harmless start-up warnings every run prints are left out.
    assert!(
        d.tail.iter().all(|l| !l.contains("NativeCodeLoader")),
        "{d}"
    );
    let shown = d.to_string();
    assert!(
        shown.starts_with("no known failure signature; the last"),
        "{shown}"
    );
}

/// At spark/submit.sh's default `spark.log.level=WARN`, Spark 4.2 does not
/// log the UI address at all; only the job can print it.
#[test]
fn a_quiet_start_has_no_ui_and_nothing_to_report() {
    let text = log("startup-warn.log");
    assert_eq!(text.lines().filter_map(find_ui_address).count(), 0);
    let d = diagnose(&text);
    assert!(d.findings.is_empty());
    assert!(
        d.tail
            .iter()
            .all(|l| !l.contains("Setting Spark log level")),
        "{d}"
    );
}

#[test]
fn a_healthy_start_has_a_ui_and_nothing_to_report() {
    let text = log("startup.log");
    let addresses: Vec<String> = text.lines().filter_map(find_ui_address).collect();
    assert_eq!(addresses, ["http://localhost:4040"]);
    let d = diagnose(&text);
    assert!(d.findings.is_empty());
    assert!(d.tail.iter().all(|l| !l.contains(" INFO ")), "{d}");
}
