"""End to end for admissions: generated ADT feed and department extracts -> loader -> dbt build
-> silver and gold, checked against the generator's defect ledger and the independent oracle.

One population feeds both sources (treatment exports and the admissions feed). The landing files
arrive in three parts by drop time: the first half of the window, loaded with both treatment
cycles and followed by a full ``dbt build``; most of the rest, loaded without a build; and the
last day through the real-time path: ``replay`` writes the files into the landing folder (each
in two chunks) while a ``Watcher`` with the real dbt builder (``--select tag:admissions``) loads
them and refreshes gold within its maximum wait. The departments snapshot re-splits versions
across the two builds.
After both builds every row of silver's checked events and extract rows, dim_department,
dim_hospital, fct_encounters, fct_bed_census_daily, department_bottlenecks, the admission KPIs
and the DQ tables equals the oracle (tests/python/oracle/admissions.py) computed on the files
landed so far: counts exactly, numerics to 1e-9, timestamps exactly; surrogate keys are
compared through what they point at. After the last build, defect detection is checked
against OUT/truth/defects.jsonl: precision and recall are both 1.0.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from oracle import admissions as oracle
from oracle import treatments as treatments_oracle
from warehouse_checks import MAX_DIFFS_SHOWN, PROJECT_ROOT, compare_rows, fetch_rows, run_dbt

from loaders import feeds, watch
from loaders import treatments as treatments_loader
from loaders.generator import admissions as admissions_generator
from loaders.generator import treatments as treatments_generator
from loaders.warehouse import drop_project_schemas

DAYS = int(os.environ.get("E2E_ADMISSIONS_DAYS", "14"))
TREATMENTS = int(os.environ.get("E2E_ADMISSIONS_TREATMENTS", "3000"))
SEED = int(os.environ.get("E2E_ADMISSIONS_SEED", "20251201"))
FILE_MINUTES = int(os.environ.get("E2E_ADMISSIONS_FILE_MINUTES", "60"))

DEFECT_KINDS = (
    "duplicate_event_id", "missing_event_ts", "future_event_ts", "negative_age", "age_over_120",
    "discharge_before_admission", "unknown_department",
)
WATCH_MAX_WAIT = 8.0  # seconds; the watcher's min_files is out of reach, so this trigger builds
WATCH_POLL = 0.3

# --- what is compared, table by table -----------------------------------------------------------

CHECKED_QUERY = """
select
    cast(load_id as text) as load_id, loaded_at, source_file, line_number, event_id, event_type,
    event_ts_raw, event_at, encounter_id, patient_id, hospital_id, department_id, bed_id, gender,
    date_of_birth, reported_age_raw, age_at_event, is_age_invalid, insurance_type, arrival_mode,
    extra_attributes, reject_rule
from silver.int_adt_events_checked
"""
CHECKED_COLUMNS = (
    "load_id", "loaded_at", "event_id", "event_type", "event_ts_raw", "event_at", "encounter_id",
    "patient_id", "hospital_id", "department_id", "bed_id", "gender", "date_of_birth",
    "reported_age_raw", "age_at_event", "is_age_invalid", "insurance_type", "arrival_mode",
    "extra_attributes", "reject_rule",
)
EXTRACT_QUERY = """
select
    cast(load_id as text) as load_id, loaded_at, source_file, line_number, hospital_id,
    hospital_name, city, state, department_id, department_name, bed_capacity, staff_count,
    updated_at, reject_rule
from silver.stg_departments__extract_rows
"""
EXTRACT_COLUMNS = (
    "load_id", "loaded_at", "hospital_id", "hospital_name", "city", "state", "department_id",
    "department_name", "bed_capacity", "staff_count", "updated_at", "reject_rule",
)
# infinite bounds are None on both sides
DIM_DEPARTMENT_QUERY = """
select
    department_key, department_id, hospital_id, department_name, bed_capacity, staff_count,
    nullif(valid_from, '-infinity') as valid_from, nullif(valid_to, 'infinity') as valid_to,
    is_current
