"""End to end for the clinical and financial sources: generated treatment exports and EHR,
claims and fills files -> loaders -> dbt build -> silver and gold, checked against the
independent oracle (tests/python/oracle/clinical.py) and the generator's truth ledger.

One population (same seed and size) feeds the treatment exports and the clinical files; a few
hand-written files add one record for each reject rule the generator never spoils (with their
own ledger entries), and a few days of ADT events (the third source of patient observations).
Both treatment cycles (so providers change hospital), the whole clinical landing folder and the
ADT feed are loaded, then ``dbt build`` runs once. Every row of the clinical
facts and marts, of the clinical staging models (reject rules on every row, values on accepted
rows), of int_clinical_rejects, of the conformed patient history (EHR precedence) and the
clinical sources' data-quality counts is compared with the oracle: counts exactly, money to the
cent, rates to 1e-9; gold column names, order and money types are the spec's. Defect detection
in silver is checked against OUT/truth/clinical_defects.jsonl (plus the hand-written entries):
precision and recall are both 1.0 (and the oracle agrees with the ledger too).

``warehouse_problems`` is importable, to compare any database already built from some files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from oracle import clinical as oracle
from warehouse_checks import PROJECT_ROOT, compare_rows, fetch_rows, run_dbt

from loaders import feeds
from loaders import treatments as treatments_loader
from loaders.generator import admissions as admissions_generator
from loaders.generator import treatments as treatments_generator
from loaders.warehouse import drop_project_schemas

# a size and seed whose data holds every defect kind (checked below: the test is not vacuous)
TREATMENTS = int(os.environ.get("E2E_CLINICAL_TREATMENTS", "6000"))
SEED = int(os.environ.get("E2E_CLINICAL_SEED", "1"))
ADT_DAYS = 3
LEDGER_RULES = (
    "invalid_json", "missing_patient_id", "malformed_icd10_code", "invalid_visit_date",
    "end_before_start", "duplicate_visit_id", "rejected_visit", "discharge_before_admission",
    "negative_amount", "missing_service_date", "invalid_days_supply", "negative_cost",
    "malformed_ndc", "duplicate_rx_id",
)

# --- what is compared ---------------------------------------------------------------------------

GOLD = {name: f"select * from gold.{name}" for name in oracle.GOLD_COLUMNS}
NOTES_QUERY = "select * from restricted.fct_provider_notes"
NOTES_COLUMNS = (
    "note_id", "visit_id", "patient_id", "author_provider_id", "written_at", "note_text",
)

# staging table (oracle name) -> (query, compared columns)
STAGING: dict[str, tuple[str, tuple[str, ...]]] = {
    "ehr_documents": (
        "select * from silver.stg_ehr__documents",
        ("patient_id", "first_name", "last_name", "date_of_birth", "gender", "ssn", "phone",
         "email", "address_line", "city", "state", "zip", "updated_at", "visit_count",
         "is_latest_document", "reject_rule"),
    ),
    "ehr_visits": (
        "select * from silver.stg_ehr__visits",
        ("visit_id", "visit_date", "discharge_date", "visit_type", "provider_id", "source_file",
         "line_number", "reject_rule"),
    ),
    "ehr_diagnoses": (
        "select * from silver.stg_ehr__diagnoses",
        ("visit_id", "icd10_code", "description", "is_primary", "source_file", "line_number",
         "reject_rule"),
    ),
    "ehr_medication_orders": (
        "select * from silver.stg_ehr__medication_orders",
        ("visit_id", "drug", "dose", "route", "start_date", "end_date", "reject_rule"),
    ),
    "ehr_provider_notes": (
        "select * from silver.stg_ehr__provider_notes",
        ("visit_id", "note_id", "author_provider_id", "written_at", "note_text", "reject_rule"),
    ),
    "claim_versions": (
        "select * from silver.stg_claims__claim_versions",
        ("claim_id", "claim_version", "patient_id", "provider_id", "claim_type", "admit_date",
         "discharge_date", "service_date", "primary_dx", "procedure_code", "billed_amount",
         "allowed_amount", "paid_amount", "status", "is_latest_version", "reject_rule"),
    ),
    "fills": (
        "select * from silver.stg_fills__prescription_fills",
        ("rx_id", "patient_id", "prescriber_id", "ndc", "drug_name", "fill_date", "days_supply",
         "quantity", "cost", "reject_rule"),
    ),
}
PATIENT_COLUMNS = (*oracle.PATIENT_ATTRIBUTES, "valid_to")
ROW_MONEY = {
    ("fct_claims", "billed_amount"), ("fct_claims", "allowed_amount"),
    ("fct_claims", "paid_amount"), ("fct_prescription_fills", "cost"),
}
SUM_MONEY = {"billed_amount", "allowed_amount", "paid_amount", "pharmacy_cost", "total_paid",
             "total_cost"}
RATES = {"readmission_rate", "pdc", "share_of_prescriber_fills"}
REJECTS_QUERY = """
select source, record_type, record_id, reject_rule, source_file, line_number
from silver.int_clinical_rejects
"""


# --- hand-written edge cases: every rule the generator never spoils ------------------------------

EDGE_PATIENT = "MRNEDGE00002"
EDGE_EHR = "ehr/ehr_extract_2026-02-01.jsonl"
EDGE_CLAIMS = "claims/claims_2026-02.csv"
EDGE_FILLS = "fills/fills_2026-02.parquet"
CLAIM_HEADER = (
    "claim_id,claim_version,patient_id,provider_id,claim_type,admit_date,discharge_date,"
    "service_date,primary_dx,procedure_code,billed_amount,allowed_amount,paid_amount,status"
)


def _edge_visit(visit_id: str | None, provider: str | None, **fields: Any) -> dict[str, Any]:
    visit: dict[str, Any] = {
        "visit_id": visit_id, "visit_date": "2025-03-01", "visit_type": "outpatient",
        "provider_id": provider,
        "diagnoses": [{"code": "I10", "description": "Essential hypertension",
                       "is_primary": True}],
        "treatments": [{"drug": "lisinopril", "dose": "10 mg", "route": "oral",
                        "start_date": "2025-03-01", "end_date": "2025-09-01"}],
        "provider_notes": [{"note_id": f"N{visit_id}", "author_provider_id": provider,
                            "written_at": "2025-03-01T18:00:00Z", "text": "Seen."}],
        **fields,
    }
    return {key: value for key, value in visit.items() if value is not None}


def write_edge_cases(landing: Path, provider: str) -> list[dict[str, Any]]:
    """Files with one record per rule the generator does not produce (plus accepted ones
    around them), for patients of their own and the known provider ``provider``; returns
    their ledger entries."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ledger: list[dict[str, Any]] = []

    def entry(source: str, file: str, line: int, record_type: str, record_id: Any,
              rule: str, item: int | None = None) -> None:
        ledger.append({"source": source, "file": file, "line": line, "record_type": record_type,
                       "record_id": record_id, "item_number": item, "expected_rule": rule})

    def rejected_children(line: int, visit_id: str | None) -> None:
        for record_type in ("diagnosis", "medication_order", "provider_note"):
            entry("ehr", EDGE_EHR, line, record_type, visit_id, "rejected_visit", 1)

    head = {
        "name": {"first": "Edge", "last": "Case"}, "date_of_birth": "1960-05-05",
        "gender": " m ", "ssn": "999-00-0001", "phone": "555-555-0100",
        "email": "edge.case@example.org",
        "address": {"line": "1 Test Way", "city": "Peoria", "state": "IL", "zip": "61602"},
    }
    accepted_visit = _edge_visit(
        "V99990005", provider,
        treatments=[
            {"dose": "10 mg", "route": "oral", "start_date": "2025-03-01"},
            {"drug": "lisinopril", "start_date": "2025-13-01"},
            {"drug": "lisinopril", "start_date": "2025-03-01"},
        ],
        provider_notes=[
            {"author_provider_id": provider, "written_at": "2025-03-01T18:00:00Z", "text": "a"},
            {"note_id": "N99990052", "author_provider_id": provider, "written_at": "yesterday"},
        ],
    )
    documents = [
        {"patient_id": "MRNEDGE00001", **head, "updated_at": "not a time", "visits": []},
        {"patient_id": EDGE_PATIENT, **head, "updated_at": "2026-01-15T12:00:00Z", "visits": [
            _edge_visit(None, provider),
            _edge_visit("V99990002", provider, visit_type="house call"),
            _edge_visit("V99990003", None),
            _edge_visit("V99990004", provider, visit_type="Inpatient",
                        discharge_date="2025-02-27"),
            accepted_visit,
        ]},
    ]
    entry("ehr", EDGE_EHR, 1, "document", None, "invalid_updated_at")
    for visit_id, rule in (
        (None, "missing_visit_id"), ("V99990002", "unknown_visit_type"),
        ("V99990003", "missing_provider_id"), ("V99990004", "discharge_before_visit"),
    ):
        entry("ehr", EDGE_EHR, 2, "visit", visit_id, rule)
        rejected_children(2, visit_id)
    entry("ehr", EDGE_EHR, 2, "medication_order", "V99990005", "missing_drug", 1)
    entry("ehr", EDGE_EHR, 2, "medication_order", "V99990005", "invalid_start_date", 2)
    entry("ehr", EDGE_EHR, 2, "provider_note", "V99990005", "missing_note_id", 1)
    entry("ehr", EDGE_EHR, 2, "provider_note", "V99990005", "invalid_written_at", 2)
    path = landing / EDGE_EHR
    path.write_text("".join(json.dumps(doc) + "\n" for doc in documents), encoding="utf-8")

    def claim(claim_id: str, version: str = "1", patient: str = EDGE_PATIENT,
              provider_id: str = provider, claim_type: str = "outpatient", admit: str = "",
              discharge: str = "", service: str = "2025-03-01", billed: str = "100.00",
              status: str = "paid") -> str:
        return (f"{claim_id},{version},{patient},{provider_id},{claim_type},{admit},{discharge},"
                f"{service},I10,99213,{billed},90.00,80.00,{status}")

    claims = [
        (claim("", "1"), "missing_claim_id", None),
        (claim("C999900002", "x"), "invalid_claim_version", "C999900002"),
        (claim("C999900003", "0"), "invalid_claim_version", "C999900003"),
        (claim("C999900004", patient=""), "missing_patient_id", "C999900004"),
        (claim("C999900005", provider_id=""), "missing_provider_id", "C999900005"),
        (claim("C999900006", claim_type="dental"), "unknown_claim_type", "C999900006"),
        (claim("C999900007", status="pending"), "unknown_status", "C999900007"),
        (claim("C999900008", claim_type="inpatient", admit="2025-02-30",
               discharge="2025-03-02"), "invalid_date", "C999900008"),
        (claim("C999900009", billed="12,50"), "malformed_row", None),  # 15 fields
        (claim("C999900010", billed="abc"), "invalid_amount", "C999900010"),
        (claim("C999900011", claim_type="INPATIENT", admit="2025-03-01",
               discharge="2025-03-05", status=" PAID"), None, None),
        (claim("C999900012", claim_type="inpatient", admit="2025-03-05",
               discharge="2025-03-06", service="2025-03-05"), None, None),
    ]
    lines = [CLAIM_HEADER]
    for number, (text, rule, claim_id) in enumerate(claims, start=2):
        lines.append(text)
        if rule is not None:
            entry("claims", EDGE_CLAIMS, number, "claim_version", claim_id, rule)
    (landing / EDGE_CLAIMS).write_text("\n".join(lines) + "\n", encoding="utf-8")

    schema = pa.schema([
        ("rx_id", pa.string()), ("patient_id", pa.string()), ("prescriber_id", pa.string()),
        ("ndc", pa.string()), ("drug_name", pa.string()), ("fill_date", pa.date32()),
        ("days_supply", pa.int32()), ("quantity", pa.float64()),
        ("cost", pa.decimal128(12, 2)), ("pharmacy_id", pa.string()),
    ])
    good = {"rx_id": "RX999900001", "patient_id": EDGE_PATIENT, "prescriber_id": provider,
            "ndc": "00093-7180-01", "drug_name": " Lisinopril ",
            "fill_date": date(2025, 3, 1), "days_supply": 30, "quantity": 30.0,
            "cost": Decimal("4.25"), "pharmacy_id": "PH0001"}
    fills = [
        (good, None, None),
        ({**good, "rx_id": None}, "missing_rx_id", None),
        ({**good, "rx_id": "RX999900003", "patient_id": None}, "missing_patient_id",
         "RX999900003"),
        ({**good, "rx_id": "RX999900004", "prescriber_id": " "}, "missing_prescriber_id",
         "RX999900004"),
        ({**good, "rx_id": "RX999900005", "fill_date": None}, "invalid_fill_date",
         "RX999900005"),
        ({**good, "rx_id": "RX999900006", "days_supply": None}, "invalid_days_supply",
         "RX999900006"),
        ({**good, "rx_id": "RX999900007", "fill_date": date(2025, 3, 20), "cost": None,
          "quantity": 0.1 + 0.2}, None, None),
    ]
    for number, (_row, rule, rx_id) in enumerate(fills, start=1):
        if rule is not None:
            entry("fills", EDGE_FILLS, number, "fill", rx_id, rule)
    table = pa.Table.from_pylist([row for row, _rule, _id in fills], schema=schema)
    pq.write_table(table, landing / EDGE_FILLS)
    return ledger


