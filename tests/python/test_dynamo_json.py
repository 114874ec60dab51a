"""DynamoDB typed-attribute JSON: round trips and refusal of anything that is not one."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from loaders.dynamo_json import deserialize, deserialize_item, serialize, serialize_item


@pytest.mark.parametrize(
    ("value", "attr"),
    [
        ("abc", {"S": "abc"}),
        ("", {"S": ""}),
        ("café \"quoted\"\n", {"S": "café \"quoted\"\n"}),
        (True, {"BOOL": True}),
        (False, {"BOOL": False}),
        (0, {"N": "0"}),
        (-42, {"N": "-42"}),
        (10**30, {"N": "1" + "0" * 30}),
        (Decimal("1234.50"), {"N": "1234.50"}),
        (Decimal("-0.01"), {"N": "-0.01"}),
        (None, {"NULL": True}),
        (b"\x00\xffbinary", {"B": "AP9iaW5hcnk="}),
        ({"a": "x", "b": Decimal("1")}, {"M": {"a": {"S": "x"}, "b": {"N": "1"}}}),
        ({}, {"M": {}}),
        (["x", 1, None], {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}]}),
        ([], {"L": []}),
        ({"b", "a"}, {"SS": ["a", "b"]}),
        ({Decimal("2.5"), 1}, {"NS": ["1", "2.5"]}),
        ({b"b", b"a"}, {"BS": ["YQ==", "Yg=="]}),
    ],
)
def test_serialize_gives_the_typed_attribute(value: object, attr: dict) -> None:
    assert serialize(value) == attr


@pytest.mark.parametrize(
    "value",
    [
        "text",
        True,
        False,
        None,
        Decimal("1234.50"),
        Decimal("-7"),
        b"\x01\x02",
        [1, "two", None, [Decimal("3.25")]],
        {"s": "x", "n": Decimal("1"), "l": [True]},
        {"a", "b"},
        {Decimal("1"), Decimal("2.5")},
        {b"x", b"y"},
    ],
)
def test_round_trip_of_every_type(value: object) -> None:
    back = deserialize(serialize(value))
    assert back == value
    # ... and through JSON text, the way it is stored in an export.
    assert deserialize(json.loads(json.dumps(serialize(value)))) == value


def test_numbers_come_back_as_decimal_and_sets_as_sets() -> None:
    assert deserialize({"N": "12"}) == Decimal("12")
    assert isinstance(deserialize({"N": "12"}), Decimal)
    assert deserialize({"N": "1.2345E+3"}) == Decimal("1234.5")
    assert deserialize({"N": "-.5"}) == Decimal("-0.5")
    assert deserialize({"SS": ["a", "b"]}) == {"a", "b"}
    assert deserialize({"NS": ["1", "2.50"]}) == {Decimal("1"), Decimal("2.5")}
    assert deserialize({"BS": ["YQ=="]}) == {b"a"}
    assert isinstance(deserialize({"B": "YQ=="}), bytes)


def test_nested_maps_and_lists() -> None:
    value = {
        "patient": {"patient_id": "MRN00000001", "address": {"city": "Chicago", "zip": "60611"}},
        "medications": [
            {"name": "Metformin", "dose_mg": Decimal("500")},
            {"name": "Amlodipine", "dose_mg": Decimal("2.5"), "tags": {"oral", "daily"}},
        ],
        "matrix": [[Decimal("1"), Decimal("2")], [], [{"deep": [None, True]}]],
    }
    attr = serialize(value)
    assert attr["M"]["patient"]["M"]["address"]["M"]["city"] == {"S": "Chicago"}
    assert attr["M"]["medications"]["L"][1]["M"]["dose_mg"] == {"N": "2.5"}
    assert attr["M"]["matrix"]["L"][2]["L"][0]["M"]["deep"]["L"] == [
        {"NULL": True},
        {"BOOL": True},
    ]
    assert deserialize(attr) == value


def test_item_helpers() -> None:
    item = {"treatment_id": "TRT-000000001", "cost": Decimal("10.00"), "notes": None}
    line = serialize_item(item)
    assert line == {
        "Item": {
            "treatment_id": {"S": "TRT-000000001"},
            "cost": {"N": "10.00"},
            "notes": {"NULL": True},
        }
    }
    assert deserialize_item(json.loads(json.dumps(line))) == item


def test_sets_are_written_sorted_for_stable_bytes() -> None:
    assert serialize({"c", "a", "b"}) == {"SS": ["a", "b", "c"]}
    assert serialize(frozenset({Decimal("10"), 2})) == {"NS": ["2", "10"]}


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        ({"X": "1"}, "unknown type key"),
        ({"s": "lowercase"}, "unknown type key"),
        ({"S": "a", "N": "1"}, "exactly one type key"),
        ({}, "exactly one type key"),
        ({"N": "abc"}, "N payload"),
        ({"N": "1,234.50"}, "N payload"),
        ({"N": "NaN"}, "N payload"),
        ({"N": "Infinity"}, "N payload"),
        ({"N": " 1"}, "N payload"),
        ({"N": ""}, "N payload"),
        ({"N": 12}, "N payload"),
        ({"BOOL": "true"}, "BOOL payload"),
        ({"BOOL": 1}, "BOOL payload"),
        ({"NULL": False}, "NULL payload"),
        ({"NULL": "true"}, "NULL payload"),
        ({"S": 5}, "S payload"),
        ({"S": None}, "S payload"),
        ({"M": []}, "M payload"),
        ({"L": {}}, "L payload"),
        ({"B": "not base64!"}, "B payload"),
        ({"B": 5}, "B payload"),
        ({"SS": []}, "non-empty list"),
        ({"SS": ["a", 1]}, "SS payload"),
        ({"NS": ["1", "x"]}, "N payload"),
        ({"BS": "YQ=="}, "non-empty list"),
        ("S", "must be an object"),
        (None, "must be an object"),
    ],
)
def test_garbage_is_refused(attr: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deserialize(attr)


def test_errors_name_the_attribute_path() -> None:
    with pytest.raises(ValueError, match=r"Item\.patient\.gender: unknown type key 'Z'"):
        deserialize_item({"Item": {"patient": {"M": {"gender": {"Z": "F"}}}}})
    with pytest.raises(ValueError, match=r"\$\.list\[1\]: BOOL payload"):
        deserialize({"M": {"list": {"L": [{"BOOL": True}, {"BOOL": "yes"}]}}})


@pytest.mark.parametrize(
    "obj",
    [
        {"item": {}},
        {"Item": {}, "Extra": 1},
        {"Item": []},
        ["Item"],
        {"Item": {"a": {"S": "x", "N": "1"}}},
    ],
)
def test_deserialize_item_refuses_bad_lines(obj: object) -> None:
    with pytest.raises(ValueError):
        deserialize_item(obj)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (1.5, TypeError),
        (object(), TypeError),
        ({1: "x"}, ValueError),
        (set(), ValueError),
        ({"a", 1}, ValueError),
        (Decimal("NaN"), ValueError),
        (Decimal("Infinity"), ValueError),
    ],
)
def test_serialize_refuses_what_dynamodb_cannot_hold(value: object, error: type) -> None:
    with pytest.raises(error):
        serialize(value)
