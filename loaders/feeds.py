"""File feeds into bronze: ADT event files (S2), department extracts (S3), EHR extracts (S4),
claims and prescription fills (S5).

A feed file is a file below the given folder whose name (case-insensitive) matches a feed,
except inside an ``AWSDynamoDB`` folder (DynamoDB exports) and except names, or folders,
starting with ``.``. Routing by name, the most specific pattern first:

=================  ======================  ==========================================
name               source (audit)          read by
=================  ======================  ==========================================
``ehr_*.jsonl``    ``ehr_documents``       ``loaders.ehr`` (JSON lines, as ADT)
``claims_*.csv``   ``claims``              ``loaders.claims`` (CSV, as departments)
``*.parquet``      ``prescription_fills``  ``loaders.fills`` (Parquet, pyarrow batches)
other ``*.jsonl``  ``adt_events``          ``loaders.adt``
other ``*.csv``    ``department_extracts`` ``loaders.departments``
=================  ======================  ==========================================

Files are loaded in sorted order of their path relative to that folder (``source_file``,
``/``-separated), which is chronological for the generated names. Per file:

1. The MD5 of its bytes is computed (streamed). A file that cannot be read is audited
   ``failed`` with the reason and the next file goes on.
2. In one transaction: an advisory lock on (source, content MD5), so concurrent loaders land a
   content once (a run that finds the lock taken waits, and says so: ``waited``); a file whose
   content is already ``loaded`` for its source in the audit (under any name) is ``skipped``
   (``concurrent_load`` names the load when it finished during this run); else its rows are
   copied (``COPY ... FROM STDIN``, explicit column list, streamed in blocks) with the run's
   load id, ``source_file``, ``file_md5`` and the line number, the bytes are checked to still
   have the MD5 of step 1, and the audit row turns ``loaded`` inside the same transaction. Any
   failure rolls the whole file back; a killed loader's transaction is rolled back by the
   server, and the next run marks its audit row abandoned (``loaders.audit``). Line formats
   are hashed as they are read; a Parquet file (read by random access, footer first) is read
   from one open handle, which is hashed again once its rows are copied. A Parquet file
   pyarrow cannot open or read fails naming the file, with nothing landed from it.
3. Lines the format module quarantines land with a null record and their text in ``raw_line``.
   When PostgreSQL still refuses a record that the format module accepted (jsonb input rules
   Python cannot mirror exactly, such as numeric range or nesting depth), the line is
   quarantined and the file copied again, up to MAX_REFUSED_LINES lines per file.

Audit (``bronze.load_audit``): one row per file with ``export_id`` = ``data_file`` =
``source_file``, ``content_md5``, ``expected_items`` (records read), ``loaded_items``, ``bytes``
and status ``loaded``, ``skipped`` or ``failed`` (with the reason).
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import io
import logging
import os
import re
import time
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

from loaders import adt, audit, bronze, claims, departments, ehr, fills
from loaders.db import connect_as_loader

log = logging.getLogger(__name__)

EXPORTS_FOLDER = "AWSDynamoDB"
READ_SIZE = 256 * 1024
COPY_CHUNK = 1024 * 1024  # bytes of COPY rows sent at a time
MAX_REFUSED_LINES = 100

# What a record's own content makes COPY raise: invalid data, or a limit such as the json
# parser's stack depth (a line nested too deep).
RECORD_ERRORS = (
    psycopg.errors.DataError,
    psycopg.errors.ProgramLimitExceeded,
    psycopg.errors.StatementTooComplex,
)
COPY_ROW = re.compile(r"^COPY [^\n]*?, line (\d+)", re.MULTILINE)  # "COPY t, line 2, column ..."

Parser = Callable[[BinaryIO], Iterator[tuple[int, bytes | None, str]]]
ProgressCallback = Callable[[str, int, int], None]  # (source_file, files done, files in the run)


@dataclass(frozen=True)
class FeedSource:
    """One file feed: its audit source name, landing table, record column, file name pattern
    (``prefix*suffix``) and parser (the format modules ``loaders.adt``, ``departments``,
    ``ehr``, ``claims``, ``fills``)."""

    name: str
    table: str
    record_column: str
    suffix: str
    parse: Parser
    complete_ending: bytes = b""  # the watcher waits for the file to end with these bytes
    prefix: str = ""
    random_access: bool = False  # the parser seeks: it gets the raw handle, hashed afterwards

    @property
    def pattern(self) -> str:
        return f"{self.prefix}*{self.suffix}"

    def matches(self, lowered: str) -> bool:
        """Whether a lower-case base name has this feed's pattern."""
        return lowered.startswith(self.prefix) and lowered.endswith(self.suffix)


