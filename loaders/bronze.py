"""Every source's bronze table in one place: each loader run creates all of them when missing,
so ``dbt build`` works whatever subset of sources has been loaded."""

from __future__ import annotations

import psycopg
from psycopg import sql

from loaders import adt, audit, claims, departments, ehr, fills

SCHEMA = "bronze"
FEED_MODULES = (adt, departments, ehr, claims, fills)
# One landing table per file feed: a row per record, the record as JSONB (null when
# quarantined, its text then in raw_line), keyed by file content and line.
FEED_DDL = """
create table if not exists {table} (
    load_id uuid not null,
    source_file text not null,
    file_md5 text not null,
    line_number integer not null,
    {record} jsonb,
    raw_line text,
    loaded_at timestamptz not null default now(),
    primary key (file_md5, line_number)
)
"""
AUDIT_CONTENT_INDEX = "load_audit_loaded_content_md5"


def ensure_tables(conn: psycopg.Connection) -> None:
    """Create the ``bronze`` schema, the audit table (with an index on loaded contents) and
    every source's landing table."""
    from loaders import treatments  # here, not at the top: treatments imports this module

    with conn.transaction():
        audit.lock_ddl(conn)
        treatments.ensure_tables(conn)  # the schema, the audit table and the treatments table
        for module in FEED_MODULES:
            conn.execute(
                sql.SQL(FEED_DDL).format(
                    table=sql.Identifier(SCHEMA, module.TABLE),
                    record=sql.Identifier(module.RECORD_COLUMN),
                )
            )
        # the file feeds ask, per file, whether its content was loaded before
        conn.execute(
            sql.SQL(
                "create index if not exists {} on {} (source, content_md5) where status = 'loaded'"
            ).format(sql.Identifier(AUDIT_CONTENT_INDEX), audit.table())
        )
