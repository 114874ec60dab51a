"""The ADT feed and department-extract generator: layout, determinism, truth ledger, coherence."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from loaders import cli
from loaders.generator import admissions
from loaders.generator.encounters import FLU_AMPLITUDE, Clock
from loaders.generator.population import HOSPITALS, Patient, build_population

SEED = 5
TREATMENTS = 2_000
DAYS = 8
START = date(2025, 12, 1)
FILE_MINUTES = 30
WINDOW_START = datetime(2025, 12, 1, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(days=DAYS)
MIDPOINT = WINDOW_START + timedelta(days=DAYS / 2)
THREE_QUARTERS = WINDOW_START + timedelta(days=DAYS * 3 / 4)
CHICAGO = ZoneInfo("America/Chicago")

# What the contract (SPEC.md) says each defect kind must produce, written out independently.
EXPECTED_OUTCOMES = {
    "duplicate_event_id": ("reject", "duplicate_event_id"),
    "missing_event_ts": ("reject", "missing_event_ts"),
    "future_event_ts": ("reject", "future_event_ts"),
    "negative_age": ("flag", "invalid_age"),
    "age_over_120": ("flag", "invalid_age"),
    "discharge_before_admission": ("reject", "discharge_before_admission"),
    "unknown_department": ("reject", "unknown_department"),
}
ORDER = {"ARRIVE": 0, "ADMIT": 1, "TRANSFER": 2, "DISCHARGE": 3}
TS_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00(Z|[+-]\d{2}:00)")
ADT_NAME = re.compile(r"adt/(\d{4}-\d{2}-\d{2})/adt_(\d{8}T\d{6}Z)\.jsonl")


@dataclass(frozen=True)
class Line:
    file: str  # relative to landing
    number: int  # 1-based
    drop: datetime
    text: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Feed:
    out: Path
    report: admissions.AdmissionsReport
    lines: list[Line]
    ledger: dict[tuple[str, int], dict[str, Any]]
    patients: dict[str, Patient]
    departments: set[tuple[str, str]]  # (hospital_id, department_id)
    codes: dict[str, str]  # department_id -> code


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Feed:
    out = tmp_path_factory.mktemp("admissions")
    report = admissions.generate(out, days=DAYS, seed=SEED, treatments=TREATMENTS, start=START,
                                 file_minutes=FILE_MINUTES)
    landing = out / "landing"
    lines = []
    for path in sorted((landing / "adt").rglob("*.jsonl")):
        relative = path.relative_to(landing).as_posix()
        match = ADT_NAME.fullmatch(relative)
        assert match, relative
        drop = datetime.strptime(match.group(2), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        data = path.read_bytes()
        assert data.endswith(b"\n")
        for number, text in enumerate(data.decode("utf-8").split("\n")[:-1], start=1):
            lines.append(Line(relative, number, drop, text, json.loads(text)))
    ledger = {}
    for text in (out / "truth" / "defects.jsonl").read_text().splitlines():
        entry = json.loads(text)
        ledger[(entry["file"], entry["line"])] = entry
    population = build_population(SEED, TREATMENTS)
    return Feed(
        out=out,
        report=report,
        lines=lines,
        ledger=ledger,
        patients={patient.patient_id: patient for patient in population.patients()},
        departments={(d.hospital_id, d.department_id) for d in population.departments},
        codes={d.department_id: d.code for d in population.departments},
    )


def parse_ts(text: str) -> datetime:
    assert TS_PATTERN.fullmatch(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def age_on(dob: date, instant: datetime) -> int:
    day = instant.astimezone(CHICAGO).date()
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def clean_lines(feed: Feed) -> list[Line]:
    return [line for line in feed.lines if (line.file, line.number) not in feed.ledger]


# ---------------------------------------------------------------------------- determinism
def test_same_arguments_give_the_same_bytes(tmp_path: Path) -> None:
    arguments = ["--days", "2", "--seed", "9", "--treatments", "1000", "--file-minutes", "60"]
    assert cli.main(["generate-admissions", "--out", str(tmp_path / "a"), *arguments]) == 0
    admissions.generate(tmp_path / "b", days=2, seed=9, treatments=1_000, file_minutes=60)
    admissions.generate(tmp_path / "c", days=2, seed=10, treatments=1_000, file_minutes=60)

    def files(root: Path) -> dict[str, bytes]:
        return {path.relative_to(root).as_posix(): path.read_bytes()
                for path in sorted(root.rglob("*")) if path.is_file()}

    first, second, other = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert first == second
    assert first.keys() >= {"truth/defects.jsonl", "truth/generation.json"}
    assert first["truth/defects.jsonl"] != other["truth/defects.jsonl"]


def test_a_window_ending_in_the_future_is_refused(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    with pytest.raises(ValueError, match="after the current time"):
        admissions.generate(tmp_path, days=2, start=today, treatments=1_000)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        admissions.generate(tmp_path, days=0, treatments=1_000)


def test_flu_season_peaks_early_january() -> None:
    clock = Clock(datetime(2025, 7, 1, tzinfo=UTC))
    minutes = {day: int((day - clock.start).total_seconds() // 60) for day in (
        datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 15, tzinfo=UTC))}
    season = {day.date(): clock.season(minute) for day, minute in minutes.items()}
    assert season[date(2025, 7, 1)] == pytest.approx(1.0, abs=1e-6)
    assert season[date(2026, 1, 5)] == pytest.approx(1 + FLU_AMPLITUDE)
    assert 1.0 < season[date(2025, 12, 1)] < season[date(2026, 1, 5)]
    assert 1.0 < season[date(2026, 2, 15)] < season[date(2026, 1, 5)]


# --------------------------------------------------------------------------------- layout
def test_layout_names_and_counts(feed: Feed) -> None:
    landing = feed.out / "landing"
    assert {path.name for path in landing.iterdir()} == {"adt", "departments"}
    drops = sorted({line.drop for line in feed.lines})
    for line in feed.lines:
        assert line.file.split("/")[1] == line.drop.date().isoformat()  # folder = UTC drop date
    for drop in drops:
        assert WINDOW_START < drop <= WINDOW_END
        assert (drop - WINDOW_START) % timedelta(minutes=FILE_MINUTES) == timedelta(0)
    files = {line.file for line in feed.lines}
    assert len(files) == sum(1 for path in (landing / "adt").rglob("*") if path.is_file())
    assert len(files) > 0.9 * DAYS * 24 * 60 / FILE_MINUTES
    extracts = sorted((landing / "departments").rglob("*.csv"))
    assert len(extracts) == DAYS * len(HOSPITALS)
    for path in extracts:
        assert re.fullmatch(r"departments_H00[1-7]_(\d{4}-\d{2}-\d{2})\.csv", path.name)
        assert path.parent.name == path.name[-14:-4]
    generation = json.loads((feed.out / "truth" / "generation.json").read_text())
    assert {key: generation[key] for key in ("seed", "treatments", "days", "start",
                                             "file_minutes")} == {
        "seed": SEED, "treatments": TREATMENTS, "days": DAYS, "start": START.isoformat(),
        "file_minutes": FILE_MINUTES}
    assert generation["adt_files"] == len(files) == feed.report.adt_files
    assert generation["files"] == len(files) + len(extracts)
    assert generation["adt_lines"] == len(feed.lines)
    kinds = Counter(entry["defect"] for entry in feed.ledger.values())
    assert generation["defects"] == {kind: kinds[kind] for kind in EXPECTED_OUTCOMES}
    assert generation["events"] == len(feed.lines) - kinds["duplicate_event_id"]
    assert generation["encounters"] == len({line.event["encounter_id"] for line in feed.lines})
    description = feed.report.describe()
    for text in ("defects.jsonl", "generation.json", "duplicate_event_id", "encounters"):
        assert text in description


def test_every_line_is_a_compact_json_object(feed: Feed) -> None:
    for line in feed.lines:
        assert isinstance(line.event, dict)
        assert json.dumps(line.event, separators=(",", ":")) == line.text
        assert set(line.event) >= {"event_id", "event_type", "encounter_id", "patient_id",
                                   "patient", "hospital_id", "department_id"}


# ---------------------------------------------------------------------------------- truth
def test_every_defect_kind_occurs_at_its_documented_outcome(feed: Feed) -> None:
    assert set(admissions.RATES) == set(EXPECTED_OUTCOMES)
    kinds = Counter(entry["defect"] for entry in feed.ledger.values())
    assert {kind for kind in EXPECTED_OUTCOMES if kinds[kind] < 5} == set()
    for entry in feed.ledger.values():
        outcome, rule = EXPECTED_OUTCOMES[entry["defect"]]
        assert (entry["source"], entry["outcome"], entry["rule"]) == ("adt_events", outcome, rule)
        assert ("true_age" in entry) == (entry["defect"] in {"negative_age", "age_over_120"})
    events = len(feed.lines)
    for kind in ("duplicate_event_id", "missing_event_ts", "unknown_department"):
        assert 0.3 * admissions.RATES[kind] < kinds[kind] / events < 1.5 * admissions.RATES[kind]


def test_each_ledger_line_has_its_defect(feed: Feed) -> None:
    by_position = {(line.file, line.number): line for line in feed.lines}
    first_copy: dict[str, Line] = {}
    for line in feed.lines:
        first_copy.setdefault(line.event["event_id"], line)
    files = sorted({line.file for line in feed.lines})
    admits = {line.event["encounter_id"]: line for line in clean_lines(feed)
              if line.event["event_type"] == "ADMIT"}
    for (file, number), entry in feed.ledger.items():
        line = by_position[(file, number)]
        event = line.event
        assert event["event_id"] == entry["event_id"]
        kind = entry["defect"]
        patient = feed.patients[event["patient_id"]]
        if kind == "duplicate_event_id":
            original = first_copy[event["event_id"]]
            assert original is not line and original.text == line.text
            assert (original.file, original.number) not in feed.ledger
            assert 1 <= files.index(line.file) - files.index(original.file) <= 20
        elif kind == "missing_event_ts":
            assert event.get("event_ts", "absent") in {"absent", None, ""}
        elif kind == "future_event_ts":
            assert parse_ts(event["event_ts"]) > WINDOW_END + timedelta(days=9 * 365)
        elif kind in {"negative_age", "age_over_120"}:
            low, high = (-10, -1) if kind == "negative_age" else (121, 150)
            assert low <= event["patient"]["age"] <= high
            true_age = age_on(patient.date_of_birth, parse_ts(event["event_ts"]))
            assert entry["true_age"] == true_age
        elif kind == "discharge_before_admission":
            assert event["event_type"] == "DISCHARGE"
            gap = parse_ts(admits[event["encounter_id"]].event["event_ts"]) - parse_ts(
                event["event_ts"])
            assert timedelta(hours=1) <= gap <= timedelta(hours=48)
            assert parse_ts(event["event_ts"]) >= WINDOW_START
        else:
            assert kind == "unknown_department"
            assert (event["hospital_id"], event["department_id"]) not in feed.departments
    forms = {repr(by_position[key].event.get("event_ts", "absent"))
             for key, entry in feed.ledger.items() if entry["defect"] == "missing_event_ts"}
    assert forms == {"'absent'", "None", "''"}


def test_lines_outside_the_ledger_are_clean(feed: Feed) -> None:
    now = datetime.now(UTC)
    zones = {hospital.hospital_id: ZoneInfo(hospital.timezone) for hospital in HOSPITALS}
    offsets = Counter()
    seen_ids: set[str] = set()
    with_dob = 0
    clean = clean_lines(feed)
    for line in clean:
        event = line.event
        assert event["event_type"] in ORDER
        at = parse_ts(event["event_ts"])
        assert WINDOW_START <= at < WINDOW_END and at <= now
        # sent in the file's interval: at most 12 minutes before it opens, before its drop
        assert line.drop - timedelta(minutes=FILE_MINUTES + 12) <= at < line.drop
        if not event["event_ts"].endswith("Z"):
            zone = zones[event["hospital_id"]]
            assert at.utcoffset() == at.astimezone(zone).utcoffset()
        offsets["Z" if event["event_ts"].endswith("Z") else "local"] += 1
        patient = feed.patients[event["patient_id"]]
        reported = event["patient"]
        assert reported["age"] == age_on(patient.date_of_birth, at)
        assert 0 <= reported["age"] <= 120
        if "date_of_birth" in reported:
            with_dob += 1
            assert reported["date_of_birth"] == patient.date_of_birth.isoformat()
        if patient.gender_form == "absent":
            assert "gender" not in reported
        else:
            assert reported["gender"] == patient.gender_raw
        assert (event["hospital_id"], event["department_id"]) in feed.departments
        if "bed_id" in event:
            assert re.fullmatch(re.escape(event["department_id"]) + r"-\d{3}", event["bed_id"])
        assert event["event_id"] not in seen_ids
        seen_ids.add(event["event_id"])
    assert 0.7 < offsets["Z"] / len(clean) < 0.9
    assert 0.65 < with_dob / len(clean) < 0.85
    # Only the ledger's duplicates repeat an event id.
    repeated = Counter(line.event["event_id"] for line in feed.lines)
    duplicates = Counter(entry["event_id"] for entry in feed.ledger.values()
                         if entry["defect"] == "duplicate_event_id")
    assert {key: count - 1 for key, count in repeated.items() if count > 1} == duplicates


def test_at_most_one_defect_per_encounter(feed: Feed) -> None:
    by_position = {(line.file, line.number): line for line in feed.lines}
    spoiled = Counter(by_position[key].event["encounter_id"] for key in feed.ledger)
    assert spoiled and max(spoiled.values()) == 1


# ----------------------------------------------------------------------- schema evolution
def test_schema_evolves_at_the_midpoint_and_three_quarters(feed: Feed) -> None:
    duplicates = {key for key, entry in feed.ledger.items()
                  if entry["defect"] == "duplicate_event_id"}
    seen = Counter()
    for line in feed.lines:
        if (line.file, line.number) in duplicates:
            continue  # an identical copy of an older line
        event = line.event
        opened = line.drop - timedelta(minutes=FILE_MINUTES)
        arrive = event["event_type"] == "ARRIVE"
        if opened < MIDPOINT:
            seen["old"] += 1
            assert not {"insurance_type", "arrival_mode", "triage_level"} & set(event)
            if event["department_id"] in feed.codes:  # else spoiled: unknown_department
                ward_arrival = arrive and feed.codes[event["department_id"]] != "ED"
                assert ("bed_id" in event) != ward_arrival
        else:
            seen["new"] += 1
            assert "bed_id" not in event
            assert event["insurance_type"] in {"medicare", "medicaid", "commercial", "self_pay"}
            assert ("arrival_mode" in event) == arrive
            if arrive:
                assert event["arrival_mode"] in {"walk_in", "ambulance", "transfer", "scheduled"}
        assert ("triage_level" in event) == (arrive and opened >= THREE_QUARTERS)
        if "triage_level" in event:
            seen["triage"] += 1
            assert event["triage_level"] in {1, 2, 3, 4, 5}
    assert seen["old"] and seen["new"] and seen["triage"]


# ----------------------------------------------------------------------------- coherence
def test_encounters_are_coherent(feed: Feed) -> None:
    timing = {"missing_event_ts", "future_event_ts", "discharge_before_admission",
              "unknown_department", "duplicate_event_id"}
    usable = [line for line in feed.lines
              if feed.ledger.get((line.file, line.number), {}).get("defect") not in timing]
    spoiled = {line.event["encounter_id"] for line in feed.lines
               if (line.file, line.number) in feed.ledger}
    encounters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in usable:
        encounters[line.event["encounter_id"]].append(line.event)
    shapes = Counter()
    for encounter_id, events in encounters.items():
        events.sort(key=lambda event: parse_ts(event["event_ts"]))
        stamps = [parse_ts(event["event_ts"]) for event in events]
        assert stamps == sorted(set(stamps))  # strictly increasing
        types = [event["event_type"] for event in events]
        assert [ORDER[kind] for kind in types] == sorted(ORDER[kind] for kind in types)
        counts = Counter(types)
        assert counts["ARRIVE"] <= 1 and counts["ADMIT"] <= 1 and counts["DISCHARGE"] <= 1
        assert counts["TRANSFER"] <= 2
        assert len({(event["hospital_id"], event["patient_id"]) for event in events}) == 1
        codes = [feed.codes[event["department_id"]] for event in events]
        for event, code in zip(events, codes, strict=True):
            assert event["department_id"].startswith(event["hospital_id"] + "-")
            if event["event_type"] in {"ADMIT", "TRANSFER"}:
                assert code != "ED"
            patient = feed.patients[event["patient_id"]]
            age = age_on(patient.date_of_birth, parse_ts(event["event_ts"]))
            if code == "PED":
                assert age < 18
            if code == "MAT":
                assert patient.gender == "female" and 15 <= age <= 50
        if encounter_id in spoiled:
            continue  # a line is missing or moved: the neighbours below are not adjacent
        for previous, current, code in zip(events, events[1:], codes[1:], strict=False):
            if current["event_type"] == "TRANSFER":
                assert current["department_id"] != previous["department_id"]
            if current["event_type"] == "DISCHARGE" and previous["event_type"] != "ARRIVE":
                assert current["department_id"] == previous["department_id"]
            if current["event_type"] == "DISCHARGE" and previous["event_type"] == "ARRIVE":
                assert code == "ED"
        if types == ["ARRIVE", "DISCHARGE"]:
            shapes["ed_only"] += 1
        if "ADMIT" in types and "DISCHARGE" not in types:
            shapes["in_house"] += 1
        shapes[f"transfers_{counts['TRANSFER']}"] += 1
        if "ADMIT" in types and codes[0] != "ED" and types[0] == "ARRIVE":
            shapes["scheduled"] += 1
    assert all(shapes[name] > 0 for name in (
        "ed_only", "in_house", "transfers_0", "transfers_1", "transfers_2", "scheduled"))


# --------------------------------------------------------------------- department extracts
def test_department_extracts(feed: Feed) -> None:
    population = build_population(SEED, TREATMENTS)
    static = {d.department_id: (d.hospital_id, d.name) for d in population.departments}
    previous: dict[str, dict[str, str]] = {}
    changes = 0
    for day in range(DAYS):
        today = START + timedelta(days=day)
        for hospital in HOSPITALS:
            path = (feed.out / "landing" / "departments" / today.isoformat()
                    / f"departments_{hospital.hospital_id}_{today.isoformat()}.csv")
            data = path.read_bytes()
            assert b"\r" not in data and data.endswith(b"\n")
            rows = list(csv.reader(data.decode("utf-8").splitlines()))
            assert ",".join(rows[0]) == ("hospital_id,hospital_name,city,state,department_id,"
                                         "department_name,bed_capacity,staff_count,updated_at")
            assert len(rows) == 9
            for values in rows[1:]:
                row = dict(zip(rows[0], values, strict=True))
                key = row["department_id"]
                assert (row["hospital_id"], row["department_name"]) == static[key]
                assert (row["hospital_name"], row["city"], row["state"]) == (
                    hospital.name, hospital.city, hospital.state)
                updated = parse_ts(row["updated_at"])
                before = previous.get(key)
                if before is None:
                    assert updated == WINDOW_START - timedelta(days=30)
                elif before == row:
                    pass
                else:
                    changes += 1
                    assert before["updated_at"] != row["updated_at"]
                    day_before = datetime.combine(today - timedelta(days=1), datetime.min.time(),
                                                  UTC)
                    assert day_before <= updated < day_before + timedelta(days=1)
                    beds = int(row["bed_capacity"]) - int(before["bed_capacity"])
                    staff = int(row["staff_count"]) - int(before["staff_count"])
                    assert (beds == 0) != (staff == 0)
                    assert abs(beds) <= 5 and abs(staff) <= 10
                    assert int(row["bed_capacity"]) >= 4
                previous[key] = row
    assert changes > 0
