//! Reading Spark's log the way a person would after a failed run: recognise
//! the well-known failures and say what they mean in one line, show the few
//! lines that prove it, and otherwise show the end of the log without the
//! INFO chatter. Also spots the Spark UI address while a run starts.
//!
//! The signatures are the messages Spark, its launch scripts, the JVM,
//! PySpark and the Kafka client really print; most were captured from
//! pyspark 4.2.0 here (see `tests/fixtures/README.md`).

use std::fmt;

/// A failure that Spark's log can reveal, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    NoJava,
    SparkNotFound,
    KafkaConnectorMissing,
    VersionMismatch,
    KafkaRefused,
    BrokerDown,
    TopicMissing,
    BadConf,
    PythonJob,
    JobArguments,
    SubmitScript,
    JobError,
}

impl FailureKind {
    /// What the failure means and what to do about it, in one line.
    pub fn explanation(self) -> &'static str {
        match self {
            FailureKind::NoJava => {
                "no Java runtime: install a JDK (Spark 4 needs Java 17 or 21) and put `java` \
                 on PATH or set JAVA_HOME"
            }
            FailureKind::SparkNotFound => {
                "Spark is not installed where the script looks: install pyspark into the \
                 project venv (python/requirements.txt) or set SPARK_HOME"
            }
            FailureKind::KafkaConnectorMissing => {
                "the Kafka connector jars are missing: spark/submit.sh fetches \
                 spark-sql-kafka-0-10 and its dependencies once with mvn \
                 (config/spark-kafka-pom.xml); plain spark-submit needs them via --jars or \
                 --packages, for pyspark's exact Spark and Scala version"
            }
            FailureKind::VersionMismatch => {
                "version mismatch between Java, Scala, Spark and the jars (or Python driver \
                 and worker): jars must be built for pyspark's Spark and Scala version, and \
                 Spark 4 needs Java 17+"
            }
            FailureKind::KafkaRefused => {
                "the Kafka broker refused the client: wrong SASL user, password or \
                 mechanism, or a TLS handshake that failed (is the broker's certificate \
                 signed by ssl.ca.location?); check the -X / -F settings"
            }
            FailureKind::BrokerDown => {
                "the Kafka broker is unreachable: start it (`sfcrime stack up`) and check \
                 that the job's --bootstrap-servers (bootstrap.servers) points at it"
            }
            FailureKind::TopicMissing => {
                "the Kafka topic does not exist on the broker: create it (`sfcrime stack up` \
                 creates the configured topic) or fix the subscribed name"
            }
            FailureKind::BadConf => {
                "Spark rejected a setting: check the --master/--conf/memory values named \
                 in the lines below"
            }
            FailureKind::PythonJob => {
                "the Python job could not start: check the script path and that its \
                 imports resolve in the project venv"
            }
            FailureKind::JobArguments => {
                "the job rejected its arguments: `spark/submit.sh --help` lists the job's \
                 options"
            }
            FailureKind::SubmitScript => {
                "spark/submit.sh stopped before Spark started; its own message says why"
            }
            FailureKind::JobError => "the job failed; its own one-line account:",
        }
    }
}