from gold.dim_department
"""
DIM_DEPARTMENT_COLUMNS = (
    "hospital_id", "department_name", "bed_capacity", "staff_count", "valid_to", "is_current",
)
DIM_HOSPITAL_COLUMNS = ("hospital_name", "city", "state")
ENCOUNTER_QUERY = """
select
    fct_encounters.*,
    admission_versions.department_id as admission_key_department_id,
    nullif(admission_versions.valid_from, '-infinity') as admission_key_valid_from,
    discharge_versions.department_id as discharge_key_department_id,
    nullif(discharge_versions.valid_from, '-infinity') as discharge_key_valid_from,
    patient_versions.patient_id as patient_key_patient_id,
    patient_versions.valid_from <= fct_encounters.encounter_start_at
    and fct_encounters.encounter_start_at < patient_versions.valid_to as patient_key_is_valid
from gold.fct_encounters
left join gold.dim_department as admission_versions
    on fct_encounters.admission_department_key = admission_versions.department_key
left join gold.dim_department as discharge_versions
    on fct_encounters.discharge_department_key = discharge_versions.department_key
left join restricted.dim_patient as patient_versions
    on fct_encounters.patient_key = patient_versions.patient_key
"""
ENCOUNTER_COLUMNS = (
    "hospital_id", "patient_id", "encounter_start_at", "arrived_at", "admitted_at",
    "discharged_at", "wait_minutes", "length_of_stay_hours", "admission_department_id",
    "admission_key_department_id", "admission_key_valid_from", "discharge_department_id",
    "discharge_key_department_id", "discharge_key_valid_from", "transfer_count",
    "age_at_arrival", "age_band", "gender", "is_admitted", "is_in_house", "arrival_date_key",
    "admission_date_key", "discharge_date_key", "patient_key_patient_id", "patient_key_is_valid",
)
CENSUS_QUERY = """
select
    fct_bed_census_daily.*,
    versions.department_id as key_department_id,
    nullif(versions.valid_from, '-infinity') as key_valid_from
from gold.fct_bed_census_daily
left join gold.dim_department as versions
    on fct_bed_census_daily.department_key = versions.department_key
"""
CENSUS_COLUMNS = (
    "date_key", "hospital_id", "census", "bed_capacity", "occupancy_rate", "key_department_id",
    "key_valid_from",
)
BOTTLENECK_COLUMNS = (
    "hospital_id", "department_name", "census_days", "bottleneck_days", "admissions",
    "avg_wait_minutes", "p90_wait_minutes",
)
KPI_COLUMNS = ("admissions", "avg_length_of_stay_hours", "avg_wait_minutes")
DQ_LOADS_QUERY = """
select
    source, cast(load_id as text) as load_id, first_loaded_at, last_loaded_at, files,
    rows_landed, rows_accepted, rows_rejected
from gold.dq_loads
"""
DQ_RULES_QUERY = """
select source, cast(load_id as text) as load_id, first_loaded_at, reject_rule, rows_rejected
from gold.dq_rejects_by_rule
"""
DQ_LOADS_COLUMNS = (
    "first_loaded_at", "last_loaded_at", "files", "rows_landed", "rows_accepted",
    "rows_rejected",
)
DQ_RULES_COLUMNS = ("first_loaded_at", "rows_rejected")


# --- helpers ------------------------------------------------------------------------------------


def drop_time(relative: str) -> datetime:
    """When the generator dropped a landing file, from its name (the replay's reading)."""
    dropped = watch.drop_time(relative)
    assert dropped is not None, f"unexpected landing file name: {relative}"
    return dropped


def copy_files(source: Path, target: Path, names: list[str]) -> None:
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target / name)


def statuses(results: list[feeds.FileResult]) -> dict[str, str]:
    return {result.file: result.status for result in results}


def expected_statuses(landing: Path, new: list[str], before: list[str]) -> dict[str, str]:
    """Files landed before are skipped; of the new ones, those repeating the bytes of a file
    loaded earlier (e.g. an unchanged department extract) are skipped too."""
    result = dict.fromkeys(before, "skipped")
    for files in (oracle.adt_files(landing), oracle.department_files(landing)):
        landed = set(oracle.landed(landing, files))
        result.update({name: "loaded" if name in landed else "skipped"
                       for name in files if name in new})
    return result


