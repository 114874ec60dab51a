"""From the export files to typed silver rows: the project's path (``python -m loaders load``,
then ``dbt run`` of the two treatment staging models) against a row-by-row INSERT loader and
the pandas route (``silver_alternatives``), on cycle 1 of the large treatments export."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loaders import db
from loaders.bench import silver_alternatives as alternatives
from loaders.bench.common import (
    Context,
    Section,
    Target,
    median,
    model_seconds,
    race,
    run_dbt,
    run_results,
    scratch_database,
)

MODELS = ("stg_dynamo__treatment_versions", "stg_dynamo__treatments")
SILVER = "silver.stg_dynamo__treatment_versions"
ROW_BY_ROW = "row-by-row INSERT"
TABLES = {ROW_BY_ROW: "silver_row_by_row", "pandas": "silver_pandas"}
# what each contender's table must agree with silver on
CHECKS = "count(*), sum(cost), count(distinct treatment_id), count(treated_at)"
TARGET_RATIO = 5.0


def run(ctx: Context) -> Section:
    cycle = ctx.exports(ctx.treatments) / "cycle-1"
    work = ctx.scratch / "silver_path"
    breakdown: list[dict[str, Any]] = []
    with scratch_database("silver"):
        _dbt(work, "seed")
        contenders = {
            "project": lambda: breakdown.append(_project(cycle, work)),
            "row-by-row INSERT": lambda: alternatives.row_by_row(cycle, TABLES[ROW_BY_ROW]),
            "pandas": lambda: alternatives.pandas_path(cycle, TABLES["pandas"]),
        }
        seconds = race(contenders, ctx.repeats, before_each=_reset)
        counts = _check()
    shutil.rmtree(work, ignore_errors=True)
    return _section(seconds, counts, breakdown)


def _project(cycle: Path, work: Path) -> dict[str, Any]:
    """The loader, then dbt; the seconds of each and dbt's per-model seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "loaders", "load", str(cycle)], check=True,
                   stdout=subprocess.DEVNULL)
    loaded = time.perf_counter()
    models = _dbt(work, "run", "--select", *MODELS)
    return {"loader_s": loaded - started, "dbt_s": time.perf_counter() - loaded, **models}


def _dbt(work: Path, *args: str) -> dict[str, float]:
    """Run dbt on the scratch database; the execution seconds of each model it ran."""
    target = work / "target"
    run_dbt(target, *args)
    return {f"{name}_s": seconds for name, seconds in model_seconds(run_results(target)).items()}


def _reset(name: str) -> None:
    """Untimed before each run: an empty target (bronze and silver for the project's path)."""
    with db.connect(autocommit=True) as conn:
        if name == "project":
            conn.execute("drop schema if exists bronze cascade")
            conn.execute(f"drop table if exists {SILVER} cascade")
        else:
            alternatives.create_table(conn, TABLES[name])
        conn.execute("checkpoint")  # each run starts without the previous one's dirty pages


def _check() -> dict[str, list[Any]]:
    """Each table's row count, sum(cost), distinct treatment_ids and count(treated_at); raise
    unless the alternatives' equal silver's."""
    tables = {"project": SILVER}
    tables.update((name, f"{alternatives.SCHEMA}.{table}") for name, table in TABLES.items())
    with db.connect() as conn:
        counts = {name: list(conn.execute(f"select {CHECKS} from {t}").fetchone() or ())
                  for name, t in tables.items()}
    wrong = {name: c for name, c in counts.items() if c != counts["project"]}
    if wrong:
        raise RuntimeError(
            f"silver path: not the same typed rows as silver ({CHECKS}): silver "
            f"{counts['project']}, " + ", ".join(f"{name} {c}" for name, c in wrong.items())
        )
    return counts


def _section(seconds: dict[str, list[float]], counts: dict[str, list[Any]],
             breakdown: list[dict[str, Any]]) -> Section:
    medians = {name: median(values) for name, values in seconds.items()}
    rows = {name: int(c[0]) for name, c in counts.items()}
    relative = {name: medians[name] / medians["project"] for name in medians}
    project_parts = {key: median([b[key] for b in breakdown]) for key in breakdown[0]}
    return Section(
        key="silver_path",
        title="Export files to typed silver rows: loader + dbt, row-by-row INSERT, pandas",
        columns=["contender", "rows", "median s", "rows/s", "time relative to project"],
        rows=[[name, rows[name], medians[name], rows[name] / medians[name], relative[name]]
              for name in seconds],
        data={
            "seconds": seconds, "median_s": medians, "rows": rows,
            "rows_per_s": {name: rows[name] / medians[name] for name in medians},
            "relative_to_project": relative,
            "project_breakdown": breakdown, "project_breakdown_median_s": project_parts,
            "checks": {"columns": CHECKS,
                       "values": {name: [str(v) for v in c] for name, c in counts.items()}},
        },
        targets=[Target(f"silver path: {name} / project time", relative[name], TARGET_RATIO, True)
                 for name in TABLES],
        notes=[
            "project: `python -m loaders load` (manifest and MD5 checks, audit, COPY of the JSONB "
            "lines into bronze) then `dbt run` of stg_dynamo__treatment_versions (set-wise SQL "
            "decoding, cleaning, reject rules, latest version, three indexes, analyze) and the "
            "view stg_dynamo__treatments; dbt's own start-up counted. Median loader "
            f"{project_parts['loader_s']:.1f} s, dbt {project_parts['dbt_s']:.1f} s.",
            "row-by-row INSERT: per line json.loads, dynamo_json.deserialize_item, the Python "
            "cleaning rules (loaders/bench/silver_cleaning.py), one prepared INSERT per row, one "
            "transaction.",
            "pandas: per data file json.loads + deserialize_item, json_normalize, the same "
            "cleaning helpers (Series.map) with vectorised to_datetime, str and np.select, "
            "DataFrame.to_sql(if_exists='append', chunksize=10,000) via SQLAlchemy "
            "postgresql+psycopg.",
            "The alternatives keep every line with its reject rule but compute no "
            "is_latest_version (nor the latest-version view), build no index, check no manifest "
            "and keep no bronze copy or audit; their rows equal silver's on "
            f"{CHECKS}.",
        ],
    )
