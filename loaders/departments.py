"""S3 format: daily department CSV extracts into rows of ``bronze.department_extracts``.

The first line is the header; every later record lands as ``{header name: field text}`` exactly
as the csv module reads it (quotes removed, nothing trimmed or typed), so added, removed or
reordered columns need no change here. A record's line number is the physical line where it
starts (the header is line 1); empty lines (nothing but spaces or tabs) are skipped. A record
whose field count differs from the header's, that ends inside a quoted field (a quote never
closed: the csv module would read the rest of the file as that field), or whose text
PostgreSQL cannot store (bytes that are not UTF-8, a NUL character), lands quarantined:
``record`` null and its text in ``raw_line`` (undecodable bytes and NUL shown as U+FFFD). A
header repeated name keeps the last field, as jsonb would. A UTF-8 byte order mark before the
header is dropped.

:func:`parse` is the one CSV reader: the claims feed (``loaders.claims``) reads its files with
it too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import BinaryIO

SOURCE = "department_extracts"
TABLE = "department_extracts"
RECORD_COLUMN = "record"
SUFFIX = ".csv"


def _unstorable(text: str) -> bool:
    """True when the text holds an undecodable byte (a surrogate escape) or a NUL."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _ends_in_quotes(text: str) -> bool:
    """True when a record's text ends inside a quoted field, read as the csv module's default
    dialect reads it (only the last record of a file can: the reader ends nowhere else)."""
    if '"' not in text:
        return False
    state = "start"  # of a field; "field" (unquoted), "quoted", "quote" (a quote in quotes)
    for char in text:
        if state == "quoted":
            if char == '"':
                state = "quote"
        elif char == '"' and state in ("start", "quote"):
            state = "quoted"  # a quoted field opens, or a doubled quote goes on
        elif char in ",\r\n":
            state = "start"
        else:
            state = "field"
    return state == "quoted"


def _strip_terminator(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\n", "\r")):
        return text[:-1]
    return text


def parse(stream: BinaryIO) -> Iterator[tuple[int, bytes | None, str]]:
    """``(line_number, record JSON bytes or None when quarantined, record text)`` per record.

    Raises ValueError when the header itself is unusable or the csv module gives up.
    """
    # utf-8-sig drops a byte order mark before the csv module sees it (it would make a quoted
    # first name '"name"', quotes kept)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in text:
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), strict=False)
    lines_before = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        lines_before = len(consumed)
        consumed.clear()
        if any(_unstorable(name) for name in header):
            raise ValueError("the header line holds bytes that are not UTF-8, or a NUL")
        for row in reader:
            number = lines_before + 1
            lines_before += len(consumed)
            raw = _strip_terminator("".join(consumed))
            consumed.clear()
            if not raw.strip(" \t"):  # judged on the line: '""' is a record of one empty field
                continue
            if (
                len(row) != len(header)
                or any(_unstorable(field) for field in row)
                or _ends_in_quotes(raw)
            ):
                yield number, None, raw
                continue
            record = json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False)
            yield number, record.encode("utf-8"), raw
    except csv.Error as exc:
        raise ValueError(f"line {lines_before + 1}: {exc}") from exc