def file_loads() -> tuple[dict[str, datetime], dict[str, str]]:
    """Each landed feed file's load time and load id, as bronze recorded them (one per file)."""
    rows = fetch_rows(
        """
        select source_file, cast(load_id as text) as load_id,
            min(loaded_at) as first_loaded_at, max(loaded_at) as last_loaded_at
        from bronze.adt_events group by source_file, load_id
        union all
        select source_file, cast(load_id as text) as load_id,
            min(loaded_at) as first_loaded_at, max(loaded_at) as last_loaded_at
        from bronze.department_extracts group by source_file, load_id
        """
    )
    counts = Counter(row["source_file"] for row in rows)
    assert all(count == 1 for count in counts.values()), "a file landed under two load ids"
    assert all(row["first_loaded_at"] == row["last_loaded_at"] for row in rows)
    loaded_at = {row["source_file"]: row["first_loaded_at"] for row in rows}
    load_ids = {row["source_file"]: row["load_id"] for row in rows}
    return loaded_at, load_ids


def treatment_dq_rows(export_root: Path) -> list[tuple[str, str, datetime, str, str | None]]:
    """(source, load_id, loaded_at, file, reject_rule) of every landed treatment line; the
    rule from the treatments oracle, the load metadata from bronze."""
    positions = {
        (row["data_file"], row["line_number"]): (row["load_id"], row["loaded_at"])
        for row in fetch_rows(
            "select data_file, line_number, cast(load_id as text) as load_id, loaded_at "
            "from bronze.dynamo_treatments"
        )
    }
    lines = treatments_oracle.read_exports(export_root)
    assert len(lines) == len(positions), "bronze.dynamo_treatments misses lines"
    rows = []
    for line in lines:
        load_id, loaded_at = positions[(line.data_file, line.line_number)]
        rule = treatments_oracle.clean(line).reject_rule
        rows.append(("dynamo_treatments", load_id, loaded_at, line.data_file, rule))
    return rows


def with_key_columns(expected: dict[str, list[dict[str, Any]]]) -> None:
    """Oracle rows get the columns the warehouse queries produce for surrogate keys."""
    for row in expected["fct_encounters"]:
        row["admission_key_department_id"], row["admission_key_valid_from"] = row[
            "admission_department_version"
        ]
        row["discharge_key_department_id"], row["discharge_key_valid_from"] = row[
            "discharge_department_version"
        ]
        row["patient_key_patient_id"] = row["patient_id"]
        row["patient_key_is_valid"] = True
    for row in expected["fct_bed_census_daily"]:
        row["key_department_id"], row["key_valid_from"] = row["department_version"]
    for row in expected["department_versions"]:
        row["is_current"] = row["valid_to"] is None


