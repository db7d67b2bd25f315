#
# sfcrime: Kafka -> Spark Structured Streaming on SF police calls-for-service.
#

"""
 Consumes SF police calls-for-service (one JSON object per Kafka message) and
 counts calls per event-time window, crime type and disposition, with the
 disposition's radio-code description joined in.

 Usage: data_stream.py [--available-now | --trigger-interval INTERVAL] ... (--help)

 ONE stateful query (groupBy(window, crime type, disposition, description)
 .count() in update mode) feeds a foreachBatch sink that brings each batch's
 updated rows to the driver in ONE Spark action (as Arrow), writes them as
 Parquet to <output-dir>/updates/batch_id=<id>/ (replaced when a batch is
 replayed, so restarts do not duplicate) and prints the top rows. Coarser
 views are exact sums of this grain, so the driver computes them once
 the query ends (available-now drained, or Ctrl-C / SIGTERM) and writes them to
 <output-dir>/final/*.jsonl. Every StreamingQueryProgress is appended as one
 JSON line to --progress-file.

 --real-time runs a second, stateless pipeline instead, in Spark's real-time mode:
 each call with its radio-code description joined, as JSON to --output-topic.

 This file is the query; job_args, kafka_settings, kafka_timestamps, radio_codes,
 duplicates, results, progress_log, graceful_stop and remote (a run on a Spark Connect
 server, spark/submit.sh --remote) do the rest (each says what).

 Run it with spark/submit.sh (it adds the Kafka jars): spark/submit.sh --available-now
"""
import sys

from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType
from pyspark.sql.utils import is_remote

import results

from calls import CALL_FIELDS
from graceful_stop import run_until_done, start_spark
from duplicates import INDEX_COLUMN, RECORD_COLUMNS, drop_duplicate_records, kafka_record_index
from job_args import parse_args
from kafka_settings import batch_options, kafka_options
from kafka_timestamps import observe_kafka_timestamps, source_timestamp_header
from progress_log import ProgressLog, error_message
from radio_codes import load_radio_codes
from remote import apply_session_confs, ship_by_value
from results import KEYS, batch_writer, check_fresh_start, finalize, local_path

CALL_SCHEMA = StructType([StructField(name, StringType()) for name in CALL_FIELDS])


def read_kafka(spark, args, source_format="kafka", **options):
    """The topic as a stream of Kafka records, read by Spark's source or sfcrime's."""
    raw = (spark.readStream.format(source_format).options(**options)
           .options(**kafka_options(args, source_format, reading=True))
           .option("subscribe", args.topic)
           .option("startingOffsets", args.starting_offsets)
           .option("failOnDataLoss", args.fail_on_data_loss)
           .options(**batch_options(args))
           .load())
    return observe_kafka_timestamps(raw) if args.observe_kafka_timestamps else raw


def read_calls(spark, args) -> DataFrame:
    """The stream of calls, one row per Kafka record: crime type, disposition and call
    time (`call_ts`); a record that is not a call gives nulls (and is still counted)."""
    if args.source == "kafka":  # bytes; the JVM parses the JSON (from_json)
        if not args.drop_duplicates:
            return parse_calls(read_kafka(spark, args))
        raw = read_kafka(spark, args, includeHeaders="true")
        return parse_calls(drop_duplicate_records(raw, kafka_record_index(raw["headers"])))
    if args.source == "sfcrime_connector":
        # sfcrime's Rust connector in calls mode: the JSON is parsed in Rust and the
        # fields arrive typed (call_date_time already a timestamp, read the same way).
        import sfcrime_connector
        sfcrime_connector.register(spark)
        sfcrime_connector.start_workers(spark, {
            **kafka_options(args, "sfcrime_connector", reading=True), "subscribe": args.topic})
        group = {"commitGroup": args.commit_group} if args.commit_group else {}
        # Only the columns the query reads leave Python (Spark prunes none of a Python
        # data source's): the batch of the whole file takes about 0.7x the time
        # (docs/BENCHMARKS.md, "the connector sends only the columns the query reads").
        used = ["original_crime_type_name", "disposition", "call_date_time"]
        read = used + [INDEX_COLUMN, *RECORD_COLUMNS] if args.drop_duplicates else used
        calls = read_kafka(spark, args, "sfcrime_connector", mode="calls", **group,
                           columns=",".join(read))
        if args.drop_duplicates:
            calls = drop_duplicate_records(calls, F.col(INDEX_COLUMN))
        return calls.select(*used[:2], F.col("call_date_time").alias("call_ts"))
    raise ValueError(f"unknown source {args.source!r}")


def parse_calls(raw):
    """Crime type, disposition and call time of each JSON `value` (bytes or text)."""
    return (raw
            .select(F.from_json(F.col("value").cast("string"), CALL_SCHEMA).alias("call"))
            .select("call.original_crime_type_name", "call.disposition",
                    # naive wall-clock time; the session time zone is UTC, so no shift
                    F.try_to_timestamp(F.col("call.call_date_time"),
                                       F.lit("yyyy-MM-dd'T'HH:mm:ss.SSS")).alias("call_ts")))


