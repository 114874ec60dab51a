"""Oracle for sources S4 (EHR documents) and S5 (claims CSV, prescription fills Parquet), the
clinical silver rules and the clinical marts, and the conformed patient history.

Reads the generated files exactly as they lie on disk under a landing folder (``ehr/*.jsonl``,
``claims/*.csv``, ``fills/*.parquet``; paths taken relative to the landing folder and
'/'-separated, like the loader's ``source_file``; a file whose bytes repeat an earlier file's of
the same source does not land), the treatment exports (for the provider hospital history and
the patients' treatment observations, through ``oracle.treatments``) and optionally ADT feed
files (patient observations, through ``oracle.admissions``). It applies the silver rules of the
shared spec (/tmp/issue4/SPEC.md section 3) in plain Python and computes every row of:

- the staging rows with their reject rule (first that applies, in the spec's order):
  ``ehr_documents``, ``ehr_visits``, ``ehr_diagnoses``, ``ehr_medication_orders``,
  ``ehr_provider_notes``, ``claim_versions``, ``fills``, and ``clinical_rejects`` (one row per
  rejected staging row, as int_clinical_rejects lists them),
- ``fct_visits``, ``fct_diagnoses``, ``fct_medication_orders``, ``fct_provider_notes``,
  ``fct_claims`` (latest version, when accepted), ``fct_prescription_fills``,
- ``readmissions``, ``readmission_rates``, ``medication_adherence`` (PDC computed fill by fill,
  the plain iterative way), ``cost_per_patient_month``, ``cost_per_provider``,
  ``provider_prescribing_patterns``, ``patient_chronic_conditions``,
- ``patient_versions``: the conformed patient history (int_patients_versioned) from the EHR,
  treatment and ADT observations, with the EHR precedence rule of spec 3.6 (or, with
  ``ehr_precedence=False``, the earlier rule: the latest value from any source).

Arithmetic is exact: money is ``Decimal`` in cents, rates are ``Fraction``. Where the spec is
silent the oracle chooses, and says so: text values are trimmed of spaces and a blank is missing;
an unreadable discharge_date / end_date of an EHR visit or order is null (no rule of its own); a
claim amount left empty is null (not a rule); an empty primary_dx is null and passes the code
rule; a fill's missing cost is null and counts as 0 in sums.

Nothing here reads the warehouse, its SQL or its seeds, or imports the generator.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from oracle import admissions, treatments
from oracle.admissions import AdtLine, DepartmentRecord
from oracle.treatments import parse_timestamp, round_cents

# --- Mappings and constants (the spec's seeds and vars, written here on purpose) --------------

GENDER_MAP: dict[str, str] = {"f": "female", "female": "female", "m": "male", "male": "male"}
VISIT_TYPE_MAP: dict[str, str] = {
    "inpatient": "inpatient",
    "outpatient": "outpatient",
    "emergency": "emergency",
    "er": "emergency",
    "telehealth": "telehealth",
    "tele-health": "telehealth",
}
CLAIM_TYPE_MAP: dict[str, str] = {
    name: name for name in ("inpatient", "outpatient", "professional", "emergency")
}
CLAIM_STATUS_MAP: dict[str, str] = {name: name for name in ("paid", "denied", "adjusted")}

ICD10_PATTERN = re.compile(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?")
NDC_PATTERN = re.compile(r"[0-9]{5}-[0-9]{4}-[0-9]{2}")

# (condition_code, condition_name, icd10 prefixes without dots), spec 4.8
CHRONIC_CONDITIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("diabetes", "Diabetes mellitus", ("E10", "E11", "E13")),
    ("hypertension", "Hypertension", ("I10", "I11", "I12", "I13")),
    ("heart_failure", "Heart failure", ("I50",)),
    ("copd", "Chronic obstructive pulmonary disease", ("J44",)),
    ("asthma", "Asthma", ("J45",)),
    ("ckd", "Chronic kidney disease", ("N18",)),
    ("coronary_artery_disease", "Coronary artery disease", ("I25",)),
    ("depression", "Depression", ("F32", "F33")),
    ("hyperlipidemia", "Hyperlipidemia", ("E78",)),
)

EHR_SOURCE = "ehr_documents"
CLAIMS_SOURCE = "claims"
FILLS_SOURCE = "prescription_fills"

DOCUMENT_RULES = ("invalid_json", "missing_patient_id", "invalid_updated_at")
VISIT_RULES = (
    "missing_visit_id", "duplicate_visit_id", "invalid_visit_date", "unknown_visit_type",
    "missing_provider_id", "discharge_before_visit",
)
DIAGNOSIS_RULES = ("rejected_visit", "malformed_icd10_code")
ORDER_RULES = ("rejected_visit", "missing_drug", "invalid_start_date", "end_before_start")
NOTE_RULES = ("rejected_visit", "missing_note_id", "invalid_written_at")
CLAIM_RULES = (
    "malformed_row", "missing_claim_id", "invalid_claim_version", "missing_patient_id",
    "missing_provider_id", "unknown_claim_type", "unknown_status", "invalid_date",
    "missing_service_date", "discharge_before_admission", "negative_amount", "invalid_amount",
    "malformed_icd10_code",
)
FILL_RULES = (
    "malformed_row", "missing_rx_id", "duplicate_rx_id", "missing_patient_id",
    "missing_prescriber_id", "invalid_fill_date", "invalid_days_supply", "negative_cost",
    "malformed_ndc",
)

PATIENT_ATTRIBUTES: tuple[str, ...] = (
    "first_name", "last_name", "gender", "date_of_birth", "city", "state", "zip", "ssn", "phone",
    "email", "address_line",
)
SOURCE_RANK = {"ehr": 1, "treatments": 2, "adt": 3}

# Natural key of every table (to match oracle rows with warehouse rows).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "ehr_documents": ("source_file", "line_number"),
    "ehr_visits": ("patient_id", "visit_ordinal"),
    "ehr_diagnoses": ("patient_id", "visit_ordinal", "diagnosis_number"),
    "ehr_medication_orders": ("patient_id", "visit_ordinal", "order_number"),
    "ehr_provider_notes": ("patient_id", "visit_ordinal", "note_number"),
    "claim_versions": ("source_file", "line_number"),
    "fills": ("source_file", "line_number"),
    "fct_visits": ("visit_id",),
    "fct_diagnoses": ("visit_id", "diagnosis_number"),
    "fct_medication_orders": ("visit_id", "order_number"),
    "fct_provider_notes": ("note_id",),
    "fct_claims": ("claim_id",),
    "fct_prescription_fills": ("rx_id",),
    "readmissions": ("claim_id",),
    "readmission_rates": ("hospital_id", "month_start"),
    "medication_adherence": ("patient_id", "drug_name"),
    "cost_per_patient_month": ("patient_id", "month_start"),
    "cost_per_provider": ("provider_id",),
    "provider_prescribing_patterns": ("prescriber_id", "drug_name"),
    "patient_chronic_conditions": ("patient_id", "condition_code"),
    "patient_versions": ("patient_id", "valid_from"),
    "provider_versions": ("provider_id", "valid_from"),
}

# The gold tables the spec names, with their columns in order (spec section 4).
GOLD_COLUMNS: dict[str, tuple[str, ...]] = {
    "fct_visits": (
        "visit_id", "patient_id", "provider_id", "hospital_id", "visit_date", "discharge_date",
        "visit_type", "diagnoses", "primary_icd10_code", "medication_orders",
    ),
    "fct_diagnoses": (
        "visit_id", "diagnosis_number", "patient_id", "visit_date", "icd10_code", "description",
        "is_primary",
    ),
    "fct_medication_orders": (
        "visit_id", "order_number", "patient_id", "provider_id", "drug", "dose", "route",
        "start_date", "end_date",
    ),
    "fct_claims": (
        "claim_id", "claim_version", "patient_id", "provider_id", "hospital_id", "claim_type",
        "admit_date", "discharge_date", "service_date", "primary_dx", "procedure_code",
        "billed_amount", "allowed_amount", "paid_amount", "status", "length_of_stay_days",
    ),
    "fct_prescription_fills": (
        "rx_id", "patient_id", "prescriber_id", "hospital_id", "ndc", "drug_name", "fill_date",
        "days_supply", "quantity", "cost",
    ),
    "readmissions": (
        "claim_id", "patient_id", "provider_id", "hospital_id", "admit_date", "discharge_date",
        "discharge_month", "next_claim_id", "next_admit_date", "days_to_readmission",
        "is_readmitted",
    ),
    "readmission_rates": (
        "hospital_id", "month_start", "index_stays", "readmissions", "readmission_rate",
    ),
    "medication_adherence": (
        "patient_id", "drug_name", "fills", "first_fill_date", "last_fill_date", "window_days",
        "days_covered", "pdc", "is_adherent",
    ),
    "cost_per_patient_month": (
        "patient_id", "month_start", "claims", "billed_amount", "allowed_amount", "paid_amount",
        "fills", "pharmacy_cost", "total_paid",
    ),
    "cost_per_provider": (
        "provider_id", "hospital_id", "claims", "billed_amount", "allowed_amount", "paid_amount",
        "fills", "pharmacy_cost", "total_paid",
    ),
    "provider_prescribing_patterns": (
        "prescriber_id", "hospital_id", "drug_name", "fills", "patients", "total_days_supply",
        "total_cost", "share_of_prescriber_fills", "drug_rank",
    ),
    "patient_chronic_conditions": (
        "patient_id", "condition_code", "condition_name", "has_condition", "first_diagnosed_on",
        "diagnoses",
    ),
}

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Settings:
    """The dbt vars the clinical models read (defaults as in dbt_project.yml)."""

    reporting_tz: str = "America/Chicago"
    readmission_window_days: int = 30
    adherence_period_start: date = date(2025, 1, 1)
    adherence_period_end: date = date(2025, 12, 31)
    adherence_min_fills: int = 2
    adherence_threshold: Fraction = Fraction(4, 5)


# --- Small value helpers ---------------------------------------------------------------------

_text = admissions._text
_trim = admissions._trim
_identifier = admissions._identifier


def _clean(value: Any) -> str | None:
    """A scalar as trimmed text; None when null, absent, blank, an object or an array."""
    return _identifier(value)


def parse_date(value: Any) -> date | None:
    """A yyyy-mm-dd calendar date (as safe_date: no blanks around it); None otherwise."""
    text = _text(value) if not isinstance(value, dict | list) else None
    if text is None or not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_amount(text: str | None) -> tuple[Decimal | None, bool]:
    """(amount in cents or None, is_number) of a claim amount field; empty = (None, True)."""
    if text is None or _trim(text) == "":
        return None, True
    trimmed = _trim(text)
    if not _NUMBER.fullmatch(trimmed):
        return None, False
    try:
        return round_cents(Decimal(trimmed)), True
    except InvalidOperation:
        return None, False


def is_icd10(code: str | None) -> bool:
    return code is not None and ICD10_PATTERN.fullmatch(code) is not None


def month_start(day: date) -> date:
    return day.replace(day=1)


def reporting_day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight starting ``day`` in the reporting time zone, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, 0 if value is None else value)


def _sorted(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: tuple(_sort_key(row[key]) for key in keys))


# --- Reading the files -----------------------------------------------------------------------


def _source_files(landing: Path, pattern: re.Pattern[str]) -> list[str]:
    landing = Path(landing)
    names = sorted(
        path.relative_to(landing).as_posix()
        for path in landing.rglob("*")
        if path.is_file()
        and admissions._is_feed_file(path, landing)
        and pattern.fullmatch(path.name.lower())
    )
    return admissions.landed(landing, names)


EHR_FILE = re.compile(r"ehr_.*\.jsonl")
CLAIMS_FILE = re.compile(r"claims_.*\.csv")
FILLS_FILE = re.compile(r".*\.parquet")
ADT_FILE = re.compile(r"(?!ehr_).*\.jsonl")
DEPARTMENT_FILE = re.compile(r"(?!claims_).*\.csv")


def read_ehr(landing: Path) -> list[AdtLine]:
    """Every non-empty line of every EHR extract that lands (a line that is not a JSON object
    has ``event`` None)."""
    lines: list[AdtLine] = []
    for name in _source_files(landing, EHR_FILE):
        lines += admissions.parse_adt_text(name, (Path(landing) / name).read_bytes().decode())
    return lines


def read_claims(landing: Path) -> list[DepartmentRecord]:
    """Every record of every claims batch that lands (``record`` None: wrong field count)."""
    records: list[DepartmentRecord] = []
    for name in _source_files(landing, CLAIMS_FILE):
        text = (Path(landing) / name).read_bytes().decode("utf-8")
        records += admissions.parse_department_text(name, text)
    return records


@dataclass(frozen=True)
class FillRow:
    source_file: str
    line_number: int  # 1-based row number in the file
    record: dict[str, Any]


def read_fills(landing: Path) -> list[FillRow]:
    """Every row of every fills Parquet file that lands, with pyarrow."""
    import pyarrow.parquet as pq

    rows: list[FillRow] = []
    for name in _source_files(landing, FILLS_FILE):
        number = 0
        for batch in pq.ParquetFile(Path(landing) / name).iter_batches(batch_size=10_000):
            for record in batch.to_pylist():
                number += 1
                rows.append(FillRow(name, number, record))
    return rows


# --- EHR: documents and their flattening -----------------------------------------------------


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def check_documents(lines: Iterable[AdtLine]) -> list[dict[str, Any]]:
    """Rows of stg_ehr__documents (one per landed line), with is_latest_document."""
    rows = []
    for line in lines:
        document = line.event
        body = _object(document)
        name = _object(body.get("name"))
        address = _object(body.get("address"))
        gender_text = _clean(body.get("gender"))
        updated_at_raw = _text(body.get("updated_at"))
        updated_at = None
        if updated_at_raw is not None and not isinstance(body.get("updated_at"), dict | list):
            updated_at = parse_timestamp(_trim(updated_at_raw))
        patient_id = _clean(body.get("patient_id"))
        if document is None:
            rule = "invalid_json"
        elif patient_id is None:
            rule = "missing_patient_id"
        elif updated_at is None:
            rule = "invalid_updated_at"
        else:
            rule = None
        rows.append(
            {
                "source_file": line.source_file,
                "line_number": line.line_number,
                "patient_id": patient_id,
                "first_name": _clean(name.get("first")),
                "last_name": _clean(name.get("last")),
                "date_of_birth": parse_date(body.get("date_of_birth")),
                "gender": GENDER_MAP.get(gender_text.lower(), "unknown")
                if gender_text
                else "unknown",
                "ssn": _clean(body.get("ssn")),
                "phone": _clean(body.get("phone")),
                "email": _clean(body.get("email")),
                "address_line": _clean(address.get("line")),
                "city": _clean(address.get("city")),
                "state": _clean(address.get("state")),
                "zip": _clean(address.get("zip")),
                "updated_at": updated_at,
                "visit_count": len(_array(body.get("visits"))),
                "reject_rule": rule,
                "document": document,
            }
        )
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["reject_rule"] is not None:
            continue
        order = (row["updated_at"], row["source_file"], row["line_number"])
        current = latest.get(row["patient_id"])
        if current is None or order > (
            current["updated_at"], current["source_file"], current["line_number"]
        ):
            latest[row["patient_id"]] = row
    for row in rows:
        row["is_latest_document"] = (
            row["reject_rule"] is None and latest[row["patient_id"]] is row
        )
    return _sorted(rows, TABLE_KEYS["ehr_documents"])


def flatten_documents(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """stg_ehr__visits, __diagnoses, __medication_orders, __provider_notes from the latest
    accepted document of each patient."""
    latest = sorted(
        (row for row in documents if row["is_latest_document"]),
        key=lambda row: row["patient_id"],
    )
    visits: list[dict[str, Any]] = []
    for document in latest:
        for ordinal, raw in enumerate(_array(document["document"].get("visits")), start=1):
            visit = _object(raw)
            discharge = parse_date(visit.get("discharge_date"))
            visits.append(
                {
                    "source_file": document["source_file"],
                    "line_number": document["line_number"],
                    "patient_id": document["patient_id"],
                    "visit_ordinal": ordinal,
                    "visit_id": _clean(visit.get("visit_id")),
                    "visit_date": parse_date(visit.get("visit_date")),
                    "discharge_date": discharge,
                    "visit_type_raw": _text(visit.get("visit_type")),
                    "visit_type": VISIT_TYPE_MAP.get(
                        _trim(_text(visit.get("visit_type")) or "").lower()
                    ),
                    "provider_id": _clean(visit.get("provider_id")),
                    "raw": visit,
                }
            )
    seen: set[str] = set()
    for visit in visits:  # in (patient_id, visit_ordinal) order
        duplicate = visit["visit_id"] in seen
        if visit["visit_id"] is not None:
            seen.add(visit["visit_id"])
        if visit["visit_id"] is None:
            rule = "missing_visit_id"
        elif duplicate:
            rule = "duplicate_visit_id"
        elif visit["visit_date"] is None:
            rule = "invalid_visit_date"
        elif visit["visit_type"] is None:
            rule = "unknown_visit_type"
        elif visit["provider_id"] is None:
            rule = "missing_provider_id"
        elif visit["discharge_date"] is not None and visit["discharge_date"] < visit["visit_date"]:
            rule = "discharge_before_visit"
        else:
            rule = None
        visit["reject_rule"] = rule

    diagnoses, orders, notes = [], [], []
    for visit in visits:
        base = {
            "source_file": visit["source_file"],
            "line_number": visit["line_number"],
            "patient_id": visit["patient_id"],
            "visit_ordinal": visit["visit_ordinal"],
            "visit_id": visit["visit_id"],
        }
        rejected = visit["reject_rule"] is not None
        for number, raw in enumerate(_array(visit["raw"].get("diagnoses")), start=1):
            item = _object(raw)
            code = _clean(item.get("code"))
            code = None if code is None else code.upper()
            primary = item.get("is_primary")
            diagnoses.append(
                {
                    **base,
                    "diagnosis_number": number,
                    "icd10_code": code,
                    "description": _text(item.get("description")),
                    "is_primary": primary if isinstance(primary, bool) else None,
                    "reject_rule": "rejected_visit"
                    if rejected
                    else (None if is_icd10(code) else "malformed_icd10_code"),
                }
            )
        for number, raw in enumerate(_array(visit["raw"].get("treatments")), start=1):
            item = _object(raw)
            drug = _clean(item.get("drug"))
            start = parse_date(item.get("start_date"))
            end = parse_date(item.get("end_date"))
            if rejected:
                rule = "rejected_visit"
            elif drug is None:
                rule = "missing_drug"
            elif start is None:
                rule = "invalid_start_date"
            elif end is not None and end < start:
                rule = "end_before_start"
            else:
                rule = None
            orders.append(
                {
                    **base,
                    "order_number": number,
                    "drug": drug,
                    "dose": _text(item.get("dose")),
                    "route": _text(item.get("route")),
                    "start_date": start,
                    "end_date": end,
                    "reject_rule": rule,
                }
            )
        for number, raw in enumerate(_array(visit["raw"].get("provider_notes")), start=1):
            item = _object(raw)
            note_id = _clean(item.get("note_id"))
            written_raw = item.get("written_at")
            written_at = (
                parse_timestamp(_trim(written_raw)) if isinstance(written_raw, str) else None
            )
            if rejected:
                rule = "rejected_visit"
            elif note_id is None:
                rule = "missing_note_id"
            elif written_at is None:
                rule = "invalid_written_at"
            else:
                rule = None
            notes.append(
                {
                    **base,
                    "note_number": number,
                    "note_id": note_id,
                    "author_provider_id": _clean(item.get("author_provider_id")),
                    "written_at": written_at,
                    "note_text": _text(item.get("text")),
                    "reject_rule": rule,
                }
            )
    return {
        "ehr_visits": visits,
        "ehr_diagnoses": diagnoses,
        "ehr_medication_orders": orders,
        "ehr_provider_notes": notes,
    }


# --- Claims ----------------------------------------------------------------------------------


def check_claims(records: Iterable[DepartmentRecord]) -> list[dict[str, Any]]:
    """Rows of stg_claims__claim_versions (one per landed record) with is_latest_version."""
    rows = []
    for record in records:
        fields = record.record or {}

        def field(name: str, fields: dict[str, str] = fields) -> str | None:
            value = fields.get(name)
            return None if value is None else (_trim(value) or None)

        version_text = field("claim_version")
        version = (
            int(version_text)
            if version_text is not None and _INTEGER.fullmatch(version_text)
            else None
        )
        claim_type = field("claim_type")
        status = field("status")
        dates = {name: field(name) for name in ("admit_date", "discharge_date", "service_date")}
        parsed = {name: parse_date(text) for name, text in dates.items()}
        amounts = {
            name: parse_amount(fields.get(name))
            for name in ("billed_amount", "allowed_amount", "paid_amount")
        }
        primary_dx = field("primary_dx")
        primary_dx = None if primary_dx is None else primary_dx.upper()
        row = {
            "source_file": record.source_file,
            "line_number": record.line_number,
            "claim_id": field("claim_id"),
            "claim_version": version,
            "patient_id": field("patient_id"),
            "provider_id": field("provider_id"),
            "claim_type": None if claim_type is None else CLAIM_TYPE_MAP.get(claim_type.lower()),
            **parsed,
            "primary_dx": primary_dx,
            "procedure_code": field("procedure_code"),
            **{name: value for name, (value, _ok) in amounts.items()},
            "status": None if status is None else CLAIM_STATUS_MAP.get(status.lower()),
        }
        if record.record is None:
            rule = "malformed_row"
        elif row["claim_id"] is None:
            rule = "missing_claim_id"
        elif version is None or version < 1:
            rule = "invalid_claim_version"
        elif row["patient_id"] is None:
            rule = "missing_patient_id"
        elif row["provider_id"] is None:
            rule = "missing_provider_id"
        elif row["claim_type"] is None:
            rule = "unknown_claim_type"
        elif row["status"] is None:
            rule = "unknown_status"
        elif any(dates[name] is not None and parsed[name] is None for name in dates):
            rule = "invalid_date"
        elif parsed["service_date"] is None:
            rule = "missing_service_date"
        elif (
            parsed["admit_date"] is not None
            and parsed["discharge_date"] is not None
            and parsed["discharge_date"] < parsed["admit_date"]
        ):
            rule = "discharge_before_admission"
        elif any(value is not None and value < 0 for value, _ok in amounts.values()):
            rule = "negative_amount"
        elif not all(ok for _value, ok in amounts.values()):
            rule = "invalid_amount"
        elif primary_dx is not None and not is_icd10(primary_dx):
            rule = "malformed_icd10_code"
        else:
            rule = None
        row["reject_rule"] = rule
        rows.append(row)

    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["reject_rule"] in ("malformed_row", "missing_claim_id", "invalid_claim_version"):
            continue
        order = (row["claim_version"], row["source_file"], row["line_number"])
        current = latest.get(row["claim_id"])
        if current is None or order > (
            current["claim_version"], current["source_file"], current["line_number"]
        ):
            latest[row["claim_id"]] = row
    for row in rows:
        row["is_latest_version"] = row["claim_id"] in latest and latest[row["claim_id"]] is row
    return _sorted(rows, TABLE_KEYS["claim_versions"])


# --- Fills -----------------------------------------------------------------------------------


def check_fills(rows_in: Iterable[FillRow]) -> list[dict[str, Any]]:
    """Rows of stg_fills__prescription_fills (one per landed Parquet row)."""
    rows = []
    for fill in rows_in:
        record = fill.record
        fill_date = record.get("fill_date")
        if not isinstance(fill_date, date):
            fill_date = parse_date(fill_date)
        days = record.get("days_supply")
        days_supply = days if isinstance(days, int) and not isinstance(days, bool) else None
        if isinstance(days, str) and _INTEGER.fullmatch(_trim(days)):
            days_supply = int(_trim(days))
        cost = record.get("cost")
        if isinstance(cost, float):
            cost = Decimal(repr(cost))
        cost = round_cents(cost) if isinstance(cost, Decimal) else None
        quantity = record.get("quantity")
        drug = _clean(record.get("drug_name"))
        rows.append(
            {
                "source_file": fill.source_file,
                "line_number": fill.line_number,
                "rx_id": _clean(record.get("rx_id")),
                "patient_id": _clean(record.get("patient_id")),
                "prescriber_id": _clean(record.get("prescriber_id")),
                "ndc": _clean(record.get("ndc")),
                "drug_name": None if drug is None else drug.lower(),
                "fill_date": fill_date,
                "days_supply": days_supply,
                "quantity": None
                if quantity is None
                else Fraction(Decimal(repr(quantity)) if isinstance(quantity, float) else quantity),
                "cost": cost,
            }
        )
    seen: set[str] = set()
    for row in sorted(rows, key=lambda r: (r["source_file"], r["line_number"])):
        duplicate = row["rx_id"] in seen
        if row["rx_id"] is not None:
            seen.add(row["rx_id"])
        if row["rx_id"] is None:
            rule = "missing_rx_id"
        elif duplicate:
            rule = "duplicate_rx_id"
        elif row["patient_id"] is None:
            rule = "missing_patient_id"
        elif row["prescriber_id"] is None:
            rule = "missing_prescriber_id"
        elif row["fill_date"] is None:
            rule = "invalid_fill_date"
        elif row["days_supply"] is None or row["days_supply"] <= 0:
            rule = "invalid_days_supply"
        elif row["cost"] is not None and row["cost"] < 0:
            rule = "negative_cost"
        elif row["ndc"] is None or not NDC_PATTERN.fullmatch(row["ndc"]):
            rule = "malformed_ndc"
        else:
            rule = None
        row["reject_rule"] = rule
    return _sorted(rows, TABLE_KEYS["fills"])


# --- Rejects ---------------------------------------------------------------------------------


def reject_rows(staging: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """int_clinical_rejects: one row per rejected staging row (spec 3.5; so a rejected claim
    version superseded by a later one is listed too: each version row is judged on its own,
    only the facts follow the latest version). record_id: the document's patient_id, the
    visit_id for a visit and everything inside it (diagnoses, orders, notes: as the ledger
    names them), the claim_id, the rx_id."""
    specs = (
        ("ehr_documents", EHR_SOURCE, "document", "patient_id"),
        ("ehr_visits", EHR_SOURCE, "visit", "visit_id"),
        ("ehr_diagnoses", EHR_SOURCE, "diagnosis", "visit_id"),
        ("ehr_medication_orders", EHR_SOURCE, "medication_order", "visit_id"),
        ("ehr_provider_notes", EHR_SOURCE, "provider_note", "visit_id"),
        ("claim_versions", CLAIMS_SOURCE, "claim_version", "claim_id"),
        ("fills", FILLS_SOURCE, "fill", "rx_id"),
    )
    rows = []
    for table, source, record_type, id_column in specs:
        for row in staging[table]:
            if row["reject_rule"] is None:
                continue
            rows.append(
                {
                    "source": source,
                    "record_type": record_type,
                    "record_id": row[id_column],
                    "reject_rule": row["reject_rule"],
                    "source_file": row["source_file"],
                    "line_number": row["line_number"],
                }
            )
    return rows


def reject_counts(rejects: Iterable[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """Rejected rows per (source, record_type, reject_rule)."""
    return Counter((row["source"], row["record_type"], row["reject_rule"]) for row in rejects)


# --- Providers (hospital history from the treatment exports) ---------------------------------


@dataclass(frozen=True)
class TreatmentFacts:
    """The latest valid version of each treatment (fct_treatments), with its raw line."""

    versions: list[treatments.Version]
    items: dict[str, dict[str, Any]]  # treatment_id -> the item's typed attributes


def read_treatments(export_root: Path | None) -> TreatmentFacts:
    """The treatment exports under ``export_root`` (none: no treatments), read once."""
    if export_root is None:
        return TreatmentFacts([], {})
    lines = treatments.read_exports(Path(export_root))
    by_position = {(line.data_file, line.line_number): line for line in lines}
    latest = treatments.latest_versions(treatments.clean(line) for line in lines)
    valid = [version for version in latest.values() if version.reject_rule is None]
    items = {
        str(version.treatment_id): by_position[(version.data_file, version.line_number)].item
        for version in valid
    }
    return TreatmentFacts(valid, items)


def provider_versions(facts: TreatmentFacts) -> dict[str, list[dict[str, Any]]]:
    """int_providers_versioned from the treatment exports: per provider, business-time
    versions of (provider_name, specialty, hospital_id, city, state) over its latest valid
    treatments ordered by treated_at (several at one instant: the greatest treatment_id states
    it); a version starts where the tuple changes; valid_from None = -infinity, valid_to None
    = infinity."""
    by_instant: dict[tuple[str, datetime], treatments.Version] = {}
    for version in facts.versions:
        assert version.provider_id is not None and version.treated_at is not None
        key = (version.provider_id, version.treated_at)
        current = by_instant.get(key)
        if current is None or str(version.treatment_id) > str(current.treatment_id):
            by_instant[key] = version
    observations: dict[str, list[tuple[datetime, tuple[Any, ...]]]] = defaultdict(list)
    for (provider_id, treated_at), version in by_instant.items():
        attributes = tuple(
            None if value is None else (_trim(value) or None)
            for value in (
                version.provider_name, version.provider_specialty,
                version.provider_hospital_id, version.provider_city, version.provider_state,
            )
        )
        observations[provider_id].append((treated_at, attributes))
    result: dict[str, list[dict[str, Any]]] = {}
    for provider_id, rows in observations.items():
        rows.sort(key=lambda row: row[0])
        starts = [
            row for index, row in enumerate(rows) if index == 0 or row[1] != rows[index - 1][1]
        ]
        result[provider_id] = [
            {
                "provider_id": provider_id,
                "provider_name": attributes[0],
                "specialty": attributes[1],
                "hospital_id": attributes[2],
                "city": attributes[3],
                "state": attributes[4],
                "valid_from": None if index == 0 else observed_at,
                "valid_to": starts[index + 1][0] if index + 1 < len(starts) else None,
            }
            for index, (observed_at, attributes) in enumerate(starts)
        ]
    return result


class Hospitals:
    """A provider's hospital on a date (the version valid at the start of that day in the
    reporting time zone) and now (the current version)."""

    def __init__(self, versions: Mapping[str, list[dict[str, Any]]], zone: ZoneInfo) -> None:
        self.versions = versions
        self.zone = zone

    def on(self, provider_id: str | None, day: date | None) -> str | None:
        if provider_id is None or day is None:
            return None
        version = admissions.version_at(
            self.versions.get(provider_id, []), reporting_day_start(day, self.zone)
        )
        return None if version is None else version["hospital_id"]

    def current(self, provider_id: str | None) -> str | None:
        versions = self.versions.get(provider_id or "", [])
        return versions[-1]["hospital_id"] if versions else None


# --- Patients (conformed history) ------------------------------------------------------------


def _treatment_patient(item: dict[str, Any]) -> dict[str, Any]:
    patient = treatments._attr_map(item.get("patient"))
    gender = treatments._identifier(patient.get("gender"))
    gender = GENDER_MAP.get(gender.lower()) if gender else None
    return {
        "first_name": treatments._identifier(patient.get("first_name")),
        "last_name": treatments._identifier(patient.get("last_name")),
        "gender": gender,
        "date_of_birth": parse_date(treatments._identifier(patient.get("date_of_birth"))),
        "city": treatments._identifier(patient.get("city")),
        "state": treatments._identifier(patient.get("state")),
        "zip": treatments._identifier(patient.get("zip")),
    }


def patient_observations(
    documents: Iterable[dict[str, Any]],
    facts: TreatmentFacts = TreatmentFacts([], {}),
    adt_events: Iterable[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """int_patient_observations: one per accepted EHR document (every attribute it carries;
    gender 'unknown' as None), one per latest valid treatment (the patient as of the
    treatment), one per accepted ADT event (gender and date of birth only)."""
    empty = dict.fromkeys(PATIENT_ATTRIBUTES)
    observations = []
    for row in documents:
        if row["reject_rule"] is not None:
            continue
        observations.append(
            {
                "patient_id": row["patient_id"],
                "observed_at": row["updated_at"],
                "source_system": "ehr",
                "source_rank": SOURCE_RANK["ehr"],
                "observation_id": f"{row['source_file']}:{row['line_number']}",
                **{name: row[name] for name in PATIENT_ATTRIBUTES},
                "gender": None if row["gender"] == "unknown" else row["gender"],
            }
        )
    for version in facts.versions:
        observations.append(
            {
                "patient_id": version.patient_id,
                "observed_at": version.treated_at,
                "source_system": "treatments",
                "source_rank": SOURCE_RANK["treatments"],
                "observation_id": version.treatment_id,
                **empty,
                **_treatment_patient(facts.items[str(version.treatment_id)]),
            }
        )
    for event in adt_events:
        if event["reject_rule"] is not None:
            continue
        observations.append(
            {
                "patient_id": event["patient_id"],
                "observed_at": event["event_at"],
                "source_system": "adt",
                "source_rank": SOURCE_RANK["adt"],
                "observation_id": event["event_id"],
                **empty,
                "gender": None if event["gender"] == "unknown" else event["gender"],
                "date_of_birth": event["date_of_birth"],
            }
        )
    return observations


def patient_versions(
    observations: Iterable[dict[str, Any]], *, ehr_precedence: bool = True
) -> list[dict[str, Any]]:
    """int_patients_versioned from the observations.

    Observations of a patient are taken in the order (observed_at, source_rank descending,
    observation_id): at one instant the lower source_rank comes last. At each observation every
    attribute takes (ehr_precedence=True, spec 3.6) the EHR's latest non-null value observed
    so far, or where the EHR has none yet, the latest non-null value of the other sources;
    (ehr_precedence=False, the earlier rule) the latest non-null value of any source. Of
    several observations at one instant the last states the patient; a version starts where
    the tuple differs from the previous instant's; valid_from None = -infinity, valid_to None
    = infinity. Gender still unknown is 'unknown'."""
    by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in observations:
        by_patient[row["patient_id"]].append(row)
    versions = []
    for patient_id, rows in by_patient.items():
        rows.sort(key=lambda r: (r["observed_at"], -r["source_rank"], r["observation_id"]))
        ehr: dict[str, Any] = {}
        other: dict[str, Any] = {}
        states: list[tuple[datetime, tuple[Any, ...]]] = []
        for row in rows:
            known = ehr if (ehr_precedence and row["source_system"] == "ehr") else other
            for name in PATIENT_ATTRIBUTES:
                if row[name] is not None:
                    known[name] = row[name]
            state = tuple(
                ehr.get(name) if ehr.get(name) is not None else other.get(name)
                for name in PATIENT_ATTRIBUTES
            )
            gender = PATIENT_ATTRIBUTES.index("gender")
            state = state[:gender] + (state[gender] or "unknown",) + state[gender + 1:]
            if states and states[-1][0] == row["observed_at"]:
                states[-1] = (row["observed_at"], state)  # the last at one instant wins
            else:
                states.append((row["observed_at"], state))
        starts = [s for i, s in enumerate(states) if i == 0 or s[1] != states[i - 1][1]]
        for index, (observed_at, state) in enumerate(starts):
            versions.append(
                {
                    "patient_id": patient_id,
                    **dict(zip(PATIENT_ATTRIBUTES, state, strict=True)),
                    "valid_from": None if index == 0 else observed_at,
                    "valid_to": starts[index + 1][0] if index + 1 < len(starts) else None,
                }
            )
    return sorted(
        versions,
        key=lambda v: (v["patient_id"], v["valid_from"] is not None, v["valid_from"] or 0),
    )


# --- Facts -----------------------------------------------------------------------------------


def fact_tables(
    staging: Mapping[str, list[dict[str, Any]]], hospitals: Hospitals
) -> dict[str, list[dict[str, Any]]]:
    visits = [row for row in staging["ehr_visits"] if row["reject_rule"] is None]
    diagnoses = [row for row in staging["ehr_diagnoses"] if row["reject_rule"] is None]
    orders = [row for row in staging["ehr_medication_orders"] if row["reject_rule"] is None]
    notes = [row for row in staging["ehr_provider_notes"] if row["reject_rule"] is None]
    by_visit: dict[str, dict[str, Any]] = {row["visit_id"]: row for row in visits}
    diagnoses_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in diagnoses:
        diagnoses_of[row["visit_id"]].append(row)
    orders_of: Counter[str] = Counter(row["visit_id"] for row in orders)

    fct_visits = []
    for visit in visits:
        primaries = [d["icd10_code"] for d in diagnoses_of[visit["visit_id"]] if d["is_primary"]]
        fct_visits.append(
            {
                "visit_id": visit["visit_id"],
                "patient_id": visit["patient_id"],
                "provider_id": visit["provider_id"],
                "hospital_id": hospitals.on(visit["provider_id"], visit["visit_date"]),
                "visit_date": visit["visit_date"],
                "discharge_date": visit["discharge_date"],
                "visit_type": visit["visit_type"],
                "diagnoses": len(diagnoses_of[visit["visit_id"]]),
                "primary_icd10_code": min(primaries) if primaries else None,
                "medication_orders": orders_of[visit["visit_id"]],
            }
        )
    fct_diagnoses = [
        {
            "visit_id": row["visit_id"],
            "diagnosis_number": row["diagnosis_number"],
            "patient_id": row["patient_id"],
            "visit_date": by_visit[row["visit_id"]]["visit_date"],
            "icd10_code": row["icd10_code"],
            "description": row["description"],
            "is_primary": row["is_primary"],
        }
        for row in diagnoses
    ]
    fct_orders = [
        {
            "visit_id": row["visit_id"],
            "order_number": row["order_number"],
            "patient_id": row["patient_id"],
            "provider_id": by_visit[row["visit_id"]]["provider_id"],
            **{name: row[name] for name in ("drug", "dose", "route", "start_date", "end_date")},
        }
        for row in orders
    ]
    fct_notes = [
        {
            "note_id": row["note_id"],
            "visit_id": row["visit_id"],
            "patient_id": row["patient_id"],
            "author_provider_id": row["author_provider_id"],
            "written_at": row["written_at"],
            "note_text": row["note_text"],
        }
        for row in notes
    ]
    fct_claims = []
    for row in staging["claim_versions"]:
        if not row["is_latest_version"] or row["reject_rule"] is not None:
            continue
        fct_claims.append(
            {
                **{name: row[name] for name in GOLD_COLUMNS["fct_claims"] if name in row},
                "hospital_id": hospitals.on(
                    row["provider_id"], row["discharge_date"] or row["service_date"]
                ),
                "length_of_stay_days": (row["discharge_date"] - row["admit_date"]).days
                if row["claim_type"] == "inpatient"
                and row["admit_date"] is not None
                and row["discharge_date"] is not None
                else None,
            }
        )
    fct_fills = [
        {
            **{name: row[name] for name in GOLD_COLUMNS["fct_prescription_fills"] if name in row},
            "hospital_id": hospitals.on(row["prescriber_id"], row["fill_date"]),
        }
        for row in staging["fills"]
        if row["reject_rule"] is None
    ]
    return {
        "fct_visits": _sorted(fct_visits, TABLE_KEYS["fct_visits"]),
        "fct_diagnoses": _sorted(fct_diagnoses, TABLE_KEYS["fct_diagnoses"]),
        "fct_medication_orders": _sorted(fct_orders, TABLE_KEYS["fct_medication_orders"]),
        "fct_provider_notes": _sorted(fct_notes, TABLE_KEYS["fct_provider_notes"]),
        "fct_claims": _sorted(fct_claims, TABLE_KEYS["fct_claims"]),
        "fct_prescription_fills": _sorted(fct_fills, TABLE_KEYS["fct_prescription_fills"]),
    }


# --- Analytic tables -------------------------------------------------------------------------


def readmission_rows(claims: Iterable[dict[str, Any]], window_days: int = 30) -> list[dict]:
    """readmissions: every accepted inpatient claim with admit and discharge dates is an index
    stay; the next stay of the patient in (admit_date, discharge_date, claim_id) order."""
    stays: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for claim in claims:
        if (
            claim["claim_type"] == "inpatient"
            and claim["admit_date"] is not None
            and claim["discharge_date"] is not None
        ):
            stays[claim["patient_id"]].append(claim)
    rows = []
    for patient_stays in stays.values():
        patient_stays.sort(key=lambda c: (c["admit_date"], c["discharge_date"], c["claim_id"]))
        for index, stay in enumerate(patient_stays):
            following = patient_stays[index + 1] if index + 1 < len(patient_stays) else None
            days = (
                None
                if following is None
                else (following["admit_date"] - stay["discharge_date"]).days
            )
            rows.append(
                {
                    "claim_id": stay["claim_id"],
                    "patient_id": stay["patient_id"],
                    "provider_id": stay["provider_id"],
                    "hospital_id": stay["hospital_id"],
                    "admit_date": stay["admit_date"],
                    "discharge_date": stay["discharge_date"],
                    "discharge_month": month_start(stay["discharge_date"]),
                    "next_claim_id": None if following is None else following["claim_id"],
                    "next_admit_date": None if following is None else following["admit_date"],
                    "days_to_readmission": days,
                    "is_readmitted": days is not None and 0 <= days <= window_days,
                }
            )
    return _sorted(rows, TABLE_KEYS["readmissions"])


def readmission_rate_rows(readmissions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str | None, date], list[dict[str, Any]]] = defaultdict(list)
    for row in readmissions:
        groups[(row["hospital_id"], row["discharge_month"])].append(row)
    rows = []
    for (hospital_id, month), stays in groups.items():
        readmitted = sum(1 for stay in stays if stay["is_readmitted"])
        rows.append(
            {
                "hospital_id": hospital_id,
                "month_start": month,
                "index_stays": len(stays),
                "readmissions": readmitted,
                "readmission_rate": Fraction(readmitted, len(stays)),
            }
        )
    return _sorted(rows, TABLE_KEYS["readmission_rates"])


def days_covered(
    fills: Iterable[tuple[date, int]], period_end: date
) -> tuple[int, list[tuple[date, date]]]:
    """Days covered by fills (fill_date, days_supply) already in (fill_date, rx_id) order, the
    straightforward way: each fill's supply starts on its fill date or the day after the
    previous supply ends, whichever is later, and counts up to the period end. Returns the
    total and each fill's (supply_start, supply_end)."""
    covered = 0
    spans = []
    previous_end: date | None = None
    for fill_date, supply in fills:
        start = fill_date
        if previous_end is not None and previous_end + timedelta(days=1) > start:
            start = previous_end + timedelta(days=1)
        end = start + timedelta(days=supply - 1)
        day = start
        while day <= end and day <= period_end:  # count day by day: no formula to get wrong
            covered += 1
            day += timedelta(days=1)
        spans.append((start, end))
        previous_end = end
    return covered, spans


