#
# sfcrime: data_stream.py's command line: its options, their help texts and the checks
# of how they combine (argparse: a bad one exits 2 with usage and a message).
#
import argparse
import os
import textwrap
from pathlib import Path

from kafka_settings import KAFKA_SETTINGS_ENV
from kafka_timestamps import OBSERVED_TIMESTAMPS

# The defaults' base: the checkout's root, or $SFCRIME_HOME where the CLI sets it.
ROOT = Path(os.environ.get("SFCRIME_HOME") or Path(__file__).resolve().parent.parent)

WATERMARK_HELP = """event-time watermark on call_date_time, e.g. "1 hour" (default: none).
The data file is sorted NEWEST FIRST, so when it is loaded into Kafka in file order
the event time runs backwards: after the first batch the watermark sits near the
newest call, and from the batch after next every older row is dropped as "late"
(state stays bounded, but the counts are wrong: with 50000-offset batches and "1
hour", 100003 of the 199999 rows are lost; one available-now batch loses none).
Without a watermark nothing is dropped and the state keeps every window (~127k keys
here, fine). With the replay producer (oldest first) "1 hour" is sensible: no row
was late in our runs and old windows are evicted from state."""

EPILOG = """exit status: 0 done (also after a graceful stop), 1 failure (one line
"error: ..." on stderr), 2 bad arguments.
failures: a missing topic fails the query within seconds. An unreachable broker is
retried: Spark's Kafka source makes 3 offset lookups of kafka default.api.timeout.ms
each (10 s here, where the Java client's default is 60 s), so a broker that dies costs
a batch about 10 s and the query fails once every broker has been gone for about 30 s;
change both with --kafka-option default.api.timeout.ms=... --kafka-option
request.timeout.ms=... (the second no larger than the first)."""

# --source values that were renamed, still taken for one release: sweeps saved with
# the old name (e.g. docs/bench/connector/sweep.json) pass it on as it is.
OLD_SOURCE_NAMES = {"sfcrime": "sfcrime_connector"}


