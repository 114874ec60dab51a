"""What the benchmark parts share: scratch databases, alternating timed runs, figures."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Context:
    """Where the generated sources are and how hard to measure."""

    data: Path  # generated sources: t{N}/ (treatment exports), a{N}/ (admissions), c{N}/ (clinical)
    treatments: int  # the large size; the small size is a tenth of it
    repeats: int
    scratch: Path = field(init=False)

    def __post_init__(self) -> None:
        self.scratch = self.data / "scratch"

    @property
    def small(self) -> int:
        return self.treatments // 10

    def exports(self, n: int) -> Path:
        """The treatments generator's output (cycle-1/, cycle-2/) for ``n`` treatments."""
        return self.data / f"t{n}"

    def admissions(self, n: int) -> Path:
        return self.data / f"a{n}" / "landing"

    def clinical(self, n: int) -> Path:
        return self.data / f"c{n}" / "landing"


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A fresh database ``bench_<name>_<random>`` (roles and key bootstrapped) that PGDATABASE
    names inside the block; dropped afterwards."""
    from loaders import server

    dbname = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    server.ensure_database(dbname)
    previous = os.environ.get("PGDATABASE")
    os.environ["PGDATABASE"] = dbname
    try:
        yield dbname
    finally:
        if previous is None:
            os.environ.pop("PGDATABASE", None)
        else:
            os.environ["PGDATABASE"] = previous
        server.drop_database(dbname)


def race(
    contenders: dict[str, Callable[[], Any]],
    repeats: int,
    before_each: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Wall seconds of each contender, run alternately (a, b, c, a, b, c, ...) ``repeats``
    times each; ``before_each(name)`` runs untimed before every run."""
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for repeat in range(1, repeats + 1):
        for name, run in contenders.items():
            if before_each is not None:
                before_each(name)
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
            print(f"    {name}: run {repeat}/{repeats} {seconds[name][-1]:.2f} s", flush=True)
    return seconds


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Target:
    """A target of issue 6 and the figure measured against it."""

    name: str
    measured: float
    target: float
    higher_is_better: bool

    @property
    def met(self) -> bool:
        if self.higher_is_better:
            return self.measured >= self.target
        return self.measured <= self.target


@dataclass
class Section:
    """One part's figures: a markdown table, the raw data for the JSON, targets, notes."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    data: dict[str, Any]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def psql_path() -> str:
    """psql of the embedded server's PostgreSQL (pgserver ships it), else the one on PATH."""
    try:
        import pgserver
    except ImportError:
        return "psql"
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    return str(bundled) if bundled.exists() else "psql"


# Runs the measured command and prints its exit code and peak RSS (KiB). Linux counts a child's
# peak from the memory of the process it was forked from, so the command is forked from this
# small interpreter, not from the benchmark's own process (pandas can make that one large).
_PEAK_RSS = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_mib(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command; its wall seconds and the peak resident memory (MiB) of that process."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, *argv], env=env, stdout=subprocess.PIPE, text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    exit_code, peak_kib = (int(value) for value in done.stdout.split())
    if exit_code != 0:
        raise subprocess.CalledProcessError(exit_code, argv)
    return seconds, peak_kib / 1024


def run_dbt(target: Path, *args: str) -> float:
    """Run a dbt command in the project, its artifacts and logs in ``target``; its wall
    seconds."""
    from loaders import config

    dbt = Path(sys.executable).with_name("dbt")
    argv = [str(dbt), *args, "--target-path", str(target), "--log-path", str(target / "logs")]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=config.PROJECT_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-30:])
        raise RuntimeError(f"dbt {' '.join(args)} failed (exit {done.returncode}):\n{tail}")
    return seconds


def run_results(target: Path) -> list[dict[str, Any]]:
    """The results of the last dbt run, build or seed whose artifacts are in ``target``."""
    return json.loads((target / "run_results.json").read_text())["results"]


def model_seconds(results: list[dict[str, Any]]) -> dict[str, float]:
    """Execution seconds of each model and snapshot in dbt's run results, by name."""
    return {
        result["unique_id"].split(".")[-1]: result["execution_time"]
        for result in results
        if result["unique_id"].startswith(("model.", "snapshot."))
    }