def adherence_rows(fills: Iterable[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    start, end = settings.adherence_period_start, settings.adherence_period_end
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for fill in fills:
        if start <= fill["fill_date"] <= end:
            groups[(fill["patient_id"], fill["drug_name"])].append(fill)
    rows = []
    for (patient_id, drug_name), group in groups.items():
        if len(group) < settings.adherence_min_fills:
            continue
        group.sort(key=lambda f: (f["fill_date"], f["rx_id"]))
        covered, _spans = days_covered(((f["fill_date"], f["days_supply"]) for f in group), end)
        first = group[0]["fill_date"]
        window = (end - first).days + 1
        pdc = Fraction(covered, window)
        rows.append(
            {
                "patient_id": patient_id,
                "drug_name": drug_name,
                "fills": len(group),
                "first_fill_date": first,
                "last_fill_date": group[-1]["fill_date"],
                "window_days": window,
                "days_covered": covered,
                "pdc": pdc,
                "is_adherent": pdc >= settings.adherence_threshold,
            }
        )
    return _sorted(rows, TABLE_KEYS["medication_adherence"])


def _money_sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((value for value in values if value is not None), ZERO)


def cost_rows(
    claims: list[dict[str, Any]], fills: list[dict[str, Any]], hospitals: Hospitals
) -> dict[str, list[dict[str, Any]]]:
    def totals(claim_rows: list[dict[str, Any]], fill_rows: list[dict[str, Any]]) -> dict:
        paid = _money_sum(c["paid_amount"] for c in claim_rows)
        pharmacy = _money_sum(f["cost"] for f in fill_rows)
        return {
            "claims": len(claim_rows),
            "billed_amount": _money_sum(c["billed_amount"] for c in claim_rows),
            "allowed_amount": _money_sum(c["allowed_amount"] for c in claim_rows),
            "paid_amount": paid,
            "fills": len(fill_rows),
            "pharmacy_cost": pharmacy,
            "total_paid": paid + pharmacy,
        }

    by_month: dict[tuple[str, date], tuple[list, list]] = defaultdict(lambda: ([], []))
    for claim in claims:
        by_month[(claim["patient_id"], month_start(claim["service_date"]))][0].append(claim)
    for fill in fills:
        by_month[(fill["patient_id"], month_start(fill["fill_date"]))][1].append(fill)
    patient_month = [
        {"patient_id": patient_id, "month_start": month, **totals(*sides)}
        for (patient_id, month), sides in by_month.items()
    ]
    by_provider: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for claim in claims:
        by_provider[claim["provider_id"]][0].append(claim)
    for fill in fills:
        by_provider[fill["prescriber_id"]][1].append(fill)
    provider = [
        {"provider_id": provider_id, "hospital_id": hospitals.current(provider_id),
         **totals(*sides)}
        for provider_id, sides in by_provider.items()
    ]
    return {
        "cost_per_patient_month": _sorted(patient_month, TABLE_KEYS["cost_per_patient_month"]),
        "cost_per_provider": _sorted(provider, TABLE_KEYS["cost_per_provider"]),
    }


def prescribing_rows(fills: list[dict[str, Any]], hospitals: Hospitals) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for fill in fills:
        groups[fill["prescriber_id"]][fill["drug_name"]].append(fill)
    rows = []
    for prescriber_id, drugs in groups.items():
        total = sum(len(group) for group in drugs.values())
        for drug_name, group in drugs.items():
            rows.append(
                {
                    "prescriber_id": prescriber_id,
                    "hospital_id": hospitals.current(prescriber_id),
                    "drug_name": drug_name,
                    "fills": len(group),
                    "patients": len({f["patient_id"] for f in group}),
                    "total_days_supply": sum(f["days_supply"] for f in group),
                    "total_cost": _money_sum(f["cost"] for f in group),
                    "share_of_prescriber_fills": Fraction(len(group), total),
                    "drug_rank": 1 + sum(1 for other in drugs.values() if len(other) > len(group)),
                }
            )
    return _sorted(rows, TABLE_KEYS["provider_prescribing_patterns"])


def chronic_condition_rows(
    diagnoses: list[dict[str, Any]], claims: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every patient with an accepted diagnosis or claim times every condition."""
    coded: dict[str, list[tuple[str | None, date]]] = defaultdict(list)
    for row in diagnoses:
        coded[row["patient_id"]].append((row["icd10_code"], row["visit_date"]))
    for row in claims:
        coded[row["patient_id"]].append((row["primary_dx"], row["service_date"]))
    rows = []
    for patient_id, codes in coded.items():
        for condition_code, condition_name, prefixes in CHRONIC_CONDITIONS:
            dates = [
                on for code, on in codes
                if code is not None and code.replace(".", "").startswith(prefixes)
            ]
            rows.append(
                {
                    "patient_id": patient_id,
                    "condition_code": condition_code,
                    "condition_name": condition_name,
                    "has_condition": bool(dates),
                    "first_diagnosed_on": min(dates) if dates else None,
                    "diagnoses": len(dates),
                }
            )
    return _sorted(rows, TABLE_KEYS["patient_chronic_conditions"])


# --- Everything ------------------------------------------------------------------------------


def compute(
    landing: Path,
    treatment_exports: Path | None = None,
    adt_landing: Path | None = None,
    *,
    settings: Settings = Settings(),
    adt_loaded_at: admissions.LoadedAt = None,
    ehr_precedence: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Every table (see the module docstring) from the clinical files under ``landing``, the
    treatment exports under ``treatment_exports`` and ADT/department files under
    ``adt_landing`` (each optional but the first). ``adt_loaded_at`` gives each ADT and
    department file's load time (a mapping by path relative to ``adt_landing``, or a
    function), which the ADT rules need (oracle.admissions); ``patient_observations`` is
    returned too."""
    zone = ZoneInfo(settings.reporting_tz)
    documents = check_documents(read_ehr(landing))
    staging: dict[str, list[dict[str, Any]]] = {"ehr_documents": documents}
    staging.update(flatten_documents(documents))
    staging["claim_versions"] = check_claims(read_claims(landing))
    staging["fills"] = check_fills(read_fills(landing))
    facts = read_treatments(treatment_exports)
    hospitals = Hospitals(provider_versions(facts), zone)
    tables: dict[str, list[dict[str, Any]]] = dict(staging)
    tables["clinical_rejects"] = reject_rows(staging)
    tables.update(fact_tables(staging, hospitals))
    claims, fills = tables["fct_claims"], tables["fct_prescription_fills"]
    tables["readmissions"] = readmission_rows(claims, settings.readmission_window_days)
    tables["readmission_rates"] = readmission_rate_rows(tables["readmissions"])
    tables["medication_adherence"] = adherence_rows(fills, settings)
    tables.update(cost_rows(claims, fills, hospitals))
    tables["provider_prescribing_patterns"] = prescribing_rows(fills, hospitals)
    tables["patient_chronic_conditions"] = chronic_condition_rows(tables["fct_diagnoses"], claims)
    adt_events: list[dict[str, Any]] = []
    if adt_landing is not None:
        adt_events = admissions.compute(
            adt_landing, adt_loaded_at, reporting_tz=settings.reporting_tz
        )["adt_events_checked"]
    observations = patient_observations(documents, facts, adt_events)
    tables["patient_observations"] = observations
    tables["patient_versions"] = patient_versions(observations, ehr_precedence=ehr_precedence)
    tables["provider_versions"] = [
        version for versions in hospitals.versions.values() for version in versions
    ]
    return tables


# --- The generator's ledger ------------------------------------------------------------------

# (staging table, ledger source, record_type, record id column, item number column)
LEDGER_TABLES: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    ("ehr_documents", "ehr", "document", None, None),
    ("ehr_visits", "ehr", "visit", "visit_id", None),
    ("ehr_diagnoses", "ehr", "diagnosis", "visit_id", "diagnosis_number"),
    ("ehr_medication_orders", "ehr", "medication_order", "visit_id", "order_number"),
    ("ehr_provider_notes", "ehr", "provider_note", "visit_id", "note_number"),
    ("claim_versions", "claims", "claim_version", "claim_id", None),
    ("fills", "fills", "fill", "rx_id", None),
)
LedgerKey = tuple[str, str, int, str, Any, Any, str]


def ledger_key(entry: Mapping[str, Any]) -> LedgerKey:
    """(source, file, line, record_type, record_id, item_number, rule) of a ledger entry."""
    record_type = entry.get("record_type") or {"claims": "claim_version", "fills": "fill"}.get(
        entry["source"], "document")
    return (entry["source"], entry["file"], entry["line"], record_type,
            entry.get("record_id") if record_type != "document" else None,
            entry.get("item_number"), entry["expected_rule"])


def rejected_keys(
    tables: Mapping[str, list[dict[str, Any]]],
    number_columns: Mapping[str, str | None] | None = None,
) -> Counter[LedgerKey]:
    """The ledger keys of every rejected staging row (``tables`` the oracle's staging tables
    or the warehouse's rows under the same names; ``number_columns`` overrides the item
    number column per table)."""
    keys: Counter[LedgerKey] = Counter()
    for table, source, record_type, id_column, number_column in LEDGER_TABLES:
        if number_columns is not None and table in number_columns:
            number_column = number_columns[table]
        for row in tables.get(table, []):
            if row["reject_rule"] is None:
                continue
            keys[(source, row["source_file"], row["line_number"], record_type,
                  None if id_column is None else row[id_column],
                  None if number_column is None else row[number_column], row["reject_rule"])] += 1
    return keys


def ledger_problems(
    rejected: Counter[LedgerKey],
    ledger: list[dict[str, Any]],
    without_item: frozenset[str] = frozenset(),
) -> list[str]:
    """Precision and recall 1.0 of the rejected rows against the generator's ledger, both as
    multisets of (source, file, line, record_type, record_id, item_number, rule); the item
    number is left out for the record types in ``without_item``."""

    def project(key: LedgerKey) -> LedgerKey:
        return key if key[3] not in without_item else (*key[:5], None, key[6])

    intended: Counter[LedgerKey] = Counter(project(ledger_key(entry)) for entry in ledger)
    projected: Counter[LedgerKey] = Counter()
    for key, count in rejected.items():
        projected[project(key)] += count
    rejected = projected
    matched = intended & rejected
    problems = []
    missed = intended - matched
    extra = rejected - matched
    if missed:
        recall = matched.total() / intended.total()
        problems.append(
            f"recall {recall:.6f}: {missed.total()} ledger entries not rejected with their rule, "
            f"first: {sorted(missed, key=str)[:10]}"
        )
    if extra:
        precision = matched.total() / rejected.total()
        problems.append(
            f"precision {precision:.6f}: {extra.total()} rows rejected outside the ledger, "
            f"first: {sorted(extra, key=str)[:10]}"
        )
    return problems
