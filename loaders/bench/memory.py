"""Memory: the loaders' peak resident memory for a small input and a 10x larger one.

Each load is ``python -m loaders load <folder>`` in a process of its own, into a fresh scratch
database; its peak RSS comes from the kernel (``wait4``). The inputs are the generated sources
at the small and the large size: cycle 1 of the treatment exports (gzipped DynamoDB JSON),
the EHR, claims and fills files (JSON lines, CSV, Parquet) and the ADT feed with the
department extracts. The loaders stream every file in blocks or record batches, so memory
should not follow the input's size.
"""

from __future__ import annotations

import sys
from pathlib import Path

from loaders.bench.common import Context, Section, Target, peak_rss_mib, scratch_database

LIMIT_MIB = 150.0


def _inputs(ctx: Context, n: int) -> dict[str, Path]:
    return {
        "treatment exports (cycle 1)": ctx.exports(n) / "cycle-1",
        "EHR, claims, fills": ctx.clinical(n),
        "ADT feed, department extracts": ctx.admissions(n),
    }


def _input_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def run(ctx: Context) -> Section:
    figures: dict[str, dict[str, float]] = {}
    for label in _inputs(ctx, ctx.small):
        figures[label] = {}
    for size_name, n in (("small", ctx.small), ("large", ctx.treatments)):
        for label, folder in _inputs(ctx, n).items():
            with scratch_database(f"memory_{size_name}"):
                seconds, mib = peak_rss_mib([sys.executable, "-m", "loaders", "load", str(folder)])
            figures[label][f"{size_name}_mib"] = mib
            figures[label][f"{size_name}_bytes"] = _input_bytes(folder)
            figures[label][f"{size_name}_s"] = seconds
            print(f"    {label} at {n:,}: peak {mib:.0f} MiB in {seconds:.1f} s", flush=True)
    rows = [
        [
            label,
            f"{values['small_bytes'] / 2**20:,.0f} MiB",
            f"{values['large_bytes'] / 2**20:,.0f} MiB",
            values["small_mib"],
            values["large_mib"],
            values["large_mib"] / values["small_mib"],
        ]
        for label, values in figures.items()
    ]
    largest = max(values["large_mib"] for values in figures.values())
    return Section(
        key="memory",
        title=f"Loader peak memory: {ctx.small:,} vs {ctx.treatments:,} treatments",
        columns=["input", "small input", "10x input", "peak MiB, small", "peak MiB, 10x",
                 "10x / small"],
        rows=rows,
        data=figures,
        targets=[Target("memory: loader peak RSS, 10x input (MiB)", largest, LIMIT_MIB,
                        higher_is_better=False)],
        notes=["Peak resident set of the whole `python -m loaders load` process (interpreter, "
               "psycopg, pyarrow included), from wait4; input sizes are the files as landed."],
    )
