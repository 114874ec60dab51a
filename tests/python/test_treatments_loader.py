"""The S1 loader: manifest verification, one transaction per export, idempotence, COPY escaping."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from export_files import md5_base64, read_manifest_files, write_export, write_manifest_files

from loaders import treatments as loader
from loaders.db import connect

EXPORT_A = "01700000000000-1a2b3c4d"
EXPORT_B = "01700000900000-5e6f7a8b"

pytestmark = pytest.mark.usefixtures("empty_bronze")


def treatment(number: int, **attributes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "treatment_id": {"S": f"T{number:06d}"},
        "patient": {"M": {"patient_id": {"S": f"P{number % 7:05d}"}, "gender": {"S": "F"}}},
        "provider": {"M": {"provider_id": {"S": "1000000001"}, "name": {"S": "Dr. Synthetic"}}},
        "outcome_status": {"S": "success"},
        "cost": {"N": f"{number * 10}.5"},
        "treatment_ts": {"S": "2024-01-01T10:00:00-06:00"},
        "metadata_modified_at": {"S": "2024-01-02T00:00:00Z"},
    }
    item.update(attributes)
    return item


def items(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [treatment(number) for number in range(start, start + count)]


def query(text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connect() as conn:
        return conn.execute(text, params).fetchall()


def bronze_count(export_id: str | None = None) -> int:
    exists = query("select to_regclass('bronze.dynamo_treatments') is not null")[0][0]
    if not exists:
        return 0
    if export_id is None:
        return query("select count(*) from bronze.dynamo_treatments")[0][0]
    return query(
        "select count(*) from bronze.dynamo_treatments where export_id = %s", (export_id,)
    )[0][0]


def data_file_path(folder: Path, entry: dict[str, Any]) -> Path:
    return folder.parent.parent / entry["dataFileS3Key"]


def rewrite_data_file(path: Path, lines: list[str]) -> bytes:
    payload = gzip.compress("".join(line + "\n" for line in lines).encode(), mtime=0)
    path.write_bytes(payload)
    return payload


# --- the happy path ---------------------------------------------------------------------------


def test_loads_an_export_with_its_load_metadata(tmp_path: Path) -> None:
    folder = write_export(tmp_path, EXPORT_A, items(5), files=2)
    calls: list[tuple[str, int, int]] = []

    results = loader.load(tmp_path, progress=lambda *args: calls.append(args))

    assert len(results) == 1
    result = results[0]
    assert (result.export_id, result.status, result.files, result.items) == (
        EXPORT_A,
        "loaded",
        3,
        5,
    )
    assert result.path == folder
    assert result.seconds > 0
    rows = query(
        "select load_id, export_id, data_file, line_number, item, loaded_at"
        " from bronze.dynamo_treatments order by data_file, line_number"
    )
    keys = [entry["dataFileS3Key"] for entry in read_manifest_files(folder) if entry["itemCount"]]
    assert {row[0] for row in rows} == {result.load_id}
    assert [(row[2], row[3]) for row in rows] == sorted(
        [(keys[0], n) for n in (1, 2, 3)] + [(keys[1], n) for n in (1, 2)]
    )
    assert sorted(row[4]["Item"]["treatment_id"]["S"] for row in rows) == [
        f"T{n:06d}" for n in range(1, 6)
    ]
    assert all(row[5] is not None for row in rows)
    assert calls[0] == (EXPORT_A, 0, 5)
    assert calls[-1] == (EXPORT_A, 5, 5)


@pytest.mark.parametrize("where", ["prefix", "parent", "export_folder", "summary_file"])
def test_path_may_be_the_export_its_prefix_or_a_parent(tmp_path: Path, where: str) -> None:
    folder = write_export(tmp_path / "exports" / "cycle-1", EXPORT_A, items(3))
    path = {
        "prefix": tmp_path / "exports" / "cycle-1",
        "parent": tmp_path,
        "export_folder": folder,
        "summary_file": folder / "manifest-summary.json",
    }[where]

    results = loader.load(path)

    assert [(r.export_id, r.status, r.items) for r in results] == [(EXPORT_A, "loaded", 3)]


def test_a_folder_without_exports_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(loader.LoadError, match="no manifest-summary.json"):
        loader.load(tmp_path)
    with pytest.raises(loader.LoadError, match="does not exist"):
        loader.load(tmp_path / "missing")


def test_empty_lines_are_skipped_and_line_numbers_stay_physical(tmp_path: Path) -> None:
    lines: list[Any] = ["", treatment(1), "", "  ", treatment(2), "\r"]
    folder = write_export(tmp_path, EXPORT_A, lines, files=1)

    [result] = loader.load(tmp_path)

    assert (result.status, result.items) == ("loaded", 2)
    rows = query("select line_number, item from bronze.dynamo_treatments order by line_number")
    assert [(row[0], row[1]["Item"]["treatment_id"]["S"]) for row in rows] == [
        (2, "T000001"),
        (5, "T000002"),
    ]
    assert read_manifest_files(folder)[0]["itemCount"] == 2


def test_two_exports_load_in_export_time_order(tmp_path: Path) -> None:
    # EXPORT_B sorts first by name and by folder, but was exported later
    write_export(
        tmp_path / "b-first", EXPORT_B, items(2, start=10), export_time="2024-02-01T00:00:00Z"
    )
    write_export(tmp_path / "z-last", EXPORT_A, items(3), export_time="2024-01-01T00:00:00Z")

    results = loader.load(tmp_path)

    assert [(r.export_id, r.status) for r in results] == [
        (EXPORT_A, "loaded"),
        (EXPORT_B, "loaded"),
    ]
    first_loads = query(
        "select export_id, min(loaded_at) from bronze.dynamo_treatments"
        " group by export_id order by 2"
    )
    assert [row[0] for row in first_loads] == [EXPORT_A, EXPORT_B]
    audit_order = query(
        "select export_id from bronze.load_audit where data_file is null order by audit_id"
    )
    assert [row[0] for row in audit_order] == [EXPORT_A, EXPORT_B]


# --- idempotence ------------------------------------------------------------------------------


def test_loading_twice_adds_nothing(tmp_path: Path) -> None:
    write_export(tmp_path, EXPORT_A, items(4))
    [first] = loader.load(tmp_path)
    count = bronze_count()

    [second] = loader.load(tmp_path)

    assert first.status == "loaded"
    assert (second.status, second.files, second.items) == ("skipped", 0, 0)
    assert "already loaded" in second.message and str(first.load_id) in second.message
    assert bronze_count() == count == 4


def test_same_export_id_with_another_manifest_is_refused(tmp_path: Path) -> None:
    write_export(tmp_path / "one", EXPORT_A, items(4))
    loader.load(tmp_path / "one")
    write_export(tmp_path / "two", EXPORT_A, items(5))

    [result] = loader.load(tmp_path / "two")

    assert result.status == "refused"
    assert "loaded before" in result.message and "manifest MD5" in result.message
    assert bronze_count() == 4


# --- verification before loading --------------------------------------------------------------


def _corrupt_md5(folder: Path, entries: list[dict[str, Any]]) -> tuple[str, list[str]]:
    entry = entries[0]
    path = data_file_path(folder, entry)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines[0] = lines[0].replace("T000001", "T999999")
    payload = rewrite_data_file(path, lines)
    return entry["dataFileS3Key"], [
        "MD5 mismatch",
        f"manifest md5Checksum {entry['md5Checksum']}",
        f"file has {md5_base64(payload)}",
    ]


def _corrupt_count(folder: Path, entries: list[dict[str, Any]]) -> tuple[str, list[str]]:
    # one more line in the file, with a manifest checksum that matches the new bytes
    entry = entries[1]
    path = data_file_path(folder, entry)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines.append(json.dumps({"Item": treatment(99)}))
    entry["md5Checksum"] = md5_base64(rewrite_data_file(path, lines))
    write_manifest_files(folder, entries)
    return entry["dataFileS3Key"], [
        "item count mismatch",
        f"manifest itemCount {entry['itemCount']}",
        f"file has {entry['itemCount'] + 1} non-empty lines",
    ]


def _remove_file(folder: Path, entries: list[dict[str, Any]]) -> tuple[str, list[str]]:
    entry = entries[1]
    data_file_path(folder, entry).unlink()
    return entry["dataFileS3Key"], ["file missing"]


def _escape_prefix(folder: Path, entries: list[dict[str, Any]]) -> tuple[str, list[str]]:
    # a key that climbs out of the export prefix to a file that exists and matches
    entry = entries[0]
    outside = folder.parent.parent.parent / "outside.json.gz"
    outside.write_bytes(data_file_path(folder, entry).read_bytes())
    entry["dataFileS3Key"] = f"AWSDynamoDB/{EXPORT_A}/../../../outside.json.gz"
    write_manifest_files(folder, entries)
    return entry["dataFileS3Key"], ["outside the export prefix"]


def _summary_count(folder: Path, entries: list[dict[str, Any]]) -> tuple[str, list[str]]:
    summary_path = folder / "manifest-summary.json"
    summary = json.loads(summary_path.read_text())
    summary["itemCount"] += 1
    summary_path.write_text(json.dumps(summary))
    return "manifest-summary.json", ["summary itemCount 7", "lists 6 items"]


def _bad_gzip(folder: Path, entries: list[dict[str, Any]]) -> tuple[str, list[str]]:
    entry = entries[0]
    path = data_file_path(folder, entry)
    payload = path.read_bytes()[:-12]  # truncated
    path.write_bytes(payload)
    entry["md5Checksum"] = md5_base64(payload)
    write_manifest_files(folder, entries)
    return entry["dataFileS3Key"], ["not a valid gzip file"]


@pytest.mark.parametrize(
    "corrupt",
    [_corrupt_md5, _corrupt_count, _remove_file, _escape_prefix, _summary_count, _bad_gzip],
    ids=["md5", "item_count", "missing_file", "dotdot_key", "summary_count", "truncated_gzip"],
)
def test_a_manifest_mismatch_refuses_the_whole_export(tmp_path: Path, corrupt: Any) -> None:
    prefix = tmp_path / "prefix"
    folder = write_export(prefix, EXPORT_A, items(6), files=2)
    culprit, differences = corrupt(folder, read_manifest_files(folder))

    [result] = loader.load(prefix)

    assert result.status == "refused"
    assert (result.files, result.items) == (0, 0)
    assert culprit in result.message
    for difference in differences:
        assert difference in result.message
    assert bronze_count() == 0
    statuses = query(
        "select data_file, status from bronze.load_audit where export_id = %s", (EXPORT_A,)
    )
    assert {status for _, status in statuses} == {"refused"}
    assert len(statuses) == 1 + 3  # the export and its three data files


def test_a_refused_export_does_not_stop_the_next(tmp_path: Path) -> None:
    bad = write_export(tmp_path / "a", EXPORT_A, items(3), export_time="2024-01-01T00:00:00Z")
    data_file_path(bad, read_manifest_files(bad)[0]).unlink()
    write_export(tmp_path / "b", EXPORT_B, items(2), export_time="2024-02-01T00:00:00Z")

    results = loader.load(tmp_path)

    assert [(r.export_id, r.status) for r in results] == [
        (EXPORT_A, "refused"),
        (EXPORT_B, "loaded"),
    ]
    assert bronze_count(EXPORT_A) == 0 and bronze_count(EXPORT_B) == 2


def test_an_unreadable_summary_is_refused(tmp_path: Path) -> None:
    folder = write_export(tmp_path, EXPORT_A, items(2))
    (folder / "manifest-summary.json").write_text("{not json")

    [result] = loader.load(tmp_path)

    assert result.status == "refused"
    assert "manifest-summary.json is not valid JSON" in result.message


# --- failures during COPY ---------------------------------------------------------------------


def test_invalid_json_fails_the_export_and_keeps_earlier_exports(tmp_path: Path) -> None:
    write_export(tmp_path / "a", EXPORT_A, items(3), export_time="2024-01-01T00:00:00Z")
    bad_line = '{"Item": {"treatment_id"'
    lines: list[Any] = [treatment(10), treatment(11), treatment(12), treatment(13), "", bad_line]
    folder_b = write_export(
        tmp_path / "b", EXPORT_B, lines, files=2, export_time="2024-02-01T00:00:00Z"
    )
    bad_key = read_manifest_files(folder_b)[1]["dataFileS3Key"]

    results = loader.load(tmp_path)

    assert [(r.export_id, r.status) for r in results] == [
        (EXPORT_A, "loaded"),
        (EXPORT_B, "failed"),
    ]
    failed = results[1]
    assert f"{bad_key} line 3" in failed.message  # file 2: treatment 13, "", the bad line
    assert "json" in failed.message
    assert (failed.files, failed.items) == (0, 0)
    assert bronze_count(EXPORT_A) == 3
    assert bronze_count(EXPORT_B) == 0  # the good first file was rolled back too
    audit_rows = query(
        "select data_file, status, loaded_items, error from bronze.load_audit"
        " where export_id = %s order by audit_id",
        (EXPORT_B,),
    )
    assert {row[1] for row in audit_rows} == {"failed"}
    assert all(row[2] == 0 for row in audit_rows)
    export_row = audit_rows[0]
    assert export_row[0] is None and f"{bad_key} line 3" in export_row[3]
    file_rows = {row[0]: row[3] for row in audit_rows[1:]}
    assert len(file_rows) == 3
    assert file_rows[bad_key].startswith(f"{bad_key} line 3")

    # fixing nothing and loading again fails again; the good export is skipped
    again = loader.load(tmp_path)
    assert [r.status for r in again] == ["skipped", "failed"]


def test_invalid_utf8_fails_with_file_and_line(tmp_path: Path) -> None:
    folder = write_export(tmp_path, EXPORT_A, items(2), files=1)
    entries = read_manifest_files(folder)
    path = data_file_path(folder, entries[0])
    raw = gzip.decompress(path.read_bytes()).splitlines()
    raw[1] = raw[1].replace(b"success", b"succ\xffess")
    payload = gzip.compress(b"\n".join(raw) + b"\n", mtime=0)
    path.write_bytes(payload)
    entries[0]["md5Checksum"] = md5_base64(payload)
    write_manifest_files(folder, entries)

    [result] = loader.load(tmp_path)

    assert result.status == "failed"
    assert f"{entries[0]['dataFileS3Key']} line 2" in result.message
    assert bronze_count() == 0


# --- COPY text escaping -----------------------------------------------------------------------


def test_awkward_json_round_trips_exactly(tmp_path: Path) -> None:
    awkward = [
        treatment(1, notes={"S": 'back\\slash \\n not a newline, \\\\N, "quoted" \\.'}),
        treatment(2, notes={"S": "tab\there, CR\rthere, LF\nthere, form\ffeed"}),
        treatment(3, notes={"S": "unicode: é ü ß 東京 🙂 \u2028 \u00a0 \U0001f600"}),
        treatment(4, notes={"NULL": True}, medications={"L": [{"M": {"name": {"S": "a\tb"}}}]}),
        treatment(5, notes={"S": "\\"}, cost={"S": "$1,234.50"}),
        treatment(6, notes={"S": "ends with backslash \\"}),
    ]
    # raw lines with JSON whitespace (tab, CR) between tokens, and an ASCII-escaped one
    raw_lines = [
        '{"Item":\t{"treatment_id": {"S": "T000007"},\t"notes": {"S": "x"}}}\r',
        json.dumps({"Item": treatment(8, notes={"S": "é\t\\"})}, ensure_ascii=True),
    ]
    write_export(tmp_path, EXPORT_A, awkward + raw_lines, files=2)

    [result] = loader.load(tmp_path)

    assert result.status == "loaded", result.message
    rows = query("select item from bronze.dynamo_treatments")
    loaded = {row[0]["Item"]["treatment_id"]["S"]: row[0] for row in rows}
    expected = {item["treatment_id"]["S"]: {"Item": item} for item in awkward}
    expected["T000007"] = {"Item": {"treatment_id": {"S": "T000007"}, "notes": {"S": "x"}}}
    expected["T000008"] = {"Item": treatment(8, notes={"S": "é\t\\"})}
    assert loaded == expected
    # and the text PostgreSQL holds is the same string, not an escaped variant
    note = query(
        "select item #>> '{Item,notes,S}' from bronze.dynamo_treatments"
        " where item #>> '{Item,treatment_id,S}' = 'T000002'"
    )[0][0]
    assert note == "tab\there, CR\rthere, LF\nthere, form\ffeed"


def test_copy_rows_escape_and_number_lines() -> None:
    block = b'{"a": "x\\\\y"}\n\n{\t"b": 1}\r\n \t\n'
    rows, count = loader._copy_rows(block, b"L\tE\tF\t", 10)
    assert count == 2
    assert rows == b'L\tE\tF\t10\t{"a": "x\\\\\\\\y"}\nL\tE\tF\t12\t{\\t"b": 1}\\r\n'


def test_concurrent_loads_of_one_export_land_it_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write_export(tmp_path, EXPORT_A, items(50), files=3)

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: loader.load(tmp_path), range(2)))

    assert sorted(run[0].status for run in runs) == ["loaded", "skipped"]
    assert bronze_count() == 50


def test_an_export_loaded_while_waiting_for_the_lock_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_export(tmp_path, EXPORT_A, items(4))
    [first] = loader.load(tmp_path)
    real = loader.audit.loaded_export
    calls: list[int] = []

    def stale_then_real(*args: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real(*args)  # the first look predates the other load

    monkeypatch.setattr(loader.audit, "loaded_export", stale_then_real)
    [second] = loader.load(tmp_path)

    assert (first.status, second.status) == ("loaded", "skipped")
    assert len(calls) == 2
    assert bronze_count() == 4
    statuses = query("select status from bronze.load_audit where load_id = %s", (second.load_id,))
    assert statuses == [("skipped",)]
