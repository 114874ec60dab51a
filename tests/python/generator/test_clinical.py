"""The EHR, claims and fills generator: determinism, layout, schema, truth ledger, coherence."""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from loaders import cli
from loaders.generator import claims, clinical, ehr
from loaders.generator.population import Population, build_population, patient_as_of

SEED = 7
TREATMENTS = 20_000
# Written out here on purpose (SPEC.md §1 and dbt_project.yml vars), not imported.
HEADER = ("claim_id,claim_version,patient_id,provider_id,claim_type,admit_date,discharge_date,"
          "service_date,primary_dx,procedure_code,billed_amount,allowed_amount,paid_amount,status")
ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
NDC = re.compile(r"^[0-9]{5}-[0-9]{4}-[0-9]{2}$")
SSN = re.compile(r"^9[0-9]{2}-[0-9]{2}-[0-9]{4}$")
PHONE = re.compile(r"^[0-9]{3}-555-01[0-9]{2}$")
EMAIL = re.compile(r"^[a-z0-9.]+@example\.(com|org)$")
FILL_COLUMNS = ["rx_id", "patient_id", "prescriber_id", "ndc", "drug_name", "fill_date",
                "days_supply", "quantity", "cost"]
EXTRACTS = ("2024-07-01", "2025-01-01", "2025-07-01", "2026-01-01")
CANONICAL_VISIT_TYPES = {"inpatient", "outpatient", "emergency", "telehealth"}
CANONICAL_CLAIM_TYPES = {"inpatient", "outpatient", "emergency", "professional"}


@dataclass
class Data:
    out: Path
    report: clinical.ClinicalReport
    population: Population
    docs: list[tuple[str, int, str, dict[str, Any] | None]]  # file, line, text, parsed
    claims: list[tuple[str, int, dict[str, str]]]  # file, physical line, record
    fills: list[tuple[str, int, dict[str, Any]]]  # file, row number, row
    ledger: list[dict[str, Any]]


def _read(out: Path) -> tuple[list, list, list]:
    landing = out / "landing"
    docs = []
    for path in sorted((landing / "ehr").iterdir()):
        for number, text in enumerate(path.read_text(encoding="utf-8").split("\n")[:-1], 1):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None
            docs.append((f"ehr/{path.name}", number, text, parsed))
    claim_rows = []
    for path in sorted((landing / "claims").iterdir()):
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            assert ",".join(header) == HEADER
            for number, row in enumerate(reader, start=2):
                claim_rows.append((f"claims/{path.name}", number, dict(zip(header, row,
                                                                             strict=True))))
    fill_rows = []
    for path in sorted((landing / "fills").iterdir()):
        table = pq.read_table(path)
        for number, row in enumerate(table.to_pylist(), start=1):
            fill_rows.append((f"fills/{path.name}", number, row))
    return docs, claim_rows, fill_rows


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Data:
    out = tmp_path_factory.mktemp("clinical")
    report = clinical.generate(out, treatments=TREATMENTS, seed=SEED)
    docs, claim_rows, fill_rows = _read(out)
    ledger = [json.loads(line) for line in
              (out / "truth" / "clinical_defects.jsonl").read_text().splitlines()]
    return Data(out, report, build_population(SEED, TREATMENTS), docs, claim_rows, fill_rows,
                ledger)


def _files(out: Path) -> dict[str, bytes]:
    return {path.relative_to(out).as_posix(): path.read_bytes()
            for path in sorted(out.rglob("*")) if path.is_file()}


def test_deterministic(data: Data, tmp_path: Path) -> None:
    clinical.generate(tmp_path, treatments=TREATMENTS, seed=SEED)
    assert _files(tmp_path) == _files(data.out)
    other = tmp_path / "other"
    clinical.generate(other, treatments=TREATMENTS, seed=SEED + 1)
    assert _files(other) != _files(data.out)