def warehouse_problems(
    landing: Path, treatment_exports: Path, stage: str
) -> tuple[list[str], dict[str, list[dict[str, Any]]]]:
    """Every difference between silver/gold and the oracle on the files landed so far."""
    loaded_at, load_ids = file_loads()
    expected = oracle.compute(landing, loaded_at, load_ids)
    with_key_columns(expected)
    dq = oracle.dq_tables(
        treatment_dq_rows(treatment_exports)
        + [
            (oracle.ADT_SOURCE, row["load_id"], row["loaded_at"], row["source_file"],
             row["reject_rule"])
            for row in expected["adt_events_checked"]
        ]
        + [
            (oracle.DEPARTMENT_SOURCE, row["load_id"], row["loaded_at"], row["source_file"],
             row["reject_rule"])
            for row in expected["department_extract_rows"]
        ]
    )
    keys = oracle.TABLE_KEYS
    comparisons: list[tuple[str, list[dict[str, Any]], str, tuple[str, ...], tuple[str, ...]]] = [
        ("int_adt_events_checked", expected["adt_events_checked"], CHECKED_QUERY,
         keys["adt_events_checked"], CHECKED_COLUMNS),
        ("stg_departments__extract_rows", expected["department_extract_rows"], EXTRACT_QUERY,
         keys["department_extract_rows"], EXTRACT_COLUMNS),
        ("dim_department", expected["department_versions"], DIM_DEPARTMENT_QUERY,
         keys["department_versions"], DIM_DEPARTMENT_COLUMNS),
        ("dim_hospital", expected["dim_hospital"], "select * from gold.dim_hospital",
         keys["dim_hospital"], DIM_HOSPITAL_COLUMNS),
        ("fct_encounters", expected["fct_encounters"], ENCOUNTER_QUERY,
         keys["fct_encounters"], ENCOUNTER_COLUMNS),
        ("fct_bed_census_daily", expected["fct_bed_census_daily"], CENSUS_QUERY,
         keys["fct_bed_census_daily"], CENSUS_COLUMNS),
        ("department_bottlenecks", expected["department_bottlenecks"],
         "select * from gold.department_bottlenecks", keys["department_bottlenecks"],
         BOTTLENECK_COLUMNS),
        ("admission_kpis_by_gender", expected["admission_kpis_by_gender"],
         "select * from gold.admission_kpis_by_gender", keys["admission_kpis_by_gender"],
         KPI_COLUMNS),
        ("admission_kpis_by_age_band", expected["admission_kpis_by_age_band"],
         "select * from gold.admission_kpis_by_age_band", keys["admission_kpis_by_age_band"],
         ("age_band_order", *KPI_COLUMNS)),
        ("dq_loads", dq["dq_loads"], DQ_LOADS_QUERY, keys["dq_loads"], DQ_LOADS_COLUMNS),
        ("dq_rejects_by_rule", dq["dq_rejects_by_rule"], DQ_RULES_QUERY,
         keys["dq_rejects_by_rule"], DQ_RULES_COLUMNS),
    ]
    problems = []
    for name, rows, query, key, columns in comparisons:
        problems += compare_rows(name, rows, fetch_rows(query), key, columns)
    patient_keys = fetch_rows("select count(*) as missing from gold.fct_encounters "
                              "where patient_key is null")
    if patient_keys[0]["missing"]:
        problems.append(f"fct_encounters: {patient_keys[0]['missing']} rows without patient_key")
    return [f"[{stage}] {problem}" for problem in problems], expected


def expected_flag_age(defect: dict[str, Any], line: oracle.AdtLine) -> int | None:
    """A flagged age is recomputed from the date of birth when the line carries one."""
    patient = (line.event or {}).get("patient") or {}
    return defect["true_age"] if patient.get("date_of_birth") is not None else None


def ledger_problems(landing: Path, ledger: list[dict[str, Any]]) -> tuple[list[str], Counter]:
    """Precision and recall of defect detection in silver against the generator's ledger."""
    lines = {(line.source_file, line.line_number): line for line in oracle.read_adt(landing)}
    rows = {
        (row["source_file"], row["line_number"]): row
        for row in fetch_rows(
            "select source_file, line_number, event_id, reject_rule, is_age_invalid, "
            "age_at_event from silver.int_adt_events_checked"
        )
    }
    problems: list[str] = []
    intended = {(entry["file"], entry["line"]): entry for entry in ledger}
    if len(intended) != len(ledger):
        problems.append("the ledger names a line twice")
    caught: Counter[str] = Counter()
    missed = []
    for position, entry in intended.items():
        row = rows.get(position)
        if row is None or row["event_id"] != entry["event_id"]:
            missed.append(f"{entry}: no such landed line in silver ({row})")
            continue
        if entry["outcome"] == "reject":
            ok = row["reject_rule"] == entry["rule"]
        else:
            want_age = expected_flag_age(entry, lines[position])
            ok = (
                row["is_age_invalid"] is True
                and row["reject_rule"] is None
                and row["age_at_event"] == want_age
            )
        if ok:
            caught[entry["defect"]] += 1
        else:
            missed.append(f"{entry['defect']} at {position}: got {row}")
    false_alarms = [
        f"{position}: {row}"
        for position, row in rows.items()
        if (row["reject_rule"] is not None or row["is_age_invalid"])
        and not _as_intended(row, intended.get(position))
    ]
    flagged_or_rejected = sum(
        1 for row in rows.values() if row["reject_rule"] is not None or row["is_age_invalid"]
    )
    recall = sum(caught.values()) / len(intended) if intended else 0.0
    precision = (
        (flagged_or_rejected - len(false_alarms)) / flagged_or_rejected
        if flagged_or_rejected
        else 0.0
    )
    if recall != 1.0:
        problems.append(
            f"recall {recall:.6f}: {len(missed)} ledger defect(s) not caught as intended, first: "
            + "; ".join(missed[:MAX_DIFFS_SHOWN])
        )
    if precision != 1.0:
        problems.append(
            f"precision {precision:.6f}: {len(false_alarms)} line(s) rejected or flagged outside "
            "the ledger (or by another rule), first: " + "; ".join(false_alarms[:MAX_DIFFS_SHOWN])
        )
    return problems, caught


