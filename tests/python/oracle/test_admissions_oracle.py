"""Unit tests of the admissions oracle on tiny hand-written feed files (no database involved)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from oracle import admissions as oracle

HEADER = ",".join(oracle.DEPARTMENT_HEADER)
INITIAL = "2025-11-01T00:00:00Z"
LOADED = datetime(2026, 1, 15, tzinfo=UTC)
LATE_CHANGE = "2025-12-02T10:00:00Z"


def department_line(
    department: str,
    capacity: int | str = 20,
    staff: int | str = 30,
    updated_at: str = INITIAL,
    hospital: str = "H001",
    name: str | None = None,
) -> str:
    name = name or f"Dept {department.split('-', 1)[-1]}"
    return (
        f"{hospital},Lakeside General,Chicago,IL,{department},{name},{capacity},{staff},"
        f"{updated_at}"
    )


def write_extract(landing: Path, day: str, lines: list[str], hospital: str = "H001") -> str:
    relative = f"departments/{day}/departments_{hospital}_{day}.csv"
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return relative


def write_adt(landing: Path, name: str, lines: list[dict[str, Any] | str]) -> str:
    """An ADT file; dict lines are written as compact JSON, strings as they are."""
    relative = f"adt/2025-12-01/{name}"
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(
        (json.dumps(line, separators=(",", ":")) if isinstance(line, dict) else line) + "\n"
        for line in lines
    )
    path.write_text(text, encoding="utf-8")
    return relative


_ABSENT = object()


def event(
    event_id: Any = "EV1",
    event_type: Any = "ARRIVE",
    event_ts: Any = "2025-12-01T10:00:00Z",
    encounter_id: Any = "EN1",
    patient_id: Any = "MRN00000001",
    department_id: Any = "H001-ED",
    hospital_id: Any = "H001",
    age: Any = 54,
    gender: Any = "F",
    date_of_birth: Any = _ABSENT,
    **extra: Any,
) -> dict[str, Any]:
    """An ADT event; ``_ABSENT`` leaves an attribute out."""
    patient = {"age": age, "gender": gender, "date_of_birth": date_of_birth}
    body = {
        "event_id": event_id,
        "event_type": event_type,
        "event_ts": event_ts,
        "encounter_id": encounter_id,
        "patient_id": patient_id,
        "patient": {key: value for key, value in patient.items() if value is not _ABSENT},
        "hospital_id": hospital_id,
        "department_id": department_id,
        **extra,
    }
    return {key: value for key, value in body.items() if value is not _ABSENT}


def standard_departments(landing: Path) -> None:
    write_extract(
        landing,
        "2025-12-01",
        [department_line("H001-ED"), department_line("H001-MED"), department_line("H001-ICU", 10)],
    )


def checked_by_line(result: dict[str, Any], source_file: str) -> dict[int, dict[str, Any]]:
    return {
        row["line_number"]: row
        for row in result["adt_events_checked"]
        if row["source_file"] == source_file
    }


# --- parsing helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        (date(1971, 3, 2), date(2025, 3, 1), 53),
        (date(1971, 3, 2), date(2025, 3, 2), 54),
        (date(2004, 2, 29), date(2025, 2, 28), 20),
        (date(2004, 2, 29), date(2025, 3, 1), 21),
        (date(2025, 12, 1), date(2025, 12, 1), 0),
    ],
)
def test_whole_years(born: date, on: date, years: int) -> None:
    assert oracle.whole_years(born, on) == years


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([Fraction(7)], Fraction(7)),
        ([Fraction(40), Fraction(10), Fraction(30), Fraction(20)], Fraction(37)),
        ([Fraction(v) for v in range(1, 12)], Fraction(10)),  # position 9 exactly
        ([Fraction(1), Fraction(2)], Fraction(19, 10)),
    ],
)
def test_percentile_cont(values: list[Fraction], expected: Fraction | None) -> None:
    assert oracle.percentile_cont(values, Fraction(9, 10)) == expected


def test_census_instant_is_local_midnight_across_dst() -> None:
    zone = oracle.ZoneInfo("America/Chicago")
    # CDT (-05:00) on 2025-11-01; CST (-06:00) from 2025-11-02 02:00 local
    assert oracle.census_instant(date(2025, 11, 1), zone) == datetime(2025, 11, 2, 5, tzinfo=UTC)
    assert oracle.census_instant(date(2025, 11, 2), zone) == datetime(2025, 11, 3, 6, tzinfo=UTC)
    assert oracle.census_instant(date(2026, 3, 7), zone) == datetime(2026, 3, 8, 6, tzinfo=UTC)
    assert oracle.census_instant(date(2026, 3, 8), zone) == datetime(2026, 3, 9, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "band", "order"),
    [(0, "0-17", 1), (17, "0-17", 1), (18, "18-34", 2), (79, "65-79", 5), (80, "80+", 6),
     (120, "80+", 6), (121, "unknown", 7), (None, "unknown", 7)],
)
def test_age_band(age: int | None, band: str, order: int) -> None:
    assert oracle.age_band(age) == (band, order)


def test_adt_lines_numbering_and_json() -> None:
    text = '{"event_id":"a"}\n\n  \nnot json\n[1, 2]\n"text"\n{"x":NaN}\n{"event_id":"b"}\r\n'
    lines = oracle.parse_adt_text("adt/f.jsonl", text)
    assert [(line.line_number, line.event) for line in lines] == [
        (1, {"event_id": "a"}),
        (4, None),
        (5, None),
        (6, None),
        (7, None),
        (8, {"event_id": "b"}),
    ]


def test_department_records_line_numbers_and_malformed_rows() -> None:
    text = (
        HEADER + "\n"
        + department_line("H001-ED") + "\n"
        + 'H001,"Lakeside\nGeneral",Chicago,IL,H001-MED,Medicine,20,30,' + INITIAL + "\n"
        + "H001,too,few\n"
        + "\n"
        + department_line("H001-ICU") + ",extra\n"
        + department_line("H001-SUR") + "\n"
    )
    records = oracle.parse_department_text("departments/x.csv", text)
    assert [(record.line_number, record.record is None) for record in records] == [
        (2, False), (3, False), (5, True), (7, True), (8, False),
    ]
    assert records[1].record is not None
    assert records[1].record["hospital_name"] == "Lakeside\nGeneral"


# --- department rules and versions ------------------------------------------------------------


def test_department_reject_rules(tmp_path: Path) -> None:
    relative = write_extract(
        tmp_path,
        "2025-12-01",
        [
            department_line("H001-ED"),
            "H001,x,y",
            department_line(" "),
            department_line("H001-MED", hospital=""),
            department_line("H001-ICU", capacity="-1"),
            department_line("H001-SUR", capacity="12.5"),
            department_line("H001-CAR", staff="many"),
            department_line("H001-ONC", updated_at="2025-11-01T00:00:00"),
            department_line("H001-PED", capacity=0, staff=" 7 "),
        ],
    )
    result = oracle.compute(tmp_path, {relative: LOADED})
    rules = [(row["line_number"], row["reject_rule"]) for row in result["department_extract_rows"]]
    assert rules == [
        (2, None),
        (3, "malformed_row"),
        (4, "missing_department_id"),
        (5, "missing_hospital_id"),
        (6, "invalid_bed_capacity"),
        (7, "invalid_bed_capacity"),
        (8, "invalid_staff_count"),
        (9, "invalid_updated_at"),
        (10, None),
    ]
    pediatrics = result["department_extract_rows"][-1]
    assert (pediatrics["bed_capacity"], pediatrics["staff_count"]) == (0, 7)
    assert [row["department_id"] for row in result["department_versions"]] == [
        "H001-ED", "H001-PED",
    ]


def test_department_versions_scd2(tmp_path: Path) -> None:
    change = "2025-12-01T14:22:00Z"
    write_extract(tmp_path, "2025-12-01", [department_line("H001-ED", 20)])
    # the change of Dec 1 shows in Dec 2's extract, then the row repeats unchanged
    write_extract(tmp_path, "2025-12-02", [department_line("H001-ED", 24, updated_at=change)])
    write_extract(tmp_path, "2025-12-03", [department_line("H001-ED", 24, updated_at=change)])
    # a staff change back and forth: three versions more
    write_extract(
        tmp_path, "2025-12-04", [department_line("H001-ED", 24, 31, "2025-12-03T09:00:00Z")]
    )
    write_extract(
        tmp_path, "2025-12-05", [department_line("H001-ED", 24, 30, "2025-12-04T09:00:00Z")]
    )
    versions = oracle.compute(tmp_path, lambda _file: LOADED)["department_versions"]
    assert [
        (row["valid_from"], row["valid_to"], row["bed_capacity"], row["staff_count"])
        for row in versions
    ] == [
        (None, datetime(2025, 12, 1, 14, 22, tzinfo=UTC), 20, 30),
        (datetime(2025, 12, 1, 14, 22, tzinfo=UTC), datetime(2025, 12, 3, 9, tzinfo=UTC), 24, 30),
        (datetime(2025, 12, 3, 9, tzinfo=UTC), datetime(2025, 12, 4, 9, tzinfo=UTC), 24, 31),
        (datetime(2025, 12, 4, 9, tzinfo=UTC), None, 24, 30),
    ]
    assert oracle.compute(tmp_path)["dim_hospital"] == [
        {"hospital_id": "H001", "hospital_name": "Lakeside General", "city": "Chicago",
         "state": "IL"}
    ]


def test_department_versions_same_instant_later_file_wins(tmp_path: Path) -> None:
    write_extract(tmp_path, "2025-12-02", [department_line("H001-ED", 20)])
    write_extract(tmp_path, "2025-12-01", [department_line("H001-ED", 99)])
    versions = oracle.compute(tmp_path)["department_versions"]
    assert [(row["valid_from"], row["bed_capacity"]) for row in versions] == [(None, 20)]


# --- ADT rules --------------------------------------------------------------------------------


def test_every_adt_reject_rule_in_order(tmp_path: Path) -> None:
    standard_departments(tmp_path)
    # a department known only from a rejected extract row stays unknown
    write_extract(tmp_path, "2025-12-01", [department_line("H001-LAB", capacity="x")], "H002")
    first = write_adt(
        tmp_path,
        "adt_20251201T100000Z.jsonl",
        [
            "{not json",                                                          # 1
            "[1, 2]",                                                             # 2
            "",                                                                   # 3 skipped
            event(event_id=_ABSENT),                                              # 4
            event(event_id="  ", event_ts=None),                                  # 5
            event("EV1"),                                                         # 6 accepted
            event("EV2", event_type="BOUNCE"),                                    # 7
            event("EV3", event_type=_ABSENT),                                     # 8
            event("EV4", encounter_id=""),                                        # 9
            event("EV5", patient_id=None),                                        # 10
            event("EV6", event_ts=_ABSENT),                                       # 11
            event("EV7", event_ts=None),                                          # 12
            event("EV8", event_ts=" "),                                           # 13
            event("EV9", event_ts="2025-12-01T10:00:00"),                         # 14
            event("EV10", event_ts="01/12/2025 10:00"),                           # 15
            event("EV11", event_ts="2035-12-01T10:00:00Z"),                       # 16
            event("EV12", department_id="H001-RAD"),                              # 17
            event("EV13", hospital_id="H009", department_id="H009-ED"),           # 18
            event("EV14", hospital_id="H002", department_id="H001-ED"),           # 19
            event("EV15", hospital_id="H002", department_id="H001-LAB"),          # 20
            event("EV16", event_type=" arrival ", event_ts="2025-12-01T04:00:00-06:00"),  # 21
            event("EV17", patient_id=None, event_ts=None),                        # 22
            event(18, event_ts=" 2025-12-01T10:00:00Z ", encounter_id=7),         # 23
            event({"id": 1}),                                                     # 24
        ],
    )
    second = write_adt(
        tmp_path,
        "adt_20251201T110000Z.jsonl",
        [
            event("EV1"),                                                         # 1 duplicate
            event("EV2"),                                                         # 2 duplicate
            event("EV3", event_ts="2035-01-01T00:00:00Z"),                        # 3 duplicate
        ],
    )
    result = oracle.compute(tmp_path, {first: LOADED, second: LOADED} | _extract_times(tmp_path))
    rules = {line: row["reject_rule"] for line, row in checked_by_line(result, first).items()}
    assert rules == {
        1: "invalid_json", 2: "invalid_json", 4: "missing_event_id", 5: "missing_event_id",
        6: None, 7: "unknown_event_type", 8: "unknown_event_type", 9: "missing_encounter_id",
        10: "missing_patient_id", 11: "missing_event_ts", 12: "missing_event_ts",
        13: "missing_event_ts", 14: "invalid_event_ts", 15: "invalid_event_ts",
        16: "future_event_ts", 17: "unknown_department", 18: "unknown_department",
        19: "unknown_department", 20: "unknown_department", 21: None, 22: "missing_patient_id",
        23: None, 24: "missing_event_id",
    }
    assert {line: row["reject_rule"] for line, row in checked_by_line(result, second).items()} == {
        1: "duplicate_event_id", 2: "duplicate_event_id", 3: "duplicate_event_id",
    }
    numeric_ids = checked_by_line(result, first)[23]
    assert (numeric_ids["event_id"], numeric_ids["encounter_id"]) == ("18", "7")
    accepted = checked_by_line(result, first)[21]
    assert accepted["event_type"] == "ARRIVE"
    assert accepted["event_at"] == datetime(2025, 12, 1, 10, tzinfo=UTC)


def _extract_times(landing: Path) -> dict[str, datetime]:
    return {name: LOADED for name in oracle.department_files(landing)}


def test_future_is_relative_to_each_files_load_time(tmp_path: Path) -> None:
    standard_departments(tmp_path)
    relative = write_adt(
        tmp_path,
        "adt_20251201T100000Z.jsonl",
        [event("EV1", event_ts="2025-12-01T10:00:00Z"),
         event("EV2", event_ts="2025-12-01T10:00:00.000001Z")],
    )
    loaded = datetime(2025, 12, 1, 10, tzinfo=UTC)
    result = oracle.compute(tmp_path, lambda _file: loaded)
    assert [row["reject_rule"] for row in checked_by_line(result, relative).values()] == [
        None, "future_event_ts",
    ]


def test_duplicate_is_the_later_load_not_the_later_name(tmp_path: Path) -> None:
    standard_departments(tmp_path)
    early_name = write_adt(tmp_path, "adt_20251201T100000Z.jsonl", [event("EV1"), event("EV1")])
    late_name = write_adt(tmp_path, "adt_20251201T090000Z.jsonl", [event("EV1")])
    times = _extract_times(tmp_path) | {
        early_name: datetime(2026, 1, 1, tzinfo=UTC),
        late_name: datetime(2026, 1, 2, tzinfo=UTC),
    }
    result = oracle.compute(tmp_path, times)
    assert [row["reject_rule"] for row in checked_by_line(result, early_name).values()] == [
        None, "duplicate_event_id",
    ]
    assert [row["reject_rule"] for row in checked_by_line(result, late_name).values()] == [
        "duplicate_event_id",
    ]


def test_discharge_before_admission(tmp_path: Path) -> None:
    standard_departments(tmp_path)
    relative = write_adt(
        tmp_path,
        "adt_20251201T100000Z.jsonl",
        [
            # EN1: discharge two hours before the (only passing) admit
            event("A1", "ARRIVE", "2025-12-01T08:00:00Z", "EN1"),
            event("A2", "ADMIT", "2025-12-01T12:00:00Z", "EN1", department_id="H001-MED"),
            event("A3", "DISCHARGE", "2025-12-01T10:00:00Z", "EN1", department_id="H001-MED"),
            # EN2: the earlier admit is in the future (rejected): it does not count
            event("B1", "ADMIT", "2025-12-01T12:00:00Z", "EN2", department_id="H001-MED"),
            event("B2", "ADMIT", "2035-12-01T09:00:00Z", "EN2", department_id="H001-MED"),
            event("B3", "DISCHARGE", "2025-12-01T11:59:00Z", "EN2", department_id="H001-MED"),
            # EN3: discharge at the admit instant is not before it; no admit at all is fine
            event("C1", "ADMIT", "2025-12-01T12:00:00Z", "EN3", department_id="H001-MED"),
            event("C2", "DISCHARGE", "2025-12-01T12:00:00Z", "EN3", department_id="H001-MED"),
            event("D1", "DISCHARGE", "2025-12-01T12:00:00Z", "EN4"),
            # EN5: the earliest admit decides: a discharge after it passes, before a later one
            event("E1", "ADMIT", "2025-12-01T09:00:00Z", "EN5", department_id="H001-MED"),
            event("E2", "ADMIT", "2025-12-01T07:00:00Z", "EN5", department_id="H001-ICU"),
            event("E3", "DISCHARGE", "2025-12-01T08:00:00Z", "EN5", department_id="H001-MED"),
        ],
    )
    result = oracle.compute(tmp_path)
    rules = [row["reject_rule"] for row in checked_by_line(result, relative).values()]
    assert rules == [
        None, None, "discharge_before_admission",
        None, "future_event_ts", "discharge_before_admission",
        None, None, None,
        None, None, None,
    ]


def test_ages_flags_and_decoding(tmp_path: Path) -> None:
    standard_departments(tmp_path)
    late = "2025-12-02T03:00:00Z"  # still December 1 in Chicago
    relative = write_adt(
        tmp_path,
        "adt_20251202T030000Z.jsonl",
        [
            event("V1", event_ts=late, age=54, date_of_birth="1971-12-02"),
            event("V2", event_ts=late, age=-3, date_of_birth="1971-12-02"),
            event("V3", event_ts=late, age=130),
            event("V4", event_ts=late, age=_ABSENT, date_of_birth="1971-12-01"),
            event("V5", event_ts=late, age=None, date_of_birth="not a date"),
            event("V6", event_ts=late, age="abc", date_of_birth="1971-12-02"),
            event("V7", event_ts=late, age=120),
            event("V8", event_ts=late, age=121, date_of_birth="1971-12-02"),
            event("V9", event_ts=late, age=0, gender=" Male ", insurance_type="medicare",
                  arrival_mode="ambulance", triage_level=3, bed_id="H001-ED-001"),
            event("V10", event_ts=late, age=12.5, gender=None),
            event("V11", event_ts=late, gender=_ABSENT),
            event("V12", event_ts=late, age=_ABSENT, date_of_birth="2030-01-01"),
            event("V13", event_ts=late, age=" 7 "),
        ],
    )
    rows = checked_by_line(oracle.compute(tmp_path), relative)
    assert [
        (row["event_id"], row["age_at_event"], row["is_age_invalid"]) for row in rows.values()
    ] == [
        ("V1", 54, False),
        ("V2", 53, True),
        ("V3", None, True),
        ("V4", 54, False),
        ("V5", None, False),
        ("V6", 53, True),
        ("V7", 120, False),
        ("V8", 53, True),
        ("V9", 0, False),
        ("V10", None, True),
        ("V11", 54, False),
        ("V12", None, False),
        ("V13", 7, False),
    ]
    assert all(row["reject_rule"] is None for row in rows.values())
    assert rows[2]["reported_age_raw"] == "-3"
    assert rows[9]["gender"] == "male"
    assert rows[9]["insurance_type"] == "medicare"
    assert rows[9]["arrival_mode"] == "ambulance"
    assert rows[9]["bed_id"] == "H001-ED-001"
    assert rows[9]["extra_attributes"] == {"triage_level": 3}
    assert rows[1]["extra_attributes"] is None
    assert (rows[1]["gender"], rows[10]["gender"], rows[11]["gender"]) == (
        "female", "unknown", "unknown",
    )
    assert rows[5]["date_of_birth"] is None


# --- encounters, census, bottlenecks, KPIs -----------------------------------------------------


def hospital_day(landing: Path) -> dict[str, Any]:
    """A small hospital whose figures are worked out by hand in the tests below."""
    write_extract(
        landing,
        "2025-12-01",
        [department_line("H001-ED", 10), department_line("H001-MED", 4),
         department_line("H001-ICU", 2)],
    )
    # MED capacity 4 -> 5 from 2025-12-02T12:00Z (shows in Dec 3's extract)
    write_extract(
        landing,
        "2025-12-03",
        [department_line("H001-ED", 10), department_line("H001-MED", 5, updated_at=
                                                         "2025-12-02T12:00:00Z"),
         department_line("H001-ICU", 2)],
    )
    midnight_1 = "2025-12-02T06:00:00Z"  # the census instant of 2025-12-01 (CST)
    write_adt(
        landing,
        "adt_20251201T000000Z.jsonl",
        [
            # EN1: F 40, ED wait 90 min, MED, transfer to ICU, discharged exactly at midnight 2
            event("1a", "ARRIVE", "2025-12-01T15:00:00Z", "EN1", age=40),
            event("1b", "ADMIT", "2025-12-01T16:30:00Z", "EN1", department_id="H001-MED",
                  age=40),
            event("1c", "TRANSFER", "2025-12-02T10:00:00Z", "EN1", department_id="H001-ICU",
                  age=40),
            event("1d", "DISCHARGE", "2025-12-03T06:00:00Z", "EN1", department_id="H001-ICU",
                  age=40),
            # EN2: admitted exactly at midnight 1 (in a bed at that instant), still in house
            event("2a", "ARRIVE", "2025-12-02T05:30:00Z", "EN2", age=None, gender=None,
                  date_of_birth="1950-06-01"),
            event("2b", "ADMIT", midnight_1, "EN2", department_id="H001-MED", gender="m",
                  age=None),
            # EN3: ED visit only, discharged from the ED (never in a bed)
            event("3a", "ARRIVE", "2025-12-01T18:00:00Z", "EN3", age=8, gender="M"),
            event("3b", "DISCHARGE", "2025-12-01T23:00:00Z", "EN3", age=8, gender="M"),
            # EN4: scheduled admission without ARRIVE, admitted Dec 3 (local), no wait
            event("4a", "ADMIT", "2025-12-03T14:00:00Z", "EN4", department_id="H001-MED",
                  age=70, gender="x"),
            event("4b", "DISCHARGE", "2025-12-04T02:00:00Z", "EN4", department_id="H001-MED",
                  age=70, gender="F"),
            # EN5: wait 30 min to MED on Dec 3 (local), still in house at the end
            event("5a", "ARRIVE", "2025-12-03T15:00:00Z", "EN5", age=35, gender="F"),
            event("5b", "ADMIT", "2025-12-03T15:30:00Z", "EN5", department_id="H001-MED",
                  age=35, gender="F"),
        ],
    )
    return oracle.compute(landing)


def test_encounters(tmp_path: Path) -> None:
    facts = {row["encounter_id"]: row for row in hospital_day(tmp_path)["fct_encounters"]}
    assert sorted(facts) == ["EN1", "EN2", "EN3", "EN4", "EN5"]
    en1 = facts["EN1"]
    assert en1["wait_minutes"] == 90
    assert en1["length_of_stay_hours"] == Fraction(75, 2)  # 16:30 Dec 1 -> 06:00 Dec 3
    assert (en1["admission_department_id"], en1["discharge_department_id"]) == (
        "H001-MED", "H001-ICU",
    )
    assert en1["admission_department_version"] == ("H001-MED", None)
    assert en1["transfer_count"] == 1
    assert (en1["age_at_arrival"], en1["age_band"], en1["gender"]) == (40, "35-49", "female")
    assert (en1["is_admitted"], en1["is_in_house"]) == (True, False)
    assert (en1["arrival_date_key"], en1["admission_date_key"], en1["discharge_date_key"]) == (
        20251201, 20251201, 20251203,
    )
    en2 = facts["EN2"]
    assert en2["wait_minutes"] == 30
    assert en2["length_of_stay_hours"] is None
    assert (en2["is_admitted"], en2["is_in_house"]) == (True, True)
    assert (en2["age_at_arrival"], en2["age_band"], en2["gender"]) == (75, "65-79", "male")
    assert en2["arrival_date_key"] == 20251201 and en2["admission_date_key"] == 20251202
    en3 = facts["EN3"]
    assert (en3["is_admitted"], en3["is_in_house"], en3["admitted_at"]) == (False, False, None)
    assert en3["discharge_department_id"] == "H001-ED"
    en4 = facts["EN4"]
    assert en4["arrived_at"] is None
    assert en4["encounter_start_at"] == datetime(2025, 12, 3, 14, tzinfo=UTC)
    assert en4["wait_minutes"] is None
    assert en4["length_of_stay_hours"] == 12
    assert en4["gender"] == "female"  # the first known gender
    assert en4["admission_department_version"] == (
        "H001-MED", datetime(2025, 12, 2, 12, tzinfo=UTC),
    )


def test_census_and_occupancy(tmp_path: Path) -> None:
    census = {
        (row["census_date"], row["department_id"]): row
        for row in hospital_day(tmp_path)["fct_bed_census_daily"]
    }
    # dates: the first (Dec 1) to the last (Dec 3, local) reporting date of an event
    assert sorted({day for day, _dept in census}) == [
        date(2025, 12, 1), date(2025, 12, 2), date(2025, 12, 3),
    ]
    figures = {
        key: (row["census"], row["bed_capacity"], row["occupancy_rate"])
        for key, row in census.items()
    }
    assert figures == {
        # midnight 1: EN1 and EN2 (admitted at that very instant) in MED
        (date(2025, 12, 1), "H001-ED"): (0, 10, Fraction(0)),
        (date(2025, 12, 1), "H001-MED"): (2, 4, Fraction(1, 2)),
        (date(2025, 12, 1), "H001-ICU"): (0, 2, Fraction(0)),
        # midnight 2: EN1 discharged at that very instant; EN2 in MED (capacity 5 now)
        (date(2025, 12, 2), "H001-ED"): (0, 10, Fraction(0)),
        (date(2025, 12, 2), "H001-MED"): (1, 5, Fraction(1, 5)),
        (date(2025, 12, 2), "H001-ICU"): (0, 2, Fraction(0)),
        # midnight 3: EN2 and EN5 in MED; EN4 discharged before
        (date(2025, 12, 3), "H001-ED"): (0, 10, Fraction(0)),
        (date(2025, 12, 3), "H001-MED"): (2, 5, Fraction(2, 5)),
        (date(2025, 12, 3), "H001-ICU"): (0, 2, Fraction(0)),
    }
    assert census[(date(2025, 12, 2), "H001-MED")]["department_version"] == (
        "H001-MED", datetime(2025, 12, 2, 12, tzinfo=UTC),
    )
    assert census[(date(2025, 12, 1), "H001-MED")]["date_key"] == 20251201


def test_bottlenecks_and_kpis(tmp_path: Path) -> None:
    result = hospital_day(tmp_path)
    bottlenecks = {row["department_id"]: row for row in result["department_bottlenecks"]}
    med = bottlenecks["H001-MED"]
    assert med["month_start"] == date(2025, 12, 1)
    assert (med["census_days"], med["bottleneck_days"], med["admissions"]) == (3, 0, 4)
    # waits of the MED admissions: 90, 30, none (EN4), 30
    assert med["avg_wait_minutes"] == 50
    assert med["p90_wait_minutes"] == 78  # 30, 30, 90: position 1.8 -> 30 + 0.8 * 60
    assert bottlenecks["H001-ICU"]["admissions"] == 0
    assert bottlenecks["H001-ICU"]["avg_wait_minutes"] is None
    assert bottlenecks["H001-ICU"]["p90_wait_minutes"] is None

    by_gender = {row["gender"]: row for row in result["admission_kpis_by_gender"]}
    assert sorted(by_gender) == ["female", "male"]
    assert (by_gender["female"]["admissions"], by_gender["female"]["avg_length_of_stay_hours"],
            by_gender["female"]["avg_wait_minutes"]) == (3, Fraction(99, 4), 60)
    assert (by_gender["male"]["admissions"], by_gender["male"]["avg_length_of_stay_hours"],
            by_gender["male"]["avg_wait_minutes"]) == (1, None, 30)
    by_band = {row["age_band"]: row for row in result["admission_kpis_by_age_band"]}
    assert {band: (row["admissions"], row["age_band_order"]) for band, row in by_band.items()} == {
        "35-49": (2, 3), "65-79": (2, 5),
    }


def test_bottleneck_threshold_is_inclusive(tmp_path: Path) -> None:
    write_extract(tmp_path, "2025-12-01", [department_line("H001-MED", 20)])
    lines = [
        event(f"E{number}", "ADMIT", "2025-12-01T12:00:00Z", f"EN{number}",
              department_id="H001-MED")
        for number in range(17)
    ]
    write_adt(tmp_path, "adt_20251201T120000Z.jsonl", lines)
    result = oracle.compute(tmp_path)
    assert [row["occupancy_rate"] for row in result["fct_bed_census_daily"]] == [
        Fraction(17, 20)
    ]
    assert result["department_bottlenecks"][0]["bottleneck_days"] == 1
    # one admission fewer: 16 / 20 = 0.8 is no bottleneck
    write_adt(tmp_path, "adt_20251201T120000Z.jsonl", lines[:16])
    assert oracle.compute(tmp_path)["department_bottlenecks"][0]["bottleneck_days"] == 0


def test_zero_capacity_has_no_occupancy(tmp_path: Path) -> None:
    write_extract(tmp_path, "2025-12-01", [department_line("H001-MED", 0)])
    write_adt(tmp_path, "adt_20251201T120000Z.jsonl",
              [event("E1", "ADMIT", "2025-12-01T12:00:00Z", department_id="H001-MED")])
    row = oracle.compute(tmp_path)["fct_bed_census_daily"][0]
    assert (row["census"], row["bed_capacity"], row["occupancy_rate"]) == (1, 0, None)


# --- data quality -----------------------------------------------------------------------------


def test_dq_counts_per_source_and_load(tmp_path: Path) -> None:
    extract = write_extract(
        tmp_path, "2025-12-01", [department_line("H001-ED"), "bad,row"]
    )
    first = write_adt(tmp_path, "adt_20251201T100000Z.jsonl", [event("E1"), "oops"])
    second = write_adt(
        tmp_path, "adt_20251201T110000Z.jsonl",
        [event("E1"), event("E2", event_ts=None), event("E3", event_ts=None), event("E4")],
    )
    t1, t2, t3 = (datetime(2026, 1, day, tzinfo=UTC) for day in (1, 2, 3))
    result = oracle.compute(
        tmp_path,
        {extract: t1, first: t2, second: t3},
        {extract: "L1", first: "L1", second: "L2"},
    )
    assert result["dq_loads"] == [
        {"source": "adt_events", "load_id": "L1", "first_loaded_at": t2, "last_loaded_at": t2,
         "files": 1, "rows_landed": 2, "rows_accepted": 1, "rows_rejected": 1},
        {"source": "adt_events", "load_id": "L2", "first_loaded_at": t3, "last_loaded_at": t3,
         "files": 1, "rows_landed": 4, "rows_accepted": 1, "rows_rejected": 3},
        {"source": "department_extracts", "load_id": "L1", "first_loaded_at": t1,
         "last_loaded_at": t1, "files": 1, "rows_landed": 2, "rows_accepted": 1,
         "rows_rejected": 1},
    ]
    assert [
        (row["source"], row["load_id"], row["reject_rule"], row["rows_rejected"])
        for row in result["dq_rejects_by_rule"]
    ] == [
        ("adt_events", "L1", "invalid_json", 1),
        ("adt_events", "L2", "duplicate_event_id", 1),
        ("adt_events", "L2", "missing_event_ts", 2),
        ("department_extracts", "L1", "malformed_row", 1),
    ]


def test_a_file_repeating_an_earlier_files_bytes_does_not_land(tmp_path: Path) -> None:
    first = write_extract(tmp_path, "2025-12-01", [department_line("H001-ED")])
    write_extract(tmp_path, "2025-12-02", [department_line("H001-ED")])  # the same bytes
    third = write_extract(tmp_path, "2025-12-03", [department_line("H001-ED", 21,
                                                                   updated_at=LATE_CHANGE)])
    assert oracle.landed(tmp_path, oracle.department_files(tmp_path)) == [first, third]
    result = oracle.compute(tmp_path)
    assert [row["source_file"] for row in result["department_extract_rows"]] == [first, third]
    assert result["dq_loads"][0]["files"] == 2
