//! End-to-end latency under load: how long a record takes from being
//! appended to Kafka to the commit of the micro-batch that processed it,
//! while a producer writes at a fixed rate and the job runs on a
//! processing-time trigger.
//!
//! The job, run with `--observe-kafka-timestamps`, reports per batch the
//! count, min, max and 1/5/50/95/99th percentiles of its records' Kafka
//! timestamps (`observedMetrics.kafka_timestamps`). Latency sweeps create
//! their topics with `message.timestamp.type=LogAppendTime`, so those are
//! the broker's append times. A batch is committed at the end of its
//! trigger (progress `timestamp` + `triggerExecution`), so its records'
//! latencies are that end minus their timestamps: the oldest record (the
//! 1st timestamp percentile) waited longest (the 99th latency percentile).
//!
//! Percentiles over the whole run pool the batches: each batch's latency
//! distribution is taken as piecewise linear between its seven known
//! points (min, the five percentiles, max), the batches are mixed in
//! proportion to their rows, and the mixture's quantiles are found by
//! bisection. With per-batch percentiles this fine the pooled figures are
//! within a fraction of a batch interval of the exact ones.

use crate::progress::StreamingQueryProgress;
use serde::Deserialize;

/// The `observe()` name the job reports the timestamps under.
pub const OBSERVED: &str = "kafka_timestamps";
/// The timestamp percentiles the job computes, in its order.
const TIMESTAMP_QUANTILES: [f64; 5] = [0.01, 0.05, 0.5, 0.95, 0.99];

/// One batch's `observedMetrics.kafka_timestamps` row.
#[derive(Debug, Clone, Deserialize)]
struct ObservedTimestamps {
    rows: i64,
    min_ms: Option<i64>,
    max_ms: Option<i64>,
    quantiles_ms: Option<Vec<i64>>,
}

/// One batch's latency distribution: cumulative probability against
/// latency in ms, ascending in both.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchLatency {
    pub batch: i64,
    pub rows: i64,
    /// The batch's oldest record's Kafka timestamp, ms.
    pub first_ms: i64,
    knots: Vec<(f64, f64)>,
}

impl BatchLatency {
    /// From a progress event, if it read rows and carries the timestamps.
    pub fn from_progress(p: &StreamingQueryProgress) -> Option<Self> {
        let observed: ObservedTimestamps =
            serde_json::from_value(p.observed_metrics.get(OBSERVED)?.clone()).ok()?;
        let quantiles = observed.quantiles_ms?;
        if observed.rows <= 0 || quantiles.len() != TIMESTAMP_QUANTILES.len() {
            return None;
        }
        let end = (p.timestamp_millis()? + p.batch_latency_ms()?) as f64;
        let mut knots: Vec<(f64, f64)> = [(0.0, observed.min_ms?), (1.0, observed.max_ms?)]
            .into_iter()
            .chain(TIMESTAMP_QUANTILES.into_iter().zip(quantiles))
            // The q-th timestamp percentile is the (1-q)-th latency percentile.
            .map(|(q, ts)| (1.0 - q, end - ts as f64))
            .collect();
        knots.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(BatchLatency {
            batch: p.batch_id?,
            rows: observed.rows,
            first_ms: observed.min_ms?,
            knots,
        })
    }

    /// Fraction of this batch's records with latency at most `ms`.
    fn cdf(&self, ms: f64) -> f64 {
        let first = self.knots[0];
        let last = self.knots[self.knots.len() - 1];
        if ms < first.1 {
            return 0.0;
        }
        if ms >= last.1 {
            return 1.0;
        }
        for pair in self.knots.windows(2) {
            let ((p0, x0), (p1, x1)) = (pair[0], pair[1]);
            if ms < x1 {
                return if x1 > x0 {
                    p0 + (p1 - p0) * (ms - x0) / (x1 - x0)
                } else {
                    p1
                };
            }
        }
        1.0
    }

    /// The `q`-quantile (0..1) of this batch's latency, in ms.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        pooled_quantile(std::slice::from_ref(self), q).unwrap_or(f64::NAN)
    }
}

