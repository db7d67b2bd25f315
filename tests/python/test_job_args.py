# sfcrime: unit tests of python/job_args.py, data_stream.py's command line.
import pytest

from job_args import parse_args

JOB_DOC = """
 Counts calls.

 The rest of the job's docstring, not in --help.
"""


def parse(*argv):
    return parse_args(JOB_DOC, list(argv))


@pytest.mark.parametrize("argv, message", [
    (["--real-time", "--source", "sfcrime_connector"],
     "--real-time reads with --source kafka only (Spark 4.2 runs no Python data source in "
     "real-time mode)"),
    (["--max-trigger-delay", "5m"], "--max-trigger-delay needs --min-offsets-per-trigger"),
    (["--output-topic", "calls.out"], "--output-topic is for --real-time"),
    (["--real-time", "--max-offsets-per-trigger", "100"],
     "--real-time has no batches to limit: drop --max/--min-offsets-per-trigger"),
    (["--real-time", "--read-in-one-task"],
     "--read-in-one-task is for the counts' micro-batches, not --real-time"),
    (["--available-now", "--real-time"],
     "argument --real-time: not allowed with argument --available-now"),
    (["--kafka-option", "security.protocol"],
     "argument --kafka-option: expected key=value, got 'security.protocol'"),
    (["--kafka-option", "=SSL"], "argument --kafka-option: expected key=value, got '=SSL'"),
    (["--commit-group", "sfcrime-counts"],
     "--commit-group needs --source sfcrime_connector: spark-sql-kafka never commits a "
     "query's offsets to Kafka (SPARK-27549)"),
    (["--fail-on-data-loss", "maybe"],
     "argument --fail-on-data-loss: expected true or false, got 'maybe'"),
    (["--min-partitions", "0"], "--min-partitions must be at least 1"),
    (["--min-partitions", "6", "--read-in-one-task"],
     "--min-partitions splits the read into more tasks, --read-in-one-task joins it into "
     "one: give one of them"),
    (["--real-time", "--min-partitions", "6"],
     "--min-partitions is for micro-batches: real-time mode runs one long-running task per "
     "topic partition"),
])
def test_bad_arguments_exit_2_with_one_message(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("usage: data_stream.py [-h]")
    assert stderr.endswith(f"\ndata_stream.py: error: {message}\n")


def test_defaults_run_the_counts_on_a_processing_time_trigger():
    args = parse()
    assert (args.source, args.topic, args.bootstrap_servers) == ("kafka", "sf.police.calls",
                                                                 "127.0.0.1:9092")
    assert (args.trigger_interval, args.available_now, args.real_time) == ("10 seconds", False,
                                                                           None)
    assert args.fail_on_data_loss == "true" and args.kafka_option == []
    assert args.output_topic is None


def test_the_connectors_old_source_name_still_reads_through_it():
    assert parse("--source", "sfcrime").source == "sfcrime_connector"
    assert parse("--source", "sfcrime_connector").source == "sfcrime_connector"


def test_an_unknown_source_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        parse("--source", "sfcrime_kafka")
    stderr = capsys.readouterr().err
    assert "argument --source: invalid choice: 'sfcrime_kafka'" in stderr
    assert "sfcrime_connector" in stderr.splitlines()[-1]


def test_kafka_options_keep_their_order_and_everything_after_the_first_equals_sign():
    args = parse("--kafka-option", "sasl.password=a=b", "--kafka-option", "retries=3")
    assert args.kafka_option == [("sasl.password", "a=b"), ("retries", "3")]


def test_fail_on_data_loss_is_spark_lower_case_text():
    assert parse("--fail-on-data-loss", "FALSE").fail_on_data_loss == "false"


def test_real_time_defaults_its_checkpoint_interval_and_output_topic():
    args = parse("--real-time", "--topic", "calls")
    assert (args.real_time, args.output_topic) == ("5 minutes", "calls.enriched")
    args = parse("--real-time", "1 minute", "--output-topic", "out")
    assert (args.real_time, args.output_topic) == ("1 minute", "out")


def test_help_opens_with_the_jobs_first_paragraph_and_ends_with_the_exit_statuses(capsys):
    with pytest.raises(SystemExit) as exited:
        parse("--help")
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith("usage: data_stream.py [-h]")
    assert "\n\nCounts calls.\n\n" in help_text
    assert "not in --help" not in help_text
    assert "exit status: 0 done (also after a graceful stop), 1 failure" in help_text
    assert "observedMetrics['kafka_timestamps']" in help_text
    assert "$SFCRIME_KAFKA_CLIENT_SETTINGS" in help_text
