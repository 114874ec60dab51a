"""The load audit: one row per export and one per data file in ``bronze.load_audit``.

Rows are written on their own autocommit connection (:func:`open_connection`), so a load whose
transaction rolls back still leaves its ``running`` rows behind to be marked ``failed``. The
final ``loaded`` update may instead run inside the load transaction itself, which makes "data
committed" and "audit says loaded" one atomic step (see ``loaders.treatments``).

Statuses: ``running`` (started, not finished), ``loaded``, ``skipped`` (already loaded, nothing
added), ``refused`` (failed verification, before or during the copy; nothing landed) and
``failed`` (load attempted and rolled back). The export-level row has ``data_file`` null and
``content_md5`` the manifest's hash; file rows carry the MD5 of the data file's bytes.

Abandoned loads. A loader killed outright (SIGKILL, a crash, a lost machine) cannot close its
rows: its uncommitted data goes with its database sessions (PostgreSQL rolls them back) and its
rows stay ``running`` with no ``finished_at``. To tell such rows from those of a load still at
work, every run holds a session-level advisory lock on its load id on its audit connection for
as long as it lives (:func:`begin_load`, taken before it writes any row). At its start, every
run marks the ``running`` rows whose load's lock is free, i.e. whose loader's session is gone,
``failed`` with ``loaded_items`` 0, a ``finished_at`` and the error :data:`ABANDONED`
(:func:`fail_abandoned`). A row of a live load is never touched; rows of a loader killed just
now are marked by a run that starts once the server has seen its session end (at once for an
idle or copying session, within ``client_connection_check_interval`` for one waiting on a lock).
Writers of ``running`` rows must hold their load's lock (all the loaders here do).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from loaders.db import connect_as_loader

log = logging.getLogger(__name__)

SCHEMA = "bronze"
TABLE = "load_audit"
STATUSES = ("running", "loaded", "skipped", "refused", "failed")
FINAL_STATUSES = ("loaded", "skipped", "refused", "failed")
DDL_LOCK = "healthcare-warehouse:bronze-ddl"
LOAD_LOCK = "healthcare-warehouse:load:"  # + the load id: held by the load's audit session
ABANDONED = (
    "abandoned: the loader stopped before finishing (its database session ended);"
    " rolled back, nothing loaded"
)

_DDL = """
create table if not exists {table} (
    audit_id bigint generated always as identity primary key,
    load_id uuid not null,
    source text not null,
    export_id text not null,
    data_file text,
    content_md5 text,
    status text not null
        check (status in ('running', 'loaded', 'skipped', 'refused', 'failed')),
    expected_items bigint,
    loaded_items bigint,
    bytes bigint,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    error text
)
"""


def table() -> sql.Identifier:
    """The audit table's qualified name, for composing queries."""
    return sql.Identifier(SCHEMA, TABLE)


@dataclass(frozen=True)
class LoadedExport:
    """The audit's record of an export that was loaded."""

    load_id: uuid.UUID
    content_md5: str | None
    loaded_items: int | None
    finished_at: datetime | None


@dataclass(frozen=True)
class LoadedFile:
    """The audit's record of a file whose content was loaded (file feeds)."""

    load_id: uuid.UUID
    data_file: str | None
    loaded_items: int | None
    finished_at: datetime | None


def lock_ddl(conn: psycopg.Connection) -> None:
    """Serialise bronze DDL between concurrent loads until the transaction ends
    (``create ... if not exists`` alone races on the catalogue's unique indexes)."""
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (DDL_LOCK,))


def lock_key(conn: psycopg.Connection, key: str) -> bool:
    """Take the transaction-level advisory lock on ``key`` (a text, hashed), waiting for it
    when another session holds it; True when it had to wait (a concurrent load held it)."""
    row = conn.execute(
        "select pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (key,)
    ).fetchone()
    if row and row[0]:
        return False
    log.info("waiting for a concurrent load holding lock %r", key)
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
    return True


