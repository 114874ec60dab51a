"""S1 loader: DynamoDB table exports (DynamoDB JSON) into ``bronze.dynamo_treatments``.

An export is the folder ``AWSDynamoDB/<ExportId>/`` under an export prefix, holding
``manifest-summary.json``, ``manifest-files.json`` and gzipped JSON-lines data files. For each
export found below the given path, in ``exportTime`` order:

1. An export the audit already lists as loaded with the same manifest (MD5 of
   ``manifest-files.json``) is skipped; the same export id with another manifest is refused.
2. Every data file's bytes are verified before anything is loaded: the key resolves inside the
   export's own folder (and to no file listed before), the file exists and the base64 MD5 of
   its bytes equals ``md5Checksum``; the summary's ``itemCount`` equals the sum of the files'.
   Any mismatch refuses the whole export.
3. All data files of the export are copied in one transaction (one ``COPY ... FROM STDIN`` per
   file, text format, streamed in blocks of about 256 KB). The same pass checks each file's gzip
   stream, that its count of non-empty lines equals ``itemCount`` and that its MD5 is still
   the one verified. Any error rolls the export back; the files are then verified in full
   (step 2, the gzip streams and the item counts): a mismatch refuses the export, naming every
   problem found, as step 2 does; otherwise the audit names the data file and line of the
   failure. Then the next export is loaded.

Each landed line keeps its load id, export id, data file key, 1-based line number and load time.
Empty lines are skipped and not counted, but line numbers stay those of the decompressed file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from loaders import audit, bronze
from loaders.feeds import copy_error_row, data_connection, text_name
from loaders.feeds import copy_escape as _escape
from loaders.feeds import failure_message as _failure_message

log = logging.getLogger(__name__)

SOURCE = "dynamo_treatments"
SCHEMA = "bronze"
TABLE = "dynamo_treatments"
COPY_COLUMNS = ("load_id", "export_id", "data_file", "line_number", "item")
SUMMARY_NAME = "manifest-summary.json"
FILES_NAME = "manifest-files.json"
EXPORTS_FOLDER = "AWSDynamoDB"
OUTPUT_FORMAT = "DYNAMODB_JSON"

READ_SIZE = 256 * 1024  # compressed bytes read at a time
# at most this many decompressed bytes per block, one COPY write: small enough that the rows of
# the next block are made before the server has used up what the socket holds
BLOCK_SIZE = 256 * 1024
MAX_PROBLEMS_SHOWN = 5
VERIFY_THREADS = min(4, os.cpu_count() or 1)

ProgressCallback = Callable[[str, int, int], None]

_DDL = """
create table if not exists {table} (
    load_id uuid not null,
    export_id text not null,
    data_file text not null,
    line_number integer not null,
    item jsonb not null,
    loaded_at timestamptz not null default now(),
    primary key (export_id, data_file, line_number)
)
"""


@dataclass
class ExportResult:
    """What one export's load did. ``files`` and ``items`` count what this run added."""

    export_id: str
    path: Path
    status: str  # 'loaded' | 'skipped' | 'refused' | 'failed'
    files: int = 0
    items: int = 0
    seconds: float = 0.0
    message: str = ""
    load_id: uuid.UUID | None = None
    waited: bool = False  # a concurrent run held the export's lock: this run waited for it
    concurrent_load: uuid.UUID | None = None  # skipped: loaded by this load, during this run


class LoadError(RuntimeError):
    """The load cannot start (nothing to load, no database)."""


@dataclass(frozen=True)
class DataFile:
    key: str  # dataFileS3Key as in the manifest: the value of bronze's data_file
    path: Path | None  # resolved path, None when the key cannot be resolved safely
    expected_items: int
    md5_checksum: str  # base64 MD5 of the .gz bytes, from the manifest
    problem: str | None = None  # why the key or entry is unusable


@dataclass
class Export:
    export_id: str
    folder: Path  # .../AWSDynamoDB/<ExportId>
    export_time: datetime | None = None
    expected_items: int = 0
    manifest_md5: str | None = None
    files: list[DataFile] = field(default_factory=list)
    problem: str | None = None  # why the manifests cannot be used at all
    count_problem: str | None = None  # summary itemCount differs from the files' sum