def test_layout(data: Data) -> None:
    landing = data.out / "landing"
    assert sorted(p.name for p in (landing / "ehr").iterdir()) == [
        f"ehr_extract_{day}.jsonl" for day in EXTRACTS]
    months = sorted(p.name for p in (landing / "claims").iterdir())
    assert months[0] == "claims_2024-01.csv" and months[-1] == "claims_2026-01.csv"
    assert len(months) == 25
    assert sorted(p.name for p in (landing / "fills").iterdir()) == [
        f"fills_2025-{month:02d}.parquet" for month in range(1, 13)]
    assert sorted(p.name for p in (data.out / "truth").iterdir()) == [
        "clinical_defects.jsonl", "clinical_generation.json"]
    generation = json.loads((data.out / "truth" / "clinical_generation.json").read_text())
    assert generation["seed"] == SEED and generation["treatments"] == TREATMENTS
    assert generation["claim_lines"] == len(data.claims)
    assert generation["fill_rows"] == len(data.fills)
    assert sum(generation["documents"].values()) == len(data.docs)
    for text in (data.out / "landing" / "ehr" / f"ehr_extract_{EXTRACTS[0]}.jsonl",):
        raw = text.read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n")


def test_refuses_foreign_files_and_replaces_its_own(tmp_path: Path) -> None:
    clinical.generate(tmp_path, treatments=400, seed=1)
    first = _files(tmp_path)
    clinical.generate(tmp_path, treatments=400, seed=1)  # its own output: replaced
    assert _files(tmp_path) == first
    (tmp_path / "landing" / "claims" / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="did not write"):
        clinical.generate(tmp_path, treatments=400, seed=1)
    assert (tmp_path / "landing" / "claims" / "notes.txt").exists()


def test_cli(tmp_path: Path) -> None:
    assert cli.main(["generate-clinical", "--out", str(tmp_path), "--treatments", "400",
                     "--seed", "3"]) == 0
    assert (tmp_path / "truth" / "clinical_defects.jsonl").exists()


