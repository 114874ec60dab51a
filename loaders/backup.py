"""Backup and restore of the warehouse: the project schemas in one ``pg_dump`` archive.

**Backup** (:func:`backup`) writes one custom-format archive (``pg_dump -Fc``) of the project
schemas (bronze, silver, snapshots, gold, restricted, bi) of the configured database. The
archive is one consistent picture: the rows counted for the report and the rows dumped are read
in the same exported snapshot, so a file or export being loaded meanwhile is wholly in it or
not at all.
The file is written under a hidden temporary name next to the target, flushed to disk, checked
to be a readable archive and only then renamed: a backup under its final name is always
complete. It is readable by its owner only (mode 0600): it holds patient data. A backup holds a
finished build: while a ``dbt build`` is refreshing gold (its holding schema, the dbt var
``previous_versions_schema``, exists) it waits for the build to end, and refuses after ``wait``
seconds (a build that was killed leaves that schema behind until gold is put back).

**Restore** (:func:`restore`) puts an archive back into the configured database or another one
(created when missing). It refuses to touch a database that already holds project schemas
unless ``force`` is given, and then the old schemas are dropped **in the same transaction** that
restores the new ones: ``pg_restore -f -`` turns the archive into SQL, which is streamed into
``psql -v ON_ERROR_STOP=1`` between our own ``begin`` (followed by the drops) and a ``commit``
sent only after ``pg_restore`` has read the whole archive without error. A damaged or truncated
archive, a failing statement or an interrupted restore therefore ends with the connection closed
inside an open transaction, which PostgreSQL rolls back: the target is exactly as it was (a
database created for the restore is dropped again). ``pg_restore --single-transaction`` alone
cannot drop schemas that are not in the archive, and dropping before it would leave an empty
warehouse behind a failed restore. Restored tables are analysed afterwards (a restore brings no
planner statistics). ``--force`` also drops a holding schema left by a killed build.

Ownership and privileges: the archive keeps them, the restore leaves them out
(``--no-owner --no-privileges``). Roles are cluster-wide objects that a schema dump does not
carry, so on another server the original owner or grantees may not exist and every ``ALTER
OWNER`` / ``GRANT`` would fail. So the restore first runs the access bootstrap on the target
(``loaders/access.py``: the project's roles, and the ``vault`` schema with the pseudonym key the
``bi`` views read, which is never in an archive: the target must be configured with the same
``WAREHOUSE_PSEUDONYM_KEY`` for the same pseudonyms), and afterwards again, which hands the
restored schemas and relations to their roles (bronze to the loader, the rest to the
transformer). Row-level security and its policies are part of the tables and come back with
them; the select grants of the ``bi`` views (dbt ``grants``) are applied again by the next
``dbt build``.

Client tools: ``pg_dump`` must be at least as new as the server. For the embedded server the
tools shipped inside the ``pgserver`` package are used (found through the package's path), for
an external server those on ``PATH``; when the preferred tools are older than the server the
other set is used if it is new enough, else the command refuses and says which version it
needs. ``pg_restore`` and ``psql`` come from the same folder as ``pg_dump``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import psycopg
from psycopg import sql

from loaders import config
from loaders.db import connect
from loaders.warehouse import PROJECT_SCHEMAS

log = logging.getLogger(__name__)

DEFAULT_FOLDER = config.PROJECT_ROOT / "backups"
SUFFIX = ".dump"
TOOLS = ("pg_dump", "pg_restore", "psql")
CHUNK = 1024 * 1024
ERROR_LINES = 5  # lines of a client tool's error output quoted in a message
BUILD_WAIT_SECONDS = 300.0  # how long a backup waits for a running dbt build to end
BUILD_POLL_SECONDS = 2.0
_VERSION = re.compile(r"\)\s+(\d+)(?:\.(\d+))?")
_TOC_SCHEMA = re.compile(r"^\d+;\s+\d+\s+\d+\s+SCHEMA\s+-\s+(\S+)\s")
_TOC_DUMPED_BY = re.compile(r"^;\s+Dumped by pg_dump version:\s+(\S+)")
_TOC_DATABASE = re.compile(r"^;\s+dbname:\s+(\S+)")


class BackupError(RuntimeError):
    """A backup or restore that could not be done; the message says what and where."""


@dataclass(frozen=True)
class ClientTools:
    """``pg_dump``, ``pg_restore`` and ``psql`` of one PostgreSQL version, from one folder."""

    bindir: Path
    version: str
    major: int

    def path(self, tool: str) -> str:
        return str(self.bindir / tool)


@dataclass(frozen=True)
class SchemaCount:
    """One project schema: its tables and views, and the rows in its tables."""

    schema: str
    tables: int
    views: int
    rows: int


@dataclass(frozen=True)
class ArchiveInfo:
    """What ``pg_restore --list`` says about an archive."""

    schemas: list[str]
    database: str | None
    dumped_by: str | None


@dataclass(frozen=True)
class BackupResult:
    path: Path
    database: str
    server_version: str
    tools: ClientTools
    bytes: int
    schemas: list[SchemaCount]
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    database: str
    created: bool
    replaced: list[str]
    archive: ArchiveInfo
    tools: ClientTools
    schemas: list[SchemaCount]
    seconds: float


# --- client tools -------------------------------------------------------------------------------


def pgserver_bindir() -> Path | None:
    """The ``bin`` folder of the PostgreSQL inside the installed ``pgserver`` package, if any."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if bindir.is_dir() else None


