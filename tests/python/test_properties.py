"""Property-based tests (hypothesis) for the decoders, the feed parsers and the normalisers.

- ``loaders.dynamo_json``: every valid typed attribute (all ten types, DynamoDB's number and set
  rules, nested M and L) round-trips both ways; garbage is refused with ``ValueError``
  (``TypeError`` or ``ValueError`` on the way in), the message starting with the bad attribute's
  path.
- ``loaders.treatments``: generated items land in ``bronze.dynamo_treatments`` exactly as written.
- ``loaders.adt.parse`` and ``loaders.departments.parse``: generated files give exactly their
  records at their physical line numbers; arbitrary bytes never crash them, and every non-blank
  line lands as a record or as quarantined text, kept whole. ADT's record-or-quarantine decision
  agrees with PostgreSQL's (``pg_input_is_valid(..., 'jsonb')``).
- The oracles' category normalisers map every case and blank variant of a seed key to the seed's
  value, anything else to unknown, and agree with ``lower(btrim(...))`` run by PostgreSQL.

The profiles live in conftest.py: "ci" (default, derandomized) and "thorough"
(``HYPOTHESIS_PROFILE=thorough``).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from export_files import write_export
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import admissions as admissions_oracle
from oracle import treatments as treatments_oracle
from psycopg import sql

from loaders import adt, departments, treatments
from loaders.db import connect
from loaders.dynamo_json import (
    TYPE_KEYS,
    deserialize,
    deserialize_item,
    serialize,
    serialize_item,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
# each example is a database round trip: a fifth of the profile's examples, at least 20
DB_EXAMPLES = max(20, settings.default.max_examples // 5)
DB_SETTINGS = settings(
    max_examples=DB_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Written here, not imported: the N text DynamoDB accepts (ASCII digits only), padded base64.
ASCII_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- strategies: DynamoDB typed attributes ------------------------------------------------------

# Text that is valid UTF-8 (no lone surrogate); NUL left out where PostgreSQL has to store it.
UNICODE = st.characters(codec="utf-8")
STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")
TEXT = st.text(UNICODE, max_size=10)
STORABLE_TEXT = st.text(STORABLE, max_size=10)


@st.composite
def dynamo_numbers(draw: st.DrawFn) -> Decimal:
    """A number DynamoDB holds: 0, or up to 38 significant digits with a magnitude from 1E-130
    to below 1E+126, positive or negative."""
    sign = draw(st.integers(0, 1))
    coefficient = draw(st.one_of(st.integers(0, 999), st.integers(0, 10**38 - 1)))
    digits = tuple(int(digit) for digit in str(coefficient))
    if coefficient == 0:
        return Decimal((sign, digits, draw(st.integers(-5, 5))))
    low, high = -129 - len(digits), 126 - len(digits)  # 10**(n-1+e) >= 1E-130, 10**(n+e) <= 1E126
    exponent = draw(st.one_of(st.integers(max(low, -4), min(high, 4)), st.integers(low, high)))
    return Decimal((sign, digits, exponent))


@st.composite
def number_texts(draw: st.DrawFn) -> str:
    """Any N text DynamoDB accepts, not only the canonical one: sign, leading zeros, a bare
    point, an exponent."""
    digits = st.text("0123456789", max_size=5)
    whole, fraction = draw(digits), draw(digits)
    point = "." if fraction or draw(st.booleans()) else ""
    if not whole and not fraction:
        whole = "0"
    exponent = draw(
        st.one_of(
            st.just(""),
            st.tuples(
                st.sampled_from("eE"),
                st.sampled_from(["", "+", "-"]),
                st.text("0123456789", min_size=1, max_size=3),
            ).map("".join),
        )
    )
    return draw(st.sampled_from(["", "+", "-"])) + whole + point + fraction + exponent


def typed_attributes(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Typed attributes in the canonical form ``serialize`` writes (N as ``str(Decimal)``, sets
    sorted, unique and non-empty), nested M and L to a few levels."""
    numbers = st.lists(dynamo_numbers(), min_size=1, max_size=4, unique=True)  # unique by value
    scalars = st.one_of(
        text.map(lambda value: {"S": value}),
        dynamo_numbers().map(lambda value: {"N": str(value)}),
        st.binary(max_size=12).map(lambda value: {"B": b64(value)}),
        st.booleans().map(lambda value: {"BOOL": value}),
        st.just({"NULL": True}),
        st.sets(text, min_size=1, max_size=4).map(lambda value: {"SS": sorted(value)}),
        numbers.map(lambda value: {"NS": [str(number) for number in sorted(value)]}),
        st.sets(st.binary(max_size=6), min_size=1, max_size=4).map(
            lambda value: {"BS": [b64(item) for item in sorted(value)]}
        ),
    )
    names = st.text(STORABLE, min_size=1, max_size=6)
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda value: {"L": value}),
            st.dictionaries(names, children, max_size=3).map(lambda value: {"M": value}),
        ),
        max_leaves=12,
    )


