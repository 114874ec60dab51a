"""Unit tests of the oracle on tiny hand-written exports (no database involved)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from oracle import treatments as oracle


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: str) -> dict[str, str]:
    return {"N": value}


def make_item(
    treatment_id: str | None = "t1",
    *,
    patient_id: str | None = "p1",
    provider_id: str | None = "d1",
    provider_name: str = "Dr One",
    specialty: str = "Cardiology",
    city: str = "Chicago",
    state: str = "IL",
    treatment_type: str = "Surgery",
    outcome: str | None = "success",
    cost: dict[str, Any] | None = None,
    treatment_ts: str | None = "2024-01-10T10:00:00-06:00",
    modified_at: str | None = "2024-02-01T00:00:00Z",
    gender: str | None = "F",
) -> dict[str, Any]:
    """A typed item; a None argument leaves the attribute out."""
    patient: dict[str, Any] = {"first_name": s("Ann"), "last_name": s("Example")}
    if patient_id is not None:
        patient["patient_id"] = s(patient_id)
    if gender is not None:
        patient["gender"] = s(gender)
    provider: dict[str, Any] = {
        "name": s(provider_name),
        "specialty": s(specialty),
        "hospital_id": s("H1"),
        "city": s(city),
        "state": s(state),
    }
    if provider_id is not None:
        provider["provider_id"] = s(provider_id)
    item: dict[str, Any] = {
        "patient": {"M": patient},
        "provider": {"M": provider},
        "disease": {"M": {"code": s("I10"), "name": s("Hypertension")}},
        "treatment_type": s(treatment_type),
        "is_emergency": {"BOOL": False},
        "notes": {"NULL": True},
    }
    optional = {
        "treatment_id": s(treatment_id) if treatment_id is not None else None,
        "outcome_status": s(outcome) if outcome is not None else None,
        "cost": cost,
        "treatment_ts": s(treatment_ts) if treatment_ts is not None else None,
        "metadata_modified_at": s(modified_at) if modified_at is not None else None,
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return item


def write_export(
    root: Path, export_id: str, export_time: str, files: list[list[dict[str, Any]]]
) -> Path:
    """An export in DynamoDB's layout under root/AWSDynamoDB/<export_id>/ (one data file per
    list of items; an empty list is an empty data file)."""
    folder = root / "AWSDynamoDB" / export_id
    (folder / "data").mkdir(parents=True)
    manifest_lines = []
    for index, items in enumerate(files):
        key = f"AWSDynamoDB/{export_id}/data/file{index:02d}.json.gz"
        body = "".join(json.dumps({"Item": item}) + "\n" for item in items)
        data = gzip.compress(body.encode("utf-8"))
        (root / key).write_bytes(data)
        digest = hashlib.md5(data).digest()
        manifest_lines.append(
            json.dumps(
                {
                    "itemCount": len(items),
                    "md5Checksum": base64.b64encode(digest).decode("ascii"),
                    "etag": digest.hex(),
                    "dataFileS3Key": key,
                }
            )
        )
    (folder / "manifest-files.json").write_text("\n".join(manifest_lines) + "\n")
    summary = {
        "version": "2020-06-30",
        "exportTime": export_time,
        "itemCount": sum(len(items) for items in files),
        "outputFormat": "DYNAMODB_JSON",
        "manifestFilesS3Key": f"AWSDynamoDB/{export_id}/manifest-files.json",
    }
    (folder / "manifest-summary.json").write_text(json.dumps(summary))
    return folder


def compute_one(tmp_path: Path, items: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    write_export(tmp_path / "cycle-1", "01700000000000-00000001", "2024-03-01T00:00:00Z", [items])
    return oracle.compute(tmp_path, **kwargs)


LATE = "2024-12-31T00:00:00Z"


def by_key(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


# --- cleaning ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("success", "success"),
        ("SUCCESS", "success"),
        ("Successful", "success"),
        ("  success ", "success"),
        ("failed", "failure"),
        ("Unsuccessful", "failure"),
        ("FAILURE", "failure"),
        ("In Progress", "ongoing"),
        ("in_progress", "ongoing"),
        ("Pending", "ongoing"),
        ("canceled", "cancelled"),
        ("CANCELLED ", "cancelled"),
        ("done", None),
        ("", None),
        ("succes", None),
    ],
)
def test_outcome_mapping(raw: str, expected: str | None) -> None:
    version = oracle.clean(oracle.RawLine(0, "e", "f", 1, make_item(outcome=raw)))
    assert version.outcome_status == expected
    assert version.reject_rule == (None if expected else "unknown_outcome")


def test_missing_outcome_is_unknown() -> None:
    version = oracle.clean(oracle.RawLine(0, "e", "f", 1, make_item(outcome=None)))
    assert version.reject_rule == "unknown_outcome"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("F", "female"), (" female ", "female"), ("M", "male"), ("MALE", "male"), ("x", "unknown"),
     ("", "unknown"), (None, "unknown")],
)
def test_gender_mapping(raw: str | None, expected: str) -> None:
    version = oracle.clean(oracle.RawLine(0, "e", "f", 1, make_item(gender=raw)))
    assert version.patient_gender == expected


@pytest.mark.parametrize(
    ("attr", "cost", "invalid"),
    [
        (None, None, False),
        ({"NULL": True}, None, False),
        (n("120.5"), Decimal("120.50"), False),
        (n("1.2345E+3"), Decimal("1234.50"), False),
        (n("2.675"), Decimal("2.68"), False),
        (n("0.005"), Decimal("0.01"), False),
        (n("0.004"), Decimal("0.00"), False),
        (n("-5"), None, True),
        (n("9999999999.99"), Decimal("9999999999.99"), False),
        (n("1e10"), None, True),
        (n("9999999999.994"), Decimal("9999999999.99"), False),
        (n("9999999999.995"), None, True),
        (s("$1,234.50"), Decimal("1234.50"), False),
        (s(" 99 "), Decimal("99.00"), False),
        (s("$-12.00"), None, True),
        (s("-12"), None, True),
        (s("abc"), None, True),
        (s(""), None, True),
        (s("1.5e2"), Decimal("150.00"), False),
        (s(".5"), Decimal("0.50"), False),
        ({"BOOL": True}, None, True),
    ],
)
def test_cost_parsing(attr: dict[str, Any] | None, cost: Decimal | None, invalid: bool) -> None:
    assert oracle.parse_cost(attr) == (cost, invalid)
    version = oracle.clean(oracle.RawLine(0, "e", "f", 1, make_item(cost=attr)))
    assert (version.cost, version.is_cost_invalid, version.reject_rule) == (cost, invalid, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-10T10:00:00-06:00", datetime(2024, 1, 10, 16, tzinfo=UTC)),
        ("2024-01-10T10:00:00Z", datetime(2024, 1, 10, 10, tzinfo=UTC)),
        ("2024-01-10T10:00:00.250+01:00", datetime(2024, 1, 10, 9, 0, 0, 250000, tzinfo=UTC)),
        ("2024-01-10T10:00:00", None),
        ("2024-01-10", None),
        ("2024-02-30T10:00:00Z", None),
        ("10/01/2024 10:00", None),
        ("not a date", None),
        ("", None),
        (None, None),
    ],
)
def test_timestamp_parsing(text: str | None, expected: datetime | None) -> None:
    assert oracle.parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"treatment_id": None}, "missing_treatment_id"),
        ({"treatment_id": "  "}, "missing_treatment_id"),
        ({"patient_id": None}, "missing_patient_id"),
        ({"provider_id": None, "patient_id": None}, "missing_patient_id"),
        ({"provider_id": None}, "missing_provider_id"),
        ({"modified_at": "yesterday"}, "invalid_modified_at"),
        ({"modified_at": None, "treatment_ts": None}, "invalid_modified_at"),
        ({"treatment_ts": None}, "invalid_treatment_ts"),
        ({"treatment_ts": "2024-01-10 10:00"}, "invalid_treatment_ts"),
        ({"treatment_ts": "2024-02-01T00:00:01Z"}, "treatment_ts_after_modified_at"),
        ({"treatment_ts": "2024-01-31T18:00:00-06:00"}, None),  # equal instants pass
        (
            {"treatment_ts": "2024-03-01T00:00:00Z", "outcome": "??"},
            "treatment_ts_after_modified_at",
        ),
        ({"outcome": "??"}, "unknown_outcome"),
        ({}, None),
    ],
)
def test_reject_rules_in_order(kwargs: dict[str, Any], rule: str | None) -> None:
    version = oracle.clean(oracle.RawLine(0, "e", "f", 1, make_item(**kwargs)))
    assert version.reject_rule == rule


# --- latest version and rejects ---------------------------------------------------------------


def test_latest_version_and_rejects(tmp_path: Path) -> None:
    # Folder names sort the other way round from exportTime: the oracle must follow exportTime.
    write_export(
        tmp_path / "b-first",
        "01700000000000-00000001",
        "2024-03-01T00:00:00Z",
        [
            [
                make_item("t1", outcome="ongoing", modified_at="2024-02-01T00:00:00Z"),
                make_item("t2", outcome="success", modified_at="2024-02-01T00:00:00Z"),
                make_item("t3", outcome="nonsense", modified_at="2024-02-01T00:00:00Z"),
                make_item("t4", outcome="success", modified_at="2024-02-05T00:00:00Z"),
                make_item("t5", outcome="success", modified_at="2024-02-01T00:00:00Z"),
                make_item(None),
            ],
            [],
        ],
    )
    write_export(
        tmp_path / "a-second",
        "01700000000001-00000002",
        "2024-04-01T00:00:00Z",
        [
            [
                # t1 moved from ongoing to success
                make_item("t1", outcome="Successful", modified_at="2024-03-10T00:00:00Z"),
                # t2's latest version is rejected: the treatment leaves the facts
                make_item("t2", patient_id=None, modified_at="2024-03-10T00:00:00Z"),
                # t3 corrected: enters the facts
                make_item("t3", outcome="failed", modified_at="2024-03-10T00:00:00Z"),
                # an older version of t4 arriving late does not win
                make_item("t4", outcome="failed", modified_at="2024-02-02T00:00:00Z"),
                # the same modified_at again: the later export wins
                make_item("t5", outcome="cancelled", modified_at="2024-02-01T00:00:00Z"),
                make_item(None),
            ],
            [],
        ],
    )
    result = oracle.compute(tmp_path)
    facts = by_key(result["fct_treatments"], "treatment_id")
    assert sorted(facts) == ["t1", "t3", "t4", "t5"]
    assert facts["t1"]["outcome_status"] == "success"
    assert facts["t3"]["outcome_status"] == "failure"
    assert facts["t4"]["outcome_status"] == "success"
    assert facts["t5"]["outcome_status"] == "cancelled"
    rejects = sorted(
        ((row["reject_rule"], row["treatment_id"], row["export_id"]) for row in result["rejects"]),
        key=str,
    )
    assert rejects == [
        ("missing_patient_id", "t2", "01700000000001-00000002"),
        ("missing_treatment_id", None, "01700000000000-00000001"),
        ("missing_treatment_id", None, "01700000000001-00000002"),
    ]


def test_identical_versions_count_once(tmp_path: Path) -> None:
    item = make_item("t1")
    result = compute_one(tmp_path, [item, item, make_item("t2")])
    assert [row["treatment_id"] for row in result["fct_treatments"]] == ["t1", "t2"]
    assert result["provider_rank_by_total_treatments"][0]["total_treatments"] == 2


def test_same_modified_at_same_export_later_line_wins(tmp_path: Path) -> None:
    result = compute_one(
        tmp_path, [make_item("t1", outcome="failure"), make_item("t1", outcome="ongoing")]
    )
    assert result["fct_treatments"][0]["outcome_status"] == "ongoing"


# --- analytic tables --------------------------------------------------------------------------


def test_rank_ties_and_success_rate(tmp_path: Path) -> None:
    items = []
    plan = {"dA": ["success", "failure"], "dB": ["success", "failure"], "dC": ["success"],
            "dD": ["ongoing", "cancelled", "success", "failure"]}
    number = 0
    for provider_id, outcomes in plan.items():
        for outcome in outcomes:
            number += 1
            items.append(make_item(f"t{number}", provider_id=provider_id, outcome=outcome))
    result = compute_one(tmp_path, items, min_completed_for_rank=2)

    totals = by_key(result["provider_rank_by_total_treatments"], "provider_id")
    assert {
        key: (row["total_treatments"], row["treatment_rank"]) for key, row in totals.items()
    } == {"dA": (2, 2), "dB": (2, 2), "dC": (1, 4), "dD": (4, 1)}

    ranked = by_key(result["provider_rank_by_success_rate"], "provider_id")
    assert sorted(ranked) == ["dA", "dB", "dD"]  # dC has 1 completed treatment < 2
    assert {key: row["success_rate_rank"] for key, row in ranked.items()} == {
        "dA": 1, "dB": 1, "dD": 1
    }
    assert ranked["dD"]["completed_treatments"] == 2
    assert ranked["dD"]["success_rate"] == Fraction(1, 2)

    rates = by_key(result["provider_success_rate"], "provider_id")
    assert rates["dD"] == {
        "provider_id": "dD", "provider_name": "Dr One", "total_treatments": 4,
        "successful_treatments": 1, "failed_treatments": 1, "ongoing_treatments": 1,
        "cancelled_treatments": 1, "success_rate": Fraction(1, 2),
    }
    assert rates["dC"]["success_rate"] == 1


def test_success_rate_null_without_completed(tmp_path: Path) -> None:
    result = compute_one(tmp_path, [make_item("t1", outcome="pending")], min_completed_for_rank=0)
    assert result["provider_success_rate"][0]["success_rate"] is None
    assert result["provider_rank_by_success_rate"][0]["success_rate"] is None
    assert result["monthly_success_rate_trend"][0]["success_rate"] is None


@pytest.mark.parametrize(
    ("costs", "avg", "median"),
    [
        (["10", "20", "40"], "23.33", "20.00"),  # odd count
        (["10", "20", "25", "40"], "23.75", "22.50"),  # even count: mean of the middle two
        (["0.01", "0.02"], "0.02", "0.02"),  # 0.015 rounds half away from zero
        (["1.00", "1.01", "1.02", "1.03"], "1.02", "1.02"),  # 1.015 -> 1.02
    ],
)
def test_avg_and_median_cost(tmp_path: Path, costs: list[str], avg: str, median: str) -> None:
    items = [make_item(f"t{i}", cost=n(cost)) for i, cost in enumerate(costs)]
    items.append(make_item("no-cost", cost=None))
    items.append(make_item("bad-cost", cost=s("n/a")))
    items.append(make_item("other", treatment_type=" Therapy ", cost=None))
    result = compute_one(tmp_path, items)
    rows = by_key(result["avg_treatment_cost_by_type"], "treatment_type")
    assert rows["Surgery"] == {
        "treatment_type": "Surgery",
        "treatments_with_cost": len(costs),
        "avg_cost": Decimal(avg),
        "median_cost": Decimal(median),
        "min_cost": min(Decimal(cost) for cost in costs),
        "max_cost": max(Decimal(cost) for cost in costs),
        "total_cost": sum(Decimal(cost) for cost in costs),
    }
    assert rows["Therapy"] == {
        "treatment_type": "Therapy", "treatments_with_cost": 0, "avg_cost": None,
        "median_cost": None, "min_cost": None, "max_cost": None, "total_cost": None,
    }


def test_monthly_trend_with_empty_month_and_reporting_zone(tmp_path: Path) -> None:
    items = [
        # 2024-02-01 03:00 UTC is still January 31 in Chicago
        make_item("t1", outcome="success", treatment_ts="2024-02-01T03:00:00Z",
                  modified_at=LATE),
        make_item("t2", outcome="failure", treatment_ts="2024-01-05T12:00:00Z",
                  modified_at=LATE),
        # nothing in February or March; April has one ongoing treatment
        make_item("t3", outcome="ongoing", treatment_ts="2024-04-02T12:00:00Z",
                  modified_at="2024-05-01T00:00:00Z"),
        make_item("t4", outcome="success", treatment_ts="2024-05-02T12:00:00Z",
                  modified_at="2024-06-01T00:00:00Z"),
    ]
    result = compute_one(tmp_path, items)
    trend = result["monthly_success_rate_trend"]
    assert [
        (row["month_start"], row["treatments"], row["completed_treatments"],
         row["successful_treatments"], row["success_rate"], row["success_rate_change"])
        for row in trend
    ] == [
        (date(2024, 1, 1), 2, 2, 1, Fraction(1, 2), None),
        (date(2024, 2, 1), 0, 0, 0, None, None),
        (date(2024, 3, 1), 0, 0, 0, None, None),
        (date(2024, 4, 1), 1, 0, 0, None, None),
        (date(2024, 5, 1), 1, 1, 1, Fraction(1), None),
    ]
    assert by_key(result["fct_treatments"], "treatment_id")["t1"]["treatment_date"] == date(
        2024, 1, 31
    )


def test_trend_change(tmp_path: Path) -> None:
    items = [
        make_item("t1", outcome="success", treatment_ts="2024-01-05T12:00:00Z",
                  modified_at=LATE),
        make_item("t2", outcome="success", treatment_ts="2024-02-05T12:00:00Z", modified_at=LATE),
        make_item("t3", outcome="failure", treatment_ts="2024-02-06T12:00:00Z", modified_at=LATE),
        make_item("t4", outcome="failure", treatment_ts="2024-02-07T12:00:00Z", modified_at=LATE),
    ]
    trend = compute_one(tmp_path, items)["monthly_success_rate_trend"]
    assert [row["success_rate_change"] for row in trend] == [None, Fraction(1, 3) - 1]


def test_location_state_and_city_ranks(tmp_path: Path) -> None:
    items = [
        # provider d1 moves from Chicago to Springfield; each treatment keeps its own location
        make_item("t1", provider_id="d1", city="Chicago", state="IL", cost=n("10"),
                  treatment_ts="2024-01-01T10:00:00Z", patient_id="p1"),
        make_item("t2", provider_id="d1", city="Springfield", state="IL", cost=None,
                  treatment_ts="2024-01-03T10:00:00Z", patient_id="p1",
                  provider_name="Dr One Renamed"),
        make_item("t3", provider_id="d2", city="Chicago", state="IL", cost=s("$5.50"),
                  treatment_ts="2024-01-02T10:00:00Z", patient_id="p2"),
        make_item("t4", provider_id="d3", city="Madison", state="WI", cost=n("-1"),
                  treatment_ts="2024-01-02T10:00:00Z", patient_id="p3"),
        make_item("t5", provider_id="d4", city="Peoria", state="IL",
                  treatment_ts="2024-01-02T10:00:00Z", patient_id="p4"),
    ]
    result = compute_one(tmp_path, items)
    states = by_key(result["treatments_by_state"], "state")
    assert states["IL"] == {
        "state": "IL", "treatments": 4, "share_of_treatments": Fraction(4, 5),
        "distinct_patients": 3, "distinct_providers": 3, "total_cost": Decimal("15.50"),
    }
    assert states["WI"]["total_cost"] == Decimal("0")
    assert states["WI"]["share_of_treatments"] == Fraction(1, 5)
    cities = {(row["city"], row["state"]): (row["treatments"], row["city_rank_in_state"])
              for row in result["treatments_per_city"]}
    assert cities == {
        ("Chicago", "IL"): (2, 1), ("Springfield", "IL"): (1, 2), ("Peoria", "IL"): (1, 2),
        ("Madison", "WI"): (1, 1),
    }
    # name and specialty come from the provider's latest observation by treatment time
    totals = by_key(result["provider_rank_by_total_treatments"], "provider_id")
    assert totals["d1"]["provider_name"] == "Dr One Renamed"


def test_empty_data_files_and_item_count_check(tmp_path: Path) -> None:
    write_export(tmp_path, "01700000000000-00000001", "2024-03-01T00:00:00Z", [[], []])
    result = oracle.compute(tmp_path)
    assert all(result[name] == [] for name in oracle.ANALYTIC_TABLES)