def path_bindir() -> Path | None:
    """The folder of the ``pg_dump`` found on PATH, if any."""
    found = shutil.which("pg_dump")
    return Path(found).parent if found else None


def uses_embedded_server() -> bool:
    """True when the configured server is the project's embedded one (also when PGHOST names its
    socket folder, as the tests do)."""
    if not config.is_external():
        return True
    from loaders import server

    current = server.status()
    if not current.running or current.socket_dir is None:
        return False
    return Path(os.environ["PGHOST"]).resolve() == current.socket_dir.resolve()


def tool_version(bindir: Path) -> ClientTools | None:
    """The version of the client tools in ``bindir``; None when one of them is missing there."""
    if not all((bindir / tool).is_file() for tool in TOOLS):
        return None
    try:
        completed = subprocess.run(
            [str(bindir / "pg_dump"), "--version"], capture_output=True, text=True, timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("cannot run %s/pg_dump --version: %s", bindir, exc)
        return None
    match = _VERSION.search(completed.stdout)
    if match is None:
        log.warning("unexpected output of %s/pg_dump --version: %r", bindir, completed.stdout)
        return None
    major = int(match.group(1))
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return ClientTools(bindir, version, major)


def client_tools(server_version_num: int, *, embedded: bool | None = None) -> ClientTools:
    """The client tools to use with a server of this ``server_version_num`` (e.g. 160002).

    Prefers pgserver's tools for the embedded server and PATH's otherwise; takes the first set
    whose major version is not older than the server's, else raises BackupError.
    """
    if embedded is None:
        embedded = uses_embedded_server()
    server_major = server_version_num // 10000
    folders = [pgserver_bindir(), path_bindir()]
    if not embedded:
        folders.reverse()
    found: list[ClientTools] = []
    for folder in folders:
        tools = tool_version(folder) if folder is not None else None
        if tools is None:
            continue
        if tools.major >= server_major:
            log.info("using pg_dump %s from %s", tools.version, tools.bindir)
            return tools
        found.append(tools)
    if not found:
        raise BackupError(
            "no PostgreSQL client tools (pg_dump, pg_restore, psql) found: neither on PATH nor "
            f"in the pgserver package; install those of PostgreSQL {server_major} or later"
        )
    seen = ", ".join(f"{tools.version} in {tools.bindir}" for tools in found)
    raise BackupError(
        f"pg_dump is older than the server (PostgreSQL {server_major}): found {seen}; a dump "
        f"needs pg_dump {server_major} or later, put those client tools first on PATH"
    )


def _tool_env(dbname: str) -> dict[str, str]:
    """Environment for a client tool: the configured connection as PG* variables (the password
    stays out of the process list)."""
    settings = config.connection_settings()
    env = dict(os.environ)
    env.update(
        PGHOST=settings.host, PGPORT=str(settings.port), PGUSER=settings.user,
        PGDATABASE=dbname, PGAPPNAME="healthcare-warehouse-backup",
    )
    if settings.password:
        env["PGPASSWORD"] = settings.password
    return env


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[-ERROR_LINES:]) or "no error output"


def _version_text(server_version_num: int) -> str:
    return f"{server_version_num // 10000}.{server_version_num % 10000}"


# --- what a database holds ----------------------------------------------------------------------


