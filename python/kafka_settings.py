#
# sfcrime: what the job tells Spark's Kafka source and sink: the client settings (given in
# librdkafka's names, renamed for spark-sql-kafka's Java client) and the rate limits.
#
import json
import os

# Kafka client settings (librdkafka names) as a JSON object, from `sfcrime spark run`.
KAFKA_SETTINGS_ENV = "SFCRIME_KAFKA_CLIENT_SETTINGS"
# The Java client's JAAS login module for sasl.username/sasl.password, per mechanism.
LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}
# spark-sql-kafka looks up offsets with the Java AdminClient in the driver. When a broker
# dies under a lookup, the client waits out its whole default.api.timeout.ms (60 s) before
# Spark retries with a new client (fetchOffset.numRetries, 3), which finds the new leader at
# once: that batch spent 61 s in latestOffset on the 3-broker kill test. 10 s attempts bound
# it to ~11 s and still ride out a ~30 s outage of every broker (docs/RELIABILITY.md). The
# Java client refuses a request.timeout.ms above default.api.timeout.ms, so both are set.
KAFKA_SOURCE_TIMEOUTS = {"default.api.timeout.ms": "10000", "request.timeout.ms": "5000"}


def kafka_client_settings(args):
    """The Kafka client settings in librdkafka's names: $SFCRIME_KAFKA_CLIENT_SETTINGS,
    then --kafka-option (a later setting wins)."""
    settings = {}
    text = os.environ.get(KAFKA_SETTINGS_ENV)
    if text:
        try:
            loaded = json.loads(text)
        except ValueError as e:  # the message gives a position, never the text
            raise ValueError(f"${KAFKA_SETTINGS_ENV} is not JSON: {e}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"${KAFKA_SETTINGS_ENV} must be a JSON object")
        settings.update((str(k), str(v)) for k, v in loaded.items())
    settings.update(args.kafka_option)
    return settings


def java_client_settings(settings):
    """librdkafka settings in the Java client's names, for spark-sql-kafka (the names
    that are the same in both, e.g. security.protocol, pass as they are)."""
    java = dict(settings)
    if "sasl.mechanisms" in java:  # librdkafka's name (it also takes sasl.mechanism)
        java.setdefault("sasl.mechanism", java.pop("sasl.mechanisms"))
    user, password = java.pop("sasl.username", None), java.pop("sasl.password", None)
    if (user is None) != (password is None):
        raise ValueError("Kafka settings: sasl.username and sasl.password go together")
    if user is not None and "sasl.jaas.config" not in java:
        mechanism = java.get("sasl.mechanism", "GSSAPI").upper()
        if mechanism not in LOGIN_MODULES:
            raise ValueError(f"Kafka settings: sasl.username/sasl.password need a sasl.mechanisms "
                             f"of {', '.join(LOGIN_MODULES)}, not {mechanism}; give the Java "
                             "client's sasl.jaas.config instead")

        def quoted(text):  # a JAAS string: backslash escapes
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        java["sasl.jaas.config"] = (f"{LOGIN_MODULES[mechanism]} required "
                                    f"username={quoted(user)} password={quoted(password)};")
    if "ssl.ca.location" in java:
        ca = java.pop("ssl.ca.location")
        if "ssl.truststore.location" not in java:
            java["ssl.truststore.location"] = ca
            java.setdefault("ssl.truststore.type", "PEM")
    if java.get("ssl.endpoint.identification.algorithm", "").lower() == "none":
        java["ssl.endpoint.identification.algorithm"] = ""
    return java


def kafka_options(args, source_format="kafka", reading=False):
    """kafka.* options of a source (reading) or sink: bootstrap servers and client settings;
    spark-sql-kafka's source also gets KAFKA_SOURCE_TIMEOUTS unless the user set either one
    (then both are theirs: the two must agree)."""
    settings = kafka_client_settings(args)
    if source_format == "kafka":
        if reading and not KAFKA_SOURCE_TIMEOUTS.keys() & settings.keys():
            settings = {**KAFKA_SOURCE_TIMEOUTS, **settings}
        settings = java_client_settings(settings)
    return {"kafka.bootstrap.servers": args.bootstrap_servers,
            **{f"kafka.{key}": value for key, value in settings.items()}}


def batch_options(args):
    """The source's options that shape a micro-batch (its rate limits, how many Spark
    tasks read it), those given on the command line only."""
    given = {"maxOffsetsPerTrigger": args.max_offsets_per_trigger,
             "minOffsetsPerTrigger": args.min_offsets_per_trigger,
             "maxTriggerDelay": args.max_trigger_delay,
             "minPartitions": args.min_partitions}
    return {name: value for name, value in given.items() if value is not None}