/// Signatures in priority order; each alternative is a set of substrings
/// that must all occur on one line (`^` anchors one at the line's start).
const SIGNATURES: &[(FailureKind, &[&[&str]])] = &[
    (
        FailureKind::NoJava,
        &[
            // spark-class, when neither JAVA_HOME nor `java` on PATH exists.
            &["JAVA_HOME is not set"],
            &["java: command not found"],
            // macOS's /usr/bin/java stub without a JDK.
            &["Unable to locate a Java Runtime"],
            &["No Java runtime present"],
            // spark-class with JAVA_HOME pointing nowhere.
            &["/bin/java: No such file or directory"],
            // spark/submit.sh's own checks.
            &["no java on PATH and JAVA_HOME is unset"],
            &["has no bin/java"],
        ],
    ),
    (
        FailureKind::SparkNotFound,
        &[
            &["Could not find valid SPARK_HOME"],
            &["spark-submit: command not found"],
            &["spark-submit: No such file or directory"],
            // spark/submit.sh's own checks of the venv.
            &["spark/submit.sh: error: no pyspark in"],
            &["looks broken (no jars/spark-core"],
        ],
    ),
    (
        FailureKind::KafkaConnectorMissing,
        &[
            // Spark 3 and 4 (`KafkaUtils`/`DataSource.lookupDataSource`).
            &["Failed to find data source: kafka"],
            &["Failed to find the data source: kafka"],
            &["ClassNotFoundException: kafka.DefaultSource"],
            // The connector without its dependencies.
            &["NoClassDefFoundError: org/apache/kafka/"],
            &["ClassNotFoundException: org.apache.kafka."],
            &["NoClassDefFoundError: org/apache/commons/pool2/"],
            &["ClassNotFoundException: org.apache.commons.pool2."],
            // spark/submit.sh resolving them with mvn.
            &["spark/submit.sh: error: mvn not found"],
            &["spark/submit.sh: error: resolving", "with mvn failed"],
            &["has no spark-sql-kafka jar"],
        ],
    ),
    (
        FailureKind::VersionMismatch,
        &[
            &["UnsupportedClassVersionError"],
            &["NoSuchMethodError"],
            &["NoSuchFieldError"],
            &["AbstractMethodError"],
            &["IncompatibleClassChangeError"],
            // A Scala 2.12 jar on Spark 4's Scala 2.13, or the reverse.
            &["NoClassDefFoundError: scala/"],
            &["ClassNotFoundException: scala."],
            &["PYTHON_VERSION_MISMATCH"],
            &["Python in worker has different version"],
            // spark/submit.sh's own checks.
            &["needs Java 17 or newer"],
            &["Kafka connector", "does not match pyspark"],
        ],
    ),
    (
        // Before BrokerDown: a refused client also sees its connection closed.
        FailureKind::KafkaRefused,
        &[
            // The Java client (spark-sql-kafka): wrong credentials, failed TLS.
            &["SaslAuthenticationException"],
            &["SslAuthenticationException"],
            // sfcrime's connector (sfcrime_kafka::client::Refused).
            &["the Kafka broker refused the SASL login"],
            &["the TLS handshake with the Kafka broker failed"],
        ],
    ),
    (
        FailureKind::BrokerDown,
        &[
            &["Timed out waiting for a node assignment"],
            // Kafka's NetworkClient: "Connection to node -1 (/127.0.0.1:9092)
            // could not be established. Node may not be available."
            &["Connection to node", "could not be established"],
            &["Bootstrap broker", "disconnected"],
        ],
    ),
    (
        FailureKind::TopicMissing,
        &[
            &["UnknownTopicOrPartition"],
            &["UNKNOWN_TOPIC_OR_PARTITION"],
            &["This server does not host this topic-partition"],
        ],
    ),
    (
        FailureKind::BadConf,
        &[
            // Spark 4: [INVALID_CONF_VALUE.TYPE_MISMATCH] The value 'abc' in the config ...
            &["INVALID_CONF_VALUE"],
            &["Cannot parse"],
            &["SparkIllegalArgumentException"],
            // spark.driver.memory=lots reaches the JVM as -Xmxlots.
            &["Invalid maximum heap size"],
            &["Invalid initial heap size"],
            &["Could not create the Java Virtual Machine"],
            // spark-submit's own argument checks.
            &["Master must either be"],
            &["Unrecognized option"],
            &["IllegalArgumentException"],
        ],
    ),
    (
        FailureKind::PythonJob,
        &[
            &["can't open file"],
            &["ModuleNotFoundError"],
            &["ImportError"],
        ],
    ),
    (
        // argparse: "data_stream.py: error: unrecognized arguments: --x".
        FailureKind::JobArguments,
        &[&[".py: error: "]],
    ),
    (
        // Any other refusal of the launch script; its message is the cause.
        FailureKind::SubmitScript,
        &[&["spark/submit.sh: error:"]],
    ),
    (
        // data_stream.py reduces every failure it catches to one `error: `
        // line (the first line of the message and of each cause).
        FailureKind::JobError,
        &[&["^error: "]],
    ),
];

/// Lines of evidence kept per finding, and lines of log tail otherwise.
const EVIDENCE_LINES: usize = 3;
pub const TAIL_LINES: usize = 20;
/// Longer lines are cut; a Spark error can carry a whole query plan.
const MAX_LINE_CHARS: usize = 400;

