"""DynamoDB typed-attribute JSON ("DynamoDB JSON"), without boto3.

A typed attribute is a one-key object whose key names the type::

    S     str                    {"S": "abc"}
    N     int / Decimal          {"N": "1234.50"}   (always a string; exponent form allowed)
    B     bytes                  {"B": "<base64>"}
    BOOL  bool                   {"BOOL": true}
    NULL  None                   {"NULL": true}
    M     dict[str, ...]         {"M": {"k": {...}}}
    L     list                   {"L": [{...}, ...]}
    SS    set[str]               {"SS": ["a", "b"]}
    NS    set[int | Decimal]     {"NS": ["1", "2.5"]}
    BS    set[bytes]             {"BS": ["<base64>", ...]}

``serialize`` turns a Python value into a typed attribute and ``deserialize`` turns one back
(numbers come back as ``Decimal``, binary as ``bytes``, sets as ``set``). Both refuse anything
they cannot represent exactly: floats are refused on the way in (as boto3 does: use
``Decimal``), and on the way out anything that is not exactly one known type key with a payload
of the right JSON type (a set: non-empty, without duplicates) raises ``ValueError`` naming the
attribute path.

Sets are written sorted so that the same value always gives the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "TYPE_KEYS",
    "deserialize",
    "deserialize_item",
    "serialize",
    "serialize_item",
]

TYPE_KEYS = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})

# The textual form DynamoDB accepts for N (and the one the silver layer parses): ASCII digits
# only (``Decimal`` would also read other scripts' digits, such as "\u0661\u0662" as 12).
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def _show(value: object, limit: int = 80) -> str:
    """A repr short enough for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number_text(value: int | Decimal, path: str) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{path}: DynamoDB numbers must be finite, got {value}")
        return str(value)
    return str(int(value))


def _is_number(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _b64(value: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def serialize(value: Any, *, _path: str = "$") -> dict[str, Any]:
    """Return the typed attribute for ``value``.

    Raises ``TypeError`` for a type DynamoDB cannot hold (float, arbitrary objects) and
    ``ValueError`` for a value it cannot hold (empty or mixed set, non-finite Decimal,
    non-string map key).
    """
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if _is_number(value):
        return {"N": _number_text(value, _path)}
    if isinstance(value, float):
        raise TypeError(f"{_path}: float is not supported, use Decimal (got {_show(value)})")
    if isinstance(value, bytes | bytearray | memoryview):
        return {"B": _b64(value)}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{_path}: map keys must be strings, got {_show(key)}")
            out[key] = serialize(item, _path=f"{_path}.{key}")
        return {"M": out}
    if isinstance(value, list | tuple):
        return {"L": [serialize(item, _path=f"{_path}[{n}]") for n, item in enumerate(value)]}
    if isinstance(value, set | frozenset):
        return _serialize_set(value, _path)
    raise TypeError(f"{_path}: cannot serialize {type(value).__name__} as a DynamoDB attribute")


def _serialize_set(value: set[Any] | frozenset[Any], path: str) -> dict[str, Any]:
    if not value:
        raise ValueError(f"{path}: DynamoDB sets cannot be empty")
    if all(isinstance(item, str) for item in value):
        return {"SS": sorted(value)}
    if all(_is_number(item) for item in value):
        return {"NS": [_number_text(item, path) for item in sorted(value)]}
    if all(isinstance(item, bytes | bytearray) for item in value):
        return {"BS": [_b64(item) for item in sorted(bytes(item) for item in value)]}
    raise ValueError(f"{path}: a set must hold only strings, only numbers or only bytes")


def _parse_number(payload: object, path: str) -> Decimal:
    if not isinstance(payload, str) or not _NUMBER.fullmatch(payload):
        raise ValueError(f"{path}: N payload must be a number in a string, got {_show(payload)}")
    return Decimal(payload)


def _parse_binary(payload: object, path: str) -> bytes:
    if not isinstance(payload, str):
        raise ValueError(f"{path}: B payload must be a base64 string, got {_show(payload)}")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{path}: B payload is not valid base64: {_show(payload)}") from exc


def _set_payload(payload: object, type_key: str, path: str) -> list[Any]:
    if not isinstance(payload, list) or not payload:
        raise ValueError(f"{path}: {type_key} payload must be a non-empty list: {_show(payload)}")
    return payload


def _unique(values: set[Any], payload: list[Any], type_key: str, path: str) -> set[Any]:
    """The set of a set payload; DynamoDB sets hold each value once ("1" and "1.0" are one)."""
    if len(values) != len(payload):
        raise ValueError(f"{path}: {type_key} payload holds a value twice: {_show(payload)}")
    return values


def deserialize(attr: Any, *, _path: str = "$") -> Any:
    """Return the Python value of a typed attribute; ``ValueError`` if it is not one."""
    if not isinstance(attr, dict):
        raise ValueError(f"{_path}: a typed attribute must be an object, got {_show(attr)}")
    if len(attr) != 1:
        raise ValueError(
            f"{_path}: a typed attribute must have exactly one type key, got {sorted(attr)!r}"
        )
    ((type_key, payload),) = attr.items()
    if type_key == "S":
        if not isinstance(payload, str):
            raise ValueError(f"{_path}: S payload must be a string, got {_show(payload)}")
        return payload
    if type_key == "N":
        return _parse_number(payload, _path)
    if type_key == "BOOL":
        if not isinstance(payload, bool):
            raise ValueError(f"{_path}: BOOL payload must be true or false, got {_show(payload)}")
        return payload
    if type_key == "NULL":
        if payload is not True:
            raise ValueError(f"{_path}: NULL payload must be true, got {_show(payload)}")
        return None
    if type_key == "M":
        if not isinstance(payload, dict):
            raise ValueError(f"{_path}: M payload must be an object, got {_show(payload)}")
        return {key: deserialize(item, _path=f"{_path}.{key}") for key, item in payload.items()}
    if type_key == "L":
        if not isinstance(payload, list):
            raise ValueError(f"{_path}: L payload must be a list, got {_show(payload)}")
        return [deserialize(item, _path=f"{_path}[{n}]") for n, item in enumerate(payload)]
    if type_key == "B":
        return _parse_binary(payload, _path)
    if type_key == "SS":
        items = _set_payload(payload, type_key, _path)
        if not all(isinstance(item, str) for item in items):
            raise ValueError(f"{_path}: SS payload must hold only strings, got {_show(payload)}")
        return _unique(set(items), items, type_key, _path)
    if type_key == "NS":
        items = _set_payload(payload, type_key, _path)
        return _unique({_parse_number(item, _path) for item in items}, items, type_key, _path)
    if type_key == "BS":
        items = _set_payload(payload, type_key, _path)
        return _unique({_parse_binary(item, _path) for item in items}, items, type_key, _path)
    raise ValueError(f"{_path}: unknown type key {type_key!r}")


def serialize_item(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the export line object ``{"Item": {name: typed attribute, ...}}``."""
    if not isinstance(item, Mapping):
        raise TypeError(f"an item must be a mapping, got {type(item).__name__}")
    return {"Item": serialize(item)["M"]}


def deserialize_item(obj: Any) -> dict[str, Any]:
    """Return the plain attributes of an export line object ``{"Item": {...}}``."""
    if not isinstance(obj, dict) or set(obj) != {"Item"}:
        raise ValueError(f"an export line must be an object with only the key 'Item': {_show(obj)}")
    return deserialize({"M": obj["Item"]}, _path="Item")
