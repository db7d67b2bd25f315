#
# sfcrime: dropping records the topic holds more than once, by the index
# `sfcrime produce` stamps on each (header sfcrime.index).
#
"""A topic can hold a call twice: a resume with --start-at re-sends records the
broker wrote without confirming, and two producers may load the same file.
The index header says which record of the file a message is, so the job can
count each once (Spark's dropDuplicates: its state keeps every index seen, about
200,000 small keys for the whole file). A message without the header (not sent by
sfcrime) is kept: its key is its own partition and offset."""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

INDEX_HEADER = "sfcrime.index"
# The column the sfcrime connector (calls mode) puts the header in.
INDEX_COLUMN = "sfcrime_index"
# What drop_duplicate_records reads of the connector's rows besides the index.
RECORD_COLUMNS = ["partition", "offset"]


def kafka_record_index(headers: Column) -> Column:
    """The sfcrime.index header of spark-sql-kafka's `headers` column, as a long."""
    value = F.element_at(F.filter(headers, lambda h: h["key"] == F.lit(INDEX_HEADER)), 1)["value"]
    return value.cast("string").cast("long")


def drop_duplicate_records(records: DataFrame, index: Column) -> DataFrame:
    """The records with each index once; records without one all kept (keyed by
    -1 - (partition << 40 | offset), which no index can be)."""
    partition, offset = (F.col(c) for c in RECORD_COLUMNS)
    own = F.lit(-1) - (partition.cast("long") * F.lit(1 << 40) + offset)
    return (records.withColumn("_record_key", F.coalesce(index, own))
            .dropDuplicates(["_record_key"]).drop("_record_key"))
