# sfcrime: unit tests of python/kafka_settings.py, librdkafka settings made into
# spark-sql-kafka's options.
from argparse import Namespace

import pytest

from kafka_settings import (KAFKA_SETTINGS_ENV, java_client_settings, kafka_client_settings,
                            kafka_options, batch_options)


def job_args(kafka_option=(), **given):
    values = {"bootstrap_servers": "broker:9092", "kafka_option": list(kafka_option),
              "max_offsets_per_trigger": None, "min_offsets_per_trigger": None,
              "max_trigger_delay": None, "min_partitions": None}
    return Namespace(**{**values, **given})


@pytest.fixture(autouse=True)
def no_settings_in_environment(monkeypatch):
    monkeypatch.delenv(KAFKA_SETTINGS_ENV, raising=False)


@pytest.mark.parametrize("mechanism, module", [
    ("PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule"),
    ("SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule"),
    ("scram-sha-512", "org.apache.kafka.common.security.scram.ScramLoginModule"),
])
def test_username_and_password_become_a_jaas_config(mechanism, module):
    java = java_client_settings({"security.protocol": "SASL_SSL", "sasl.mechanisms": mechanism,
                                 "sasl.username": "alice", "sasl.password": "secret"})
    assert java == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": f'{module} required username="alice" password="secret";',
    }


def test_jaas_strings_escape_quotes_and_backslashes():
    java = java_client_settings({"sasl.mechanism": "PLAIN", "sasl.username": 'a"b',
                                 "sasl.password": "c\\d\""})
    assert java["sasl.jaas.config"].endswith(r'username="a\"b" password="c\\d\"";')


def test_a_given_jaas_config_is_kept():
    given = "org.example.Module required;"
    java = java_client_settings({"sasl.mechanisms": "OAUTHBEARER", "sasl.username": "u",
                                 "sasl.password": "p", "sasl.jaas.config": given})
    assert java == {"sasl.mechanism": "OAUTHBEARER", "sasl.jaas.config": given}


def test_the_java_name_sasl_mechanism_wins_over_librdkafkas():
    java = java_client_settings({"sasl.mechanism": "PLAIN", "sasl.mechanisms": "SCRAM-SHA-256"})
    assert java == {"sasl.mechanism": "PLAIN"}


def test_a_ca_location_becomes_a_pem_truststore():
    assert java_client_settings({"ssl.ca.location": "/ca.pem"}) == {
        "ssl.truststore.location": "/ca.pem", "ssl.truststore.type": "PEM"}


def test_a_given_truststore_is_kept():
    java = java_client_settings({"ssl.ca.location": "/ca.pem",
                                 "ssl.truststore.location": "/trust.jks"})
    assert java == {"ssl.truststore.location": "/trust.jks"}


@pytest.mark.parametrize("given, java", [("none", ""), ("NONE", ""), ("https", "https")])
def test_endpoint_identification_none_is_the_java_clients_empty_string(given, java):
    settings = {"ssl.endpoint.identification.algorithm": given}
    assert java_client_settings(settings) == {"ssl.endpoint.identification.algorithm": java}


@pytest.mark.parametrize("settings", [{"sasl.username": "u"}, {"sasl.password": "p"}])
def test_username_and_password_go_together(settings):
    with pytest.raises(ValueError, match="sasl.username and sasl.password go together"):
        java_client_settings({"sasl.mechanisms": "PLAIN", **settings})


@pytest.mark.parametrize("settings, named", [
    ({"sasl.mechanisms": "OAUTHBEARER"}, "not OAUTHBEARER"),
    ({}, "not GSSAPI"),  # the Java client's default mechanism
])
def test_username_and_password_need_a_known_mechanism(settings, named):
    with pytest.raises(ValueError, match=f"PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, {named};"):
        java_client_settings({"sasl.username": "u", "sasl.password": "p", **settings})


def test_the_password_is_in_no_error_message():
    with pytest.raises(ValueError) as error:
        java_client_settings({"sasl.mechanisms": "GSSAPI", "sasl.username": "u",
                              "sasl.password": "hunter2"})
    assert "hunter2" not in str(error.value)


def test_command_line_settings_follow_the_environments(monkeypatch):
    monkeypatch.setenv(KAFKA_SETTINGS_ENV, '{"security.protocol": "SSL", "retries": 3}')
    settings = kafka_client_settings(job_args([("security.protocol", "SASL_SSL")]))
    assert settings == {"security.protocol": "SASL_SSL", "retries": "3"}


@pytest.mark.parametrize("text, message", [
    ('{"sasl.password": "hunter2"', r"^\$SFCRIME_KAFKA_CLIENT_SETTINGS is not JSON: "),
    ('["security.protocol"]', r"^\$SFCRIME_KAFKA_CLIENT_SETTINGS must be a JSON object$"),
])
def test_bad_environment_settings(monkeypatch, text, message):
    monkeypatch.setenv(KAFKA_SETTINGS_ENV, text)
    with pytest.raises(ValueError, match=message) as error:
        kafka_client_settings(job_args())
    assert "hunter2" not in str(error.value)


def test_options_of_the_kafka_source_use_the_java_clients_names():
    args = job_args([("sasl.mechanisms", "PLAIN"), ("sasl.username", "u"),
                     ("sasl.password", "p")])
    assert kafka_options(args) == {
        "kafka.bootstrap.servers": "broker:9092",
        "kafka.sasl.mechanism": "PLAIN",
        "kafka.sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule '
                                  'required username="u" password="p";',
    }


def test_options_of_the_sfcrime_connector_keep_librdkafkas_names():
    args = job_args([("sasl.mechanisms", "PLAIN"), ("ssl.ca.location", "/ca.pem")])
    assert kafka_options(args, "sfcrime_connector") == {
        "kafka.bootstrap.servers": "broker:9092",
        "kafka.sasl.mechanisms": "PLAIN",
        "kafka.ssl.ca.location": "/ca.pem",
    }


def test_batch_options_are_only_the_given_ones():
    assert batch_options(job_args()) == {}
    assert batch_options(job_args(min_offsets_per_trigger=500, max_trigger_delay="5m",
                                  min_partitions=4)) == {
        "minOffsetsPerTrigger": 500, "maxTriggerDelay": "5m", "minPartitions": 4}


def test_the_kafka_source_gets_short_offset_lookup_timeouts_the_sink_does_not():
    source = kafka_options(job_args(), reading=True)
    assert source["kafka.default.api.timeout.ms"] == "10000"
    assert source["kafka.request.timeout.ms"] == "5000"
    assert "kafka.default.api.timeout.ms" not in kafka_options(job_args())
    assert "kafka.default.api.timeout.ms" not in kafka_options(job_args(), "sfcrime_connector",
                                                               reading=True)


def test_a_users_timeout_replaces_both_defaults():
    # The Java client refuses request.timeout.ms > default.api.timeout.ms: a user's
    # request.timeout.ms=30000 beside our 10 s default would make the source fail.
    options = kafka_options(job_args([("request.timeout.ms", "30000")]), reading=True)
    assert options["kafka.request.timeout.ms"] == "30000"
    assert "kafka.default.api.timeout.ms" not in options
