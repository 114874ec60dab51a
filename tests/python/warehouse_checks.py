"""Helpers shared by the end-to-end tests: run dbt against the test database, read relations,
and compare oracle rows with warehouse rows (counts exactly, rates to 1e-9, money to the cent,
timestamps exactly, NULL only where the oracle has None)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from loaders.db import connect

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def profiles_dir() -> Path:
    """dbt's profiles folder: $DBT_PROFILES_DIR (dbt's own variable, e.g. a profile with the
    transformer role), else the project root's profiles.yml."""
    return Path(os.environ.get("DBT_PROFILES_DIR") or PROJECT_ROOT)

DBT = Path(sys.executable).parent / "dbt"
RATE_TOLERANCE = Fraction(1, 10**9)
MAX_DIFFS_SHOWN = 10
CENT = Decimal("0.01")


def run_dbt(tmp_path: Path, *args: str) -> str:
    """Run dbt from the project root against the test database; fail on any error or warning."""
    command = [
        str(DBT), *args,
        "--project-dir", str(PROJECT_ROOT),
        "--profiles-dir", str(profiles_dir()),
        # Own target and log folders: other runs may share the project folder.
        "--target-path", str(tmp_path / "dbt-target"),
        "--log-path", str(tmp_path / "dbt-logs"),
    ]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True,
        timeout=600, check=False,
    )
    output = completed.stdout + completed.stderr
    tail = "\n".join(output.splitlines()[-60:])
    assert completed.returncode == 0, f"dbt {' '.join(args)} failed:\n{tail}"
    done = re.search(
        r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)(?: NO-OP=(\d+))? TOTAL=(\d+)", output
    )
    assert done, f"no 'Done. PASS=...' summary in dbt's output:\n{tail}"
    passed, warned, errors, skipped = (int(done.group(i)) for i in range(1, 5))
    assert (warned, errors, skipped) == (0, 0, 0), f"dbt {' '.join(args)}: {done.group(0)}\n{tail}"
    assert passed > 0, done.group(0)
    warnings = [
        line for line in output.splitlines()
        if (re.search(r"\bWARN", line) or "Warning" in line) and "Done. PASS=" not in line
    ]
    assert not warnings, "dbt printed warnings:\n" + "\n".join(warnings[:20])
    return output


def fetch_rows(query: str | sql.Composable) -> list[dict[str, Any]]:
    with connect() as conn, conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def gold_table(name: str) -> list[dict[str, Any]]:
    return fetch_rows(sql.SQL("select * from {}").format(sql.Identifier("gold", name)))


def values_equal(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, Fraction):
        return isinstance(actual, Decimal) and abs(Fraction(actual) - expected) <= RATE_TOLERANCE
    if isinstance(expected, Decimal):
        # to the cent: equal values, and nothing finer than cents stored
        return isinstance(actual, Decimal) and actual == expected and actual == actual.quantize(
            CENT
        )
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual == expected
    if isinstance(expected, int):
        return isinstance(actual, int) and not isinstance(actual, bool) and actual == expected
    if isinstance(expected, datetime):
        return isinstance(actual, datetime) and actual == expected
    if isinstance(expected, date):
        return isinstance(actual, date) and not isinstance(actual, datetime) and actual == expected
    return type(actual) is type(expected) and actual == expected


def show(value: Any) -> str:
    if isinstance(value, Fraction):
        return f"{value} (~{float(value):.12f})"
    return repr(value)


def compare_rows(
    name: str,
    expected: list[dict[str, Any]],
    actual: list[dict[str, Any]],
    key: tuple[str, ...],
    columns: tuple[str, ...],
) -> list[str]:
    """Differences between oracle rows and warehouse rows of one table (empty when equal)."""
    problems: list[str] = []
    expected_by_key = {tuple(row[column] for column in key): row for row in expected}
    actual_by_key = {tuple(row[column] for column in key): row for row in actual}
    if len(expected_by_key) != len(expected):
        problems.append(f"{name}: the oracle has duplicate keys (oracle bug)")
    if len(actual_by_key) != len(actual):
        counts = Counter(tuple(row[column] for column in key) for row in actual)
        duplicates = [row_key for row_key, count in counts.items() if count > 1]
        problems.append(f"{name}: duplicate keys in the warehouse: {duplicates[:MAX_DIFFS_SHOWN]}")
    missing = sorted(set(expected_by_key) - set(actual_by_key), key=str)
    extra = sorted(set(actual_by_key) - set(expected_by_key), key=str)
    if missing:
        problems.append(
            f"{name}: {len(missing)} key(s) expected but absent: "
            + "; ".join(f"{k} {expected_by_key[k]}" for k in missing[:MAX_DIFFS_SHOWN])
        )
    if extra:
        problems.append(
            f"{name}: {len(extra)} key(s) not expected: "
            + "; ".join(f"{k} {actual_by_key[k]}" for k in extra[:MAX_DIFFS_SHOWN])
        )
    differing = []
    for row_key in sorted(set(expected_by_key) & set(actual_by_key), key=str):
        want, got = expected_by_key[row_key], actual_by_key[row_key]
        columns_off = [c for c in columns if not values_equal(want[c], got.get(c, "<absent>"))]
        if columns_off:
            differing.append(
                f"  {dict(zip(key, row_key, strict=True))}: "
                + ", ".join(
                    f"{c} expected {show(want[c])} got {show(got.get(c, '<absent>'))}"
                    for c in columns_off
                )
            )
    if differing:
        problems.append(
            f"{name}: {len(differing)} row(s) differ, first {min(len(differing), MAX_DIFFS_SHOWN)}:"
            "\n" + "\n".join(differing[:MAX_DIFFS_SHOWN])
        )
    return problems
