//! `bench latency`: end-to-end latency (Kafka append of a record to the
//! commit of its micro-batch, or to the append of its enriched copy) of
//! three ways to run the pipeline, in one interleaved run against the same
//! broker at the same produce rate:
//!
//! - `previous`: the job as it ran before the latency work, its 10 s
//!   processing-time trigger with 2 shuffle partitions;
//! - `low-latency`: the same stateful counts with `spark run
//!   --low-latency`'s preset ([`LOW_LATENCY`]);
//! - `real-time`: the stateless enriched-calls pipeline in Spark's
//!   real-time mode (`spark run --real-time`).
//!
//! It is a latency sweep (sfcrime_sweep): each run gets fresh topics, the
//! producer starts at the job's first progress event, the job stops once
//! it has caught up, and every run is checked for exact results (counts
//! equal to what was produced; every enriched call exactly once).

use crate::measure::{format_spread as spread, noisy_note};
use anyhow::{bail, Result};
use serde::Serialize;
use sfcrime_spark::job::LOW_LATENCY;
use sfcrime_sweep::grid::SweepSpec;
use sfcrime_sweep::points::{point_stats, PointStats};
use sfcrime_sweep::results::{read_plan, read_records};
use sfcrime_sweep::sweep::{run_sweep, SweepOptions};
use std::path::PathBuf;

/// The real-time pipeline's checkpoint interval in these runs: the job's
/// default. Every interval ends the long-running tasks and starts new ones,
/// and the records that arrive in between wait: with "10 seconds" p99 was
/// 472-535 ms where p50 was 3 ms (docs/BENCHMARKS.md).
pub const REAL_TIME_INTERVAL: &str = "5 minutes";
/// Task slots for the real-time run: one long-running task for each of the
/// topic's 3 partitions, and one to spare.
pub const REAL_TIME_MASTER: &str = "local[4]";

pub struct LatencyBenchOptions {
    /// Where and how the sweep runs; each run makes its own topics.
    pub sweep: SweepOptions,
    /// Records per second the producer sends.
    pub rate: f64,
    /// How long it sends, in seconds, measured.
    pub duration_s: f64,
    /// How long it sends before that, unmeasured.
    pub warmup_s: f64,
    pub repeat: u32,
    pub seed: u64,
}

/// One mode's runs.
#[derive(Debug, Serialize)]
pub struct ModeResult {
    pub mode: String,
    pub settings: String,
    pub stats: PointStats,
}

#[derive(Debug, Serialize)]
pub struct LatencyBenchReport {
    pub rate: f64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub repeat: u32,
    pub results_dir: PathBuf,
    /// 1-minute load average before the runs, lowest and highest.
    pub load_min: f64,
    pub load_max: f64,
    /// Runs left out because they started above `max_load`.
    pub noisy: usize,
    pub max_load: f64,
    pub modes: Vec<ModeResult>,
}

/// The sweep: the previous defaults as its baseline, the two other modes
/// as extra points on it.
pub fn spec(options: &LatencyBenchOptions) -> Result<SweepSpec> {
    let low_latency: Vec<String> = LOW_LATENCY
        .job_options
        .iter()
        .chain(LOW_LATENCY.confs)
        .map(|(key, value)| format!("{key:?} = {value:?}"))
        .collect();
    let text = format!(
        r#"name = "latency-bench"
description = "end-to-end latency: previous defaults, --low-latency, --real-time"
repeat = {repeat}
seed = {seed}

[latency]
rate = {rate:?}
duration_s = {duration:?}
warmup_s = {warmup:?}

[baseline]
trigger = "10 seconds"
"spark.sql.shuffle.partitions" = 2

[[points]]
{low_latency}

[[points]]
trigger = "none"
realTime = {interval:?}
"spark.master" = {master:?}
"#,
        repeat = options.repeat,
        seed = options.seed,
        rate = options.rate,
        duration = options.duration_s,
        warmup = options.warmup_s,
        interval = REAL_TIME_INTERVAL,
        master = REAL_TIME_MASTER,
        low_latency = low_latency.join("\n"),
    );
    SweepSpec::from_toml(&text)
}

