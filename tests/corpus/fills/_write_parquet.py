"""Writes the committed Parquet files of the corpus (the baseline's fills file and the
``fills/<case>/`` inputs) with pyarrow; run it after changing it:
``.venv/bin/python tests/corpus/fills/_write_parquet.py``. Not a case (the name starts with
``_``). The files are small; their bytes depend on the pyarrow version, nothing here relies
on them (no case names a checksum)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loaders.generator.claims import FILLS_SCHEMA as SCHEMA

CORPUS = Path(__file__).resolve().parents[1]
FILLS = CORPUS / "fills"


def fill(number: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "rx_id": f"RX9{number:07d}",
        "patient_id": f"MRN9{number % 50:07d}",
        "prescriber_id": "1900000003",
        "ndc": "00093-7212-01",
        "drug_name": "metformin" if number % 2 else "lisinopril",
        "fill_date": date(2025, 1 + number % 12, 1 + number % 28),
        "days_supply": 30 if number % 3 else 90,
        "quantity": 60.0 if number % 2 else 30.5,
        "cost": Decimal(f"{number % 500}.{number % 10}0"),
    }
    row.update(values)
    return row


def write(
    path: Path, rows: list[dict[str, Any]], schema: pa.Schema = SCHEMA, **options: Any
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, **options)
    return path


def main() -> None:
    write(CORPUS / "_baseline" / "fills" / "fills_2025-01.parquet", [fill(n) for n in range(1, 4)])
    case = FILLS / "same-content-as-baseline" / "fills" / "fills_copy_of_an_earlier_file.parquet"
    case.parent.mkdir(parents=True, exist_ok=True)
    case.write_bytes((CORPUS / "_baseline" / "fills" / "fills_2025-01.parquet").read_bytes())

    # changed schema: an added column (pharmacy_id, as from 2025-07), then columns dropped,
    # reordered and retyped (cost a double, days_supply int64) and a new boolean column
    write(FILLS / "changed-schema" / "fills" / "fills_2025-06.parquet", [fill(10), fill(11)])
    added = SCHEMA.append(pa.field("pharmacy_id", pa.string()))
    write(
        FILLS / "changed-schema" / "fills" / "fills_2025-07.parquet",
        [fill(12, pharmacy_id="PH0001"), fill(13, pharmacy_id=None)],
        schema=added,
    )
    retyped = pa.schema(
        [
            ("pharmacy_id", pa.string()),
            ("rx_id", pa.string()),
            ("cost", pa.float64()),
            ("days_supply", pa.int64()),
            ("refill", pa.bool_()),
        ]
    )
    write(
        FILLS / "changed-schema" / "fills" / "fills_2025-08.parquet",
        [
            {"pharmacy_id": "PH0002", "rx_id": "RX90000014", "cost": 12.3, "days_supply": 30,
             "refill": True},
            {"pharmacy_id": None, "rx_id": "RX90000015", "cost": None, "days_supply": None,
             "refill": None},
        ],
        schema=retyped,
    )

    # an empty Parquet file (a valid file, no rows) and an empty file (no bytes)
    write(FILLS / "empty-parquet" / "fills" / "fills_2025-02.parquet", [])
    zero = FILLS / "zero-byte-file" / "fills" / "fills_2025-02.parquet"
    zero.parent.mkdir(parents=True, exist_ok=True)
    zero.write_bytes(b"")

    # truncated: the first half of a valid file (no footer)
    truncated = write(
        FILLS / "truncated" / "fills" / "fills_2025-03.parquet", [fill(n) for n in range(40)]
    )
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])

    # not Parquet: a CSV under a .parquet name
    text = FILLS / "not-parquet" / "fills" / "fills_2025-03.parquet"
    text.parent.mkdir(parents=True, exist_ok=True)
    text.write_text("rx_id,patient_id,cost\nRX90000001,MRN90000001,12.30\n")

    # a corrupt footer: the metadata bytes before the final length and magic overwritten
    footer = write(FILLS / "corrupt-footer" / "fills" / "fills_2025-03.parquet", [fill(1)])
    data = bytearray(footer.read_bytes())
    length = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - length
    data[start : start + 16] = b"\xff" * 16
    footer.write_bytes(bytes(data))

    # a corrupt page in the last row group: the first 10,000-row batch is copied, then the
    # page checksum fails and the whole file rolls back
    slim = pa.schema([("rx_id", pa.string()), ("days_supply", pa.int32())])
    corrupt = write(
        FILLS / "corrupt-page" / "fills" / "fills_2025-04.parquet",
        [{"rx_id": f"RX{n:08d}", "days_supply": 30} for n in range(15_000)],
        schema=slim,
        row_group_size=5_000,
        write_page_checksum=True,
        use_dictionary=False,
    )
    metadata = pq.ParquetFile(corrupt).metadata
    chunk = metadata.row_group(metadata.num_row_groups - 1).column(0)
    data = bytearray(corrupt.read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))

    # values jsonb cannot hold: NaN and infinite doubles, a NUL in a string
    write(
        FILLS / "nan-and-nul-values" / "fills" / "fills_2025-05.parquet",
        [
            fill(20),
            fill(21, quantity=float("nan")),
            fill(22, drug_name="met\x00formin"),
            fill(23, quantity=float("-inf")),
            fill(24),
        ],
    )

    # odd but valid values: empty and unicode strings, nulls everywhere, extreme numbers,
    # SQL-looking text; several row groups
    odd = [
        fill(30, rx_id="", drug_name="Ünïcödé 😀 \"quoted\" \\ back\tslash\nnewline"),
        fill(31, patient_id=None, fill_date=None, days_supply=None, quantity=None, cost=None),
        fill(32, days_supply=-(2**31), quantity=1e308, cost=Decimal("-9999999999.99")),
        fill(33, days_supply=2**31 - 1, quantity=5e-324, cost=Decimal("0.00")),
        fill(34, drug_name="'); drop table bronze.prescription_fills; --"),
    ]
    write(FILLS / "odd-but-valid-values" / "fills" / "fills_2025-06.parquet", odd,
          row_group_size=2)


if __name__ == "__main__":
    main()
