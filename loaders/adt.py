"""S2 format: ADT event files (JSON lines) into rows of ``bronze.adt_events``.

One row per non-empty line (a line of only spaces, tabs or CR is empty and skipped; line
numbers stay physical, 1-based). A line that is a JSON object lands as it was received in
``event``. Any other line lands quarantined, with ``event`` null and the line in ``raw_line``:
not JSON, JSON that is not an object, JSON that PostgreSQL's jsonb refuses (a ``\\u0000``
escape, an unpaired surrogate escape, ``NaN``), or bytes that are not UTF-8 (``raw_line`` then
holds the line decoded with U+FFFD for each undecodable byte). A UTF-8 byte order mark at the
start of the file is dropped. New or missing attributes need no change here: the whole object
lands.

The checks here mirror jsonb's input rules; the few lines this module accepts and PostgreSQL
still refuses (a number beyond numeric's range, nesting deeper than the server's stack allows)
are quarantined by the loader when COPY reports them (see ``loaders.feeds``).

:func:`parse` is the one JSON-lines reader: the EHR feed (``loaders.ehr``) reads its extracts
with it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

SOURCE = "adt_events"
TABLE = "adt_events"
RECORD_COLUMN = "event"
SUFFIX = ".jsonl"

_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r"


class _Refused(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _storable(value: Any) -> bool:
    """False when a parsed value holds a string jsonb cannot store (NUL, lone surrogate)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def is_json_object(text: str, has_escape: bool = True) -> bool:
    """True when ``text`` is one JSON object that jsonb accepts, as far as Python can tell.

    ``has_escape`` False (the line has no ``\\u``) skips the walk for NUL and surrogates. What
    Python cannot judge (nesting too deep, an integer too long) counts as an object when it
    starts with ``{``: PostgreSQL then decides.
    """
    try:
        value = _DECODER.decode(text)
    except (json.JSONDecodeError, _Refused):
        return False
    except (RecursionError, ValueError):  # too deep, or an integer too long for Python
        return text.lstrip(" \t\r\n").startswith("{")
    if not isinstance(value, dict):
        return False
    return not has_escape or _storable(value)


def parse(stream: BinaryIO) -> Iterator[tuple[int, bytes | None, str]]:
    """``(line_number, event bytes or None when quarantined, line text)`` per non-empty line.

    The line text has no line terminator (LF, or CR LF); for an undecodable line it is decoded
    with ``errors='replace'``.
    """
    for number, line in enumerate(stream, 1):
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        body = line
        if body.endswith(b"\n"):  # the terminator: LF, or CR LF
            body = body[:-2] if body.endswith(b"\r\n") else body[:-1]
        if not body.strip(_BLANK):
            continue
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None, body.decode("utf-8", "replace")
            continue
        if is_json_object(text, b"\\u" in body):
            yield number, body, text
        else:
            yield number, None, text