def begin_load(conn: psycopg.Connection, load_id: uuid.UUID) -> datetime:
    """Mark load ``load_id`` as alive for as long as ``conn`` (its audit connection) stays
    open: a session-level advisory lock. Returns the server's clock, the start of the run."""
    row = conn.execute(
        "select pg_try_advisory_lock(hashtextextended(%s, 0)), clock_timestamp()",
        (f"{LOAD_LOCK}{load_id}",),
    ).fetchone()
    if row is None or not row[0]:
        raise RuntimeError(f"load {load_id} is already running in another session")
    return row[1]


def fail_abandoned(conn: psycopg.Connection) -> dict[uuid.UUID, int]:
    """Mark ``failed`` (error :data:`ABANDONED`) every ``running`` row whose load's session is
    gone (its lock is free); returns how many rows per load, and logs them."""
    if not _table_exists(conn):
        return {}
    query = sql.SQL(
        "with running as materialized ("
        "  select distinct load_id from {table} where status = 'running'"
        "), abandoned as materialized ("
        "  select load_id from running"
        "  where pg_try_advisory_xact_lock(hashtextextended(%s || load_id::text, 0))"
        ") update {table} set status = 'failed', finished_at = clock_timestamp(),"
        " loaded_items = 0, error = %s"
        " where status = 'running' and load_id in (select load_id from abandoned)"
        " returning load_id"
    ).format(table=table())
    marked: dict[uuid.UUID, int] = {}
    for (load_id,) in conn.execute(query, (LOAD_LOCK, ABANDONED)):
        marked[load_id] = marked.get(load_id, 0) + 1
    for load_id, rows in marked.items():
        log.warning(
            "load %s was abandoned (its loader stopped before finishing): %d running audit"
            " row(s) marked failed; nothing of them was loaded",
            load_id,
            rows,
        )
    return marked


def ensure_table(conn: psycopg.Connection) -> None:
    """Create the ``bronze`` schema and the audit table when missing."""
    with conn.transaction():
        lock_ddl(conn)
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCHEMA)))
        conn.execute(sql.SQL(_DDL).format(table=table()))


def open_connection() -> psycopg.Connection:
    """A new autocommit connection for audit rows (they survive the load's rollback), as the
    loader role (WAREHOUSE_LOADER_ROLE) when one is configured: it creates bronze's tables."""
    return connect_as_loader(autocommit=True)


def start(
    conn: psycopg.Connection,
    *,
    load_id: uuid.UUID,
    source: str,
    export_id: str,
    data_file: str | None = None,
    content_md5: str | None = None,
    expected_items: int | None = None,
    bytes_: int | None = None,
) -> int:
    """Insert a ``running`` row (export-level when ``data_file`` is None); returns its audit_id."""
    query = sql.SQL(
        "insert into {} (load_id, source, export_id, data_file, content_md5, status,"
        " expected_items, bytes) values (%s, %s, %s, %s, %s, 'running', %s, %s)"
        " returning audit_id"
    ).format(table())
    row = conn.execute(
        query, (load_id, source, export_id, data_file, content_md5, expected_items, bytes_)
    ).fetchone()
    assert row is not None
    return int(row[0])


def finish(
    conn: psycopg.Connection,
    audit_id: int,
    *,
    status: str,
    loaded_items: int | None = None,
    expected_items: int | None = None,
    bytes_: int | None = None,
    content_md5: str | None = None,
    error: str | None = None,
) -> None:
    """Close a row: final status, counts, ``finished_at`` and the error, if any.

    Counts, bytes and hash left as None keep the values the row already has.
    """
    if status not in FINAL_STATUSES:
        raise ValueError(f"not a final audit status: {status!r}")
    query = sql.SQL(
        "update {} set status = %s, finished_at = clock_timestamp(),"
        " loaded_items = coalesce(%s, loaded_items),"
        " expected_items = coalesce(%s, expected_items),"
        " bytes = coalesce(%s, bytes),"
        " content_md5 = coalesce(%s, content_md5),"
        " error = %s"
        " where audit_id = %s"
    ).format(table())
    conn.execute(
        query, (status, loaded_items, expected_items, bytes_, content_md5, error, audit_id)
    )


