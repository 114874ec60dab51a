"""Synthetic S2 and S3 sources: the ADT registration feed and the daily department extracts.

``generate(out, days=60, seed=42, treatments=20_000)`` writes (README.md, "Sources S2, S3")::

    out/landing/adt/<YYYY-MM-DD>/adt_<YYYYMMDD>T<HHMMSS>Z.jsonl
    out/landing/departments/<YYYY-MM-DD>/departments_<HOSPITAL_ID>_<YYYY-MM-DD>.csv
    out/truth/defects.jsonl     one JSON object per spoiled landed ADT line
    out/truth/generation.json   parameters and counts

The patients, hospitals and departments are ``build_population(seed, treatments)``, the same as
the treatments source. The window is ``days`` days from ``start`` (00:00 UTC); a window ending
after the current time is refused. Encounters come from ``encounters.simulate`` (arrival
rates, lengths of stay, occupancy targets and the flu-season formula are documented there).

ADT feed. One file per ``file_minutes`` interval of the window (intervals aligned on the window
start) that has events; the name is the drop time (the interval's end, UTC) and the folder its
UTC date. A file holds the events *sent* in its interval, sent = event time + a lag of 0-12
minutes (never past the window end), ordered by sent time. Event times are whole minutes, sent
as "...Z" or, for ``LOCAL_OFFSET_RATE`` of the events, in the hospital's local time with its
offset at that instant. ``patient.age`` is the age in whole years on the event's America/Chicago
date; ``patient.date_of_birth`` is left out of ``DOB_OMITTED_RATE`` of the events;
``patient.gender`` is the population's spelling (null or absent per the patient's
``gender_form``). ``bed_id`` is absent when the patient has no bed (a scheduled ARRIVE).

Schema evolution, by file: files whose interval starts at or after the window's midpoint carry
``insurance_type`` on every event and ``arrival_mode`` on ARRIVE events, and no ``bed_id``;
files from 3/4 of the window on also carry ``triage_level`` (1-5) on ARRIVE events.

Department extracts: one CSV per hospital and day (header ``EXTRACT_HEADER``, 8 rows), the state
at 00:00 UTC of that day, dropped at 08:00 UTC (``EXTRACT_DROP``). ``updated_at`` is the
instant of the row's last change (initially start - 30 days). On ``DEPARTMENT_CHANGE_RATE`` of
the department-days (not the last day) bed_capacity (+-1..5, never below 4) or staff_count
(+-1..10, never below 1) changes at a whole minute of the day; the next day's extract shows it.
Bed capacities feed the simulation from that minute on. The extracts are clean.

Dirty data (ADT only; at most one defect per encounter, duplicates included; the rates are per
event, for ``discharge_before_admission`` per DISCHARGE of an encounter with an ADMIT)::

    defect kind                 rate   what the line carries                  expected outcome
    duplicate_event_id          1.0%   the identical line again, 1-20 files   reject
                                       later (the original is clean)          duplicate_event_id
    missing_event_ts            0.5%   event_ts absent, null or "" (1/3 each) reject
    future_event_ts             0.4%   event_ts 10 years ahead                reject
    negative_age                0.4%   patient.age in -10..-1                 flag invalid_age
    age_over_120                0.4%   patient.age in 121..150                flag invalid_age
    discharge_before_admission  2.0%   DISCHARGE event_ts 1-48 h before the   reject
                                       encounter's ADMIT (not before start)
    unknown_department          0.5%   department_id with an unknown code     reject
                                       (H003-RAD) or hospital (H009-ED), 1:1  unknown_department

Every spoiled landed line is in ``truth/defects.jsonl``: source, file (relative to
``out/landing``), line (1-based), event_id, defect, outcome, rule, and true_age for the age
defects. Ages of lines with a moved timestamp (future, missing) are the ages at the true time;
a moved DISCHARGE reports the age on its moved date.
"""

from __future__ import annotations

import csv
import json
import logging
import random
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loaders.generator.encounters import (
    ADMIT,
    ARRIVE,
    DISCHARGE,
    CapacityChange,
    Clock,
    Encounter,
    Event,
    age_on,
    simulate,
)
from loaders.generator.population import HOSPITALS, Population, build_population

__all__ = [
    "DEFECT_OUTCOMES",
    "DEPARTMENT_CHANGE_RATE",
    "DOB_OMITTED_RATE",
    "EXTRACT_DROP",
    "EXTRACT_HEADER",
    "LOCAL_OFFSET_RATE",
    "RATES",
    "AdmissionsReport",
    "generate",
]

