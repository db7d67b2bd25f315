//! Summary statistics over a run's progress events, written as `summary.json`
//! next to the run's `progress.jsonl`.
//!
//! Conventions, so two summaries compare like for like:
//! - Percentiles are nearest-rank (`sfcrime_stats::nearest_rank`): always an observed
//!   value, never an interpolation; the median is the 50th percentile, so
//!   with an even count it is the lower of the two middle values.
//! - Rate and latency statistics cover non-empty batches only: idle triggers
//!   (no input rows) report a rate of 0 and take a few ms, and would drag the
//!   figures towards what the query does when it has nothing to do.
//! - A progress `timestamp` is when a trigger *started*, so a run's span
//!   ends at the last trigger's start plus its latency.

use serde::{Deserialize, Serialize};
use sfcrime_stats::nearest_rank;

use crate::progress::StreamingQueryProgress;

/// Timing known to the caller rather than to Spark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunClock {
    /// When spark-submit was launched, ms since the epoch; time to first
    /// batch is measured from here when given (it then includes JVM start-up).
    pub launched_at_ms: Option<i64>,
    /// Wall time to divide total rows by, overriding the span of the events.
    pub wall_ms: Option<i64>,
}

/// Where [`RunSummary::wall_ms`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WallSource {
    /// The caller's [`RunClock::wall_ms`].
    Given,
    /// First trigger's start to the last trigger's end.
    ProgressTimestamps,
}

/// Where [`RunSummary::time_to_first_batch_ms`] is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeOrigin {
    /// [`RunClock::launched_at_ms`].
    Launch,
    /// The start of the first trigger.
    FirstProgress,
}

/// Mean and nearest-rank percentiles of a rate, in rows per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateStats {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
}

/// Nearest-rank percentiles and maximum of batch latency, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub p50_ms: i64,
    pub p95_ms: i64,
    pub max_ms: i64,
}

/// What a run did, from its progress events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Progress events seen, idle ones included.
    pub progress_events: usize,
    /// Events whose trigger read at least one row.
    pub non_empty_batches: usize,
    /// Rows read over all events. A batch that Spark re-runs after a restart
    /// counts each time it ran, since each time the rows were processed.
    pub total_input_rows: i64,
    pub first_timestamp: Option<String>,
    pub last_timestamp: Option<String>,
    pub wall_ms: Option<i64>,
    pub wall_source: Option<WallSource>,
    /// `total_input_rows` over `wall_ms`.
    pub overall_rows_per_second: Option<f64>,
    /// Spark's per-batch `processedRowsPerSecond`, non-empty batches only.
    pub processed_rows_per_second: Option<RateStats>,
    /// Per-batch `triggerExecution` (else `batchDuration`), non-empty batches only.
    pub batch_latency: Option<LatencyStats>,
    /// Until the end of the first batch that read rows.
    pub time_to_first_batch_ms: Option<i64>,
    /// Launch to the start of the first trigger: the start-up before Spark
    /// asks the source for anything (None without a launch time).
    #[serde(default)]
    pub time_to_first_trigger_ms: Option<i64>,
    pub time_origin: Option<TimeOrigin>,
    /// Records still unread at the last event (Kafka sources only).
    pub offsets_behind_latest_at_end: Option<i64>,
    /// Rows in the query's state store at the last trigger that reported
    /// its stateful operators, summed over them (None for a stateless
    /// query). RocksDB with `trackTotalNumberOfRows=false` does not count
    /// them and reports 0.
    #[serde(default)]
    pub state_rows_at_end: Option<i64>,
    /// The state store's memory at that trigger (`memoryUsedBytes`).
    #[serde(default)]
    pub state_memory_bytes_at_end: Option<i64>,
}