def parse_args(job_doc, argv=None):
    """The job's arguments, checked; on an error, argparse's usage and message on stderr
    and exit status 2. job_doc: the job's docstring, whose first paragraph is --help's."""
    def kv(text):
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
        return key, value

    def boolean(text):
        if text.lower() not in ("true", "false"):
            raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
        return text.lower()

    p = argparse.ArgumentParser(
        prog="data_stream.py", description=textwrap.fill(" ".join(job_doc.split("\n\n")[0].split()), 80),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("source")
    src.add_argument("--source", choices=["kafka", "sfcrime_connector"], default="kafka",
                     type=lambda name: OLD_SOURCE_NAMES.get(name, name),
                     help="how the calls are read: kafka = Spark's spark-sql-kafka "
                          "connector, JSON parsed by from_json in the JVM; sfcrime_connector "
                          "= sfcrime's Rust connector (python/sfcrime_connector.py, mode "
                          "calls), JSON parsed into typed Arrow columns in Rust; it has no "
                          "minOffsetsPerTrigger/maxTriggerDelay; its old name sfcrime is "
                          "still taken, until the next release (default: %(default)s)")
    src.add_argument("--bootstrap-servers", default="127.0.0.1:9092",
                     help="Kafka bootstrap.servers (default: %(default)s)")
    src.add_argument("--topic", default="sf.police.calls", help="(default: %(default)s)")
    src.add_argument("--starting-offsets", default="earliest",
                     help="earliest, latest or a JSON offsets map; only used when the "
                          "checkpoint is new (default: %(default)s)")
    src.add_argument("--max-offsets-per-trigger", type=int, metavar="N",
                     help="rate limit: at most N offsets per micro-batch (all partitions)")
    src.add_argument("--min-offsets-per-trigger", type=int, metavar="N",
                     help="wait for N new offsets (or --max-trigger-delay) before a batch")
    src.add_argument("--max-trigger-delay", metavar="DURATION",
                     help='with --min-offsets-per-trigger, e.g. "5m" (Spark default 15m)')
    src.add_argument("--min-partitions", type=int, metavar="N",
                     help="split each batch's offset ranges into at least N Spark tasks "
                          "(both sources' minPartitions; default: one task per topic "
                          "partition): with 3 partitions on 2 cores, 4 tasks keep both cores "
                          "busy to the end of the read")
    src.add_argument("--fail-on-data-loss", type=boolean, default="true", metavar="true|false",
                     help="fail when offsets vanish, e.g. topic deleted or data aged out "
                          "(default: %(default)s)")
    src.add_argument("--commit-group", metavar="GROUP",
                     help="--source sfcrime_connector: commit the query's progress to this "
                          "Kafka consumer group once Spark has checkpointed it, so that "
                          "kafka-consumer-groups.sh --describe, `sfcrime consume --lag` and lag "
                          "monitors show the query's lag (the checkpoint stays what a restart "
                          "goes on from); on sfcrime's SASL_SSL stack the name must start with "
                          "a kafka.consumer.groups prefix, e.g. sfcrime-")
    src.add_argument("--kafka-option", type=kv, action="append", default=[],
                     metavar="KEY=VALUE", help="a Kafka consumer setting for the source, as "
                     "kafka.KEY, e.g. security.protocol=SASL_SSL (repeatable). librdkafka "
                     "names, as sfcrime's -X: for --source kafka (the Java client) "
                     "sasl.mechanisms, sasl.username + sasl.password, ssl.ca.location and "
                     "ssl.endpoint.identification.algorithm=none become sasl.mechanism, "
                     "sasl.jaas.config, a PEM ssl.truststore and ''; other names pass as they "
                     f"are. Applied after ${KAFKA_SETTINGS_ENV} (a JSON object of such "
                     "settings: how `sfcrime spark run` passes its -X/-F, since other users "
                     "can read a command line but not the environment)")
    trig = p.add_mutually_exclusive_group()
    trig.add_argument("--trigger-interval", default="10 seconds", metavar="INTERVAL",
                      help="processing-time trigger; runs until Ctrl-C/SIGTERM "
                           '(default: "%(default)s")')
    trig.add_argument("--available-now", action="store_true",
                      help="process everything in the topic now (in batches, respecting "
                           "--max-offsets-per-trigger), finalize and exit")
    trig.add_argument("--real-time", nargs="?", const="5 minutes", metavar="CHECKPOINT_INTERVAL",
                      help="run the stateless real-time pipeline instead of the counts: "
                           "each call, its radio-code description joined, as JSON to "
                           "--output-topic (key crime_id, the input's headers kept), in "
                           "Spark's real-time mode: one long-running task per topic "
                           "partition, so the master needs at least that many task slots "
                           "(e.g. local[4] for 3 partitions). The interval is how often it "
                           'checkpoints (default: "%(const)s"); runs until Ctrl-C/SIGTERM')
    p.add_argument("--output-topic",
                   help="--real-time: the topic of enriched calls (default: TOPIC.enriched)")
    p.add_argument("--checkpoint-dir", default=str(ROOT / "runs/spark/checkpoint"),
                   help="streaming checkpoint (default: %(default)s)")
    p.add_argument("--output-dir", default=str(ROOT / "runs/spark/output"),
                   help="updates/ and final/ go here (default: %(default)s)")
    p.add_argument("--progress-file", default=str(ROOT / "runs/spark/progress.jsonl"),
                   help="StreamingQueryProgress JSON lines are appended here; lifecycle "
                        "events go to FILE.events (default: %(default)s)")
    p.add_argument("--radio-codes", default=str(ROOT / "data/radio_code.json"),
                   help="JSON array of {disposition_code, description} (default: %(default)s)")
    p.add_argument("--window", default="1 hour",
                   help='event-time window length (default: "%(default)s")')
    p.add_argument("--watermark", help=WATERMARK_HELP)
    p.add_argument("--console-rows", type=int, default=10, metavar="N",
                   help="updated rows shown per batch, 0 for none (default: %(default)s)")
    p.add_argument("--read-in-one-task", action="store_true",
                   help="read all topic partitions in one task (coalesce(1)): with "
                        "spark.sql.shuffle.partitions=1 a batch is then one task with no "
                        "shuffle, which makes small batches faster and large ones slower "
                        "(one core parses everything); part of `sfcrime spark run "
                        "--low-latency`")
    p.add_argument("--drop-duplicates", action="store_true",
                   help="count each record of the file once when the topic holds it "
                        "more than once, by its sfcrime.index header (state: every index "
                        "seen); records without the header are all counted")
    p.add_argument("--observe-kafka-timestamps", action="store_true",
                   help="report per-batch statistics of the records' Kafka timestamps in the "
                        f"progress events' observedMetrics[{OBSERVED_TIMESTAMPS!r}] (for "
                        "end-to-end latency; costs one more aggregation per batch)")
    args = p.parse_args(argv)
    if args.min_partitions is not None and args.min_partitions < 1:
        p.error("--min-partitions must be at least 1")
    if args.min_partitions and args.read_in_one_task:
        p.error("--min-partitions splits the read into more tasks, --read-in-one-task joins "
                "it into one: give one of them")
    if args.max_trigger_delay and not args.min_offsets_per_trigger:
        p.error("--max-trigger-delay needs --min-offsets-per-trigger")
    if args.commit_group is not None and args.source != "sfcrime_connector":
        p.error("--commit-group needs --source sfcrime_connector: spark-sql-kafka never "
                "commits a query's offsets to Kafka (SPARK-27549)")
    if args.real_time is not None:
        # Spark 4.2's real-time mode takes neither a Python data source nor rate limits.
        if args.source != "kafka":
            p.error("--real-time reads with --source kafka only (Spark 4.2 runs no Python "
                    "data source in real-time mode)")
        if args.max_offsets_per_trigger or args.min_offsets_per_trigger:
            p.error("--real-time has no batches to limit: drop --max/--min-offsets-per-trigger")
        if args.min_partitions:
            p.error("--min-partitions is for micro-batches: real-time mode runs one "
                    "long-running task per topic partition")
        if args.read_in_one_task:
            p.error("--read-in-one-task is for the counts' micro-batches, not --real-time")
        if args.drop_duplicates:
            p.error("--drop-duplicates is for the counts: the real-time pipeline is "
                    "stateless in Spark 4.2")
        args.output_topic = args.output_topic or f"{args.topic}.enriched"
    elif args.output_topic:
        p.error("--output-topic is for --real-time")
    return args
