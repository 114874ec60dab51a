"""The two hand-written silver paths raced against the project's (loader + dbt): a row-by-row
INSERT loader and the pandas route. Both read every data file of an export (no manifest
checks, no audit, no idempotency), decode each line with ``dynamo_json.deserialize_item``, clean
it with ``silver_cleaning`` and append to a typed table shaped like
silver.stg_dynamo__treatment_versions (without is_latest_version), in one transaction
(row-by-row) or one per data file (pandas)."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from loaders import db
from loaders.bench import silver_cleaning as clean
from loaders.dynamo_json import deserialize_item

SCHEMA = "bench"
PANDAS_CHUNKSIZE = 10_000  # rows per executemany (SQLAlchemy sends 1,000-row INSERTs)


def export_files(cycle: Path) -> tuple[str, list[tuple[str, Path]]]:
    """The export id and (data file key, path) of the one export under ``cycle``."""
    (manifest,) = cycle.glob("AWSDynamoDB/*/manifest-files.json")
    keys = [json.loads(line)["dataFileS3Key"] for line in manifest.read_text().splitlines()
            if line.strip()]
    return manifest.parent.name, [(key, cycle / key) for key in keys]


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of every non-empty line of a gzipped data file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line


def create_table(conn: psycopg.Connection, table: str) -> None:
    """(Re)create ``bench.<table>`` with silver's column names and types."""
    identifier = sql.Identifier(SCHEMA, table)
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCHEMA)))
    conn.execute(sql.SQL("drop table if exists {}").format(identifier))
    columns = sql.SQL(", ").join(sql.SQL(column) for column in clean.COLUMNS)
    conn.execute(sql.SQL("create table {} ({})").format(identifier, columns))


def row_by_row(cycle: Path, table: str) -> None:
    """json.loads, decode and clean each line; one prepared INSERT per row, one transaction."""
    export_id, files = export_files(cycle)
    lineage = {"export_id": export_id, "load_id": uuid.uuid4(), "loaded_at": datetime.now(UTC)}
    insert = sql.SQL("insert into {} ({}) values ({})").format(
        sql.Identifier(SCHEMA, table),
        sql.SQL(", ").join(map(sql.Identifier, clean.NAMES)),
        sql.SQL(", ").join(sql.Placeholder() * len(clean.NAMES)),
    )
    with db.connect() as conn, conn.cursor() as cursor:
        for key, path in files:
            for number, line in numbered_lines(path):
                line_object = json.loads(line)
                row = clean.clean_item(deserialize_item(line_object), line_object["Item"])
                row.update(lineage, data_file=key, line_number=number)
                row["medications"] = Jsonb(row["medications"])
                cursor.execute(insert, [row[name] for name in clean.NAMES], prepare=True)


def pandas_path(cycle: Path, table: str) -> None:
    """Per data file: json.loads and decode each line, json_normalize, clean the columns,
    ``DataFrame.to_sql(if_exists="append")`` through SQLAlchemy (postgresql+psycopg)."""
    import pandas as pd
    from sqlalchemy import Boolean, Date, Numeric, create_engine
    from sqlalchemy.dialects.postgresql import JSONB, UUID

    export_id, files = export_files(cycle)
    load_id, loaded_at = uuid.uuid4(), datetime.now(UTC)
    # types pandas cannot infer from Python objects (it would send them as text)
    dtype = {"load_id": UUID(), "cost": Numeric(), "medications": JSONB(),
             "is_emergency": Boolean(), "patient_date_of_birth": Date()}
    engine = create_engine("postgresql+psycopg://", creator=db.connect)
    try:
        for key, path in files:
            numbers: list[int] = []
            records: list[dict[str, Any]] = []
            raws: list[dict[str, str | None]] = []
            for number, line in numbered_lines(path):
                line_object = json.loads(line)
                numbers.append(number)
                records.append(deserialize_item(line_object))
                raws.append(clean.raw_texts(line_object["Item"]))
            if not records:  # an export may hold empty data files
                continue
            frame = clean_frame(pd.json_normalize(records), pd.DataFrame(raws))
            frame = frame.assign(export_id=export_id, data_file=key, line_number=numbers,
                                 load_id=load_id, loaded_at=pd.Timestamp(loaded_at))
            frame[list(clean.NAMES)].to_sql(
                table, engine, schema=SCHEMA, if_exists="append", index=False,
                chunksize=PANDAS_CHUNKSIZE, dtype=dtype,
            )
    finally:
        engine.dispose()


def clean_frame(flat: Any, raws: Any) -> Any:
    """The typed columns from the json_normalize'd items and their *_raw texts: the shared
    helpers for typed values, pandas' vectorised string, datetime and selection functions for
    the rest."""
    import numpy as np
    import pandas as pd

    def objects(column: Any) -> Any:
        """The column as Python objects, None where missing (what the helpers take)."""
        column = column.astype(object)
        return column.where(column.notna(), None)

    def values(path: tuple[str, ...]) -> Any:
        name = ".".join(path)
        if name not in flat:
            return pd.Series([None] * len(flat), index=flat.index, dtype=object)
        return objects(flat[name])

    def parsed(texts: Any, pattern: str, **options: Any) -> Any:
        shaped = texts.where(texts.str.fullmatch(pattern, na=False).astype(bool))
        return pd.to_datetime(shaped.str.replace(",", "."), errors="coerce", **options)

    out = pd.DataFrame({name: values(path).map(clean.text)
                        for name, path in clean.TEXT_COLUMNS.items()})
    for name in clean.RAW_COLUMNS:
        out[name] = raws[name].astype("str")
    out["patient_gender"] = objects(out["patient_gender_text"]).map(clean.gender)
    out["patient_date_of_birth"] = parsed(out["patient_date_of_birth_text"].astype("str"),
                                          clean.DATE, format="%Y-%m-%d")
    out["disease_code"] = out["disease_code"].astype("str").str.upper()
    out["outcome_status"] = out["outcome_status_raw"].map(clean.outcome, na_action="ignore")
    out["cost"] = values(("cost",)).map(clean.money)
    out["is_cost_invalid"] = out["cost_raw"].notna() & out["cost"].isna()
    out["treated_at"] = parsed(out["treatment_ts_raw"], clean.TIMESTAMP, format="ISO8601", utc=True)
    out["modified_at"] = parsed(out["modified_at_raw"], clean.TIMESTAMP, format="ISO8601", utc=True)
    medications = values(("medications",))
    out["medication_count"] = medications.map(clean.list_length)
    out["medications"] = medications.map(clean.medications)
    out["is_emergency"] = values(("is_emergency",)).map(clean.boolean)
    conditions = [
        out[column[0]] > out[column[1]] if isinstance(column, tuple) else out[column].isna()
        for _, column in clean.REJECT_RULES
    ]
    out["reject_rule"] = np.select(conditions, [rule for rule, _ in clean.REJECT_RULES], None)
    return out
