"""Backup and restore (``loaders/backup.py``, ``python -m loaders backup|restore``).

One small warehouse is built once for the module in the session database: generated treatment
exports (both cycles) and three days of ADT feed and department extracts, loaded, then one full
``dbt build``. The last ADT file is held back, to be loaded only after a restore. Its backup is
restored into new empty databases on the same server and into a second, empty PostgreSQL server
started for the test, and every relation of every project schema (bronze, silver, snapshots,
gold: tables and views) must have the same row count and the same content checksum there as in
the source. Also checked: the audit's identity goes on after a restore (a load after it does not
collide, files loaded before it are skipped); a restore over existing schemas is refused without
``--force`` and replaces them whole with it; a truncated or damaged archive fails with a message
naming the file and leaves the target as it was, and so does a statement that fails midway; a
failing ``pg_dump`` leaves no file behind; a backup waits for a build that is refreshing gold;
client tools older than the server are refused.
"""

from __future__ import annotations

import itertools
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pgserver
import pytest
from psycopg import sql
from warehouse_checks import run_dbt

from loaders import access, backup, cli, feeds, server
from loaders import treatments as treatments_loader
from loaders.db import connect
from loaders.generator import admissions as admissions_generator
from loaders.generator import treatments as treatments_generator
from loaders.warehouse import PROJECT_SCHEMAS, drop_project_schemas

TREATMENTS = 2000
DAYS = 3
SEED = 20260105

Fingerprint = dict[tuple[str, str], tuple[int, str]]


def fingerprint(dbname: str | None = None, *, view_rows: bool = True) -> Fingerprint:
    """Row count and MD5 of the ordered row texts of every table and view of every project
    schema of ``dbname`` on the configured server. ``view_rows=False`` (a quicker check that
    nothing changed) takes a view's definition instead of its rows."""
    found: Fingerprint = {}
    with connect(dbname=dbname) as conn:
        relations = conn.execute(
            "select table_schema, table_name, table_type = 'VIEW' from information_schema.tables"
            " where table_schema = any(%s) order by 1, 2",
            (list(PROJECT_SCHEMAS),),
        ).fetchall()
        for schema, name, is_view in relations:
            relation = sql.Identifier(schema, name)
            if is_view and not view_rows:
                query = sql.SQL("select -1, md5(pg_get_viewdef({}::regclass))").format(
                    sql.Literal(f"{schema}.{name}")
                )
            else:
                query = sql.SQL(
                    "select count(*), md5(coalesce(string_agg(t::text, '|'"
                    ' order by t::text collate "C"), \'\')) from {} as t'
                ).format(relation)
            count, digest = conn.execute(query).fetchone()
            found[(schema, name)] = (count, digest)
    return found


def differences(expected: Fingerprint, actual: Fingerprint) -> list[str]:
    return [
        f"{'.'.join(key)}: expected {expected.get(key)}, got {actual.get(key)}"
        for key in sorted(set(expected) | set(actual))
        if expected.get(key) != actual.get(key)
    ]


@dataclass(frozen=True)
class Warehouse:
    database: str
    archive: Path
    result: backup.BackupResult
    fingerprint: Fingerprint
    feed_files: list[feeds.FeedFile]
    held_back: feeds.FeedFile


