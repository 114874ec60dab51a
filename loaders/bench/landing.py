"""Landing: the treatments loader against PostgreSQL's own ``\\copy`` of the same rows.

On a scratch database the loader (``python -m loaders load``, a subprocess) lands cycle 1 of
the large treatments export; before each of its runs (untimed) bronze's treatments table and
their audit rows are emptied, so the export is loaded again. The reference is psql's ``\\copy``
of the very rows the loader sends (load id, export id, data file, line number, item), already
decompressed into COPY text files, one per data file (prepared once, untimed), into a table
``like bronze.dynamo_treatments including all``: all files in one psql session and one
transaction (``-1``, as the loader's one transaction per export), and the files split across
two psql sessions copying in parallel, each its own transaction.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

from loaders import bronze, config, db, treatments
from loaders.bench.common import (
    Context,
    Section,
    Target,
    median,
    psql_path,
    race,
    scratch_database,
)
from loaders.feeds import copy_escape

REF_SCHEMA = "bench_ref"
LOADER = "loader"
SINGLE = "\\copy"
PARALLEL = "\\copy, 2 connections"
CONNECTIONS = 2


def run(ctx: Context) -> Section:
    folder = ctx.exports(ctx.treatments) / "cycle-1"
    work = ctx.scratch / "landing"
    with scratch_database("landing") as dbname:
        conninfo = config.connection_settings().conninfo(dbname)
        _prepare_tables(conninfo)
        print("  landing: decompressing the export into COPY text files (untimed)", flush=True)
        try:
            files, rows = _copy_files(folder, work)
            scripts = _scripts(work, files)
            contenders = {
                LOADER: lambda: _loader(folder),
                SINGLE: lambda: _psql([scripts[0]], conninfo),
                PARALLEL: lambda: _psql(scripts[1:], conninfo),
            }
            seconds = race(contenders, ctx.repeats, lambda name: _empty(conninfo, name, rows))
            _check_counts(conninfo, rows)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    medians = {name: median(values) for name, values in seconds.items()}
    rates = {name: rows / value for name, value in medians.items()}
    ratios = {name: rates[name] / rates[SINGLE] for name in rates}
    table = [[name, rows, medians[name], rates[name], ratios[name]] for name in seconds]
    faster = "beats" if rates[PARALLEL] > rates[SINGLE] else "does not beat"
    return Section(
        key="landing",
        title=f"Landing {rows:,} treatment items: the loader against psql \\copy",
        columns=["contender", "rows", "median s", "rows/s", "rows/s / single \\copy"],
        rows=table,
        data={
            "rows": rows,
            "data_files": len(files),
            "seconds": seconds,
            "median_s": medians,
            "rows_per_s": rates,
            "ratio_to_single_copy": ratios,
        },
        targets=[
            Target(
                "landing: loader rows/s / single \\copy rows/s",
                ratios[LOADER],
                0.9,
                higher_is_better=True,
            )
        ],
        notes=[
            "loader: `python -m loaders load` as a subprocess (start-up, manifest check, MD5 and "
            "item counts, audit included), from the gzipped files; \\copy: from files already "
            "decompressed and in COPY text format.",
            f"{len(files)} data files on {CONNECTIONS} parallel \\copy sessions {faster} one "
            f"session ({ratios[PARALLEL]:.2f}x its rows/s); the loader copies an export on one "
            "connection in one transaction (one export, all or nothing).",
        ],
    )


def _prepare_tables(conninfo: str) -> None:
    """bronze, created as the loader creates it, and the reference table of the same shape."""
    with db.connect_as_loader(autocommit=True) as conn:
        bronze.ensure_tables(conn)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"create schema {REF_SCHEMA}")
        conn.execute(
            f"create table {REF_SCHEMA}.{treatments.TABLE}"
            f" (like {treatments.SCHEMA}.{treatments.TABLE} including all)"
        )


def _copy_files(folder: Path, work: Path) -> tuple[list[Path], int]:
    """The rows the loader would send for every data file, in COPY text format, one file per
    data file; returns the files and the number of rows."""
    work.mkdir(parents=True, exist_ok=True)
    load_id = str(uuid.uuid4()).encode()
    files: list[Path] = []
    rows = 0
    for export in treatments.find_exports(folder):
        export_field = copy_escape(export.export_id.encode())
        for data_file in export.files:
            assert data_file.path is not None
            prefix = b"%s\t%s\t%s\t" % (load_id, export_field, copy_escape(data_file.key.encode()))
            target = work / f"{len(files):04d}.copy"
            first_line = 1
            with target.open("wb") as out:
                for block in treatments._line_blocks(data_file.path):
                    text, count = treatments._copy_rows(block, prefix, first_line)
                    first_line += block.count(b"\n")
                    out.write(text)
                    rows += count
            files.append(target)
    return files, rows


def _scripts(work: Path, files: list[Path]) -> list[Path]:
    """psql scripts: every file in one, then the files spread by size over CONNECTIONS."""
    target = f"{REF_SCHEMA}.{treatments.TABLE} ({', '.join(treatments.COPY_COLUMNS)})"
    shares: list[list[Path]] = [[] for _ in range(CONNECTIONS)]
    sizes = [0] * CONNECTIONS
    for path in sorted(files, key=lambda path: -path.stat().st_size):  # largest first
        lightest = sizes.index(min(sizes))
        shares[lightest].append(path)
        sizes[lightest] += path.stat().st_size
    scripts = []
    for name, paths in (("single", files), *((f"part-{i}", s) for i, s in enumerate(shares))):
        script = work / f"{name}.sql"
        script.write_text("".join(f"\\copy {target} from '{path}'\n" for path in paths))
        scripts.append(script)
    return scripts


def _psql(scripts: list[Path], conninfo: str) -> None:
    """Run each script on its own psql session, all at once, each in one transaction."""
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
    argv = [psql_path(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", conninfo, "-f"]
    processes = [subprocess.Popen([*argv, str(script)], env=env) for script in scripts]
    failed = [process.args for process in processes if process.wait() != 0]
    if failed:
        raise RuntimeError(f"psql failed: {failed}")


def _loader(folder: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "loaders", "load", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _empty(conninfo: str, name: str, rows: int) -> None:
    """Untimed, before a run: the contender's target emptied (for the loader also its audit
    rows, so the export loads again), after checking the loader's last run landed every row."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if name != LOADER:
            conn.execute(f"truncate {REF_SCHEMA}.{treatments.TABLE}")
            return
        _check_loader(conn, rows)
        conn.execute(f"truncate {treatments.SCHEMA}.{treatments.TABLE}")
        conn.execute("delete from bronze.load_audit where source = %s", (treatments.SOURCE,))


def _check_loader(conn: psycopg.Connection, rows: int) -> None:
    landed = _count(conn, f"{treatments.SCHEMA}.{treatments.TABLE}")
    if landed not in (0, rows):
        raise RuntimeError(f"the loader landed {landed:,} rows, not {rows:,}")


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0


def _check_counts(conninfo: str, rows: int) -> None:
    """After the last runs: the loader's table and the reference hold every row."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        landed = _count(conn, f"{treatments.SCHEMA}.{treatments.TABLE}")
        reference = _count(conn, f"{REF_SCHEMA}.{treatments.TABLE}")
    if not landed == reference == rows:
        raise RuntimeError(
            f"rows differ: loader {landed:,}, \\copy reference {reference:,}, expected {rows:,}"
        )
