"""Hand-written DynamoDB exports for tests: manifests, gz data files, corrupted variants."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_EXPORT_TIME = "2024-01-01T00:00:00.000Z"
TABLE_ARN = "arn:aws:dynamodb:us-east-2:123456789012:table/treatments"


def item_line(item: dict[str, Any] | str) -> str:
    """One data-file line: ``{"Item": ...}`` for a typed item dict; a string is kept as is."""
    if isinstance(item, str):
        return item
    return json.dumps({"Item": item}, ensure_ascii=False, separators=(",", ":"))


def md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def write_export(
    root: Path,
    export_id: str,
    items: Sequence[dict[str, Any] | str],
    files: int = 2,
    export_time: str = DEFAULT_EXPORT_TIME,
    export_type: str = "FULL_EXPORT",
) -> Path:
    """Write a DynamoDB export by hand under the export prefix ``root``; returns its folder
    ``root/AWSDynamoDB/<export_id>``.

    ``items`` are typed item dicts (``{"treatment_id": {"S": "T1"}, ...}``), each written as a
    ``{"Item": ...}`` line; a string is written verbatim as a line (an empty string makes an
    empty line, anything else counts as an item), which lets tests write invalid JSON with a
    correct manifest. Items are spread in order over ``files`` data files, and one more data
    file is empty, as in real exports. Tests corrupt the result afterwards.
    """
    folder = root / "AWSDynamoDB" / export_id
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    lines = [item_line(item) for item in items]
    per_file = -(-len(lines) // files) if files else 0
    chunks = [lines[i * per_file : (i + 1) * per_file] for i in range(files)] + [[]]
    entries = []
    for number, chunk in enumerate(chunks):
        name = hashlib.md5(f"{export_id}:{number}".encode()).hexdigest()[:26] + ".json.gz"
        key = f"AWSDynamoDB/{export_id}/data/{name}"
        text = "".join(line + "\n" for line in chunk)
        payload = gzip.compress(text.encode(), mtime=0)
        (data / name).write_bytes(payload)
        entries.append(
            {
                "itemCount": sum(1 for line in chunk if line.strip(" \t\r")),
                "md5Checksum": md5_base64(payload),
                "etag": hashlib.md5(payload).hexdigest(),
                "dataFileS3Key": key,
            }
        )
    write_manifest_files(folder, entries)
    summary = {
        "version": "2020-06-30",
        "exportArn": f"{TABLE_ARN}/export/{export_id}",
        "startTime": export_time,
        "endTime": export_time,
        "exportTime": export_time,
        "tableArn": TABLE_ARN,
        "tableId": "00000000-0000-0000-0000-000000000000",
        "s3Bucket": "test-exports",
        "s3Prefix": None,
        "s3SseAlgorithm": "AES256",
        "manifestFilesS3Key": f"AWSDynamoDB/{export_id}/manifest-files.json",
        "billedSizeBytes": sum(len(line) for line in lines),
        "itemCount": sum(entry["itemCount"] for entry in entries),
        "outputFormat": "DYNAMODB_JSON",
        "exportType": export_type,
    }
    (folder / "manifest-summary.json").write_text(json.dumps(summary))
    return folder


def read_manifest_files(folder: Path) -> list[dict[str, Any]]:
    text = (folder / "manifest-files.json").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_manifest_files(folder: Path, entries: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(entry) + "\n" for entry in entries)
    (folder / "manifest-files.json").write_text(text)
