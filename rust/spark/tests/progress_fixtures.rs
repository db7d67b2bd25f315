//! The progress model against real Spark JSON: Spark's own test suite and
//! programming guide, events captured from pyspark 4.2.0, and (when present)
//! the project's captures in `tests/fixtures/spark-progress/`.

use serde_json::{json, Value};
use sfcrime_spark::progress::duration_key as key;
use sfcrime_spark::{
    read_progress_file, RunClock, RunSummary, StreamingQueryProgress, TopicPartition,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A pretty-printed single event, as Spark's `prettyJson` writes it.
fn pretty(rel: &str) -> StreamingQueryProgress {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    StreamingQueryProgress::from_json(&text).unwrap()
}

fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_string(),
        partition,
    }
}

#[test]
fn suite_progress1_omits_the_infinite_rate() {
    let p = pretty("spark-suite/progress1.json");
    assert_eq!(p.name.as_deref(), Some("myName"));
    assert_eq!(p.batch_id, Some(2));
    assert_eq!(p.batch_duration, Some(0));
    assert_eq!(p.input_rows(), 678);
    assert_eq!(p.input_rows_per_second, Some(10.0));
    // processedRowsPerSecond was +Infinity: Spark leaves the key out.
    assert_eq!(p.processed_rows_per_second, None);
    assert_eq!(p.duration_ms, map(&[("total", 0)]));
    assert_eq!(p.batch_latency_ms(), Some(0));
    assert_eq!(
        p.event_time.keys().collect::<Vec<_>>(),
        ["avg", "max", "min", "watermark"]
    );

    let op = &p.state_operators[0];
    assert_eq!(op.operator_name, "op1");
    assert_eq!(
        [
            op.num_rows_total,
            op.num_rows_updated,
            op.all_updates_time_ms,
            op.num_rows_removed,
            op.all_removals_time_ms,
            op.commit_time_ms,
            op.memory_used_bytes,
            op.num_rows_dropped_by_watermark,
            op.num_shuffle_partitions,
            op.num_state_store_instances,
        ],
        [0, 1, 1, 2, 34, 23, 3, 0, 2, 2]
    );
    assert_eq!(
        op.custom_metrics,
        map(&[
            ("loadedMapCacheHitCount", 1),
            ("loadedMapCacheMissCount", 0),
            ("stateOnCurrentVersionSizeBytes", 2),
        ])
    );

    let source = &p.sources[0];
    assert_eq!(
        (
            &source.start_offset,
            &source.end_offset,
            &source.latest_offset
        ),
        (&json!(123), &json!(456), &json!(789))
    );
    assert_eq!(source.processed_rows_per_second, None);
    // Plain numbers are not Kafka offsets: nothing to say about lag.
    assert_eq!(source.end_offsets(), None);
    assert_eq!(p.offsets_behind_latest(), None);

    let sink = p.sink.as_ref().unwrap();
    assert_eq!(
        (sink.description.as_str(), sink.output_rows()),
        ("sink", None)
    );
    assert_eq!(p.observed_metrics["event1"], json!({"c1": 1, "c2": 3.0}));
    assert_eq!(p.observed_metrics["event2"]["min_q"], "hello");
}

#[test]
fn suite_progress2_has_nulls_and_omissions() {
    let p = pretty("spark-suite/progress2.json");
    assert_eq!(p.name, None);
    assert_eq!(p.input_rows_per_second, None);
    assert_eq!(p.processed_rows_per_second, None);
    assert!(p.event_time.is_empty());
    assert!(p.state_operators[0].custom_metrics.is_empty());
    assert_eq!(p.state_operators[0].memory_used_bytes, 2);
    assert_eq!(p.sources[0].input_rows_per_second, None);
    assert_eq!(
        p.observed_metrics["event_a"],
        json!({"c1": null, "c2": -20.7})
    );
    assert_eq!(p.observed_metrics.len(), 3);
}

