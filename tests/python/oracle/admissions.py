"""Oracle for sources S2 (ADT events) and S3 (department extracts) and the admissions marts.

Reads the landed files exactly as they lie on disk (``**/*.jsonl`` ADT feed files and
``**/*.csv`` department extracts under a landing folder, paths taken relative to it and
'/'-separated, like the loader's ``source_file``; a file whose bytes repeat an earlier
file's does not land, see ``landed``), applies the rules of the shared spec
(/tmp/issue3/SPEC.md, "Silver interface" and "Gold interface") in plain Python and computes:

- every landed ADT line with its reject rule (first that applies, in the spec's order), its
  age and invalid-age flag (``adt_events_checked``),
- every department extract row with its reject rule (``department_extract_rows``), the
  business-time department versions (``department_versions``, SCD2) and ``dim_hospital``,
- ``fct_encounters``, ``fct_bed_census_daily``, ``department_bottlenecks``,
  ``admission_kpis_by_gender``, ``admission_kpis_by_age_band``,
- the data-quality counts ``dq_loads`` and ``dq_rejects_by_rule`` per source and load.

Arithmetic is exact: minutes, hours, averages, rates and percentiles are ``Fraction``;
reporting dates use ``zoneinfo`` (America/Chicago by default). Load metadata that no file holds
(each file's load time and load id) is supplied by the caller. An infinite version bound
('-infinity' / 'infinity' in the warehouse) is ``None`` here.

Where the spec is silent the oracle chooses, and says so: values are trimmed of spaces and a
blank is missing; "first"/"latest" events order by (event_at, event_id); an age recomputed from
the date of birth outside 0..max_valid_age is null; the band 'unknown' is ordered after the
last band; a bottleneck row names its department as in the department's current version.

Nothing here reads the warehouse, its SQL or its seeds, or imports the generator.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from oracle.treatments import parse_timestamp

# --- Mappings and constants (the spec's seeds, written here on purpose) ----------------------

EVENT_TYPE_MAP: dict[str, str] = {
    "arrive": "ARRIVE",
    "arrival": "ARRIVE",
    "admit": "ADMIT",
    "admission": "ADMIT",
    "transfer": "TRANSFER",
    "discharge": "DISCHARGE",
}

GENDER_MAP: dict[str, str] = {"f": "female", "female": "female", "m": "male", "male": "male"}

# (band, min_age, max_age, order); an unknown age is in the band 'unknown'.
AGE_BANDS: tuple[tuple[str, int, int, int], ...] = (
    ("0-17", 0, 17, 1),
    ("18-34", 18, 34, 2),
    ("35-49", 35, 49, 3),
    ("50-64", 50, 64, 4),
    ("65-79", 65, 79, 5),
    ("80+", 80, 120, 6),
)
UNKNOWN_BAND = "unknown"

# Top-level ADT keys silver decodes; every other key goes to extra_attributes.
KNOWN_EVENT_KEYS = frozenset(
    {
        "event_id", "event_type", "event_ts", "encounter_id", "patient_id", "patient",
        "hospital_id", "department_id", "bed_id", "insurance_type", "arrival_mode",
    }
)

# Checked in this order; the first that applies is the row's rule.
ADT_REJECT_RULES: tuple[str, ...] = (
    "invalid_json",
    "missing_event_id",
    "duplicate_event_id",
    "unknown_event_type",
    "missing_encounter_id",
    "missing_patient_id",
    "missing_event_ts",
    "invalid_event_ts",
    "future_event_ts",
    "unknown_department",
    "discharge_before_admission",
)
DEPARTMENT_REJECT_RULES: tuple[str, ...] = (
    "malformed_row",
    "missing_department_id",
    "missing_hospital_id",
    "invalid_bed_capacity",
    "invalid_staff_count",
    "invalid_updated_at",
)
DEPARTMENT_HEADER: tuple[str, ...] = (
    "hospital_id", "hospital_name", "city", "state", "department_id", "department_name",
    "bed_capacity", "staff_count", "updated_at",
)
# Attributes whose change starts a new department version.
DEPARTMENT_ATTRIBUTES: tuple[str, ...] = (
    "hospital_id", "hospital_name", "city", "state", "department_name", "bed_capacity",
    "staff_count",
)

ADT_SOURCE = "adt_events"
DEPARTMENT_SOURCE = "department_extracts"
DEFAULT_LOAD_ID = "load-1"

# Natural key of every table (to match oracle rows with warehouse rows).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "adt_events_checked": ("source_file", "line_number"),
    "department_extract_rows": ("source_file", "line_number"),
    "department_versions": ("department_id", "valid_from"),
    "dim_hospital": ("hospital_id",),
    "fct_encounters": ("encounter_id",),
    "fct_bed_census_daily": ("census_date", "department_id"),
    "department_bottlenecks": ("department_id", "month_start"),
    "admission_kpis_by_gender": ("gender",),
    "admission_kpis_by_age_band": ("age_band",),
    "dq_loads": ("source", "load_id"),
    "dq_rejects_by_rule": ("source", "load_id", "reject_rule"),
}

_INTEGER = re.compile(r"^[+-]?\d+$")
_COUNT = re.compile(r"^\+?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MICROSECONDS_PER_MINUTE = 60_000_000
_MICROSECONDS_PER_HOUR = 3_600_000_000

LoadedAt = Mapping[str, datetime] | Callable[[str], datetime] | None
LoadIds = Mapping[str, str] | Callable[[str], str] | None


# --- Reading the landed files ----------------------------------------------------------------


def _relative(path: Path, landing: Path) -> str:
    return path.relative_to(landing).as_posix()


def _is_feed_file(path: Path, landing: Path) -> bool:
    """A landed feed file: not inside a DynamoDB export folder, not hidden."""
    parts = path.relative_to(landing).parts
    return "AWSDynamoDB" not in parts and not any(part.startswith(".") for part in parts)


def _files(landing: Path, suffix: str) -> list[str]:
    landing = Path(landing)
    return sorted(
        _relative(path, landing)
        for path in landing.rglob(f"*{suffix}")
        if path.is_file() and _is_feed_file(path, landing)
    )


def adt_files(landing: Path) -> list[str]:
    """Relative paths of the ADT feed files under ``landing``, sorted."""
    return _files(landing, ".jsonl")


def department_files(landing: Path) -> list[str]:
    """Relative paths of the department extracts under ``landing``, sorted."""
    return _files(landing, ".csv")


def landed(landing: Path, names: list[str]) -> list[str]:
    """The files that land: the loader skips a file whose bytes equal those of a file it
    loaded before (idempotency by content), and it loads in path order (which is drop order for
    the spec's names). A department extract of a day without changes repeats the previous
    day's bytes, so it does not land."""
    seen: set[str] = set()
    result = []
    for name in names:
        digest = hashlib.md5((Path(landing) / name).read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            result.append(name)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


@dataclass(frozen=True)
class AdtLine:
    """One non-empty line of an ADT file, with the position the warehouse keeps for it."""

    source_file: str
    line_number: int  # 1-based physical line
    event: dict[str, Any] | None  # the JSON object; None when the line is not one
    raw_line: str


def parse_adt_text(source_file: str, text: str) -> list[AdtLine]:
    """The lines of one ADT file's text: a line of only spaces, tabs and CRs is empty and
    skipped (numbering keeps it); a byte order mark at the start is dropped."""
    text = text.removeprefix("\ufeff")
    pieces = text.split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()
    lines = []
    for number, piece in enumerate(pieces, start=1):
        line = piece[:-1] if piece.endswith("\r") else piece
        if not line.strip(" \t\r"):
            continue
        try:
            value = json.loads(line, parse_constant=_reject_constant)
        except ValueError:
            value = None
        lines.append(
            AdtLine(source_file, number, value if isinstance(value, dict) else None, line)
        )
    return lines


def read_adt(landing: Path) -> list[AdtLine]:
    """Every line of every ADT file under ``landing`` that lands."""
    landing = Path(landing)
    lines: list[AdtLine] = []
    for name in landed(landing, adt_files(landing)):
        lines += parse_adt_text(name, (landing / name).read_bytes().decode("utf-8"))
    return lines


@dataclass(frozen=True)
class DepartmentRecord:
    """One record of a department extract (the header is line 1 and is not a record)."""

    source_file: str
    line_number: int  # 1-based physical line where the record starts
    record: dict[str, str] | None  # None when the field count differs from the header's


def parse_department_text(source_file: str, text: str) -> list[DepartmentRecord]:
    """The records of one department extract; blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return []
    records = []
    previous_end = reader.line_num
    for fields in reader:
        start = previous_end + 1
        previous_end = reader.line_num
        if not fields:
            continue
        record = dict(zip(header, fields, strict=True)) if len(fields) == len(header) else None
        records.append(DepartmentRecord(source_file, start, record))
    return records


def read_departments(landing: Path) -> list[DepartmentRecord]:
    """Every record of every department extract under ``landing`` that lands."""
    landing = Path(landing)
    records: list[DepartmentRecord] = []
    for name in landed(landing, department_files(landing)):
        text = (landing / name).read_bytes().decode("utf-8")
        records += parse_department_text(name, text)
    return records


# --- Small value helpers ---------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A JSON value as text (``->>``): strings as they are, other values as JSON text,
    null/absent as None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))


def _trim(text: str) -> str:
    """Blanks (spaces only, like SQL btrim) off both ends."""
    return text.strip(" ")


def _identifier(value: Any) -> str | None:
    """A scalar's text, trimmed; None for null, absent, blank, an object or an array."""
    if isinstance(value, dict | list):
        return None
    text = _text(value)
    if text is None:
        return None
    return _trim(text) or None


def _lookup(map_: Mapping[str, str], value: Any) -> str | None:
    text = _text(value)
    return None if text is None else map_.get(_trim(text).lower())


def _parse_date(text: str | None) -> date | None:
    if text is None or not _DATE.match(_trim(text)):
        return None
    try:
        return date.fromisoformat(_trim(text))
    except ValueError:
        return None


def whole_years(born: date, on: date) -> int:
    """Age in whole years on ``on`` (a 29 February birthday turns over on 1 March)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def reporting_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def date_key(day: date | None) -> int | None:
    return None if day is None else day.year * 10000 + day.month * 100 + day.day


def census_instant(census_date: date, zone: ZoneInfo) -> datetime:
    """Midnight ending ``census_date`` in the reporting time zone, in UTC."""
    return datetime.combine(census_date + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def age_band(age: int | None) -> tuple[str, int]:
    """(band, order) of an age; 'unknown', after the last band, when the age is null or outside
    every band."""
    if age is not None:
        for band, low, high, order in AGE_BANDS:
            if low <= age <= high:
                return band, order
    return UNKNOWN_BAND, age_band_order(UNKNOWN_BAND)


def minutes_between(start: datetime, end: datetime) -> Fraction:
    return Fraction((end - start) // timedelta(microseconds=1), _MICROSECONDS_PER_MINUTE)


def hours_between(start: datetime, end: datetime) -> Fraction:
    return Fraction((end - start) // timedelta(microseconds=1), _MICROSECONDS_PER_HOUR)


def average(values: list[Fraction]) -> Fraction | None:
    return Fraction(sum(values, Fraction(0)), len(values)) if values else None


def percentile_cont(values: list[Fraction], fraction: Fraction) -> Fraction | None:
    """SQL percentile_cont: linear interpolation at position fraction * (n - 1) of the sorted
    values; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)  # floor: position >= 0
    if lower + 1 >= len(ordered):
        return ordered[lower]
    return ordered[lower] + (position - lower) * (ordered[lower + 1] - ordered[lower])


def _resolver(value: Mapping[str, Any] | Callable[[str], Any] | None, default: Any) -> Callable:
    if value is None:
        return lambda _source_file: default
    if callable(value) and not isinstance(value, Mapping):
        return value
    return lambda source_file: value[source_file]


# --- Department extracts ---------------------------------------------------------------------


def _field(record: dict[str, str], name: str) -> str | None:
    """A field's text, trimmed; None when absent or blank."""
    value = record.get(name)
    return None if value is None else (_trim(value) or None)


def _count_value(text: str | None) -> int | None:
    """An integer >= 0 (digits, an optional '+'), else None."""
    if text is None or not _COUNT.match(text):
        return None
    return int(text)


def check_department_record(record: DepartmentRecord, load_id: str, loaded_at: datetime) -> dict:
    """One row of stg_departments__extract_rows for a record."""
    values: dict[str, Any] = dict.fromkeys(
        ("hospital_id", "hospital_name", "city", "state", "department_id", "department_name",
         "bed_capacity", "staff_count", "updated_at"),
    )
    rule: str | None
    if record.record is None:
        rule = "malformed_row"
    else:
        fields = record.record
        updated_text = _field(fields, "updated_at")
        values.update(
            hospital_id=_field(fields, "hospital_id"),
            hospital_name=_field(fields, "hospital_name"),
            city=_field(fields, "city"),
            state=_field(fields, "state"),
            department_id=_field(fields, "department_id"),
            department_name=_field(fields, "department_name"),
            bed_capacity=_count_value(_field(fields, "bed_capacity")),
            staff_count=_count_value(_field(fields, "staff_count")),
            updated_at=parse_timestamp(updated_text),
        )
        if values["department_id"] is None:
            rule = "missing_department_id"
        elif values["hospital_id"] is None:
            rule = "missing_hospital_id"
        elif values["bed_capacity"] is None:
            rule = "invalid_bed_capacity"
        elif values["staff_count"] is None:
            rule = "invalid_staff_count"
        elif values["updated_at"] is None:
            rule = "invalid_updated_at"
        else:
            rule = None
    return {
        "load_id": load_id,
        "loaded_at": loaded_at,
        "source_file": record.source_file,
        "line_number": record.line_number,
        **values,
        "reject_rule": rule,
    }


def department_versions(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Business-time versions per department_id from the accepted extract rows: observations
    ordered by updated_at (several at one instant: the later source_file, then line, wins); a
    version starts where the attribute tuple differs from the previous observation's.
    valid_from None = '-infinity' (first version), valid_to None = 'infinity' (last)."""
    per_instant: dict[tuple[str, datetime], dict[str, Any]] = {}
    for row in rows:
        if row["reject_rule"] is not None:
            continue
        key = (row["department_id"], row["updated_at"])
        current = per_instant.get(key)
        if current is None or (row["source_file"], row["line_number"]) > (
            current["source_file"], current["line_number"]
        ):
            per_instant[key] = row
    by_department: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (department_id, _updated_at), row in per_instant.items():
        by_department[department_id].append(row)
    versions: list[dict[str, Any]] = []
    for department_id, observations in by_department.items():
        observations.sort(key=lambda row: row["updated_at"])
        starts: list[dict[str, Any]] = []
        previous: tuple[Any, ...] | None = None
        for row in observations:
            attributes = tuple(row[name] for name in DEPARTMENT_ATTRIBUTES)
            if attributes != previous:
                starts.append(row)
            previous = attributes
        for index, row in enumerate(starts):
            versions.append(
                {
                    "department_id": department_id,
                    **{name: row[name] for name in DEPARTMENT_ATTRIBUTES},
                    "valid_from": None if index == 0 else row["updated_at"],
                    "valid_to": (
                        starts[index + 1]["updated_at"] if index + 1 < len(starts) else None
                    ),
                }
            )
    # '-infinity' (None) first
    return sorted(
        versions,
        key=lambda v: (v["department_id"], v["valid_from"] is not None, v["valid_from"] or 0),
    )


def version_at(versions: list[dict[str, Any]], instant: datetime) -> dict[str, Any] | None:
    """The version valid at ``instant`` (valid_from <= instant < valid_to)."""
    for version in versions:
        starts = version["valid_from"] is None or version["valid_from"] <= instant
        ends = version["valid_to"] is not None and version["valid_to"] <= instant
        if starts and not ends:
            return version
    return None


def hospital_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """dim_hospital: per hospital, the values of its latest accepted extract row (by updated_at,
    then source_file, then line)."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["reject_rule"] is not None:
            continue
        order = (row["updated_at"], row["source_file"], row["line_number"])
        current = latest.get(row["hospital_id"])
        if current is None or order > (
            current["updated_at"], current["source_file"], current["line_number"]
        ):
            latest[row["hospital_id"]] = row
    return _sorted(
        [
            {
                "hospital_id": hospital_id,
                "hospital_name": row["hospital_name"],
                "city": row["city"],
                "state": row["state"],
            }
            for hospital_id, row in latest.items()
        ],
        ("hospital_id",),
    )


# --- ADT events ------------------------------------------------------------------------------


def _decode_event(line: AdtLine, max_valid_age: int) -> dict[str, Any]:
    """The decoded columns of one line (before the reject rules and the age on the event)."""
    event = line.event or {}
    patient = event.get("patient")
    patient = patient if isinstance(patient, dict) else {}
    event_ts_raw = _text(event.get("event_ts"))
    age_raw = _text(patient.get("age"))
    age_text = None if age_raw is None else _trim(age_raw)
    reported_age = int(age_text) if age_text is not None and _INTEGER.match(age_text) else None
    is_valid_age = reported_age is not None and 0 <= reported_age <= max_valid_age
    extra = {key: value for key, value in event.items() if key not in KNOWN_EVENT_KEYS}
    return {
        "event_id": _identifier(event.get("event_id")),
        "event_type": _lookup(EVENT_TYPE_MAP, event.get("event_type")),
        "event_ts_raw": event_ts_raw,
        "event_at": None if event_ts_raw is None else parse_timestamp(_trim(event_ts_raw)),
        "encounter_id": _identifier(event.get("encounter_id")),
        "patient_id": _identifier(event.get("patient_id")),
        "hospital_id": _identifier(event.get("hospital_id")),
        "department_id": _identifier(event.get("department_id")),
        "bed_id": _identifier(event.get("bed_id")),
        "gender": _lookup(GENDER_MAP, patient.get("gender")) or "unknown",
        "date_of_birth": _parse_date(_text(patient.get("date_of_birth"))),
        "reported_age_raw": age_raw,
        "valid_reported_age": reported_age if is_valid_age else None,
        "is_age_invalid": age_raw is not None and not is_valid_age,
        "insurance_type": _identifier(event.get("insurance_type")),
        "arrival_mode": _identifier(event.get("arrival_mode")),
        "extra_attributes": extra or None,
    }


def check_adt(
    lines: list[AdtLine],
    department_rows: list[dict[str, Any]],
    loaded_at: LoadedAt = None,
    load_ids: LoadIds = None,
    *,
    reporting_tz: str = "America/Chicago",
    max_valid_age: int = 120,
) -> list[dict[str, Any]]:
    """Rows of int_adt_events_checked: every landed line with its decoded values, its age and
    flag, and reject_rule (None = accepted), the first rule of ADT_REJECT_RULES that applies."""
    zone = ZoneInfo(reporting_tz)
    now = datetime.now(UTC)
    loaded_at_of = _resolver(loaded_at, now)
    load_id_of = _resolver(load_ids, DEFAULT_LOAD_ID)
    known_departments = {
        (row["hospital_id"], row["department_id"])
        for row in department_rows
        if row["reject_rule"] is None
    }

    rows = []
    for line in lines:
        row = {
            "load_id": load_id_of(line.source_file),
            "loaded_at": loaded_at_of(line.source_file),
            "source_file": line.source_file,
            "line_number": line.line_number,
            **_decode_event(line, max_valid_age),
            "is_json": line.event is not None,
        }
        rows.append(row)

    # Rule 3: the first landed row of each event_id (by loaded_at, source_file, line_number).
    first_of_event: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["loaded_at"], r["source_file"], r["line_number"])):
        if row["is_json"] and row["event_id"] is not None:
            first_of_event.setdefault(row["event_id"], row)

    def rules_1_to_10(row: dict[str, Any]) -> str | None:
        if not row["is_json"]:
            return "invalid_json"
        if row["event_id"] is None:
            return "missing_event_id"
        if first_of_event[row["event_id"]] is not row:
            return "duplicate_event_id"
        if row["event_type"] is None:
            return "unknown_event_type"
        if row["encounter_id"] is None:
            return "missing_encounter_id"
        if row["patient_id"] is None:
            return "missing_patient_id"
        if row["event_ts_raw"] is None or not _trim(row["event_ts_raw"]):
            return "missing_event_ts"
        if row["event_at"] is None:
            return "invalid_event_ts"
        if row["event_at"] > row["loaded_at"]:
            return "future_event_ts"
        if (row["hospital_id"], row["department_id"]) not in known_departments:
            return "unknown_department"
        return None

    for row in rows:
        row["reject_rule"] = rules_1_to_10(row)

    # Rule 11: a DISCHARGE before the earliest ADMIT (that passed rules 1-10) of its encounter.
    first_admit: dict[str, datetime] = {}
    for row in rows:
        if row["reject_rule"] is None and row["event_type"] == "ADMIT":
            current = first_admit.get(row["encounter_id"])
            if current is None or row["event_at"] < current:
                first_admit[row["encounter_id"]] = row["event_at"]
    for row in rows:
        admitted = first_admit.get(row["encounter_id"])
        if (
            row["reject_rule"] is None
            and row["event_type"] == "DISCHARGE"
            and admitted is not None
            and row["event_at"] < admitted
        ):
            row["reject_rule"] = "discharge_before_admission"

    for row in rows:
        del row["is_json"]
        valid_age = row.pop("valid_reported_age")
        if valid_age is not None:
            row["age_at_event"] = valid_age
        elif row["date_of_birth"] is not None and row["event_at"] is not None:
            age = whole_years(row["date_of_birth"], reporting_date(row["event_at"], zone))
            # an age from a date of birth outside 0..max_valid_age is no valid age either
            row["age_at_event"] = age if 0 <= age <= max_valid_age else None
        else:
            row["age_at_event"] = None
    return _sorted(rows, TABLE_KEYS["adt_events_checked"])