/// Known harmless warnings that every local run prints.
const NOISE: &[&str] = &[
    "WARNING: Using incubator modules",
    "Using Spark's default log4j profile",
    "Unable to load native-hadoop library",
    "resolves to a loopback address",
    "Set SPARK_LOCAL_IP if you need to bind to another address",
    "Temporary checkpoint location created",
    "is not supported in streaming DataFrames/Datasets and will be disabled",
    "Disabling AQE",
    "Setting Spark log level to",
    "Setting default log level to",
    "To adjust logging level use sc.setLogLevel",
    // Another Spark application holds 4040; Spark simply takes the next port.
    "could not bind on port",
];

/// One recognised failure and the log lines that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FailureKind,
    /// The last few distinct matching lines: the final error is at the end.
    pub lines: Vec<String>,
}

/// What a failed run's log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Recognised failures, most specific first; the first is the cause to
    /// fix, later ones are usually its consequences.
    pub findings: Vec<Finding>,
    /// The last meaningful lines, when nothing was recognised.
    pub tail: Vec<String>,
}

/// Recognises known failures in a Spark log (stdout and stderr of
/// spark-submit), looking only at lines that are not INFO/DEBUG chatter.
pub fn diagnose(log: &str) -> Diagnosis {
    let lines = meaningful_lines(log);
    let mut findings: Vec<Finding> = Vec::new();
    for (kind, alternatives) in SIGNATURES {
        // A line already quoted for a more specific failure is not evidence
        // of another one (spark/submit.sh's "no java" is NoJava, not also
        // SubmitScript).
        let matching = lines.iter().copied().filter(|line| {
            alternatives
                .iter()
                .any(|all| all.iter().all(|needle| matches(line, needle)))
                && !findings
                    .iter()
                    .any(|f| f.lines.iter().any(|shown| *shown == clip(line.trim())))
        });
        let evidence = last_distinct(matching, EVIDENCE_LINES);
        if !evidence.is_empty() {
            findings.push(Finding {
                kind: *kind,
                lines: evidence,
            });
        }
    }
    let tail = if findings.is_empty() {
        let start = lines.len().saturating_sub(TAIL_LINES);
        lines[start..].iter().map(|l| clip(l)).collect()
    } else {
        Vec::new()
    };
    Diagnosis { findings, tail }
}

impl Diagnosis {
    /// The most specific recognised failure.
    pub fn primary(&self) -> Option<FailureKind> {
        self.findings.first().map(|f| f.kind)
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{}", finding.kind.explanation())?;
            for line in &finding.lines {
                writeln!(f, "  | {line}")?;
            }
        }
        if self.findings.is_empty() {
            if self.tail.is_empty() {
                writeln!(f, "no known failure signature, and the log is empty")?;
            } else {
                writeln!(
                    f,
                    "no known failure signature; the last {} meaningful log lines:",
                    self.tail.len()
                )?;
                for line in &self.tail {
                    writeln!(f, "  | {line}")?;
                }
            }
        }
        Ok(())
    }
}

/// The Spark application UI's address, if `line` announces it:
/// `Spark web UI at http://...` (as a job prints `sparkContext.uiWebUrl`),
/// `Bound SparkUI to 0.0.0.0, and started at http://host:4040` (Spark 2-3),
/// `Started Spark web UI at ...` (Spark 1), `Spark context Web UI available
/// at ...` (shells). Spark 4.2 logs only `Successfully started service
/// 'SparkUI' on port 4040.`, at INFO; the driver runs on this machine
/// (client mode), so that becomes `http://localhost:4040`. `Stopped Spark web
/// UI at` is not an announcement: by then the UI is gone.
pub fn find_ui_address(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let announced = (line.contains("SparkUI") && line.contains("and started at "))
        || ((lower.contains("web ui at ") || lower.contains("web ui available at "))
            && !lower.contains("stopped"));
    if announced {
        let start = line.find("http://").or_else(|| line.find("https://"))?;
        let url = line[start..].split_whitespace().next()?;
        return Some(url.trim_end_matches(['.', ',', ';']).to_string());
    }
    let port = line
        .split("Successfully started service 'SparkUI' on port ")
        .nth(1)?;
    let digits: String = port.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("http://localhost:{digits}"))
}

