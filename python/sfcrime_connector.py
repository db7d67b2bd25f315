#
# sfcrime: the `sfcrime_connector` PySpark data source, Kafka read by the Rust
# connector (rust/connector, compiled into .venv as the module `_sfcrime_connector`).
#

"""
A PySpark data source named ``sfcrime_connector`` that reads Kafka through
sfcrime's Rust connector: every Spark task reads one offset range of one
partition with librdkafka and receives it as ONE Arrow record batch, so no
row ever exists as a Python object.

    import sfcrime_connector
    sfcrime_connector.register(spark)
    sfcrime_connector.start_workers(spark, {"kafka.bootstrap.servers": "127.0.0.1:9092",
                                            "subscribe": "sf.police.calls"})  # optional
    df = (spark.readStream.format("sfcrime_connector")
          .option("kafka.bootstrap.servers", "127.0.0.1:9092")
          .option("subscribe", "sf.police.calls")
          .option("mode", "calls")
          .load())

Options (names as in Spark's own Kafka source where they overlap):
  kafka.bootstrap.servers  required
  subscribe                required; a topic, or several separated by commas
  mode                     raw (default): exactly spark-sql-kafka's columns;
                           calls: the 14 call fields typed (see CALLS_SCHEMA),
                           then partition, offset, timestamp, sfcrime_index
                           (the record's sfcrime.index header), _corrupt_record
  includeHeaders           raw only: add spark-sql-kafka's `headers` column
  columns                  only these columns of the mode's schema, named and
                           separated by commas (kept in the schema's order),
                           e.g. original_crime_type_name,disposition,
                           call_date_time. Spark 4.2 prunes no columns of a
                           Python data source: without this, every column
                           crosses from Python to the JVM and is copied into
                           Spark's rows, whether the query uses it or not
  startingOffsets          earliest, latest or JSON {"topic": {"0": 42}} where
                           -2 is earliest and -1 latest (default: latest when
                           streaming, earliest in batch); every partition of
                           the topics must be named. A streaming query only
                           uses it when its checkpoint is new.
  endingOffsets            batch only: latest (default) or JSON as above
  maxOffsetsPerTrigger     streaming: at most this many offsets per
                           micro-batch, shared across partitions by backlog
  maxRecordsPerPartition   largest offset range one Spark task reads
                           (default 100000); longer ranges are split
  minPartitions            about this many Spark tasks per batch, as
                           spark-sql-kafka's: each partition's range is
                           split into round(N x its share of the batch)
                           equal pieces (at least one)
  failOnDataLoss           true (default): fail when offsets to read are gone
                           (retention, topic recreated); false: skip them
  kafkaConsumer.pollTimeoutMs  how long a read or metadata request may stall
                           before it fails (default 120000)
  commitGroup              streaming: a consumer group to which the query's
                           progress is committed, so that Kafka's tools
                           (kafka-consumer-groups.sh --describe, `sfcrime
                           consume --lag`, lag monitors) show its lag; see
                           "Committed offsets" below. Not kafka.group.id: that
                           one is refused, since readers never join a group
  kafka.<setting>          any other librdkafka setting, e.g.
                           kafka.security.protocol=SASL_SSL (librdkafka
                           names, which mostly equal the Java client's)

Offsets are spark-sql-kafka's JSON, {"topic": {"partition": next offset}}, so
a checkpoint reads the same way. The source keeps no state of its own: where
a query is lives only in Spark's checkpoint.

Committed offsets (commitGroup): what the group holds is a copy of the
checkpoint for Kafka's tools, never read back; a restart goes on from the
checkpoint. It is committed when Spark asks for the next batch's end
(latestOffset): Spark does that only once the previous batch is in its
commit log (the checkpoint's commits/, written after the batch's output), so
the start it passes is where the checkpoint stands and the group is never
ahead of it. (Spark's `commit(end)` callback would be one batch late: it
passes the end of the batch before last when it logs the next one, so the
last batch of an available-now run, or of a stream that goes quiet, would
never show.) A new query's first commit is its starting offsets. This holds
for Spark's default, synchronous progress tracking; with
asyncProgressTrackingEnabled the commit log may lag behind.
"""

