//! `bench kafka`: our producer and consumer vs Kafka's ProducerPerformance
//! and ConsumerPerformance, on the same broker, the same records (the
//! dataset's own compact JSON values, via --payload-file) and the same
//! producer settings, alternating which goes first in each repeat.

use crate::measure::{format_spread, run_measured, sfcrime_command};
use anyhow::{bail, Context, Result};
use sfcrime_kafka::admin;
use sfcrime_kafka::client::KafkaSettings;
use sfcrime_kafka::wire::compact_json;
use sfcrime_records::RecordReader;
use sfcrime_stats::Spread;
use sfcrime_sweep::sweep::QuietWait;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Producer settings given to both tools.
pub const SHARED_PRODUCER_SETTINGS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("compression.type", "lz4"),
    ("linger.ms", "50"),
    ("batch.size", "1000000"),
];

pub struct KafkaBenchOptions {
    /// The sfcrime binary (normally the running one).
    pub sfcrime: PathBuf,
    pub home: PathBuf,
    pub bootstrap: String,
    pub file: PathBuf,
    pub repeat: usize,
    pub java: PathBuf,
    /// Directory of Kafka's jars (kafka-tools among them).
    pub kafka_lib: PathBuf,
    /// Before each round, wait for a quiet machine; a round that starts
    /// above its `max_load` is noisy and left out of the medians.
    pub quiet: QuietWait,
}

/// The machine's 1-minute load average at a round's start, after the wait.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Round {
    pub load_before: f64,
    pub noisy: bool,
}

/// One tool's numbers over the repeats.
#[derive(Debug, Default, serde::Serialize)]
pub struct Series {
    pub tool: String,
    pub records_per_second: Vec<f64>,
    pub mib_per_second: Vec<f64>,
    pub peak_rss_mib: Vec<f64>,
}