#[test]
fn suite_progress5_is_a_kafka_source() {
    let p = pretty("spark-suite/progress5-kafka.json");
    assert_eq!(p.batch_id, Some(1250));
    assert_eq!(p.batch_duration, Some(111_255));
    assert_eq!(p.input_rows(), 800_000);
    assert_eq!(p.input_rows_per_second, Some(75291.3));
    assert_eq!(p.processed_rows_per_second, Some(71906.9));
    assert_eq!(
        p.duration_ms,
        map(&[
            (key::ADD_BATCH, 110_481),
            ("commitBatch", 410),
            (key::COMMIT_OFFSETS, 107),
            (key::GET_BATCH, 0),
            (key::LATEST_OFFSET, 2),
            (key::QUERY_PLANNING, 179),
            (key::TRIGGER_EXECUTION, 111_255),
            (key::WAL_COMMIT, 74),
        ])
    );
    assert!(p.state_operators.is_empty() && p.event_time.is_empty());

    let s = &p.sources[0];
    let topic = "bigdata_omsTrade_cdc";
    assert_eq!(s.description, format!("KafkaV2[Subscribe[{topic}]]"));
    let one = |offset: i64| Some([(tp(topic, 0), offset)].into_iter().collect());
    assert_eq!(s.start_offsets(), one(18_424_809_459));
    assert_eq!(s.end_offsets(), one(18_432_809_459));
    assert_eq!(s.latest_offsets(), one(18_703_750_728));
    assert_eq!(s.metric("avgOffsetsBehindLatest"), Some(270_941_269.0));
    assert_eq!(s.metric("maxOffsetsBehindLatest"), Some(270_941_269.0));
    assert_eq!(s.metric("minOffsetsBehindLatest"), Some(270_941_269.0));
    // The offsets and Spark's own metric agree.
    assert_eq!(p.offsets_behind_latest(), Some(270_941_269));
    assert_eq!(p.end_offsets()[&tp(topic, 0)], 18_432_809_459);
    assert_eq!(p.sink.as_ref().unwrap().num_output_rows, -1);
}

#[test]
fn guide_sample_without_batch_id_parses() {
    let p = pretty("spark-suite/guide-kafka.json");
    assert_eq!(p.batch_id, None);
    assert_eq!(p.input_rows(), 10);
    assert_eq!(p.duration("getOffset"), Some(2));
    assert_eq!(p.batch_latency_ms(), Some(3));
    let ends: Vec<(i32, i64)> = p
        .end_offsets()
        .into_iter()
        .map(|(tp, offset)| (tp.partition, offset))
        .collect();
    assert_eq!(ends, [(0, 534), (1, 134), (2, 0), (3, 21), (4, 115)]);
    // No latestOffset and no metrics: the lag is unknown, not zero.
    assert_eq!(p.offsets_behind_latest(), None);
    assert_eq!(p.sink.as_ref().unwrap().output_rows(), None);
}

#[test]
fn pyspark_420_stateful_rate_run() {
    let events = read_progress_file(&fixture("spark-4.2.0/rate-stateful.jsonl")).unwrap();
    assert_eq!(events.len(), 18);
    let batch_ids: Vec<i64> = events.iter().map(|p| p.batch_id.unwrap()).collect();
    assert_eq!(batch_ids, (0..18).collect::<Vec<_>>());
    assert!(events.iter().all(|p| p.name.as_deref() == Some("probe")));
    assert!(events.iter().all(|p| p.run_id == events[0].run_id));

    let first = &events[0];
    assert_eq!(first.input_rows(), 0);
    assert_eq!(first.sources[0].start_offset, Value::Null);
    assert_eq!(first.sources[0].end_offset, json!(0));

    let p = &events[1];
    assert_eq!(p.timestamp, "2026-11-25T11:47:28.897Z");
    assert_eq!(p.batch_duration, Some(1905));
    assert_eq!(p.input_rows(), 300);
    assert_eq!(p.input_rows_per_second, Some(47.4));
    assert_eq!(p.processed_rows_per_second, Some(157.5));
    assert_eq!(
        p.duration_ms,
        map(&[
            (key::ADD_BATCH, 1607),
            (key::COMMIT_OFFSETS, 82),
            (key::GET_BATCH, 0),
            (key::LATEST_OFFSET, 0),
            (key::QUERY_PLANNING, 99),
            (key::TRIGGER_EXECUTION, 1905),
            (key::WAL_COMMIT, 91),
        ])
    );
    assert_eq!(
        p.event_time,
        strings(&[
            ("avg", "2026-11-25T11:47:25.354Z"),
            ("max", "2026-11-25T11:47:28.344Z"),
            ("min", "2026-11-25T11:47:22.364Z"),
            ("watermark", "1970-01-01T00:00:00.000Z"),
        ])
    );
    let op = &p.state_operators[0];
    assert_eq!(op.operator_name, "stateStoreSave");
    assert_eq!(
        (op.num_rows_total, op.num_rows_updated, op.memory_used_bytes),
        (4, 4, 1792)
    );
    assert_eq!(op.custom_metrics["stateOnCurrentVersionSizeBytes"], 1168);
    assert_eq!(
        op.custom_metrics["SnapshotLastUploaded.partition_0_default"],
        -1
    );
    let s = &p.sources[0];
    assert!(s.description.starts_with("RateStreamV2[rowsPerSecond=50"));
    assert_eq!((&s.start_offset, &s.end_offset), (&json!(0), &json!(6)));
    assert_eq!(p.sink.as_ref().unwrap().output_rows(), Some(4));

    let summary = RunSummary::from_progress(&events, RunClock::default());
    assert_eq!(summary.progress_events, 18);
    assert_eq!(summary.non_empty_batches, 17);
    assert_eq!(summary.total_input_rows, 300 + 100 + 15 * 50);
    // 11:47:22.562 (batch 0 starts) to 11:47:46.000 + 477 ms (batch 17 ends).
    assert_eq!(summary.wall_ms, Some(23_915));
    let latency = summary.batch_latency.unwrap();
    assert_eq!((latency.p50_ms, latency.max_ms), (887, 1905));
    // Batch 1 ends at 11:47:28.897 + 1905 ms.
    assert_eq!(summary.time_to_first_batch_ms, Some(8240));
}

