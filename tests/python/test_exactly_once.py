"""Exactly once per file: concurrent loaders, loaders killed with SIGKILL mid-file, reruns.

The loaders run as real processes (``python -m loaders load PATH``) against the test database.
Nothing here waits on a guessed duration: a test holds a lock or an uncommitted row the loader
must wait for, and watches the server (``pg_locks``, ``pg_stat_activity``,
``pg_stat_progress_copy``) until the loader is exactly where the test wants it:

* two loaders "started at the same moment" both wait on the lock of the first export the test
  holds, and race from there once it is released;
* a loader is "killed in the middle of a file" while its COPY waits on a row the test inserted,
  uncommitted, with the key of a line in the middle of that file: the loader's transaction then
  holds the lines before it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from export_files import read_manifest_files, write_export
from psycopg import sql

from loaders import bronze, feeds
from loaders import treatments as treatments_loader
from loaders.db import connect, connect_as_loader

pytestmark = pytest.mark.usefixtures("empty_bronze")

REPO = Path(__file__).resolve().parents[2]
EXPORT_A = "01700000000000-1a2b3c4d"
EXPORT_B = "01700000900000-5e6f7a8b"
HEADER = (
    "hospital_id,hospital_name,city,state,department_id,department_name,bed_capacity,"
    "staff_count,updated_at"
)
TIMEOUT = 30.0  # seconds any awaited state may take before the test fails

T = TypeVar("T")


# --- helpers ----------------------------------------------------------------------------------


def query(text: str | sql.Composed, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connect() as conn:
        return conn.execute(text, params).fetchall()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    """Poll ``probe`` until it answers something truthy; fail naming ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.02)


@pytest.fixture
def loaders() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start ``python -m loaders load PATH`` processes; any still running at the end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(path: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "loaders", "load", str(path)],
            cwd=REPO,
            env=os.environ.copy(),  # PGHOST and PGDATABASE name the test database
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def finish(process: subprocess.Popen[str]) -> str:
    """Wait for a loader process; its output with rich's wrapping undone. It must exit 0."""
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, f"loader exited {process.returncode}:\n{out}\n{err}"
    assert "Traceback" not in err
    return " ".join(out.split())


def waiters(key: str) -> int:
    """Sessions waiting for the advisory lock a loader takes on ``key``."""
    return query(
        "select count(*) from pg_locks where locktype = 'advisory' and not granted"
        " and database = (select oid from pg_database where datname = current_database())"
        " and objsubid = 1 and (classid::bigint << 32 | objid::bigint)"
        " = hashtextextended(%s, 0)",
        (key,),
    )[0][0]


@contextlib.contextmanager
def lock_held(key: str) -> Iterator[None]:
    """Hold a loader's transaction-level advisory lock (the loaders' key text) in the block."""
    with connect() as conn:
        conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
        yield
        conn.rollback()


@contextlib.contextmanager
def row_in_the_way(table: str, values: dict[str, Any]) -> Iterator[None]:
    """An uncommitted row in a bronze table: a loader copying a row with its key waits there."""
    with connect() as conn:
        conn.execute(
            sql.SQL("insert into {} ({}) values ({})").format(
                sql.Identifier("bronze", table),
                sql.SQL(", ").join(map(sql.Identifier, values)),
                sql.SQL(", ").join(sql.Placeholder() * len(values)),
            ),
            tuple(values.values()),
        )
        yield
        conn.rollback()


def copy_waiting_on_a_row() -> tuple[int, int] | None:
    """(backend pid, rows processed) of a COPY in this database waiting on a row lock."""
    rows = query(
        "select activity.pid, progress.tuples_processed from pg_stat_activity activity"
        " join pg_stat_progress_copy progress on progress.pid = activity.pid"
        " where activity.datname = current_database() and activity.wait_event_type = 'Lock'"
    )
    return rows[0] if rows else None


def backend_gone(pid: int) -> bool:
    return not query("select 1 from pg_stat_activity where pid = %s", (pid,))


