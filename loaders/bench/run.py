"""The benchmark run: generate the sources once, measure the chosen parts, write the figures."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

from loaders.bench.common import Context, Section
from loaders.bench.report import write

# part name -> module of loaders.bench whose run(ctx) measures it, in the order they run
PARTS = {"landing": "landing", "silver": "silver_path", "memory": "memory", "builds": "builds"}
ADMISSION_DAYS = 60
SEED = 42


def generate(ctx: Context) -> None:
    """Every source at the small and the large size, unless an earlier run generated it."""
    for n in (ctx.small, ctx.treatments):
        for name, command, extra in (
            (f"t{n}", "generate", []),
            (f"a{n}", "generate-admissions", ["--days", str(ADMISSION_DAYS)]),
            (f"c{n}", "generate-clinical", []),
        ):
            folder = ctx.data / name
            done = folder / ".generated"
            if done.exists():
                continue
            shutil.rmtree(folder, ignore_errors=True)
            print(f"  generating {name} ({command}, {n:,} treatments)", flush=True)
            subprocess.run(
                [sys.executable, "-m", "loaders", command, "--out", str(folder),
                 "--treatments", str(n), "--seed", str(SEED), *extra],
                check=True, stdout=subprocess.DEVNULL,
            )
            done.touch()


def main(ctx: Context, parts: list[str], results: Path) -> tuple[Path, Path, str]:
    generate(ctx)
    sections: list[Section] = []
    for part in parts:
        print(f"{part}:", flush=True)
        ctx.scratch.mkdir(parents=True, exist_ok=True)
        try:
            module = importlib.import_module(f"loaders.bench.{PARTS[part]}")
            sections.append(module.run(ctx))
        finally:
            shutil.rmtree(ctx.scratch, ignore_errors=True)
    return write(sections, results)