def fail_running(conn: psycopg.Connection, load_id: uuid.UUID, export_id: str, error: str) -> int:
    """Mark every row of this load and export still ``running`` as ``failed`` with nothing
    loaded (their transaction rolled back); returns how many."""
    query = sql.SQL(
        "update {} set status = 'failed', finished_at = clock_timestamp(),"
        " loaded_items = 0, error = coalesce(error, %s)"
        " where load_id = %s and export_id = %s and status = 'running'"
    ).format(table())
    return conn.execute(query, (error, load_id, export_id)).rowcount


def record(
    conn: psycopg.Connection,
    *,
    load_id: uuid.UUID,
    source: str,
    export_id: str,
    status: str,
    data_file: str | None = None,
    content_md5: str | None = None,
    expected_items: int | None = None,
    loaded_items: int | None = None,
    bytes_: int | None = None,
    error: str | None = None,
) -> int:
    """Insert a row that is finished at once (a skipped or refused export, a refused file)."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"not a final audit status: {status!r}")
    query = sql.SQL(
        "insert into {} (load_id, source, export_id, data_file, content_md5, status,"
        " expected_items, loaded_items, bytes, finished_at, error)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), %s)"
        " returning audit_id"
    ).format(table())
    row = conn.execute(
        query,
        (
            load_id,
            source,
            export_id,
            data_file,
            content_md5,
            status,
            expected_items,
            loaded_items,
            bytes_,
            error,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def loaded_export(conn: psycopg.Connection, source: str, export_id: str) -> LoadedExport | None:
    """The latest ``loaded`` export-level row for this source and export, or None.

    ``content_md5`` of the answer is the manifest hash the export was loaded with.
    """
    exists = conn.execute("select to_regclass(%s) is not null", (f"{SCHEMA}.{TABLE}",)).fetchone()
    if not exists or not exists[0]:
        return None
    query = sql.SQL(
        "select load_id, content_md5, loaded_items, finished_at from {}"
        " where source = %s and export_id = %s and data_file is null and status = 'loaded'"
        " order by finished_at desc nulls last, audit_id desc limit 1"
    ).format(table())
    row = conn.execute(query, (source, export_id)).fetchone()
    if row is None:
        return None
    return LoadedExport(load_id=row[0], content_md5=row[1], loaded_items=row[2], finished_at=row[3])


def _table_exists(conn: psycopg.Connection) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (f"{SCHEMA}.{TABLE}",)).fetchone()
    return bool(row and row[0])


def loaded_content(conn: psycopg.Connection, source: str, content_md5: str) -> LoadedFile | None:
    """The latest ``loaded`` file row of this source with this content MD5, or None: a file
    feed skips a file whose content was loaded before, under any name."""
    if not _table_exists(conn):
        return None
    query = sql.SQL(
        "select load_id, data_file, loaded_items, finished_at from {}"
        " where source = %s and content_md5 = %s and data_file is not null"
        " and status = 'loaded'"
        " order by finished_at desc nulls last, audit_id desc limit 1"
    ).format(table())
    row = conn.execute(query, (source, content_md5)).fetchone()
    if row is None:
        return None
    return LoadedFile(load_id=row[0], data_file=row[1], loaded_items=row[2], finished_at=row[3])


def loaded_contents(conn: psycopg.Connection, source: str, content_md5s: list[str]) -> set[str]:
    """Which of these content MD5s have a ``loaded`` file row for this source."""
    if not content_md5s or not _table_exists(conn):
        return set()
    query = sql.SQL(
        "select distinct content_md5 from {}"
        " where source = %s and content_md5 = any(%s) and data_file is not null"
        " and status = 'loaded'"
    ).format(table())
    return {row[0] for row in conn.execute(query, (source, content_md5s))}
