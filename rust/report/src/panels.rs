//! A run's progress events as chart panels, batch by batch: the one place
//! that turns `StreamingQueryProgress` into chart series, for the run's
//! page and for the sweep report's batch chart. Only batches that read rows
//! are drawn (idle triggers would sit at zero between them), as the summary
//! counts them.

use sfcrime_charts::{Panel, PanelKind, Series};
use sfcrime_spark::latency::BatchLatency;
use sfcrime_spark::progress::duration_key;
use sfcrime_spark::StreamingQueryProgress;

/// The progress events of batches that read rows, with their batch ids.
fn batches(
    events: &[StreamingQueryProgress],
) -> impl Iterator<Item = (i64, &StreamingQueryProgress)> {
    events
        .iter()
        .filter(|p| p.has_input())
        .filter_map(|p| Some((p.batch_id?, p)))
}

fn series(
    name: &str,
    events: &[StreamingQueryProgress],
    value: impl Fn(&StreamingQueryProgress) -> Option<f64>,
) -> Series {
    Series {
        name: name.to_string(),
        points: batches(events)
            .filter_map(|(b, p)| Some((b, value(p)?)))
            .collect(),
    }
}

/// How fast rows arrived against how fast they were processed (processed
/// below input means the query falls behind).
pub fn rates(events: &[StreamingQueryProgress]) -> Panel {
    Panel {
        y_label: "rows/s".into(),
        kind: PanelKind::Lines,
        series: vec![
            series("input rows/s", events, |p| p.input_rows_per_second),
            series("processed rows/s", events, |p| p.processed_rows_per_second),
        ],
    }
}

/// Each batch's trigger time stacked by phase (`durationMs`), with what
/// the phases leave of `triggerExecution` on top.
pub fn durations(events: &[StreamingQueryProgress]) -> Panel {
    let mut series: Vec<Series> = duration_key::PHASES
        .iter()
        .map(|key| series(key, events, |p| p.duration(key).map(|ms| ms as f64)))
        .collect();
    series.push(self::series("other", events, |p| {
        let phases: i64 = duration_key::PHASES
            .iter()
            .filter_map(|key| p.duration(key))
            .sum();
        Some((p.batch_latency_ms()? - phases).max(0) as f64)
    }));
    Panel {
        y_label: "batch duration (ms)".into(),
        kind: PanelKind::StackedBars,
        series,
    }
}

/// Rows read per batch.
pub fn rows(events: &[StreamingQueryProgress]) -> Panel {
    Panel {
        y_label: "rows".into(),
        kind: PanelKind::StackedBars,
        series: vec![series(
            "input rows",
            events,
            |p| Some(p.input_rows() as f64),
        )],
    }
}

/// The state store's rows after each batch (over every stateful operator);
/// `None` for a stateless query.
pub fn state_rows(events: &[StreamingQueryProgress]) -> Option<Panel> {
    stateful(events).then(|| Panel {
        y_label: "state rows".into(),
        kind: PanelKind::Lines,
        series: vec![
            series("rows in state", events, |p| {
                Some(
                    p.state_operators
                        .iter()
                        .map(|s| s.num_rows_total)
                        .sum::<i64>() as f64,
                )
            }),
            series("rows updated", events, |p| {
                Some(
                    p.state_operators
                        .iter()
                        .map(|s| s.num_rows_updated)
                        .sum::<i64>() as f64,
                )
            }),
        ],
    })
}

/// The state store's memory after each batch, MiB; `None` for a stateless
/// query.
pub fn state_memory(events: &[StreamingQueryProgress]) -> Option<Panel> {
    stateful(events).then(|| Panel {
        y_label: "state memory (MiB)".into(),
        kind: PanelKind::Lines,
        series: vec![series("memory used", events, |p| {
            let bytes: i64 = p.state_operators.iter().map(|s| s.memory_used_bytes).sum();
            Some(bytes as f64 / (1024.0 * 1024.0))
        })],
    })
}

fn stateful(events: &[StreamingQueryProgress]) -> bool {
    events.iter().any(|p| !p.state_operators.is_empty())
}

/// Per batch, how long its records took from Kafka append to the batch's
/// commit; `None` unless the job observed the Kafka timestamps
/// (`--observe-kafka-timestamps`, as latency sweeps and benches run it).
pub fn e2e_latency(events: &[StreamingQueryProgress]) -> Option<Panel> {
    let batches: Vec<BatchLatency> = events
        .iter()
        .filter_map(BatchLatency::from_progress)
        .collect();
    if batches.is_empty() {
        return None;
    }
    let quantile = |name: &str, q: f64| Series {
        name: name.to_string(),
        points: batches
            .iter()
            .map(|b| (b.batch, b.quantile_ms(q)))
            .collect(),
    };
    Some(Panel {
        y_label: "ms from Kafka append to commit".into(),
        kind: PanelKind::Lines,
        series: vec![quantile("median", 0.5), quantile("99th percentile", 0.99)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(batch: i64, rows: i64, durations: &str, state: &str) -> StreamingQueryProgress {
        StreamingQueryProgress::from_json(&format!(
            r#"{{"id":"q","runId":"r","timestamp":"2026-01-01T00:00:00.000Z","batchId":{batch},
            "numInputRows":{rows},"inputRowsPerSecond":10.0,"durationMs":{{{durations}}},
            "stateOperators":[{state}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn phases_stack_up_to_the_trigger_time_and_idle_batches_are_left_out() {
        let events = [
            event(
                0,
                100,
                r#""addBatch":700,"walCommit":50,"triggerExecution":1000"#,
                "",
            ),
            event(1, 0, r#""triggerExecution":3"#, ""),
            event(1, 50, r#""addBatch":300,"triggerExecution":290"#, ""),
        ];
        let panel = durations(&events);
        let by_name = |name: &str| {
            panel
                .series
                .iter()
                .find(|s| s.name == name)
                .unwrap()
                .points
                .clone()
        };
        assert_eq!(by_name("addBatch"), [(0, 700.0), (1, 300.0)]);
        assert_eq!(by_name("walCommit"), [(0, 50.0)]);
        // 1000 - 750 on top; never below zero when the phases overshoot.
        assert_eq!(by_name("other"), [(0, 250.0), (1, 0.0)]);
        assert_eq!(rows(&events).series[0].points, [(0, 100.0), (1, 50.0)]);
        assert_eq!(rates(&events).series[1].points, []);
        assert!(state_rows(&events).is_none() && e2e_latency(&events).is_none());
    }

    #[test]
    fn state_sums_the_operators() {
        let op = |rows: i64, bytes: i64| {
            format!(r#"{{"numRowsTotal":{rows},"numRowsUpdated":1,"memoryUsedBytes":{bytes}}}"#)
        };
        let events = [event(
            0,
            10,
            "",
            &format!("{},{}", op(3, 1 << 20), op(4, 1 << 20)),
        )];
        assert_eq!(state_rows(&events).unwrap().series[0].points, [(0, 7.0)]);
        assert_eq!(state_memory(&events).unwrap().series[0].points, [(0, 2.0)]);
    }
}
