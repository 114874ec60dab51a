"""The clinical feeds (issue 4): EHR documents (``ehr_*.jsonl``), claims (``claims_*.csv``) and
prescription fills (``*.parquet``) into bronze, on the feed machinery of ``loaders.feeds``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders import cli, feeds, fills, watch
from loaders.db import connect
from loaders.generator.claims import FILLS_SCHEMA

pytestmark = pytest.mark.usefixtures("empty_bronze")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLAIMS_HEADER = (
    "claim_id,claim_version,patient_id,provider_id,claim_type,admit_date,discharge_date,"
    "service_date,primary_dx,procedure_code,billed_amount,allowed_amount,paid_amount,status"
)


def document(number: int, **attributes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": f"MRN{number:08d}",
        "name": {"first": "Emma", "last": "Example"},
        "date_of_birth": "1980-04-02",
        "gender": "F",
        "ssn": "912-34-5678",
        "phone": "312-555-0142",
        "email": "emma.example@example.com",
        "address": {"line": "1 Test Way", "city": "Chicago", "state": "IL", "zip": "60611"},
        "updated_at": "2025-03-04T15:20:00Z",
        "visits": [
            {
                "visit_id": f"V{number:08d}",
                "visit_date": "2025-03-04",
                "visit_type": "outpatient",
                "provider_id": "1234567893",
                "diagnoses": [{"code": "E11.9", "description": "T2DM", "is_primary": True}],
                "treatments": [],
                "provider_notes": [],
            }
        ],
    }
    body.update(attributes)
    return body


def fill(number: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "rx_id": f"RX{number:08d}",
        "patient_id": f"MRN{number % 97:08d}",
        "prescriber_id": "1234567893",
        "ndc": "12345-6789-01",
        "drug_name": "metformin",
        "fill_date": date(2025, 1, 1 + number % 28),
        "days_supply": 30 if number % 3 else 90,
        "quantity": 60.0 if number % 2 else 0.1,
        "cost": Decimal(f"{number % 1000}.{number % 7}0"),
    }
    row.update(values)
    return row


def write_parquet(
    path: Path,
    rows: list[dict[str, Any]],
    schema: pa.Schema = FILLS_SCHEMA,
    **options: Any,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options.setdefault("row_group_size", 5000)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, **options)
    return path


def write_fills(path: Path, count: int, start: int = 0, **options: Any) -> Path:
    """A fills file of ``count`` rows written a row group at a time (bounded memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, FILLS_SCHEMA, **options) as writer:
        for first in range(start, start + count, 5000):
            rows = [fill(n) for n in range(first, min(first + 5000, start + count))]
            writer.write_table(pa.Table.from_pylist(rows, schema=FILLS_SCHEMA))
    return path


def expected_record(row: dict[str, Any]) -> dict[str, Any]:
    """A fill as its landed JSON reads back (json with decimals): dates ISO, numbers exact."""
    converted: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, date):
            converted[key] = value.isoformat()
        elif isinstance(value, float):
            converted[key] = Decimal(repr(value))
        else:
            converted[key] = value
    return converted