pub fn run(
    options: &LatencyBenchOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<LatencyBenchReport> {
    let spec = spec(options)?;
    let outcome = run_sweep(&spec, &options.sweep, progress)?;
    let dir = &options.sweep.results_dir;
    if outcome.interrupted {
        bail!("interrupted; resume with --results-dir {}", dir.display());
    }
    let plan = read_plan(dir)?;
    let runs = read_records(dir)?;
    let names = ["previous", LOW_LATENCY.name, "real-time"];
    let modes: Vec<ModeResult> = point_stats(&plan.expansion, &runs)
        .into_iter()
        .zip(names)
        .map(|(stats, mode)| ModeResult {
            mode: mode.to_string(),
            settings: stats.label.clone(),
            stats,
        })
        .collect();
    let loads = runs.iter().map(|r| r.load_before);
    Ok(LatencyBenchReport {
        rate: options.rate,
        duration_s: options.duration_s,
        warmup_s: options.warmup_s,
        repeat: options.repeat,
        results_dir: dir.clone(),
        load_min: loads.clone().fold(f64::INFINITY, f64::min),
        load_max: loads.fold(f64::NEG_INFINITY, f64::max),
        noisy: modes.iter().map(|m| m.stats.noisy).sum(),
        max_load: options.sweep.quiet.max_load,
        modes,
    })
}

impl LatencyBenchReport {
    /// A Markdown table: per mode, medians [95% interval] over the repeats
    /// that count.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "{:.0} records/s for {:.0} s measured after {:.0} s of warm-up, {} repeats per mode, \
             interleaved; load average \
             {:.1}–{:.1} before the runs{}; medians [95% interval] over the quiet ok runs; \
             runs in {}\n\n\
             | mode | settings | ok runs | e2e p50 ms | e2e p95 ms | e2e p99 ms |\n\
             | --- | --- | ---: | ---: | ---: | ---: |\n",
            self.rate,
            self.duration_s,
            self.warmup_s,
            self.repeat,
            self.load_min,
            self.load_max,
            noisy_note(self.noisy, self.max_load),
            self.results_dir.display()
        );
        for m in &self.modes {
            out.push_str(&format!(
                "| {} | {} | {}{} | {} | {} | {} |\n",
                m.mode,
                m.settings,
                m.stats.runs.len(),
                if m.stats.failed > 0 {
                    format!(" ({} failed)", m.stats.failed)
                } else {
                    String::new()
                },
                spread(m.stats.e2e_ms_p50, 0),
                spread(m.stats.e2e_ms_p95, 0),
                spread(m.stats.e2e_ms_p99, 0),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfcrime_kafka::client::KafkaSettings;
    use sfcrime_sweep::sweep::QuietWait;

    #[test]
    fn the_three_modes_are_the_sweeps_points() {
        let options = LatencyBenchOptions {
            sweep: SweepOptions {
                home: "/x".into(),
                sfcrime: "/x/sfcrime".into(),
                results_dir: "/x/r".into(),
                kafka: KafkaSettings::new("127.0.0.1:1"),
                topic: "t".into(),
                data_file: "/x/calls.json".into(),
                quiet: QuietWait::default(),
                max_consecutive_failures: 3,
                remote: None,
            },
            rate: 1000.0,
            duration_s: 60.0,
            warmup_s: 20.0,
            repeat: 3,
            seed: 1,
        };
        let spec = spec(&options).unwrap();
        let points = spec.expand().unwrap().points;
        assert_eq!(points.len(), 3);
        let options_of = |i: usize| points[i].job_options().collect::<Vec<_>>();
        assert_eq!(options_of(0), [("trigger", "10 seconds")]);
        assert_eq!(points[0].get("spark.sql.shuffle.partitions"), Some("2"));
        let mut preset_options = LOW_LATENCY.job_options.to_vec();
        preset_options.sort(); // a point's options come in key order
        assert_eq!(options_of(1), preset_options);
        for (key, value) in LOW_LATENCY.confs {
            assert_eq!(points[1].get(key), Some(*value));
        }
        assert_eq!(options_of(2), [("realTime", REAL_TIME_INTERVAL)]);
        assert_eq!(points[2].get("spark.master"), Some(REAL_TIME_MASTER));
    }
}
