# sfcrime: unit tests of python/graceful_stop.py with stand-ins for Spark's session builder
# and streaming query, and a fake clock.
import signal
import threading

import pytest

import graceful_stop
from graceful_stop import STOP_GRACE_SECONDS, run_until_done, start_spark, wait_for_query


@pytest.fixture
def restored_signals():
    """start_spark changes this process's handlers and mask: give pytest its own back."""
    handlers = {sig: signal.getsignal(sig) for sig in graceful_stop.STOP_SIGNALS}
    yield
    signal.pthread_sigmask(signal.SIG_UNBLOCK, graceful_stop.STOP_SIGNALS)
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


class Builder:
    """A SparkSession builder whose getOrCreate() is hit by Ctrl-C and SIGTERM."""

    def getOrCreate(self):
        # what the JVM launched here inherits: TERM ignored, both blocked in this thread
        self.term_while_starting = signal.getsignal(signal.SIGTERM)
        self.blocked_while_starting = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        # sent to this thread: a process-directed one may go to a thread that pyarrow
        # started before the mask, where an ignored TERM is dropped
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        return "spark"


def test_signals_while_spark_starts_wait_and_become_stop_requests(restored_signals):
    builder = Builder()
    spark, stop_signals = start_spark(builder)
    assert spark == "spark"
    assert builder.term_while_starting == signal.SIG_IGN
    assert graceful_stop.STOP_SIGNALS <= builder.blocked_while_starting
    assert sorted(stop_signals) == [signal.SIGINT, signal.SIGTERM]
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # and later ones too
    assert stop_signals[-1] == signal.SIGTERM and len(stop_signals) == 3


class Clock:
    """time.monotonic and time.sleep for the module, without waiting."""

    def __init__(self, on_sleep=lambda: None):
        self.now, self.on_sleep = 0.0, on_sleep

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.on_sleep()


class Query:
    """A StreamingQuery that ends by itself after `waits` waits, or when stopped."""

    def __init__(self, waits=1_000_000, error=None):
        self.waits, self.error = waits, error
        self.isActive, self.stopped = True, False
        self.lastProgress, self.status = {"batchId": 4}, {"isTriggerActive": True}

    def awaitTermination(self, timeout):
        self.waits -= 1
        self.isActive = self.isActive and self.waits > 0
        return not self.isActive

    def stop(self):
        self.isActive, self.stopped = False, True

    def exception(self):
        return self.error


class Writer:
    def __init__(self, query):
        self.query, self.started = query, False

    def start(self):
        self.started = True
        return self.query


class ProgressLog:
    POLL_SECONDS = 0.25

    def __init__(self):
        self.calls = []

    def started(self, query):
        self.calls.append("started")

    def poll(self, query):
        self.calls.append("poll")

    def terminated(self, query):
        self.calls.append("terminated")


def test_a_stop_waits_for_the_running_batch(monkeypatch, capsys):
    query = Query()

    def batch_ends():
        if graceful_stop.time.now >= 1:
            query.lastProgress = {"batchId": 5}
    clock = Clock(batch_ends)
    monkeypatch.setattr(graceful_stop, "time", clock)
    wait_for_query(query, ProgressLog(), [signal.SIGTERM], real_time=False)
    assert query.stopped and clock.now == pytest.approx(1.0)
    assert capsys.readouterr().err == ("SIGTERM: stopping the query after the running batch, "
                                       "then finalizing\n")


def test_an_idle_query_stops_at_once(monkeypatch):
    query, clock = Query(), Clock()
    query.status = {"isTriggerActive": False}
    monkeypatch.setattr(graceful_stop, "time", clock)
    wait_for_query(query, ProgressLog(), [signal.SIGINT], real_time=False)
    assert query.stopped and clock.now == 0


def test_a_batch_that_does_not_end_is_interrupted_after_the_grace_period(monkeypatch):
    query, clock = Query(), Clock()
    monkeypatch.setattr(graceful_stop, "time", clock)
    wait_for_query(query, ProgressLog(), [signal.SIGINT], real_time=False)
    assert query.stopped and clock.now == pytest.approx(STOP_GRACE_SECONDS)


def test_a_real_time_query_stops_without_waiting(monkeypatch, capsys):
    query, clock = Query(), Clock()
    monkeypatch.setattr(graceful_stop, "time", clock)
    wait_for_query(query, ProgressLog(), [signal.SIGINT], real_time=True)
    assert query.stopped and clock.now == 0
    assert capsys.readouterr().err == ("SIGINT: stopping the real-time query (a restart "
                                       "replays its unfinished checkpoint interval)\n")


def test_a_query_that_ends_by_itself_is_logged_to_its_end():
    query, log = Query(waits=3), ProgressLog()
    run_until_done(Writer(query), log, [])
    assert not query.stopped
    assert log.calls == ["started", "poll", "poll", "poll", "terminated"]


def test_a_failed_query_raises_its_error_after_logging_it():
    failure = RuntimeError("[STREAM_FAILED] no topic")
    log = ProgressLog()
    with pytest.raises(RuntimeError) as raised:
        run_until_done(Writer(Query(waits=1, error=failure)), log, [])
    assert raised.value is failure
    assert log.calls == ["started", "poll", "terminated"]


def test_a_stop_before_the_start_starts_no_query(capsys):
    writer, log = Writer(Query()), ProgressLog()
    run_until_done(writer, log, [signal.SIGTERM])
    assert not writer.started and log.calls == []
    assert capsys.readouterr().err == "stop requested before the query started\n"
