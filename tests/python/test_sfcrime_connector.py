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