log = logging.getLogger(__name__)

RATES: dict[str, float] = {
    "duplicate_event_id": 0.010,
    "missing_event_ts": 0.005,
    "future_event_ts": 0.004,
    "negative_age": 0.004,
    "age_over_120": 0.004,
    "discharge_before_admission": 0.020,
    "unknown_department": 0.005,
}
"""Defect rates per event (discharge_before_admission: per DISCHARGE after an ADMIT)."""

DEFECT_OUTCOMES: dict[str, tuple[str, str]] = {
    "duplicate_event_id": ("reject", "duplicate_event_id"),
    "missing_event_ts": ("reject", "missing_event_ts"),
    "future_event_ts": ("reject", "future_event_ts"),
    "negative_age": ("flag", "invalid_age"),
    "age_over_120": ("flag", "invalid_age"),
    "discharge_before_admission": ("reject", "discharge_before_admission"),
    "unknown_department": ("reject", "unknown_department"),
}
"""Defect kind -> (expected outcome, rule)."""

LOCAL_OFFSET_RATE = 0.2
DOB_OMITTED_RATE = 0.25
DEPARTMENT_CHANGE_RATE = 0.03
EXTRACT_HEADER = ("hospital_id", "hospital_name", "city", "state", "department_id",
                  "department_name", "bed_capacity", "staff_count", "updated_at")
EXTRACT_DROP = timedelta(hours=8)  # after 00:00 UTC of the extract's day
INITIAL_UPDATED_AT = timedelta(days=30)  # before the window start
DUPLICATE_MAX_FILES_LATER = 20
MAX_LAG_MINUTES = 12
UNKNOWN_CODES = ("RAD", "LAB", "PSY", "REHAB", "NICU")
_LAGS = (0, 1, 1, 1, 2, 2, 2, 3, 3, 4)  # minutes, for 90% of the events (else 4-12)

_DAY = 1_440
# general defect kinds drawn per event, in this order (discharge_before_admission apart)
_EVENT_KINDS = ("duplicate_event_id", "missing_event_ts", "future_event_ts", "negative_age",
                "age_over_120", "unknown_department")
_ADT_NAME = re.compile(r"adt_\d{8}T\d{6}Z\.jsonl")
_EXTRACT_NAME = re.compile(r"departments_H\d{3}_\d{4}-\d{2}-\d{2}\.csv")


@dataclass
class AdmissionsReport:
    """Summary of a ``generate`` run (``describe()`` is what the command line prints)."""

    out: Path
    seed: int
    treatments: int
    days: int
    start: date
    file_minutes: int
    patients: int = 0
    adt_files: int = 0
    adt_lines: int = 0
    events: int = 0
    encounters: int = 0
    admitted: int = 0
    in_house: int = 0
    department_files: int = 0
    department_changes: int = 0
    defects: dict[str, int] = field(default_factory=dict)
    ward_days: int = 0
    bottleneck_ward_days: int = 0
    ward_days_in_range: int = 0
    adt_bytes: int = 0
    seconds: float = 0.0

    @property
    def landing(self) -> Path:
        return self.out / "landing"

    def describe(self) -> str:
        end = self.start + timedelta(days=self.days)
        share = (lambda n: f"{n / self.ward_days:.0%}") if self.ward_days else (lambda n: "-")
        return "\n".join([
            f"ADT feed: {self.events:,} events ({self.adt_lines:,} lines) in {self.adt_files:,} "
            f"files of {self.file_minutes} min under {self.landing / 'adt'} "
            f"({self.adt_bytes / 1e6:,.1f} MB)",
            f"  window {self.start} .. {end} 00:00Z ({self.days} days), seed {self.seed}, "
            f"{self.patients:,} patients (treatments {self.treatments:,})",
            f"  encounters: {self.encounters:,} ({self.admitted:,} admitted, {self.in_house:,} "
            f"still in house at the end)",
            f"  simulated ward census: {share(self.ward_days_in_range)} of {self.ward_days:,} "
            f"ward department-days at 55-95% occupancy, {share(self.bottleneck_ward_days)} "
            f"at >= 85%",
            f"department extracts: {self.department_files:,} files under "
            f"{self.landing / 'departments'} ({self.department_changes:,} changes)",
            "defects: " + ", ".join(f"{kind} {count:,}" for kind, count in self.defects.items()),
            f"truth: {self.out / 'truth' / 'defects.jsonl'} ({sum(self.defects.values()):,} "
            f"spoiled lines), {self.out / 'truth' / 'generation.json'}",
            f"generated in {self.seconds:.1f} s",
        ])


