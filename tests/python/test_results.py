# sfcrime: unit tests of python/results.py on small hand-made update batches (Arrow
# tables as the sink gets them from Spark), no Spark JVM.
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from results import (UPDATE_SCHEMA, batch_writer, check_fresh_start, finalize, local_path,
                     top_rows, write_update)


def hour(h):
    return datetime(2026, 1, 1, h, tzinfo=timezone.utc)


def counts(rows, batch_id=0):
    """A batch's updated rows: (window start, crime type, disposition, description, count)."""
    columns = list(zip(*rows)) if rows else [()] * 5
    starts = list(columns[0])
    ends = [start and start + timedelta(hours=1) for start in starts]
    return pa.table([starts, ends, *columns[1:], [batch_id] * len(rows)], schema=UPDATE_SCHEMA)


THEFT_CIT = (hour(10), "Theft", "CIT", "Citation")
ASSAULT_ARR = (hour(10), "Assault", "ARR", "Arrest")
NO_WINDOW = (None, None, "ND", None)  # no readable call time, no crime type, no radio code
THEFT_ARR = (hour(11), "Theft", "ARR", "Arrest")


def commit(updates, batch_id, rows):
    write_update(updates / f"batch_id={batch_id}", counts(rows, batch_id))


def lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_finalize_sums_the_latest_update_of_every_key(tmp_path, capsys):
    updates = tmp_path / "updates"
    commit(updates, 0, [(*THEFT_CIT, 2), (*ASSAULT_ARR, 1), (*NO_WINDOW, 1)])
    commit(updates, 9, [(*THEFT_CIT, 3), (*THEFT_ARR, 4)])
    # batch_id=10 sorts before batch_id=9 as a name: the batch's number must decide
    commit(updates, 10, [(*THEFT_CIT, 5), (*NO_WINDOW, 2)])
    # a write that never committed (no _SUCCESS) and one still being written
    commit(updates, 11, [(*THEFT_CIT, 100)])
    (updates / "batch_id=11/_SUCCESS").unlink()
    pq.write_table(counts([(*THEFT_CIT, 200)], 12), tmp_path / "part.parquet")
    (updates / ".batch_id=12.writing").mkdir()
    (tmp_path / "part.parquet").rename(updates / ".batch_id=12.writing/part-00000.parquet")

    finalize(str(tmp_path))

    final = tmp_path / "final"
    assert sorted(p.name for p in final.iterdir()) == [
        "crime_type_totals.jsonl", "crime_type_window.jsonl", "dispositions.jsonl"]
    assert lines(final / "crime_type_window.jsonl") == [
        {"window_start": None, "original_crime_type_name": None, "count": 2},
        {"window_start": "2026-01-01T10:00:00", "original_crime_type_name": "Assault", "count": 1},
        {"window_start": "2026-01-01T10:00:00", "original_crime_type_name": "Theft", "count": 5},
        {"window_start": "2026-01-01T11:00:00", "original_crime_type_name": "Theft", "count": 4},
    ]
    assert lines(final / "crime_type_totals.jsonl") == [
        {"original_crime_type_name": "Theft", "count": 9},
        {"original_crime_type_name": None, "count": 2},
        {"original_crime_type_name": "Assault", "count": 1},
    ]
    assert lines(final / "dispositions.jsonl") == [
        {"disposition": "ARR", "description": "Arrest", "count": 5},
        {"disposition": "CIT", "description": "Citation", "count": 5},
        {"disposition": "ND", "description": None, "count": 2},
    ]
    assert capsys.readouterr().out == (
        f"\nFinal results in {final}: 12 calls, 3 crime types, 3 dispositions, "
        "4 (window, crime type) rows\n"
        "\nTop 10 crime types:\n"
        "         9  Theft\n"
        "         2  None\n"
        "         1  Assault\n"
        "\nDispositions:\n"
        "         5  ARR            Arrest\n"
        "         5  CIT            Citation\n"
        "         2  ND             -\n")


def test_finalize_without_updates_writes_empty_results(tmp_path, capsys):
    finalize(str(tmp_path))
    for name in ["crime_type_window", "crime_type_totals", "dispositions"]:
        assert (tmp_path / "final" / f"{name}.jsonl").read_text() == ""
    assert "0 calls, 0 crime types, 0 dispositions, 0 (window, crime type) rows" in \
        capsys.readouterr().out


def test_finalize_keeps_non_ascii_text(tmp_path, capsys):
    commit(tmp_path / "updates", 0, [(hour(1), "Café fire", "CIT", "Citation", 1)])
    finalize(str(tmp_path))
    assert '"Café fire"' in (tmp_path / "final/crime_type_totals.jsonl").read_text("utf-8")


def test_write_update_commits_the_batch_whole(tmp_path):
    batch_dir = tmp_path / "updates/batch_id=3"
    write_update(batch_dir, counts([(*THEFT_CIT, 1)], 3))
    assert sorted(p.name for p in batch_dir.iterdir()) == ["_SUCCESS", "part-00000.parquet"]
    assert [p.name for p in batch_dir.parent.iterdir()] == ["batch_id=3"]  # nothing beside