import json
import sys
import threading

from pyspark import cloudpickle
from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    DataSourceStreamReader,
    InputPartition,
)
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)
from pyspark.sql.utils import is_remote

from calls import CALL_FIELDS

# The Rust half, named after this module with Python's leading underscore for
# a compiled helper (as _json is json's). A .venv set up before it took this
# name lacks it: say how to build it rather than leave a bare import error.
try:
    import _sfcrime_connector
except ModuleNotFoundError as e:
    if e.name != "_sfcrime_connector":
        raise
    raise ModuleNotFoundError(
        f"{e} (the connector's Rust half, rust/connector): build it into this venv "
        "with scripts/setup.sh", name=e.name) from None

NAME = "sfcrime_connector"

RAW_SCHEMA = StructType([
    StructField("key", BinaryType()),
    StructField("value", BinaryType()),
    StructField("topic", StringType()),
    StructField("partition", IntegerType()),
    StructField("offset", LongType()),
    StructField("timestamp", TimestampType()),
    StructField("timestampType", IntegerType()),
])
HEADERS_FIELD = StructField("headers", ArrayType(StructType([
    StructField("key", StringType()), StructField("value", BinaryType())])))

# Naive wall-clock times in the data, held as TimestampType whose UTC reading is
# that wall-clock time: what to_timestamp gives in a UTC session, as the job runs.
CALL_TIMESTAMPS = {"report_date", "call_date", "offense_date", "call_date_time"}
CALLS_SCHEMA = StructType(
    [StructField(f, TimestampType() if f in CALL_TIMESTAMPS else StringType())
     for f in CALL_FIELDS]
    + [StructField("partition", IntegerType()), StructField("offset", LongType()),
       StructField("timestamp", TimestampType()), StructField("sfcrime_index", LongType()),
       StructField("_corrupt_record", StringType())]
)

# spark-sql-kafka options this source does not offer: refused by name rather
# than silently ignored, since ignoring them would change what is read.
UNSUPPORTED = ["assign", "subscribePattern", "minOffsetsPerTrigger", "maxTriggerDelay",
               "startingTimestamp", "startingOffsetsByTimestamp", "endingTimestamp",
               "endingOffsetsByTimestamp", "maxBytesPerTrigger"]
EARLIEST, LATEST = -2, -1  # spark-sql-kafka's markers in offset JSON


def register(spark):
    """Makes ``format("sfcrime_connector")`` work in `spark`.

    The module is pickled by value into Spark's Python workers, so they need
    only pyspark and _sfcrime_connector installed, not this file on their path.
    """
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    spark.dataSource.register(SfcrimeConnector)


def start_workers(spark, options):
    """Starts, in the background, the Python processes a streaming read of this
    source waits for in its first batch, so that the batch reuses them
    (spark.python.worker.reuse, Spark's default) instead of starting its own:
    the workers the reads run in, one per task slot, with the Rust half
    imported; and the driver's worker that plans a read (the reader pickled for
    the tasks), by planning a batch read of the same topic with `options`
    (kafka.* and subscribe). Measured in docs/BENCHMARKS.md ("The connector's
    first batch").

    Only a head start: the query does not wait for it, and Spark starts what is
    not idle when needed, so a failure here (e.g. Spark stopping first) is ignored.
    Nothing to do on a Spark Connect server: it keeps its workers between runs."""
    if is_remote():
        return
    slots = spark.sparkContext.defaultParallelism

    def load_rust_half(batches):
        import _sfcrime_connector  # noqa: F401  (what a read loads first)
        yield from batches

    def run():
        try:
            spark.range(slots, numPartitions=slots).mapInArrow(load_rust_half, "id long").collect()
            # planned, not run: .rdd plans the read without a Spark job
            spark.read.format(NAME).options(**options).load().rdd.getNumPartitions()
        except Exception:  # noqa: BLE001 (see above)
            pass

    threading.Thread(target=run, name="sfcrime-connector-warm-up", daemon=True).start()


