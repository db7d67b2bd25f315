# sfcrime: unit tests of python/sfcrime_connector.py that need no Spark session (its reads
# are checked against a real broker and Spark by tests/integration/connector.rs).
import importlib
import re
import sys

import pytest


def test_the_data_source_is_named_as_its_module_and_the_jobs_source():
    import sfcrime_connector
    assert sfcrime_connector.NAME == sfcrime_connector.__name__ == "sfcrime_connector"
    assert sfcrime_connector.SfcrimeConnector.name() == "sfcrime_connector"


def test_a_venv_without_the_rust_half_is_told_to_build_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "_sfcrime_connector", None)  # as if never installed
    monkeypatch.delitem(sys.modules, "sfcrime_connector", raising=False)
    with pytest.raises(ModuleNotFoundError, match="build it into this venv with scripts/setup.sh"):
        importlib.import_module("sfcrime_connector")


@pytest.mark.parametrize("options, streaming, message", [
    ({"kafka.group.id": "sfcrime-counts"}, True,
     "kafka.group.id is not used (readers join no group); set commitGroup"),
    ({"commitGroup": "sfcrime-counts"}, False, "commitGroup is for streaming reads only"),
])
def test_a_group_is_only_taken_where_it_is_committed(options, streaming, message):
    import sfcrime_connector
    options = {"kafka.bootstrap.servers": "127.0.0.1:9092", "subscribe": "t", **options}
    with pytest.raises(ValueError, match=re.escape(message)):
        sfcrime_connector.Settings(options, streaming=streaming)


@pytest.mark.parametrize("extra, sizes", [
    # One task per Kafka partition, as spark-sql-kafka without minPartitions.
    ({}, [60, 60, 60]),
    # Each partition split by its share of minPartitions, as spark-sql-kafka's
    # KafkaOffsetRangeCalculator: round(60 x 6 / 180) = 2 pieces of each.
    ({"minPartitions": "6"}, [30, 30, 30, 30, 30, 30]),
    # round(4 x 1/3) = 1: Spark's rounding keeps 3 tasks for 4 here, too.
    ({"minPartitions": "4"}, [60, 60, 60]),
    # maxRecordsPerPartition still bounds every piece: equal pieces of at most 25.
    ({"maxRecordsPerPartition": "25"}, [20, 20, 20] * 3),
])
def test_a_batch_is_split_into_equal_ranges_per_partition(extra, sizes):
    import sfcrime_connector
    options = {"kafka.bootstrap.servers": "127.0.0.1:9092", "subscribe": "t", **extra}
    settings = sfcrime_connector.Settings(options, streaming=True)
    start = {("t", p): 100 for p in range(3)}
    end = {("t", p): 160 for p in range(3)}
    ranges = [part.value for part in settings.ranges(start, end)]
    assert sorted(hi - lo for _, _, lo, hi in ranges) == sorted(sizes)
    # Every offset exactly once.
    for p in range(3):
        pieces = sorted((lo, hi) for _, part, lo, hi in ranges if part == p)
        assert pieces[0][0] == 100 and pieces[-1][1] == 160
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))


@pytest.mark.parametrize("options, names", [
    ({"mode": "calls", "columns": "disposition, call_date_time, crime_id"},
     ["crime_id", "call_date_time", "disposition"]),  # the schema's order, not the option's
    ({"includeHeaders": "true", "columns": "headers,value"}, ["value", "headers"]),
    ({"columns": "offset"}, ["offset"]),
])
def test_columns_keeps_only_the_named_columns_of_the_modes_schema(options, names):
    import sfcrime_connector
    options = {"kafka.bootstrap.servers": "127.0.0.1:9092", "subscribe": "t", **options}
    schema, columns = sfcrime_connector.read_schema(options)
    assert schema.names == columns == names
    assert sfcrime_connector.SfcrimeConnector(options).schema() == schema
    assert sfcrime_connector.Settings(options, streaming=True).columns == names


@pytest.mark.parametrize("options, unknown", [
    ({"mode": "calls", "columns": "disposition,value"}, "['value']"),  # raw's, not calls'
    ({"columns": "headers"}, "['headers']"),  # only with includeHeaders
    ({"columns": " , "}, "none given"),
])
def test_columns_that_the_schema_lacks_are_refused_by_name(options, unknown):
    import sfcrime_connector
    options = {"kafka.bootstrap.servers": "127.0.0.1:9092", "subscribe": "t", **options}
    with pytest.raises(ValueError, match=re.escape(f"unknown: {unknown}")):
        sfcrime_connector.Settings(options, streaming=False)


def test_a_read_sends_only_the_kept_columns(monkeypatch):
    import pyarrow as pa
    import sfcrime_connector
    full = pa.record_batch([pa.array([1]), pa.array(["x"]), pa.array([2])],
                           names=["a", "b", "c"])
    monkeypatch.setattr(sfcrime_connector._sfcrime_connector, "read_range",
                        lambda *args, **kwargs: full)
    settings = sfcrime_connector.Settings(
        {"kafka.bootstrap.servers": "127.0.0.1:9092", "subscribe": "t"}, streaming=False)
    settings.columns = ["c", "a"]
    [batch] = settings.read(sfcrime_connector.InputPartition(("t", 0, 0, 1)))
    assert batch.schema.names == ["c", "a"]