TYPED = typed_attributes(TEXT)
ITEMS = st.dictionaries(st.text(min_size=1, max_size=6), TYPED, max_size=5)
STORABLE_ITEMS = st.dictionaries(
    st.text(STORABLE, min_size=1, max_size=6),
    typed_attributes(STORABLE_TEXT),
    max_size=5,
)

# --- strategies: Python values ------------------------------------------------------------------

PY_NUMBERS = st.one_of(st.integers(), dynamo_numbers())
PY_SCALARS = st.one_of(
    TEXT,
    PY_NUMBERS,
    st.binary(max_size=12),
    st.binary(max_size=6).map(bytearray),
    st.booleans(),
    st.none(),
)
PY_SETS = st.one_of(
    st.sets(TEXT, min_size=1, max_size=4),
    st.frozensets(PY_NUMBERS, min_size=1, max_size=4),
    st.sets(st.binary(max_size=6), min_size=1, max_size=4),
)
PY_VALUES = st.recursive(
    st.one_of(PY_SCALARS, PY_SETS),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(TEXT, children, max_size=3),
    ),
    max_leaves=12,
)


def expected_back(value: Any) -> Any:
    """What ``deserialize(serialize(value))`` must give: numbers as Decimal, tuples as lists,
    byte strings as bytes, every set as a set."""
    if isinstance(value, bool) or value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, dict):
        return {key: expected_back(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [expected_back(item) for item in value]
    return {expected_back(item) for item in value}


def _exact(value: Any) -> Any:
    """A key that tells apart what == does not: True and 1, Decimal('1') and Decimal('1.0')."""
    return (type(value), value.as_tuple() if isinstance(value, Decimal) else value)


def same(left: Any, right: Any, ordered: bool = True) -> bool:
    """Equal values of the same types, Decimals with the same digits and exponent; map keys in
    the same order unless ``ordered`` is False (jsonb does not keep it)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, Decimal):
        return left.as_tuple() == right.as_tuple()
    if isinstance(left, dict):
        keys = list(left) == list(right) if ordered else left.keys() == right.keys()
        return keys and all(same(left[key], right[key], ordered) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(
            same(one, other, ordered) for one, other in zip(left, right, strict=True)
        )
    if isinstance(left, set):
        return {_exact(item) for item in left} == {_exact(item) for item in right}
    return bool(left == right)


# --- typed-attribute decoder: valid input -------------------------------------------------------


@given(TYPED)
def test_every_typed_attribute_round_trips(attr: dict[str, Any]) -> None:
    wire = json.loads(json.dumps(attr))  # what a data file line gives back
    assert json.dumps(serialize(deserialize(wire))) == json.dumps(attr)


@given(ITEMS)
def test_every_item_round_trips(item: dict[str, Any]) -> None:
    line = {"Item": item}
    assert json.dumps(serialize_item(deserialize_item(json.loads(json.dumps(line))))) == (
        json.dumps(line)
    )


@given(PY_VALUES)
def test_every_python_value_round_trips(value: Any) -> None:
    attr = serialize(value)
    back = deserialize(json.loads(json.dumps(attr)))
    assert same(back, expected_back(value))


@given(number_texts())
def test_every_number_text_decodes_to_its_exact_value(text: str) -> None:
    value = deserialize({"N": text})
    assert same(value, Decimal(text))
    canonical = serialize(value)
    assert ASCII_NUMBER.fullmatch(canonical["N"])
    assert same(Decimal(canonical["N"]), Decimal(text))
    assert serialize(deserialize(canonical)) == canonical


# --- typed-attribute decoder: garbage ------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
JSON_ANY = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(TEXT, children, max_size=3)
    ),
    max_leaves=6,
)
NOT_NUMBER_TEXT = st.one_of(
    st.sampled_from(
        ["NaN", "nan", "Infinity", "-Infinity", "inf", "", ".", "+", "-", "e5", "1e", "1e+",
         "--1", "1.2.3", " 1", "1 ", "1\n", "1_000", "0x1F", "\u0661\u0662", "\uff11", "\u00b2"]
    ),
    st.text(max_size=6),
).filter(lambda text: not ASCII_NUMBER.fullmatch(text))
NOT_BASE64_TEXT = st.one_of(
    st.sampled_from(["A", "QQ", "QQ=", "Q===", "=", "QQ==QQ==", "QQ== ", "YQ==\n", "\u00e9"]),
    st.text(max_size=6),
).filter(lambda text: not BASE64.fullmatch(text))
SCALAR_TYPED = st.one_of(
    TEXT.map(lambda value: {"S": value}),
    dynamo_numbers().map(lambda value: {"N": str(value)}),
    st.booleans().map(lambda value: {"BOOL": value}),
    st.just({"NULL": True}),
    st.binary(max_size=6).map(lambda value: {"B": b64(value)}),
)


def _not(kind: type | tuple[type, ...]) -> st.SearchStrategy[Any]:
    return JSON_ANY.filter(lambda value: not isinstance(value, kind))


def _tagged(tag: str, payload: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return payload.map(lambda value: {tag: value})


def _list_with(valid: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy:
    """A list of valid members with one bad member somewhere."""
    return st.tuples(st.lists(valid, max_size=3), bad, st.integers(0, 3)).map(
        lambda parts: [*parts[0][: parts[2]], parts[1], *parts[0][parts[2] :]]
    )


def _duplicated(members: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    """A non-empty list with one member repeated."""
    return members.filter(bool).flatmap(
        lambda items: st.sampled_from(items).map(lambda twice: [*items, twice])
    )


NUMBER_TEXTS = st.lists(dynamo_numbers().map(str), min_size=1, max_size=3)
BASE64_TEXTS = st.binary(max_size=4).map(b64)
GARBAGE_ATTRS = st.one_of(
    JSON_SCALARS,  # not an object
    st.lists(SCALAR_TYPED, max_size=2),
    st.just({}),  # no type key
    st.tuples(SCALAR_TYPED, SCALAR_TYPED)  # two type keys
    .map(lambda pair: {**pair[0], **pair[1]})
    .filter(lambda attr: len(attr) == 2),
    st.tuples(SCALAR_TYPED, TEXT.filter(lambda key: key not in TYPE_KEYS), JSON_ANY).map(
        lambda parts: {**parts[0], parts[1]: parts[2]}
    ),  # a type key and another key
    st.dictionaries(TEXT.filter(lambda key: key not in TYPE_KEYS), JSON_ANY, min_size=1),
    st.sampled_from(["s", "n", "Bool", "null", " S", "S ", "SN"]).flatmap(
        lambda key: _tagged(key, JSON_ANY)
    ),  # unknown type key
    _tagged("S", _not(str)),
    _tagged("N", st.one_of(_not(str), NOT_NUMBER_TEXT)),
    _tagged("B", st.one_of(_not(str), NOT_BASE64_TEXT)),
    _tagged("BOOL", _not(bool)),
    _tagged("NULL", JSON_ANY.filter(lambda value: value is not True)),
    _tagged("M", _not(dict)),
    _tagged("L", _not(list)),
    st.sampled_from(["SS", "NS", "BS"]).flatmap(
        lambda tag: _tagged(tag, st.one_of(st.just([]), _not(list)))
    ),  # empty set, or not a list
    _tagged("SS", _list_with(TEXT, _not(str))),
    _tagged("NS", _list_with(dynamo_numbers().map(str), st.one_of(_not(str), NOT_NUMBER_TEXT))),
    _tagged("BS", _list_with(BASE64_TEXTS, st.one_of(_not(str), NOT_BASE64_TEXT))),
    _tagged("SS", _duplicated(st.lists(TEXT, max_size=3))),
    _tagged("NS", _duplicated(NUMBER_TEXTS)),
    _tagged("NS", NUMBER_TEXTS.map(lambda texts: [*texts, f"{Decimal(texts[0]):e}"])),  # same value
    _tagged("BS", _duplicated(st.lists(BASE64_TEXTS, max_size=3))),
)


NUMBERISH = st.text(st.sampled_from([*"0123456789+-.eE _x", "\u0661", "\uff11", "\u00b2"]))
BASE64ISH = st.text(st.sampled_from([*"AQgw+/=-_ \n", "\u00e9"]), max_size=9)


@given(st.one_of(number_texts(), NUMBERISH, NOT_NUMBER_TEXT))
def test_a_number_text_is_read_exactly_when_dynamodb_accepts_it(text: str) -> None:
    if ASCII_NUMBER.fullmatch(text):
        assert same(deserialize({"N": text}), Decimal(text))
        assert same(deserialize({"NS": [text]}), {Decimal(text)})
    else:
        for attr in ({"N": text}, {"NS": [text]}):
            with pytest.raises(ValueError, match=r"^\$: N"):
                deserialize(attr)


@given(st.one_of(st.binary(max_size=7).map(b64), BASE64ISH, NOT_BASE64_TEXT))
def test_a_binary_text_is_read_exactly_when_it_is_base64(text: str) -> None:
    if BASE64.fullmatch(text):
        value = deserialize({"B": text})
        again = b64(value)  # the same text, but for unused bits of the last character
        assert len(again) == len(text) and again.rstrip("=")[:-1] == text.rstrip("=")[:-1]
        assert deserialize({"BS": [text]}) == {value}
    else:
        for attr in ({"B": text}, {"BS": [text]}):
            with pytest.raises(ValueError, match=r"^\$: B payload"):
                deserialize(attr)


@st.composite
def garbage_inside_valid(draw: st.DrawFn) -> tuple[Any, str]:
    """A garbage attribute put at some depth of valid M and L attributes; returns the whole
    attribute and the path of the garbage."""
    attr: Any = draw(GARBAGE_ATTRS)
    steps: list[str] = []
    for kind in draw(st.lists(st.sampled_from(["M", "L"]), max_size=3)):
        siblings = draw(st.lists(SCALAR_TYPED, max_size=2))
        at = draw(st.integers(0, len(siblings)))
        if kind == "L":
            attr = {"L": [*siblings[:at], attr, *siblings[at:]]}
            steps.append(f"[{at}]")
        else:
            names = draw(st.lists(TEXT, min_size=len(siblings) + 1, max_size=len(siblings) + 1,
                                  unique=True))
            members = [(name, sibling) for name, sibling in zip(names[1:], siblings, strict=True)]
            members.insert(at, (names[0], attr))
            attr = {"M": dict(members)}
            steps.append(f".{names[0]}")
    return attr, "$" + "".join(reversed(steps))


@given(garbage_inside_valid())
def test_garbage_attributes_are_refused_naming_their_path(case: tuple[Any, str]) -> None:
    attr, path = case
    with pytest.raises(Exception) as caught:  # noqa: B017 - the type is asserted exactly below
        deserialize(attr)
    assert type(caught.value) is ValueError
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and len(message) > len(path) + 10


@given(
    st.one_of(
        JSON_SCALARS,
        st.lists(JSON_ANY, max_size=2),
        st.dictionaries(TEXT.filter(lambda key: key != "Item"), JSON_ANY, max_size=2),
        st.tuples(ITEMS, TEXT.filter(lambda key: key != "Item"), JSON_ANY).map(
            lambda parts: {"Item": parts[0], parts[1]: parts[2]}
        ),
        _tagged("Item", _not(dict)),
        st.tuples(st.text(min_size=1, max_size=4), GARBAGE_ATTRS).map(
            lambda parts: {"Item": {parts[0]: parts[1]}}
        ),
    )
)
def test_garbage_lines_are_refused(line: Any) -> None:
    with pytest.raises(Exception) as caught:  # noqa: B017 - the type is asserted exactly below
        deserialize_item(line)
    assert type(caught.value) is ValueError
    assert str(caught.value)


BAD_VALUES = st.one_of(
    st.floats().map(lambda value: (value, TypeError)),
    st.sampled_from(["NaN", "sNaN", "Infinity", "-Infinity"]).map(
        lambda text: (Decimal(text), ValueError)
    ),
    st.sampled_from([set(), frozenset()]).map(lambda value: (value, ValueError)),
    st.sampled_from(
        [{"a", 1}, {"a", b"a"}, {1, b"a"}, {True}, {1.5}, {None}, {Decimal("Infinity")}, {(1,)}]
    ).map(lambda value: (value, ValueError)),  # mixed, or not a set DynamoDB has
    st.dictionaries(
        st.one_of(st.integers(), st.binary(max_size=3), st.none(), st.tuples(TEXT)),
        PY_SCALARS,
        min_size=1,
        max_size=2,
    ).map(lambda value: (value, ValueError)),  # a map key that is not a string
    st.one_of(
        st.complex_numbers(), st.dates(), st.builds(object), st.just(Path("x")), st.just(...)
    ).map(lambda value: (value, TypeError)),
)


@st.composite
def bad_inside_valid(draw: st.DrawFn) -> tuple[Any, type[Exception], str]:
    value, error = draw(BAD_VALUES)
    steps: list[str] = []
    for kind in draw(st.lists(st.sampled_from(["dict", "list", "tuple"]), max_size=3)):
        siblings = draw(st.lists(PY_SCALARS, max_size=2))
        at = draw(st.integers(0, len(siblings)))
        if kind == "dict":
            names = draw(st.lists(TEXT, min_size=len(siblings) + 1, max_size=len(siblings) + 1,
                                  unique=True))
            members = list(zip(names[1:], siblings, strict=True))
            members.insert(at, (names[0], value))
            value = dict(members)
            steps.append(f".{names[0]}")
        else:
            items = [*siblings[:at], value, *siblings[at:]]
            value = items if kind == "list" else tuple(items)
            steps.append(f"[{at}]")
    return value, error, "$" + "".join(reversed(steps))


@given(bad_inside_valid())
def test_values_dynamodb_cannot_hold_are_refused_naming_their_path(
    case: tuple[Any, type[Exception], str],
) -> None:
    value, error, path = case
    with pytest.raises(Exception) as caught:  # noqa: B017 - the type is asserted exactly below
        serialize(value)
    assert type(caught.value) is error
    assert str(caught.value).startswith(f"{path}: ")


# --- the other decoder: PostgreSQL's jsonb, through the treatments loader ---------------------

BLANK_LINES = st.sampled_from(["", " ", "\t", " \t\r"])


@DB_SETTINGS
@given(lines=st.lists(st.one_of(STORABLE_ITEMS, BLANK_LINES), min_size=1, max_size=10))
def test_loaded_items_are_exactly_the_items_written(
    empty_bronze: str, lines: list[dict[str, Any] | str]
) -> None:
    export_id = f"01700000000000-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as root:
        write_export(Path(root), export_id, lines, files=1)
        [result] = treatments.load(Path(root))
    written = [(number, {"Item": line}) for number, line in enumerate(lines, 1) if isinstance(
        line, dict)]
    assert (result.status, result.items) == ("loaded", len(written)), result.message
    with connect() as conn:
        landed = conn.execute(
            sql.SQL("select line_number, item from {} where export_id = %s order by 1").format(
                treatments.table()
            ),
            (export_id,),
        ).fetchall()
    assert [number for number, _ in landed] == [number for number, _ in written]
    for (_, item), (_, line) in zip(landed, written, strict=True):
        # jsonb keeps neither key order nor spacing: equal as JSON, bit for bit in every value
        assert json.dumps(item, sort_keys=True) == json.dumps(line, sort_keys=True)
        assert same(deserialize_item(item), deserialize_item(line), ordered=False)


# --- ADT feed parser ------------------------------------------------------------------------------

# Text with NUL and lone surrogates now and then: jsonb stores neither, so such objects are
# quarantined.
ADT_TEXT = st.text(st.one_of(UNICODE, st.sampled_from(["\x00", "\ud800", "\udc00"])),
                   max_size=6)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        ADT_TEXT,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(ADT_TEXT, children, max_size=3)
    ),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(ADT_TEXT, JSON_VALUES, max_size=4)
ADT_BLANKS = st.text(" \t\r", max_size=3)


def _storable(value: Any) -> bool:
    """No NUL and no surrogate in any string (key or value)."""
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(map(_storable, value))
    if isinstance(value, str):
        return "\x00" not in value and not re.search("[\ud800-\udfff]", value)
    return True


@st.composite
def adt_files(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, Any, bytes]]]:
    """A JSON-lines file of objects and blank lines, LF or CRLF, perhaps a BOM, perhaps no
    final newline; returns its bytes and ``(line number, object, line bytes)`` per object."""
    entries = draw(st.lists(st.one_of(JSON_OBJECTS, ADT_BLANKS), max_size=8))
    expected = []
    parts = [b"\xef\xbb\xbf"] if draw(st.booleans()) else []
    for number, entry in enumerate(entries, 1):
        if isinstance(entry, dict):
            text = json.dumps(entry, ensure_ascii=draw(st.booleans()))
            body = text.encode("utf-8", "surrogatepass")  # a raw surrogate is not UTF-8
            expected.append((number, entry, body))
        else:
            body = entry.encode()
        ending = draw(st.sampled_from([b"\n", b"\r\n"]))
        last = number == len(entries)
        parts.append(body + (b"" if last and draw(st.booleans()) else ending))
    return b"".join(parts), expected


@given(adt_files())
def test_adt_parse_gives_every_object_at_its_line(case: tuple[bytes, list[Any]]) -> None:
    data, expected = case
    parsed = list(adt.parse(io.BytesIO(data)))
    assert [number for number, _, _ in parsed] == [number for number, _, _ in expected]
    for (_, record, text), (_, obj, body) in zip(parsed, expected, strict=True):
        assert text == body.decode("utf-8", "replace")
        if _storable(obj):
            assert record == body
            assert json.loads(record) == obj
        else:
            assert record is None


ADT_FRAGMENTS = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b":", b",", b" ", b"\t", b"\r", b"\n", b"\r\n", b'"k"', b"1",
     b"-2.5e3", b"1e400", b"true", b"null", b"NaN", b"\\u0000", b"\\ud800", b"\\udc00",
     b"\\u00e9", b"\\n", b"\\", b"\x00", b"\x01", b"\x0c", b"\xff", b"\xe9", b"\xc3\xa9",
     b"\xef\xbb\xbf", b"{}", b'{"a":1}', b'{"a":"x"}', b'{"a":"\\u0000"}', b'{"\\ud800":1}',
     b'{"a":"\\udc00\\ud800"}', b'{"a":"\\ud83d\\ude00"}', b'{"a":[1e400,-0]}']
)
# Arbitrary bytes, biased to JSON's punctuation, escapes and the bytes parsers trip on. Numbers
# beyond numeric's range are left out: the loader quarantines those when COPY refuses them.
ADT_BYTES = st.lists(st.one_of(ADT_FRAGMENTS, st.binary(max_size=4)), max_size=30).map(b"".join)
ADT_LINES = st.one_of(
    ADT_BYTES,
    st.lists(ADT_FRAGMENTS, max_size=4).map(b"".join),
    JSON_OBJECTS.map(lambda value: json.dumps(value).encode()),  # \u escapes, some of NUL
)


def _adt_lines(data: bytes) -> list[tuple[int, bytes]]:
    """``(line number, body)`` of every non-blank line: split at LF, CR of CRLF dropped."""
    pieces = data.split(b"\n")
    lines = []
    for number, piece in enumerate(pieces, 1):
        terminated = number < len(pieces)
        body = piece.removeprefix(b"\xef\xbb\xbf") if number == 1 else piece
        if terminated and body.endswith(b"\r"):
            body = body[:-1]
        if body.strip(b" \t\r"):
            lines.append((number, body))
    return lines


@given(ADT_BYTES)
def test_adt_parse_keeps_every_line_of_any_bytes(data: bytes) -> None:
    parsed = list(adt.parse(io.BytesIO(data)))
    lines = _adt_lines(data)
    assert [number for number, _, _ in parsed] == [number for number, _ in lines]
    for (_, record, text), (_, body) in zip(parsed, lines, strict=True):
        assert text == body.decode("utf-8", "replace")
        assert record is None or (record == body and isinstance(json.loads(record), dict))


@DB_SETTINGS
@given(st.lists(ADT_LINES, min_size=1, max_size=20).map(b"\n".join))
def test_adt_records_are_what_jsonb_accepts(warehouse_db: str, data: bytes) -> None:
    parsed = list(adt.parse(io.BytesIO(data)))
    sendable = []
    for number, record, text in parsed:
        body = dict(_adt_lines(data))[number]
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            assert record is None
            continue
        if b"\x00" in body:  # PostgreSQL text cannot even hold it
            assert record is None
            continue
        sendable.append((record is not None, text))
    if not sendable:
        return
    with connect() as conn:
        accepted = conn.execute(
            "select case when pg_input_is_valid(line, 'jsonb')"
            " then jsonb_typeof(line::jsonb) = 'object' else false end"
            " from unnest(%s::text[]) with ordinality as lines (line, n) order by n",
            ([text for _, text in sendable],),
        ).fetchall()
    assert [(text, is_record) for is_record, text in sendable] == [
        (text, is_object) for (_, text), (is_object,) in zip(sendable, accepted, strict=True)
    ]


# --- department CSV parser ------------------------------------------------------------------------

CSV_CHARACTERS = st.one_of(st.characters(codec="utf-8", exclude_characters="\x00\ufeff"),
                           st.sampled_from(list(',"\r\n \t')))
CSV_FIELDS = st.text(CSV_CHARACTERS, max_size=6)
CSV_FIELDS_WITH_NUL = st.text(st.one_of(CSV_CHARACTERS, st.just("\x00")), max_size=6)
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _csv_line(fields: list[str], quote_all: bool) -> str:
    """One CSV record, quoted where it must be (written here, not with the csv module); one
    empty field is written '""', not as an empty line."""
    if fields == [""]:
        return '""'
    return ",".join(
        '"' + field.replace('"', '""') + '"'
        if quote_all or any(char in field for char in ',"\r\n')
        else field
        for field in fields
    )


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, dict[str, str] | None, str]]]:
    """A CSV extract (header, records, records with a wrong field count or a NUL, blank lines);
    returns its bytes and ``(line number, record or None, text)`` per record expected."""
    width = draw(st.integers(1, 4))
    header = draw(st.lists(CSV_FIELDS, min_size=width, max_size=width))
    quote_all = draw(st.booleans())
    ending = draw(st.sampled_from(["\r\n", "\n"]))
    chunks = [_csv_line(header, quote_all) + ending]
    kinds = []
    for kind in draw(st.lists(st.sampled_from(["record", "record", "wrong", "blank"]), max_size=6)):
        if kind == "blank":
            chunks.append(draw(st.text(" \t", max_size=2)) + ending)
            kinds.append(None)
            continue
        size = width if kind == "record" else draw(st.integers(1, 6).filter(lambda n: n != width))
        fields = draw(st.lists(CSV_FIELDS_WITH_NUL, min_size=size, max_size=size))
        chunks.append(_csv_line(fields, quote_all) + ending)
        stored = size == width and not any("\x00" in field for field in fields)
        kinds.append(dict(zip(header, fields, strict=True)) if stored else None)
    if draw(st.booleans()):
        chunks[-1] = chunks[-1].removesuffix(ending)
    text = "".join(chunks)
    expected = []
    offset = len(chunks[0])
    for chunk, record in zip(chunks[1:], kinds, strict=True):
        line = chunk.removesuffix(ending)
        if line.strip(" \t"):  # a line of only spaces and tabs is skipped
            number = 1 + len(LINE_BREAK.findall(text, 0, offset))
            expected.append((number, record, line))
        offset += len(chunk)
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + text.encode(), expected


@given(csv_files())
def test_departments_parse_gives_every_record_at_its_line(case: tuple[bytes, list[Any]]) -> None:
    data, expected = case
    parsed = [
        (number, None if record is None else json.loads(record), text)
        for number, record, text in departments.parse(io.BytesIO(data))
    ]
    assert parsed == expected


CSV_FRAGMENTS = st.sampled_from(
    [b",", b'"', b'""', b"\n", b"\r", b"\r\n", b" ", b"\t", b"a", b"b,c", b'"x\ny"', b"\x00",
     b"\xff", b"\xe9", b"\xc3\xa9", b"\xef\xbb\xbf"]
)
CSV_BYTES = st.lists(st.one_of(CSV_FRAGMENTS, st.binary(max_size=3)), max_size=30).map(b"".join)


def _without_terminator(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\r", "\n")) else text


def _blank(line: str) -> bool:
    return not _without_terminator(line).strip(" \t")


@given(CSV_BYTES)
def test_departments_parse_keeps_every_line_of_any_bytes(data: bytes) -> None:
    try:
        parsed = list(departments.parse(io.BytesIO(data)))
    except ValueError as exc:  # only for a header PostgreSQL cannot store
        assert "header" in str(exc)
        return
    # physical lines as the parser reads them: universal newlines, undecodable bytes escaped,
    # no byte order mark
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+", text)
    header = csv.reader(io.StringIO(text, newline=""))
    next(header, None)
    position = header.line_num  # lines accounted for so far: the header's
    for number, record, raw in parsed:
        assert number > position
        assert all(map(_blank, lines[position : number - 1]))  # skipped lines are blank
        ends = [
            end
            for end in range(number, len(lines) + 1)
            if _without_terminator("".join(lines[number - 1 : end])) == raw
        ]
        assert ends, f"line {number}: {raw!r} is not the text of lines from {number} on"
        assert raw.strip(" \t")
        if record is not None:
            assert isinstance(json.loads(record), dict)
        position = ends[0]
    assert all(map(_blank, lines[position:]))


# --- normalisers: seeds and the oracles -----------------------------------------------------------


def _seed(name: str) -> dict[str, str]:
    with (SEEDS / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return {row[0]: row[1] for row in rows[1:]}


GENDERS = _seed("gender_map")
OUTCOMES = _seed("outcome_status_map")
EVENT_TYPES = _seed("adt_event_types")


def normalised(text: str) -> dict[str, str | None]:
    """``text`` through each oracle normaliser: as a treatment's gender and outcome, as an ADT
    event's gender and event type."""
    item = {"patient": {"M": {"gender": {"S": text}}}, "outcome_status": {"S": text}}
    version = treatments_oracle.clean(treatments_oracle.RawLine(0, "e", "f", 1, item))
    event = admissions_oracle.AdtLine("f", 1, {"event_type": text, "patient": {"gender": text}}, "")
    decoded = admissions_oracle._decode_event(event, 120)
    return {
        "treatment gender": version.patient_gender,
        "treatment outcome": version.outcome_status,
        "adt gender": decoded["gender"],
        "adt event type": decoded["event_type"],
    }


def expected_for(key: str) -> dict[str, str | None]:
    """What the seeds give for a lookup key (trimmed and lower-cased already)."""
    return {
        "treatment gender": GENDERS.get(key, "unknown"),
        "treatment outcome": OUTCOMES.get(key),
        "adt gender": GENDERS.get(key, "unknown"),
        "adt event type": EVENT_TYPES.get(key),
    }


SEED_KEYS = sorted({*GENDERS, *OUTCOMES, *EVENT_TYPES})
SPACES = st.text(" ", max_size=3)
# Blanks btrim() leaves alone, and letters whose case mapping is not plain ASCII. Left out: the
# dotted capital I (U+0130), which PostgreSQL lower-cases to "i" and Python to "i" + U+0307.
OTHER_BLANKS = st.text(" \t\n\r\x0b\x0c\xa0\u2003\u3000", max_size=3)
ODD_LETTERS = ["\u212a", "\u017f", "\u0131", "\u00c9", "\u00df", "_", "-"]


@st.composite
def spellings(draw: st.DrawFn, blanks: st.SearchStrategy[str] = SPACES) -> str:
    """A seed key with each letter's case chosen at random, between blanks."""
    key = draw(st.sampled_from(SEED_KEYS))
    flips = draw(st.lists(st.booleans(), min_size=len(key), max_size=len(key)))
    cased = "".join(char.upper() if flip else char for char, flip in zip(key, flips, strict=True))
    return draw(blanks) + cased + draw(blanks)


@given(spellings())
def test_every_spelling_of_a_seed_key_maps_to_the_seed_value(text: str) -> None:
    assert normalised(text) == expected_for(text.strip(" ").lower())


LOOKALIKES = st.one_of(
    spellings(OTHER_BLANKS),
    st.text(st.sampled_from(sorted({*"".join(SEED_KEYS), *"".join(SEED_KEYS).upper(), " ", "\t",
                                    *ODD_LETTERS})), max_size=10),
    st.text(max_size=10),
)


@given(LOOKALIKES)
def test_anything_else_is_unknown(text: str) -> None:
    key = text.strip(" ").lower()
    if key in SEED_KEYS:
        assert normalised(text) == expected_for(key)
    else:
        assert normalised(text) == expected_for("\x00not a key")


@DB_SETTINGS
@given(st.lists(st.one_of(spellings(), LOOKALIKES).filter(lambda text: "\x00" not in text),
                min_size=1, max_size=30))
def test_oracle_normalisers_agree_with_postgresql(warehouse_db: str, texts: list[str]) -> None:
    with connect() as conn:
        keys = conn.execute(
            "select lower(btrim(value)) from unnest(%s::text[]) with ordinality as v (value, n)"
            " order by n",
            (texts,),
        ).fetchall()
    assert [(text, normalised(text)) for text in texts] == [
        (text, expected_for(key)) for text, (key,) in zip(texts, keys, strict=True)
    ]