@dataclass(frozen=True)
class FileCheck:
    md5_hex: str | None
    size: int | None
    items: int | None
    problems: tuple[str, ...]


class _Failed(Exception):
    """The load of an export failed; ``audit_id`` is the audit row of the file at fault."""

    def __init__(self, message: str, audit_id: int | None = None) -> None:
        super().__init__(message)
        self.audit_id = audit_id


class _AlreadyLoaded(Exception):
    def __init__(self, prior: audit.LoadedExport, waited: bool = False) -> None:
        super().__init__(str(prior.load_id))
        self.prior = prior
        self.waited = waited


# --- discovery and manifests -------------------------------------------------------------------


def find_exports(path: Path) -> list[Export]:
    """Every export whose ``manifest-summary.json`` lies below ``path``, by exportTime."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path} does not exist")
    if path.is_file():
        summaries = [path] if path.name == SUMMARY_NAME else []
    else:
        summaries = sorted(path.rglob(SUMMARY_NAME))
    if not summaries:
        raise LoadError(f"no {SUMMARY_NAME} found in {path}: not a DynamoDB export folder")
    exports = [read_export(summary) for summary in summaries]
    latest = datetime.max.replace(tzinfo=UTC)
    return sorted(exports, key=lambda e: (e.export_time or latest, e.export_id))


def resolve_key(prefix: Path, key: str) -> Path:
    """The file an S3 key names: its part from ``AWSDynamoDB/`` on, under the export prefix.

    Raises ValueError when the key has no ``AWSDynamoDB/`` part or resolves outside the prefix.
    """
    start = key.find(EXPORTS_FOLDER + "/")
    if start < 0:
        raise ValueError(f"key has no '{EXPORTS_FOLDER}/' part")
    root = prefix.resolve()
    resolved = (root / key[start:]).resolve()
    if not resolved.is_relative_to(root):
        raise ValueError(f"key resolves outside the export prefix {root} (to {resolved})")
    return resolved


def read_export(summary_path: Path) -> Export:
    """Read an export's two manifests; problems are kept on the result, not raised."""
    folder = summary_path.parent
    export = Export(export_id=text_name(folder.name), folder=folder)
    if text_name(str(summary_path)) != str(summary_path):  # it could not be named in the audit
        export.problem = f"{text_name(str(summary_path))}: the path is not UTF-8; rename it"
        return export
    try:
        _read_manifests(export, summary_path)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        export.problem = text_name(str(exc))  # manifests may hold any text, even lone surrogates
    return export