def existing_schemas(
    conn: psycopg.Connection, schemas: Sequence[str] = PROJECT_SCHEMAS
) -> list[str]:
    """Those of ``schemas`` (default: the project's) present in the connected database."""
    rows = conn.execute(
        "select nspname from pg_namespace where nspname = any(%s)", (list(schemas),)
    ).fetchall()
    present = {row[0] for row in rows}
    return [schema for schema in schemas if schema in present]


def count_schemas(conn: psycopg.Connection, schemas: list[str]) -> list[SchemaCount]:
    """Tables, views and table rows of each schema (views are not counted: they are queries)."""
    counts = []
    for schema in schemas:
        relations = conn.execute(
            "select c.relname, c.relkind from pg_class as c"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') order by c.relname",
            (schema,),
        ).fetchall()
        tables = [name for name, kind in relations if kind in ("r", "p", "m")]
        rows = 0
        for name in tables:
            query = sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name))
            rows += conn.execute(query).fetchone()[0]
        counts.append(SchemaCount(schema, len(tables), len(relations) - len(tables), rows))
    return counts


# --- backup -------------------------------------------------------------------------------------


def default_path(database: str, now: datetime | None = None) -> Path:
    """``backups/<database>-<UTC timestamp>.dump`` in the project folder."""
    instant = (now or datetime.now(UTC)).astimezone(UTC)
    return DEFAULT_FOLDER / f"{database}-{instant:%Y%m%dT%H%M%SZ}{SUFFIX}"


def build_holding_schema() -> str | None:
    """The schema in which a running ``dbt build`` keeps gold's previous versions (the dbt var
    ``previous_versions_schema`` of dbt_project.yml, all-or-nothing gold), if the project has
    one: while it exists, gold is half refreshed."""
    import yaml

    try:
        project = yaml.safe_load((config.PROJECT_ROOT / "dbt_project.yml").read_text())
    except (OSError, yaml.YAMLError) as exc:
        log.warning("cannot read dbt_project.yml: %s", exc)
        return None
    variables = project.get("vars") if isinstance(project, dict) else None
    value = variables.get("previous_versions_schema") if isinstance(variables, dict) else None
    return str(value) if value else None


def backup(
    out: Path | None = None,
    *,
    wait: float = BUILD_WAIT_SECONDS,
    tools: ClientTools | None = None,
) -> BackupResult:
    """Dump the project schemas of the configured database into ``out`` (see the module doc).

    Refuses an existing ``out`` and a database without project schemas. While a dbt build is
    refreshing gold (its holding schema exists), waits up to ``wait`` seconds for it to end,
    then refuses: a backup holds a finished build. ``tools`` overrides the choice of client
    tools.
    """
    started = time.perf_counter()
    database = config.connection_settings().dbname
    path = Path(out) if out is not None else default_path(database)
    if path.exists():
        raise BackupError(f"{path} already exists: choose another --out")
    holding = build_holding_schema()
    deadline = time.monotonic() + wait
    while True:
        try:
            conn = connect()
        except psycopg.OperationalError as exc:
            raise BackupError(f"cannot connect to database '{database}': {exc}") from exc
        with conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            # the first query fixes the snapshot that the check, the counts and pg_dump share
            building = holding is not None and conn.execute(
                "select exists (select from pg_namespace where nspname = %s)", (holding,)
            ).fetchone()[0]
            if not building:
                archived = _dump(conn, path, database, tools)
                break
        if time.monotonic() >= deadline:
            raise BackupError(
                f"a dbt build is refreshing gold in database '{database}' (schema {holding} "
                f"exists) and did not end within {wait:g} s: back up after it ends; if no build "
                "is running, one was killed: `dbt run-operation restore_previous_versions` puts "
                "gold back as it was"
            )
        log.info("a dbt build is refreshing gold (schema %s exists); waiting", holding)
        time.sleep(BUILD_POLL_SECONDS)
    version, tools, size, counts = archived
    seconds = time.perf_counter() - started
    log.info("backup of %s: %s, %d bytes in %.1f s", database, path, size, seconds)
    return BackupResult(path, database, version, tools, size, counts, seconds)