/// Log level of a line that starts a log4j record (`26/11/25 11:46:30 INFO
/// Utils: ...`, `[2024-11-11 02:28:39,728] WARN ...`) or a Spark structured
/// JSON record (`{"ts":...,"level":"INFO",...}`); `None` for other lines.
fn record_level(line: &str) -> Option<&str> {
    const LEVELS: [&str; 7] = [
        "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL",
    ];
    if line.starts_with("{\"ts\"") {
        let rest = &line[line.find("\"level\":\"")? + 9..];
        return LEVELS.into_iter().find(|l| rest.starts_with(l));
    }
    // The record must open with a date or time: "26/11/25", "[2024-11-11".
    let first = line.split_whitespace().next()?.trim_start_matches('[');
    if !first.starts_with(|c: char| c.is_ascii_digit()) || !first.contains(['/', '-', ':']) {
        return None;
    }
    line.split_whitespace()
        .take(4)
        .map(|token| token.trim_matches(|c| c == '[' || c == ']' || c == ':'))
        .find_map(|token| LEVELS.into_iter().find(|l| *l == token))
}

/// Lines worth a person's attention: not in INFO/DEBUG/TRACE records (their
/// continuation lines included, e.g. a pretty-printed progress event or a
/// Kafka client config dump), not a Java stack frame, not known noise.
/// Lines outside any log4j record (Python tracebacks, launcher errors) count.
fn meaningful_lines(log: &str) -> Vec<&str> {
    let mut chatter = false;
    let mut previous_open = false;
    let mut out = Vec::new();
    for line in log.lines() {
        if let Some(level) = record_level(line) {
            chatter = matches!(level, "TRACE" | "DEBUG" | "INFO");
        } else if !is_continuation(line, previous_open) {
            // A new unstructured block, e.g. "Traceback (most recent call last):".
            chatter = false;
        }
        let trimmed = line.trim_end();
        previous_open = trimmed.ends_with([':', '{', '[']);
        let frame = line.trim_start().starts_with("at ") || line.trim_start().starts_with("... ");
        if chatter
            || frame
            || trimmed.trim_start().is_empty()
            || NOISE.iter().any(|n| line.contains(n))
        {
            continue;
        }
        out.push(trimmed);
    }
    out
}

/// Whether an unstructured line continues the record above it: indented,
/// a stack-trace or plan-tree line, or after a line that ended in `:`/`{`/`[`
/// (Spark's "Finish initializing with logical plan:").
fn is_continuation(line: &str, previous_open: bool) -> bool {
    previous_open
        || line.starts_with(char::is_whitespace)
        || ["Caused by:", "}", "]", "+-", ":-", ": "]
            .iter()
            .any(|prefix| line.starts_with(prefix))
}

fn matches(line: &str, needle: &str) -> bool {
    match needle.strip_prefix('^') {
        Some(prefix) => line.starts_with(prefix),
        None => line.contains(needle),
    }
}

/// The last `n` distinct lines of `lines`, in log order, clipped.
fn last_distinct<'a>(lines: impl DoubleEndedIterator<Item = &'a str>, n: usize) -> Vec<String> {
    let mut picked: Vec<&str> = Vec::new();
    for line in lines.rev() {
        let line = line.trim();
        if !picked.contains(&line) {
            picked.push(line);
            if picked.len() == n {
                break;
            }
        }
    }
    picked.into_iter().rev().map(clip).collect()
}

