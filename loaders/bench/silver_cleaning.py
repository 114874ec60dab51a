"""The cleaning rules of ``stg_dynamo__treatment_versions`` in Python, for the benchmark's
hand-written silver paths (row-by-row INSERT and pandas). Both use these helpers on the values
``dynamo_json.deserialize_item`` gives (str, Decimal, bool, None, dict, list); each mirrors the
dbt macro named in its docstring, so the typed values equal silver's."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

# (column, path of attribute names): dynamo_text columns, trimmed, null when blank
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "treatment_id": ("treatment_id",),
    "patient_id": ("patient", "patient_id"),
    "patient_first_name": ("patient", "first_name"),
    "patient_last_name": ("patient", "last_name"),
    "patient_gender_text": ("patient", "gender"),
    "patient_date_of_birth_text": ("patient", "date_of_birth"),
    "patient_city": ("patient", "city"),
    "patient_state": ("patient", "state"),
    "patient_zip": ("patient", "zip"),
    "provider_id": ("provider", "provider_id"),
    "provider_name": ("provider", "name"),
    "provider_specialty": ("provider", "specialty"),
    "provider_hospital_id": ("provider", "hospital_id"),
    "provider_city": ("provider", "city"),
    "provider_state": ("provider", "state"),
    "disease_code": ("disease", "code"),
    "disease_name": ("disease", "name"),
    "treatment_type": ("treatment_type",),
    "notes": ("notes",),
}
# (column, path): dynamo_raw_text columns, as sent (top-level attributes)
RAW_COLUMNS = {
    "outcome_status_raw": ("outcome_status",),
    "cost_raw": ("cost",),
    "treatment_ts_raw": ("treatment_ts",),
    "modified_at_raw": ("metadata_modified_at",),
}
LINEAGE = ("export_id text", "data_file text", "line_number integer", "load_id uuid",
           "loaded_at timestamptz")
# the typed columns of silver.stg_dynamo__treatment_versions but is_latest_version, in its order
COLUMNS = (*LINEAGE, *(f"{name} text" for name in (
    "treatment_id", "patient_id", "patient_first_name", "patient_last_name", "patient_gender")),
    "patient_date_of_birth date", *(f"{name} text" for name in (
        "patient_city", "patient_state", "patient_zip", "provider_id", "provider_name",
        "provider_specialty", "provider_hospital_id", "provider_city", "provider_state",
        "disease_code", "disease_name", "treatment_type", "outcome_status_raw", "outcome_status")),
    "cost numeric", "cost_raw text", "is_cost_invalid boolean", "treatment_ts_raw text",
    "treated_at timestamptz", "modified_at timestamptz", "medication_count integer",
    "medications jsonb", "is_emergency boolean", "notes text", "reject_rule text")
NAMES = tuple(column.split()[0] for column in COLUMNS)
# (rule, column that is null or (treated_at, modified_at) in the wrong order), first failing wins
REJECT_RULES: tuple[tuple[str, str | tuple[str, str]], ...] = (
    ("missing_treatment_id", "treatment_id"),
    ("missing_patient_id", "patient_id"),
    ("missing_provider_id", "provider_id"),
    ("invalid_modified_at", "modified_at"),
    ("invalid_treatment_ts", "treated_at"),
    ("treatment_ts_after_modified_at", ("treated_at", "modified_at")),
    ("unknown_outcome", "outcome_status"),
)

# safe_numeric, safe_date and safe_timestamptz's shapes (ASCII digits, as PostgreSQL's \d here)
NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
DATE = r"\d{4}-\d{2}-\d{2}"
TIMESTAMP = (r"(\d{4})-(\d{2})-(\d{2})[Tt]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:[.,](\d+))?)?"
             r"(?:[Zz]|([+-])(\d{2})(?::?([0-5]\d))?)")
_NUMBER, _DATE, _TIMESTAMP = (re.compile(p, re.ASCII) for p in (NUMBER, DATE, TIMESTAMP))
CENT = Decimal("0.01")
MONEY_LIMIT = Decimal("9999999999.995")  # rounds to 10 000 000 000.00: too large for numeric(12, 2)
MAX_OFFSET_HOURS = 15  # PostgreSQL refuses larger UTC offsets


def seed_map(name: str) -> dict[str, str]:
    with (SEEDS / f"{name}.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    return {raw: mapped for raw, mapped in rows[1:]}


GENDERS = seed_map("gender_map")
OUTCOMES = seed_map("outcome_status_map")


def attribute(item: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a path of map attributes; None when a step is absent or not a map."""
    value: Any = item
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def text(value: Any) -> str | None:
    """dynamo_text: an S (or N, as text) value trimmed of spaces; None for other types or blank.
    An N's text is Decimal's (the same number; leading zeros would be gone)."""
    if isinstance(value, str):
        return value.strip(" ") or None
    if isinstance(value, Decimal):
        return str(value)
    return None