def test_fills_schema_and_row_groups(data: Data, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for path in sorted((data.out / "landing" / "fills").iterdir()):
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        names = schema.names
        month = path.stem.removeprefix("fills_")
        expected = FILL_COLUMNS + (["pharmacy_id"] if month >= "2025-07" else [])
        assert names == expected, path.name
        assert str(schema.field("fill_date").type) == "date32[day]"
        assert str(schema.field("days_supply").type) == "int32"
        assert str(schema.field("quantity").type) == "double"
        assert str(schema.field("cost").type) == "decimal128(12, 2)"
        for name in ("rx_id", "patient_id", "prescriber_id", "ndc", "drug_name"):
            assert str(schema.field(name).type) == "string"
        for group in range(parquet.metadata.num_row_groups):
            assert parquet.metadata.row_group(group).num_rows <= 5_000
    # row groups are cut at ROW_GROUP_ROWS
    monkeypatch.setattr(claims, "ROW_GROUP_ROWS", 100)
    clinical.generate(tmp_path, treatments=4_000, seed=2)
    groups = []
    for path in sorted((tmp_path / "landing" / "fills").iterdir()):
        metadata = pq.ParquetFile(path).metadata
        groups += [metadata.row_group(n).num_rows for n in range(metadata.num_row_groups)]
    assert max(groups) == 100 and len(groups) > 12


def test_ehr_documents_agree_with_population(data: Data) -> None:
    patients = {p.patient_id: p for p in data.population.patients()}
    history: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    renamed = set()
    visit_ids: dict[str, str] = {}
    for file, _, _, doc in data.docs:
        if doc is None or "patient_id" not in doc:
            continue
        patient = patients[doc["patient_id"]]
        updated = datetime.strptime(doc["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        extract = file.removeprefix("ehr/ehr_extract_").removesuffix(".jsonl")
        assert updated < datetime.fromisoformat(extract).replace(tzinfo=UTC)
        version = patient_as_of(patient, updated)
        assert doc["name"]["first"] == version.first_name
        if doc["name"]["last"] != version.last_name:
            renamed.add(doc["patient_id"])
        assert doc["date_of_birth"] == version.date_of_birth.isoformat()
        if version.gender_form == "absent":
            assert "gender" not in doc
        else:
            assert doc["gender"] == version.gender_raw
        address = doc["address"]
        assert (address["city"], address["state"], address["zip"]) == (
            version.city, version.state, version.zip)
        assert SSN.match(doc["ssn"]) and PHONE.match(doc["phone"]) and EMAIL.match(doc["email"])
        for visit in doc["visits"]:
            assert re.fullmatch(r"V[0-9]{8}", visit["visit_id"])
            assert visit_ids.setdefault(visit["visit_id"], doc["patient_id"]) == doc["patient_id"]
            assert sum(d["is_primary"] for d in visit["diagnoses"]) == 1
            if visit["visit_type"].strip().lower() == "inpatient":
                assert "discharge_date" in visit
            else:
                assert "discharge_date" not in visit
            for note in visit["provider_notes"]:
                assert re.fullmatch(r"N[0-9]{8}", note["note_id"])
        history[doc["patient_id"]].append((extract, doc))
    ehr_patients = len(history)
    assert 0.003 < len(renamed) / ehr_patients < 0.03
    # documents are cumulative: a later document holds every visit of an earlier one
    for documents in history.values():
        documents.sort(key=lambda pair: pair[0])
        for (_, earlier), (_, later) in zip(documents, documents[1:], strict=False):
            assert earlier["updated_at"] < later["updated_at"]
            before = [v["visit_id"] for v in earlier["visits"]]
            after = [v["visit_id"] for v in later["visits"]]
            assert after[:len(before)] == before
    # the first extract holds every patient with a visit recorded before it
    first = {doc["patient_id"] for file, _, _, doc in data.docs
             if doc and "patient_id" in doc and EXTRACTS[0] in file}
    assert len(first) > 0.2 * ehr_patients
    # visit type spellings
    spelled = Counter(v["visit_type"] for _, _, _, doc in data.docs if doc
                      for v in doc["visits"])
    variants = sum(n for s, n in spelled.items() if s not in CANONICAL_VISIT_TYPES)
    assert 0.03 < variants / sum(spelled.values()) < 0.07
    assert {"ER", "Tele-health", "Inpatient", " OUTPATIENT"} <= set(spelled)


def test_notes_mention_only_their_own_patient(data: Data) -> None:
    ssns = set()
    for _, _, _, doc in data.docs:
        if doc and "patient_id" in doc:
            ssns.add(doc["ssn"])
    mentions = 0
    for _, _, _, doc in data.docs:
        if not doc or "patient_id" not in doc:
            continue
        for visit in doc["visits"]:
            for note in visit["provider_notes"]:
                for found in re.findall(r"9[0-9]{2}-[0-9]{2}-[0-9]{4}", note["text"]):
                    assert found == doc["ssn"]
                    mentions += 1
                for found in re.findall(r"[0-9]{3}-555-01[0-9]{2}", note["text"]):
                    mentions += 1
                    assert found in {doc["phone"]} | _earlier_phones(data, doc["patient_id"])
    assert mentions > 0


def _earlier_phones(data: Data, patient_id: str) -> set[str]:
    return {doc["phone"] for _, _, _, doc in data.docs
            if doc and doc.get("patient_id") == patient_id}


def test_ids_are_not_derived_from_the_mrn(data: Data) -> None:
    mrn_digits = {p.patient_id[3:] for p in data.population.patients()}
    for _, _, _, doc in data.docs:
        if not doc or "patient_id" not in doc:
            continue
        digits = doc["patient_id"][3:]
        for visit in doc["visits"]:
            assert digits not in visit["visit_id"]
            assert visit["visit_id"][1:] not in mrn_digits or visit["visit_id"][1:] != digits
    for _, _, record in data.claims:
        assert record["patient_id"][3:] not in record["claim_id"]
    for _, _, row in data.fills:
        assert row["patient_id"][3:] not in row["rx_id"]
    # the ids of one patient's records are spread, not a function of the patient
    firsts = Counter(record["claim_id"][:4] for _, _, record in data.claims)
    assert len(firsts) > 100


def test_claims_and_fills_refer_to_the_population(data: Data) -> None:
    patients = {p.patient_id for p in data.population.patients()}
    providers = {p.provider_id for p in data.population.providers}
    ehr_visits: dict[str, tuple[str, str]] = {}
    for _, _, _, doc in data.docs:
        if doc and "patient_id" in doc:
            for visit in doc["visits"]:
                ehr_visits[visit["visit_id"]] = (doc["patient_id"], visit["provider_id"])
    ehr_pairs = set(ehr_visits.values())
    matched = 0
    for _, _, record in data.claims:
        assert record["patient_id"] in patients and record["provider_id"] in providers
        matched += (record["patient_id"], record["provider_id"]) in ehr_pairs
        assert re.fullmatch(r"C[0-9]{9}", record["claim_id"])
        assert record["claim_type"].strip().lower() in CANONICAL_CLAIM_TYPES
        assert record["status"].strip().lower() in {"paid", "denied", "adjusted"}
    assert matched > 0.95 * len(data.claims)
    for _, _, row in data.fills:
        assert row["patient_id"] in patients and row["prescriber_id"] in providers
        assert row["drug_name"] == row["drug_name"].lower()
        assert re.fullmatch(r"RX[0-9]{9}", row["rx_id"])
        assert date(2025, 1, 1) <= row["fill_date"] <= date(2025, 12, 31)


def test_claim_amounts_versions_and_resends(data: Data) -> None:
    spoiled = {(e["file"], e["line"]) for e in data.ledger if e["source"] == "claims"}
    versions: dict[str, list[tuple[str, int, dict[str, str]]]] = defaultdict(list)
    variants = 0
    for file, line, record in data.claims:
        versions[record["claim_id"]].append((file, line, record))
        variants += record["status"] not in {"paid", "denied", "adjusted"}
        if (file, line) in spoiled:
            continue
        billed, allowed, paid = (Decimal(record[f"{k}_amount"])
                                 for k in ("billed", "allowed", "paid"))
        assert all(re.fullmatch(r"[0-9]+\.[0-9]{2}", record[f"{k}_amount"])
                   for k in ("billed", "allowed", "paid"))
        assert 0 <= paid <= allowed <= billed
        if record["status"].strip().lower() == "denied":
            assert paid == 0
        inpatient = record["claim_type"].strip().lower() == "inpatient"
        assert bool(record["admit_date"]) == inpatient == bool(record["discharge_date"])
        if inpatient:
            assert record["service_date"] == record["admit_date"] <= record["discharge_date"]
    assert 0.02 < variants / len(data.claims) < 0.08
    twos = threes = resends = 0
    for lines in versions.values():
        numbers = [int(r["claim_version"]) for _, _, r in lines]
        twos += 2 in numbers
        threes += 3 in numbers
        seen: dict[int, tuple[str, dict[str, str]]] = {}
        for file, _, record in lines:
            version = int(record["claim_version"])
            if version in seen:  # an identical re-send, in the next month's file
                assert seen[version][1] == record
                assert file > seen[version][0]
                resends += 1
            else:
                # a later version lands in a later month's file
                assert all(file > seen[v][0] for v in seen if v < version)
                seen[version] = (file, record)
    assert 0.10 < twos / len(versions) < 0.20
    assert 0.01 < threes / len(versions) < 0.05
    assert 0.003 < resends / len(data.claims) < 0.02


def test_readmission_gaps(data: Data) -> None:
    spoiled = {(e["file"], e["line"]) for e in data.ledger if e["source"] == "claims"}
    stays: dict[str, dict[str, tuple[date, date]]] = defaultdict(dict)
    for file, line, record in data.claims:
        if record["claim_type"].strip().lower() == "inpatient" and (file, line) not in spoiled:
            stays[record["patient_id"]][record["claim_id"]] = (
                date.fromisoformat(record["admit_date"]),
                date.fromisoformat(record["discharge_date"]))
    gaps = Counter()
    index_stays = 0
    for by_claim in stays.values():
        ordered = sorted(by_claim.values())
        index_stays += len(ordered)
        for (_, discharge), (admit, _) in zip(ordered, ordered[1:], strict=False):
            assert admit > discharge  # stays of one patient never overlap
            gaps[(admit - discharge).days] += 1
    assert gaps[30] > 0 and gaps[31] > 0
    within = sum(n for gap, n in gaps.items() if gap <= 30)
    assert 0.08 < within / index_stays < 0.25


def test_pdc_spreads_around_0_8(data: Data) -> None:
    spoiled = {(e["file"], e["line"]) for e in data.ledger if e["source"] == "fills"}
    by_pair: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for file, line, row in data.fills:
        if (file, line) not in spoiled:
            by_pair[(row["patient_id"], row["drug_name"])].append(
                (row["fill_date"].toordinal(), row["days_supply"]))
    pdcs = []
    for fills in by_pair.values():
        if len(fills) >= 2:
            pdcs.append(_pdc_ordinal(fills, date(2025, 12, 31).toordinal()))
    assert len(pdcs) > 200
    adherent = sum(pdc >= 0.8 for pdc in pdcs) / len(pdcs)
    assert 0.35 < adherent < 0.75
    assert sum(pdc < 0.5 for pdc in pdcs) > 0.05 * len(pdcs)
    assert min(pdcs) < 0.4 and max(pdcs) == pytest.approx(1.0, abs=0.01)
    assert sum(0.7 <= pdc < 0.8 for pdc in pdcs) > 0 and sum(0.8 <= pdc < 0.9 for pdc in pdcs)


def _pdc_ordinal(fills: list[tuple[int, int]], end: int) -> float:
    fills.sort()
    covered, supply_end = 0, None
    for day, supply in fills:
        start = day if supply_end is None else max(day, supply_end + 1)
        supply_end = start + supply - 1
        covered += max(0, min(supply_end, end) - start + 1)
    return covered / (end - fills[0][0] + 1)


# ------------------------------------------------------------------------------ the ledger
def _visit_rejected(doc: dict[str, Any], ordinal: int) -> str | None:
    visit = doc["visits"][ordinal - 1]
    if any(v["visit_id"] == visit["visit_id"] for v in doc["visits"][:ordinal - 1]):
        return "duplicate_visit_id"
    try:
        date.fromisoformat(visit["visit_date"])
    except ValueError:
        return "invalid_visit_date"
    return None


def _expected_defects(data: Data) -> set[tuple]:
    """Every defect found by reading the files independently (rules of SPEC.md §3)."""
    found: set[tuple] = set()
    latest: dict[str, tuple[tuple[str, str, int], dict[str, Any]]] = {}
    for file, line, _, doc in data.docs:
        if doc is None:
            found.add(("ehr", file, line, "invalid_json", "document", None, None))
        elif "patient_id" not in doc:
            found.add(("ehr", file, line, "missing_patient_id", "document", None, None))
        else:
            key = (doc["updated_at"], file, line)
            current = latest.get(doc["patient_id"])
            if current is None or key > current[0]:
                latest[doc["patient_id"]] = (key, doc)
    for (_, file, line), doc in latest.values():
        for ordinal, visit in enumerate(doc["visits"], start=1):
            rule = _visit_rejected(doc, ordinal)
            if rule:
                found.add(("ehr", file, line, rule, "visit", ordinal, None))
                for record_type, key in (("diagnosis", "diagnoses"),
                                         ("medication_order", "treatments"),
                                         ("provider_note", "provider_notes")):
                    for number in range(1, len(visit[key]) + 1):
                        found.add(("ehr", file, line, "rejected_visit", record_type, ordinal,
                                   number))
                continue
            for number, diagnosis in enumerate(visit["diagnoses"], start=1):
                if not ICD10.match(diagnosis["code"].strip().upper()):
                    found.add(("ehr", file, line, "malformed_icd10_code", "diagnosis", ordinal,
                               number))
            for number, order in enumerate(visit["treatments"], start=1):
                if order["end_date"] < order["start_date"]:
                    found.add(("ehr", file, line, "end_before_start", "medication_order",
                               ordinal, number))
    for file, line, record in data.claims:
        rule = None
        amounts = [Decimal(record[f"{k}_amount"]) for k in ("billed", "allowed", "paid")]
        if not record["service_date"]:
            rule = "missing_service_date"
        elif record["discharge_date"] and record["discharge_date"] < record["admit_date"]:
            rule = "discharge_before_admission"
        elif any(amount < 0 for amount in amounts):
            rule = "negative_amount"
        elif not ICD10.match(record["primary_dx"].strip().upper()):
            rule = "malformed_icd10_code"
        if rule:
            found.add(("claims", file, line, rule, "claim_version", None, None))
    seen: set[str] = set()
    for file, line, row in data.fills:
        rule = None
        if row["rx_id"] in seen:
            rule = "duplicate_rx_id"
        elif row["days_supply"] is None or row["days_supply"] <= 0:
            rule = "invalid_days_supply"
        elif row["cost"] < 0:
            rule = "negative_cost"
        elif not NDC.match(row["ndc"]):
            rule = "malformed_ndc"
        seen.add(row["rx_id"])
        if rule:
            found.add(("fills", file, line, rule, "fill", None, None))
    return found


def test_ledger_matches_the_files(data: Data) -> None:
    ledger = {(e["source"], e["file"], e["line"], e["expected_rule"], e["record_type"],
               e.get("visit_ordinal"), e.get("item_number")) for e in data.ledger}
    assert len(ledger) == len(data.ledger)
    expected = _expected_defects(data)
    assert ledger - expected == set()  # every ledger line points at a real defect
    assert expected - ledger == set()  # and every defect is in the ledger


def test_ledger_record_ids(data: Data) -> None:
    docs = {(file, line): doc for file, line, _, doc in data.docs}
    claim_rows = {(file, line): record for file, line, record in data.claims}
    fill_rows = {(file, line): row for file, line, row in data.fills}
    for entry in data.ledger:
        key = (entry["file"], entry["line"])
        if entry["source"] == "ehr":
            if entry["record_type"] == "document":
                assert entry["record_id"] is None and entry["patient_id"].startswith("MRN")
            else:
                doc = docs[key]
                assert doc["visits"][entry["visit_ordinal"] - 1]["visit_id"] == \
                    entry["record_id"]
        elif entry["source"] == "claims":
            record = claim_rows[key]
            assert record["claim_id"] == entry["record_id"]
            assert int(record["claim_version"]) == entry["claim_version"]
        else:
            assert fill_rows[key]["rx_id"] == entry["record_id"]


def _within(count: int, total: int, rate: float) -> bool:
    expected = total * rate
    sigma = math.sqrt(total * rate * (1 - rate))
    return abs(count - expected) <= 4 * sigma + 3


def test_defect_rates(data: Data) -> None:
    kinds = Counter((e["source"], e["defect"]) for e in data.ledger)
    diagnoses = orders = visits = 0
    latest_docs = {}
    for _, _, _, doc in data.docs:
        if doc and "patient_id" in doc:
            latest_docs[doc["patient_id"]] = doc  # files are read in extract order
    for doc in latest_docs.values():
        ids = set()
        for visit in doc["visits"]:
            if visit["visit_id"] in ids:
                continue
            ids.add(visit["visit_id"])
            visits += 1
            diagnoses += len(visit["diagnoses"])
            orders += len(visit["treatments"])
    lines = len(data.docs)
    assert _within(kinds["ehr", "not_json"], lines, ehr.EHR_RATES["not_json"])
    assert _within(kinds["ehr", "missing_patient_id"], lines, ehr.EHR_RATES["missing_patient_id"])
    assert _within(kinds["ehr", "malformed_icd10_code"], diagnoses,
                   ehr.EHR_RATES["malformed_icd10_code"])
    assert _within(kinds["ehr", "invalid_visit_date"], visits, ehr.EHR_RATES["invalid_visit_date"])
    assert _within(kinds["ehr", "duplicate_visit_id"], visits, ehr.EHR_RATES["duplicate_visit_id"])
    assert _within(kinds["ehr", "end_before_start"], orders, ehr.EHR_RATES["end_before_start"])
    claim_lines = len(data.claims)
    inpatient = sum(r["claim_type"].strip().lower() == "inpatient" for _, _, r in data.claims)
    for kind in ("malformed_icd10_code", "negative_amount", "missing_service_date"):
        assert _within(kinds["claims", kind], claim_lines, claims.CLAIMS_RATES[kind]), kind
    assert _within(kinds["claims", "discharge_before_admission"], inpatient,
                   claims.CLAIMS_RATES["discharge_before_admission"])
    fills = len({row["rx_id"] for _, _, row in data.fills})
    for kind, rate in claims.FILLS_RATES.items():
        assert _within(kinds["fills", kind], fills, rate), kind
    for kind in ("not_json", "missing_patient_id", "malformed_icd10_code", "invalid_visit_date",
                 "duplicate_visit_id", "end_before_start"):
        assert kinds["ehr", kind] > 0, kind
