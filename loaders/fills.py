"""S5 format: prescription fills (``*.parquet``) into rows of ``bronze.prescription_fills``.

Each row of the file lands as one JSON object ``{column: value}`` in ``record``, columns in the
file's order, ``line_number`` = the 1-based row number in the file. Values:

* strings as JSON strings; integers as numbers; booleans as ``true``/``false``; nulls as null;
* decimals as JSON numbers with their exact decimal text (``decimal128(12, 2)`` 12.3 -> ``12.30``);
* doubles (and floats) as JSON numbers, Python's shortest round-trip text (``30.0``, ``0.1``);
* dates as ``"YYYY-MM-DD"``, times as ``"HH:MM:SS[.fraction]"``, timestamps as ISO-8601 text
  (``"2025-01-02T03:04:05[.fraction]"``, with ``Z`` when the column has a time zone: the
  instant in UTC);
* binary values as base64 strings; lists and structs as arrays and objects (maps as arrays of
  ``[key, value]`` pairs), their members converted by the same rules; dictionary-encoded
  columns as their values.

A row JSON cannot hold as PostgreSQL's jsonb stores it (a NaN or infinite double, a string
with a NUL character) lands quarantined: ``record`` null and the row's text (``NaN``,
``\\u0000`` as written) in ``raw_line``, as an ADT line would. Whatever columns a file has
land: an added column (``pharmacy_id`` from 2025-07 on) needs no change here.

The file is read with pyarrow's ``ParquetFile.iter_batches`` (:data:`BATCH_ROWS` rows at a
time, one row group's column chunks at most in memory, page checksums verified where the
writer wrote them), never whole: memory does not grow with the file. A file pyarrow cannot
open or read (not Parquet, truncated, a corrupt footer or page) raises :class:`ParquetError`,
and the loader rolls back everything it copied from it; so does a value these rules cannot
express (a nanosecond timestamp inside a list or struct: pyarrow gives Python no such value),
the message naming the column.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:  # pyarrow is imported when a Parquet file is read, not with the loaders
    import pyarrow as pa

SOURCE = "prescription_fills"
TABLE = "prescription_fills"
RECORD_COLUMN = "record"
PREFIX = ""
SUFFIX = ".parquet"
BATCH_ROWS = 10_000
READ_BUFFER = 1024 * 1024  # bytes pyarrow reads from the file at a time within a column chunk

_quote = json.encoder.encode_basestring  # type: ignore[attr-defined]  # the C string encoder
_NULL = "null"


class ParquetError(ValueError):
    """The file cannot be read as Parquet."""


def parse(stream: BinaryIO) -> Iterator[tuple[int, bytes | None, str]]:
    """``(row number, record JSON bytes or None when quarantined, record text)`` per row.

    ``stream`` must be seekable (Parquet is read from its footer). Raises ParquetError when
    pyarrow cannot open or read the file, whatever row it got to.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(
            stream,
            buffer_size=READ_BUFFER,
            pre_buffer=False,
            page_checksum_verification=True,
        )
        batches = parquet.iter_batches(batch_size=BATCH_ROWS, use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        raise ParquetError(f"not a readable Parquet file: {_reason(exc)}") from exc
    done = 0
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise ParquetError(
                f"not a readable Parquet file: after row {done:,}: {_reason(exc)}"
            ) from exc
        yield from _rows(batch, done)
        done += batch.num_rows


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _rows(batch: pa.RecordBatch, done: int) -> Iterator[tuple[int, bytes | None, str]]:
    import pyarrow as pa

    names = batch.schema.names
    template = "{" + ",".join(_quote(name).replace("%", "%%") + ":%s" for name in names) + "}"
    columns: list[list[str]] = []
    bad: set[int] = set()  # rows jsonb cannot store
    for name, column in zip(names, batch.columns, strict=True):
        try:
            texts = _texts(column, bad)
        except (pa.ArrowException, ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            raise ParquetError(
                f"column {name!r} (rows {done + 1:,}..{done + batch.num_rows:,}) cannot be"
                f" converted to JSON: {_reason(exc)}"
            ) from exc
        columns.append(texts)
    rows = zip(*columns, strict=True) if columns else iter([()] * batch.num_rows)
    for index, values in enumerate(rows):
        text = template % values
        if index in bad:
            yield done + index + 1, None, text
        else:
            yield done + index + 1, text.encode("utf-8"), text


def _texts(column: pa.Array, bad: set[int]) -> list[str]:
    """Each value of a column as JSON text; adds to ``bad`` the rows jsonb cannot store."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as types

    kind = column.type
    if types.is_dictionary(kind):
        return _texts(column.dictionary_decode(), bad)
    if types.is_null(kind):
        return [_NULL] * len(column)
    if types.is_string(kind) or types.is_large_string(kind) or types.is_string_view(kind):
        values = column.to_pylist()
        if pc.any(pc.match_substring(column, "\x00")).as_py():
            bad.update(i for i, value in enumerate(values) if value and "\x00" in value)
        return [_NULL if value is None else _quote(value) for value in values]
    if types.is_boolean(kind) or types.is_integer(kind):
        strings = pc.cast(column, pa.string()).to_pylist()
        return [_NULL if value is None else value for value in strings]
    if types.is_floating(kind):
        texts = []
        for index, value in enumerate(column.to_pylist()):
            if value is None:
                texts.append(_NULL)
            elif math.isfinite(value):
                texts.append(repr(float(value)))
            else:
                bad.add(index)
                texts.append(json.dumps(value))  # NaN, Infinity: as JSON-ish text in raw_line
        return texts
    if types.is_decimal(kind):
        return [
            _NULL if value is None else _decimal(value)
            for value in pc.cast(column, pa.string()).to_pylist()
        ]
    if types.is_timestamp(kind):
        if kind.tz is not None:
            column = column.cast(pa.timestamp(kind.unit, tz="UTC"))
        strings = pc.cast(column, pa.string()).to_pylist()
        return [_NULL if value is None else f'"{value.replace(" ", "T", 1)}"' for value in strings]
    if types.is_date(kind) or types.is_time(kind):
        strings = pc.cast(column, pa.string()).to_pylist()
        return [_NULL if value is None else f'"{value}"' for value in strings]
    texts = []
    for index, value in enumerate(column.to_pylist()):
        text, storable = _value(value)
        texts.append(text)
        if not storable:
            bad.add(index)
    return texts


def _decimal(text: str) -> str:
    """Arrow's decimal text, in plain notation when Arrow wrote an exponent (``0E-10``)."""
    return format(Decimal(text), "f") if "E" in text else text


def _value(value: Any) -> tuple[str, bool]:
    """A nested or uncommon value as JSON text, and whether jsonb can store it."""
    if value is None:
        return _NULL, True
    if value is True or value is False:
        return ("true" if value else "false"), True
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, float):
        return (repr(value), True) if math.isfinite(value) else (json.dumps(value), False)
    if isinstance(value, Decimal):
        return (format(value, "f"), True) if value.is_finite() else (str(value), False)
    if isinstance(value, str):
        return _quote(value), "\x00" not in value
    if isinstance(value, bytes):
        return _quote(base64.b64encode(value).decode("ascii")), True
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
            return _quote(value.replace(tzinfo=None).isoformat() + "Z"), True
        return _quote(value.isoformat()), True
    if isinstance(value, date | time):
        return _quote(value.isoformat()), True
    if isinstance(value, timedelta):
        return _quote(str(value)), True
    if isinstance(value, dict):
        parts, storable = [], True
        for key, member in value.items():
            text, ok = _value(member)
            parts.append(f"{_quote(str(key))}:{text}")
            storable = storable and ok and "\x00" not in str(key)
        return "{" + ",".join(parts) + "}", storable
    if isinstance(value, list | tuple):
        texts = [_value(member) for member in value]
        return "[" + ",".join(text for text, _ in texts) + "]", all(ok for _, ok in texts)
    raise TypeError(f"unsupported value {type(value).__name__}")