def raw_text(attr: Any) -> str | None:
    """dynamo_raw_text, on the typed attribute: the S or N text as sent, the typed JSON of
    other types, None when absent or NULL (the decoded value would lose an N's spelling)."""
    if not isinstance(attr, dict):
        return None
    for key in ("S", "N"):
        if isinstance(attr.get(key), str):
            return attr[key]
    return None if "NULL" in attr else json.dumps(attr)


def raw_texts(typed_item: dict[str, Any]) -> dict[str, str | None]:
    """The *_raw columns of one line's typed attribute map (its "Item")."""
    return {name: raw_text(typed_item.get(path[0])) for name, path in RAW_COLUMNS.items()}


def gender(text_value: str | None) -> str:
    return GENDERS.get(text_value.lower(), "unknown") if text_value else "unknown"


def outcome(raw: str | None) -> str | None:
    return None if raw is None else OUTCOMES.get(raw.strip(" ").lower())


def number(candidate: str | None) -> Decimal | None:
    """safe_numeric: the text as a number when it has the number shape."""
    return Decimal(candidate) if candidate and _NUMBER.fullmatch(candidate) else None


def money(value: Any) -> Decimal | None:
    """dynamo_cost_text + safe_numeric + to_money: N as is, S trimmed without '$' and ',';
    rounded half away from zero to cents; None when negative, too large or not a number."""
    if isinstance(value, str):
        value = number(value.strip(" ").replace("$", "").replace(",", ""))
    if not isinstance(value, Decimal) or value < 0 or value >= MONEY_LIMIT:
        return None
    return value.quantize(CENT, ROUND_HALF_UP)


def birth_date(text_value: str | None) -> date | None:
    """safe_date: a yyyy-mm-dd text that is a valid date."""
    if not text_value or not _DATE.fullmatch(text_value):
        return None
    try:
        return date.fromisoformat(text_value)
    except ValueError:
        return None


def timestamptz(raw: str | None) -> datetime | None:
    """safe_timestamptz: an ISO-8601 date, time and UTC offset; None otherwise."""
    match = _TIMESTAMP.fullmatch(raw) if raw else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    if off_h and int(off_h) > MAX_OFFSET_HOURS:
        return None
    offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute),
                          int(second or 0), tzinfo=timezone(-offset if sign == "-" else offset))
    except ValueError:
        return None
    micros = round(float(f"0.{fraction}") * 1_000_000) if fraction else 0
    return (moment + timedelta(microseconds=micros)).astimezone(UTC)


def medications(value: Any) -> list[dict[str, Any]]:
    """dynamo_map_list(name text, dose_mg number) as JSON-ready values; [] unless a list."""
    if not isinstance(value, list):
        return []
    return [
        {"name": text(element.get("name")),
         "dose_mg": _json_number(number(text(element.get("dose_mg"))))}
        if isinstance(element, dict) else {"name": None, "dose_mg": None}
        for element in value
    ]


def list_length(value: Any) -> int:
    """dynamo_list_length: the number of elements of a list; 0 for anything else."""
    return len(value) if isinstance(value, list) else 0


def _json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def boolean(value: Any) -> bool | None:
    """dynamo_boolean: a BOOL value; None for any other type."""
    return value if isinstance(value, bool) else None


def reject_rule(row: dict[str, Any]) -> str | None:
    for rule, column in REJECT_RULES:
        if isinstance(column, tuple):
            if row[column[0]] > row[column[1]]:
                return rule
        elif row[column] is None:
            return rule
    return None


def clean_item(item: dict[str, Any], typed_item: dict[str, Any]) -> dict[str, Any]:
    """One line as the typed columns of silver (without the lineage columns): ``item`` decoded
    by deserialize_item, ``typed_item`` its "Item" as read (for the *_raw columns)."""
    row: dict[str, Any] = {name: text(attribute(item, path)) for name, path in TEXT_COLUMNS.items()}
    row.update(raw_texts(typed_item))
    row["patient_gender"] = gender(row["patient_gender_text"])
    row["patient_date_of_birth"] = birth_date(row["patient_date_of_birth_text"])
    row["disease_code"] = row["disease_code"] and row["disease_code"].upper()
    row["outcome_status"] = outcome(row["outcome_status_raw"])
    row["cost"] = money(attribute(item, ("cost",)))
    row["is_cost_invalid"] = row["cost_raw"] is not None and row["cost"] is None
    row["treated_at"] = timestamptz(row["treatment_ts_raw"])
    row["modified_at"] = timestamptz(row["modified_at_raw"])
    row["medications"] = medications(item.get("medications"))
    row["medication_count"] = list_length(item.get("medications"))
    row["is_emergency"] = boolean(item.get("is_emergency"))
    row["reject_rule"] = reject_rule(row)
    return row