def query(text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connect() as conn:
        return conn.execute(text, params).fetchall()


def records(table: str, column: str = "record") -> list[tuple[str, int, Any, str | None]]:
    """(source_file, line, record parsed with decimals, raw_line) in file and line order."""
    rows = query(
        f"select source_file, line_number, {column}::text, raw_line from bronze.{table}"
        " order by source_file, line_number"
    )
    return [
        (name, line, None if text is None else json.loads(text, parse_float=Decimal), raw)
        for name, line, text, raw in rows
    ]


def audit_rows() -> list[tuple[Any, ...]]:
    return query(
        "select source, data_file, status, loaded_items, content_md5, error"
        " from bronze.load_audit order by audit_id"
    )


# --- each source lands verbatim ---------------------------------------------------------------


def test_each_clinical_source_lands_verbatim_in_its_table(tmp_path: Path) -> None:
    ehr = tmp_path / "ehr" / "ehr_extract_2025-01-01.jsonl"
    ehr.parent.mkdir(parents=True)
    first, second = document(1), document(2, gender=None, visits=[])
    ehr.write_text(json.dumps(first) + "\nnot json\n\n" + json.dumps(second) + "\n")
    claims = tmp_path / "claims" / "claims_2025-01.csv"
    claims.parent.mkdir(parents=True)
    claims.write_text(
        f"{CLAIMS_HEADER}\n"
        "C000000001,1,MRN00000001,1234567893,inpatient,2025-01-02,2025-01-05,2025-01-02,"
        "E11.9,99223,1234.50,1000.00,900.00,paid\n"
        'C000000002,1,MRN00000002,1234567893,professional,,,2025-01-03,"I10",99213,'
        "150.00,100.00,0.00, Denied\n"
        "C000000003,1,too,few\n"
    )
    rows = [fill(n) for n in range(12_000)]
    fills_file = write_parquet(tmp_path / "fills" / "fills_2025-01.parquet", rows)

    results = feeds.load(tmp_path)

    assert [(r.source, r.file, r.status, r.rows, r.quarantined) for r in results] == [
        ("claims", "claims/claims_2025-01.csv", "loaded", 3, 1),
        ("ehr_documents", "ehr/ehr_extract_2025-01-01.jsonl", "loaded", 3, 1),
        ("prescription_fills", "fills/fills_2025-01.parquet", "loaded", 12_000, 0),
    ]
    assert records("ehr_documents", "document") == [
        ("ehr/ehr_extract_2025-01-01.jsonl", 1, first, None),
        ("ehr/ehr_extract_2025-01-01.jsonl", 2, None, "not json"),
        ("ehr/ehr_extract_2025-01-01.jsonl", 4, second, None),
    ]
    landed_claims = records("claims")
    assert [(line, raw) for _, line, _, raw in landed_claims] == [
        (2, None),
        (3, None),
        (4, "C000000003,1,too,few"),
    ]
    fields = (
        "C000000002,1,MRN00000002,1234567893,professional,,,2025-01-03,I10,99213,"
        "150.00,100.00,0.00, Denied"
    )
    assert landed_claims[1][2] == dict(
        zip(CLAIMS_HEADER.split(","), fields.split(","), strict=True)
    )
    landed = records("prescription_fills")
    assert [line for _, line, _, _ in landed] == list(range(1, 12_001))
    assert [record for _, _, record, _ in landed] == [expected_record(row) for row in rows]
    # exact decimal text and types: 12.30 stays 12.30, a double stays a JSON number
    assert query(
        "select record->>'cost', jsonb_typeof(record->'cost'), record->>'quantity',"
        " jsonb_typeof(record->'days_supply'), record->>'fill_date'"
        " from bronze.prescription_fills where line_number = 8"
    ) == [("7.00", "number", "60.0", "number", "2025-01-08")]
    [(md5, load_ids)] = query(
        "select min(file_md5), count(distinct load_id) from bronze.prescription_fills"
    )
    assert md5 == hashlib.md5(fills_file.read_bytes()).hexdigest() and load_ids == 1
    assert [(row[0], row[1], row[2], row[3]) for row in audit_rows()] == [
        ("claims", "claims/claims_2025-01.csv", "loaded", 3),
        ("ehr_documents", "ehr/ehr_extract_2025-01-01.jsonl", "loaded", 3),
        ("prescription_fills", "fills/fills_2025-01.parquet", "loaded", 12_000),
    ]


def test_every_loader_run_creates_every_source_table(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"event_id": "E1"}\n')
    feeds.load(tmp_path)
    for table, record in (
        ("ehr_documents", "document"),
        ("claims", "record"),
        ("prescription_fills", "record"),
    ):
        columns = query(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'bronze' and table_name = %s order by ordinal_position",
            (table,),
        )
        assert columns == [
            ("load_id", "uuid"),
            ("source_file", "text"),
            ("file_md5", "text"),
            ("line_number", "integer"),
            (record, "jsonb"),
            ("raw_line", "text"),
            ("loaded_at", "timestamp with time zone"),
        ]
        assert query(f"select count(*) from bronze.{table}") == [(0,)]


def test_names_route_to_their_feed_case_insensitively(tmp_path: Path) -> None:
    names = {
        "EHR_extract_2025-01-01.JSONL": "ehr_documents",
        "ehr_x.jsonl": "ehr_documents",
        "adt_20251201T000000Z.jsonl": "adt_events",
        "my_ehr_x.jsonl": "adt_events",
        "Claims_2025-01.CSV": "claims",
        "departments_H001_2025-12-01.csv": "department_extracts",
        "claims.csv": "department_extracts",  # no underscore: not the claims pattern
        "fills_2025-01.parquet": "prescription_fills",
        "anything.PARQUET": "prescription_fills",
    }
    for name, source in names.items():
        found = feeds.source_of(name)
        assert found is not None and found.name == source, name
    assert feeds.source_of("fills.parquet.tmp") is None
    assert feeds.source_of(".fills.parquet") is None
    # a feed outside the given ones is not taken for another: an EHR file is no ADT file
    assert feeds.source_of("ehr_x.jsonl", feeds.REALTIME_SOURCES) is None
    assert feeds.source_of("adt_x.jsonl", feeds.REALTIME_SOURCES) is feeds.ADT


def test_reloading_skips_every_clinical_file(tmp_path: Path) -> None:
    (tmp_path / "ehr_a.jsonl").write_text(json.dumps(document(1)) + "\n")
    (tmp_path / "claims_a.csv").write_text(f"{CLAIMS_HEADER}\n" + ",".join(["x"] * 14) + "\n")
    write_fills(tmp_path / "fills_a.parquet", 7)
    assert [r.status for r in feeds.load(tmp_path)] == ["loaded"] * 3

    again = feeds.load(tmp_path)

    assert [(r.status, r.rows) for r in again] == [("skipped", 0)] * 3
    assert all("content already loaded" in r.message for r in again)
    assert query("select count(*) from bronze.prescription_fills") == [(7,)]
    # the same bytes under another name are the same content
    (tmp_path / "fills_a.parquet").rename(tmp_path / "fills_b.parquet")
    [renamed] = [r for r in feeds.load(tmp_path) if r.source == "prescription_fills"]
    assert renamed.status == "skipped" and "from fills_a.parquet" in renamed.message


# --- Parquet ----------------------------------------------------------------------------------


def _corrupt_last_row_group(path: Path) -> None:
    """Flip a byte inside the last row group's last column chunk (pages are checksummed)."""
    metadata = pq.ParquetFile(path).metadata
    chunk = metadata.row_group(metadata.num_row_groups - 1).column(0)
    data = bytearray(path.read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_parquet_file_pyarrow_cannot_read_fails_naming_it_and_lands_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_fills(tmp_path / "good" / "fills_2025-01.parquet", 100)
    assert [r.status for r in feeds.load(tmp_path / "good")] == ["loaded"]
    before = query("select count(*), md5(string_agg(t::text, '' order by t::text))"
                   " from bronze.prescription_fills as t")

    bad = tmp_path / "bad"
    truncated = write_fills(bad / "fills_2025-02.parquet", 50, start=1000)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    (bad / "fills_2025-03.parquet").write_text("rx_id,patient_id\nRX1,MRN1\n")
    (bad / "fills_2025-04.parquet").write_bytes(b"")
    corrupt = write_fills(
        bad / "fills_2025-05.parquet",
        15_000,
        start=2000,
        write_page_checksum=True,
        compression="none",
        use_dictionary=False,
    )
    _corrupt_last_row_group(corrupt)  # the first 10,000-row batch is copied before the error
    write_fills(bad / "fills_2025-06.parquet", 5, start=9000)  # the next file goes on

    status = cli.main(["load", str(bad)])

    output = " ".join(capsys.readouterr().out.split())
    assert status == 1
    results = [row for row in audit_rows() if row[1] != "fills_2025-01.parquet"]
    assert [(row[1], row[2], row[3]) for row in results] == [
        ("fills_2025-02.parquet", "failed", 0),
        ("fills_2025-03.parquet", "failed", 0),
        ("fills_2025-04.parquet", "failed", 0),
        ("fills_2025-05.parquet", "failed", 0),
        ("fills_2025-06.parquet", "loaded", 5),
    ]
    for name, reason in (
        ("fills_2025-02.parquet", "Parquet magic bytes not found in footer"),
        ("fills_2025-03.parquet", "Parquet magic bytes not found in footer"),
        ("fills_2025-04.parquet", "Parquet file size is 0 bytes"),
        ("fills_2025-05.parquet", "after row 10,000"),
    ):
        [error] = [row[5] for row in results if row[1] == name]
        assert error.startswith(f"{name}: not a readable Parquet file") and reason in error
        assert f"{name} failed: rolled back: {name}: not a readable Parquet file" in output
    assert "Traceback" not in output
    # nothing of the failed files landed; what was loaded before is untouched
    assert query(
        "select source_file, count(*) from bronze.prescription_fills group by 1 order by 1"
    ) == [("fills_2025-01.parquet", 100), ("fills_2025-06.parquet", 5)]
    assert query("select count(*), md5(string_agg(t::text, '' order by t::text))"
                 " from bronze.prescription_fills as t where source_file = %s",
                 ("fills_2025-01.parquet",)) == before


def test_parquet_with_an_added_column_lands_both_shapes(tmp_path: Path) -> None:
    write_parquet(tmp_path / "fills_2025-06.parquet", [fill(1), fill(2)])
    evolved = FILLS_SCHEMA.append(pa.field("pharmacy_id", pa.string()))
    write_parquet(
        tmp_path / "fills_2025-07.parquet",
        [fill(3, pharmacy_id="PH0001"), fill(4, pharmacy_id=None)],
        schema=evolved,
    )

    results = feeds.load(tmp_path)

    assert [(r.status, r.rows) for r in results] == [("loaded", 2), ("loaded", 2)]
    landed = records("prescription_fills")
    assert [record for _, _, record, _ in landed] == [
        expected_record(fill(1)),
        expected_record(fill(2)),
        expected_record(fill(3, pharmacy_id="PH0001")),
        expected_record(fill(4, pharmacy_id=None)),
    ]
    assert "pharmacy_id" not in landed[0][2] and landed[3][2]["pharmacy_id"] is None


def test_an_empty_parquet_file_loads_no_rows(tmp_path: Path) -> None:
    write_parquet(tmp_path / "fills_2025-01.parquet", [])
    [result] = feeds.load(tmp_path)
    assert (result.status, result.rows) == ("loaded", 0)
    assert audit_rows()[0][2:4] == ("loaded", 0)


def test_parquet_values_land_as_specified_json(tmp_path: Path) -> None:
    schema = pa.schema(
        [
            ("s", pa.string()),
            ("i64", pa.int64()),
            ("u8", pa.uint8()),
            ("flag", pa.bool_()),
            ("f32", pa.float32()),
            ("f64", pa.float64()),
            ("d0", pa.decimal128(5, 0)),
            ("d4", pa.decimal128(20, 4)),
            ("big", pa.decimal256(40, 10)),
            ("day", pa.date32()),
            ("at_utc", pa.timestamp("ns", tz="UTC")),
            ("at_chicago", pa.timestamp("ms", tz="America/Chicago")),
            ("at_naive", pa.timestamp("us")),
            ("clock", pa.time64("us")),
            ("blob", pa.binary()),
            ("tags", pa.list_(pa.string())),
            ("dose", pa.struct([("mg", pa.decimal128(6, 1)), ("on", pa.date32())])),
            ("nothing", pa.null()),
            ("per cent %s", pa.string()),
        ]
    )
    row = {
        "s": 'quote " backslash \\ tab \t newline \n é 😀',
        "i64": -(2**63),
        "u8": 255,
        "flag": True,
        "f32": 0.1,
        "f64": 1e-7,
        "d0": Decimal("12345"),
        "d4": Decimal("-0.0500"),
        "big": Decimal("0E-10"),
        "day": date(2025, 2, 28),
        "at_utc": datetime(2025, 3, 4, 15, 20, 0, 123456, tzinfo=UTC),
        "at_chicago": datetime(2025, 7, 1, 12, 0, tzinfo=UTC),
        "at_naive": datetime(2025, 1, 1, 0, 0, 1),
        "clock": time(23, 59, 58, 500000),
        "blob": b"\x00\xffab",
        "tags": ["a", None],
        "dose": {"mg": Decimal("2.5"), "on": date(2025, 1, 2)},
        "nothing": None,
        "per cent %s": "%d",
    }
    nulls = {name: None for name in schema.names}
    write_parquet(tmp_path / "types.parquet", [row, nulls], schema=schema)

    [result] = feeds.load(tmp_path)

    assert (result.status, result.rows, result.quarantined) == ("loaded", 2, 0)
    [(first,), (second,)] = query(
        "select record::text from bronze.prescription_fills order by line_number"
    )
    assert json.loads(first, parse_float=Decimal) == {
        "s": row["s"],
        "i64": -(2**63),
        "u8": 255,
        "flag": True,
        "f32": Decimal(repr(float(pa.scalar(0.1, pa.float32()).as_py()))),
        "f64": Decimal("1e-07"),
        "d0": 12345,
        "d4": Decimal("-0.0500"),
        "big": Decimal("0E-10"),
        "day": "2025-02-28",
        "at_utc": "2025-03-04T15:20:00.123456000Z",
        "at_chicago": "2025-07-01T12:00:00.000Z",
        "at_naive": "2025-01-01T00:00:01.000000",
        "clock": "23:59:58.500000",
        "blob": "AP9hYg==",
        "tags": ["a", None],
        "dose": {"mg": Decimal("2.5"), "on": "2025-01-02"},
        "nothing": None,
        "per cent %s": "%d",
    }
    # exact decimal text (jsonb keeps a numeric's scale)
    assert query(
        "select record->>'d4', record->>'big', record->'dose'->>'mg' from bronze.prescription_fills"
        " where line_number = 1"
    ) == [("-0.0500", "0.0000000000", "2.5")]
    assert json.loads(second) == nulls


def test_a_value_without_a_json_form_fails_the_file_naming_the_column(tmp_path: Path) -> None:
    nested = pa.array([[1]], pa.list_(pa.timestamp("ns")))
    pq.write_table(pa.table({"ok": [1], "when": nested}), tmp_path / "odd.parquet")

    [result] = feeds.load(tmp_path)

    assert result.status == "failed"
    assert "odd.parquet: column 'when' (rows 1..1) cannot be converted to JSON" in result.message
    assert query("select count(*) from bronze.prescription_fills") == [(0,)]


def test_rows_jsonb_cannot_hold_land_quarantined(tmp_path: Path) -> None:
    rows = [
        fill(1),
        fill(2, quantity=float("nan")),
        fill(3, drug_name="met\x00formin"),
        fill(4, quantity=float("inf")),
        fill(5),
    ]
    write_parquet(tmp_path / "fills_2025-01.parquet", rows)

    [result] = feeds.load(tmp_path)

    assert (result.status, result.rows, result.quarantined) == ("loaded", 5, 3)
    landed = records("prescription_fills")
    assert [(line, record is None) for _, line, record, _ in landed] == [
        (1, False), (2, True), (3, True), (4, True), (5, False)
    ]
    assert '"quantity":NaN' in landed[1][3]
    assert '"drug_name":"met\\u0000formin"' in landed[2][3]  # jsonb refuses \u0000
    assert '"quantity":Infinity' in landed[3][3]


def test_a_parquet_file_changed_while_loading_rolls_back(tmp_path: Path) -> None:
    path = write_fills(tmp_path / "fills_2025-01.parquet", 20)
    parse = fills.parse

    def parse_then_change(stream: Any) -> Any:
        yield from parse(stream)
        with path.open("r+b") as handle:  # same file, same size, one byte different
            handle.seek(4)
            byte = handle.read(1)
            handle.seek(4)
            handle.write(bytes([byte[0] ^ 0xFF]))

    source = feeds.FeedSource(**{**feeds.FILLS.__dict__, "parse": parse_then_change})
    [result] = feeds.load_files([feeds.FeedFile(source, path, path.name)])

    assert result.status == "failed" and "changed during the load" in result.message
    assert query("select count(*) from bronze.prescription_fills") == [(0,)]


# --- memory -----------------------------------------------------------------------------------

_MEASURE = """
import resource, sys
from loaders import cli
status = cli.main(["load", sys.argv[1]])
print("MAXRSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, status)
"""


def _peak_kib(path: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    [line] = [line for line in done.stdout.splitlines() if line.startswith("MAXRSS")]
    _, kib, status = line.split()
    assert status == "0", done.stdout + done.stderr
    return int(kib)


def test_memory_does_not_grow_with_the_parquet_file(tmp_path: Path) -> None:
    """Peak RSS of ``loaders load`` on a 20,000-row and a 200,000-row file: the ten times larger
    file (about 100 MB as Python rows, 15 MB as an Arrow table) costs less than 12 MB more."""
    small = write_fills(tmp_path / "small" / "fills_2025-01.parquet", 20_000)
    large = write_fills(tmp_path / "large" / "fills_2025-02.parquet", 200_000, start=20_000)

    small_kib, large_kib = _peak_kib(small.parent), _peak_kib(large.parent)

    assert query("select count(*) from bronze.prescription_fills") == [(220_000,)]
    assert large_kib - small_kib < 12 * 1024, (small_kib, large_kib)


# --- the watcher ------------------------------------------------------------------------------


def test_the_watcher_leaves_clinical_extracts_to_the_batch_load(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "ehr_extract_2025-01-01.jsonl").write_text(json.dumps(document(1)) + "\n")
    (landing / "claims_2025-01.csv").write_text(f"{CLAIMS_HEADER}\n")
    write_fills(landing / "fills_2025-01.parquet", 3)
    (landing / "adt_20251201T000000Z.jsonl").write_text('{"event_id": "E1"}\n')
    watcher = watch.Watcher(
        landing, builder=lambda stop: watch.BuildResult(True, "Done. PASS=1"), min_files=10
    )

    watcher.poll()
    watcher.poll()

    assert watcher.pending == ["adt_20251201T000000Z.jsonl"]
    assert query("select count(*) from bronze.adt_events") == [(1,)]
    assert query("select count(*) from bronze.ehr_documents") == [(0,)]
    assert query("select count(*) from bronze.prescription_fills") == [(0,)]


def test_a_watcher_of_the_fills_feed_waits_for_the_parquet_footer(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    complete = write_fills(tmp_path / "fills_2025-01.parquet", 10)
    data = complete.read_bytes()
    target = landing / "fills_2025-01.parquet"
    target.write_bytes(data[:-4])  # all but the footer's closing magic: stable, but incomplete
    watcher = watch.Watcher(
        landing,
        builder=lambda stop: watch.BuildResult(True, "Done. PASS=1"),
        sources=[feeds.FILLS],
        stop=threading.Event(),
    )

    watcher.poll()
    watcher.poll()
    assert watcher.pending == [] and watcher.summary.files_failed == 0

    target.write_bytes(data)
    watcher.poll()
    watcher.poll()
    assert watcher.pending == ["fills_2025-01.parquet"]
    assert query("select count(*) from bronze.prescription_fills") == [(10,)]


def test_cli_load_prints_the_clinical_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ehr_a.jsonl").write_text(json.dumps(document(1)) + "\n")
    write_fills(tmp_path / "fills_a.parquet", 3)

    assert cli.main(["load", str(tmp_path)]) == 0

    output = capsys.readouterr().out
    assert "ehr_documents" in output and "prescription_fills" in output
    assert "claims" not in output.replace("Feed files", "")


def test_cli_load_of_a_folder_without_feed_files_names_every_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("nothing to load")
    assert cli.main(["load", str(tmp_path)]) == 1
    output = " ".join(capsys.readouterr().out.split())
    assert "no feed file (*.jsonl, *.csv, ehr_*.jsonl, claims_*.csv, *.parquet)" in output


def test_a_killed_parquet_load_leaves_nothing(tmp_path: Path) -> None:
    """A loader that dies mid-file (here: its data connection is closed under it) rolls the
    file back; the audit says failed and the next run loads the file."""
    path = write_fills(tmp_path / "fills_2025-01.parquet", 12_000)
    parse = fills.parse
    calls = {"n": 0}

    def parse_and_break(stream: Any) -> Any:
        for number, (row) in enumerate(parse(stream), 1):
            if number == 10_500 and calls["n"] == 0:
                calls["n"] += 1
                raise psycopg.OperationalError("connection lost")
            yield row

    source = feeds.FeedSource(**{**feeds.FILLS.__dict__, "parse": parse_and_break})
    [result] = feeds.load_files([feeds.FeedFile(source, path, path.name)])
    assert result.status == "failed"
    assert query("select count(*) from bronze.prescription_fills") == [(0,)]
    [again] = feeds.load(tmp_path)
    assert (again.status, again.rows) == ("loaded", 12_000)
