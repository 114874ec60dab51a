"""Memory: the loaders' peak resident memory for a small input and a 10x larger one.

Each source's folder is loaded by ``python -m loaders load`` (a subprocess) into a fresh
scratch database; its peak RSS comes from ``os.wait4``. Sources: cycle 1 of the treatment
exports, each sub-folder of the clinical landing folder (EHR JSON lines, claims CSV, fills
Parquet) and of the admissions one (ADT events, department extracts), at a tenth of the size
and at the size. A loader that streams keeps the same peak whatever the input's size.
"""

from __future__ import annotations

import sys
from pathlib import Path

from loaders import db
from loaders.bench.common import Context, Section, Target, peak_rss_mib, scratch_database

TARGET_MIB = 150e6 / 2**20  # the target is 150 MB (decimal): 143.1 MiB


def run(ctx: Context) -> Section:
    small = _inputs(ctx, ctx.small)
    large = _inputs(ctx, ctx.treatments)
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for source in large:
        figures[source] = {}
        for size, inputs in (("small", small), ("large", large)):
            figures[source][size] = _measure(source, size, inputs[source])
    rows = []
    for source, sizes in figures.items():
        ratio = sizes["large"]["peak_mib"] / sizes["small"]["peak_mib"]
        sizes["large_over_small"] = {"peak_mib": ratio}
        rows.append(
            [
                source,
                sizes["small"]["input_mib"],
                sizes["large"]["input_mib"],
                sizes["small"]["peak_mib"],
                sizes["large"]["peak_mib"],
                ratio,
                int(sizes["large"]["rows"]),
            ]
        )
    largest = max(sizes["large"]["peak_mib"] for sizes in figures.values())
    return Section(
        key="memory",
        title=f"Loader peak memory (RSS): {ctx.small:,} against {ctx.treatments:,} treatments",
        columns=[
            "source",
            "small input MiB",
            "large input MiB",
            "small MiB",
            "large MiB",
            "large / small",
            "large rows",
        ],
        rows=rows,
        data={"sizes": {"small": ctx.small, "large": ctx.treatments}, "sources": figures},
        targets=[
            Target(
                "memory: loader peak RSS, largest input (MiB; 150 MB = 143.1 MiB)",
                largest,
                TARGET_MIB,
                higher_is_better=False,
            )
        ],
        notes=[
            "Peak RSS of the whole `python -m loaders load` process (interpreter, psycopg, rich "
            "and pyarrow included), one load per source folder into a fresh database.",
            "The admissions generator's size follows its days (60), not the treatments: both of "
            "its inputs are the same size.",
        ],
    )


def _inputs(ctx: Context, n: int) -> dict[str, Path]:
    """Every source's folder at size ``n``: a sub-folder per feed where the layout has them."""
    inputs = {"treatments": ctx.exports(n) / "cycle-1"}
    for landing in (ctx.clinical(n), ctx.admissions(n)):
        folders = sorted(path for path in landing.iterdir() if path.is_dir())
        if folders:
            inputs.update((folder.name, folder) for folder in folders)
        else:
            inputs[landing.parent.name] = landing
    return inputs


def _measure(source: str, size: str, folder: Path) -> dict[str, float]:
    with scratch_database(f"memory_{size}") as dbname:
        seconds, peak = peak_rss_mib([sys.executable, "-m", "loaders", "load", str(folder)])
        rows = _rows_landed(dbname)
    if rows == 0:
        raise RuntimeError(f"memory: loading {folder} landed no rows")
    print(f"    {source} ({size}): {peak:.0f} MiB, {rows:,} rows in {seconds:.1f} s", flush=True)
    return {
        "peak_mib": peak,
        "seconds": seconds,
        "rows": rows,
        "input_mib": _size(folder) / 2**20,
    }


def _rows_landed(dbname: str) -> int:
    """Rows the audit says this database's loads landed."""
    with db.connect(dbname=dbname) as conn:
        row = conn.execute(
            "select coalesce(sum(loaded_items), 0) from bronze.load_audit"
            " where status = 'loaded' and data_file is not null"
        ).fetchone()
    return int(row[0]) if row else 0


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
