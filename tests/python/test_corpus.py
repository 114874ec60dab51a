"""The bad-input corpus: every case of ``tests/corpus/`` against the real server.

A case is a folder ``tests/corpus/<source>/<case>/`` holding input files laid out as the loader
finds them below a path, and an ``expected.json`` (format in ``tests/corpus/README.md``). Each
case runs in the module's database after the known-good baseline (``tests/corpus/_baseline/``):

1. bronze is reset to the baseline (the baseline was loaded once with the loaders and kept);
2. the case is copied to a temporary folder (plus any file its ``generate`` list asks for) and
   ``python -m loaders load FOLDER`` runs on it: in-process through ``loaders.cli.main`` with
   captured output, or as a subprocess when the case says ``"subprocess": true`` or
   ``CORPUS_SUBPROCESS=1`` is set;
3. the output has no traceback (nor any logged exception), the exit code and the audit status
   are the expected outcome's, and the output holds every ``message_contains`` text;
4. the baseline's rows (landing tables and audit) are exactly as before, byte for byte;
5. the rows the case added are the expected count, quarantined on the expected lines, and every
   landed record equals an independent reading of its line in the input file (verbatim; a
   Parquet file's row read with pyarrow here).

``CORPUS_EXTRA=DIR[:DIR...]`` adds cases from other folders of the same layout.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import math
import os
import shutil
import subprocess
import sys
from base64 import b64encode
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from loaders import cli, feeds, treatments
from loaders.db import connect

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
BASELINE = CORPUS / "_baseline"
PROJECT_ROOT = CORPUS.parents[1]
EXPECTED = "expected.json"
GENERATED = "<generated>"
# outcome -> exit code of `python -m loaders load`
OUTCOMES = {"loaded": 0, "skipped": 0, "refused": 1, "failed": 1, "error": 1}
KEYS = {
    "description", "outcome", "message_contains", "bronze_rows", "quarantined",
    "quarantined_lines", "generate", "subprocess",
}
# landing table -> (record column, file column); the feed tables also have raw_line
LANDING = {
    "dynamo_treatments": ("item", "data_file"),
    "adt_events": ("event", "source_file"),
    "department_extracts": ("record", "source_file"),
    "ehr_documents": ("document", "source_file"),
    "claims": ("record", "source_file"),
    "prescription_fills": ("record", "source_file"),
}
CSV_TABLES = {"department_extracts", "claims"}
PARQUET_TABLES = {"prescription_fills"}
AUDIT = "load_audit"
BOM = b"\xef\xbb\xbf"


def _case_folders() -> list[Path]:
    roots = [CORPUS] + [Path(p) for p in os.environ.get("CORPUS_EXTRA", "").split(os.pathsep) if p]
    found = []
    for root in roots:
        for expected in sorted(root.glob(f"*/*/{EXPECTED}")):
            if not any(part.startswith(("_", ".")) for part in expected.relative_to(root).parts):
                found.append(expected.parent)
    return found


CASES = _case_folders()


@dataclass(frozen=True)
class Baseline:
    load_ids: list[Any]
    tables: list[str]
    checksums: dict[str, tuple[int, str]]


_connection: list[psycopg.Connection] = []  # the module's own connection, see ``baseline``


def _conn() -> psycopg.Connection:
    if not _connection or _connection[0].closed:
        _connection[:] = [connect(autocommit=True)]
    return _connection[0]


def _query(text: str | sql.Composable, params: Any = ()) -> list[tuple[Any, ...]]:
    return _conn().execute(text, params).fetchall()


def _bronze_tables() -> list[str]:
    rows = _query(
        "select table_name from information_schema.tables where table_schema = 'bronze'"
        " order by table_name"
    )
    return [row[0] for row in rows]


def _checksums(tables: list[str], load_ids: list[Any]) -> dict[str, tuple[int, str]]:
    """Per table: rows of these loads and an MD5 of their full text (every column)."""
    result = {}
    for name in tables:
        [(count, digest)] = _query(
            sql.SQL(
                "select count(*), md5(coalesce(string_agg(t::text, e'\\n' order by t::text), ''))"
                " from {} as t where load_id = any(%s)"
            ).format(sql.Identifier("bronze", name)),
            (load_ids,),
        )
        result[name] = (count, digest)
    return result


@pytest.fixture(scope="module")
def baseline(warehouse_db: str) -> Any:
    """Bronze holding the baseline, loaded once by the loaders and kept in ``corpus_baseline``
    to be put back before each case."""
    with connect(autocommit=True) as conn:
        conn.execute("drop schema if exists bronze cascade")
        conn.execute("drop schema if exists corpus_baseline cascade")
    exports = treatments.load(BASELINE)
    files = feeds.load(BASELINE)
    assert [result.status for result in exports] == ["loaded"] * len(exports) and exports
    assert [result.status for result in files] == ["loaded"] * len(files) and files
    tables = _bronze_tables()
    assert set(LANDING) | {AUDIT} <= set(tables)
    load_ids = [row[0] for row in _query("select distinct load_id from bronze.load_audit")]
    for name in (*LANDING, AUDIT):  # every source has rows a bad case could disturb
        count = sql.SQL("select count(*) from {}").format(sql.Identifier("bronze", name))
        assert _query(count)[0][0] > 0, name
    with connect(autocommit=True) as conn:
        conn.execute("create schema corpus_baseline")
        for name in tables:
            conn.execute(
                sql.SQL("create table {} as table {}").format(
                    sql.Identifier("corpus_baseline", name), sql.Identifier("bronze", name)
                )
            )
    yield Baseline(load_ids, tables, _checksums(tables, load_ids))
    for conn in _connection:
        conn.close()
    with connect(autocommit=True) as conn:
        conn.execute("drop schema if exists corpus_baseline cascade")
        conn.execute("drop schema if exists bronze cascade")


def _restore(base: Baseline) -> None:
    names = sql.SQL(", ").join(sql.Identifier("bronze", name) for name in base.tables)
    statements = [sql.SQL("truncate {}").format(names)] + [
        sql.SQL("insert into {} overriding system value select * from {}").format(
            sql.Identifier("bronze", name), sql.Identifier("corpus_baseline", name)
        )
        for name in base.tables
    ]
    _conn().execute(sql.SQL("; ").join(statements))  # one implicit transaction


# --- preparing a case ------------------------------------------------------------------------


def _read_expected(case: Path) -> dict[str, Any]:
    expected = json.loads((case / EXPECTED).read_text())
    assert set(expected) <= KEYS, f"unknown keys in {EXPECTED}: {set(expected) - KEYS}"
    assert expected.get("outcome") in OUTCOMES, f"outcome must be one of {sorted(OUTCOMES)}"
    assert isinstance(expected.get("description"), str) and expected["description"]
    assert isinstance(expected.get("bronze_rows"), int)
    if expected["outcome"] in {"refused", "failed", "error"}:
        assert expected.get("message_contains"), "a refusal or failure must name what is wrong"
    return expected


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    assert path.is_relative_to(root.resolve()), f"{relative} leaves the case folder"
    return path


def _generate(folder: Path, specs: list[dict[str, Any]]) -> None:
    """Write the files a case generates at run time, then fill ``<generated>`` checksums."""
    for spec in specs:
        path = _inside(folder, spec["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(
            part if isinstance(part, str) else part["repeat"] * part["times"]
            for part in spec["parts"]
        ).encode("utf-8")
        path.write_bytes(gzip.compress(data, compresslevel=1) if spec.get("gzip") else data)
    for manifest in folder.rglob(treatments.FILES_NAME):
        lines = manifest.read_text().splitlines()
        if GENERATED not in "".join(lines):
            continue
        prefix = manifest.parent.parent.parent
        entries = []
        for line in lines:
            entry = json.loads(line)
            if GENERATED in (entry.get("md5Checksum"), entry.get("etag")):
                key = entry["dataFileS3Key"]
                data = _inside(prefix, key[key.find(treatments.EXPORTS_FOLDER) :]).read_bytes()
                entry["md5Checksum"] = b64encode(hashlib.md5(data).digest()).decode()
                entry["etag"] = hashlib.md5(data).hexdigest()
            entries.append(json.dumps(entry))
        manifest.write_text("".join(line + "\n" for line in entries))


def _prepare(case: Path, expected: dict[str, Any], target: Path) -> Path:
    shutil.copytree(case, target, ignore=shutil.ignore_patterns(EXPECTED), symlinks=True)
    _generate(target, expected.get("generate", []))
    return target


# --- running it ------------------------------------------------------------------------------


def _run_in_process(
    folder: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> tuple[int, str]:
    capsys.readouterr()
    with caplog.at_level(logging.WARNING):
        status = cli.main(["load", str(folder)])
    captured = capsys.readouterr()
    logged = [record for record in caplog.records if record.exc_info]
    assert not logged, f"exception logged: {logged[0].getMessage()}"
    return status, captured.out + captured.err


def _run_subprocess(folder: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "loaders", "load", str(folder)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


# --- reading what landed ---------------------------------------------------------------------


@dataclass(frozen=True)
class Landed:
    table: str
    file: str
    export_id: str | None
    line: int
    record: str | None  # JSON text, None when quarantined
    raw_line: str | None


def _landed(base: Baseline) -> list[Landed]:
    rows = []
    for table, (record, file_column) in LANDING.items():
        export = sql.SQL("export_id") if table == "dynamo_treatments" else sql.SQL("null")
        raw = sql.SQL("null") if table == "dynamo_treatments" else sql.SQL("raw_line")
        query = sql.SQL(
            "select {file}, {export}, line_number, {record}::text, {raw} from {table}"
            " where load_id <> all(%s) order by 1, 3"
        ).format(
            file=sql.Identifier(file_column),
            export=export,
            record=sql.Identifier(record),
            raw=raw,
            table=sql.Identifier("bronze", table),
        )
        rows += [Landed(table, *row) for row in _query(query, (base.load_ids,))]
    return rows


def _json(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def _data_file_lines(folder: Path, export_id: str, key: str) -> list[bytes]:
    [export] = [
        path for path in folder.rglob(export_id) if path.parent.name == treatments.EXPORTS_FOLDER
    ]
    prefix = export.parent.parent
    data = (prefix / key[key.find(treatments.EXPORTS_FOLDER) :]).read_bytes()
    return gzip.decompress(data).split(b"\n") if data else []


def _csv_records(path: Path) -> dict[int, tuple[list[str], str]]:
    """Physical start line -> (fields, header) for every record, read with the csv module."""
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    header = next(reader)
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    records = {}
    previous = reader.line_num
    for row in reader:
        records[previous + 1] = (row, header)
        previous = reader.line_num
    return records


def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of a Parquet file as pyarrow reads it (the corpus files are small)."""
    return pq.read_table(path).to_pylist()