def _dump(
    conn: psycopg.Connection, path: Path, database: str, tools: ClientTools | None
) -> tuple[str, ClientTools, int, list[SchemaCount]]:
    """pg_dump into ``path`` in the snapshot of ``conn``'s open transaction, through a partial
    file renamed when complete; returns the server version, tools, size and counts."""
    version_num = conn.info.server_version
    tools = tools or client_tools(version_num)
    schemas = existing_schemas(conn)
    if not schemas:
        raise BackupError(
            f"database '{database}' holds none of the project schemas "
            f"({', '.join(PROJECT_SCHEMAS)}): nothing to back up"
        )
    # pg_dump reads in this transaction's snapshot, so the counts match the archive
    snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]
    with _partial_file(path) as partial:
        command = [
            tools.path("pg_dump"), "--format=custom", f"--file={partial}",
            f"--snapshot={snapshot}", *(f"--schema={schema}" for schema in schemas),
        ]
        log.info("running %s", " ".join(command))
        with tempfile.TemporaryFile("w+") as errors:
            dump = subprocess.Popen(
                command, env=_tool_env(database), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=errors, text=True,
            )
            try:
                counts = count_schemas(conn, schemas)
            finally:
                returncode = dump.wait()
            errors.seek(0)
            if returncode != 0:
                raise BackupError(
                    f"pg_dump of database '{database}' failed (exit {returncode}): "
                    f"{_tail(errors.read())}; no backup written to {path}"
                )
        _fsync(partial)
        archive = read_archive(partial, tools)
        if sorted(archive.schemas) != sorted(schemas):
            raise BackupError(
                f"the archive written for {path} holds schemas {archive.schemas}, "
                f"expected {schemas}; no backup written"
            )
        size = partial.stat().st_size
        os.replace(partial, path)
        _fsync(path.parent)
    return _version_text(version_num), tools, size, counts


@contextmanager
def _partial_file(path: Path) -> Iterator[Path]:
    """A hidden file next to ``path``, readable by its owner only, removed unless renamed."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise BackupError(f"cannot write a backup to {path}: {exc}") from exc
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- restore ------------------------------------------------------------------------------------


def read_archive(path: Path, tools: ClientTools) -> ArchiveInfo:
    """The table of contents of an archive; BackupError when pg_restore cannot read it."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    completed = subprocess.run(
        [tools.path("pg_restore"), "--list", str(path)], capture_output=True, text=True,
        timeout=300, check=False,
    )
    if completed.returncode != 0:
        raise BackupError(
            f"{path} is not a readable pg_dump archive (pg_restore {tools.version}: "
            f"{_tail(completed.stderr)})"
        )
    schemas: list[str] = []
    database = dumped_by = None
    for line in completed.stdout.splitlines():
        if match := _TOC_SCHEMA.match(line):
            schemas.append(match.group(1))
        elif match := _TOC_DUMPED_BY.match(line):
            dumped_by = match.group(1)
        elif match := _TOC_DATABASE.match(line):
            database = match.group(1)
    return ArchiveInfo(schemas, database, dumped_by)


def restore(
    path: Path,
    *,
    database: str | None = None,
    force: bool = False,
    tools: ClientTools | None = None,
) -> RestoreResult:
    """Restore the archive ``path`` into ``database`` (default: the configured one).

    See the module doc: refuses existing project schemas unless ``force``; all or nothing.
    """
    from loaders import access, server

    started = time.perf_counter()
    path = Path(path)
    settings = config.connection_settings()
    database = database or settings.dbname
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with psycopg.connect(settings.conninfo("postgres"), autocommit=True) as admin:
            version_num = admin.info.server_version
            exists = admin.execute(
                "select 1 from pg_database where datname = %s", (database,)
            ).fetchone()
    except psycopg.OperationalError as exc:
        raise BackupError(f"cannot connect to the server: {exc}") from exc
    tools = tools or client_tools(version_num)
    archive = read_archive(path, tools)
    foreign = [schema for schema in archive.schemas if schema not in PROJECT_SCHEMAS]
    if foreign or not archive.schemas:
        raise BackupError(
            f"{path} is not a warehouse backup: it holds the schemas "
            f"{', '.join(archive.schemas) or '(none)'}, expected some of "
            f"{', '.join(PROJECT_SCHEMAS)}"
        )
    created = not exists
    try:
        if created:
            server.ensure_database(database)  # with the access bootstrap
        else:
            access.bootstrap(database)
    except access.AccessError as exc:
        if created:
            server.drop_database(database)
        raise BackupError(f"cannot set up roles and key in database '{database}': {exc}") from exc
    except psycopg.Error as exc:
        raise BackupError(f"cannot create database '{database}': {exc}") from exc
    try:
        try:
            conn = connect(dbname=database, autocommit=True)
        except psycopg.OperationalError as exc:
            raise BackupError(f"cannot connect to database '{database}': {exc}") from exc
        # a holding schema left by a killed dbt build goes too: it belongs to the old gold
        holding = build_holding_schema()
        replaced = [*PROJECT_SCHEMAS, *([holding] if holding else [])]
        with conn:
            present = existing_schemas(conn, replaced)
            if present and not force:
                raise BackupError(
                    f"database '{database}' already holds the schemas {', '.join(present)}; "
                    "restore --force replaces them (dropped and restored in one transaction)"
                )
            prologue = sql.SQL("begin;\nset local client_min_messages = warning;\n{}\n").format(
                sql.SQL("\n").join(
                    sql.SQL("drop schema if exists {} cascade;").format(sql.Identifier(schema))
                    for schema in replaced
                )
            ).as_string(conn)
        unchanged = (
            f"database '{database}' was not kept" if created
            else f"database '{database}' is unchanged"
        )
        _restore_stream(path, database, tools, prologue, unchanged)
    except BaseException:
        if created:
            server.drop_database(database)
        raise
    access.bootstrap(database)  # the restored objects go to their roles
    with connect(dbname=database, autocommit=True) as conn:
        schemas = existing_schemas(conn)
        _analyze(conn, schemas)
        counts = count_schemas(conn, schemas)
    seconds = time.perf_counter() - started
    log.info("restored %s into %s in %.1f s", path, database, seconds)
    return RestoreResult(path, database, created, present, archive, tools, counts, seconds)