def kill_mid_copy(
    process: subprocess.Popen[str],
    table: str,
    key: dict[str, Any],
    audit_file: str,
    before_the_kill: Callable[[], None] | None = None,
) -> int:
    """With a row in the way of the loader's COPY: wait until the COPY waits on it, check the
    loader's transaction holds rows of the file and its audit row runs, call
    ``before_the_kill``, SIGKILL the process and wait for its server session to end (with the
    row still in the way). Returns rows processed by the COPY when killed."""
    with row_in_the_way(table, key):
        pid, copied = wait_for("the loader's COPY to wait on the row", copy_waiting_on_a_row)
        assert copied > 0, "killed before any row of the file was copied"
        assert query(
            "select status from bronze.load_audit where data_file = %s", (audit_file,)
        ) == [("running",)]
        if before_the_kill is not None:
            before_the_kill()
        process.kill()
        process.communicate(timeout=TIMEOUT)
        assert process.returncode == -9
        # the session ends though its COPY still waits (client_connection_check_interval)
        wait_for(f"the killed loader's session {pid} to end", lambda: backend_gone(pid), 10)
    return copied


def loaded_once_per_content() -> list[tuple[Any, ...]]:
    """Audit file rows grouped by (source, content): how many are ``loaded``; should be 1."""
    return query(
        "select source, content_md5, count(*) filter (where status = 'loaded')"
        " from bronze.load_audit where data_file is not null group by 1, 2"
    )


def event(number: int) -> dict[str, Any]:
    return {
        "event_id": f"EV{number:07d}",
        "event_type": "ARRIVE",
        "event_ts": "2025-12-01T10:15:00Z",
        "encounter_id": f"EN{number:07d}",
        "patient_id": f"MRN{number:08d}",
        "patient": {"age": 54, "gender": "F"},
        "hospital_id": "H001",
        "department_id": "H001-ED",
    }


def write_adt(root: Path, name: str, first: int, count: int) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    events = (json.dumps(event(number)) + "\n" for number in range(first, first + count))
    path.write_text("".join(events))
    return path


def write_departments(root: Path, name: str, capacities: list[int]) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        f"H001,Mercy General,Springfield,IL,H001-W{n},Ward {n},{capacity},30,2025-11-01T00:00:00Z"
        for n, capacity in enumerate(capacities)
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def treatment(number: int) -> dict[str, Any]:
    return {
        "treatment_id": {"S": f"T{number:07d}"},
        "patient": {"M": {"patient_id": {"S": f"P{number % 97:05d}"}}},
        "provider": {"M": {"provider_id": {"S": "1000000001"}}},
        "outcome_status": {"S": "success"},
        "cost": {"N": f"{number}.25"},
        "treatment_ts": {"S": "2024-01-01T10:00:00-06:00"},
        "metadata_modified_at": {"S": "2024-01-02T00:00:00Z"},
    }


def treatments(first: int, count: int) -> list[dict[str, Any]]:
    return [treatment(number) for number in range(first, first + count)]


def bronze_counts() -> dict[str, int]:
    return {
        table: query(sql.SQL("select count(*) from {}").format(sql.Identifier("bronze", table)))[
            0
        ][0]
        for table in ("dynamo_treatments", "adt_events", "department_extracts")
    }


def rows_per_file(table: str, file_column: str) -> dict[str, int]:
    text = sql.SQL("select {column}, count(*) from {table} group by 1").format(
        column=sql.Identifier(file_column), table=sql.Identifier("bronze", table)
    )
    return dict(query(text))  # type: ignore[arg-type]