# --- helpers ------------------------------------------------------------------------------------


def patient_rows() -> list[dict[str, Any]]:
    rows = fetch_rows(
        "select patient_id, "
        + ", ".join(oracle.PATIENT_ATTRIBUTES)
        + ", nullif(valid_from, '-infinity') as valid_from,"
        " nullif(valid_to, 'infinity') as valid_to from silver.int_patients_versioned"
    )
    return rows


def column_problems() -> list[str]:
    """The gold tables have exactly the spec's columns, in order; money is numeric(12, 2) per
    row and numeric(16, 2) for sums, rates numeric."""
    rows = fetch_rows(
        """
        select table_name, column_name, data_type, numeric_precision, numeric_scale
        from information_schema.columns
        where table_schema = 'gold'
        order by table_name, ordinal_position
        """
    )
    problems = []
    for name, columns in oracle.GOLD_COLUMNS.items():
        found = [row for row in rows if row["table_name"] == name]
        if tuple(row["column_name"] for row in found) != columns:
            problems.append(
                f"{name}: columns {[row['column_name'] for row in found]}, spec {list(columns)}"
            )
        for row in found:
            column, shape = row["column_name"], (
                row["data_type"], row["numeric_precision"], row["numeric_scale"])
            if (name, column) in ROW_MONEY and shape != ("numeric", 12, 2):
                problems.append(f"{name}.{column}: {shape}, spec numeric(12, 2)")
            elif (name, column) not in ROW_MONEY and column in SUM_MONEY and shape != (
                "numeric", 16, 2
            ):
                problems.append(f"{name}.{column}: {shape}, spec numeric(16, 2)")
            elif column in RATES and shape[0] != "numeric":
                problems.append(f"{name}.{column}: {shape}, spec numeric")
    return problems


