"""End to end: generated exports -> loader -> dbt build -> gold, checked against the oracle.

The oracle (tests/python/oracle) recomputes every analytic table in Python from the export files
themselves, so every row of the seven tables is compared with an independent implementation:
counts exactly, money to the cent, rates to 1e-9, NULL only where the oracle has None.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from export_files import write_export
from oracle import treatments as oracle
from warehouse_checks import MAX_DIFFS_SHOWN, compare_rows, fetch_rows, gold_table, run_dbt

from loaders import treatments as loader
from loaders.db import connect
from loaders.generator import treatments as generator
from loaders.warehouse import drop_project_schemas

TREATMENTS = int(os.environ.get("E2E_TREATMENTS", "20000"))
SEED = int(os.environ.get("E2E_SEED", "20240601"))

# The spec's columns of every analytic table, in order.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "provider_rank_by_total_treatments": (
        "provider_id", "provider_name", "specialty", "total_treatments", "treatment_rank",
    ),
    "provider_rank_by_success_rate": (
        "provider_id", "provider_name", "completed_treatments", "successful_treatments",
        "success_rate", "success_rate_rank",
    ),
    "monthly_success_rate_trend": (
        "month_start", "treatments", "completed_treatments", "successful_treatments",
        "success_rate", "success_rate_change",
    ),
    "treatments_by_state": (
        "state", "treatments", "share_of_treatments", "distinct_patients", "distinct_providers",
        "total_cost",
    ),
    "avg_treatment_cost_by_type": (
        "treatment_type", "treatments_with_cost", "avg_cost", "median_cost", "min_cost",
        "max_cost", "total_cost",
    ),
    "treatments_per_city": ("city", "state", "treatments", "city_rank_in_state"),
    "provider_success_rate": (
        "provider_id", "provider_name", "total_treatments", "successful_treatments",
        "failed_treatments", "ongoing_treatments", "cancelled_treatments", "success_rate",
    ),
}
MONEY_COLUMNS = {"total_cost", "avg_cost", "median_cost", "min_cost", "max_cost"}
RATE_COLUMNS = {"success_rate", "success_rate_change", "share_of_treatments"}
DATE_COLUMNS = {"month_start"}
TEXT_COLUMNS = {"provider_id", "provider_name", "specialty", "state", "city", "treatment_type"}
# every other column is a count or a rank: bigint

# Fact columns compared one by one (the keys are surrogate keys, so they are compared through
# what they point at: the provider's location as of the treatment).
FACT_COLUMNS = (
    "treated_at", "treatment_date", "patient_id", "provider_id", "outcome_status",
    "treatment_type", "cost", "is_cost_invalid", "modified_at", "provider_city", "provider_state",
)
FACT_QUERY = """
select
    fct_treatments.*,
    dim_location.city as provider_city,
    dim_location.state as provider_state
from gold.fct_treatments
left join gold.dim_location
    on fct_treatments.location_key = dim_location.location_key
