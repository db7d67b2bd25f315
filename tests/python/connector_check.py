#
# sfcrime: the Spark side of tests/integration/connector.rs, checks of the sfcrime_connector
# data source (python/sfcrime_connector.py) run through spark/submit.sh.
#

"""
Each subcommand runs one check in one Spark session and writes what it found
as JSON (or the job's final/*.jsonl files) for the Rust test to judge; the
verdicts stay in Rust, next to the ground truth.

  compare-raw   the same offsets through spark-sql-kafka and through
                sfcrime_connector in raw mode: schemas and rows
  calls         a batch read in calls mode: the three aggregates of
                python/data_stream.py in its final/*.jsonl layout, and every
                _corrupt_record row
  stream        an AvailableNow streaming query in calls mode counting per
                crime type and disposition; --stop-after N stops it once N
                micro-batches are done, and running it again with the same
                --checkpoint-dir resumes it
"""

import argparse
import json
import sys
import time
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
import data_stream  # noqa: E402  (these live in python/, put on the path above)
import sfcrime_connector  # noqa: E402
from radio_codes import load_radio_codes  # noqa: E402

RADIO_CODES = ROOT / "data/radio_code.json"


def session():
    spark = (SparkSession.builder.appName("sfcrime-connector-check")
             .config("spark.sql.session.timeZone", "UTC")
             # A few thousand groups on a small machine: Spark's default of 200
             # shuffle partitions would cost each stateful micro-batch seconds.
             .config("spark.sql.shuffle.partitions", "4")
             .getOrCreate())
    sfcrime_connector.register(spark)
    return spark


def write_json(path, value):
    Path(path).write_text(json.dumps(value, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def compare_raw(spark, args):
    def load(fmt, include_headers):
        reader = (spark.read.format(fmt)
                  .option("kafka.bootstrap.servers", args.bootstrap)
                  .option("subscribe", args.topic)
                  .option("startingOffsets", args.starting)
                  .option("endingOffsets", args.ending)
                  .option("includeHeaders", str(include_headers).lower()))
        if fmt == sfcrime_connector.NAME:
            # Small ranges, so one Kafka partition is read by several tasks.
            reader = reader.option("maxRecordsPerPartition", args.max_records_per_partition)
        return reader.load()

    result = {}
    for include_headers in (False, True):
        theirs = load("kafka", include_headers).cache()
        ours = load(sfcrime_connector.NAME, include_headers).cache()
        result["headers" if include_headers else "plain"] = {
            "schema_theirs": theirs.schema.jsonValue(),
            "schema_ours": ours.schema.jsonValue(),
            "rows_theirs": theirs.count(),
            "rows_ours": ours.count(),
            # exceptAll keeps duplicates, so equal multisets give 0 and 0.
            "only_theirs": theirs.exceptAll(ours).count(),
            "only_ours": ours.exceptAll(theirs).count(),
            "input_partitions_ours": ours.rdd.getNumPartitions(),
        }
    write_json(args.out, result)


def write_final(calls, out_dir):
    """python/data_stream.py's three results, in its final/*.jsonl layout, so
    the Rust side compares them with ground truth exactly as it does the job's."""
    crime = "original_crime_type_name"
    valid = calls.where(F.col("_corrupt_record").isNull())
    per_window = (valid.groupBy(F.window("call_date_time", "1 hour").alias("w"), crime).count()
                  .select(F.date_format("w.start", "yyyy-MM-dd'T'HH:mm:ss").alias("window_start"),
                          crime, "count"))
    totals = valid.groupBy(crime).count()
    codes = load_radio_codes(RADIO_CODES)
    dispositions = (valid.groupBy("disposition").count()
                    .withColumn("description", data_stream.description_of(F.col("disposition"),
                                                                          codes)))
    final = Path(out_dir) / "final"
    final.mkdir(parents=True, exist_ok=True)
    for name, df in [("crime_type_window", per_window), ("crime_type_totals", totals),
                     ("dispositions", dispositions)]:
        with open(final / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for row in df.collect():
                f.write(json.dumps(row.asDict()) + "\n")


def calls(spark, args):
    df = (spark.read.format(sfcrime_connector.NAME)
          .option("kafka.bootstrap.servers", args.bootstrap)
          .option("subscribe", args.topic)
          .option("mode", "calls")
          .option("maxRecordsPerPartition", args.max_records_per_partition)
          .load()
          .cache())
    write_final(df, args.out)
    corrupt = df.where(F.col("_corrupt_record").isNotNull())
    fields_null = F.lit(True)
    for name in sfcrime_connector.CALL_FIELDS:
        fields_null = fields_null & F.col(name).isNull()
    write_json(Path(args.out) / "summary.json", {
        "rows": df.count(),
        "schema": df.schema.jsonValue(),
        "corrupt": [r.asDict() for r in corrupt.select(
            "_corrupt_record", "partition", "offset", fields_null.alias("fields_null")).collect()],
    })


def stream(spark, args):
    out = Path(args.out)
    batches = out / "batches"
    batches.mkdir(parents=True, exist_ok=True)

    def write_batch(df, batch_id):
        # Complete mode: every batch holds the whole count so far. A batch
        # replayed after a restart overwrites its own file.
        rows = [r.asDict() for r in df.collect()]
        (batches / f"{batch_id:06d}.json").write_text(json.dumps(rows), encoding="utf-8")

    counts = (spark.readStream.format(sfcrime_connector.NAME)
              .option("kafka.bootstrap.servers", args.bootstrap)
              .option("subscribe", args.topic)
              .option("mode", "calls")
              .option("startingOffsets", "earliest")
              .option("maxOffsetsPerTrigger", args.max_offsets_per_trigger)
              .load()
              .groupBy("original_crime_type_name", "disposition", "_corrupt_record")
              .count())
    query = (counts.writeStream.outputMode("complete")
             .option("checkpointLocation", args.checkpoint_dir)
             .trigger(availableNow=True)
             .foreachBatch(write_batch)
             .start())
    if args.stop_after:
        while query.isActive:
            progress = query.lastProgress
            if progress and progress["batchId"] + 1 >= args.stop_after:
                query.stop()
                break
            time.sleep(0.05)
    query.awaitTermination()
    write_json(out / f"progress-{args.run}.json", [
        {"batchId": p["batchId"], "numInputRows": p["numInputRows"],
         "startOffset": p["sources"][0]["startOffset"],
         "endOffset": p["sources"][0]["endOffset"]}
        for p in query.recentProgress])


def main():
    p = argparse.ArgumentParser(prog="connector_check.py", description=__doc__.split("\n\n")[0])
    p.add_argument("check", choices=["compare-raw", "calls", "stream"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--out", required=True, help="result file (compare-raw) or directory")
    p.add_argument("--starting", default="earliest")
    p.add_argument("--ending", default="latest")
    p.add_argument("--max-records-per-partition", default="100000")
    p.add_argument("--max-offsets-per-trigger", default="20000")
    p.add_argument("--checkpoint-dir")
    p.add_argument("--stop-after", type=int, help="stream: stop after this many batches")
    p.add_argument("--run", default="1", help="stream: names this run's progress file")
    args = p.parse_args()
    spark = session()
    {"compare-raw": compare_raw, "calls": calls, "stream": stream}[args.check](spark, args)
    spark.stop()


if __name__ == "__main__":
    main()
