"""
Warm-up run for Spark's class-data-sharing archive (spark/submit.sh --build-cds).

Runs python/data_stream.py's query (parse, radio-code join, windowed count,
foreachBatch sink, final results) on a few thousand calls from a local file
stream, so that the driver JVM loads the classes a real run loads; submit.sh
records them and dumps them into the archive. Writes the JVM's class path to
OUT/classpath: the archive is only valid for that exact class path.

usage: spark/submit.sh spark/cds_warmup.py OUT
"""
import gzip
import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import data_stream  # noqa: E402  (python/, put on the path above)
from job_args import ROOT  # noqa: E402
from radio_codes import load_radio_codes  # noqa: E402
from results import batch_writer, finalize  # noqa: E402

CALLS = 3000


def main(out):
    out = Path(out)
    calls = out / "calls"
    calls.mkdir(parents=True)
    with gzip.open(ROOT / "data/police-department-calls-for-service.json.gz") as f:
        records = json.load(f)[:CALLS]
    for part in range(3):  # three files: three tasks, as from three Kafka partitions
        lines = (json.dumps(r) for r in records[part::3])
        (calls / f"part-{part}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    spark = (SparkSession.builder.appName("sfcrime-cds-warmup")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    (out / "classpath").write_text(spark._jvm.System.getProperty("java.class.path"))
    raw = spark.readStream.text(str(calls))
    counts = data_stream.build_counts(
        data_stream.parse_calls(raw),
        load_radio_codes(ROOT / "data/radio_code.json"),
        "1 hour", None)
    (counts.writeStream.outputMode("update")
     .option("checkpointLocation", str(out / "checkpoint"))
     .foreachBatch(batch_writer(str(out / "output/updates"), 0))
     .trigger(availableNow=True).start().awaitTermination())
    spark.stop()
    finalize(str(out / "output"))


if __name__ == "__main__":
    main(sys.argv[1])