def abandoned_rows(load_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return query(
        "select data_file, status, loaded_items, finished_at is not null, error"
        " from bronze.load_audit where load_id = %s order by audit_id",
        (load_id,),
    )


def statuses_by_load() -> dict[uuid.UUID, list[tuple[str, str]]]:
    """Each load's (data_file, status) file rows, loads in the order they started."""
    found: dict[uuid.UUID, list[tuple[str, str]]] = {}
    for load_id, data_file, status in query(
        "select load_id, data_file, status from bronze.load_audit"
        " where data_file is not null order by audit_id"
    ):
        found.setdefault(load_id, []).append((data_file, status))
    return {load_id: sorted(rows) for load_id, rows in found.items()}


def load_id_of(data_file: str, status: str) -> uuid.UUID:
    [(load_id,)] = query(
        "select load_id from bronze.load_audit where data_file = %s and status = %s",
        (data_file, status),
    )
    return load_id


# --- two loaders at once ----------------------------------------------------------------------


def test_two_cli_loads_started_together_land_each_file_once_and_say_so(
    tmp_path: Path, loaders: Callable[[Path], subprocess.Popen[str]]
) -> None:
    write_export(tmp_path / "exports", EXPORT_A, treatments(1, 300), files=3)
    adt = [write_adt(tmp_path, f"adt/adt_{n:02d}.jsonl", n * 1000, 200) for n in range(6)]
    write_departments(tmp_path, "departments/d1.csv", [20, 24, 12])
    write_departments(tmp_path, "departments/d2.csv", [20, 24, 14])
    with connect_as_loader(autocommit=True) as conn:  # as the loaders create them
        bronze.ensure_tables(conn)

    # both start, verify the export and wait on its lock: they race from the same point; then
    # both wait for the first feed file (every file is loaded while both runs are on feeds)
    export_key = f"{treatments_loader.SOURCE}:{EXPORT_A}"
    feed_key = f"feed:{feeds.ADT.name}:{md5_of(adt[0])}"
    with lock_held(feed_key):
        with lock_held(export_key):
            runs = [loaders(tmp_path), loaders(tmp_path)]
            wait_for("both loaders to wait for the export", lambda: waiters(export_key) == 2)
        wait_for("both loaders to wait for the first feed file", lambda: waiters(feed_key) == 2)
    outputs = [finish(run) for run in runs]

    assert bronze_counts() == {"dynamo_treatments": 300, "adt_events": 6 * 200,
                               "department_extracts": 6}
    assert {row[2] for row in loaded_once_per_content()} == {1}
    assert sorted(rows_per_file("adt_events", "source_file").values()) == [200] * len(adt)

    # the export: one run loaded it, the other waited and says who loaded it
    exports = query(
        "select load_id, status from bronze.load_audit where data_file is null"
        " order by status"
    )
    assert [status for _, status in exports] == ["loaded", "skipped"]
    loader_id = exports[0][0]
    [skipper] = [out for out in outputs if f"{EXPORT_A} skipped" in out]
    assert f"loaded by a concurrent run (load {loader_id})" in skipper
    assert "while this run waited for it" in skipper

    # the feed files: each run loaded or skipped every file, each file was loaded by one run
    feed_runs = query(
        "select load_id, array_agg(status order by data_file) from bronze.load_audit"
        " where source <> %s group by load_id",
        (treatments_loader.SOURCE,),
    )
    assert len(feed_runs) == 2
    for (_, statuses), (other_id, other_statuses) in zip(
        feed_runs, reversed(feed_runs), strict=True
    ):
        assert sorted(zip(statuses, other_statuses, strict=True)) == sorted(
            (mine, "skipped" if mine == "loaded" else "loaded") for mine in statuses
        )
        skipped = statuses.count("skipped")
        if skipped:  # its summary says which concurrent run loaded them
            expected = f"{skipped} file(s) skipped: loaded by a concurrent run (load {other_id})"
            assert sum(expected in out for out in outputs) == 1


@pytest.mark.parametrize("loader", ["feeds", "treatments"])
def test_a_library_load_that_waited_for_a_concurrent_run_says_so(
    tmp_path: Path, loader: str
) -> None:
    if loader == "feeds":
        path = write_adt(tmp_path, "adt/a.jsonl", 1, 50)
        key = f"feed:{feeds.ADT.name}:{md5_of(path)}"
        load: Callable[[], list[Any]] = functools.partial(feeds.load, tmp_path)
    else:
        write_export(tmp_path, EXPORT_A, treatments(1, 50), files=2)
        key = f"{treatments_loader.SOURCE}:{EXPORT_A}"
        load = functools.partial(treatments_loader.load, tmp_path)
    with connect_as_loader(autocommit=True) as conn:  # as the loaders create them
        bronze.ensure_tables(conn)
    results: list[Any] = []

    def run() -> None:
        results.extend(load())

    threads = [threading.Thread(target=run) for _ in range(2)]
    with lock_held(key):
        for thread in threads:
            thread.start()
        wait_for("both loads to wait for the lock", lambda: waiters(key) == 2)
    for thread in threads:
        thread.join(TIMEOUT)

    loaded, skipped = sorted(results, key=lambda result: result.status)
    assert (loaded.status, skipped.status) == ("loaded", "skipped")
    assert loaded.waited and skipped.waited  # both waited: on the test, then on each other
    assert skipped.concurrent_load == loaded.load_id
    assert f"concurrent run (load {loaded.load_id})" in skipped.message
    assert "waited" in skipped.message
    assert loaded.concurrent_load is None
    table = "adt_events" if loader == "feeds" else "dynamo_treatments"
    assert bronze_counts()[table] == 50


def test_a_skip_of_content_loaded_before_this_run_is_not_called_concurrent(
    tmp_path: Path,
) -> None:
    write_adt(tmp_path, "a.jsonl", 1, 5)
    write_export(tmp_path, EXPORT_A, treatments(1, 5), files=1)
    [first_file] = feeds.load(tmp_path)
    [first_export] = treatments_loader.load(tmp_path)

    [file_again] = feeds.load(tmp_path)
    [export_again] = treatments_loader.load(tmp_path)

    assert (file_again.status, export_again.status) == ("skipped", "skipped")
    assert file_again.concurrent_load is None and not file_again.waited
    assert export_again.concurrent_load is None and not export_again.waited
    assert f"already loaded by load {first_file.load_id}" in file_again.message
    assert f"already loaded by load {first_export.load_id}" in export_again.message


# --- killed in the middle of a file -----------------------------------------------------------


def test_a_feed_loader_killed_mid_file_leaves_nothing_and_the_next_run_loads_it_whole(
    tmp_path: Path, loaders: Callable[[Path], subprocess.Popen[str]]
) -> None:
    lines = 2000
    files = [write_adt(tmp_path, f"adt/adt_{n}.jsonl", n * 10_000, lines) for n in range(3)]
    csv = write_departments(tmp_path, "departments/d.csv", [10, 20])
    target = files[1]
    with connect_as_loader(autocommit=True) as conn:  # as the loaders create them
        bronze.ensure_tables(conn)

    killed = loaders(tmp_path)
    copied = kill_mid_copy(
        killed,
        "adt_events",
        {
            "load_id": uuid.uuid4(),
            "source_file": "in the way",
            "file_md5": md5_of(target),
            "line_number": lines // 2,
        },
        "adt/adt_1.jsonl",
    )
    assert 0 < copied < lines

    # nothing of the killed file is visible; the file before it committed whole
    assert rows_per_file("adt_events", "source_file") == {"adt/adt_0.jsonl": lines}
    killed_id = load_id_of("adt/adt_0.jsonl", "loaded")
    assert abandoned_rows(killed_id)[1][:4] == ("adt/adt_1.jsonl", "running", None, False)

    finish(loaders(tmp_path))

    [rerun_id] = [load_id for load_id in statuses_by_load() if load_id != killed_id]
    assert statuses_by_load()[rerun_id] == [
        ("adt/adt_0.jsonl", "skipped"),
        ("adt/adt_1.jsonl", "loaded"),
        ("adt/adt_2.jsonl", "loaded"),
        ("departments/d.csv", "loaded"),
    ]
    assert rows_per_file("adt_events", "source_file") == {
        f"adt/adt_{n}.jsonl": lines for n in range(3)
    }
    # the killed run's row: failed, abandoned, nothing loaded
    [(data_file, status, loaded_items, finished, error)] = [
        row for row in abandoned_rows(killed_id) if row[0] == "adt/adt_1.jsonl"
    ]
    assert (status, loaded_items, finished) == ("failed", 0, True)
    assert error.startswith("abandoned: the loader stopped before finishing")

    # two more runs at once add nothing
    again = [loaders(tmp_path), loaders(tmp_path)]
    for run in again:
        finish(run)
    later = [load_id for load_id in statuses_by_load() if load_id not in (killed_id, rerun_id)]
    assert len(later) == 2
    for load_id in later:
        assert {status for _, status in statuses_by_load()[load_id]} == {"skipped"}
    assert bronze_counts() == {"dynamo_treatments": 0, "adt_events": 3 * lines,
                               "department_extracts": 2}
    assert {row[2] for row in loaded_once_per_content()} == {1}
    assert len(loaded_once_per_content()) == len(files) + 1
    assert md5_of(csv) in {row[1] for row in loaded_once_per_content()}


def test_a_treatments_loader_killed_mid_export_leaves_nothing_and_the_next_run_loads_it_whole(
    tmp_path: Path, loaders: Callable[[Path], subprocess.Popen[str]]
) -> None:
    write_export(tmp_path, EXPORT_A, treatments(1, 900), files=3,
                 export_time="2024-01-01T00:00:00Z")
    folder = write_export(tmp_path, EXPORT_B, treatments(5000, 1500), files=3,
                          export_time="2024-02-01T00:00:00Z")
    second_file = read_manifest_files(folder)[1]["dataFileS3Key"]  # 500 items
    with connect_as_loader(autocommit=True) as conn:  # as the loaders create them
        bronze.ensure_tables(conn)

    killed = loaders(tmp_path)
    copied = kill_mid_copy(
        killed,
        "dynamo_treatments",
        {
            "load_id": uuid.uuid4(),
            "export_id": EXPORT_B,
            "data_file": second_file,
            "line_number": 250,
            "item": "{}",
        },
        second_file,
    )
    assert 0 < copied < 500  # rows of the second data file (its own COPY)

    # export A committed whole; nothing of export B is visible; its audit rows still run
    assert rows_per_file("dynamo_treatments", "export_id") == {EXPORT_A: 900}
    killed_id = load_id_of(second_file, "running")
    assert [row[1] for row in abandoned_rows(killed_id)] == [
        *["loaded"] * 5,  # export A and its data files (three, and an empty one)
        *["running"] * 3,  # export B, its first and second data files
    ]

    rerun = finish(loaders(tmp_path))

    assert f"{EXPORT_A} skipped" in rerun and f"{EXPORT_B} loaded" in rerun
    assert rows_per_file("dynamo_treatments", "export_id") == {EXPORT_A: 900, EXPORT_B: 1500}
    rows = abandoned_rows(killed_id)
    assert [row[1] for row in rows] == ["loaded"] * 5 + ["failed"] * 3
    for _, _, loaded_items, finished, error in rows[5:]:
        assert (loaded_items, finished) == (0, True)
        assert error.startswith("abandoned: the loader stopped before finishing")

    again = [loaders(tmp_path), loaders(tmp_path)]
    for out in map(finish, again):
        assert f"{EXPORT_A} skipped" in out and f"{EXPORT_B} skipped" in out
    assert rows_per_file("dynamo_treatments", "export_id") == {EXPORT_A: 900, EXPORT_B: 1500}
    assert query(
        "select export_id, count(*) from bronze.load_audit"
        " where data_file is null and status = 'loaded' group by 1 order by 1"
    ) == [(EXPORT_A, 1), (EXPORT_B, 1)]


def test_a_loader_killed_mid_file_while_another_waits_for_it_the_other_loads_it_whole(
    tmp_path: Path, loaders: Callable[[Path], subprocess.Popen[str]]
) -> None:
    lines = 2000
    files = [write_adt(tmp_path, f"adt/adt_{n}.jsonl", n * 10_000, lines) for n in range(3)]
    first_key = f"feed:{feeds.ADT.name}:{md5_of(files[0])}"
    with connect_as_loader(autocommit=True) as conn:  # as the loaders create them
        bronze.ensure_tables(conn)
    runs: list[subprocess.Popen[str]] = []

    def start_the_other() -> None:
        runs.append(loaders(tmp_path))
        wait_for("the other loader to wait for the first file", lambda: waiters(first_key) == 1)

    killed = loaders(tmp_path)
    kill_mid_copy(
        killed,
        "adt_events",
        {
            "load_id": uuid.uuid4(),
            "source_file": "in the way",
            "file_md5": md5_of(files[0]),
            "line_number": lines // 3,
        },
        "adt/adt_0.jsonl",
        before_the_kill=start_the_other,
    )
    finish(runs[0])

    assert rows_per_file("adt_events", "source_file") == {
        f"adt/adt_{n}.jsonl": lines for n in range(3)
    }
    killed_id = load_id_of("adt/adt_0.jsonl", "running")  # the other began before the kill
    [other_id] = [load_id for load_id in statuses_by_load() if load_id != killed_id]
    assert statuses_by_load()[other_id] == [(f"adt/adt_{n}.jsonl", "loaded") for n in range(3)]

    finish(loaders(tmp_path))  # the next run marks the killed one's row and adds nothing

    assert abandoned_rows(killed_id)[0][1:4] == ("failed", 0, True)
    assert rows_per_file("adt_events", "source_file") == {
        f"adt/adt_{n}.jsonl": lines for n in range(3)
    }
    assert {row[2] for row in loaded_once_per_content()} == {1}