impl RunSummary {
    /// Summarises `events` in the order they were written.
    pub fn from_progress(events: &[StreamingQueryProgress], clock: RunClock) -> Self {
        let non_empty: Vec<&StreamingQueryProgress> =
            events.iter().filter(|p| p.has_input()).collect();
        let total_input_rows = events.iter().map(StreamingQueryProgress::input_rows).sum();

        let span_ms = span_ms(events);
        let (wall_ms, wall_source) = match (clock.wall_ms, span_ms) {
            (Some(given), _) => (Some(given), Some(WallSource::Given)),
            (None, Some(span)) => (Some(span), Some(WallSource::ProgressTimestamps)),
            (None, None) => (None, None),
        };
        let overall_rows_per_second = wall_ms
            .filter(|&ms| ms > 0)
            .map(|ms| total_input_rows as f64 * 1000.0 / ms as f64);

        let mut rates: Vec<f64> = non_empty
            .iter()
            .filter_map(|p| p.processed_rows_per_second)
            .collect();
        rates.sort_by(f64::total_cmp);
        let processed_rows_per_second = rate_stats(&rates);

        let mut latencies: Vec<i64> = non_empty
            .iter()
            .filter_map(|p| p.batch_latency_ms())
            .collect();
        latencies.sort_unstable();
        let batch_latency = match (
            nearest_rank(&latencies, 50.0),
            nearest_rank(&latencies, 95.0),
            latencies.last(),
        ) {
            (Some(p50_ms), Some(p95_ms), Some(&max_ms)) => Some(LatencyStats {
                p50_ms,
                p95_ms,
                max_ms,
            }),
            _ => None,
        };

        let (origin_ms, time_origin) = match clock.launched_at_ms {
            Some(at) => (Some(at), Some(TimeOrigin::Launch)),
            None => (
                events
                    .first()
                    .and_then(StreamingQueryProgress::timestamp_millis),
                Some(TimeOrigin::FirstProgress),
            ),
        };
        let first_batch_end = non_empty.first().and_then(|p| trigger_end_ms(p));
        let time_to_first_batch_ms = origin_ms.zip(first_batch_end).map(|(o, e)| e - o);
        let time_to_first_trigger_ms = clock
            .launched_at_ms
            .zip(
                events
                    .first()
                    .and_then(StreamingQueryProgress::timestamp_millis),
            )
            .map(|(launch, first)| first - launch);
        let last_state = events
            .iter()
            .rev()
            .map(|p| &p.state_operators)
            .find(|ops| !ops.is_empty());

        RunSummary {
            progress_events: events.len(),
            non_empty_batches: non_empty.len(),
            total_input_rows,
            first_timestamp: events.first().map(|p| p.timestamp.clone()),
            last_timestamp: events.last().map(|p| p.timestamp.clone()),
            wall_ms,
            wall_source,
            overall_rows_per_second,
            processed_rows_per_second,
            batch_latency,
            time_to_first_batch_ms,
            time_to_first_trigger_ms,
            time_origin: time_to_first_batch_ms.and(time_origin),
            offsets_behind_latest_at_end: events
                .last()
                .and_then(StreamingQueryProgress::offsets_behind_latest),
            state_rows_at_end: last_state.map(|ops| ops.iter().map(|o| o.num_rows_total).sum()),
            state_memory_bytes_at_end: last_state
                .map(|ops| ops.iter().map(|o| o.memory_used_bytes).sum()),
        }
    }
}

/// When a trigger finished: its start plus its latency (or just its start
/// when Spark did not report one).
fn trigger_end_ms(p: &StreamingQueryProgress) -> Option<i64> {
    Some(p.timestamp_millis()? + p.batch_latency_ms().unwrap_or(0))
}

/// First trigger's start to the last trigger's end.
fn span_ms(events: &[StreamingQueryProgress]) -> Option<i64> {
    let start = events.first()?.timestamp_millis()?;
    let end = trigger_end_ms(events.last()?)?;
    Some(end - start)
}