# --- Encounters ------------------------------------------------------------------------------


def _event_order(row: dict[str, Any]) -> tuple[datetime, str]:
    return (row["event_at"], row["event_id"])


def _version_from(version: dict[str, Any] | None) -> tuple[str | None, datetime | None]:
    if version is None:
        return None, None
    return version["department_id"], version["valid_from"]


def encounter_rows(
    accepted: list[dict[str, Any]],
    versions_by_department: Mapping[str, list[dict[str, Any]]],
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    """fct_encounters from the accepted events. Department keys are given as the version they
    point at: ``*_department_version`` = (department_id, valid_from) of that version."""
    by_encounter: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in accepted:
        by_encounter[row["encounter_id"]].append(row)

    def version_of(department_id: str | None, instant: datetime | None) -> Any:
        if department_id is None or instant is None:
            return (None, None)
        return _version_from(version_at(versions_by_department.get(department_id, []), instant))

    facts = []
    for encounter_id, events in by_encounter.items():
        events.sort(key=_event_order)
        first = events[0]
        arrivals = [row for row in events if row["event_type"] == "ARRIVE"]
        admits = [row for row in events if row["event_type"] == "ADMIT"]
        discharges = [row for row in events if row["event_type"] == "DISCHARGE"]
        arrived_at = arrivals[0]["event_at"] if arrivals else None
        admitted_at = admits[0]["event_at"] if admits else None
        discharged_at = discharges[-1]["event_at"] if discharges else None
        admission_department = admits[0]["department_id"] if admits else None
        discharge_department = discharges[-1]["department_id"] if discharges else None
        age = first["age_at_event"]
        band, _order = age_band(age)
        genders = [row["gender"] for row in events if row["gender"] != "unknown"]
        facts.append(
            {
                "encounter_id": encounter_id,
                "hospital_id": first["hospital_id"],
                "patient_id": first["patient_id"],
                "encounter_start_at": arrived_at or first["event_at"],
                "arrived_at": arrived_at,
                "admitted_at": admitted_at,
                "discharged_at": discharged_at,
                "wait_minutes": (
                    minutes_between(arrived_at, admitted_at)
                    if arrived_at is not None and admitted_at is not None
                    else None
                ),
                "length_of_stay_hours": (
                    hours_between(admitted_at, discharged_at)
                    if admitted_at is not None and discharged_at is not None
                    else None
                ),
                "admission_department_id": admission_department,
                "admission_department_version": version_of(admission_department, admitted_at),
                "discharge_department_id": discharge_department,
                "discharge_department_version": version_of(discharge_department, discharged_at),
                "transfer_count": sum(1 for row in events if row["event_type"] == "TRANSFER"),
                "age_at_arrival": age,
                "age_band": band,
                "gender": genders[0] if genders else "unknown",
                "is_admitted": admitted_at is not None,
                "is_in_house": admitted_at is not None and discharged_at is None,
                "arrival_date_key": date_key(
                    None if arrived_at is None else reporting_date(arrived_at, zone)
                ),
                "admission_date_key": date_key(
                    None if admitted_at is None else reporting_date(admitted_at, zone)
                ),
                "discharge_date_key": date_key(
                    None if discharged_at is None else reporting_date(discharged_at, zone)
                ),
            }
        )
    return _sorted(facts, TABLE_KEYS["fct_encounters"])


def bed_department_at(events: list[dict[str, Any]], instant: datetime) -> str | None:
    """The department where an encounter (its accepted events, in event order) has a bed at
    ``instant``: that of its latest ADMIT/TRANSFER at or before it, unless a DISCHARGE is."""
    department = None
    for row in events:
        if row["event_at"] > instant:
            break
        if row["event_type"] == "DISCHARGE":
            return None
        if row["event_type"] in ("ADMIT", "TRANSFER"):
            department = row["department_id"]
    return department


def census_rows(
    accepted: list[dict[str, Any]],
    versions_by_department: Mapping[str, list[dict[str, Any]]],
    zone: ZoneInfo,
) -> list[dict[str, Any]]:
    """fct_bed_census_daily: every department x every reporting date from the first to the last
    reporting date of an accepted event. Keys as in ``encounter_rows``."""
    if not accepted:
        return []
    dates = [reporting_date(row["event_at"], zone) for row in accepted]
    first_date, last_date = min(dates), max(dates)
    by_encounter: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in accepted:
        by_encounter[row["encounter_id"]].append(row)
    for events in by_encounter.values():
        events.sort(key=_event_order)

    rows = []
    day = first_date
    while day <= last_date:
        instant = census_instant(day, zone)
        census: dict[str, int] = defaultdict(int)
        for events in by_encounter.values():
            department = bed_department_at(events, instant)
            if department is not None:
                census[department] += 1
        for department_id, versions in versions_by_department.items():
            version = version_at(versions, instant)
            capacity = None if version is None else version["bed_capacity"]
            count = census.get(department_id, 0)
            rows.append(
                {
                    "census_date": day,
                    "date_key": date_key(day),
                    "hospital_id": None if version is None else version["hospital_id"],
                    "department_id": department_id,
                    "department_version": _version_from(version),
                    "census": count,
                    "bed_capacity": capacity,
                    "occupancy_rate": Fraction(count, capacity) if capacity else None,
                }
            )
        day += timedelta(days=1)
    return _sorted(rows, TABLE_KEYS["fct_bed_census_daily"])


def bottleneck_rows(
    census: list[dict[str, Any]],
    encounters: list[dict[str, Any]],
    versions_by_department: Mapping[str, list[dict[str, Any]]],
    zone: ZoneInfo,
    bottleneck_rate: Fraction,
) -> list[dict[str, Any]]:
    """department_bottlenecks: per department and month with census rows. hospital_id and
    department_name are those of the department's current (last) version."""
    months: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
    for row in census:
        months[(row["department_id"], row["census_date"].replace(day=1))].append(row)
    waits: dict[tuple[str, date], list[Fraction | None]] = defaultdict(list)
    for fact in encounters:
        if fact["admitted_at"] is None or fact["admission_department_id"] is None:
            continue
        month = reporting_date(fact["admitted_at"], zone).replace(day=1)
        waits[(fact["admission_department_id"], month)].append(fact["wait_minutes"])
    rows = []
    for (department_id, month), days in months.items():
        current = versions_by_department[department_id][-1]
        admissions = waits.get((department_id, month), [])
        known_waits = [wait for wait in admissions if wait is not None]
        rows.append(
            {
                "hospital_id": current["hospital_id"],
                "department_id": department_id,
                "department_name": current["department_name"],
                "month_start": month,
                "census_days": len(days),
                "bottleneck_days": sum(
                    1
                    for row in days
                    if row["occupancy_rate"] is not None
                    and row["occupancy_rate"] >= bottleneck_rate
                ),
                "admissions": len(admissions),
                "avg_wait_minutes": average(known_waits),
                "p90_wait_minutes": percentile_cont(known_waits, Fraction(9, 10)),
            }
        )
    return _sorted(rows, TABLE_KEYS["department_bottlenecks"])


def kpi_rows(encounters: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """admission_kpis_by_<group> (group: 'gender' or 'age_band') over admitted encounters."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in encounters:
        if fact["is_admitted"]:
            groups[fact[group]].append(fact)
    rows = []
    for value, facts in groups.items():
        row: dict[str, Any] = {group: value}
        if group == "age_band":
            row["age_band_order"] = age_band_order(value)
        row.update(
            admissions=len(facts),
            avg_length_of_stay_hours=average(
                [f["length_of_stay_hours"] for f in facts if f["length_of_stay_hours"] is not None]
            ),
            avg_wait_minutes=average(
                [f["wait_minutes"] for f in facts if f["wait_minutes"] is not None]
            ),
        )
        rows.append(row)
    return _sorted(rows, (group,))


def age_band_order(band: str) -> int:
    """The band's order; 'unknown' comes after the last band."""
    for name, _low, _high, order in AGE_BANDS:
        if name == band:
            return order
    return max(order for _name, _low, _high, order in AGE_BANDS) + 1


# --- Data quality ----------------------------------------------------------------------------


def dq_tables(
    rows: Iterable[tuple[str, str, datetime, str, str | None]],
) -> dict[str, list[dict[str, Any]]]:
    """dq_loads and dq_rejects_by_rule from (source, load_id, loaded_at, file, reject_rule) per
    landed row. A rule row's first_loaded_at is its load's first_loaded_at."""
    loads: dict[tuple[str, str], dict[str, Any]] = {}
    rules: dict[tuple[str, str, str], int] = defaultdict(int)
    for source, load_id, loaded_at, file, rule in rows:
        load = loads.setdefault(
            (source, load_id),
            {
                "source": source,
                "load_id": load_id,
                "first_loaded_at": loaded_at,
                "last_loaded_at": loaded_at,
                "files": set(),
                "rows_landed": 0,
                "rows_accepted": 0,
                "rows_rejected": 0,
            },
        )
        load["first_loaded_at"] = min(load["first_loaded_at"], loaded_at)
        load["last_loaded_at"] = max(load["last_loaded_at"], loaded_at)
        load["files"].add(file)
        load["rows_landed"] += 1
        if rule is None:
            load["rows_accepted"] += 1
        else:
            load["rows_rejected"] += 1
            rules[(source, load_id, rule)] += 1
    for load in loads.values():
        load["files"] = len(load["files"])
    rule_rows = [
        {
            "source": source,
            "load_id": load_id,
            "first_loaded_at": loads[(source, load_id)]["first_loaded_at"],
            "reject_rule": rule,
            "rows_rejected": count,
        }
        for (source, load_id, rule), count in rules.items()
    ]
    return {
        "dq_loads": _sorted(list(loads.values()), TABLE_KEYS["dq_loads"]),
        "dq_rejects_by_rule": _sorted(rule_rows, TABLE_KEYS["dq_rejects_by_rule"]),
    }


# --- Everything ------------------------------------------------------------------------------


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, 0 if value is None else value)


def _sorted(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: tuple(_sort_key(row[key]) for key in keys))


def compute_from_lines(
    adt_lines: list[AdtLine],
    department_records: list[DepartmentRecord],
    loaded_at: LoadedAt = None,
    load_ids: LoadIds = None,
    *,
    reporting_tz: str = "America/Chicago",
    max_valid_age: int = 120,
    bottleneck_rate: Fraction = Fraction(85, 100),
) -> dict[str, list[dict[str, Any]]]:
    """Every table (see the module docstring) from already-read lines and records."""
    zone = ZoneInfo(reporting_tz)
    now = datetime.now(UTC)
    loaded_at_of = _resolver(loaded_at, now)
    load_id_of = _resolver(load_ids, DEFAULT_LOAD_ID)

    extract_rows = _sorted(
        [
            check_department_record(
                record, load_id_of(record.source_file), loaded_at_of(record.source_file)
            )
            for record in department_records
        ],
        TABLE_KEYS["department_extract_rows"],
    )
    versions = department_versions(extract_rows)
    versions_by_department: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for version in versions:
        versions_by_department[version["department_id"]].append(version)

    checked = check_adt(
        adt_lines,
        extract_rows,
        loaded_at_of,
        load_id_of,
        reporting_tz=reporting_tz,
        max_valid_age=max_valid_age,
    )
    accepted = [row for row in checked if row["reject_rule"] is None]
    encounters = encounter_rows(accepted, versions_by_department, zone)
    census = census_rows(accepted, versions_by_department, zone)
    tables = {
        "adt_events_checked": checked,
        "department_extract_rows": extract_rows,
        "department_versions": versions,
        "dim_hospital": hospital_rows(extract_rows),
        "fct_encounters": encounters,
        "fct_bed_census_daily": census,
        "department_bottlenecks": bottleneck_rows(
            census, encounters, versions_by_department, zone, bottleneck_rate
        ),
        "admission_kpis_by_gender": kpi_rows(encounters, "gender"),
        "admission_kpis_by_age_band": kpi_rows(encounters, "age_band"),
    }
    tables.update(
        dq_tables(
            [
                (ADT_SOURCE, row["load_id"], row["loaded_at"], row["source_file"],
                 row["reject_rule"])
                for row in checked
            ]
            + [
                (DEPARTMENT_SOURCE, row["load_id"], row["loaded_at"], row["source_file"],
                 row["reject_rule"])
                for row in extract_rows
            ]
        )
    )
    return tables


def compute(
    landing: Path,
    loaded_at: LoadedAt = None,
    load_ids: LoadIds = None,
    *,
    reporting_tz: str = "America/Chicago",
    max_valid_age: int = 120,
    bottleneck_rate: Fraction = Fraction(85, 100),
) -> dict[str, list[dict[str, Any]]]:
    """Every table from the feed files under ``landing``. ``loaded_at`` and ``load_ids`` give
    each file's load time and load id by its path relative to ``landing`` (a mapping or a
    function); by default every file was loaded now, in one load."""
    return compute_from_lines(
        read_adt(landing),
        read_departments(landing),
        loaded_at,
        load_ids,
        reporting_tz=reporting_tz,
        max_valid_age=max_valid_age,
        bottleneck_rate=bottleneck_rate,
    )