/// The `q`-quantile (0..1) of latency over all records of `batches`.
pub fn pooled_quantile(batches: &[BatchLatency], q: f64) -> Option<f64> {
    let total: i64 = batches.iter().map(|b| b.rows).sum();
    if total == 0 {
        return None;
    }
    let mix = |ms: f64| {
        batches
            .iter()
            .map(|b| b.rows as f64 * b.cdf(ms))
            .sum::<f64>()
            / total as f64
    };
    let (mut lo, mut hi) = batches.iter().fold((f64::MAX, f64::MIN), |(lo, hi), b| {
        (lo.min(b.knots[0].1), hi.max(b.knots[b.knots.len() - 1].1))
    });
    // 60 halvings take any ms range below a microsecond.
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if mix(mid) >= q {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Pooled end-to-end latency of a run, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct E2eLatency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub batches: usize,
    pub rows: i64,
}

/// Pools every batch of `events` that reported its timestamps, leaving out
/// those holding records appended before `since_ms` (a warm-up).
pub fn e2e_latency(events: &[StreamingQueryProgress], since_ms: i64) -> Option<E2eLatency> {
    let batches: Vec<BatchLatency> = events
        .iter()
        .filter_map(BatchLatency::from_progress)
        .filter(|b| b.first_ms >= since_ms)
        .collect();
    Some(E2eLatency {
        p50_ms: pooled_quantile(&batches, 0.50)?,
        p95_ms: pooled_quantile(&batches, 0.95)?,
        p99_ms: pooled_quantile(&batches, 0.99)?,
        batches: batches.len(),
        rows: batches.iter().map(|b| b.rows).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch starting at `start` ms, taking `took` ms, whose records'
    /// timestamps are spread evenly over `from..to`.
    fn batch(
        id: i64,
        start: i64,
        took: i64,
        from: i64,
        to: i64,
        rows: i64,
    ) -> StreamingQueryProgress {
        let q = |f: f64| from + ((to - from) as f64 * f).round() as i64;
        let ts = chrono_free_iso(start);
        StreamingQueryProgress::from_json(&format!(
            r#"{{"id":"q","runId":"r","timestamp":"{ts}","batchId":{id},"numInputRows":{rows},
            "durationMs":{{"triggerExecution":{took}}},
            "observedMetrics":{{"kafka_timestamps":{{"rows":{rows},"min_ms":{from},"max_ms":{to},
            "quantiles_ms":[{},{},{},{},{}]}}}}}}"#,
            q(0.01),
            q(0.05),
            q(0.5),
            q(0.95),
            q(0.99)
        ))
        .unwrap()
    }

    /// ISO-8601 for ms since the epoch within 2026-01-01 (enough here).
    fn chrono_free_iso(ms: i64) -> String {
        let base = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let rel = ms - base;
        format!(
            "2026-01-01T{:02}:{:02}:{:02}.{:03}Z",
            rel / 3_600_000,
            rel / 60_000 % 60,
            rel / 1000 % 60,
            rel % 1000
        )
    }

    #[test]
    fn one_batch_latency_is_its_end_minus_the_timestamps() {
        let t0 = 1_767_225_600_000;
        // Records appended evenly over 10 s before the batch started at t0;
        // the batch took 2 s: latencies run evenly from 2 s to 12 s.
        let p = batch(1, t0, 2000, t0 - 10_000, t0, 1000);
        let b = BatchLatency::from_progress(&p).unwrap();
        assert_eq!(b.rows, 1000);
        assert!(
            (b.quantile_ms(0.5) - 7000.0).abs() < 1.0,
            "{}",
            b.quantile_ms(0.5)
        );
        let e = e2e_latency(&[p], 0).unwrap();
        assert!((e.p95_ms - 11_500.0).abs() < 1.0, "{e:?}");
        assert!((e.p99_ms - 11_900.0).abs() < 1.0, "{e:?}");
    }

    #[test]
    fn batches_pool_in_proportion_to_their_rows() {
        let t0 = 1_767_225_600_000;
        // 900 rows with ~1 s latency, 100 rows with ~21 s latency: the median
        // is in the fast batch, the 99th percentile in the slow one.
        let fast = batch(1, t0, 500, t0 - 1000, t0 - 1000, 900);
        let slow = batch(2, t0 + 20_000, 1000, t0, t0, 100);
        let e = e2e_latency(&[fast.clone(), slow.clone()], 0).unwrap();
        assert_eq!((e.batches, e.rows), (2, 1000));
        assert!((e.p50_ms - 1500.0).abs() < 1.0, "{e:?}");
        assert!((e.p99_ms - 21_000.0).abs() < 1.0, "{e:?}");
        // A warm-up until t0 - 500 leaves out the batch of older records.
        let e = e2e_latency(&[fast, slow], t0 - 500).unwrap();
        assert_eq!((e.batches, e.rows), (1, 100));
    }

    #[test]
    fn events_without_timestamps_give_nothing() {
        let p = StreamingQueryProgress::from_json(
            r#"{"id":"q","runId":"r","timestamp":"2026-01-01T00:00:00.000Z","batchId":0,
            "numInputRows":5,"durationMs":{"triggerExecution":10}}"#,
        )
        .unwrap();
        assert!(BatchLatency::from_progress(&p).is_none());
        assert!(e2e_latency(&[p], 0).is_none());
    }
}