impl Series {
    fn new(tool: &str) -> Self {
        Series {
            tool: tool.to_string(),
            ..Series::default()
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct KafkaBenchReport {
    pub records: u64,
    pub repeat: usize,
    pub max_load: f64,
    /// One per round; each series' values are in round order.
    pub rounds: Vec<Round>,
    pub producer: [Series; 2],
    pub consumer: [Series; 2],
}

const OURS: &str = "bench.sfcrime";
const THEIRS: &str = "bench.kafka-perf";

pub fn run(
    options: &KafkaBenchOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<KafkaBenchReport> {
    let kafka = KafkaSettings::new(&options.bootstrap);
    admin::metadata(&kafka, Duration::from_secs(10))?;
    let payloads = tempfile::NamedTempFile::new()?;
    let records = write_payloads(&options.file, payloads.path())?;
    let mut producer = [
        Series::new("sfcrime produce"),
        Series::new("kafka ProducerPerformance"),
    ];
    let mut consumer = [
        Series::new("sfcrime consume"),
        Series::new("kafka ConsumerPerformance"),
    ];
    // One unmeasured round first: the broker's JIT is cold after a start,
    // and whichever tool went first paid for warming it (our producer,
    // first in round 1, ran at 0.73-0.83x the Java tool there in two of
    // three runs, against medians of 1.3-1.6x in their other rounds).
    progress("warm-up: each producer once, unmeasured");
    recreate_topics(&kafka)?;
    produce_ours(options)?;
    produce_theirs(options, payloads.path(), records)?;
    let mut rounds = Vec::with_capacity(options.repeat);
    for round in 0..options.repeat {
        let load_before = options.quiet.wait(&mut |line| progress(line.trim()));
        let noisy = options.quiet.is_noisy(load_before);
        progress(&format!(
            "round {}/{}: load average {load_before:.2}{}",
            round + 1,
            options.repeat,
            if noisy { " (noisy: left out)" } else { "" }
        ));
        rounds.push(Round { load_before, noisy });
        recreate_topics(&kafka)?;
        let ours_first = round % 2 == 0;
        for ours in [ours_first, !ours_first] {
            progress(&format!(
                "round {}/{}: {} producer",
                round + 1,
                options.repeat,
                if ours { "sfcrime" } else { "kafka" }
            ));
            let (rps, mibps, rss) = if ours {
                produce_ours(options)?
            } else {
                produce_theirs(options, payloads.path(), records)?
            };
            let series = &mut producer[usize::from(!ours)];
            series.records_per_second.push(rps);
            series.mib_per_second.push(mibps);
            series.peak_rss_mib.push(rss);
        }
        for ours in [ours_first, !ours_first] {
            progress(&format!(
                "round {}/{}: {} consumer",
                round + 1,
                options.repeat,
                if ours { "sfcrime" } else { "kafka" }
            ));
            let (rps, mibps, rss) = if ours {
                consume_ours(options, records)?
            } else {
                consume_theirs(options, records)?
            };
            let series = &mut consumer[usize::from(!ours)];
            series.records_per_second.push(rps);
            series.mib_per_second.push(mibps);
            series.peak_rss_mib.push(rss);
        }
    }
    Ok(KafkaBenchReport {
        records,
        repeat: options.repeat,
        max_load: options.quiet.max_load,
        rounds,
        producer,
        consumer,
    })
}

impl KafkaBenchReport {
    /// A Markdown table over the quiet rounds: medians (min-max) per tool,
    /// and our/their ratio; then each round's load average.
    pub fn to_markdown(&self) -> String {
        let quiet = |values: &[f64]| -> Vec<f64> {
            values
                .iter()
                .zip(&self.rounds)
                .filter(|(_, round)| !round.noisy)
                .map(|(v, _)| *v)
                .collect()
        };
        let noisy = self.rounds.iter().filter(|r| r.noisy).count();
        let mut out = format!(
            "{} records, {} rounds ({noisy} noisy, left out: load average above {}), \
             medians [95% bootstrap interval]\n\n\
             | role | tool | records/s | MiB/s | peak RSS MiB | ratio (records/s) |\n\
             | --- | --- | ---: | ---: | ---: | ---: |\n",
            self.records, self.repeat, self.max_load
        );
        for (role, pair) in [("produce", &self.producer), ("consume", &self.consumer)] {
            let reference = median(&quiet(&pair[1].records_per_second));
            for series in pair {
                let rps = median(&quiet(&series.records_per_second));
                out.push_str(&format!(
                    "| {role} | {} | {} | {} | {} | {:.2}× |\n",
                    series.tool,
                    spread(&quiet(&series.records_per_second), 0),
                    spread(&quiet(&series.mib_per_second), 1),
                    spread(&quiet(&series.peak_rss_mib), 0),
                    rps / reference
                ));
            }
        }
        let loads: Vec<String> = self
            .rounds
            .iter()
            .map(|r| {
                format!(
                    "{:.2}{}",
                    r.load_before,
                    if r.noisy { " (noisy)" } else { "" }
                )
            })
            .collect();
        out.push_str(&format!(
            "\nload average before each round: {}\n",
            loads.join(", ")
        ));
        out
    }
}

/// Fresh, empty 3-partition topics for both tools.
fn recreate_topics(kafka: &KafkaSettings) -> Result<()> {
    for topic in [OURS, THEIRS] {
        admin::delete_topic(kafka, topic, Duration::from_secs(30))?;
    }
    // Deletion is asynchronous; wait until the names are free again.
    for topic in [OURS, THEIRS] {
        admin::wait_deleted(kafka, topic, Duration::from_secs(30))?;
        admin::ensure_topic(kafka, topic, 3, 1, &[], Duration::from_secs(30))?;
    }
    Ok(())
}

fn spread(values: &[f64], decimals: usize) -> String {
    format_spread(Spread::of(values.iter().copied()), decimals)
}

fn median(values: &[f64]) -> f64 {
    Spread::of(values.iter().copied()).map_or(f64::NAN, |s| s.median)
}

/// The dataset's compact values, one per line (ProducerPerformance's
/// --payload-file format), so both tools send the same bytes.
fn write_payloads(file: &Path, out: &Path) -> Result<u64> {
    let mut writer = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut value = Vec::new();
    let mut records = 0;
    for element in RecordReader::open(file)? {
        let element = element?;
        compact_json(&element.raw, &mut value);
        writer.write_all(&value)?;
        writer.write_all(b"\n")?;
        records += 1;
    }
    writer.flush()?;
    Ok(records)
}

fn sfcrime(options: &KafkaBenchOptions) -> Command {
    sfcrime_command(&options.sfcrime, &options.home)
}

const MIB: f64 = 1024.0 * 1024.0;

fn produce_ours(options: &KafkaBenchOptions) -> Result<(f64, f64, f64)> {
    let mut command = sfcrime(options);
    command
        .args([
            "produce",
            "--json",
            "-t",
            OURS,
            "-b",
            &options.bootstrap,
            "-f",
        ])
        .arg(&options.file);
    for (key, value) in SHARED_PRODUCER_SETTINGS {
        command.arg("-X").arg(format!("{key}={value}"));
    }
    let run = run_measured(&mut command)?;
    let summary: serde_json::Value = serde_json::from_str(&run.stdout)?;
    let seconds = summary["seconds"]
        .as_f64()
        .context("no seconds in summary")?;
    let delivered = summary["delivered"].as_f64().context("no delivered")?;
    let bytes = summary["bytes"].as_f64().context("no bytes")?;
    Ok((
        delivered / seconds,
        bytes / MIB / seconds,
        run.peak_rss_kb as f64 / 1024.0,
    ))
}

fn java(options: &KafkaBenchOptions, class: &str) -> Command {
    let mut command = Command::new(&options.java);
    command
        .args(["-Xmx512m", "-cp"])
        .arg(format!("{}/*", options.kafka_lib.display()))
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            options
                .home
                .join("config/broker-log4j2.properties")
                .display()
        ))
        .arg(class);
    command
}

fn produce_theirs(
    options: &KafkaBenchOptions,
    payloads: &Path,
    records: u64,
) -> Result<(f64, f64, f64)> {
    let mut command = java(options, "org.apache.kafka.tools.ProducerPerformance");
    command
        .args(["--topic", THEIRS, "--num-records", &records.to_string()])
        .arg("--payload-file")
        .arg(payloads)
        .args([
            "--payload-delimiter",
            "\n",
            "--throughput",
            "-1",
            "--producer-props",
        ])
        .arg(format!("bootstrap.servers={}", options.bootstrap));
    for (key, value) in SHARED_PRODUCER_SETTINGS {
        command.arg(format!("{key}={value}"));
    }
    let run = run_measured(&mut command)?;
    // "199999 records sent, 155158.3 records/sec (60.76 MB/sec), ..."
    let line = run
        .stdout
        .lines()
        .rfind(|l| l.contains("records sent"))
        .with_context(|| format!("unexpected ProducerPerformance output:\n{}", run.stdout))?;
    let number_before = |marker: &str| -> Result<f64> {
        let end = line.find(marker).context("marker")?;
        let start = line[..end]
            .rfind(['(', ' ', ','])
            .map(|i| i + 1)
            .unwrap_or(0);
        line[start..end].trim().parse().context("number")
    };
    let rps = number_before(" records/sec")
        .with_context(|| format!("cannot read records/sec from: {line}"))?;
    let mibps =
        number_before(" MB/sec").with_context(|| format!("cannot read MB/sec from: {line}"))?;
    Ok((rps, mibps, run.peak_rss_kb as f64 / 1024.0))
}

fn consume_ours(options: &KafkaBenchOptions, records: u64) -> Result<(f64, f64, f64)> {
    let run = run_measured(sfcrime(options).args([
        "consume",
        "--json",
        "-t",
        OURS,
        "-b",
        &options.bootstrap,
    ]))?;
    let summary: serde_json::Value = serde_json::from_str(&run.stdout)?;
    let messages = summary["messages"].as_f64().context("no messages")?;
    if messages as u64 != records {
        bail!("sfcrime consume read {messages} of {records} records");
    }
    let seconds = summary["seconds"].as_f64().context("no seconds")?;
    let bytes = summary["bytes"].as_f64().context("no bytes")?;
    Ok((
        messages / seconds,
        bytes / MIB / seconds,
        run.peak_rss_kb as f64 / 1024.0,
    ))
}

fn consume_theirs(options: &KafkaBenchOptions, records: u64) -> Result<(f64, f64, f64)> {
    let run = run_measured(
        java(options, "org.apache.kafka.tools.ConsumerPerformance").args([
            "--bootstrap-server",
            &options.bootstrap,
            "--topic",
            THEIRS,
            "--messages",
            &records.to_string(),
        ]),
    )?;
    // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
    // nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    // The fetch.* rates exclude the group join, which `sfcrime consume`
    // (partition assignment, no group) does not pay either.
    let line = run
        .stdout
        .lines()
        .rfind(|l| l.split(',').count() >= 10 && !l.starts_with("start.time"))
        .with_context(|| format!("unexpected ConsumerPerformance output:\n{}", run.stdout))?;
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let consumed: f64 = fields[4].parse().context("nMsg")?;
    if consumed as u64 != records {
        bail!("ConsumerPerformance read {consumed} of {records} records");
    }
    Ok((
        fields[9].parse().context("fetch.nMsg.sec")?,
        fields[8].parse().context("fetch.MB.sec")?,
        run.peak_rss_kb as f64 / 1024.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(tool: &str, records_per_second: &[f64]) -> Series {
        Series {
            tool: tool.to_string(),
            records_per_second: records_per_second.to_vec(),
            mib_per_second: records_per_second.iter().map(|r| r / 1e4).collect(),
            peak_rss_mib: vec![30.0; records_per_second.len()],
        }
    }

    #[test]
    fn noisy_rounds_are_left_out_of_the_medians_and_counted() {
        // Round 2 ran at load 4.0: its 10x outliers must not move a median.
        let report = KafkaBenchReport {
            records: 10,
            repeat: 3,
            max_load: 1.0,
            rounds: vec![
                Round {
                    load_before: 0.5,
                    noisy: false,
                },
                Round {
                    load_before: 4.0,
                    noisy: true,
                },
                Round {
                    load_before: 0.9,
                    noisy: false,
                },
            ],
            producer: [
                series("ours", &[200.0, 2000.0, 200.0]),
                series("theirs", &[100.0, 10.0, 100.0]),
            ],
            consumer: [
                series("ours", &[300.0, 3000.0, 300.0]),
                series("theirs", &[100.0, 100.0, 100.0]),
            ],
        };
        let table = report.to_markdown();
        assert!(table.contains("3 rounds (1 noisy, left out"), "{table}");
        assert!(
            table.contains("| produce | ours | 200 [200–200] |"),
            "{table}"
        );
        assert!(table.contains("| 2.00× |"), "{table}");
        assert!(
            table.contains("| consume | ours | 300 [300–300] |"),
            "{table}"
        );
        assert!(table.contains("| 3.00× |"), "{table}");
        assert!(
            table.contains("before each round: 0.50, 4.00 (noisy), 0.90"),
            "{table}"
        );
    }
}