#[test]
fn pyspark_420_file_source() {
    let events = read_progress_file(&fixture("spark-4.2.0/file-source.jsonl")).unwrap();
    let p = &events[0];
    assert_eq!(p.input_rows(), 3);
    assert!(p.event_time.is_empty());
    let s = &p.sources[0];
    assert_eq!(s.description, "FileStreamSource[file:/tmp/sparkprobe/in]");
    assert_eq!(s.start_offset, Value::Null);
    assert_eq!(s.end_offset, json!({"logOffset": 0}));
    assert_eq!(s.latest_offset, Value::Null);
    assert_eq!(s.end_offsets(), None);
    assert_eq!(p.sink.as_ref().unwrap().output_rows(), Some(2));
    assert_eq!(p.state_operators[0].num_rows_total, 2);
}

#[test]
fn python_dict_form_reads_like_sparks_json() {
    let spark = read_progress_file(&fixture("spark-4.2.0/rate-stateful.jsonl")).unwrap();
    let dict = read_progress_file(&fixture("spark-4.2.0/python-dict.jsonl")).unwrap();
    assert_eq!(dict.len(), 2);
    for (d, s) in dict.iter().zip(&spark) {
        assert_eq!(d.batch_id, s.batch_id);
        assert_eq!(d.input_rows(), s.input_rows());
        assert_eq!(d.duration_ms, s.duration_ms);
        assert_eq!(d.state_operators, s.state_operators);
        assert_eq!(d.sink, s.sink);
        // Offsets come as strings ("None", "0", "6") and are parsed back.
        assert_eq!(d.sources[0].start_offset, s.sources[0].start_offset);
        assert_eq!(d.sources[0].end_offset, s.sources[0].end_offset);
        assert_eq!(d.sources[0].latest_offset, s.sources[0].latest_offset);
    }
    // Spark's JSON rounds rates to one decimal; the dict keeps the double.
    let rate = dict[1].input_rows_per_second.unwrap();
    assert!((rate - 47.355958958168905).abs() < 1e-12);
    assert_eq!(spark[1].input_rows_per_second, Some(47.4));
}