"""


# --- helpers ---------------------------------------------------------------------------------


def bronze_count() -> int:
    with connect() as conn:
        row = conn.execute("select count(*) from bronze.dynamo_treatments").fetchone()
    assert row is not None
    return int(row[0])


def column_problems() -> list[str]:
    """The analytic tables have exactly the spec's columns; counts and ranks are bigint, money
    numeric(16, 2)."""
    problems = []
    rows = fetch_rows(
        """
        select table_name, column_name, data_type, numeric_precision, numeric_scale
        from information_schema.columns
        where table_schema = 'gold'
        order by table_name, ordinal_position
        """
    )
    for name, columns in TABLE_COLUMNS.items():
        found = [row for row in rows if row["table_name"] == name]
        if tuple(row["column_name"] for row in found) != columns:
            problems.append(
                f"{name}: columns {[row['column_name'] for row in found]}, spec {list(columns)}"
            )
        for row in found:
            column = row["column_name"]
            if column in MONEY_COLUMNS:
                if (row["data_type"], row["numeric_precision"], row["numeric_scale"]) != (
                    "numeric", 16, 2
                ):
                    problems.append(f"{name}.{column}: {row['data_type']}, spec numeric(16, 2)")
            elif column in RATE_COLUMNS:
                if row["data_type"] != "numeric":
                    problems.append(f"{name}.{column}: {row['data_type']}, spec numeric")
            elif column in DATE_COLUMNS:
                if row["data_type"] != "date":
                    problems.append(f"{name}.{column}: {row['data_type']}, spec date")
            elif column in TEXT_COLUMNS:
                if row["data_type"] != "text":
                    problems.append(f"{name}.{column}: {row['data_type']}, spec text")
            elif row["data_type"] != "bigint":
                problems.append(f"{name}.{column}: {row['data_type']}, spec bigint")
    return problems


def reject_problems(expected_rejects: list[dict[str, Any]]) -> list[str]:
    """Rejected rows per rule (and which treatments) against silver's rejects model."""
    actual = fetch_rows(
        "select treatment_id, reject_rule from silver.stg_dynamo__treatment_rejects"
    )
    want = Counter(row["reject_rule"] for row in expected_rejects)
    got = Counter(row["reject_rule"] for row in actual)
    problems = []
    if want != got:
        problems.append(f"rejects per rule: expected {dict(sorted(want.items()))}, "
                        f"got {dict(sorted(got.items()))}")
    want_ids = {(row["treatment_id"], row["reject_rule"]) for row in expected_rejects
                if row["treatment_id"] is not None}
    got_ids = {(row["treatment_id"], row["reject_rule"]) for row in actual
               if row["treatment_id"] is not None}
    if want_ids != got_ids:
        problems.append(
            "rejected treatments differ: expected but absent "
            f"{sorted(want_ids - got_ids)[:MAX_DIFFS_SHOWN]}, not expected "
            f"{sorted(got_ids - want_ids)[:MAX_DIFFS_SHOWN]}"
        )
    return problems


def warehouse_problems(export_root: Path, stage: str) -> list[str]:
    """Every difference between gold/silver and the oracle computed on ``export_root``."""
    expected = oracle.compute(export_root)
    problems = []
    for name in oracle.ANALYTIC_TABLES:
        problems += compare_rows(
            name, expected[name], gold_table(name), oracle.TABLE_KEYS[name], TABLE_COLUMNS[name]
        )
    problems += compare_rows(
        "fct_treatments", expected["fct_treatments"], fetch_rows(FACT_QUERY),
        ("treatment_id",), FACT_COLUMNS,
    )
    problems += reject_problems(expected["rejects"])
    return [f"[{stage}] {problem}" for problem in problems]


# --- the test -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_end_to_end(warehouse_db: str, tmp_path: Path) -> None:
    drop_project_schemas()
    exports = tmp_path / "exports"
    generator.generate(exports, treatments=TREATMENTS, seed=SEED)
    cycle_1, cycle_2 = exports / "cycle-1", exports / "cycle-2"
    assert cycle_1.is_dir() and cycle_2.is_dir()

    results = loader.load(cycle_1)
    assert results and all(result.status == "loaded" for result in results), results
    run_dbt(tmp_path, "build")
    problems = column_problems()
    problems += warehouse_problems(cycle_1, "after cycle 1")

    results = loader.load(cycle_2)
    assert results and all(result.status == "loaded" for result in results), results
    rows_after_cycle_2 = bronze_count()
    results = loader.load(cycle_2)
    assert all(result.status == "skipped" for result in results), results
    assert bronze_count() == rows_after_cycle_2, "loading cycle 2 again changed bronze"

    run_dbt(tmp_path, "build")
    problems += warehouse_problems(exports, "after cycle 2")

    assert rows_after_cycle_2 == len(oracle.read_exports(exports)), "bronze misses lines"
    # the comparison is not vacuous on this data
    expected = oracle.compute(exports)
    assert len(expected["fct_treatments"]) > TREATMENTS // 2
    assert len(expected["provider_rank_by_success_rate"]) > 0
    assert len(expected["rejects"]) > 0

    assert not problems, "warehouse differs from the oracle:\n" + "\n".join(problems)