def reject_problems(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """int_clinical_rejects against the oracle: per (source, record_type, rule), then row by
    row as a multiset."""
    problems = []
    want, got = oracle.reject_counts(expected), oracle.reject_counts(actual)
    if want != got:
        problems.append(
            "int_clinical_rejects per (source, record_type, rule): "
            + "; ".join(
                f"{key} expected {want[key]} got {got[key]}"
                for key in sorted(set(want) | set(got))
                if want[key] != got[key]
            )
        )

    def rows(table: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        return Counter(
            (r["source"], r["record_type"], r["record_id"], r["reject_rule"], r["source_file"],
             r["line_number"])
            for r in table
        )

    missing, extra = rows(expected) - rows(actual), rows(actual) - rows(expected)
    if missing or extra:
        problems.append(
            f"int_clinical_rejects rows: {missing.total()} expected but absent, first "
            f"{sorted(missing, key=str)[:5]}; {extra.total()} not expected, first "
            f"{sorted(extra, key=str)[:5]}"
        )
    return problems


DQ_SOURCES = {
    oracle.EHR_SOURCE: "ehr_documents", oracle.CLAIMS_SOURCE: "claim_versions",
    oracle.FILLS_SOURCE: "fills",
}


def dq_problems(expected: dict[str, list[dict[str, Any]]]) -> list[str]:
    """dq_loads and dq_rejects_by_rule of the three clinical sources, summed over loads: every
    landed row (document, claim version, fill) counted once, accepted or under its own rule."""
    want_loads, want_rules = {}, Counter()
    for source, table in DQ_SOURCES.items():
        rows = expected[table]
        rejected = Counter(row["reject_rule"] for row in rows if row["reject_rule"] is not None)
        want_loads[source] = {
            "files": len({row["source_file"] for row in rows}),
            "rows_landed": len(rows),
            "rows_accepted": len(rows) - rejected.total(),
            "rows_rejected": rejected.total(),
        }
        want_rules.update({(source, rule): count for rule, count in rejected.items()})
    got_loads = {
        row["source"]: {key: int(row[key]) for key in want_loads[oracle.EHR_SOURCE]}
        for row in fetch_rows(
            "select source, sum(files) as files, sum(rows_landed) as rows_landed, "
            "sum(rows_accepted) as rows_accepted, sum(rows_rejected) as rows_rejected "
            "from gold.dq_loads group by source"
        )
        if row["source"] in DQ_SOURCES
    }
    got_rules = Counter({
        (row["source"], row["reject_rule"]): int(row["rows_rejected"])
        for row in fetch_rows(
            "select source, reject_rule, sum(rows_rejected) as rows_rejected "
            "from gold.dq_rejects_by_rule group by source, reject_rule"
        )
        if row["source"] in DQ_SOURCES
    })
    problems = []
    if got_loads != want_loads:
        problems.append(f"dq_loads (clinical sources): expected {want_loads}, got {got_loads}")
    if got_rules != want_rules:
        problems.append(
            f"dq_rejects_by_rule (clinical sources): expected {sorted(want_rules.items())}, "
            f"got {sorted(got_rules.items())}"
        )
    return problems


def warehouse_tables() -> dict[str, list[dict[str, Any]]]:
    tables = {name: fetch_rows(query) for name, (query, _columns) in STAGING.items()}
    tables.update({name: fetch_rows(query) for name, query in GOLD.items()})
    tables["fct_provider_notes"] = fetch_rows(NOTES_QUERY)
    tables["clinical_rejects"] = fetch_rows(REJECTS_QUERY)
    tables["patient_versions"] = patient_rows()
    return tables


def warehouse_problems(
    landing: Path,
    treatment_exports: Path,
    ledger: list[dict[str, Any]] | None = None,
    expected: dict[str, list[dict[str, Any]]] | None = None,
) -> list[str]:
    """Every difference between the warehouse and the oracle computed on the files (and, with
    a ledger, between the warehouse's and the oracle's reject rules and the ledger)."""
    expected = expected or oracle.compute(landing, treatment_exports)
    actual = warehouse_tables()
    problems: list[str] = column_problems()
    for name, (_query, columns) in STAGING.items():
        # every row: its rule (and latest flags); accepted rows: every value. (A rejected row's
        # unusable value, e.g. a negative amount, may be shown as null: the spec leaves it open.)
        flags = tuple(c for c in columns if c.startswith("is_") or c == "reject_rule")
        problems += compare_rows(
            f"staging {name}", expected[name], actual[name], oracle.TABLE_KEYS[name], flags
        )
        problems += compare_rows(
            f"staging {name} (accepted rows)",
            [row for row in expected[name] if row["reject_rule"] is None],
            [row for row in actual[name] if row["reject_rule"] is None],
            oracle.TABLE_KEYS[name], columns,
        )
    for name, columns in oracle.GOLD_COLUMNS.items():
        problems += compare_rows(name, expected[name], actual[name], oracle.TABLE_KEYS[name],
                                 columns)
    problems += compare_rows(
        "fct_provider_notes", expected["fct_provider_notes"], actual["fct_provider_notes"],
        oracle.TABLE_KEYS["fct_provider_notes"], NOTES_COLUMNS,
    )
    problems += compare_rows(
        "int_patients_versioned", expected["patient_versions"], actual["patient_versions"],
        oracle.TABLE_KEYS["patient_versions"], PATIENT_COLUMNS,
    )
    problems += reject_problems(expected["clinical_rejects"], actual["clinical_rejects"])
    problems += dq_problems(expected)
    if ledger is not None:
        problems += [f"warehouse vs ledger: {p}"
                     for p in oracle.ledger_problems(oracle.rejected_keys(actual), ledger)]
        problems += [f"oracle vs ledger: {p}"
                     for p in oracle.ledger_problems(oracle.rejected_keys(expected), ledger)]
    return problems


def read_ledger(out: Path) -> list[dict[str, Any]]:
    text = (out / "truth" / "clinical_defects.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def generate_clinical(out: Path, treatments: int, seed: int) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "loaders", "generate-clinical", "--out", str(out),
         "--treatments", str(treatments), "--seed", str(seed)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_clinical_end_to_end(warehouse_db: str, tmp_path: Path) -> None:
    drop_project_schemas()
    exports = tmp_path / "treatments"
    treatments_generator.generate(exports, treatments=TREATMENTS, seed=SEED)
    clinical = tmp_path / "clinical"
    generate_clinical(clinical, TREATMENTS, SEED)
    landing = clinical / "landing"
    # plus one record per rule the generator never spoils, for a known provider
    first_claim = (landing / "claims" / "claims_2024-01.csv").read_text().splitlines()[1]
    edge_ledger = write_edge_cases(landing, provider=first_claim.split(",")[3])

    # a few days of ADT events too: the third source of patient observations
    admissions = tmp_path / "admissions"
    admissions_generator.generate(admissions, days=ADT_DAYS, seed=SEED, treatments=TREATMENTS,
                                  file_minutes=240)

    for cycle in ("cycle-1", "cycle-2"):
        results = treatments_loader.load(exports / cycle)
        assert results and all(result.status == "loaded" for result in results), results
    results = feeds.load(landing)
    assert results and all(result.status == "loaded" for result in results), [
        (result.file, result.status) for result in results if result.status != "loaded"
    ]
    feeds.load(admissions / "landing")
    run_dbt(tmp_path, "build")

    ledger = read_ledger(clinical) + edge_ledger
    loaded_at = {
        row["source_file"]: row["loaded_at"]
        for row in fetch_rows(
            "select source_file, min(loaded_at) as loaded_at from bronze.adt_events "
            "group by source_file union all select source_file, min(loaded_at) "
            "from bronze.department_extracts group by source_file"
        )
    }
    expected = oracle.compute(landing, exports, admissions / "landing", adt_loaded_at=loaded_at)
    problems = warehouse_problems(landing, exports, ledger, expected)

    # the comparison is not vacuous on this data
    rules = Counter(entry["expected_rule"] for entry in ledger)
    vacuous = [f"no {rule} in the ledger" for rule in LEDGER_RULES if not rules[rule]]
    readmissions = expected["readmissions"]
    days = Counter(row["days_to_readmission"] for row in readmissions)
    if sum(row["is_readmitted"] for row in readmissions) < 10 or not (days[30] and days[31]):
        vacuous.append(f"few readmissions or no 30/31 days: {sorted(days.items(), key=str)}")
    adherent = Counter(row["is_adherent"] for row in expected["medication_adherence"])
    if adherent[True] < 10 or adherent[False] < 10:
        vacuous.append(f"PDC not on both sides of the threshold: {adherent}")
    versions = Counter(row["patient_id"] for row in expected["patient_versions"])
    if not any(count > 1 for count in versions.values()):
        vacuous.append("no patient with two versions")
    earlier_rule = oracle.patient_versions(expected["patient_observations"], ehr_precedence=False)
    if earlier_rule == expected["patient_versions"]:
        vacuous.append("the EHR precedence rule changes no patient version on this data")
    sources = Counter(row["source_system"] for row in expected["patient_observations"])
    if not all(sources[name] for name in ("ehr", "treatments", "adt")):
        vacuous.append(f"patient observations lack a source: {sources}")
    moved = Counter(row["provider_id"] for row in expected["provider_versions"])
    if not any(count > 1 for count in moved.values()):
        vacuous.append("no provider changed hospital: hospital-at-date is not exercised")
    versions_of: dict[str, list[dict[str, Any]]] = {}
    for row in expected["claim_versions"]:
        if row["claim_id"] is not None and row["claim_version"] is not None:
            versions_of.setdefault(row["claim_id"], []).append(row)
    hidden = fixed = 0
    for rows in versions_of.values():
        latest = next((row for row in rows if row["is_latest_version"]), None)
        if latest is None:  # only an invalid version, e.g. '0'
            continue
        earlier = {row["reject_rule"] is None for row in rows
                   if row["claim_version"] < latest["claim_version"]}
        hidden += latest["reject_rule"] is not None and True in earlier
        fixed += latest["reject_rule"] is None and False in earlier
    if not (hidden and fixed):
        vacuous.append(f"no rejected latest claim version hiding an accepted one ({hidden}) or "
                       f"accepted one fixing a rejected one ({fixed})")
    problems += [f"vacuous: {message}" for message in vacuous]

    assert not problems, "warehouse differs from the oracle or the ledger:\n" + "\n".join(
        problems
    )