def _source(module: ModuleType, **options: Any) -> FeedSource:
    return FeedSource(
        module.SOURCE,
        module.TABLE,
        module.RECORD_COLUMN,
        module.SUFFIX,
        module.parse,
        prefix=getattr(module, "PREFIX", ""),
        **options,
    )


ADT = _source(adt, complete_ending=b"\n")
DEPARTMENTS = _source(departments)
EHR = _source(ehr, complete_ending=b"\n")
CLAIMS = _source(claims)
FILLS = _source(fills, complete_ending=b"PAR1", random_access=True)  # PAR1: the footer's magic
SOURCES = (ADT, DEPARTMENTS, EHR, CLAIMS, FILLS)
REALTIME_SOURCES = (ADT, DEPARTMENTS)  # the near-real-time feeds the watcher loads


@dataclass(frozen=True)
class FeedFile:
    source: FeedSource
    path: Path
    name: str  # path relative to the folder given to the loader: bronze's source_file (text_name)


@dataclass
class FileResult:
    """What loading one file did; ``rows`` and ``quarantined`` count what this run added."""

    source: str
    file: str
    status: str  # 'loaded' | 'skipped' | 'failed'
    rows: int = 0
    quarantined: int = 0
    bytes: int | None = None
    content_md5: str | None = None
    seconds: float = 0.0
    message: str = ""
    load_id: uuid.UUID | None = None
    waited: bool = False  # a concurrent run held the file's lock: this run waited for it
    concurrent_load: uuid.UUID | None = None  # skipped: loaded by this load, during this run


class LoadError(RuntimeError):
    """The load cannot start (no such folder, no feed files, no database)."""


class _Failed(Exception):
    pass


class _AlreadyLoaded(Exception):
    def __init__(self, prior: audit.LoadedFile, waited: bool = False) -> None:
        super().__init__(str(prior.load_id))
        self.prior = prior
        self.waited = waited


# --- helpers shared with loaders.treatments ----------------------------------------------------


def copy_escape(value: bytes) -> bytes:
    """COPY text format escaping; newlines are left alone (callers split or escape them)."""
    return value.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\r", b"\\r")


def failure_message(exc: BaseException) -> str:
    """The first line of an exception's text, else its type name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def text_name(name: str) -> str:
    """A file name or key as text PostgreSQL and the terminal accept: what is not valid Unicode
    (the bytes of a name that is not UTF-8, a lone surrogate) becomes a backslash escape."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def copy_error_row(exc: psycopg.Error) -> int | None:
    """The 1-based COPY input row a failed COPY names in its context, if any."""
    match = COPY_ROW.search(exc.diag.context or "")
    return int(match.group(1)) if match else None


# --- discovery ---------------------------------------------------------------------------------


def source_of(name: str, sources: Sequence[FeedSource] = SOURCES) -> FeedSource | None:
    """The feed a file's base name belongs to (case-insensitive; of the feeds whose pattern
    it matches, the one with the longest prefix), or None; also None when that feed is not
    one of ``sources``: an ``ehr_*.jsonl`` file is never taken for ADT events."""
    lowered = name.lower()
    if lowered.startswith("."):
        return None
    matching = [source for source in SOURCES if source.matches(lowered)]
    if not matching:
        return None
    source = max(matching, key=lambda source: len(source.prefix))
    return source if source in sources else None


def find_files(path: Path, sources: Sequence[FeedSource] = SOURCES) -> list[FeedFile]:
    """Every file of these feeds below ``path`` (or ``path`` itself), in sorted relative-path
    order."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path} does not exist")
    if path.is_file():
        source = source_of(path.name, sources)
        return [FeedFile(source, path, text_name(path.name))] if source else []
    found: list[FeedFile] = []
    for folder, subfolders, names in os.walk(path):
        subfolders[:] = [
            name for name in subfolders if not name.startswith(".") and name != EXPORTS_FOLDER
        ]
        for name in names:
            source = source_of(name, sources)
            if source is None:
                continue
            file_path = Path(folder) / name
            if file_path.is_file():
                name = text_name(file_path.relative_to(path).as_posix())
                found.append(FeedFile(source, file_path, name))
    return sorted(found, key=lambda feed_file: feed_file.name)


def file_md5(path: Path) -> tuple[str, int]:
    """Hex MD5 and size of a file's bytes."""
    md5 = hashlib.md5()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ_SIZE):
            md5.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), size


