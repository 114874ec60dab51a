"""Unit tests of the clinical oracle on hand-written cases and tiny files (no database)."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oracle import clinical as oracle

D = date.fromisoformat


def fill(rx_id: str, fill_date: str, days: int, patient: str = "P1", drug: str = "metformin",
         cost: str = "10.00", prescriber: str = "1000000001") -> dict[str, Any]:
    return {
        "rx_id": rx_id, "patient_id": patient, "prescriber_id": prescriber, "drug_name": drug,
        "fill_date": D(fill_date), "days_supply": days, "cost": Decimal(cost),
    }


def adherence(fills: list[dict[str, Any]], start: str = "2025-01-01",
              end: str = "2025-12-31") -> list[dict[str, Any]]:
    settings = oracle.Settings(adherence_period_start=D(start), adherence_period_end=D(end))
    return oracle.adherence_rows(fills, settings)


# --- PDC ---------------------------------------------------------------------------------------


def test_overlapping_refill_shifts_forward() -> None:
    # the second fill comes 11 days early: its supply starts the day after the first ends
    covered, spans = oracle.days_covered([(D("2025-01-01"), 30), (D("2025-01-20"), 30)],
                                         D("2025-12-31"))
    assert spans == [(D("2025-01-01"), D("2025-01-30")), (D("2025-01-31"), D("2025-03-01"))]
    assert covered == 60


def test_gap_is_not_covered() -> None:
    [row] = adherence([fill("a", "2025-01-01", 10), fill("b", "2025-01-21", 10)],
                      end="2025-01-30")
    assert (row["window_days"], row["days_covered"]) == (30, 20)
    assert row["pdc"] == Fraction(2, 3) and row["is_adherent"] is False


def test_supply_beyond_period_end_is_clipped() -> None:
    [row] = adherence([fill("a", "2025-12-01", 10), fill("b", "2025-12-20", 90)])
    # Dec 1-10 and Dec 20-31 of a window Dec 1-31
    assert (row["window_days"], row["days_covered"]) == (31, 22)
    assert row["last_fill_date"] == D("2025-12-20")
    # an early fill whose shifted supply starts after the period end adds nothing
    covered, spans = oracle.days_covered(
        [(D("2025-12-01"), 40), (D("2025-12-02"), 30)], D("2025-12-31"))
    assert covered == 31 and spans[1][0] == D("2026-01-10")


def test_exactly_the_threshold_is_adherent() -> None:
    [row] = adherence([fill("a", "2025-01-01", 4), fill("b", "2025-01-06", 4)], end="2025-01-10")
    assert row["pdc"] == Fraction(4, 5) and row["is_adherent"] is True
    [row] = adherence([fill("a", "2025-01-01", 4), fill("b", "2025-01-07", 3)], end="2025-01-10")
    assert row["pdc"] == Fraction(7, 10) and row["is_adherent"] is False


def test_measured_pairs_and_fill_order() -> None:
    rows = adherence([
        fill("z", "2025-01-01", 30),            # the same day as 'a': (fill_date, rx_id) order
        fill("a", "2025-01-01", 5),
        fill("c", "2024-12-20", 30),            # before the period: not counted
        fill("d", "2025-02-01", 30, drug="lisinopril"),  # one fill only: not measured
        fill("e", "2025-03-01", 30, patient="P2"),
    ])
    assert [(r["patient_id"], r["drug_name"]) for r in rows] == [("P1", "metformin")]
    [row] = rows
    assert row["fills"] == 2 and row["first_fill_date"] == D("2025-01-01")
    assert row["days_covered"] == 35 and row["window_days"] == 365


def test_iterative_days_covered_equals_the_set_based_formula() -> None:
    """The spec's window-function formula gives the same supply ends as the fill-by-fill walk:
    supply_end_k = S_k + max_{j<=k}(fill_date_j - 1 - S_{j-1}), S the running days_supply."""
    rng = random.Random(7)
    origin = D("2025-01-01")
    for _case in range(300):
        days = sorted(rng.randrange(0, 400) for _ in range(rng.randrange(1, 8)))
        fills = [(origin + timedelta(days=d), rng.choice([1, 7, 30, 90])) for d in days]
        _covered, spans = oracle.days_covered(fills, D("2025-12-31"))
        running, best = 0, None
        for (fill_date, supply), (_start, end) in zip(fills, spans, strict=True):
            offset = (fill_date - origin).days - 1 - running
            best = offset if best is None else max(best, offset)
            running += supply
            assert (end - origin).days == running + best


# --- readmissions --------------------------------------------------------------------------------


def stay(claim_id: str, admit: str, discharge: str, patient: str = "P1",
         hospital: str | None = "H001") -> dict[str, Any]:
    return {"claim_id": claim_id, "patient_id": patient, "provider_id": "1000000001",
            "hospital_id": hospital, "claim_type": "inpatient", "admit_date": D(admit),
            "discharge_date": D(discharge), "service_date": D(admit)}


def test_readmission_window_boundaries() -> None:
    rows = {r["claim_id"]: r for r in oracle.readmission_rows([
        stay("C1", "2025-01-01", "2025-01-05"),
        stay("C2", "2025-01-05", "2025-01-06"),   # 0 days after C1: readmitted
        stay("C3", "2025-02-05", "2025-02-07"),   # 30 days after C2: readmitted
        stay("C4", "2025-03-10", "2025-03-12"),   # 31 days after C3: not
        stay("C5", "2025-01-01", "2025-01-02", patient="P2"),
    ])}
    assert [rows[c]["days_to_readmission"] for c in ("C1", "C2", "C3", "C4")] == [0, 30, 31, None]
    assert [rows[c]["is_readmitted"] for c in ("C1", "C2", "C3", "C4", "C5")] == [
        True, True, False, False, False]
    assert rows["C1"]["next_claim_id"] == "C2" and rows["C4"]["next_claim_id"] is None
    assert rows["C3"]["discharge_month"] == D("2025-02-01")


def test_readmission_order_and_non_stays() -> None:
    outpatient = {**stay("C9", "2025-01-03", "2025-01-04"), "claim_type": "outpatient"}
    rows = {r["claim_id"]: r for r in oracle.readmission_rows([
        stay("B", "2025-01-01", "2025-01-03"),
        stay("A", "2025-01-01", "2025-01-03"),   # same dates: claim_id orders A before B
        stay("X", "2025-01-01", "2025-01-02"),   # earlier discharge comes first
        outpatient,
        {**stay("C8", "2025-01-10", "2025-01-11"), "discharge_date": None},
    ])}
    assert set(rows) == {"A", "B", "X"}
    assert (rows["X"]["next_claim_id"], rows["A"]["next_claim_id"],
            rows["B"]["next_claim_id"]) == ("A", "B", None)
    assert rows["X"]["days_to_readmission"] == -1 and rows["X"]["is_readmitted"] is False
    rates = oracle.readmission_rate_rows(rows.values())
    assert rates == [{"hospital_id": "H001", "month_start": D("2025-01-01"), "index_stays": 3,
                      "readmissions": 0, "readmission_rate": Fraction(0)}]


# --- files: claims versions, EHR flattening, fills ----------------------------------------------

CLAIM_HEADER = ("claim_id,claim_version,patient_id,provider_id,claim_type,admit_date,"
                "discharge_date,service_date,primary_dx,procedure_code,billed_amount,"
                "allowed_amount,paid_amount,status")


def claim(claim_id: str, version: int, paid: str = "80.00", status: str = "paid",
          claim_type: str = "outpatient", admit: str = "", discharge: str = "",
          service: str = "2025-01-10", dx: str = "E11.9") -> str:
    return (f"{claim_id},{version},MRN1,1000000001,{claim_type},{admit},{discharge},{service},"
            f"{dx},99213,120.00,100.00,{paid},{status}")


def write(landing: Path, relative: str, lines: list[str]) -> None:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_latest_claim_version_decides(tmp_path: Path) -> None:
    write(tmp_path, "claims/claims_2025-01.csv", [
        CLAIM_HEADER,
        claim("C1", 1),                         # hidden by its rejected version 2
        claim("C2", 1, paid="-5.00"),           # rejected, fixed by version 2
        claim("C3", 1),                         # re-sent identically next month
        claim("C4", 1, status=" Denied", claim_type="PROFESSIONAL", paid="0.00"),
        claim("C5", 1, claim_type="inpatient", admit="2025-01-10", discharge="2025-01-08"),
        "C6,1,MRN1,too,few",
    ])
    write(tmp_path, "claims/claims_2025-02.csv", [
        CLAIM_HEADER,
        claim("C1", 2, paid="-1.00", status="adjusted"),
        claim("C2", 2, paid="70.00", status="adjusted"),
        claim("C3", 1),
    ])
    tables = oracle.compute(tmp_path)
    facts = {row["claim_id"]: row for row in tables["fct_claims"]}
    assert set(facts) == {"C2", "C3", "C4"}
    assert facts["C2"]["claim_version"] == 2 and facts["C2"]["paid_amount"] == Decimal("70.00")
    assert (facts["C4"]["status"], facts["C4"]["claim_type"]) == ("denied", "professional")
    listed = sorted(
        ((r["record_id"], r["reject_rule"]) for r in tables["clinical_rejects"]), key=str)
    assert listed == [("C1", "negative_amount"), ("C2", "negative_amount"),
                      ("C5", "discharge_before_admission"), (None, "malformed_row")]
    rules = {(r["claim_id"], r["claim_version"], r["source_file"][-11:-4]): r["reject_rule"]
             for r in tables["claim_versions"]}
    assert rules[("C2", 1, "2025-01")] == "negative_amount"  # still judged on its own row
    cost = {r["month_start"]: r for r in tables["cost_per_patient_month"]}
    assert cost[D("2025-01-01")]["claims"] == 3  # C2, C3 (once) and C4
    assert cost[D("2025-01-01")]["paid_amount"] == Decimal("150.00")


def ehr_document(patient_id: Any, updated_at: str, visits: list[dict[str, Any]],
                 **demographics: Any) -> dict[str, Any]:
    return {"patient_id": patient_id, "name": {"first": "Ann", "last": "Lee"},
            "date_of_birth": "1970-01-01", "gender": "F", "ssn": "912-34-5678",
            "phone": "312-555-0142", "email": "ann@example.com",
            "address": {"line": "1 Main St", "city": "Chicago", "state": "IL", "zip": "60611"},
            "updated_at": updated_at, "visits": visits, **demographics}


def visit(visit_id: str | None, visit_date: str = "2025-01-10", visit_type: str = "outpatient",
          codes: tuple[str, ...] = ("E11.9",), **extra: Any) -> dict[str, Any]:
    return {"visit_id": visit_id, "visit_date": visit_date, "visit_type": visit_type,
            "provider_id": "1000000001",
            "diagnoses": [{"code": code, "description": "d", "is_primary": number == 0}
                          for number, code in enumerate(codes)],
            "treatments": [{"drug": "metformin", "dose": "500 mg", "route": "oral",
                            "start_date": "2025-01-10", "end_date": "2025-07-10"}],
            "provider_notes": [{"note_id": f"N{visit_id}", "author_provider_id": "1000000001",
                                "written_at": "2025-01-10T16:00:00Z", "text": "ok"}],
            **extra}


def test_ehr_flattening_and_rules(tmp_path: Path) -> None:
    old = ehr_document("MRN1", "2025-01-11T00:00:00Z", [visit("V1", codes=("E11-9",))])
    new = ehr_document("MRN1", "2025-03-01T00:00:00Z", [
        visit("V1", codes=("I10", "E11-9")),
        visit("V2", visit_type="ER", codes=("e11.9 ",)),
        visit("V2", visit_date="2025-02-02"),                    # repeated: duplicate
        visit("V3", visit_date="2025-02-30"),                    # not a date
        visit("V4", visit_type="Inpatient", discharge_date="2025-01-09"),
    ])
    write(tmp_path, "ehr/ehr_extract_2025-01-01.jsonl", [json.dumps(old)])
    write(tmp_path, "ehr/ehr_extract_2025-07-01.jsonl", [
        json.dumps(new), "{not json", json.dumps(ehr_document(" ", "2025-03-01T00:00:00Z", [])),
        json.dumps(ehr_document("MRN2", "yesterday", [])),
    ])
    tables = oracle.compute(tmp_path)
    assert [r["reject_rule"] for r in tables["ehr_documents"]] == [
        None, None, "invalid_json", "missing_patient_id", "invalid_updated_at"]
    assert [r["is_latest_document"] for r in tables["ehr_documents"]][:2] == [False, True]
    assert [(v["visit_id"], v["reject_rule"]) for v in tables["ehr_visits"]] == [
        ("V1", None), ("V2", None), ("V2", "duplicate_visit_id"), ("V3", "invalid_visit_date"),
        ("V4", "discharge_before_visit")]
    visits = {row["visit_id"]: row for row in tables["fct_visits"]}
    assert visits["V1"]["diagnoses"] == 1 and visits["V1"]["primary_icd10_code"] == "I10"
    assert visits["V2"]["visit_type"] == "emergency"
    assert visits["V2"]["primary_icd10_code"] == "E11.9"  # trimmed, upper case
    counts = oracle.reject_counts(tables["clinical_rejects"])
    assert counts[("ehr_documents", "diagnosis", "malformed_icd10_code")] == 1  # latest only
    assert counts[("ehr_documents", "diagnosis", "rejected_visit")] == 3
    assert counts[("ehr_documents", "medication_order", "rejected_visit")] == 3
    assert counts[("ehr_documents", "visit", "duplicate_visit_id")] == 1
    chronic = {(r["patient_id"], r["condition_code"]): r
               for r in tables["patient_chronic_conditions"]}
    assert chronic[("MRN1", "diabetes")]["diagnoses"] == 1
    assert chronic[("MRN1", "hypertension")]["first_diagnosed_on"] == D("2025-01-10")
    assert chronic[("MRN1", "asthma")]["has_condition"] is False


FILL_SCHEMA = pa.schema([
    ("rx_id", pa.string()), ("patient_id", pa.string()), ("prescriber_id", pa.string()),
    ("ndc", pa.string()), ("drug_name", pa.string()), ("fill_date", pa.date32()),
    ("days_supply", pa.int32()), ("quantity", pa.float64()), ("cost", pa.decimal128(12, 2)),
])


def test_fills_rules_and_prescribing(tmp_path: Path) -> None:
    (tmp_path / "fills").mkdir()
    rows = [
        ("R1", "MRN1", "D1", "12345-6789-01", "Metformin", D("2025-01-01"), 30, 60.0, "4.10"),
        ("R2", "MRN1", "D1", "12345-6789-01", "metformin", D("2025-01-25"), 30, 60.0, "4.10"),
        ("R3", "MRN2", "D1", "22222-3333-44", "lisinopril", D("2025-01-03"), 0, 30.0, "3.00"),
        ("R4", "MRN2", "D1", "1234-5678-9", "lisinopril", D("2025-01-03"), 30, 30.0, "3.00"),
        ("R5", "MRN2", "D1", "22222-3333-44", "lisinopril", D("2025-01-03"), 30, 30.0, "-3.00"),
        ("R6", "MRN2", "D1", "22222-3333-44", "lisinopril", D("2025-01-03"), 30, 30.5, "3.00"),
    ]
    table = pa.Table.from_pylist(
        [dict(zip(FILL_SCHEMA.names, (*row[:8], Decimal(row[8])), strict=True)) for row in rows],
        schema=FILL_SCHEMA,
    )
    pq.write_table(table, tmp_path / "fills" / "fills_2025-01.parquet")
    pq.write_table(table.slice(1, 1), tmp_path / "fills" / "fills_2025-02.parquet")  # re-send
    tables = oracle.compute(tmp_path)
    assert [r["reject_rule"] for r in tables["fills"]] == [
        None, None, "invalid_days_supply", "malformed_ndc", "negative_cost", None,
        "duplicate_rx_id"]
    patterns = {r["drug_name"]: r for r in tables["provider_prescribing_patterns"]}
    assert patterns["metformin"]["fills"] == 2 and patterns["metformin"]["drug_rank"] == 1
    assert patterns["lisinopril"]["drug_rank"] == 2
    assert patterns["lisinopril"]["share_of_prescriber_fills"] == Fraction(1, 3)
    assert patterns["metformin"]["total_cost"] == Decimal("8.20")
    fills = {r["rx_id"]: r for r in tables["fct_prescription_fills"]}
    assert fills["R6"]["quantity"] == Fraction(61, 2) and fills["R1"]["hospital_id"] is None
    [pdc] = tables["medication_adherence"]
    assert (pdc["days_covered"], pdc["window_days"]) == (60, 365)


# --- patients: EHR precedence ---------------------------------------------------------------------


def obs(patient: str, at: str, source: str, observation_id: str, **values: Any) -> dict:
    return {"patient_id": patient, "observed_at": datetime.fromisoformat(at).replace(tzinfo=UTC),
            "source_system": source, "source_rank": oracle.SOURCE_RANK[source],
            "observation_id": observation_id,
            **dict.fromkeys(oracle.PATIENT_ATTRIBUTES), **values}


def test_ehr_precedence() -> None:
    observations = [
        obs("P1", "2025-01-01", "treatments", "t1", last_name="Lee", city="Chicago",
            gender="female"),
        obs("P1", "2025-02-01", "ehr", "e:1", last_name="Lee", city="Chicago", phone="1"),
        obs("P1", "2025-03-01", "treatments", "t2", last_name="Smith", city="Peoria",
            zip="61601"),                      # EHR values older still win; zip only here
        obs("P1", "2025-04-01", "ehr", "e:2", last_name="Lee", city="Madison", phone="2"),
        obs("P1", "2025-04-01", "adt", "a1", gender="male"),  # same instant: EHR lacks gender
        obs("P2", "2025-01-01", "treatments", "t3", city="Chicago"),
        obs("P2", "2025-02-01", "treatments", "t4", city="Peoria"),
    ]
    versions = oracle.patient_versions(observations)
    p1 = [(v["last_name"], v["city"], v["zip"], v["phone"], v["gender"], v["valid_from"])
          for v in versions if v["patient_id"] == "P1"]
    assert p1 == [
        ("Lee", "Chicago", None, None, "female", None),
        ("Lee", "Chicago", None, "1", "female", datetime(2025, 2, 1, tzinfo=UTC)),
        ("Lee", "Chicago", "61601", "1", "female", datetime(2025, 3, 1, tzinfo=UTC)),
        ("Lee", "Madison", "61601", "2", "male", datetime(2025, 4, 1, tzinfo=UTC)),
    ]
    assert versions[3]["valid_to"] is None and versions[0]["valid_to"] == versions[1]["valid_from"]
    # a patient without EHR: the latest value of any source, as before
    p2 = [(v["city"], v["valid_from"]) for v in versions if v["patient_id"] == "P2"]
    assert p2 == [("Chicago", None), ("Peoria", datetime(2025, 2, 1, tzinfo=UTC))]
    # the earlier rule, for comparison: the later treatment overrides the EHR
    old_rule = oracle.patient_versions(observations, ehr_precedence=False)
    assert [(v["last_name"], v["city"]) for v in old_rule if v["patient_id"] == "P1"][2] == (
        "Smith", "Peoria")


@pytest.mark.parametrize("precedence", [True, False])
def test_same_instant_lower_rank_states_the_patient(precedence: bool) -> None:
    observations = [
        obs("P1", "2025-01-01", "adt", "a1", gender="male"),
        obs("P1", "2025-01-01", "treatments", "t1", gender="female", city="Chicago"),
    ]
    [version] = oracle.patient_versions(observations, ehr_precedence=precedence)
    assert (version["gender"], version["city"]) == ("female", "Chicago")


# --- the ledger check -----------------------------------------------------------------------------


def test_ledger_precision_and_recall() -> None:
    entry = {"source": "ehr", "file": "ehr/a.jsonl", "line": 3, "record_id": "V1",
             "record_type": "diagnosis", "item_number": 2, "expected_rule": "malformed_icd10_code"}
    row = {"source_file": "ehr/a.jsonl", "line_number": 3, "visit_id": "V1",
           "diagnosis_number": 2, "reject_rule": "malformed_icd10_code"}
    claim_entry = {"source": "claims", "file": "claims/c.csv", "line": 5, "record_id": "C1",
                   "record_type": "claim_version", "expected_rule": "negative_amount"}
    claim_row = {"source_file": "claims/c.csv", "line_number": 5, "claim_id": "C1",
                 "reject_rule": "negative_amount"}
    tables = {"ehr_diagnoses": [row], "claim_versions": [claim_row]}
    assert oracle.ledger_problems(oracle.rejected_keys(tables), [entry, claim_entry]) == []
    # another item of the same visit, or a row outside the ledger, are both reported
    moved = {"ehr_diagnoses": [{**row, "diagnosis_number": 1}], "claim_versions": [claim_row]}
    recall, precision = oracle.ledger_problems(oracle.rejected_keys(moved), [entry, claim_entry])
    assert recall.startswith("recall 0.500000") and precision.startswith("precision 0.500000")
    # without item numbers (a warehouse model without them) the two agree again
    assert oracle.ledger_problems(oracle.rejected_keys(moved, {"ehr_diagnoses": None}),
                                  [entry, claim_entry], frozenset({"diagnosis"})) == []