fn rate_stats(sorted: &[f64]) -> Option<RateStats> {
    Some(RateStats {
        mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        p50: nearest_rank(sorted, 50.0)?,
        p95: nearest_rank(sorted, 95.0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        ts: &str,
        batch: i64,
        rows: i64,
        rate: Option<f64>,
        trigger: i64,
    ) -> StreamingQueryProgress {
        let rate = rate.map_or("NaN".to_string(), |r| r.to_string());
        StreamingQueryProgress::from_json(&format!(
            r#"{{"id":"q","runId":"r","timestamp":"{ts}","batchId":{batch},"numInputRows":{rows},
            "processedRowsPerSecond":{rate},"durationMs":{{"triggerExecution":{trigger}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn empty_run_has_no_statistics() {
        let s = RunSummary::from_progress(&[], RunClock::default());
        assert_eq!(s.progress_events, 0);
        assert_eq!(s.total_input_rows, 0);
        assert_eq!(s.wall_ms, None);
        assert_eq!(s.overall_rows_per_second, None);
        assert_eq!(s.processed_rows_per_second, None);
        assert_eq!(s.batch_latency, None);
        assert_eq!(s.time_to_first_batch_ms, None);
        assert_eq!(s.time_origin, None);
    }

    #[test]
    fn statistics_skip_idle_triggers() {
        let events = [
            event("2026-01-01T00:00:00.000Z", 0, 0, Some(0.0), 5000),
            event("2026-01-01T00:00:05.000Z", 1, 300, Some(150.0), 2000),
            event("2026-01-01T00:00:07.000Z", 2, 100, Some(100.0), 1000),
            event("2026-01-01T00:00:08.000Z", 2, 0, None, 3),
            event("2026-01-01T00:00:09.000Z", 3, 100, Some(50.0), 1000),
        ];
        let s = RunSummary::from_progress(&events, RunClock::default());
        assert_eq!(s.progress_events, 5);
        assert_eq!(s.non_empty_batches, 3);
        assert_eq!(s.total_input_rows, 500);
        // 00:00:00 to 00:00:09 plus the last trigger's second.
        assert_eq!(s.wall_ms, Some(10_000));
        assert_eq!(s.wall_source, Some(WallSource::ProgressTimestamps));
        assert_eq!(s.overall_rows_per_second, Some(50.0));
        let rate = s.processed_rows_per_second.unwrap();
        assert_eq!((rate.mean, rate.p50, rate.p95), (100.0, 100.0, 150.0));
        let latency = s.batch_latency.unwrap();
        assert_eq!(
            (latency.p50_ms, latency.p95_ms, latency.max_ms),
            (1000, 2000, 2000)
        );
        // The first batch with rows ends at 00:00:07.
        assert_eq!(s.time_to_first_batch_ms, Some(7000));
        // No launch time: no start-up to measure.
        assert_eq!(s.time_to_first_trigger_ms, None);
        assert_eq!(s.time_origin, Some(TimeOrigin::FirstProgress));
        assert_eq!(
            s.first_timestamp.as_deref(),
            Some("2026-01-01T00:00:00.000Z")
        );
        assert_eq!(
            s.last_timestamp.as_deref(),
            Some("2026-01-01T00:00:09.000Z")
        );
    }

    #[test]
    fn state_size_is_the_last_stateful_triggers() {
        let with_state = |ts: &str, rows: i64, bytes: i64| {
            StreamingQueryProgress::from_json(&format!(
                r#"{{"id":"q","runId":"r","timestamp":"{ts}","batchId":0,"numInputRows":5,
                "stateOperators":[{{"numRowsTotal":{rows},"memoryUsedBytes":{bytes}}},
                                  {{"numRowsTotal":1,"memoryUsedBytes":10}}]}}"#
            ))
            .unwrap()
        };
        let events = [
            with_state("2026-01-01T00:00:00.000Z", 40, 1000),
            with_state("2026-01-01T00:00:01.000Z", 70, 2000),
            // A trigger that reports no stateful operator keeps the last figures.
            event("2026-01-01T00:00:02.000Z", 1, 0, None, 3),
        ];
        let s = RunSummary::from_progress(&events, RunClock::default());
        assert_eq!(s.state_rows_at_end, Some(71));
        assert_eq!(s.state_memory_bytes_at_end, Some(2010));
        let stateless = RunSummary::from_progress(&events[2..], RunClock::default());
        assert_eq!(stateless.state_rows_at_end, None);
    }

    #[test]
    fn the_caller_clock_wins() {
        let events = [event("2026-01-01T00:00:10.000Z", 0, 200, Some(100.0), 2000)];
        let launched = crate::clock::parse_utc_millis("2026-01-01T00:00:00.000Z");
        let s = RunSummary::from_progress(
            &events,
            RunClock {
                launched_at_ms: launched,
                wall_ms: Some(20_000),
            },
        );
        assert_eq!(s.wall_ms, Some(20_000));
        assert_eq!(s.wall_source, Some(WallSource::Given));
        assert_eq!(s.overall_rows_per_second, Some(10.0));
        assert_eq!(s.time_to_first_batch_ms, Some(12_000));
        // The first (and only) trigger started 10 s after the launch.
        assert_eq!(s.time_to_first_trigger_ms, Some(10_000));
        assert_eq!(s.time_origin, Some(TimeOrigin::Launch));
    }

    #[test]
    fn summary_json_round_trips() {
        let events = [event("2026-01-01T00:00:00.000Z", 0, 10, Some(5.0), 100)];
        let s = RunSummary::from_progress(&events, RunClock::default());
        let json = serde_json::to_string_pretty(&s).unwrap();
        assert!(
            json.contains(r#""wall_source": "progress_timestamps""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<RunSummary>(&json).unwrap(), s);
    }
}
