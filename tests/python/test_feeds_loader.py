"""The file-feed loader: ADT JSON lines and department CSV extracts into bronze."""

from __future__ import annotations

import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from export_files import write_export

from loaders import cli, feeds
from loaders.db import connect

pytestmark = pytest.mark.usefixtures("empty_bronze")

HEADER = (
    "hospital_id,hospital_name,city,state,department_id,department_name,bed_capacity,"
    "staff_count,updated_at"
)
ADT_DAY = "adt/2025-12-01"
DEPARTMENTS_DAY = "departments/2025-12-01"


def event(number: int, **attributes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": f"EV{number:06d}",
        "event_type": "ARRIVE",
        "event_ts": "2025-12-01T10:15:00Z",
        "encounter_id": f"EN{number:06d}",
        "patient_id": f"MRN{number:08d}",
        "patient": {"age": 54, "gender": "F"},
        "hospital_id": "H001",
        "department_id": "H001-ED",
    }
    body.update(attributes)
    return body


def write_jsonl(root: Path, name: str, lines: list[Any]) -> Path:
    """Lines: dicts become compact JSON, str is written verbatim (encoded), bytes as they are."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = b""
    for line in lines:
        if isinstance(line, bytes):
            raw += line + b"\n"
        elif isinstance(line, str):
            raw += line.encode() + b"\n"
        else:
            raw += json.dumps(line, separators=(",", ":")).encode() + b"\n"
    path.write_bytes(raw)
    return path


def department_row(department: str, capacity: int = 20, hospital: str = "H001") -> str:
    return (
        f"{hospital},Mercy General,Springfield,IL,{hospital}-{department},{department} ward,"
        f"{capacity},30,2025-11-01T00:00:00Z"
    )


def write_csv(root: Path, name: str, text: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def query(text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connect() as conn:
        return conn.execute(text, params).fetchall()


def adt_rows(source_file: str | None = None) -> list[tuple[Any, ...]]:
    where = "" if source_file is None else "where source_file = %s"
    params = () if source_file is None else (source_file,)
    return query(
        "select source_file, line_number, event, raw_line from bronze.adt_events "
        f"{where} order by source_file, line_number",
        params,
    )


def department_rows() -> list[tuple[Any, ...]]:
    return query(
        "select source_file, line_number, record, raw_line from bronze.department_extracts"
        " order by source_file, line_number"
    )


def audit_rows() -> list[dict[str, Any]]:
    with connect() as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("select * from bronze.load_audit order by audit_id")
        return cur.fetchall()


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --- the happy path ---------------------------------------------------------------------------


def test_lands_adt_and_department_files_with_load_metadata(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path, f"{ADT_DAY}/adt_20251201T001500Z.jsonl", [event(1), event(2)])
    second = write_jsonl(tmp_path, f"{ADT_DAY}/adt_20251201T003000Z.jsonl", [event(3)])
    extract = write_csv(
        tmp_path,
        f"{DEPARTMENTS_DAY}/departments_H001_2025-12-01.csv",
        f"{HEADER}\n{department_row('ED')}\n{department_row('ICU', 12)}\n",
    )
    (tmp_path / "notes.txt").write_text("not a feed file")

    results = feeds.load(tmp_path)

    assert [(r.file, r.status, r.rows, r.quarantined) for r in results] == [
        (f"{ADT_DAY}/adt_20251201T001500Z.jsonl", "loaded", 2, 0),
        (f"{ADT_DAY}/adt_20251201T003000Z.jsonl", "loaded", 1, 0),
        (f"{DEPARTMENTS_DAY}/departments_H001_2025-12-01.csv", "loaded", 2, 0),
    ]
    load_ids = {result.load_id for result in results}
    assert len(load_ids) == 1
    rows = query(
        "select load_id, source_file, file_md5, line_number, event, raw_line, loaded_at"
        " from bronze.adt_events order by source_file, line_number"
    )
    assert [(row[1], row[3]) for row in rows] == [
        (f"{ADT_DAY}/adt_20251201T001500Z.jsonl", 1),
        (f"{ADT_DAY}/adt_20251201T001500Z.jsonl", 2),
        (f"{ADT_DAY}/adt_20251201T003000Z.jsonl", 1),
    ]
    assert [row[4] for row in rows] == [event(1), event(2), event(3)]
    assert {row[0] for row in rows} == load_ids
    assert [row[2] for row in rows] == [md5_of(first)] * 2 + [md5_of(second)]
    assert all(row[5] is None and row[6] is not None for row in rows)
    # each file is its own transaction: the later file has the later load time
    assert rows[0][6] < rows[2][6]

    records = query(
        "select load_id, source_file, file_md5, line_number, record, raw_line"
        " from bronze.department_extracts order by line_number"
    )
    assert [(row[1], row[2], row[3], row[5]) for row in records] == [
        (f"{DEPARTMENTS_DAY}/departments_H001_2025-12-01.csv", md5_of(extract), 2, None),
        (f"{DEPARTMENTS_DAY}/departments_H001_2025-12-01.csv", md5_of(extract), 3, None),
    ]
    assert records[1][4] == {
        "hospital_id": "H001",
        "hospital_name": "Mercy General",
        "city": "Springfield",
        "state": "IL",
        "department_id": "H001-ICU",
        "department_name": "ICU ward",
        "bed_capacity": "12",
        "staff_count": "30",
        "updated_at": "2025-11-01T00:00:00Z",
    }
    assert {row[0] for row in records} == load_ids


def test_bronze_tables_match_the_spec_and_every_source_table_exists(tmp_path: Path) -> None:
    write_jsonl(tmp_path, "a.jsonl", [event(1)])
    feeds.load(tmp_path)

    expected_columns = [
        ("load_id", "uuid", "NO"),
        ("source_file", "text", "NO"),
        ("file_md5", "text", "NO"),
        ("line_number", "integer", "NO"),
        ("RECORD", "jsonb", "YES"),
        ("raw_line", "text", "YES"),
        ("loaded_at", "timestamp with time zone", "NO"),
    ]
    for table, record in (("adt_events", "event"), ("department_extracts", "record")):
        columns = query(
            "select column_name, data_type, is_nullable, column_default"
            " from information_schema.columns where table_schema = 'bronze'"
            " and table_name = %s order by ordinal_position",
            (table,),
        )
        wanted = [(record if c[0] == "RECORD" else c[0], c[1], c[2]) for c in expected_columns]
        assert [column[:3] for column in columns] == wanted
        assert columns[-1][3] == "now()"
        key = query(
            "select array_agg(attribute.attname order by array_position(index.indkey, "
            "attribute.attnum)) from pg_index as index inner join pg_attribute as attribute"
            " on attribute.attrelid = index.indrelid and attribute.attnum = any(index.indkey)"
            " where index.indrelid = %s::regclass and index.indisprimary",
            (f"bronze.{table}",),
        )
        assert key == [(["file_md5", "line_number"],)]
    tables = query("select tablename from pg_tables where schemaname = 'bronze'")
    assert {row[0] for row in tables} == {
        "adt_events",
        "department_extracts",
        "dynamo_treatments",
        "ehr_documents",
        "claims",
        "prescription_fills",
        "load_audit",
    }


def test_a_treatments_load_creates_the_feed_tables_too(tmp_path: Path) -> None:
    from loaders import treatments

    write_export(tmp_path, "01700000000000-1a2b3c4d", [{"treatment_id": {"S": "T1"}}], files=1)
    [result] = treatments.load(tmp_path)

    assert result.status == "loaded"
    assert query("select count(*) from bronze.adt_events") == [(0,)]
    assert query("select count(*) from bronze.department_extracts") == [(0,)]


def test_empty_lines_are_skipped_and_line_numbers_stay_physical(tmp_path: Path) -> None:
    write_jsonl(tmp_path, "a.jsonl", ["", event(1), "  \t", "\r", event(2)])
    text = f"{HEADER}\n\n{department_row('ED')}\n   \n{department_row('ICU')}\n"
    write_csv(tmp_path, "d.csv", text)

    results = feeds.load(tmp_path)

    assert [(r.rows, r.quarantined) for r in results] == [(2, 0), (2, 0)]
    assert [(row[1], row[2]["event_id"]) for row in adt_rows()] == [
        (2, "EV000001"),
        (5, "EV000002"),
    ]
    assert [(row[1], row[2]["department_id"]) for row in department_rows()] == [
        (3, "H001-ED"),
        (5, "H001-ICU"),
    ]


def test_awkward_json_round_trips_exactly(tmp_path: Path) -> None:
    awkward = [
        event(1, note='back\\slash \\n not a newline, \\\\N, "quoted" \\.'),
        event(2, note="tab\there, CR\rthere, LF\nthere"),
        event(3, note="unicode: é ü 東京 🙂 \u2028"),
        event(4, note="a literal \\u0000 is text, not NUL"),
    ]
    raw = [
        '{"event_id":\t"EV000005",\t"note": "tab around"}\r',  # JSON whitespace, CRLF line
        json.dumps(event(6, note="é\t\\"), ensure_ascii=True),  # \u escapes of plain text
    ]
    write_jsonl(tmp_path, "a.jsonl", awkward + raw)

    [result] = feeds.load(tmp_path)

    assert (result.status, result.rows, result.quarantined) == ("loaded", 6, 0)
    loaded = [row[2] for row in adt_rows()]
    assert loaded[:4] == awkward
    assert loaded[4] == {"event_id": "EV000005", "note": "tab around"}
    assert loaded[5] == event(6, note="é\t\\")
    assert query("select event ->> 'note' from bronze.adt_events where line_number = 2") == [
        ("tab\there, CR\rthere, LF\nthere",)
    ]


# --- quarantine -------------------------------------------------------------------------------


def test_lines_that_are_not_json_objects_land_quarantined(tmp_path: Path) -> None:
    lines: list[Any] = [
        event(1),
        '{"event_id": "EV2", "event_type"',  # cut short
        "[1, 2]",  # JSON, not an object
        '"just a string"',
        "null",
        '{"event_id": "EV6", "note": "nul \\u0000 escape"}',  # jsonb refuses \u0000
        '{"event_id": "EV7", "note": "\\ud800 lone surrogate"}',
        '{"event_id": "EV8", "ratio": NaN}',
        '{"event_id": "EV9", "big": 1e999999}',  # Python accepts it, PostgreSQL refuses it
        b'{"event_id": "EV10", "note": "caf\xe9"}',  # Latin-1, not UTF-8
        b'{"event_id": "EV11", "note": "raw \x00 NUL"}',
        event(12),
    ]
    write_jsonl(tmp_path, "a.jsonl", lines)

    [result] = feeds.load(tmp_path)

    assert (result.status, result.rows, result.quarantined) == ("loaded", 12, 10)
    rows = adt_rows()
    assert [row[1] for row in rows] == list(range(1, 13))
    assert rows[0][2] == event(1) and rows[0][3] is None
    assert rows[11][2] == event(12) and rows[11][3] is None
    quarantined = {row[1]: row[3] for row in rows if row[2] is None}
    assert quarantined == {
        2: '{"event_id": "EV2", "event_type"',
        3: "[1, 2]",
        4: '"just a string"',
        5: "null",
        6: '{"event_id": "EV6", "note": "nul \\u0000 escape"}',
        7: '{"event_id": "EV7", "note": "\\ud800 lone surrogate"}',
        8: '{"event_id": "EV8", "ratio": NaN}',
        9: '{"event_id": "EV9", "big": 1e999999}',
        10: '{"event_id": "EV10", "note": "caf\ufffd"}',  # undecodable byte as U+FFFD
        11: '{"event_id": "EV11", "note": "raw \ufffd NUL"}',  # NUL cannot be stored either
    }
    audit = [row for row in audit_rows() if row["status"] == "loaded"]
    assert [(row["expected_items"], row["loaded_items"]) for row in audit] == [(12, 12)]


def test_a_utf8_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    write_jsonl(tmp_path, "a.jsonl", [b"\xef\xbb\xbf" + json.dumps(event(1)).encode()])
    write_csv(tmp_path, "d.csv", "\ufeff" + f"{HEADER}\n{department_row('ED')}\n")

    feeds.load(tmp_path)

    assert [row[2] for row in adt_rows()] == [event(1)]
    assert department_rows()[0][2]["hospital_id"] == "H001"


def test_csv_records_with_a_wrong_field_count_land_quarantined(tmp_path: Path) -> None:
    text = (
        f"{HEADER}\r\n"
        f"{department_row('ED')}\r\n"
        "H001,Mercy General,Springfield\r\n"  # too few fields
        f"{department_row('ICU')},extra\r\n"  # too many
        'H001,"Mercy\nGeneral",Springfield,IL,H001-SUR,Surgery,20,30,2025-11-01T00:00:00Z\r\n'
        'H001,"unterminated,Springfield\r\n'  # an open quote swallows the rest of the file
        f"{department_row('CAR')}\r\n"
    )
    write_csv(tmp_path, "d.csv", text)

    [result] = feeds.load(tmp_path)

    assert (result.status, result.rows, result.quarantined) == ("loaded", 5, 3)
    rows = department_rows()
    assert [(row[1], row[2] is None) for row in rows] == [
        (2, False),
        (3, True),
        (4, True),
        (5, False),
        (7, True),
    ]
    assert rows[1][3] == "H001,Mercy General,Springfield"
    assert rows[2][3] == f"{department_row('ICU')},extra"
    assert rows[3][2]["hospital_name"] == "Mercy\nGeneral"  # a quoted newline is field text
    assert rows[4][3] == f'H001,"unterminated,Springfield\r\n{department_row("CAR")}'
    assert rows[0][3] is None and rows[3][3] is None


def test_csv_records_postgres_cannot_store_land_quarantined(tmp_path: Path) -> None:
    text = (
        f"{HEADER}\n".encode()
        + department_row("ED").replace("Mercy", "M\xe9rcy").encode("latin-1")
        + b"\n"
        + department_row("ICU").replace("Mercy", "Mer\x00cy").encode()
        + b"\n"
        + department_row("CAR").encode()
        + b"\n"
    )
    write_csv(tmp_path, "d.csv", text)

    [result] = feeds.load(tmp_path)

    assert (result.status, result.rows, result.quarantined) == ("loaded", 3, 2)
    rows = department_rows()
    assert [row[2] is None for row in rows] == [True, True, False]
    assert rows[0][3] == department_row("ED").replace("Mercy", "M\ufffdrcy")
    assert rows[1][3] == department_row("ICU").replace("Mercy", "Mer\ufffdcy")


def test_csv_header_evolution_lands_in_the_record_keys(tmp_path: Path) -> None:
    reordered = "department_id,hospital_id,bed_capacity,opened_on"
    write_csv(tmp_path, "d1.csv", f"{HEADER}\n{department_row('ED')}\n")
    write_csv(tmp_path, "d2.csv", f"{reordered}\nH001-ICU,H001,14,2020-01-01\n")

    feeds.load(tmp_path)

    rows = department_rows()
    assert list(rows[0][2]) != [] and set(rows[0][2]) == set(HEADER.split(","))
    assert rows[1][2] == {
        "department_id": "H001-ICU",
        "hospital_id": "H001",
        "bed_capacity": "14",
        "opened_on": "2020-01-01",
    }


# --- idempotency ------------------------------------------------------------------------------


def test_loading_twice_skips_every_file(tmp_path: Path) -> None:
    write_jsonl(tmp_path, "a.jsonl", [event(1), event(2)])
    write_csv(tmp_path, "d.csv", f"{HEADER}\n{department_row('ED')}\n")
    first = feeds.load(tmp_path)

    second = feeds.load(tmp_path)

    assert [r.status for r in first] == ["loaded", "loaded"]
    assert [(r.status, r.rows) for r in second] == [("skipped", 0), ("skipped", 0)]
    assert all(str(first[0].load_id) in r.message for r in second)
    assert len(adt_rows()) == 2 and len(department_rows()) == 1
    skipped = [row for row in audit_rows() if row["load_id"] == second[0].load_id]
    assert [(row["status"], row["loaded_items"], row["expected_items"]) for row in skipped] == [
        ("skipped", 0, 2),
        ("skipped", 0, 1),
    ]


def test_same_content_under_another_name_is_skipped(tmp_path: Path) -> None:
    original = write_jsonl(tmp_path / "one", "adt_20251201T001500Z.jsonl", [event(1)])
    feeds.load(tmp_path / "one")
    copy = tmp_path / "two" / "renamed.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(original.read_bytes())

    [result] = feeds.load(tmp_path / "two")

    assert result.status == "skipped"
    assert "from adt_20251201T001500Z.jsonl" in result.message
    assert len(adt_rows()) == 1


def test_same_content_twice_in_one_run_is_not_called_concurrent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = write_jsonl(tmp_path, "adt_20251201T001500Z.jsonl", [event(1)])
    (tmp_path / "adt_20251201T003000Z.jsonl").write_bytes(original.read_bytes())

    first, second = feeds.load(tmp_path)

    assert (first.status, second.status) == ("loaded", "skipped")
    assert second.message == (
        "content identical to adt_20251201T001500Z.jsonl, loaded earlier in this run; "
        "nothing added"
    )
    assert second.concurrent_load is None
    assert cli.main(["load", str(tmp_path)]) == 0
    assert "concurrent" not in capsys.readouterr().out
    assert len(adt_rows()) == 1


def test_changed_content_under_the_same_name_loads(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path, "a.jsonl", [event(1)])
    [first] = feeds.load(tmp_path)
    write_jsonl(tmp_path, "a.jsonl", [event(1), event(2)])

    [second] = feeds.load(tmp_path)

    assert (first.status, second.status, second.rows) == ("loaded", "loaded", 2)
    assert second.content_md5 == md5_of(path) != first.content_md5
    assert len(adt_rows("a.jsonl")) == 3  # both contents, told apart by file_md5


def test_source_file_is_relative_to_the_folder_given(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "landing", f"{ADT_DAY}/adt_20251201T001500Z.jsonl", [event(1)])

    feeds.load(tmp_path / "landing" / "adt")

    assert adt_rows()[0][0] == "2025-12-01/adt_20251201T001500Z.jsonl"


def test_hidden_files_and_export_folders_are_not_feed_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path, ".hidden.jsonl", [event(1)])
    write_jsonl(tmp_path, ".staging/a.jsonl", [event(2)])
    write_jsonl(tmp_path, "AWSDynamoDB/x/data/a.jsonl", [event(3)])
    write_jsonl(tmp_path, "a.jsonl.part", [event(4)])
    write_jsonl(tmp_path, "A.JSONL", [event(5)])

    assert [f.name for f in feeds.find_files(tmp_path)] == ["A.JSONL"]
    (tmp_path / "A.JSONL").unlink()
    with pytest.raises(feeds.LoadError, match="no feed files"):
        feeds.load(tmp_path)


# --- failures and the audit -------------------------------------------------------------------


def test_a_failing_file_does_not_affect_the_others(tmp_path: Path) -> None:
    write_jsonl(tmp_path, "a.jsonl", [event(1)])
    write_csv(tmp_path, "b.csv", b"hospital_id,bad\x00name\nH001,x\n")  # unusable header
    write_jsonl(tmp_path, "c.jsonl", [event(3)])
    files = feeds.find_files(tmp_path)
    vanished = feeds.FeedFile(feeds.ADT, tmp_path / "gone.jsonl", "gone.jsonl")

    results = feeds.load_files([*files[:2], vanished, files[2]])

    assert [(r.file, r.status) for r in results] == [
        ("a.jsonl", "loaded"),
        ("b.csv", "failed"),
        ("gone.jsonl", "failed"),
        ("c.jsonl", "loaded"),
    ]
    assert "header" in results[1].message and "rolled back" in results[1].message
    assert "cannot be read" in results[2].message
    assert [row[2]["event_id"] for row in adt_rows()] == ["EV000001", "EV000003"]
    assert department_rows() == []
    audit = {row["data_file"]: row for row in audit_rows()}
    assert audit["b.csv"]["status"] == "failed" and "header" in audit["b.csv"]["error"]
    assert audit["b.csv"]["loaded_items"] == 0 and audit["b.csv"]["content_md5"] is not None
    assert audit["gone.jsonl"]["status"] == "failed"
    assert "cannot be read" in audit["gone.jsonl"]["error"]


def test_the_audit_has_one_row_per_file(tmp_path: Path) -> None:
    adt = write_jsonl(tmp_path, f"{ADT_DAY}/adt_20251201T001500Z.jsonl", [event(1), "", "x"])
    csv = write_csv(tmp_path, "d.csv", f"{HEADER}\n{department_row('ED')}\n")

    [adt_result, csv_result] = feeds.load(tmp_path)

    rows = audit_rows()
    assert [
        (
            row["load_id"],
            row["source"],
            row["export_id"],
            row["data_file"],
            row["content_md5"],
            row["status"],
            row["expected_items"],
            row["loaded_items"],
            row["bytes"],
            row["error"],
        )
        for row in rows
    ] == [
        (
            adt_result.load_id,
            "adt_events",
            f"{ADT_DAY}/adt_20251201T001500Z.jsonl",
            f"{ADT_DAY}/adt_20251201T001500Z.jsonl",
            md5_of(adt),
            "loaded",
            2,
            2,
            adt.stat().st_size,
            None,
        ),
        (
            csv_result.load_id,
            "department_extracts",
            "d.csv",
            "d.csv",
            md5_of(csv),
            "loaded",
            1,
            1,
            csv.stat().st_size,
            None,
        ),
    ]
    assert all(row["finished_at"] >= row["started_at"] for row in rows)


def test_two_loaders_at_once_land_each_file_once(tmp_path: Path) -> None:
    for number in range(12):
        events = [event(number * 100 + line) for line in range(40)]
        write_jsonl(tmp_path, f"adt/adt_{number:02d}.jsonl", events)
    write_csv(tmp_path, "d.csv", f"{HEADER}\n{department_row('ED')}\n")

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: feeds.load(tmp_path), range(2)))

    assert len(adt_rows()) == 12 * 40 and len(department_rows()) == 1
    for first, second in zip(*runs, strict=True):
        assert sorted([first.status, second.status]) == ["loaded", "skipped"]
    statuses = query(
        "select data_file, array_agg(status order by status) from bronze.load_audit"
        " group by data_file"
    )
    assert {row[1] == ["loaded", "skipped"] for row in statuses} == {True}


def test_should_stop_ends_the_run_between_files(tmp_path: Path) -> None:
    for number in range(3):
        write_jsonl(tmp_path, f"a{number}.jsonl", [event(number)])
    asked: list[int] = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    results = feeds.load(tmp_path, should_stop=stop_after_two)

    assert [r.file for r in results] == ["a0.jsonl", "a1.jsonl"]
    assert len(adt_rows()) == 2


# --- the command line -------------------------------------------------------------------------


def test_cli_load_lands_exports_and_feed_files_and_names_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_export(tmp_path / "exports", "01700000000000-1a2b3c4d", [{"treatment_id": {"S": "T1"}}])
    write_jsonl(tmp_path, f"{ADT_DAY}/adt_20251201T001500Z.jsonl", [event(1), "oops"])
    write_csv(tmp_path, "departments/bad.csv", b"a,\xff\nH001,x\n")

    status = cli.main(["load", str(tmp_path)])

    output = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert status == 1
    assert "01700000000000-1a2b3c4d" in output and "loaded" in output
    assert "rows quarantined" in output
    assert "departments/bad.csv failed" in output and "header" in output
    assert query("select count(*) from bronze.dynamo_treatments") == [(1,)]
    assert len(adt_rows()) == 2

    (tmp_path / "departments" / "bad.csv").unlink()
    assert cli.main(["load", str(tmp_path)]) == 0  # everything else is skipped
    assert "skipped" in capsys.readouterr().out


def test_cli_load_of_a_folder_without_exports_or_feed_files_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "readme.txt").write_text("nothing to load")

    assert cli.main(["load", str(tmp_path)]) == 1

    assert "no DynamoDB export" in " ".join(capsys.readouterr().out.split())


def test_load_ids_differ_between_runs(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "one", "a.jsonl", [event(1)])
    write_jsonl(tmp_path / "two", "b.jsonl", [event(2)])

    [first] = feeds.load(tmp_path / "one")
    [second] = feeds.load(tmp_path / "two")

    assert isinstance(first.load_id, uuid.UUID) and first.load_id != second.load_id