fn clip(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((cut, _)) => format!("{} ...", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_evidence_of_one_failure_only() {
        // Evidence is clipped; the clipped line must still count as quoted.
        let line = format!(
            "error: [STREAM_FAILED] terminated with exception: \
             org.apache.kafka.common.errors.SaslAuthenticationException: {}",
            "x".repeat(MAX_LINE_CHARS)
        );
        let d = diagnose(&line);
        assert_eq!(d.primary(), Some(FailureKind::KafkaRefused));
        assert_eq!(d.findings.len(), 1, "{d}");
    }

    #[test]
    fn ui_address_from_each_announcement() {
        let cases = [
            (
                "19/09/14 20:36:44 INFO SparkUI: Bound SparkUI to 0.0.0.0, and started at http://192.168.199.249:4040",
                Some("http://192.168.199.249:4040"),
            ),
            (
                "14/05/30 10:00:00 INFO SparkUI: Started Spark web UI at http://host:4041",
                Some("http://host:4041"),
            ),
            (
                "Spark context Web UI available at http://192.168.199.249:4040",
                Some("http://192.168.199.249:4040"),
            ),
            (
                "Spark web UI at http://192.0.2.2:4041",
                Some("http://192.0.2.2:4041"),
            ),
            (
                "26/11/25 11:46:30 INFO Utils: Successfully started service 'SparkUI' on port 4040.",
                Some("http://localhost:4040"),
            ),
            (
                "26/11/25 11:46:49 INFO SparkUI: Stopped Spark web UI at http://192.0.2.2:4040",
                None,
            ),
            // The standalone master's UI is not the application's.
            (
                "24/08/22 00:52:41 INFO MasterWebUI: Bound MasterWebUI to 0.0.0.0, and started at http://172.30.1.16:8080",
                None,
            ),
            (
                "26/11/25 11:46:29 INFO Utils: Successfully started service 'sparkDriver' on port 35209.",
                None,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(find_ui_address(line).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn record_levels() {
        assert_eq!(
            record_level("26/11/25 11:46:30 INFO Utils: x"),
            Some("INFO")
        );
        assert_eq!(
            record_level("[2024-11-11 02:28:39,728] WARN [AdminClient clientId=a] x"),
            Some("WARN")
        );
        assert_eq!(
            record_level("2018-03-31 17:00:52 INFO  SparkContext:54 - x"),
            Some("INFO")
        );
        assert_eq!(
            record_level(r#"{"ts":"2024-05-01T00:00:00.000Z","level":"ERROR","msg":"x"}"#),
            Some("ERROR")
        );
        assert_eq!(record_level("Traceback (most recent call last):"), None);
        assert_eq!(record_level("2 INFO lines"), None);
    }

    #[test]
    fn info_records_and_their_continuations_are_chatter() {
        let log = "\
26/11/25 11:47:22 INFO MicroBatchExecution: Finish initializing with logical plan:
WriteToMicroBatchDataSource noop-table
+- ~Aggregate [window#6-T2000ms]
26/11/25 11:47:28 INFO ProgressReporter: Streaming query made progress: {
  \"id\" : \"9df11107\",
}
26/11/25 11:49:26 WARN KafkaOffsetReaderAdmin: Error in attempt 2 getting Kafka offsets: 
java.util.concurrent.ExecutionException: boom
\tat org.apache.kafka.Foo.bar(Foo.java:1)
Caused by: org.apache.kafka.common.errors.TimeoutException: boom
\t... 3 more
26/11/25 11:49:27 INFO Something: done
Traceback (most recent call last):
  File \"x.py\", line 4, in <module>
ValueError: nope
";
        assert_eq!(
            meaningful_lines(log),
            [
                "26/11/25 11:49:26 WARN KafkaOffsetReaderAdmin: Error in attempt 2 getting Kafka offsets:",
                "java.util.concurrent.ExecutionException: boom",
                "Caused by: org.apache.kafka.common.errors.TimeoutException: boom",
                "Traceback (most recent call last):",
                "  File \"x.py\", line 4, in <module>",
                "ValueError: nope",
            ]
        );
    }

    #[test]
    fn evidence_is_the_last_distinct_lines() {
        let lines = ["a", "b", "a", "c", "c", "d"];
        assert_eq!(last_distinct(lines.into_iter(), 3), ["a", "c", "d"]);
        assert_eq!(last_distinct(["x"].into_iter(), 3), ["x"]);
    }

    #[test]
    fn long_lines_are_clipped() {
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        assert_eq!(clip(&long).len(), MAX_LINE_CHARS + 4);
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn display_explains_then_quotes() {
        let d = diagnose("JAVA_HOME is not set\n");
        assert_eq!(d.primary(), Some(FailureKind::NoJava));
        assert_eq!(
            d.to_string(),
            format!(
                "{}\n  | JAVA_HOME is not set\n",
                FailureKind::NoJava.explanation()
            )
        );
        assert_eq!(
            diagnose("").to_string(),
            "no known failure signature, and the log is empty\n"
        );
    }
}