def _as_intended(row: dict[str, Any], entry: dict[str, Any] | None) -> bool:
    if entry is None:
        return False
    if entry["outcome"] == "reject":
        return row["reject_rule"] == entry["rule"] and not row["is_age_invalid"]
    return row["reject_rule"] is None and row["is_age_invalid"] is True


def oracle_ledger_problems(
    expected: dict[str, list[dict[str, Any]]], ledger: list[dict[str, Any]]
) -> list[str]:
    """The oracle agrees with the ledger too (else the generator or the oracle is wrong)."""
    intended = {(entry["file"], entry["line"]): entry for entry in ledger}
    problems = []
    for row in expected["adt_events_checked"]:
        position = (row["source_file"], row["line_number"])
        entry = intended.get(position)
        flagged_or_rejected = row["reject_rule"] is not None or row["is_age_invalid"]
        if entry is None and flagged_or_rejected:
            problems.append(f"oracle rejects/flags {position} outside the ledger: {row}")
        elif entry is not None and not _as_intended(row, entry):
            problems.append(f"oracle disagrees with the ledger at {position}: {entry} vs {row}")
    return problems[:MAX_DIFFS_SHOWN]


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.e2e
def watch_replayed_files(
    source: Path, landing: Path, names: list[str], tmp_path: Path
) -> list[watch.BuildFinished]:
    """Replay ``names`` into ``landing`` while a watcher with the real dbt builder runs; stop it
    once every file is loaded and covered by a build. Returns the builds it reported."""
    replay_from = tmp_path / "replay-from"
    copy_files(source, replay_from, names)
    builds: list[watch.BuildFinished] = []
    stop = threading.Event()
    watcher = watch.Watcher(
        landing,
        builder=watch.dbt_builder(
            project_dir=PROJECT_ROOT,
            extra_args=(
                "--target-path", str(tmp_path / "dbt-target"),
                "--log-path", str(tmp_path / "dbt-logs"),
            ),
        ),
        min_files=10_000,
        max_wait=WATCH_MAX_WAIT,
        report=lambda event: builds.append(event) if isinstance(event, watch.BuildFinished)
        else None,
        stop=stop,
    )
    thread = threading.Thread(target=watcher.run, kwargs={"poll_seconds": WATCH_POLL})
    thread.start()
    try:
        summary = watch.replay(
            replay_from, landing, speed=3600.0, chunk_pause=0.1, max_sleep=0.05
        )
        assert summary.files == len(names) and not summary.unknown
        to_load = list(expected_statuses(landing, names, []).values()).count("loaded")
        deadline = datetime.now(UTC) + timedelta(seconds=300)
        while datetime.now(UTC) < deadline and (
            watcher.pending or watcher.summary.files_loaded < to_load
        ):
            stop.wait(WATCH_POLL)
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not watcher.pending, f"files never built: {watcher.pending}"
    return builds