def _as_landed(value: Any, where: str) -> Any:
    """A Parquet value as the landed JSON reads back with decimals: dates ISO text, doubles
    their round-trip text as a decimal, decimals and the rest as they are."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | bool | int | Decimal):
        return value
    raise AssertionError(f"{where}: {type(value).__name__} is beyond this reader (add it here)")


def _jsonb_cannot_hold(row: dict[str, Any]) -> bool:
    """A row with a value JSON or jsonb has no form for: NaN or infinity, a NUL character."""
    return any(
        (isinstance(value, float) and not math.isfinite(value))
        or (isinstance(value, str) and "\x00" in value)
        for value in row.values()
    )


def _shown(line: bytes) -> str:
    """A quarantined line as bronze's raw_line keeps it."""
    return line.decode("utf-8", "replace").replace("\x00", "\ufffd").rstrip("\r\n")


def _check_verbatim(folder: Path, rows: list[Landed]) -> None:
    """Every landed record equals its line read independently; quarantined rows keep the line."""
    csv_files: dict[str, dict[int, tuple[list[str], str]]] = {}
    line_files: dict[tuple[str | None, str], list[bytes]] = {}
    parquet_files: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        where = f"{row.table} {row.file} line {row.line}"
        if row.table == "dynamo_treatments":
            assert row.export_id is not None
            key = (row.export_id, row.file)
            if key not in line_files:
                line_files[key] = _data_file_lines(folder, row.export_id, row.file)
            assert row.record is not None
            assert _json(row.record) == _json(line_files[key][row.line - 1]), where
            continue
        path = _inside(folder, row.file)
        assert path.is_file(), f"{where}: source_file names no input file"
        if row.table in PARQUET_TABLES:
            if row.file not in parquet_files:
                parquet_files[row.file] = _parquet_rows(path)
            values = parquet_files[row.file][row.line - 1]
            if row.record is None:
                assert row.raw_line is not None and _jsonb_cannot_hold(values), where
            else:
                expected = {key: _as_landed(value, where) for key, value in values.items()}
                assert _json(row.record) == expected, where
            continue
        if row.table in CSV_TABLES and row.record is not None:
            if row.file not in csv_files:
                csv_files[row.file] = _csv_records(path)
            fields, header = csv_files[row.file][row.line]
            assert _json(row.record) == dict(zip(header, fields, strict=True)), where
            continue
        key = (None, row.file)
        if key not in line_files:
            line_files[key] = path.read_bytes().split(b"\n")
        line = line_files[key][row.line - 1]
        if row.line == 1 and line.startswith(BOM):
            line = line[len(BOM) :]
        if row.record is None:
            assert row.raw_line is not None and row.raw_line.startswith(_shown(line)), where
        else:
            assert _json(row.record) == _json(line), where