@pytest.fixture(scope="module")
def warehouse(warehouse_db: str, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root = tmp_path_factory.mktemp("backup")
    drop_project_schemas()
    exports = root / "exports"
    treatments_generator.generate(exports, treatments=TREATMENTS, seed=SEED)
    admissions_generator.generate(
        root / "admissions", days=DAYS, seed=SEED, treatments=TREATMENTS, file_minutes=60
    )
    results = treatments_loader.load(exports)
    assert [result.status for result in results] == ["loaded", "loaded"], results
    feed_files = feeds.find_files(root / "admissions" / "landing")
    held_back = [file for file in feed_files if file.source is feeds.ADT][-1]
    results = feeds.load_files([file for file in feed_files if file != held_back])
    # an extract whose content was landed before (under another name) is skipped
    failed = [result for result in results if result.status not in ("loaded", "skipped")]
    assert not failed and sum(result.status == "loaded" for result in results) > DAYS * 20, results
    run_dbt(root, "build")
    result = backup.backup(root / "archive" / "warehouse.dump")
    return Warehouse(
        warehouse_db, result.path, result, fingerprint(), feed_files, held_back
    )


@pytest.fixture
def scratch_db(warehouse_db: str) -> Iterator[Callable[[], str]]:
    """Names of databases that do not exist yet; each is dropped at the end of the test."""
    names: list[str] = []
    counter = itertools.count(1)

    def new_name() -> str:
        name = f"{warehouse_db}_restore_{next(counter)}"
        server.drop_database(name)
        names.append(name)
        return name

    yield new_name
    for name in names:
        server.drop_database(name)


def database_exists(name: str) -> bool:
    with connect(dbname="postgres") as conn:
        found = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
    return found is not None


def test_backup_is_one_complete_private_archive(warehouse: Warehouse) -> None:
    result = warehouse.result
    assert [path.name for path in warehouse.archive.parent.iterdir()] == ["warehouse.dump"]
    assert stat.S_IMODE(warehouse.archive.stat().st_mode) == 0o600
    assert result.bytes == warehouse.archive.stat().st_size > 0
    assert [count.schema for count in result.schemas] == list(PROJECT_SCHEMAS)
    with connect() as conn:
        assert result.schemas == backup.count_schemas(conn, list(PROJECT_SCHEMAS))
    by_schema = {count.schema: count for count in result.schemas}
    assert by_schema["gold"].tables >= 20 and by_schema["gold"].rows > 0
    assert by_schema["bronze"].rows > TREATMENTS
    assert by_schema["snapshots"].tables == 3 and by_schema["snapshots"].rows > 0
    assert by_schema["silver"].views > 0
    archive = backup.read_archive(warehouse.archive, result.tools)
    assert sorted(archive.schemas) == sorted(PROJECT_SCHEMAS)
    assert archive.database == warehouse.database
    assert result.tools.major >= int(result.server_version.split(".")[0])

    size, modified = warehouse.archive.stat().st_size, warehouse.archive.stat().st_mtime_ns
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.backup(warehouse.archive)
    assert (warehouse.archive.stat().st_size, warehouse.archive.stat().st_mtime_ns) == (
        size, modified
    )


def test_restore_into_an_empty_database_gives_the_same_figures(
    warehouse: Warehouse, scratch_db: Callable[[], str]
) -> None:
    target = scratch_db()
    result = backup.restore(warehouse.archive, database=target)
    assert result.created and result.replaced == []
    assert result.schemas == warehouse.result.schemas
    restored = fingerprint(target)
    assert not differences(warehouse.fingerprint, restored)
    # not vacuous: every schema is there, with rows in gold and snapshots
    assert {schema for schema, _ in restored} == set(PROJECT_SCHEMAS)
    gold_with_rows = [key for key, (rows, _) in restored.items() if key[0] == "gold" and rows]
    assert len(gold_with_rows) >= 20
    assert all(rows for (schema, _), (rows, _) in restored.items() if schema == "snapshots")


def test_loads_after_a_restore_continue_the_audit(
    warehouse: Warehouse, scratch_db: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = scratch_db()
    backup.restore(warehouse.archive, database=target)
    monkeypatch.setenv("PGDATABASE", target)
    with connect() as conn:
        last_id = conn.execute("select max(audit_id) from bronze.load_audit").fetchone()[0]
    assert last_id is not None

    [result] = feeds.load_files([warehouse.held_back])
    assert result.status == "loaded" and result.rows > 0, result
    with connect() as conn:
        new_ids = [
            row[0] for row in conn.execute(
                "select audit_id from bronze.load_audit where load_id = %s", (result.load_id,)
            )
        ]
    assert new_ids and min(new_ids) > last_id
    # what was loaded before the backup stays loaded: exactly once across the restore
    again = feeds.load_files(warehouse.feed_files)
    assert [r.status for r in again] == ["skipped"] * len(warehouse.feed_files), again
    monkeypatch.setenv("PGDATABASE", warehouse.database)
    assert fingerprint()[("bronze", "load_audit")] == warehouse.fingerprint[
        ("bronze", "load_audit")
    ]


def test_restore_over_existing_schemas_needs_force(
    warehouse: Warehouse, scratch_db: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    target = scratch_db()
    backup.restore(warehouse.archive, database=target)
    with connect(dbname=target, autocommit=True) as conn:
        conn.execute("create table gold.made_after_restore as select 1 as marker")
    before = fingerprint(target, view_rows=False)

    with pytest.raises(backup.BackupError, match="--force") as refused:
        backup.restore(warehouse.archive, database=target)
    assert f"'{target}'" in str(refused.value)
    assert cli.main(["restore", str(warehouse.archive), "--database", target]) == 1
    assert "--force" in capsys.readouterr().out
    assert fingerprint(target, view_rows=False) == before

    result = backup.restore(warehouse.archive, database=target, force=True)
    assert not result.created and result.replaced == list(PROJECT_SCHEMAS)
    assert not differences(warehouse.fingerprint, fingerprint(target))


def test_a_damaged_archive_changes_nothing(
    warehouse: Warehouse,
    scratch_db: Callable[[], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = scratch_db()
    backup.restore(warehouse.archive, database=target)
    with connect(dbname=target, autocommit=True) as conn:
        conn.execute("create table gold.made_after_restore as select 1 as marker")
    before = fingerprint(target, view_rows=False)
    assert ("gold", "made_after_restore") in before

    content = warehouse.archive.read_bytes()
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(content[: len(content) * 6 // 10])
    # its table of contents is intact: the damage shows only while the data streams in
    backup.read_archive(truncated, warehouse.result.tools)
    with pytest.raises(backup.BackupError) as failed:
        backup.restore(truncated, database=target, force=True)
    message = str(failed.value)
    assert str(truncated) in message and "damaged or incomplete" in message, message
    assert f"database '{target}' is unchanged" in message
    assert fingerprint(target, view_rows=False) == before

    assert cli.main(["restore", str(truncated), "--database", target, "--force"]) == 1
    output = capsys.readouterr().out
    assert "damaged or incomplete" in output and "Traceback" not in output
    assert fingerprint(target, view_rows=False) == before

    header_only = tmp_path / "header-only.dump"
    header_only.write_bytes(content[:100])
    not_an_archive = tmp_path / "notes.dump"
    not_an_archive.write_text("select 1;\n")
    for bad in (header_only, not_an_archive):
        with pytest.raises(backup.BackupError, match="not a readable pg_dump archive") as failed:
            backup.restore(bad, database=target, force=True)
        assert str(bad) in str(failed.value)
    with pytest.raises(backup.BackupError, match="no such file"):
        backup.restore(tmp_path / "missing.dump", database=target, force=True)
    assert fingerprint(target, view_rows=False) == before

    # into a database that did not exist: it is not left behind
    missing = scratch_db()
    with pytest.raises(backup.BackupError, match="damaged or incomplete"):
        backup.restore(truncated, database=missing)
    assert not database_exists(missing)


def test_restore_into_a_second_empty_server(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL server of its own (pgserver in tmp_path): a fresh cluster, no databases but
    the defaults, the restore creates the warehouse database."""
    # the bi views' pseudonyms need the same key there (the key never travels in an archive)
    monkeypatch.setenv(access.KEY_ENV, access.pseudonym_key().decode())
    other = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="delete")
    try:
        socket = other.get_postmaster_info().socket_dir
        assert socket is not None
        monkeypatch.setenv("PGHOST", str(socket))
        monkeypatch.setenv("PGDATABASE", "warehouse")
        assert not database_exists("warehouse")
        result = backup.restore(warehouse.archive)
        assert result.created and result.database == "warehouse"
        assert not differences(warehouse.fingerprint, fingerprint())
        with connect() as conn:
            assert conn.execute("show timezone").fetchone()[0] == "UTC"
    finally:
        other.cleanup()


def test_a_failing_pg_dump_leaves_no_file(warehouse: Warehouse, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "pg_dump"
    fake.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do case "$arg" in --file=*) printf PGDMP-partial > "${arg#--file=}";;'
        " esac; done\n"
        "echo 'pg_dump: error: connection to server lost' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    tools = backup.ClientTools(bindir, "16.2", 16)
    out = tmp_path / "backups" / "warehouse.dump"
    with pytest.raises(backup.BackupError, match="connection to server lost") as failed:
        backup.backup(out, tools=tools)
    assert str(out) in str(failed.value)
    assert list(out.parent.iterdir()) == []


def test_client_tools_no_older_than_the_server(warehouse: Warehouse) -> None:
    with connect() as conn:
        version = conn.info.server_version
    for embedded in (True, False):
        tools = backup.client_tools(version, embedded=embedded)
        assert tools.major >= version // 10000
        assert all(os.access(tools.path(tool), os.X_OK) for tool in backup.TOOLS)
    assert backup.client_tools(version, embedded=True).bindir == backup.pgserver_bindir()
    with pytest.raises(backup.BackupError, match=r"older than the server \(PostgreSQL 99\)"):
        backup.client_tools(990000)


def test_backup_refuses_a_database_without_the_project(
    warehouse: Warehouse, scratch_db: Callable[[], str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    target = scratch_db()
    server.ensure_database(target)
    monkeypatch.setenv("PGDATABASE", target)
    with pytest.raises(backup.BackupError, match="none of the project schemas"):
        backup.backup(tmp_path / "empty.dump")
    assert not (tmp_path / "empty.dump").exists()
    assert not list(tmp_path.glob(".*partial"))


def test_a_failing_statement_rolls_the_whole_restore_back(
    warehouse: Warehouse, scratch_db: Callable[[], str]
) -> None:
    """An event trigger in the target refuses to create gold.fct_treatments: the restore has
    dropped the old schemas and created bronze and silver by then, and must undo all of it."""
    target = scratch_db()
    backup.restore(warehouse.archive, database=target)
    with connect(dbname=target, autocommit=True) as conn:
        conn.execute("create table gold.made_after_restore as select 1 as marker")
        conn.execute(
            """
            create function public.refuse_fct_treatments() returns event_trigger
            language plpgsql as $$
            begin
                if exists (
                    select from pg_event_trigger_ddl_commands()
                    where object_identity = 'gold.fct_treatments'
                ) then
                    raise exception 'test: gold.fct_treatments may not be created';
                end if;
            end $$
            """
        )
        conn.execute(
            "create event trigger refuse_fct_treatments on ddl_command_end"
            " execute function public.refuse_fct_treatments()"
        )
    before = fingerprint(target, view_rows=False)

    with pytest.raises(backup.BackupError) as failed:
        backup.restore(warehouse.archive, database=target, force=True)
    message = str(failed.value)
    assert "may not be created" in message and f"database '{target}' is unchanged" in message
    assert fingerprint(target, view_rows=False) == before


def test_backup_waits_for_a_build_that_refreshes_gold(
    warehouse: Warehouse,
    scratch_db: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """While the build's holding schema exists gold is half refreshed: the backup waits for it
    to go, refuses when it stays; a forced restore drops one left by a killed build."""
    target = scratch_db()
    backup.restore(warehouse.archive, database=target)
    monkeypatch.setenv("PGDATABASE", target)
    monkeypatch.setattr(backup, "build_holding_schema", lambda: "test_gold_previous")
    monkeypatch.setattr(backup, "BUILD_POLL_SECONDS", 0.2)
    with connect(autocommit=True) as conn:
        conn.execute("create schema test_gold_previous")

    with pytest.raises(backup.BackupError, match="dbt build is refreshing gold") as refused:
        backup.backup(tmp_path / "during.dump", wait=0.5)
    assert "test_gold_previous" in str(refused.value)
    assert list(tmp_path.iterdir()) == []

    dropping: list[bool] = []

    def build_ends() -> None:
        dropping.append(True)
        with connect(autocommit=True) as conn:
            conn.execute("drop schema test_gold_previous")

    timer = threading.Timer(1.0, build_ends)
    timer.start()
    try:
        result = backup.backup(tmp_path / "after.dump", wait=30)
        assert dropping, "the backup did not wait for the build to end"
    finally:
        timer.join()
    assert sorted(backup.read_archive(result.path, result.tools).schemas) == sorted(
        PROJECT_SCHEMAS
    )

    with connect(autocommit=True) as conn:
        conn.execute("create schema test_gold_previous")
    restored = backup.restore(result.path, database=target, force=True)
    assert restored.replaced == [*PROJECT_SCHEMAS, "test_gold_previous"]
    with connect() as conn:
        assert conn.execute("select to_regnamespace('test_gold_previous')").fetchone()[0] is None