def test_admissions_end_to_end(warehouse_db: str, tmp_path: Path) -> None:
    drop_project_schemas()
    generated = tmp_path / "generated"
    treatments_generator.generate(generated / "treatments", treatments=TREATMENTS, seed=SEED)
    admissions_out = generated / "admissions"
    admissions_generator.generate(
        admissions_out, days=DAYS, seed=SEED, treatments=TREATMENTS, file_minutes=FILE_MINUTES
    )
    source = admissions_out / "landing"
    generation = json.loads((admissions_out / "truth" / "generation.json").read_text())
    ledger = [
        json.loads(line)
        for line in (admissions_out / "truth" / "defects.jsonl").read_text().splitlines()
        if line.strip()
    ]
    start = datetime.fromisoformat(str(generation["start"]).replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    midpoint = start + timedelta(days=DAYS / 2)
    last_day = start + timedelta(days=DAYS - 1)
    names = oracle.adt_files(source) + oracle.department_files(source)
    first_part = [name for name in names if drop_time(name) < midpoint]
    second_part = [name for name in names if midpoint <= drop_time(name) < last_day]
    third_part = [name for name in names if drop_time(name) >= last_day]
    assert first_part and second_part and third_part

    # part 1: the first half of the feed and both treatment export cycles, then a full build
    landing = tmp_path / "landing"
    copy_files(source, landing, first_part)
    for cycle in ("cycle-1", "cycle-2"):
        loaded = treatments_loader.load(generated / "treatments" / cycle)
        assert all(result.status == "loaded" for result in loaded)
    results = feeds.load(landing)
    assert statuses(results) == expected_statuses(landing, first_part, []), results
    run_dbt(tmp_path, "build")
    problems, _expected = warehouse_problems(landing, generated / "treatments", "after part 1")
    versions_after_part_1 = fetch_rows("select count(*) as versions from gold.dim_department")

    # part 2: most of the rest is loaded (no build); files already landed are skipped by content
    copy_files(source, landing, second_part)
    results = feeds.load(landing)
    assert statuses(results) == expected_statuses(landing, second_part, first_part), results

    # part 3: the last day arrives through the real-time path (replay -> watcher -> dbt)
    builds = watch_replayed_files(source, landing, third_part, tmp_path)
    assert builds and all(build.ok for build in builds), [build.detail for build in builds]
    for build in builds:
        assert re.search(r"WARN=0 ERROR=0 SKIP=0", build.detail), build.detail
        # a build starts at the latest max_wait after a file's arrival (minus the previous
        # build's duration, none before the first), so gold is refreshed within max_wait plus
        # one build and a poll
        assert max(build.delays) <= WATCH_MAX_WAIT + build.seconds + 2 * WATCH_POLL, build
    assert sum(build.files for build in builds) == list(
        expected_statuses(landing, third_part, []).values()
    ).count("loaded")
    more, expected = warehouse_problems(landing, generated / "treatments", "after part 3")
    problems += more

    # (1) defect detection: precision and recall 1.0 against the ledger
    detection, _caught = ledger_problems(landing, ledger)
    problems += detection
    problems += oracle_ledger_problems(expected, ledger)

    # the comparison is not vacuous on this data
    kinds = Counter(entry["defect"] for entry in ledger)
    assert all(kinds[kind] > 0 for kind in DEFECT_KINDS), kinds
    facts = expected["fct_encounters"]
    assert sum(1 for fact in facts if fact["is_admitted"]) > 100
    assert any(fact["is_in_house"] for fact in facts)
    assert any(fact["transfer_count"] for fact in facts)
    assert any(row["bottleneck_days"] for row in expected["department_bottlenecks"])
    assert any(row["extra_attributes"] for row in expected["adt_events_checked"])
    # the departments snapshot re-split versions in the second build
    versions_after_part_2 = fetch_rows("select count(*) as versions from gold.dim_department")
    assert versions_after_part_2[0]["versions"] > versions_after_part_1[0]["versions"]
    closed = fetch_rows(
        "select count(*) as closed from snapshots.departments where dbt_valid_to is not null"
    )
    assert closed[0]["closed"] > 0, "no department version was closed by the second build"

    assert not problems, "warehouse differs from the oracle or the ledger:\n" + "\n".join(
        problems
    )