# The admissions-only marts, with nothing to build from treatment exports: the two tests below
# leave them out (test_end_to_end builds the whole project; so does the admissions end to end).
WITHOUT_ADMISSIONS_MARTS = (
    "--exclude", "path:models/marts/admissions", "path:models/marts/quality",
    "path:models/intermediate/encounters", "path:models/intermediate/quality",
    "path:models/bi/admissions", "path:models/bi/quality",
)


@pytest.mark.e2e
def test_both_cycles_in_one_build(warehouse_db: str, tmp_path: Path) -> None:
    """Both export cycles landed before the first build (one snapshot run only): the
    business-time versions still place every treatment at its provider's location of the time."""
    drop_project_schemas()
    exports = tmp_path / "exports"
    generator.generate(exports, treatments=TREATMENTS // 2, seed=SEED + 1)
    results = loader.load(exports)
    assert [result.status for result in results] == ["loaded", "loaded"], results

    run_dbt(tmp_path, "build", *WITHOUT_ADMISSIONS_MARTS)
    problems = warehouse_problems(exports, "one build")
    assert not problems, "warehouse differs from the oracle:\n" + "\n".join(problems)


def _text(value: str) -> dict[str, str]:
    return {"S": value}


SPARSE_ITEMS: list[dict[str, Any]] = [
    # only what the rules need: no disease, type, cost, medications, names or locations
    {
        "treatment_id": _text("SPARSE-1"),
        "patient": {"M": {"patient_id": _text("P-1")}},
        "provider": {"M": {"provider_id": _text("D-1")}},
        "outcome_status": _text("success"),
        "treatment_ts": _text("2025-01-05T10:00:00-06:00"),
        "metadata_modified_at": _text("2025-01-06T00:00:00Z"),
    },
    # ids written as numbers, a cost with three decimals, fractional seconds, a NULL note
    {
        "treatment_id": {"N": "20002"},
        "patient": {"M": {"patient_id": {"N": "12345"}, "city": _text("Chicago"),
                          "state": _text("IL")}},
        "provider": {"M": {"provider_id": {"N": "1234567890"}, "name": _text("Dr. Ada Lee"),
                           "specialty": _text("Cardiology"), "hospital_id": _text("H001"),
                           "city": _text("Chicago"), "state": _text("IL")}},
        "disease": {"M": {"code": _text("I10"), "name": _text("Essential hypertension")}},
        "treatment_type": _text("surgery"),
        "outcome_status": _text(" Failed "),
        "cost": {"N": "100.005"},
        "treatment_ts": _text("2025-02-05T10:00:00.123+00:00"),
        "metadata_modified_at": _text("2025-02-06T00:00:00.000Z"),
        "medications": {"L": [{"M": {"name": _text("x"), "dose_mg": {"N": "5"}}}]},
        "is_emergency": {"BOOL": True},
        "notes": {"NULL": True},
    },
    # the sparse provider later known with a location
    {
        "treatment_id": _text("SPARSE-3"),
        "patient": {"M": {"patient_id": _text("P-1")}},
        "provider": {"M": {"provider_id": _text("D-1"), "city": _text("Peoria"),
                           "state": _text("IL")}},
        "outcome_status": _text("In Progress"),
        "treatment_ts": _text("2025-04-05T10:00:00-05:00"),
        "metadata_modified_at": _text("2025-04-06T00:00:00Z"),
        "cost": _text("$1,000"),
    },
]


@pytest.mark.e2e
def test_sparse_items_from_another_serializer(warehouse_db: str, tmp_path: Path) -> None:
    """Items that carry only what the rules need, or numbers where text is usual, build without
    an error or a warning and give the oracle's figures (unknown locations and types form
    their own null group)."""
    drop_project_schemas()
    exports = tmp_path / "exports"
    write_export(exports, "01736000000000-5a5a5a5a", SPARSE_ITEMS, files=1)
    assert [result.status for result in loader.load(exports)] == ["loaded"]

    run_dbt(tmp_path, "build", *WITHOUT_ADMISSIONS_MARTS)
    problems = warehouse_problems(exports, "sparse items")
    assert not problems, "warehouse differs from the oracle:\n" + "\n".join(problems)
    assert len(gold_table("treatments_by_state")) == 2  # IL and the unknown state