# --- the test --------------------------------------------------------------------------------


def _case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(case) for case in CASES])
def test_corpus_case(
    case: Path,
    baseline: Baseline,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected = _read_expected(case)
    _restore(baseline)
    folder = _prepare(case, expected, tmp_path / case.name)
    if expected.get("subprocess") or os.environ.get("CORPUS_SUBPROCESS") == "1":
        status, output = _run_subprocess(folder)
    else:
        status, output = _run_in_process(folder, capsys, caplog)

    # what the user sees: no traceback, the right exit code, a message naming what is wrong
    assert "Traceback" not in output, output
    outcome = expected["outcome"]
    assert status == OUTCOMES[outcome], output
    flat = " ".join(output.split())  # rich may wrap long lines
    for text in expected.get("message_contains", []):
        assert " ".join(text.split()) in flat, f"{text!r} not in the output:\n{output}"

    # what was loaded before is unchanged, and no table appeared or went away
    assert _bronze_tables() == baseline.tables
    assert _checksums(baseline.tables, baseline.load_ids) == baseline.checksums

    # the audit of this run says the outcome, everywhere, with a reason when it is not a load
    audit_rows = _query(
        "select coalesce(data_file, export_id), status, error from bronze.load_audit"
        " where load_id <> all(%s)",
        (baseline.load_ids,),
    )
    if outcome == "error":
        assert audit_rows == []
    else:
        assert audit_rows, "the run left no audit row"
        assert {row[1] for row in audit_rows} == {outcome}, audit_rows
        if outcome in {"refused", "failed"}:
            assert all(row[2] for row in audit_rows), audit_rows

    # what this case landed: the count, the quarantined lines, and every record verbatim
    rows = _landed(baseline)
    quarantined = sorted(row.line for row in rows if row.record is None)
    assert len(rows) == expected["bronze_rows"], [(row.file, row.line) for row in rows]
    assert len(quarantined) == expected.get("quarantined", 0), quarantined
    if "quarantined_lines" in expected:
        assert quarantined == sorted(expected["quarantined_lines"])
    _check_verbatim(folder, rows)


def test_the_corpus_covers_every_source() -> None:
    sources = {case.parent.name for case in CASES if case.is_relative_to(CORPUS)}
    assert {"treatments", "adt", "departments", "ehr", "claims", "fills"} <= sources


def test_names_that_are_not_utf8_are_escaped_or_refused(
    baseline: Baseline,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """File and folder names that are not UTF-8 (not for git: written here) cannot reach the
    database or the terminal as they are: a feed file lands under an escaped name, an export in
    such a folder is refused, a PATH argument like that is an error; never a traceback. Names
    that look like terminal markup are printed as they are."""
    _restore(baseline)
    root = tmp_path / "names [/red]"
    feed = os.fsencode(root / "adt") + b"/adt_\xff.jsonl"
    os.makedirs(os.path.dirname(feed))
    with open(feed, "wb") as handle:
        handle.write(b'{"event_id":"EV900000271"}\n')
    export_id = "01738368000000-crlf0001"
    shutil.copytree(CORPUS / "treatments" / "crlf-line-ends", root, dirs_exist_ok=True)
    os.rename(
        os.fsencode(root / "AWSDynamoDB" / export_id),
        os.fsencode(root / "AWSDynamoDB") + b"/01738368000000-crlf\xff001",
    )

    shutil.copytree(
        CORPUS / "treatments" / "missing-final-newline" / "AWSDynamoDB" / "01738368000000-nonl0001",
        root / "AWSDynamoDB" / "[red]export",
    )

    status, output = _run_in_process(root, capsys, caplog)

    assert status == 1 and "Traceback" not in output
    flat = " ".join(output.split())
    assert "names [/red]" in flat
    assert "[red]export refused" in flat  # its manifest names another export's files
    assert "01738368000000-crlf\\udcff001 refused" in flat
    assert "the path is not UTF-8" in flat
    assert [(row.file, row.record is not None) for row in _landed(baseline)] == [
        ("adt/adt_\\udcff.jsonl", True)
    ]
    assert _checksums(baseline.tables, baseline.load_ids) == baseline.checksums

    status, output = _run_in_process(Path(os.fsdecode(feed)), capsys, caplog)
    assert status == 1 and "adt_\\udcff.jsonl: the path is not UTF-8" in output
