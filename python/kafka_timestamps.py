#
# sfcrime: the input records' Kafka timestamps, passed on so that `sfcrime sweep` and
# `sfcrime bench latency` can tell how long records took from Kafka through the job.
#
from pyspark.sql import functions as F

# observe() name of --observe-kafka-timestamps (sfcrime sweep's latency mode reads it).
OBSERVED_TIMESTAMPS = "kafka_timestamps"
# Header the real-time pipeline adds to each enriched record: the input record's Kafka
# timestamp (ms), so that a reader can tell each record's end-to-end latency.
SOURCE_TIMESTAMP_HEADER = "sfcrime.source.timestamp"


def observe_kafka_timestamps(raw):
    """Per micro-batch count, min, max and 1/5/50/95/99th percentiles of the Kafka record
    timestamps (ms), reported as StreamingQueryProgress.observedMetrics: together with the
    batch's end they give how long its records took from Kafka to a committed batch."""
    ts = F.unix_millis(F.col("timestamp"))
    return raw.observe(OBSERVED_TIMESTAMPS, F.count(F.lit(1)).alias("rows"),
                       F.min(ts).alias("min_ms"), F.max(ts).alias("max_ms"),
                       F.percentile_approx(ts, [0.01, 0.05, 0.5, 0.95, 0.99], 10000)
                       .alias("quantiles_ms"))


def source_timestamp_header():
    """The header (key, value) that carries a record's Kafka timestamp, in ms as text."""
    return F.struct(F.lit(SOURCE_TIMESTAMP_HEADER).alias("key"),
                    F.unix_millis("timestamp").cast("string").cast("binary").alias("value"))
