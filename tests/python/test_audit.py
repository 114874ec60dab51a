"""The load audit: table shape, rows that survive a rollback, and what the loader records."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from export_files import read_manifest_files, write_export

from loaders import audit
from loaders import treatments as loader
from loaders.db import connect

EXPORT_A = "01700000000000-1a2b3c4d"
EXPORT_B = "01700000900000-5e6f7a8b"
SOURCE = "dynamo_treatments"

pytestmark = pytest.mark.usefixtures("empty_bronze")


def typed_items(count: int) -> list[dict[str, Any]]:
    return [{"treatment_id": {"S": f"T{n}"}} for n in range(count)]


def audit_rows(export_id: str) -> list[dict[str, Any]]:
    with connect() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            "select * from bronze.load_audit where export_id = %s order by audit_id", (export_id,)
        )
        return cur.fetchall()


def test_table_matches_the_spec() -> None:
    with connect(autocommit=True) as conn:
        audit.ensure_table(conn)
        audit.ensure_table(conn)  # idempotent
        columns = conn.execute(
            "select column_name, data_type, is_nullable, column_default, is_identity"
            " from information_schema.columns"
            " where table_schema = 'bronze' and table_name = 'load_audit' order by ordinal_position"
        ).fetchall()
    assert [(c[0], c[1], c[2]) for c in columns] == [
        ("audit_id", "bigint", "NO"),
        ("load_id", "uuid", "NO"),
        ("source", "text", "NO"),
        ("export_id", "text", "NO"),
        ("data_file", "text", "YES"),
        ("content_md5", "text", "YES"),
        ("status", "text", "NO"),
        ("expected_items", "bigint", "YES"),
        ("loaded_items", "bigint", "YES"),
        ("bytes", "bigint", "YES"),
        ("started_at", "timestamp with time zone", "NO"),
        ("finished_at", "timestamp with time zone", "YES"),
        ("error", "text", "YES"),
    ]
    assert columns[0][4] == "YES"
    assert columns[10][3] == "clock_timestamp()"


def test_status_is_checked() -> None:
    with connect(autocommit=True) as conn:
        audit.ensure_table(conn)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "insert into bronze.load_audit (load_id, source, export_id, status)"
                " values (gen_random_uuid(), 's', 'e', 'done')"
            )
        with pytest.raises(ValueError):
            audit.finish(conn, 1, status="running")


def test_rows_survive_a_rolled_back_load() -> None:
    load_id = uuid.uuid4()
    with audit.open_connection() as audit_conn, connect(autocommit=True) as data_conn:
        audit.ensure_table(audit_conn)
        export_row = audit.start(
            audit_conn, load_id=load_id, source=SOURCE, export_id=EXPORT_A, expected_items=3
        )
        file_row = audit.start(
            audit_conn, load_id=load_id, source=SOURCE, export_id=EXPORT_A, data_file="f1"
        )
        with pytest.raises(RuntimeError), data_conn.transaction():
            audit.finish(data_conn, file_row, status="loaded", loaded_items=3)
            raise RuntimeError("the load failed")
        audit.finish(audit_conn, export_row, status="failed", loaded_items=0, error="boom")
        assert audit.fail_running(audit_conn, load_id, EXPORT_A, "rolled back") == 1
    rows = audit_rows(EXPORT_A)
    assert [(r["data_file"], r["status"], r["loaded_items"], r["error"]) for r in rows] == [
        (None, "failed", 0, "boom"),
        ("f1", "failed", 0, "rolled back"),
    ]
    assert rows[0]["expected_items"] == 3
    assert all(r["finished_at"] >= r["started_at"] for r in rows)


def test_loaded_export_answers_with_the_manifest_hash() -> None:
    with connect(autocommit=True) as conn:
        assert audit.loaded_export(conn, SOURCE, EXPORT_A) is None  # no table yet
        audit.ensure_table(conn)
        first, second = uuid.uuid4(), uuid.uuid4()
        audit.record(conn, load_id=first, source=SOURCE, export_id=EXPORT_A, status="failed")
        assert audit.loaded_export(conn, SOURCE, EXPORT_A) is None
        row = audit.start(
            conn, load_id=second, source=SOURCE, export_id=EXPORT_A, content_md5="abc"
        )
        assert audit.loaded_export(conn, SOURCE, EXPORT_A) is None  # still running
        audit.finish(conn, row, status="loaded", loaded_items=7)
        # a loaded data-file row is not an export
        audit.record(
            conn, load_id=first, source=SOURCE, export_id=EXPORT_B, data_file="f", status="loaded"
        )
        found = audit.loaded_export(conn, SOURCE, EXPORT_A)
        assert found is not None
        assert (found.load_id, found.content_md5, found.loaded_items) == (second, "abc", 7)
        assert audit.loaded_export(conn, "another_source", EXPORT_A) is None
        assert audit.loaded_export(conn, SOURCE, EXPORT_B) is None


def test_the_loader_records_every_export_and_file(tmp_path: Path) -> None:
    folder = write_export(tmp_path, EXPORT_A, typed_items(5), files=2)
    entries = read_manifest_files(folder)

    [loaded] = loader.load(tmp_path)
    [skipped] = loader.load(tmp_path)

    rows = audit_rows(EXPORT_A)
    first = [r for r in rows if r["load_id"] == loaded.load_id]
    export_row, file_rows = first[0], first[1:]
    assert export_row["data_file"] is None
    assert (export_row["source"], export_row["status"]) == (SOURCE, "loaded")
    assert (export_row["expected_items"], export_row["loaded_items"]) == (5, 5)
    assert export_row["bytes"] == sum(
        (folder.parent.parent / e["dataFileS3Key"]).stat().st_size for e in entries
    )
    assert len(export_row["content_md5"]) == 32 and export_row["error"] is None
    assert export_row["finished_at"] >= export_row["started_at"]
    assert [
        (r["data_file"], r["status"], r["expected_items"], r["loaded_items"]) for r in file_rows
    ] == [(e["dataFileS3Key"], "loaded", e["itemCount"], e["itemCount"]) for e in entries]
    assert all(r["bytes"] > 0 and len(r["content_md5"]) == 32 for r in file_rows)

    second = [r for r in rows if r["load_id"] == skipped.load_id]
    assert [(r["data_file"], r["status"], r["loaded_items"]) for r in second] == [
        (None, "skipped", 0)
    ]
    assert second[0]["content_md5"] == export_row["content_md5"]
    assert not [r for r in rows if r["status"] == "running"]


def session_ended(pid: int) -> bool:
    """Wait (up to 10 s) until the server session ``pid`` is gone."""
    deadline = time.monotonic() + 10
    with connect(autocommit=True) as conn:
        while conn.execute("select 1 from pg_stat_activity where pid = %s", (pid,)).fetchone():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
    return True


def test_only_rows_of_loads_whose_session_is_gone_are_marked_abandoned() -> None:
    killed, alive = uuid.uuid4(), uuid.uuid4()
    with audit.open_connection() as sweeper, audit.open_connection() as alive_conn:
        assert audit.fail_abandoned(sweeper) == {}  # no table yet
        audit.ensure_table(sweeper)
        killed_conn = audit.open_connection()
        started = audit.begin_load(killed_conn, killed)
        assert started.tzinfo is not None  # the server's clock
        export_row = audit.start(killed_conn, load_id=killed, source=SOURCE, export_id=EXPORT_A)
        audit.start(killed_conn, load_id=killed, source=SOURCE, export_id=EXPORT_A, data_file="f1")
        audit.record(
            killed_conn, load_id=killed, source=SOURCE, export_id=EXPORT_B, status="loaded"
        )
        audit.begin_load(alive_conn, alive)
        audit.start(alive_conn, load_id=alive, source=SOURCE, export_id=EXPORT_B)

        assert audit.fail_abandoned(sweeper) == {}  # both loads' sessions live
        pid = killed_conn.info.backend_pid
        killed_conn.close()  # as a killed loader's: the session ends, its rows stay running
        assert session_ended(pid)
        assert audit.fail_abandoned(sweeper) == {killed: 2}
        assert audit.fail_abandoned(sweeper) == {}

        rows = {
            (r["load_id"], r["export_id"], r["data_file"]): r
            for r in audit_rows(EXPORT_A) + audit_rows(EXPORT_B)
        }
        for key in ((killed, EXPORT_A, None), (killed, EXPORT_A, "f1")):
            row = rows[key]
            assert (row["status"], row["loaded_items"], row["error"]) == (
                "failed",
                0,
                audit.ABANDONED,
            )
            assert row["finished_at"] >= row["started_at"]
        assert rows[(killed, EXPORT_B, None)]["status"] == "loaded"  # finished rows stay
        assert rows[(alive, EXPORT_B, None)]["status"] == "running"  # its loader still runs
        assert rows[(killed, EXPORT_A, None)]["audit_id"] == export_row

        pid = alive_conn.info.backend_pid
        alive_conn.close()
        assert session_ended(pid)
        assert audit.fail_abandoned(sweeper) == {alive: 1}


def test_lock_key_says_whether_it_waited() -> None:
    with connect(autocommit=True) as holder, connect(autocommit=True) as other:
        with holder.transaction():
            assert audit.lock_key(holder, "test:key") is False
            assert audit.lock_key(holder, "test:key") is False  # its own lock: no wait
            with other.transaction():
                free = other.execute(
                    "select pg_try_advisory_xact_lock(hashtextextended('test:key', 0))"
                ).fetchone()
                assert free == (False,)
        with other.transaction():
            assert audit.lock_key(other, "test:key") is False  # released with the transaction