@dataclass(frozen=True, slots=True)
class _Change:
    minute: int
    department: int
    column: str  # 'bed_capacity' or 'staff_count'
    value: int


@dataclass(slots=True)
class _Line:
    sent: int
    order: int
    text: str
    defect: dict[str, Any] | None


def _department_changes(population: Population, seed: int, start: date,
                        days: int) -> list[_Change]:
    """Capacity and staff changes, at most one per department-day, none on the last day."""
    rng = random.Random(f"department-extracts:{seed}:{start.isoformat()}:{days}")
    beds = [department.bed_capacity for department in population.departments]
    staff = [department.staff_count for department in population.departments]
    changes = []
    for day in range(days - 1):
        for n in range(len(population.departments)):
            if rng.random() >= DEPARTMENT_CHANGE_RATE:
                continue
            minute = day * _DAY + rng.randint(1, _DAY - 1)
            if rng.random() < 0.5:
                delta = rng.choice((-1, 1)) * rng.randint(1, 5)
                if beds[n] + delta < 4:
                    delta = -delta
                beds[n] += delta
                changes.append(_Change(minute, n, "bed_capacity", beds[n]))
            else:
                delta = rng.choice((-1, 1)) * rng.randint(1, 10)
                if staff[n] + delta < 1:
                    delta = -delta
                staff[n] += delta
                changes.append(_Change(minute, n, "staff_count", staff[n]))
    return changes


def _utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_extracts(landing: Path, population: Population, start: datetime, days: int,
                    changes: list[_Change]) -> int:
    """One CSV per hospital and day; returns the number of files."""
    rows = [
        {
            "hospital_id": department.hospital_id,
            "hospital_name": population.hospital(department.hospital_id).name,
            "city": population.hospital(department.hospital_id).city,
            "state": population.hospital(department.hospital_id).state,
            "department_id": department.department_id,
            "department_name": department.name,
            "bed_capacity": department.bed_capacity,
            "staff_count": department.staff_count,
            "updated_at": _utc_text(start - INITIAL_UPDATED_AT),
        }
        for department in population.departments
    ]
    pending = iter(changes)
    change = next(pending, None)
    files = 0
    for day in range(days):
        while change is not None and change.minute < day * _DAY:
            rows[change.department][change.column] = change.value
            rows[change.department]["updated_at"] = _utc_text(
                start + timedelta(minutes=change.minute))
            change = next(pending, None)
        stamp = (start + timedelta(days=day)).date().isoformat()
        folder = landing / "departments" / stamp
        folder.mkdir(parents=True, exist_ok=True)
        for hospital in HOSPITALS:
            path = folder / f"departments_{hospital.hospital_id}_{stamp}.csv"
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(EXTRACT_HEADER)
                for row in rows:
                    if row["hospital_id"] == hospital.hospital_id:
                        writer.writerow([row[name] for name in EXTRACT_HEADER])
            files += 1
    return files