def _read_manifests(export: Export, summary_path: Path) -> None:
    folder = export.folder
    if folder.parent.name != EXPORTS_FOLDER:
        raise ValueError(f"{summary_path} is not in an {EXPORTS_FOLDER}/<ExportId>/ folder")
    prefix = folder.parent.parent
    try:
        summary = json.loads(summary_path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{SUMMARY_NAME} is not valid JSON: {exc}") from exc
    if not isinstance(summary, dict):
        raise ValueError(f"{SUMMARY_NAME} is not a JSON object")
    try:
        export.export_time = datetime.fromisoformat(str(summary["exportTime"]))
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{SUMMARY_NAME} has no valid exportTime ({exc})") from exc
    if export.export_time.tzinfo is None:
        export.export_time = export.export_time.replace(tzinfo=UTC)
    output_format = summary.get("outputFormat", OUTPUT_FORMAT)
    if output_format != OUTPUT_FORMAT:
        raise ValueError(f"outputFormat is {output_format!r}, only {OUTPUT_FORMAT!r} is loaded")
    summary_items = summary.get("itemCount")
    if not isinstance(summary_items, int) or isinstance(summary_items, bool):
        raise ValueError(f"{SUMMARY_NAME} has no integer itemCount (found {summary_items!r})")
    export.expected_items = summary_items

    files_key = summary.get("manifestFilesS3Key")
    try:
        files_path = resolve_key(prefix, files_key) if files_key else folder / FILES_NAME
    except ValueError as exc:
        raise ValueError(f"manifestFilesS3Key {files_key}: {exc}") from exc
    if not files_path.is_file():
        raise ValueError(f"manifest {files_key or FILES_NAME} is missing (expected {files_path})")
    manifest = files_path.read_bytes()
    export.manifest_md5 = hashlib.md5(manifest).hexdigest()

    seen: set[str] = set()
    seen_paths: dict[Path, str] = {}
    own_folder = folder.resolve()
    for number, line in enumerate(manifest.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key = entry["dataFileS3Key"]
            items = entry["itemCount"]
            checksum = entry["md5Checksum"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{FILES_NAME} line {number} is not a valid entry ({exc})") from exc
        if not isinstance(key, str) or not isinstance(checksum, str):
            raise ValueError(f"{FILES_NAME} line {number}: dataFileS3Key/md5Checksum not text")
        if not isinstance(items, int) or isinstance(items, bool) or items < 0:
            raise ValueError(f"{FILES_NAME} line {number}: itemCount {items!r} is not a count")
        problem = None
        path: Path | None = None
        checksum = text_name(checksum)
        if text_name(key) != key:
            key = text_name(key)
            problem = f"{key}: dataFileS3Key is not valid Unicode (a lone surrogate)"
        elif key in seen:
            problem = f"{key}: listed twice in {FILES_NAME}"
        else:
            try:
                path = resolve_key(prefix, key)
            except ValueError as exc:
                problem = f"{key}: {exc}"
            else:  # an export loads only its own files, each once
                if not path.is_relative_to(own_folder):
                    problem = f"{key}: resolves outside the export folder {own_folder} (to {path})"
                elif path in seen_paths:
                    problem = f"{key}: the same file as {seen_paths[path]}, listed before it"
                seen_paths.setdefault(path, key)
        seen.add(key)
        export.files.append(DataFile(key, path, items, checksum, problem))

    listed = sum(data_file.expected_items for data_file in export.files)
    if listed != summary_items:
        export.count_problem = (
            f"{SUMMARY_NAME}: item count mismatch: summary itemCount {summary_items}, "
            f"{FILES_NAME} lists {listed} items in {len(export.files)} files"
        )


# --- reading data files ------------------------------------------------------------------------


def _line_blocks(path: Path, md5: Any | None = None) -> Iterator[bytes]:
    """Decompressed blocks of whole lines (each ends with a newline), about BLOCK_SIZE each.

    Feeds the compressed bytes to ``md5`` when given. Handles multi-member gzip; a 0-byte file
    is an empty file. Raises zlib.error or EOFError on a corrupt or truncated file.
    """
    decompressor = zlib.decompressobj(wbits=31)
    started = False
    tail = b""
    with path.open("rb") as handle:
        while raw := handle.read(READ_SIZE):
            if md5 is not None:
                md5.update(raw)
            pending = raw
            while pending:
                started = True
                out = decompressor.decompress(pending, BLOCK_SIZE)
                if decompressor.eof:
                    pending = decompressor.unused_data
                    decompressor = zlib.decompressobj(wbits=31)
                    started = False
                else:
                    pending = decompressor.unconsumed_tail
                if not out:
                    continue
                cut = out.rfind(b"\n")
                if cut < 0:
                    tail += out
                    continue
                yield tail + out[: cut + 1]
                tail = out[cut + 1 :]
    if started:
        tail += decompressor.flush()
        if not decompressor.eof:
            raise EOFError("compressed file ended before the end-of-stream marker")
    if tail:
        yield tail + b"\n"


def _all_lines_are_objects(block: bytes) -> bool:
    """True when every line of a block starts with ``{`` (the usual case: no empty lines)."""
    return block[:1] == b"{" and block.count(b"\n{") + 1 == block.count(b"\n")


def _count_items(block: bytes) -> int:
    """Non-empty lines of a block (a line of only spaces, tabs or CR is empty)."""
    if _all_lines_are_objects(block):
        return block.count(b"\n")
    return sum(1 for line in block.split(b"\n") if line.strip(b" \t\r"))


def _file_md5(path: Path) -> Any:
    md5 = hashlib.md5()
    with path.open("rb") as handle:
        while raw := handle.read(READ_SIZE):
            md5.update(raw)
    return md5


def verify_file(data_file: DataFile, *, content: bool = True) -> FileCheck:
    """Check one data file against its manifest entry; never raises for a bad file.

    Without ``content`` only the file's bytes are checked (the key, the file, its MD5): the
    gzip stream and the item count are then checked as the file is copied.
    """
    if data_file.problem or data_file.path is None:
        return FileCheck(None, None, None, (data_file.problem or f"{data_file.key}: unusable",))
    if not data_file.path.is_file():
        return FileCheck(
            None, None, None, (f"{data_file.key}: file missing (expected at {data_file.path})",)
        )
    md5 = hashlib.md5()
    items: int | None = None
    problems: list[str] = []
    try:
        size = data_file.path.stat().st_size
        if content:
            count = 0
            for block in _line_blocks(data_file.path, md5):
                count += _count_items(block)
            items = count
        else:
            md5 = _file_md5(data_file.path)
    except OSError as exc:
        return FileCheck(None, None, None, (f"{data_file.key}: cannot be read ({exc})",))
    except (zlib.error, EOFError) as exc:
        problems.append(f"{data_file.key}: not a valid gzip file ({exc})")
        md5 = _file_md5(data_file.path)  # the whole file's checksum, for the message
    found_b64 = base64.b64encode(md5.digest()).decode()
    if found_b64 != data_file.md5_checksum:
        problems.append(
            f"{data_file.key}: MD5 mismatch: manifest md5Checksum {data_file.md5_checksum}, "
            f"file has {found_b64}"
        )
    if items is not None and items != data_file.expected_items:
        problems.append(
            f"{data_file.key}: item count mismatch: manifest itemCount "
            f"{data_file.expected_items}, file has {items} non-empty lines"
        )
    return FileCheck(md5.hexdigest(), size, items, tuple(problems))


def verify_export(export: Export, *, content: bool = True) -> list[FileCheck]:
    """``verify_file`` for every data file of the export, on VERIFY_THREADS threads (zlib and
    MD5 release the GIL)."""
    with ThreadPoolExecutor(max_workers=VERIFY_THREADS) as pool:
        return list(
            pool.map(lambda data_file: verify_file(data_file, content=content), export.files)
        )


# --- database ----------------------------------------------------------------------------------


def table() -> sql.Identifier:
    return sql.Identifier(SCHEMA, TABLE)


def ensure_tables(conn: psycopg.Connection) -> None:
    """Create the ``bronze`` schema, the landing table and the audit table when missing."""
    with conn.transaction():
        audit.lock_ddl(conn)
        audit.ensure_table(conn)
        conn.execute(sql.SQL(_DDL).format(table=table()))


def _copy_statement() -> sql.Composed:
    return sql.SQL("copy {} ({}) from stdin (format text)").format(
        table(), sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
    )


def _copy_rows(block: bytes, prefix: bytes, first_line: int) -> tuple[bytes, int]:
    """COPY text rows for the non-empty lines of a block; returns them and their count."""
    rows, count, _ = _copy_block(block, prefix, first_line)
    return rows, count


def _copy_block(block: bytes, prefix: bytes, first_line: int) -> tuple[bytes, int, int]:
    """``_copy_rows`` and the number of lines in the block, empty ones included."""
    lines = _escape(block).split(b"\n")
    lines.pop()  # the block ends with a newline
    out: list[bytes] = []
    append = out.append
    for number, line in enumerate(lines, first_line):
        # escaped tab and CR are two characters: drop them to see whether the line is blank
        if line[:1] == b"{" or line.replace(b"\\t", b"").replace(b"\\r", b"").strip(b" "):
            append(prefix)
            append(b"%d\t" % number)
            append(line)
            append(b"\n")
    return b"".join(out), len(out) // 4, len(lines)


def _nth_item_line(path: Path, nth: int) -> int | None:
    """Physical line number (1-based) of the ``nth`` non-empty line of a data file."""
    seen = 0
    first = 1
    for block in _line_blocks(path):
        lines = block.split(b"\n")
        lines.pop()
        for number, line in enumerate(lines, first):
            if line.strip(b" \t\r"):
                seen += 1
                if seen == nth:
                    return number
        first += len(lines)
    return None


def _copy_error(exc: psycopg.Error, data_file: DataFile) -> str:
    """A message naming the data file and line for a failed COPY."""
    diag = exc.diag
    primary = diag.message_primary or str(exc).strip().splitlines()[0]
    detail = f" ({diag.message_detail})" if diag.message_detail else ""
    row = copy_error_row(exc)
    where = data_file.key
    if row is not None and data_file.path is not None:
        try:
            line = _nth_item_line(data_file.path, row)
        except (OSError, zlib.error, EOFError):
            line = None
        if line is not None:
            where = f"{data_file.key} line {line}"
    return f"{where}: {primary}{detail}"


# --- loading -----------------------------------------------------------------------------------


def load(path: Path, progress: ProgressCallback | None = None) -> list[ExportResult]:
    """Load every export found below ``path`` into bronze, oldest exportTime first.

    Returns one result per export; a refused or failed export does not stop the others.
    ``progress(export_id, items_done, items_total)`` is called as items are copied. Marks the
    audit rows of abandoned loads first (``audit.fail_abandoned``).
    """
    exports = find_exports(Path(path))
    load_id = uuid.uuid4()
    log.info("load %s: %d export(s) found below %s", load_id, len(exports), path)
    try:
        audit_conn = audit.open_connection()
    except psycopg.OperationalError as exc:
        raise LoadError(f"cannot connect to the warehouse database: {exc}") from exc
    with audit_conn:
        run_started = audit.begin_load(audit_conn, load_id)
        bronze.ensure_tables(audit_conn)  # every source's table, this one included
        audit.fail_abandoned(audit_conn)
        data_conn = data_connection()
        try:
            results = []
            for export in exports:
                if data_conn.broken or data_conn.closed:
                    data_conn = data_connection()
                results.append(
                    _load_export(export, load_id, audit_conn, data_conn, progress, run_started)
                )
        finally:
            data_conn.close()
    return results


def _load_export(
    export: Export,
    load_id: uuid.UUID,
    audit_conn: psycopg.Connection,
    data_conn: psycopg.Connection,
    progress: ProgressCallback | None,
    run_started: datetime | None = None,
) -> ExportResult:
    started = time.perf_counter()
    result = ExportResult(export.export_id, export.folder, "failed", load_id=load_id)
    common = {"load_id": load_id, "source": SOURCE, "export_id": export.export_id}

    def done(status: str, message: str) -> ExportResult:
        result.status = status
        result.message = message
        result.seconds = time.perf_counter() - started
        level = {"loaded": logging.INFO, "skipped": logging.INFO, "refused": logging.WARNING}
        log.log(
            level.get(status, logging.ERROR), "export %s %s: %s", export.export_id, status, message
        )
        return result

    if export.problem:
        message = export.problem
        audit.record(
            audit_conn, **common, status="refused", content_md5=export.manifest_md5, error=message
        )
        return done("refused", message)

    prior = audit.loaded_export(audit_conn, SOURCE, export.export_id)
    if prior is not None:
        status, message = _judge_prior(export, prior, run_started, result)
        audit.record(
            audit_conn,
            **common,
            status=status,
            content_md5=export.manifest_md5,
            expected_items=export.expected_items,
            loaded_items=0,
            error=None if status == "skipped" else message,
        )
        return done(status, message)

    export_audit = audit.start(
        audit_conn, **common, content_md5=export.manifest_md5, expected_items=export.expected_items
    )
    # the bytes first (a missing file or a wrong MD5 refuses the export before any row is
    # copied); the gzip streams and item counts are checked as the files are copied
    checks = verify_export(export, content=False)
    verified = time.perf_counter()
    log.info(
        "export %s: %d data files' bytes verified in %.2f s",
        export.export_id,
        len(export.files),
        verified - started,
    )
    if export.count_problem or any(check.problems for check in checks):
        return done(
            "refused", _refuse(export, verify_export(export), load_id, audit_conn, export_audit)
        )

    try:
        items, result.waited = _copy_export(
            export, checks, load_id, audit_conn, data_conn, export_audit, progress
        )
    except _AlreadyLoaded as exc:  # another load finished it while this one waited for the lock
        result.waited = exc.waited
        status, message = _judge_prior(export, exc.prior, run_started, result)
        audit.finish(
            audit_conn,
            export_audit,
            status=status,
            loaded_items=0,
            error=None if status == "skipped" else message,
        )
        return done(status, message)
    except (_Failed, psycopg.Error, OSError, zlib.error, EOFError) as exc:
        # rolled back. Verified in full now: a gzip stream or an item count that does not match
        # the manifest refuses the export, as a mismatch found before the copy does
        checks = verify_export(export)
        if any(check.problems for check in checks):
            return done("refused", _refuse(export, checks, load_id, audit_conn, export_audit))
        message = _failure_message(exc)
        file_audit = exc.audit_id if isinstance(exc, _Failed) else None
        _record_failure(export, checks, load_id, audit_conn, export_audit, message, file_audit)
        return done("failed", f"rolled back: {message}")
    except Exception as exc:  # a bug must not stop the other exports, but is logged in full
        log.exception("export %s: unexpected error", export.export_id)
        message = f"unexpected {type(exc).__name__}: {exc}"
        _record_failure(export, checks, load_id, audit_conn, export_audit, message)
        return done("failed", f"rolled back: {message}")
    except BaseException:
        audit.fail_running(audit_conn, load_id, export.export_id, "interrupted, rolled back")
        raise

    log.info("export %s: copied in %.2f s", export.export_id, time.perf_counter() - verified)
    result.files = len(export.files)
    result.items = items
    waited = " after waiting for a concurrent run, which did not load it" if result.waited else ""
    return done("loaded", f"loaded {items:,} items from {len(export.files)} data files{waited}")


def _judge_prior(
    export: Export,
    prior: audit.LoadedExport,
    run_started: datetime | None = None,
    result: ExportResult | None = None,
) -> tuple[str, str]:
    """Skipped or refused, and why, for an export the audit lists as loaded by ``prior``; a
    load that finished after ``run_started`` is named as a concurrent run on ``result``."""
    when = f" at {prior.finished_at:%Y-%m-%d %H:%M:%S %Z}" if prior.finished_at else ""
    concurrent = bool(run_started and prior.finished_at and prior.finished_at >= run_started)
    if concurrent and result is not None:
        result.concurrent_load = prior.load_id
    if prior.content_md5 == export.manifest_md5:
        if concurrent:
            waited = ", while this run waited for it" if result and result.waited else ""
            return "skipped", (
                f"loaded by a concurrent run (load {prior.load_id}){when}{waited} "
                f"({prior.loaded_items or 0:,} items); nothing added"
            )
        return "skipped", (
            f"already loaded by load {prior.load_id}{when} "
            f"({prior.loaded_items or 0:,} items); nothing added"
        )
    return "refused", (
        f"export {export.export_id} was loaded before by load {prior.load_id}{when} "
        f"with manifest MD5 {prior.content_md5}; this manifest has MD5 {export.manifest_md5}"
    )


def _refuse(
    export: Export,
    checks: list[FileCheck],
    load_id: uuid.UUID,
    audit_conn: psycopg.Connection,
    export_audit: int,
) -> str:
    """Audit the export and each of its data files ``refused`` (a file the copy had started,
    its row closed so); returns the message naming the problems."""
    problems = [problem for check in checks for problem in check.problems]
    if export.count_problem:
        problems.append(export.count_problem)
    message = _refusal_message(problems)
    started = _started_files(audit_conn, load_id, export.export_id)
    for data_file, check in zip(export.files, checks, strict=True):
        error = "; ".join(check.problems) or "verified, not loaded: the export was refused"
        if data_file.key in started:
            audit.finish(
                audit_conn,
                started[data_file.key],
                status="refused",
                loaded_items=0,
                bytes_=check.size,
                content_md5=check.md5_hex,
                error=error,
            )
            continue
        _record_file(audit_conn, load_id, export, data_file, check, "refused", error)
    audit.finish(
        audit_conn,
        export_audit,
        status="refused",
        loaded_items=0,
        bytes_=sum(check.size or 0 for check in checks),
        error=message,
    )
    return message


def _refusal_message(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    return shown + (f"; and {more} more problem(s)" if more > 0 else "")


def _copy_export(
    export: Export,
    checks: list[FileCheck],
    load_id: uuid.UUID,
    audit_conn: psycopg.Connection,
    data_conn: psycopg.Connection,
    export_audit: int,
    progress: ProgressCallback | None,
) -> tuple[int, bool]:
    """Copy every data file in one transaction; returns the items loaded and whether it waited
    for a concurrent run's lock on the export."""
    total = export.expected_items
    done = 0
    if progress:
        progress(export.export_id, 0, total)
    copy_sql = _copy_statement()
    export_field = _escape(export.export_id.encode())
    with data_conn.transaction(), data_conn.cursor() as cur:
        cur.execute("set local client_encoding = 'UTF8'")
        waited = audit.lock_key(data_conn, f"{SOURCE}:{export.export_id}")
        prior = audit.loaded_export(data_conn, SOURCE, export.export_id)
        if prior is not None:
            raise _AlreadyLoaded(prior, waited)
        for data_file, check in zip(export.files, checks, strict=True):
            assert data_file.path is not None
            file_audit = audit.start(
                audit_conn,
                load_id=load_id,
                source=SOURCE,
                export_id=export.export_id,
                data_file=data_file.key,
                content_md5=check.md5_hex,
                expected_items=data_file.expected_items,
                bytes_=check.size,
            )
            prefix = b"%s\t%s\t%s\t" % (
                str(load_id).encode(),
                export_field,
                _escape(data_file.key.encode()),
            )
            md5 = hashlib.md5()
            loaded = 0
            try:
                with cur.copy(copy_sql) as copy:
                    first_line = 1
                    for block in _line_blocks(data_file.path, md5):
                        rows, count, lines = _copy_block(block, prefix, first_line)
                        first_line += lines
                        if rows:  # a view: psycopg sends it in slices without copying them
                            copy.write(memoryview(rows))
                        loaded += count
                        if progress and count:
                            progress(export.export_id, done + loaded, total)
            except psycopg.Error as exc:
                raise _Failed(_copy_error(exc, data_file), file_audit) from exc
            if md5.hexdigest() != check.md5_hex or loaded != data_file.expected_items:
                raise _Failed(
                    f"{data_file.key} changed during the load: verified MD5 {check.md5_hex} "
                    f"with {data_file.expected_items} items, read MD5 {md5.hexdigest()} "
                    f"with {loaded} items",
                    file_audit,
                )
            done += loaded
            # inside the load transaction: the file counts as loaded only if the export commits
            audit.finish(data_conn, file_audit, status="loaded", loaded_items=loaded)
        audit.finish(
            data_conn,
            export_audit,
            status="loaded",
            loaded_items=done,
            bytes_=sum(check.size or 0 for check in checks),
        )
    if progress:
        progress(export.export_id, done, total)
    return done, waited


def _record_failure(
    export: Export,
    checks: list[FileCheck],
    load_id: uuid.UUID,
    audit_conn: psycopg.Connection,
    export_audit: int,
    message: str,
    file_audit: int | None = None,
) -> None:
    """After the rollback: the export row, the started files and the files not reached."""
    audit.finish(
        audit_conn,
        export_audit,
        status="failed",
        loaded_items=0,
        bytes_=sum(check.size or 0 for check in checks),
        error=message,
    )
    if file_audit is not None:
        audit.finish(audit_conn, file_audit, status="failed", loaded_items=0, error=message)
    audit.fail_running(
        audit_conn, load_id, export.export_id, f"rolled back with the export: {message}"
    )
    started = _started_files(audit_conn, load_id, export.export_id)
    for data_file, check in zip(export.files, checks, strict=True):
        if data_file.key not in started:
            error = f"not loaded: the export failed ({message})"
            _record_file(audit_conn, load_id, export, data_file, check, "failed", error)


def _record_file(
    audit_conn: psycopg.Connection,
    load_id: uuid.UUID,
    export: Export,
    data_file: DataFile,
    check: FileCheck,
    status: str,
    error: str,
) -> None:
    """The audit row of a data file the copy never reached, closed with nothing loaded."""
    audit.record(
        audit_conn,
        load_id=load_id,
        source=SOURCE,
        export_id=export.export_id,
        status=status,
        data_file=data_file.key,
        content_md5=check.md5_hex,
        expected_items=data_file.expected_items,
        loaded_items=0,
        bytes_=check.size,
        error=error,
    )


def _started_files(
    audit_conn: psycopg.Connection, load_id: uuid.UUID, export_id: str
) -> dict[str, int]:
    """The audit rows of the data files this load started for the export, by data file."""
    query = sql.SQL(
        "select data_file, audit_id from {} where load_id = %s and export_id = %s"
        " and data_file is not null"
    ).format(audit.table())
    return {row[0]: row[1] for row in audit_conn.execute(query, (load_id, export_id))}
