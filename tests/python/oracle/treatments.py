"""Oracle for source S1 (DynamoDB treatment exports) and the seven analytic tables.

Reads the export folders exactly as they lie on disk (manifest-summary.json, manifest-files.json,
gzipped DynamoDB-JSON lines), applies the cleaning rules of /work/shared/DOMAIN.md and the shared
spec in plain Python, and computes the analytic tables with exact arithmetic:

- counts are ints, money is ``Decimal`` rounded half away from zero to cents,
- rates are ``fractions.Fraction`` (exact), ``None`` where the spec says null,
- months and dates are taken in the reporting time zone with ``zoneinfo``.

Nothing here reads the warehouse, its SQL or its seeds.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# --- Mappings (DOMAIN.md "Cleaning rules"), written here on purpose instead of reading seeds ---

OUTCOME_MAP: dict[str, str] = {
    "success": "success",
    "successful": "success",
    "failure": "failure",
    "failed": "failure",
    "unsuccessful": "failure",
    "ongoing": "ongoing",
    "in progress": "ongoing",
    "in_progress": "ongoing",
    "pending": "ongoing",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}

GENDER_MAP: dict[str, str] = {
    "f": "female",
    "female": "female",
    "m": "male",
    "male": "male",
}

# Checked in this order; the first that fails is the one reported.
REJECT_RULES: tuple[str, ...] = (
    "missing_treatment_id",
    "missing_patient_id",
    "missing_provider_id",
    "invalid_modified_at",
    "invalid_treatment_ts",
    "treatment_ts_after_modified_at",
    "unknown_outcome",
)

ANALYTIC_TABLES: tuple[str, ...] = (
    "provider_rank_by_total_treatments",
    "provider_rank_by_success_rate",
    "monthly_success_rate_trend",
    "treatments_by_state",
    "avg_treatment_cost_by_type",
    "treatments_per_city",
    "provider_success_rate",
)

# Natural key of every analytic table (used to match oracle rows with warehouse rows).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "provider_rank_by_total_treatments": ("provider_id",),
    "provider_rank_by_success_rate": ("provider_id",),
    "monthly_success_rate_trend": ("month_start",),
    "treatments_by_state": ("state",),
    "avg_treatment_cost_by_type": ("treatment_type",),
    "treatments_per_city": ("city", "state"),
    "provider_success_rate": ("provider_id",),
    "fct_treatments": ("treatment_id",),
}

CENT = Decimal("0.01")
COST_LIMIT = Decimal("1e10")
_COST_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# ISO-8601 with a date, a time and an offset (Z or +hh:mm / +hhmm / +hh).
_ISO_TIMESTAMP = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"[Tt](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)$"
)


# --- Reading the exports ---------------------------------------------------------------------


@dataclass(frozen=True)
class RawLine:
    """One line of one data file, with the position the warehouse keeps for it."""

    export_index: int  # 0-based position of the export in exportTime order
    export_id: str
    data_file: str  # the manifest's dataFileS3Key, as given
    line_number: int  # 1-based line in the decompressed file
    item: dict[str, Any]  # the typed attributes under "Item"


@dataclass(frozen=True)
class Export:
    export_id: str
    export_time: datetime
    summary_path: Path


def find_exports(export_root: Path) -> list[Export]:
    """Every export under ``export_root`` (any depth), in exportTime order."""
    exports = []
    for summary_path in sorted(Path(export_root).rglob("manifest-summary.json")):
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        export_time = parse_timestamp(summary["exportTime"])
        if export_time is None:
            raise ValueError(f"{summary_path}: unreadable exportTime {summary['exportTime']!r}")
        exports.append(Export(summary_path.parent.name, export_time, summary_path))
    exports.sort(key=lambda export: (export.export_time, str(export.summary_path)))
    return exports


def _data_file_path(summary_path: Path, key: str) -> Path:
    """A dataFileS3Key resolved from 'AWSDynamoDB/' on, under the folder holding AWSDynamoDB/."""
    base = summary_path.parent.parent.parent
    marker = key.find("AWSDynamoDB/")
    if marker < 0:
        raise ValueError(f"data file key without AWSDynamoDB/: {key!r}")
    path = (base / key[marker:]).resolve()
    if base.resolve() not in path.parents:
        raise ValueError(f"data file key outside the export folder: {key!r}")
    return path


def read_exports(export_root: Path) -> list[RawLine]:
    """Every line of every data file of every export, exports in exportTime order."""
    lines: list[RawLine] = []
    for export_index, export in enumerate(find_exports(export_root)):
        summary = json.loads(export.summary_path.read_text(encoding="utf-8"))
        manifest_key = summary.get("manifestFilesS3Key") or (
            f"AWSDynamoDB/{export.export_id}/manifest-files.json"
        )
        manifest_path = _data_file_path(export.summary_path, manifest_key)
        for manifest_line in manifest_path.read_text(encoding="utf-8").splitlines():
            if not manifest_line.strip():
                continue
            entry = json.loads(manifest_line)
            key = entry["dataFileS3Key"]
            raw = gzip.decompress(_data_file_path(export.summary_path, key).read_bytes())
            text_lines = raw.decode("utf-8").split("\n")
            if text_lines and text_lines[-1] == "":
                text_lines.pop()
            count = 0
            for number, text in enumerate(text_lines, start=1):
                if not text.strip():
                    continue
                obj = json.loads(text)
                item = obj.get("Item") if isinstance(obj, dict) else None
                lines.append(
                    RawLine(
                        export_index=export_index,
                        export_id=export.export_id,
                        data_file=key,
                        line_number=number,
                        item=item if isinstance(item, dict) else {},
                    )
                )
                count += 1
            if count != entry.get("itemCount", count):
                raise ValueError(f"{key}: itemCount {entry['itemCount']} but {count} lines")
    return lines


# --- Typed attributes and cleaning -----------------------------------------------------------


def _attr_text(attr: Any) -> str | None:
    """Text of a scalar attribute: S, or N as its text; NULL, absent or any other type -> None."""
    if not isinstance(attr, dict):
        return None
    if "S" in attr and isinstance(attr["S"], str):
        return attr["S"]
    if "N" in attr and isinstance(attr["N"], str):
        return attr["N"]
    return None


def _trim(text: str) -> str:
    """Blanks (spaces only, like SQL btrim) off both ends: a tab or a no-break space stays."""
    return text.strip(" ")


def _attr_map(attr: Any) -> dict[str, Any]:
    if isinstance(attr, dict) and isinstance(attr.get("M"), dict):
        return attr["M"]
    return {}


def _identifier(attr: Any) -> str | None:
    text = _attr_text(attr)
    if text is None:
        return None
    text = _trim(text)
    return text or None


def _trimmed(attr: Any) -> str | None:
    text = _attr_text(attr)
    return None if text is None else _trim(text)


def round_cents(value: Decimal | Fraction) -> Decimal:
    """Round half away from zero to 2 decimals, exactly (Fractions never pass through floats)."""
    if isinstance(value, Decimal):
        return value.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = -1 if value < 0 else 1
    hundredths = abs(value) * 100
    whole = int(hundredths + Fraction(1, 2))  # floor(x + 1/2) for x >= 0
    return Decimal(sign * whole).scaleb(-2)


def parse_cost(attr: Any) -> tuple[Decimal | None, bool]:
    """(cost rounded to cents or None, is_cost_invalid) for the ``cost`` attribute."""
    if attr is None or not isinstance(attr, dict) or "NULL" in attr:
        return None, False
    if "N" in attr and isinstance(attr["N"], str):
        text = _trim(attr["N"])
    elif "S" in attr and isinstance(attr["S"], str):
        text = _trim(attr["S"]).replace("$", "").replace(",", "")
    else:
        return None, True
    if not _COST_NUMBER.match(text):
        return None, True
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, True
    # Negative, or 1e10 or more once rounded (numeric(12, 2) cannot hold 10000000000.00).
    if value < 0 or round_cents(value) >= COST_LIMIT:
        return None, True
    return round_cents(value), False


def parse_timestamp(text: str | None) -> datetime | None:
    """An aware datetime (UTC) for an ISO-8601 timestamp with date, time and offset, else None."""
    if text is None:
        return None
    match = _ISO_TIMESTAMP.match(text)
    if not match:
        return None
    parts = match.groupdict()
    fraction = (parts["fraction"] or "").ljust(6, "0")
    offset_text = parts["offset"]
    if offset_text in ("Z", "z"):
        offset = timedelta(0)
    else:
        sign = -1 if offset_text[0] == "-" else 1
        digits = offset_text[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 15 or minutes > 59:
            return None
        offset = sign * timedelta(hours=hours, minutes=minutes)
    try:
        value = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"] or 0),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None
    # Microseconds: PostgreSQL keeps 6 digits and rounds the rest (half up on the 7th digit).
    micro = Fraction(int(fraction), 10 ** len(fraction)) * 1_000_000
    value += timedelta(microseconds=int(micro + Fraction(1, 2)))
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Version:
    """One decoded and cleaned line (the oracle's counterpart of stg_dynamo__treatment_versions)."""

    export_index: int
    export_id: str
    data_file: str
    line_number: int
    treatment_id: str | None
    patient_id: str | None
    patient_gender: str
    provider_id: str | None
    provider_name: str | None
    provider_specialty: str | None
    provider_hospital_id: str | None
    provider_city: str | None
    provider_state: str | None
    disease_code: str | None
    treatment_type: str | None
    outcome_status_raw: str | None
    outcome_status: str | None
    cost: Decimal | None
    is_cost_invalid: bool
    treatment_ts_raw: str | None
    treated_at: datetime | None
    modified_at_raw: str | None
    modified_at: datetime | None
    reject_rule: str | None


def _reject_rule(
    treatment_id: str | None,
    patient_id: str | None,
    provider_id: str | None,
    modified_at: datetime | None,
    treated_at: datetime | None,
    outcome_status: str | None,
) -> str | None:
    if treatment_id is None:
        return "missing_treatment_id"
    if patient_id is None:
        return "missing_patient_id"
    if provider_id is None:
        return "missing_provider_id"
    if modified_at is None:
        return "invalid_modified_at"
    if treated_at is None:
        return "invalid_treatment_ts"
    if treated_at > modified_at:
        return "treatment_ts_after_modified_at"
    if outcome_status is None:
        return "unknown_outcome"
    return None


def clean(line: RawLine) -> Version:
    """Decode and clean one raw line; ``reject_rule`` is what the line would be rejected for."""
    item = line.item
    patient = _attr_map(item.get("patient"))
    provider = _attr_map(item.get("provider"))
    disease = _attr_map(item.get("disease"))

    treatment_id = _identifier(item.get("treatment_id"))
    patient_id = _identifier(patient.get("patient_id"))
    provider_id = _identifier(provider.get("provider_id"))

    gender_raw = _attr_text(patient.get("gender"))
    gender = GENDER_MAP.get(_trim(gender_raw).lower(), "unknown") if gender_raw else "unknown"

    outcome_raw = _attr_text(item.get("outcome_status"))
    outcome = OUTCOME_MAP.get(_trim(outcome_raw).lower()) if outcome_raw is not None else None

    cost, is_cost_invalid = parse_cost(item.get("cost"))

    treatment_ts_raw = _attr_text(item.get("treatment_ts"))
    modified_at_raw = _attr_text(item.get("metadata_modified_at"))
    treated_at = parse_timestamp(treatment_ts_raw)
    modified_at = parse_timestamp(modified_at_raw)

    return Version(
        export_index=line.export_index,
        export_id=line.export_id,
        data_file=line.data_file,
        line_number=line.line_number,
        treatment_id=treatment_id,
        patient_id=patient_id,
        patient_gender=gender,
        provider_id=provider_id,
        provider_name=_attr_text(provider.get("name")),
        provider_specialty=_attr_text(provider.get("specialty")),
        provider_hospital_id=_attr_text(provider.get("hospital_id")),
        provider_city=_attr_text(provider.get("city")),
        provider_state=_attr_text(provider.get("state")),
        disease_code=_attr_text(disease.get("code")),
        treatment_type=_trimmed(item.get("treatment_type")),
        outcome_status_raw=outcome_raw,
        outcome_status=outcome,
        cost=cost,
        is_cost_invalid=is_cost_invalid,
        treatment_ts_raw=treatment_ts_raw,
        treated_at=treated_at,
        modified_at_raw=modified_at_raw,
        modified_at=modified_at,
        reject_rule=_reject_rule(
            treatment_id, patient_id, provider_id, modified_at, treated_at, outcome
        ),
    )


# --- Latest version and rejects --------------------------------------------------------------

_OLDEST = datetime.min.replace(tzinfo=UTC)


def _recency(version: Version) -> tuple[int, datetime, int, str, int]:
    """Sort key, larger = later: modified_at (unreadable ones oldest), export, data file, line."""
    return (
        0 if version.modified_at is None else 1,
        version.modified_at or _OLDEST,
        version.export_index,
        version.data_file,
        version.line_number,
    )


def latest_versions(versions: Iterable[Version]) -> dict[str, Version]:
    """The latest version of each treatment_id (lines without a treatment_id are left out)."""
    latest: dict[str, Version] = {}
    for version in versions:
        if version.treatment_id is None:
            continue
        current = latest.get(version.treatment_id)
        if current is None or _recency(version) > _recency(current):
            latest[version.treatment_id] = version
    return latest


def reject_rows(versions: Iterable[Version], latest: dict[str, Version]) -> list[dict[str, Any]]:
    """Rows of the rejects model: latest versions with a rule plus lines without treatment_id."""
    rows = []
    for version in versions:
        is_rejected_latest = (
            version.treatment_id is not None
            and latest[version.treatment_id] is version
            and version.reject_rule is not None
        )
        if version.treatment_id is None or is_rejected_latest:
            rows.append(
                {
                    "export_id": version.export_id,
                    "data_file": version.data_file,
                    "line_number": version.line_number,
                    "treatment_id": version.treatment_id,
                    "reject_rule": version.reject_rule,
                }
            )
    return rows


# --- Facts and analytic tables ---------------------------------------------------------------


def _rank(rows: list[dict[str, Any]], value: Callable[[dict[str, Any]], Any]) -> list[int]:
    """SQL rank() over (order by value desc): 1 + number of rows with a strictly larger value.
    Null values sort first in a descending PostgreSQL order, so they rank before every number."""
    ranks = []
    for row in rows:
        mine = value(row)
        if mine is None:
            larger = 0
        else:
            larger = sum(1 for other in rows if value(other) is None or value(other) > mine)
        ranks.append(1 + larger)
    return ranks


def _add_rank(
    rows: list[dict[str, Any]],
    column: str,
    value: Callable[[dict[str, Any]], Any],
    partition: Callable[[dict[str, Any]], Hashable] | None = None,
) -> None:
    groups: dict[Hashable, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[partition(row) if partition else None].append(row)
    for group in groups.values():
        for row, rank in zip(group, _rank(group, value), strict=True):
            row[column] = rank


def _rate(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


def _months(first: date, last: date) -> Iterator[date]:
    current = first
    while current <= last:
        yield current
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)


def _median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return round_cents(ordered[middle])
    return round_cents(Fraction(ordered[middle - 1] + ordered[middle]) / 2)


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


def _sorted(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: tuple(_sort_key(row[key]) for key in keys))


def fact_rows(latest: dict[str, Version], reporting_tz: str) -> list[dict[str, Any]]:
    """fct_treatments: every latest version without a reject rule, with the reporting date."""
    zone = ZoneInfo(reporting_tz)
    facts = []
    for version in latest.values():
        if version.reject_rule is not None:
            continue
        assert version.treated_at is not None
        facts.append(
            {
                "treatment_id": version.treatment_id,
                "treated_at": version.treated_at,
                "treatment_date": version.treated_at.astimezone(zone).date(),
                "patient_id": version.patient_id,
                "provider_id": version.provider_id,
                "outcome_status": version.outcome_status,
                "treatment_type": version.treatment_type,
                "cost": version.cost,
                "is_cost_invalid": version.is_cost_invalid,
                "modified_at": version.modified_at,
                # Provider as embedded in the item, i.e. as of the treatment time.
                "provider_name": version.provider_name,
                "provider_specialty": version.provider_specialty,
                "provider_city": version.provider_city,
                "provider_state": version.provider_state,
            }
        )
    return _sorted(facts, ("treatment_id",))


def analytic_tables(
    facts: list[dict[str, Any]], min_completed_for_rank: int = 20
) -> dict[str, list[dict[str, Any]]]:
    """The seven analytic tables from the fact rows."""
    by_provider: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in facts:
        by_provider[fact["provider_id"]].append(fact)

    # The provider's current version: its latest observation by treatment time (tie: treatment_id).
    current = {
        provider_id: max(rows, key=lambda fact: (fact["treated_at"], fact["treatment_id"]))
        for provider_id, rows in by_provider.items()
    }

    def outcome_counts(rows: list[dict[str, Any]]) -> Counter[str]:
        return Counter(fact["outcome_status"] for fact in rows)

    # 1 provider_rank_by_total_treatments
    rank_total = [
        {
            "provider_id": provider_id,
            "provider_name": current[provider_id]["provider_name"],
            "specialty": current[provider_id]["provider_specialty"],
            "total_treatments": len(rows),
        }
        for provider_id, rows in by_provider.items()
    ]
    _add_rank(rank_total, "treatment_rank", lambda row: row["total_treatments"])

    # 7 provider_success_rate and 2 provider_rank_by_success_rate
    success_rate_rows = []
    rank_rate = []
    for provider_id, rows in by_provider.items():
        counts = outcome_counts(rows)
        completed = counts["success"] + counts["failure"]
        success_rate_rows.append(
            {
                "provider_id": provider_id,
                "provider_name": current[provider_id]["provider_name"],
                "total_treatments": len(rows),
                "successful_treatments": counts["success"],
                "failed_treatments": counts["failure"],
                "ongoing_treatments": counts["ongoing"],
                "cancelled_treatments": counts["cancelled"],
                "success_rate": _rate(counts["success"], completed),
            }
        )
        if completed >= min_completed_for_rank:
            rank_rate.append(
                {
                    "provider_id": provider_id,
                    "provider_name": current[provider_id]["provider_name"],
                    "completed_treatments": completed,
                    "successful_treatments": counts["success"],
                    "success_rate": _rate(counts["success"], completed),
                }
            )
    _add_rank(rank_rate, "success_rate_rank", lambda row: row["success_rate"])

    # 3 monthly_success_rate_trend
    by_month: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for fact in facts:
        by_month[fact["treatment_date"].replace(day=1)].append(fact)
    trend = []
    previous_rate: Fraction | None = None
    if by_month:
        for month in _months(min(by_month), max(by_month)):
            rows = by_month.get(month, [])
            counts = outcome_counts(rows)
            completed = counts["success"] + counts["failure"]
            rate = _rate(counts["success"], completed)
            change = None if rate is None or previous_rate is None else rate - previous_rate
            trend.append(
                {
                    "month_start": month,
                    "treatments": len(rows),
                    "completed_treatments": completed,
                    "successful_treatments": counts["success"],
                    "success_rate": rate,
                    "success_rate_change": change,
                }
            )
            previous_rate = rate

    # 4 treatments_by_state
    by_state: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for fact in facts:
        by_state[fact["provider_state"]].append(fact)
    by_state_rows = [
        {
            "state": state,
            "treatments": len(rows),
            "share_of_treatments": Fraction(len(rows), len(facts)),
            "distinct_patients": len({fact["patient_id"] for fact in rows}),
            "distinct_providers": len({fact["provider_id"] for fact in rows}),
            "total_cost": sum(
                (fact["cost"] for fact in rows if fact["cost"] is not None), Decimal("0.00")
            ),
        }
        for state, rows in by_state.items()
    ]

    # 5 avg_treatment_cost_by_type
    by_type: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for fact in facts:
        by_type[fact["treatment_type"]].append(fact)
    cost_rows = []
    for treatment_type, rows in by_type.items():
        costs = [fact["cost"] for fact in rows if fact["cost"] is not None]
        total = sum(costs, Decimal("0.00"))
        cost_rows.append(
            {
                "treatment_type": treatment_type,
                "treatments_with_cost": len(costs),
                "avg_cost": round_cents(Fraction(total) / len(costs)) if costs else None,
                "median_cost": _median(costs) if costs else None,
                "min_cost": min(costs) if costs else None,
                "max_cost": max(costs) if costs else None,
                "total_cost": total if costs else None,
            }
        )

    # 6 treatments_per_city
    by_city: Counter[tuple[str | None, str | None]] = Counter(
        (fact["provider_city"], fact["provider_state"]) for fact in facts
    )
    city_rows = [
        {"city": city, "state": state, "treatments": count}
        for (city, state), count in by_city.items()
    ]
    _add_rank(
        city_rows, "city_rank_in_state", lambda row: row["treatments"], lambda row: row["state"]
    )

    tables = {
        "provider_rank_by_total_treatments": rank_total,
        "provider_rank_by_success_rate": rank_rate,
        "monthly_success_rate_trend": trend,
        "treatments_by_state": by_state_rows,
        "avg_treatment_cost_by_type": cost_rows,
        "treatments_per_city": city_rows,
        "provider_success_rate": success_rate_rows,
    }
    return {name: _sorted(rows, TABLE_KEYS[name]) for name, rows in tables.items()}


def compute(
    export_root: Path,
    reporting_tz: str = "America/Chicago",
    min_completed_for_rank: int = 20,
) -> dict[str, list[dict[str, Any]]]:
    """The seven analytic tables, plus ``fct_treatments`` and ``rejects``, from the exports
    under ``export_root`` (every manifest-summary.json below it, read in exportTime order)."""
    versions = [clean(line) for line in read_exports(Path(export_root))]
    latest = latest_versions(versions)
    facts = fact_rows(latest, reporting_tz)
    tables = analytic_tables(facts, min_completed_for_rank)
    tables["fct_treatments"] = facts
    tables["rejects"] = reject_rows(versions, latest)
    return tables