def description_of(disposition, radio_codes):
    """The radio code's description of a disposition column; null for a disposition
    without one (e.g. "Not recorded"). A map literal looked up in each row: a join
    with the codes as a broadcast table cost a Spark job in every micro-batch."""
    codes = F.create_map(*[F.lit(text) for pair in sorted(radio_codes.items()) for text in pair])
    return codes[disposition]


def build_counts(calls, radio_codes, window, watermark, read_in_one_task=False):
    """Calls per window, crime type, disposition and description, as the sink writes
    them (the window as two columns). read_in_one_task: all topic partitions are read
    by one task, so with one shuffle partition a batch is one task and no shuffle."""
    if read_in_one_task:
        calls = calls.coalesce(1)
    calls = calls.withColumn("description", description_of(F.col("disposition"), radio_codes))
    if watermark:
        calls = calls.withWatermark("call_ts", watermark)
    counts = calls.groupBy(F.window("call_ts", window).alias("window"),
                           "original_crime_type_name", "disposition", "description").count()
    return counts.select(F.col("window.start").alias("window_start"),
                         F.col("window.end").alias("window_end"), *KEYS[2:], "count")


def build_enriched(raw, radio_codes):
    """The real-time pipeline's records: each call as JSON with its radio-code
    description (null without one), keyed by crime_id, with the input record's headers
    and its Kafka timestamp as one more header. Stateless: one input, one output."""
    enriched = (raw.select("headers", "timestamp", F.from_json(F.col("value").cast("string"),
                                                               CALL_SCHEMA).alias("call"))
                .withColumn("description", description_of(F.col("call.disposition"), radio_codes)))
    return enriched.select(
        F.col("call.crime_id").alias("key"),
        # every field, null ones too, so a reader sees the same fields in every record
        F.to_json(F.struct("call.*", "description"), {"ignoreNullFields": "false"})
        .alias("value"),
        F.concat(F.coalesce("headers", F.array().cast(raw.schema["headers"].dataType)),
                 F.array(source_timestamp_header())).alias("headers"))


def counts_writer(spark, args, radio_codes, updates_dir):
    """The counts in update mode: each micro-batch's updated rows to the sink."""
    counts = build_counts(read_calls(spark, args), radio_codes, args.window, args.watermark,
                          args.read_in_one_task)
    writer = (counts.writeStream.queryName("sfcrime_counts")
              .outputMode("update")
              .option("checkpointLocation", args.checkpoint_dir)
              .foreachBatch(batch_writer(updates_dir, args.console_rows)))
    if args.available_now:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=args.trigger_interval)


def real_time_writer(spark, args, radio_codes):
    """The enriched-calls pipeline in real-time mode: Kafka in, Kafka out."""
    # (Spark turns adaptive query execution off for real-time mode by itself.)
    raw = read_kafka(spark, args, includeHeaders="true")
    return (build_enriched(raw, radio_codes).writeStream.queryName("sfcrime_enriched")
            .format("kafka").options(**kafka_options(args))
            .option("topic", args.output_topic)
            .option("checkpointLocation", args.checkpoint_dir)
            .outputMode("update")
            .trigger(realTime=args.real_time))


def run(args):
    if local_path(args.output_dir) is None:
        raise ValueError(f"--output-dir must be a local path (the driver writes the final "
                         f"results there): {args.output_dir}")
    updates_dir = f"{args.output_dir}/updates"
    real_time = args.real_time is not None
    if not real_time:
        check_fresh_start(args.checkpoint_dir, updates_dir)

    spark, stop_signals = start_spark(SparkSession.builder.appName("sfcrime-data-stream")
                                      .config("spark.sql.session.timeZone", "UTC"))
    if is_remote():  # a Spark Connect server runs the query, and the sink's batches
        apply_session_confs(spark)
        ship_by_value(results)
    elif spark.sparkContext.uiWebUrl:  # Spark logs it only at INFO; submit.sh runs at WARN
        print(f"Spark web UI at {spark.sparkContext.uiWebUrl}", file=sys.stderr, flush=True)
    progress_log = ProgressLog(args.progress_file)

    radio_codes = load_radio_codes(args.radio_codes)
    writer = (real_time_writer(spark, args, radio_codes) if real_time
              else counts_writer(spark, args, radio_codes, updates_dir))
    run_until_done(writer, progress_log, stop_signals, real_time)
    spark.stop()
    if not real_time:
        finalize(args.output_dir)
    return 0


def main():
    args = parse_args(__doc__)
    try:
        return run(args)
    except (PySparkException, Py4JJavaError, OSError, ValueError) as e:
        # (the Java stack trace is in Spark's log above and, for a failed query, in the
        # progress file's .events)
        print(f"error: {error_message(e)}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