def _restore_stream(
    path: Path, database: str, tools: ClientTools, prologue: str, unchanged: str
) -> None:
    """``pg_restore -f -`` piped into psql inside one transaction committed only when the whole
    archive was read and every statement succeeded; otherwise nothing is committed."""
    env = _tool_env(database)
    restore_command = [
        tools.path("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(path),
    ]
    psql_command = [
        tools.path("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1",
        "--set=VERBOSITY=terse",
    ]
    with (
        tempfile.TemporaryFile("w+") as restore_errors,
        tempfile.TemporaryFile("w+") as psql_errors,
    ):
        psql = subprocess.Popen(
            psql_command, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=psql_errors,
        )
        reader = subprocess.Popen(
            restore_command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=restore_errors,
        )
        assert psql.stdin is not None and reader.stdout is not None
        committed = False
        try:
            psql_alive = _feed(psql.stdin, prologue.encode(), reader.stdout)
            if not psql_alive:
                reader.kill()  # psql stopped at an error: the rest of the archive is not needed
            restore_code = reader.wait()
            if restore_code == 0 and psql_alive:
                committed = _write(psql.stdin, b"commit;\n")
            # closing psql's input without a commit ends its session: PostgreSQL rolls back
            _close(psql.stdin)
            psql_code = psql.wait()
        finally:
            for process in (reader, psql):
                if process.poll() is None:
                    process.kill()
                    process.wait()
        restore_errors.seek(0)
        psql_errors.seek(0)
        restore_text, psql_text = restore_errors.read(), psql_errors.read()
    unchanged = f"nothing was restored, {unchanged}"
    if restore_code != 0 and psql_alive:
        raise BackupError(
            f"{path} is damaged or incomplete (pg_restore {tools.version}: "
            f"{_tail(restore_text)}); {unchanged}"
        )
    if psql_code != 0 or not committed:
        raise BackupError(
            f"restoring {path} into database '{database}' failed (psql exit {psql_code}: "
            f"{_tail(psql_text)}); {unchanged}"
        )
    if psql_text.strip():
        log.info("psql said while restoring %s: %s", path, _tail(psql_text))


def _feed(sink: IO[bytes], prologue: bytes, source: IO[bytes]) -> bool:
    """Write ``prologue`` then everything from ``source`` to ``sink``; False when the sink
    closed early (psql stopped at an error)."""
    if not _write(sink, prologue):
        return False
    while chunk := source.read(CHUNK):
        if not _write(sink, chunk):
            return False
    return True


def _write(sink: IO[bytes], data: bytes) -> bool:
    try:
        sink.write(data)
        sink.flush()
    except (BrokenPipeError, ValueError):
        return False
    return True


def _close(sink: IO[bytes]) -> None:
    with suppress(BrokenPipeError):
        sink.close()


def _analyze(conn: psycopg.Connection, schemas: list[str]) -> None:
    """Planner statistics for every restored table (a restore brings none)."""
    tables = conn.execute(
        "select n.nspname, c.relname from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'm')",
        (schemas,),
    ).fetchall()
    for schema, name in tables:
        conn.execute(sql.SQL("analyze {}").format(sql.Identifier(schema, name)))
