#
# sfcrime: the job's record of its streaming query: every StreamingQueryProgress as a JSON
# line, the query's start and end as events, and a failure's one-line message.
#
import json
from datetime import datetime, timezone
from pathlib import Path

from py4j.protocol import Py4JJavaError
from pyspark.sql.utils import is_remote


class ProgressLog:
    """Appends each StreamingQueryProgress of the query, idle ones included, as one raw
    JSON line (the file is never truncated; a restart appends lines with a new runId);
    the query's start and end go to <file>.events. The driver polls the query's
    recentProgress between waits: a Python StreamingQueryListener gets every event
    through py4j, whose class look-ups made the driver's JVM spend 0.1-0.25 s per
    micro-batch on it (docs/BENCHMARKS.md, "The micro-batch's fixed cost")."""

    POLL_SECONDS = 0.25

    def __init__(self, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._progress = open(path, "a", encoding="utf-8")
        self._events = open(f"{path}.events", "a", encoding="utf-8")
        self._last = None  # (batchId, timestamp) of the last progress written

    @staticmethod
    def _append(f, line):
        f.write(line + "\n")
        f.flush()

    def _event(self, kind, query, **extra):
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        self._append(self._events, json.dumps({
            "event": kind, "id": str(query.id), "runId": str(query.runId),
            "timestamp": now.replace("+00:00", "Z"), **extra}))

    def started(self, query):
        self._event("started", query, name=query.name)

    def poll(self, query):
        """Writes the progress the query made since the last poll."""
        if is_remote():
            # Each call is a round trip to the server: the whole recent list (up to 100
            # progress reports) only when the last one is new.
            last = query.lastProgress
            if last is None or (last.batchId, last.timestamp) == self._last:
                return
            recent = [((p.batchId, p.timestamp), p.json) for p in query.recentProgress]
        else:
            recent = query._jsq.recentProgress()  # the JVM's objects: .json() is theirs
            recent = [((p.batchId(), p.timestamp()), p.json()) for p in recent]
        new = []  # (key, JSON), newest first
        for key, json_text in reversed(recent):
            if key == self._last:
                break
            new.append((key, json_text))
        for _, json_text in reversed(new):
            self._append(self._progress, json_text)
        if new:
            self._last = new[0][0]

    def terminated(self, query):
        error = query.exception()
        self._event("terminated", query, exception=error and error_message(error))


def error_message(error):
    """One line: the first line of the error's message and of each of its causes'."""
    lines = []
    while error is not None and len(lines) < 5:
        if isinstance(error, Py4JJavaError):
            text, error = error.java_exception.toString(), None
        else:  # a CapturedException's _desc lacks the JVM stack trace that str() appends
            text, error = getattr(error, "_desc", None) or str(error), getattr(error, "_cause", None)
        line = (text.strip().splitlines() or [""])[0]
        if line and not any(line in seen for seen in lines):
            lines.append(line)
    return " | caused by: ".join(lines)