class _Feed:
    """Renders the simulated events as feed lines, with defects, grouped by file interval."""

    def __init__(self, population: Population, seed: int, start: datetime, days: int,
                 file_minutes: int) -> None:
        self.population = population
        self.start = start
        self.days = days
        self.end = days * _DAY
        self.file_minutes = file_minutes
        self.midpoint = days * _DAY // 2
        self.three_quarters = days * _DAY * 3 // 4
        self.clock = Clock(start)
        self.rng = random.Random(f"adt-feed:{seed}:{start.date().isoformat()}:{days}")
        self.defect_rng = random.Random(f"adt-defects:{seed}:{start.date().isoformat()}:{days}")
        id_rng = random.Random(f"adt-ids:{seed}:{start.date().isoformat()}")
        self._event_offset = id_rng.randrange(10**10)
        self._encounter_offset = id_rng.randrange(10**9)
        self.files: dict[int, list[_Line]] = {}
        self.duplicates: list[tuple[int, str, dict[str, Any]]] = []
        self.spoiled: set[int] = set()  # encounter numbers with a defect
        self.order = 0
        self.events = 0
        self._encounters: dict[int, tuple[str, str, str, date]] = {}
        self._zones = [ZoneInfo(hospital.timezone) for hospital in HOSPITALS]
        self._utc: dict[int, str] = {}
        self._local: dict[tuple[int, int], tuple[str, str]] = {}
        thresholds, running = [], 0.0
        for kind in _EVENT_KINDS:
            running += RATES[kind]
            thresholds.append(running)
        self._thresholds = thresholds

    # --------------------------------------------------------------------------- values
    def _timestamp(self, minute: int, hospital: int) -> str:
        hour, rest = divmod(minute, 60)
        if self.rng.random() >= LOCAL_OFFSET_RATE:
            prefix = self._utc.get(hour)
            if prefix is None:
                prefix = self.clock.instant(hour * 60).strftime("%Y-%m-%dT%H:")
                self._utc[hour] = prefix
            return f"{prefix}{rest:02d}:00Z"
        cached = self._local.get((hospital, hour))
        if cached is None:
            local = self.clock.instant(hour * 60).astimezone(self._zones[hospital])
            offset = local.strftime("%z")
            cached = (local.strftime("%Y-%m-%dT%H:"), f"{offset[:3]}:{offset[3:]}")
            self._local[(hospital, hour)] = cached
        return f"{cached[0]}{rest:02d}:00{cached[1]}"

    def _future_timestamp(self, minute: int, hospital: int) -> str:
        at = self.clock.instant(minute)
        try:
            moved = at.replace(year=at.year + 10)
        except ValueError:  # February 29
            moved = at.replace(year=at.year + 10, day=28)
        if self.rng.random() >= LOCAL_OFFSET_RATE:
            return _utc_text(moved)
        return moved.astimezone(self._zones[hospital]).isoformat()

    def _unknown_department(self, hospital: int, code: str) -> str:
        """An unknown department code of the hospital, or the department of an unknown one."""
        rng = self.rng
        if rng.random() < 0.5:
            return f"{HOSPITALS[hospital].hospital_id}-{rng.choice(UNKNOWN_CODES)}"
        return f"H{rng.randint(len(HOSPITALS) + 1, 12):03d}-{code}"

    def _defect(self, event: Event) -> str | None:
        """The defect of this event, if any (one draw per event, whatever happens)."""
        encounter = event.encounter
        u = self.defect_rng.random()
        if encounter.number in self.spoiled:
            return None
        if (event.event_type == DISCHARGE and encounter.admitted_at is not None
                and encounter.admitted_at >= 60):
            return "discharge_before_admission" if u < RATES["discharge_before_admission"] else None
        if u >= self._thresholds[-1]:
            return None
        return next(kind for kind, bound in zip(_EVENT_KINDS, self._thresholds, strict=True)
                    if u < bound)

    # ------------------------------------------------------------------------------ add
    def _encounter(self, encounter: Encounter) -> tuple[str, str, str, date]:
        """(text after event_ts up to the age, text after the age up to hospital_id's value,
        insurance text, date of birth) of an encounter, rendered once."""
        cached = self._encounters.get(encounter.number)
        if cached is None:
            patient = self.population.patient(encounter.patient)
            number = (encounter.number * 7_654_321 + self._encounter_offset) % 10**9
            if patient.gender_form == "value":
                gender = f',"gender":{json.dumps(patient.gender_raw)}'
            else:
                gender = ',"gender":null' if patient.gender_form == "null" else ""
            cached = (
                f',"encounter_id":"EN{number:09d}","patient_id":"{patient.patient_id}",'
                '"patient":{"age":',
                gender,
                f',"insurance_type":"{encounter.insurance_type}"',
                patient.date_of_birth,
            )
            self._encounters[encounter.number] = cached
        return cached

    def add(self, event: Event) -> None:
        """Render ``event`` (with its defect, if it gets one) into its file's lines."""
        rng = self.rng
        encounter = event.encounter
        sequence = self.events
        self.events += 1
        minute = event.minute
        lag = _LAGS[int(rng.random() * len(_LAGS))] if rng.random() < 0.9 else rng.randint(
            4, MAX_LAG_MINUTES)
        sent = min(minute + lag, self.end - 1)
        interval = sent // self.file_minutes
        opened = interval * self.file_minutes
        defect = self._defect(event)
        if defect is not None:
            self.spoiled.add(encounter.number)
        hospital = encounter.hospital
        department = self.population.departments[event.department]
        identity, gender, insurance, dob = self._encounter(encounter)
        event_id = f"EV{(sequence * 2_654_435_761 + self._event_offset) % 10**10:010d}"
        reported = minute
        if defect == "discharge_before_admission":
            admitted = encounter.admitted_at or 0
            reported = admitted - rng.randint(60, min(48 * 60, admitted))
        age_minute = minute if defect in {"future_event_ts", "missing_event_ts"} else reported
        true_age = age_on(dob, self.clock.chicago(age_minute)[0])
        age = true_age
        if defect == "negative_age":
            age = rng.randint(-10, -1)
        elif defect == "age_over_120":
            age = rng.randint(121, 150)
        born = f',"date_of_birth":"{dob.isoformat()}"' if rng.random() >= DOB_OMITTED_RATE else ""
        department_id = department.department_id
        if defect == "unknown_department":
            department_id = self._unknown_department(hospital, department.code)
        if defect == "missing_event_ts":
            stamp = ("", ',"event_ts":null', ',"event_ts":""')[rng.randrange(3)]
        elif defect == "future_event_ts":
            stamp = f',"event_ts":"{self._future_timestamp(minute, hospital)}"'
        else:
            stamp = f',"event_ts":"{self._timestamp(reported, hospital)}"'
        parts = [
            f'{{"event_id":"{event_id}","event_type":"{event.event_type}"{stamp}{identity}',
            f'{age}{gender}{born}}},"hospital_id":"{HOSPITALS[hospital].hospital_id}",'
            f'"department_id":"{department_id}"',
        ]
        if opened < self.midpoint:
            if event.bed:
                parts.append(f',"bed_id":"{department_id}-{event.bed:03d}"')
        else:
            parts.append(insurance)
            if event.event_type == ARRIVE:
                parts.append(f',"arrival_mode":"{encounter.arrival_mode}"')
        if opened >= self.three_quarters and event.event_type == ARRIVE:
            parts.append(f',"triage_level":{encounter.triage_level}')
        parts.append("}")
        text = "".join(parts)
        entry = None
        if defect is not None:
            outcome, rule = DEFECT_OUTCOMES[defect]
            entry = {"source": "adt_events", "file": "", "line": 0, "event_id": event_id,
                     "defect": defect, "outcome": outcome, "rule": rule}
            if defect in {"negative_age", "age_over_120"}:
                entry["true_age"] = true_age
            if defect == "duplicate_event_id":
                self.duplicates.append((interval, text, entry))
                entry = None
        self.order += 1
        self.files.setdefault(interval, []).append(_Line(sent, self.order, text, entry))

    def place_duplicates(self) -> None:
        """Put each duplicate 1-20 files after its original (dropped when no file follows)."""
        intervals = sorted(self.files)
        position = {interval: n for n, interval in enumerate(intervals)}
        for interval, text, entry in self.duplicates:
            later = len(intervals) - 1 - position[interval]
            if later <= 0:
                continue
            target = intervals[position[interval] + self.rng.randint(
                1, min(DUPLICATE_MAX_FILES_LATER, later))]
            opened = target * self.file_minutes
            sent = self.rng.randint(opened, min(opened + self.file_minutes, self.end) - 1)
            self.order += 1
            self.files[target].append(_Line(sent, self.order, text, entry))

    def write(self, landing: Path) -> tuple[list[dict[str, Any]], int, int]:
        """Write the files; returns the ledger, the number of lines and of bytes."""
        ledger: list[dict[str, Any]] = []
        lines = size = 0
        for interval in sorted(self.files):
            drop = self.start + timedelta(
                minutes=min((interval + 1) * self.file_minutes, self.end))
            relative = f"adt/{drop:%Y-%m-%d}/adt_{drop:%Y%m%dT%H%M%SZ}.jsonl"
            path = landing / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            content = sorted(self.files[interval], key=lambda line: (line.sent, line.order))
            for number, line in enumerate(content, start=1):
                if line.defect is not None:
                    ledger.append({**line.defect, "file": relative, "line": number})
            data = "".join(f"{line.text}\n" for line in content).encode("utf-8")
            path.write_bytes(data)
            lines += len(content)
            size += len(data)
        return ledger, lines, size