/// The project's own job (python/data_stream.py via spark/submit.sh and
/// SparkRun) reading the 199,999 calls from a 3-partition topic at
/// `maxOffsetsPerTrigger=50000`: five batches closing in on the heads.
#[test]
fn sfcrime_job_kafka_batches() {
    let events = read_progress_file(&fixture("sfcrime-job/kafka-max-offsets.jsonl")).unwrap();
    assert_eq!(events.len(), 5);
    let topic = "sf.police.calls";
    let heads: BTreeMap<TopicPartition, i64> = [
        (tp(topic, 0), 66_793),
        (tp(topic, 1), 66_638),
        (tp(topic, 2), 66_568),
    ]
    .into_iter()
    .collect();

    let p = &events[0];
    assert_eq!(p.name.as_deref(), Some("sfcrime_counts"));
    assert_eq!(
        p.duration_ms,
        map(&[
            (key::ADD_BATCH, 72_325),
            (key::COMMIT_OFFSETS, 245),
            (key::GET_BATCH, 178),
            (key::LATEST_OFFSET, 4625),
            (key::QUERY_PLANNING, 6800),
            (key::TRIGGER_EXECUTION, 84_760),
            (key::WAL_COMMIT, 452),
        ])
    );
    let op = &p.state_operators[0];
    assert_eq!(op.operator_name, "stateStoreSave");
    assert_eq!(
        [
            op.num_rows_total,
            op.num_rows_updated,
            op.all_updates_time_ms,
            op.num_rows_removed,
            op.commit_time_ms,
            op.memory_used_bytes,
            op.num_rows_dropped_by_watermark,
            op.num_shuffle_partitions,
            op.num_state_store_instances,
        ],
        [32_438, 32_438, 2548, 0, 550, 7_345_776, 0, 2, 2]
    );
    assert_eq!(
        op.custom_metrics["stateOnCurrentVersionSizeBytes"],
        7_345_488
    );
    let s = &p.sources[0];
    assert_eq!(s.description, format!("KafkaV2[Subscribe[{topic}]]"));
    assert_eq!(s.start_offset, Value::Null);
    assert_eq!(s.latest_offsets(), Some(heads.clone()));
    assert_eq!(s.metric("maxOffsetsBehindLatest"), Some(50_095.0));
    // foreachBatch cannot count what the function wrote.
    assert_eq!(p.sink.as_ref().unwrap().description, "ForeachBatchSink");
    assert_eq!(p.sink.as_ref().unwrap().output_rows(), None);

    // Each batch starts where the previous one ended.
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].sources[0].start_offsets(),
            pair[0].sources[0].end_offsets()
        );
    }
    assert_eq!(events[4].end_offsets(), heads);
    let behind: Vec<Option<i64>> = events.iter().map(|p| p.offsets_behind_latest()).collect();
    assert_eq!(
        behind,
        [Some(150_000), Some(100_001), Some(50_003), Some(4), Some(0)]
    );
    // Spark's avgOffsetsBehindLatest (rounded to 0.1) agrees, times 3 partitions.
    for p in &events {
        let avg = p.sources[0].metric("avgOffsetsBehindLatest").unwrap();
        let exact = p.offsets_behind_latest().unwrap() as f64;
        assert!((avg * 3.0 - exact).abs() < 0.5, "{avg} x 3 vs {exact}");
    }

    let summary = RunSummary::from_progress(&events, RunClock::default());
    assert_eq!(summary.total_input_rows, 199_999);
    assert_eq!(summary.non_empty_batches, 5);
    assert_eq!(summary.offsets_behind_latest_at_end, Some(0));
    let rate = summary.processed_rows_per_second.unwrap();
    assert_eq!((rate.p50, rate.p95), (2180.3, 4834.6));
    let latency = summary.batch_latency.unwrap();
    assert_eq!((latency.p50_ms, latency.p95_ms), (11_411, 84_760));
}

#[test]
fn sfcrime_job_available_now_in_one_batch() {
    let events = read_progress_file(&fixture("sfcrime-job/kafka-available-now.jsonl")).unwrap();
    let p = &events[0];
    assert_eq!((p.batch_id, p.input_rows()), (Some(0), 199_999));
    assert_eq!(p.offsets_behind_latest(), Some(0));
    let ends: Vec<i64> = p.end_offsets().into_values().collect();
    assert_eq!(ends, [66_793, 66_638, 66_568]);
    assert_eq!(p.state_operators[0].num_shuffle_partitions, 8);
}

/// Every progress file the project captured from real runs parses, line by
/// line, into events that are internally consistent.
#[test]
fn project_captures_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/spark-progress");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // Not captured yet.
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("jsonl" | "json")
        ) {
            continue;
        }
        let events = read_progress_file(&path).unwrap();
        for p in &events {
            assert_eq!(
                p.input_rows(),
                p.sources.iter().map(|s| s.num_input_rows).sum::<i64>(),
                "{}",
                path.display()
            );
            assert!(p.timestamp_millis().is_some(), "{}", path.display());
        }
    }
}