class Settings:
    """The options of one read, checked once, on the driver."""

    def __init__(self, options, streaming):
        for name in UNSUPPORTED:
            if name in options:
                raise ValueError(f"{NAME}: option {name} is not supported")

        def required(name):
            value = options.get(name, "").strip()
            if not value:
                raise ValueError(f"{NAME}: option {name} is required")
            return value

        def positive(name, default):
            text = options.get(name)
            if text is None:
                return default
            try:
                value = int(text)
            except ValueError:
                value = 0
            if value <= 0:
                raise ValueError(f"{NAME}: {name} must be a positive integer, got {text!r}")
            return value

        def boolean(name, default):
            text = options.get(name, str(default)).strip().lower()
            if text not in ("true", "false"):
                raise ValueError(f"{NAME}: {name} must be true or false, got {text!r}")
            return text == "true"

        if "kafka.group.id" in options:
            raise ValueError(f"{NAME}: kafka.group.id is not used (readers join no group); "
                             "set commitGroup to commit the query's progress to a group")
        self.bootstrap = required("kafka.bootstrap.servers")
        self.topics = sorted({t.strip() for t in required("subscribe").split(",") if t.strip()})
        # librdkafka settings; Spark has already lower-cased option names, and
        # librdkafka's are lower case.
        self.kafka = {k[len("kafka."):]: str(v) for k, v in options.items()
                      if k.startswith("kafka.") and k != "kafka.bootstrap.servers"}
        self.mode = options.get("mode", "raw")
        if self.mode not in ("raw", "calls"):
            raise ValueError(f"{NAME}: mode must be raw or calls, got {self.mode!r}")
        self.include_headers = boolean("includeHeaders", False)
        if self.include_headers and self.mode != "raw":
            raise ValueError(f"{NAME}: includeHeaders needs mode raw")
        self.starting = options.get("startingOffsets", "latest" if streaming else "earliest")
        self.ending = options.get("endingOffsets", "latest")
        if streaming and "endingOffsets" in options:
            raise ValueError(f"{NAME}: endingOffsets is for batch reads only")
        if not streaming and "maxOffsetsPerTrigger" in options:
            raise ValueError(f"{NAME}: maxOffsetsPerTrigger is for streaming reads only")
        self.max_offsets_per_trigger = positive("maxOffsetsPerTrigger", None)
        self.max_records_per_partition = positive("maxRecordsPerPartition", 100_000)
        self.min_partitions = positive("minPartitions", None)
        self.fail_on_data_loss = boolean("failOnDataLoss", True)
        self.timeout_ms = positive("kafkaConsumer.pollTimeoutMs", 120_000)
        self.commit_group = options.get("commitGroup", "").strip() or None
        self.columns = read_schema(options)[1]
        if self.commit_group and not streaming:
            raise ValueError(f"{NAME}: commitGroup is for streaming reads only")

    def watermarks(self):
        """{(topic, partition): (low, high)} of every subscribed partition."""
        return {(topic, p): marks
                for topic in self.topics
                for p, marks in _sfcrime_connector.partition_offsets(
                    self.bootstrap, topic, self.kafka, timeout_ms=self.timeout_ms).items()}

    def resolve(self, spec, marks, name):
        """Offsets named by an earliest/latest/JSON option, for every partition."""
        if spec in ("earliest", "latest"):
            return {tp: low if spec == "earliest" else high for tp, (low, high) in marks.items()}
        given = from_json(spec, name)
        missing = sorted(set(marks) - set(given))
        unknown = sorted(set(given) - set(marks))
        if missing or unknown:
            raise ValueError(f"{NAME}: {name} must name every partition of {self.topics} "
                             f"and no other; missing {missing}, unknown {unknown}")
        return {tp: marks[tp][0] if o == EARLIEST else marks[tp][1] if o == LATEST else o
                for tp, o in given.items()}

    def ranges(self, start, end, marks=None):
        """The input partitions reading [start, end): per Kafka partition, split
        into equal ranges, as many as minPartitions asks for its share of the
        batch (spark-sql-kafka's KafkaOffsetRangeCalculator), none longer than
        maxRecordsPerPartition offsets."""
        new = set(end) - set(start)
        if new and marks is None:
            marks = self.watermarks()
        # A partition created since `start` is read from its beginning.
        spans = {tp: (start[tp] if tp in start else marks[tp][0], end[tp]) for tp in end}
        records = sum(max(last - first, 0) for first, last in spans.values())
        out = []
        for tp in sorted(spans):
            first, last = spans[tp]
            size = last - first
            parts = -(-size // self.max_records_per_partition)
            if self.min_partitions and records:
                parts = max(parts, round(size * self.min_partitions / records))
            step = -(-size // parts) if parts else 1
            for lo in range(first, last, step):
                # The value is a plain tuple so that unpickling it in a worker
                # needs nothing but pyspark.
                out.append(InputPartition((tp[0], tp[1], lo, min(lo + step, last))))
        return out

    def commit(self, offsets):
        """Commits {(topic, partition): next offset} to commitGroup."""
        _sfcrime_connector.commit_offsets(self.bootstrap, self.commit_group, offsets,
                                          self.kafka, timeout_ms=self.timeout_ms)

    def read(self, partition):
        """One input partition's rows, as (at most) one Arrow batch."""
        if partition.value is None:  # PySpark's stand-in when there is nothing to read
            return
        topic, kafka_partition, start, end = partition.value
        batch = _sfcrime_connector.read_range(
            self.bootstrap, topic, kafka_partition, start, end, self.mode, self.kafka,
            include_headers=self.include_headers, fail_on_data_loss=self.fail_on_data_loss,
            timeout_ms=self.timeout_ms)
        if batch.num_rows:
            # a zero-copy projection: only these columns go to the JVM
            yield batch if self.columns is None else batch.select(self.columns)


def to_json(offsets):
    """spark-sql-kafka's offset JSON. Topics and partitions in a fixed order:
    Spark compares offsets as JSON text, so equal offsets must print alike."""
    out = {}
    for (topic, partition), offset in sorted(offsets.items()):
        out.setdefault(topic, {})[str(partition)] = offset
    return out


def from_json(offsets, name="offset"):
    """{(topic, partition): offset} from a dict or JSON text of spark-sql-kafka's form."""
    if isinstance(offsets, str):
        try:
            offsets = json.loads(offsets)
        except ValueError as e:
            raise ValueError(f"{NAME}: {name} is neither earliest, latest nor JSON: {e}") from None
    try:
        return {(topic, int(p)): int(o) for topic, parts in offsets.items()
                for p, o in parts.items()}
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f'{NAME}: {name} must look like {{"topic": {{"0": 42}}}}, '
                         f"got {offsets!r}") from None


def rate_limit(start, end, max_rows):
    """`end` moved back so that at most `max_rows` offsets lie beyond `start`,
    shared by backlog: each partition gets its proportional share, rounded
    down, and the offsets left over by rounding go to the largest remainders,
    so a batch holds exactly `max_rows` when that many are waiting."""
    backlog = {tp: end[tp] - start[tp] for tp in end if end[tp] > start[tp]}
    total = sum(backlog.values())
    if total <= max_rows:
        return end
    share = {tp: max_rows * n // total for tp, n in backlog.items()}
    left = max_rows - sum(share.values())
    for tp in sorted(backlog, key=lambda tp: (-(max_rows * backlog[tp] % total), tp))[:left]:
        share[tp] += 1
    return {tp: start[tp] + share.get(tp, 0) if tp in backlog else end[tp] for tp in end}


def read_schema(options):
    """The schema a read with `options` gives, and the names of its columns
    when `columns` keeps only some (else None)."""
    mode = options.get("mode", "raw")
    if mode == "calls":
        full = CALLS_SCHEMA
    elif options.get("includeHeaders", "false").strip().lower() == "true":
        full = StructType(RAW_SCHEMA.fields + [HEADERS_FIELD])
    else:
        full = RAW_SCHEMA
    if options.get("columns") is None:
        return full, None
    wanted = {c.strip() for c in options["columns"].split(",") if c.strip()}
    unknown = sorted(wanted - set(full.names))
    if unknown or not wanted:
        raise ValueError(f"{NAME}: columns must name columns of mode {mode}'s schema "
                         f"({', '.join(full.names)}); unknown: {unknown or 'none given'}")
    kept = StructType([f for f in full.fields if f.name in wanted])
    return kept, kept.names


class SfcrimeConnector(DataSource):
    """``spark.read`` / ``spark.readStream`` ``.format("sfcrime_connector")``."""

    @classmethod
    def name(cls):
        return NAME

    def schema(self):
        return read_schema(self.options)[0]

    def reader(self, schema):
        return BatchReader(Settings(self.options, streaming=False))

    def streamReader(self, schema):
        return StreamReader(Settings(self.options, streaming=True))


class BatchReader(DataSourceReader):
    def __init__(self, settings):
        self.settings = settings

    def partitions(self):
        s = self.settings
        if s.starting == "latest":
            raise ValueError(f"{NAME}: startingOffsets=latest would read nothing in a batch query")
        if s.ending == "earliest":
            raise ValueError(f"{NAME}: endingOffsets=earliest would read nothing in a batch query")
        marks = s.watermarks()
        start = s.resolve(s.starting, marks, "startingOffsets")
        end = s.resolve(s.ending, marks, "endingOffsets")
        return s.ranges(start, end, marks)

    def read(self, partition):
        return self.settings.read(partition)


class StreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, settings):
        self.settings = settings
        # Trigger.AvailableNow: the latest offsets when the query started; the
        # query ends there, however much arrives meanwhile. Set per run, by
        # Spark, so it is not state a restart could lose.
        self.target = None
        # Only for progress reports (reportLatestOffset).
        self.latest = None
        # What was last committed to commitGroup, so that a trigger that
        # finds nothing new commits nothing again.
        self.committed = None

    def initialOffset(self):
        s = self.settings
        return to_json(s.resolve(s.starting, s.watermarks(), "startingOffsets"))

    def prepareForTriggerAvailableNow(self):
        self.target = {tp: high for tp, (_, high) in self.settings.watermarks().items()}

    def getDefaultReadLimit(self):
        n = self.settings.max_offsets_per_trigger
        return ReadMaxRows(n) if n else ReadAllAvailable()

    def latestOffset(self, start, limit):
        s = self.settings
        start = from_json(start)
        if s.commit_group and start != self.committed:
            # `start` is where the checkpoint stands (see "Committed offsets").
            s.commit(start)
            self.committed = dict(start)
        marks = s.watermarks()
        latest = self.target if self.target is not None else {
            tp: high for tp, (_, high) in marks.items()}
        self.latest = latest
        end = {}
        for tp, offset in latest.items():
            begin = start[tp] if tp in start else marks[tp][0]
            if offset < begin and s.fail_on_data_loss:
                raise RuntimeError(
                    f"{NAME}: {tp[0]} partition {tp[1]} ends at offset {offset}, before "
                    f"{begin} already read: the topic was recreated or truncated; set "
                    "failOnDataLoss=false to go on from where it is")
            end[tp] = max(offset, begin)
            start.setdefault(tp, begin)
        for tp in set(start) - set(end):  # partition gone: keep its place
            end[tp] = start[tp]
        if isinstance(limit, ReadMaxRows):
            end = rate_limit(start, end, limit.max_rows)
        return to_json(end)

    def reportLatestOffset(self):
        return None if self.latest is None else to_json(self.latest)

    def partitions(self, start, end):
        return self.settings.ranges(from_json(start), from_json(end))

    def read(self, partition):
        return self.settings.read(partition)

    def commit(self, end):
        """Nothing to do: Spark's checkpoint keeps where the query is, and
        commitGroup is committed in latestOffset, one batch sooner."""
