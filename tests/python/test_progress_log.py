# sfcrime: unit tests of python/progress_log.py with stand-ins for the query and the JVM's
# progress objects (the real ones come through py4j).
import json
from types import SimpleNamespace

from py4j.protocol import Py4JJavaError

from progress_log import ProgressLog, error_message


class JvmProgress:
    """A StreamingQueryProgress as py4j hands it over: methods, not properties."""

    def __init__(self, batch_id, timestamp):
        self._batch_id, self._timestamp = batch_id, timestamp

    def batchId(self):
        return self._batch_id

    def timestamp(self):
        return self._timestamp

    def json(self):
        return json.dumps({"batchId": self._batch_id, "timestamp": self._timestamp})


class Query:
    """A StreamingQuery whose recentProgress the test sets."""

    id, runId, name = "query-id", "run-id", "sfcrime_counts"

    def __init__(self):
        self.recent = []
        self.error = None
        self._jsq = SimpleNamespace(recentProgress=lambda: self.recent)

    def exception(self):
        return self.error


def progress(batch_id, second):
    return JvmProgress(batch_id, f"2026-12-01T00:00:{second:02}.000Z")


def logged(path):
    return [(p["batchId"], p["timestamp"][-7:-5])
            for p in map(json.loads, path.read_text().splitlines())]


def test_each_progress_is_written_once_in_order(tmp_path):
    path = tmp_path / "runs/progress.jsonl"
    log, query = ProgressLog(path), Query()
    log.poll(query)  # nothing yet
    query.recent = [progress(0, 1), progress(1, 2)]
    log.poll(query)
    log.poll(query)
    # Spark keeps the last few progresses only: the older ones leave the window
    query.recent = [progress(1, 2), progress(2, 3), progress(2, 13), progress(3, 14)]
    log.poll(query)
    assert logged(path) == [(0, "01"), (1, "02"), (2, "03"), (2, "13"), (3, "14")]


def test_an_idle_progress_repeats_the_batch_id_and_is_still_written(tmp_path):
    path = tmp_path / "progress.jsonl"
    log, query = ProgressLog(path), Query()
    query.recent = [progress(4, 1)]
    log.poll(query)
    query.recent = [progress(4, 1), progress(4, 11)]  # no new data: same batchId
    log.poll(query)
    assert logged(path) == [(4, "01"), (4, "11")]


def test_a_restart_appends(tmp_path):
    path = tmp_path / "progress.jsonl"
    path.write_text('{"batchId": 9, "timestamp": "2026-11-30T00:00:09.000Z"}\n')
    log, query = ProgressLog(path), Query()
    query.recent = [progress(0, 1)]
    log.poll(query)
    assert logged(path) == [(9, "09"), (0, "01")]


def test_start_and_end_are_events_beside_the_progress(tmp_path):
    path = tmp_path / "progress.jsonl"
    log, query = ProgressLog(path), Query()
    log.started(query)
    query.error = SimpleNamespace(_desc="[STREAM_FAILED] Query terminated\nat line 2",
                                  _cause=None)
    log.terminated(query)
    started, terminated = map(json.loads, (tmp_path / "progress.jsonl.events").read_text()
                              .splitlines())
    assert started.pop("timestamp").endswith("Z")
    assert started == {"event": "started", "id": "query-id", "runId": "run-id",
                       "name": "sfcrime_counts"}
    assert terminated.pop("timestamp").endswith("Z")
    assert terminated == {"event": "terminated", "id": "query-id", "runId": "run-id",
                          "exception": "[STREAM_FAILED] Query terminated"}


def test_a_query_that_ended_well_has_a_null_exception(tmp_path):
    log = ProgressLog(tmp_path / "progress.jsonl")
    log.terminated(Query())
    event = json.loads((tmp_path / "progress.jsonl.events").read_text())
    assert event["exception"] is None


def captured(desc, cause=None):
    return SimpleNamespace(_desc=desc, _cause=cause)


def test_an_error_message_is_one_line_per_cause():
    error = captured("[KAFKA] no topic\n\tat org.apache.spark...",
                     captured("UnknownTopicOrPartitionException: sf.police.calls\n\tat ..."))
    assert error_message(error) == ("[KAFKA] no topic | caused by: "
                                    "UnknownTopicOrPartitionException: sf.police.calls")


def test_an_error_message_skips_causes_it_already_says_and_stops_at_five():
    repeated = captured("outer: inner failed", captured("inner failed"))
    assert error_message(repeated) == "outer: inner failed"
    deep = None
    for level in range(8):
        deep = captured(f"level {level}", deep)
    assert error_message(deep) == " | caused by: ".join(f"level {n}" for n in range(7, 2, -1))


def test_an_error_message_of_a_plain_python_error_is_its_text():
    assert error_message(ValueError("--output-dir must be a local path")) == \
        "--output-dir must be a local path"


def test_an_error_message_of_a_py4j_error_is_the_java_exceptions_first_line():
    java = SimpleNamespace(_target_id="o1", toString=lambda: "java.io.IOException: gone\n\tat x")
    assert error_message(Py4JJavaError("An error occurred", java)) == \
        "java.io.IOException: gone"