def _prepare(out: Path) -> None:
    """Remove earlier generator output (refused when those folders hold other files)."""
    landing = out / "landing"
    for name, pattern in (("adt", _ADT_NAME), ("departments", _EXTRACT_NAME)):
        folder = landing / name
        if not folder.exists():
            continue
        strangers = [path for path in folder.rglob("*")
                     if path.is_file() and not pattern.fullmatch(path.name)]
        if strangers:
            raise RuntimeError(f"{folder} holds files the generator did not write "
                               f"(e.g. {strangers[0]}); choose another --out")
        log.info("removing earlier feed folder %s", folder)
        shutil.rmtree(folder)
    for name in ("defects.jsonl", "generation.json"):
        (out / "truth" / name).unlink(missing_ok=True)


def generate(
    out: Path,
    *,
    days: int = 60,
    seed: int = 42,
    treatments: int = 20_000,
    start: date = date(2025, 12, 1),
    file_minutes: int = 15,
) -> AdmissionsReport:
    """Write the ADT feed, the department extracts and the truth files under ``out``.

    The same arguments always give byte-identical files. Raises ValueError for a window that
    ends after the current time or out-of-range arguments.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if treatments < 1:
        raise ValueError("treatments must be at least 1")
    if not 1 <= file_minutes <= _DAY:
        raise ValueError("file_minutes must be between 1 and 1440")
    window_start = datetime(start.year, start.month, start.day, tzinfo=UTC)
    window_end = window_start + timedelta(days=days)
    if window_end > datetime.now(UTC):
        raise ValueError(f"the window ends at {window_end:%Y-%m-%dT%H:%MZ}, after the current "
                         "time: choose an earlier --start or fewer --days")
    started = time.perf_counter()
    out = Path(out)
    population = build_population(seed, treatments)
    changes = _department_changes(population, seed, start, days)
    capacity = [CapacityChange(change.minute, change.department, change.value)
                for change in changes if change.column == "bed_capacity"]
    log.info("simulating %d days from %s (seed %d, %d patients)", days, start, seed,
             population.patient_count)
    simulation = simulate(population, seed=seed, start=window_start, days=days, changes=capacity)
    feed = _Feed(population, seed, window_start, days, file_minutes)
    for event in simulation.events:
        feed.add(event)
    feed.place_duplicates()
    _prepare(out)
    landing = out / "landing"
    ledger, lines, size = feed.write(landing)
    department_files = _write_extracts(landing, population, window_start, days, changes)
    counts = Counter(entry["defect"] for entry in ledger)
    report = AdmissionsReport(
        out=out, seed=seed, treatments=treatments, days=days, start=start,
        file_minutes=file_minutes, patients=population.patient_count,
        adt_files=len(feed.files), adt_lines=lines, events=feed.events,
        encounters=simulation.encounters,
        admitted=sum(1 for event in simulation.events if event.event_type == ADMIT),
        in_house=simulation.encounters - sum(
            1 for event in simulation.events if event.event_type == DISCHARGE),
        department_files=department_files, department_changes=len(changes),
        defects={kind: counts[kind] for kind in RATES}, adt_bytes=size,
    )
    report.ward_days = len(simulation.census)
    occupancies = [patients / beds for _, _, patients, beds in simulation.census if beds]
    report.bottleneck_ward_days = sum(1 for rate in occupancies if rate >= 0.85)
    report.ward_days_in_range = sum(1 for rate in occupancies if 0.55 <= rate <= 0.95)
    _write_truth(out, report, ledger, window_start, simulation.targets)
    report.seconds = time.perf_counter() - started
    log.info("generated %d ADT lines in %d files in %.1f s", lines, len(feed.files),
             report.seconds)
    return report


def _write_truth(out: Path, report: AdmissionsReport, ledger: list[dict[str, Any]],
                 window_start: datetime, targets: dict[str, float]) -> None:
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    ledger.sort(key=lambda entry: (entry["file"], entry["line"]))
    (truth / "defects.jsonl").write_text(
        "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in ledger),
        encoding="utf-8",
    )
    minutes = report.days * _DAY
    generation = {
        "seed": report.seed,
        "treatments": report.treatments,
        "days": report.days,
        "start": report.start.isoformat(),
        "file_minutes": report.file_minutes,
        "window_start": _utc_text(window_start),
        "window_end": _utc_text(window_start + timedelta(minutes=minutes)),
        "schema_changes": {
            "insurance_type_arrival_mode_no_bed_id": _utc_text(
                window_start + timedelta(minutes=minutes // 2)),
            "triage_level": _utc_text(window_start + timedelta(minutes=minutes * 3 // 4)),
        },
        "files": report.adt_files + report.department_files,
        "adt_files": report.adt_files,
        "department_files": report.department_files,
        "events": report.events,
        "adt_lines": report.adt_lines,
        "encounters": report.encounters,
        "encounters_admitted": report.admitted,
        "encounters_in_house": report.in_house,
        "patients": report.patients,
        "department_changes": report.department_changes,
        "defects": report.defects,
        "rates": RATES,
        "occupancy_targets": targets,
    }
    (truth / "generation.json").write_text(json.dumps(generation, indent=2) + "\n",
                                           encoding="utf-8")
