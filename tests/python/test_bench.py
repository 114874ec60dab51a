"""The benchmark's own machinery (``loaders.bench``): the 1% export it loads in the incremental
cycle, the alternating race and the figures it writes. The measurements themselves are
``make bench``, never a test."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from loaders import treatments
from loaders.bench import builds, report
from loaders.bench.common import Section, Target, peak_rss_mib, race
from loaders.generator.treatments import generate


def _lines(folder: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(folder.glob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines += handle.readlines()
    return lines


def test_incremental_export_is_a_loadable_share_of_cycle_2(
    warehouse_db: str, tmp_path: Path
) -> None:
    generate(tmp_path / "exports", treatments=2_000, seed=3)
    cycle_2 = tmp_path / "exports" / "cycle-2"
    prefix = builds.incremental_export(cycle_2, tmp_path / "increment", 2_000)

    (summary_path,) = prefix.glob("AWSDynamoDB/*/manifest-summary.json")
    (source_summary,) = cycle_2.glob("AWSDynamoDB/*/manifest-summary.json")
    assert summary_path.parent.name != source_summary.parent.name, "the export id must be new"
    items = builds.increment_items(prefix)
    assert abs(items - 20) <= 5, f"about 1% of 2,000 treatments expected, got {items}"
    # every line is a line of cycle 2, in the same order
    cycle_2_lines = set(_lines(source_summary.parent / "data"))
    taken = _lines(summary_path.parent / "data")
    assert len(taken) == items and set(taken) <= cycle_2_lines

    (result,) = treatments.load(prefix)
    assert (result.status, result.items) == ("loaded", items), result.message
    # made once: a second call keeps the export (and its checksums) as they are
    before = summary_path.read_bytes()
    builds.incremental_export(cycle_2, tmp_path / "increment", 2_000)
    assert summary_path.read_bytes() == before


def test_race_alternates_the_contenders_and_times_each_run() -> None:
    calls: list[str] = []
    prepared: list[str] = []
    seconds = race(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
        repeats=3,
        before_each=prepared.append,
    )
    assert calls == ["a", "b"] * 3 and prepared == calls
    assert {name: len(runs) for name, runs in seconds.items()} == {"a": 3, "b": 3}


def _resident(mib: int) -> bytearray:
    """``mib`` MiB of memory, every page touched."""
    memory = bytearray(mib * 2**20)
    memory[::4096] = b"\x01" * len(memory[::4096])
    return memory


def test_peak_memory_is_the_commands_own_not_the_benchmarks() -> None:
    ballast = _resident(256)  # this process large, as after the pandas contender
    python = [sys.executable, "-c"]
    _, idle = peak_rss_mib([*python, "pass"])
    touch_128_mib = "from tests.python.test_bench import _resident; _resident(128)"
    _, busy = peak_rss_mib([*python, touch_128_mib])
    assert idle < 64 and 128 < busy < 256
    with pytest.raises(subprocess.CalledProcessError):
        peak_rss_mib([*python, "raise SystemExit(3)"])
    del ballast


def test_figures_are_written_as_json_and_markdown(warehouse_db: str, tmp_path: Path) -> None:
    section = Section(
        key="landing",
        title="Landing",
        columns=["contender", "rows/s"],
        rows=[["loader", 95_000.0], ["\\copy", 100_000.0]],
        data={"ratio": 0.95},
        targets=[Target("loader / \\copy", 0.95, 0.9, higher_is_better=True),
                 Target("memory MiB", 160.0, 150.0, higher_is_better=False)],
        notes=["a note"],
    )
    json_path, md_path, text = report.write([section], tmp_path / "results")
    document = json.loads(json_path.read_text())
    assert document["landing"] == {"ratio": 0.95}
    assert [t["met"] for t in document["targets"]] == [True, False]
    assert md_path.read_text() == text
    assert "| loader | 95,000.0 |" in text and "- a note" in text
    assert "| memory MiB | 160.0 | at most 150.0 | **no** |" in text