class _HashingReader(io.RawIOBase):
    """A raw reader that feeds every byte it reads to an MD5."""

    def __init__(self, handle: BinaryIO, md5: hashlib._Hash) -> None:
        self._handle = handle
        self._md5 = md5

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = self._handle.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self._md5.update(memoryview(buffer)[:count])
        return count


# --- loading -----------------------------------------------------------------------------------


def patterns(sources: Sequence[FeedSource] = SOURCES) -> str:
    """The feeds' file name patterns, for messages: ``*.jsonl, *.csv, ehr_*.jsonl, ...``."""
    return ", ".join(source.pattern for source in sources)


def load(
    path: Path,
    *,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[FileResult]:
    """Load every feed file below ``path``; raises LoadError when there is none."""
    files = find_files(Path(path))
    if not files:
        raise LoadError(f"no feed files ({patterns()}) found in {path}")
    return load_files(files, progress=progress, should_stop=should_stop)


def load_files(
    files: Sequence[FeedFile],
    *,
    load_id: uuid.UUID | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[FileResult]:
    """Load these files in the given order under one load id, each in its own transaction.

    Makes sure every bronze table exists first, and marks the audit rows of abandoned loads
    (``audit.fail_abandoned``). ``should_stop()`` is asked before each file: True ends the run
    there (the files done so far stay loaded).
    """
    load_id = load_id or uuid.uuid4()
    log.info("load %s: %d feed file(s)", load_id, len(files))
    try:
        audit_conn = audit.open_connection()
    except psycopg.OperationalError as exc:
        raise LoadError(f"cannot connect to the warehouse database: {exc}") from exc
    results: list[FileResult] = []
    with audit_conn:
        # audit rows written here need not wait for the disk: a file counts as loaded only by
        # the audit update inside its own (synchronous) load transaction
        audit_conn.execute("set synchronous_commit = off")
        run_started = audit.begin_load(audit_conn, load_id)
        bronze.ensure_tables(audit_conn)
        audit.fail_abandoned(audit_conn)
        data_conn = data_connection()
        try:
            for done, feed_file in enumerate(files):
                if should_stop is not None and should_stop():
                    log.info("load %s: stopped before %s", load_id, feed_file.name)
                    break
                if data_conn.broken or data_conn.closed:
                    data_conn = data_connection()
                results.append(_load_file(feed_file, load_id, audit_conn, data_conn, run_started))
                if progress:
                    progress(feed_file.name, done + 1, len(files))
        finally:
            data_conn.close()
    return results


def data_connection() -> psycopg.Connection:
    """A connection for load transactions. Its server session checks every second, even
    while it waits on a lock, that the loader is still there: a killed loader's transaction
    rolls back and its locks go within about a second, whatever it was doing. It acts as the
    loader role (WAREHOUSE_LOADER_ROLE) when one is configured."""
    conn = connect_as_loader(autocommit=True)
    conn.execute("set client_encoding = 'UTF8'")  # what COPY is sent in
    try:
        conn.execute("set client_connection_check_interval = '1s'")
    except psycopg.Error as exc:  # a platform without the check: the next query notices
        log.debug("client_connection_check_interval not set: %s", exc)
    return conn


def _load_file(
    feed_file: FeedFile,
    load_id: uuid.UUID,
    audit_conn: psycopg.Connection,
    data_conn: psycopg.Connection,
    run_started: datetime | None = None,
) -> FileResult:
    started = time.perf_counter()
    source = feed_file.source
    result = FileResult(source.name, feed_file.name, "failed", load_id=load_id)
    common = {
        "load_id": load_id,
        "source": source.name,
        "export_id": feed_file.name,
        "data_file": feed_file.name,
    }

    def done(status: str, message: str) -> FileResult:
        result.status = status
        result.message = message
        result.seconds = time.perf_counter() - started
        level = logging.ERROR if status == "failed" else logging.INFO
        log.log(level, "%s %s %s: %s", source.name, feed_file.name, status, message)
        return result

    try:
        result.content_md5, result.bytes = file_md5(feed_file.path)
    except OSError as exc:
        message = f"cannot be read: {exc.strerror or exc}"
        audit.record(audit_conn, **common, status="failed", loaded_items=0, error=message)
        return done("failed", message)

    audit_id = audit.start(
        audit_conn, **common, content_md5=result.content_md5, bytes_=result.bytes
    )
    try:
        result.rows, result.quarantined, result.waited = _copy_file(
            feed_file, load_id, result.content_md5, data_conn, audit_id
        )
    except _AlreadyLoaded as exc:
        prior = exc.prior
        result.waited = exc.waited
        same = "" if prior.data_file == feed_file.name else f" from {prior.data_file}"
        when = f" at {prior.finished_at:%Y-%m-%d %H:%M:%S %Z}" if prior.finished_at else ""
        if prior.load_id == load_id:
            message = (
                f"content identical to {prior.data_file}, loaded earlier in this run; "
                "nothing added"
            )
        elif run_started is not None and prior.finished_at and prior.finished_at >= run_started:
            result.concurrent_load = prior.load_id
            waited = ", while this run waited for it" if exc.waited else ""
            message = (
                f"content loaded{same} by a concurrent run (load {prior.load_id}){when}"
                f"{waited}; nothing added"
            )
        else:
            message = f"content already loaded{same} by load {prior.load_id}{when}; nothing added"
        audit.finish(
            audit_conn,
            audit_id,
            status="skipped",
            loaded_items=0,
            expected_items=prior.loaded_items,  # the same bytes hold the same records
        )
        return done("skipped", message)
    except (_Failed, psycopg.Error, OSError, ValueError, UnicodeError) as exc:
        message = failure_message(exc)
        audit.finish(audit_conn, audit_id, status="failed", loaded_items=0, error=message)
        return done("failed", f"rolled back: {message}")
    except Exception as exc:  # a bug must not stop the other files, but is logged in full
        log.exception("%s: unexpected error", feed_file.name)
        message = f"unexpected {type(exc).__name__}: {exc}"
        audit.finish(audit_conn, audit_id, status="failed", loaded_items=0, error=message)
        return done("failed", f"rolled back: {message}")
    except BaseException:  # interrupted: the transaction rolled back
        with contextlib.suppress(Exception):
            audit.finish(audit_conn, audit_id, status="failed", loaded_items=0, error="interrupted")
        raise
    quarantined = f", {result.quarantined:,} quarantined" if result.quarantined else ""
    waited = " after waiting for a concurrent run, which did not load it" if result.waited else ""
    return done("loaded", f"loaded {result.rows:,} rows{quarantined}{waited}")


def _copy_statement(source: FeedSource) -> sql.Composed:
    columns = ("load_id", "source_file", "file_md5", "line_number", source.record_column)
    return sql.SQL("copy {} ({}) from stdin (format text)").format(
        sql.Identifier(bronze.SCHEMA, source.table),
        sql.SQL(", ").join(map(sql.Identifier, (*columns, "raw_line"))),
    )


def _copy_file(
    feed_file: FeedFile,
    load_id: uuid.UUID,
    content_md5: str,
    data_conn: psycopg.Connection,
    audit_id: int,
) -> tuple[int, int, bool]:
    """Land a file in one transaction; returns (rows, quarantined rows, whether it waited for
    a concurrent run's lock)."""
    source = feed_file.source
    refused: set[int] = set()  # lines PostgreSQL refused as records: quarantined on retry
    numbers = _LineNumbers()  # the line number of each COPY row of the current attempt
    with data_conn.transaction(), data_conn.cursor() as cur:
        waited = audit.lock_key(data_conn, f"feed:{source.name}:{content_md5}")
        prior = audit.loaded_content(data_conn, source.name, content_md5)
        if prior is not None:
            raise _AlreadyLoaded(prior, waited)
        while True:
            numbers.clear()
            try:
                with data_conn.transaction():  # a savepoint: a refused line retries the file
                    rows, quarantined = _copy_rows(
                        cur, feed_file, load_id, content_md5, refused, numbers
                    )
                break
            except RECORD_ERRORS as exc:
                row = copy_error_row(exc)
                line = numbers.line_of(row) if row is not None else None
                where = f"{feed_file.name} line {line}" if line else feed_file.name
                primary = exc.diag.message_primary or failure_message(exc)
                if line is None or line in refused:
                    raise _Failed(f"{where}: {primary}") from exc
                if len(refused) >= MAX_REFUSED_LINES:
                    raise _Failed(
                        f"{where}: {primary} (more than {MAX_REFUSED_LINES} lines refused)"
                    ) from exc
                log.info("%s: PostgreSQL refused it (%s); quarantined", where, primary)
                refused.add(line)
        audit.finish(data_conn, audit_id, status="loaded", loaded_items=rows, expected_items=rows)
    return rows, quarantined, waited


class _LineNumbers:
    """The line number of each COPY row (1-based), kept as the rows where numbering jumps
    (blank lines skipped, multi-line CSV records): rows numbered consecutively, as a
    Parquet file's are, cost no memory however many there are."""

    def __init__(self) -> None:
        self._rows = array("q")  # COPY row where a run of consecutive line numbers starts
        self._lines = array("q")  # the line number of that row
        self._count = 0
        self._last = 0

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    def append(self, line: int) -> None:
        self._count += 1
        if line != self._last + 1 or not self._rows:
            self._rows.append(self._count)
            self._lines.append(line)
        self._last = line

    def __len__(self) -> int:
        return self._count

    def line_of(self, row: int) -> int | None:
        """The line number of COPY row ``row``, None when there is no such row."""
        if not 0 < row <= self._count:
            return None
        run = bisect.bisect_right(self._rows, row) - 1
        return self._lines[run] + row - self._rows[run]


def _raw_field(text: str) -> bytes:
    """A quarantined line's text as a COPY field PostgreSQL can store: undecodable bytes and
    NUL become U+FFFD."""
    storable = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    data = storable.replace("\x00", "\ufffd").encode("utf-8")
    return copy_escape(data).replace(b"\n", b"\\n")


def _named_errors(
    feed_file: FeedFile, records: Iterator[tuple[int, bytes | None, str]]
) -> Iterator[tuple[int, bytes | None, str]]:
    """The records, a Parquet file's read error turned into a failure naming the file."""
    try:
        yield from records
    except fills.ParquetError as exc:
        raise _Failed(f"{feed_file.name}: {exc}") from exc


def _copy_rows(
    cur: psycopg.Cursor,
    feed_file: FeedFile,
    load_id: uuid.UUID,
    content_md5: str,
    refused: set[int],
    numbers: _LineNumbers,
) -> tuple[int, int]:
    """COPY every row of the file; returns (rows, quarantined rows)."""
    prefix = b"%s\t%s\t%s\t" % (
        str(load_id).encode(),
        copy_escape(feed_file.name.encode("utf-8")).replace(b"\n", b"\\n"),
        content_md5.encode(),
    )
    rows = quarantined = 0
    md5 = hashlib.md5()
    parts: list[bytes] = []
    pending = 0
    source = feed_file.source
    with (
        feed_file.path.open("rb", buffering=0) as handle,
        cur.copy(_copy_statement(source)) as copy,
    ):
        if source.random_access:
            records = source.parse(handle)
        else:
            records = source.parse(io.BufferedReader(_HashingReader(handle, md5), READ_SIZE))
        for number, record, text in _named_errors(feed_file, records):
            if record is not None and number not in refused:
                row = b"%s%d\t%s\t\\N\n" % (prefix, number, copy_escape(record))
            else:
                row = b"%s%d\t\\N\t%s\n" % (prefix, number, _raw_field(text))
                quarantined += 1
            parts.append(row)
            numbers.append(number)
            rows += 1
            pending += len(row)
            if pending >= COPY_CHUNK:
                copy.write(b"".join(parts))
                parts.clear()
                pending = 0
        if parts:
            copy.write(b"".join(parts))
        if source.random_access:  # the bytes the rows came from: those of the handle read
            handle.seek(0)
            while chunk := handle.read(READ_SIZE):
                md5.update(chunk)
    if md5.hexdigest() != content_md5:
        raise _Failed(
            f"{feed_file.name} changed during the load: MD5 {content_md5} before, "
            f"{md5.hexdigest()} while copying"
        )
    return rows, quarantined