def test_a_replayed_batch_replaces_its_own_rows(tmp_path):
    batch_dir = tmp_path / "updates/batch_id=3"
    write_update(batch_dir, counts([(*THEFT_CIT, 1), (*THEFT_ARR, 1)], 3))
    write_update(batch_dir, counts([(*THEFT_CIT, 2)], 3))
    assert pq.read_table(batch_dir).column("count").to_pylist() == [2]


def test_a_failed_write_leaves_the_committed_batch_as_it_was(tmp_path, monkeypatch):
    batch_dir = tmp_path / "updates/batch_id=3"
    write_update(batch_dir, counts([(*THEFT_CIT, 1)], 3))

    def half_written(table, where):
        where.write_bytes(b"PAR1")  # the start of a Parquet file, then the disk is full
        raise OSError("No space left on device")
    monkeypatch.setattr(pq, "write_table", half_written)
    with pytest.raises(OSError):
        write_update(batch_dir, counts([(*THEFT_CIT, 7)], 3))
    monkeypatch.undo()

    assert pq.read_table(batch_dir).column("count").to_pylist() == [1]
    staging = tmp_path / "updates/.batch_id=3.writing"
    assert not (staging / "_SUCCESS").exists()
    write_update(batch_dir, counts([(*THEFT_CIT, 7)], 3))  # the replay after a restart
    assert not staging.exists()
    assert pq.read_table(batch_dir).column("count").to_pylist() == [7]


def test_top_rows_is_a_fixed_width_table_of_the_largest_counts():
    table = counts([(*THEFT_CIT, 2),
                    (hour(10), "Suspicious person in vehicle near school", "ADV", None, 7),
                    (*NO_WINDOW, 2),
                    (*ASSAULT_ARR, 1)], batch_id=4)
    assert top_rows(table, 3) == "\n".join([
        "+-------------------+-------------------+--------------------------------+-----------+-----------+-----+",
        "|       window_start|         window_end|        original_crime_type_name|disposition|description|count|",
        "+-------------------+-------------------+--------------------------------+-----------+-----------+-----+",
        "|2026-01-01 10:00:00|2026-01-01 11:00:00|Suspicious person in vehicle nea|        ADV|       NULL|    7|",
        "|2026-01-01 10:00:00|2026-01-01 11:00:00|                           Theft|        CIT|   Citation|    2|",
        "|               NULL|               NULL|                            NULL|         ND|       NULL|    2|",
        "+-------------------+-------------------+--------------------------------+-----------+-----------+-----+",
    ])


def test_the_sink_writes_and_shows_each_batch(tmp_path, capsys):
    write_batch = batch_writer(str(tmp_path / "updates"), console_rows=1)
    spark_batch = SimpleNamespace(toArrow=lambda: counts([(*THEFT_CIT, 2), (*THEFT_ARR, 5)])
                                  .drop_columns(["batch_id"]))
    write_batch(spark_batch, 6)
    written = pq.read_table(tmp_path / "updates/batch_id=6")
    assert written.column("batch_id").to_pylist() == [6, 6]
    assert capsys.readouterr().out == "\n".join([
        "-------------------------------------------",
        "Batch: 6  (2 updated rows)",
        "-------------------------------------------",
        top_rows(written, 1), ""])


def test_the_sink_writes_no_directory_for_an_empty_batch(tmp_path, capsys):
    write_batch = batch_writer(str(tmp_path / "updates"), console_rows=10)
    write_batch(SimpleNamespace(toArrow=lambda: counts([]).drop_columns(["batch_id"])), 0)
    assert not (tmp_path / "updates").exists()
    assert capsys.readouterr().out.splitlines()[1] == "Batch: 0  (0 updated rows)"


def test_an_old_updates_dir_with_a_new_checkpoint_is_refused(tmp_path):
    updates = tmp_path / "output/updates"
    commit(updates, 0, [(*THEFT_CIT, 1)])
    (tmp_path / "checkpoint/offsets").mkdir(parents=True)
    with pytest.raises(SystemExit) as exited:
        check_fresh_start(str(tmp_path / "checkpoint"), str(updates))
    assert exited.value.code == (
        f"error: {updates} holds batches of an earlier run but checkpoint "
        f"{tmp_path / 'checkpoint'} is new; remove {updates.parent} or use another --output-dir")


def test_a_restart_or_a_first_run_is_a_fresh_start(tmp_path):
    updates = tmp_path / "output/updates"
    check_fresh_start(str(tmp_path / "checkpoint"), str(updates))  # nothing yet
    commit(updates, 0, [(*THEFT_CIT, 1)])
    (tmp_path / "checkpoint/offsets").mkdir(parents=True)
    (tmp_path / "checkpoint/offsets/0").write_text("v1\n")
    check_fresh_start(f"file://{tmp_path}/checkpoint", str(updates))  # the same run, resumed


@pytest.mark.parametrize("given, path", [
    ("runs/out", "runs/out"),
    ("/tmp/out", "/tmp/out"),
    ("file:///tmp/out", "/tmp/out"),
    ("C:\\runs\\out", "C:\\runs\\out"),
    ("hdfs://namenode/out", None),
    ("s3a://bucket/out", None),
])
def test_local_path(given, path):
    assert local_path(given) == (path and Path(path))
