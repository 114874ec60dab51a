"""Every source's bronze table in one place: each loader run creates all of them when missing,
so ``dbt build`` works whatever subset of sources has been loaded."""

from __future__ import annotations

import psycopg
from psycopg import sql

from loaders import adt, audit, departments

SCHEMA = "bronze"
FEED_MODULES = (adt, departments)
AUDIT_CONTENT_INDEX = "load_audit_loaded_content_md5"


def ensure_tables(conn: psycopg.Connection) -> None:
    """Create the ``bronze`` schema, the audit table (with an index on loaded contents) and
    every source's landing table."""
    from loaders import treatments  # here, not at the top: treatments imports this module

    with conn.transaction():
        audit.lock_ddl(conn)
        treatments.ensure_tables(conn)  # the schema, the audit table and the treatments table
        for module in FEED_MODULES:
            conn.execute(sql.SQL(module.DDL).format(table=sql.Identifier(SCHEMA, module.TABLE)))
        # the file feeds ask, per file, whether its content was loaded before
        conn.execute(
            sql.SQL(
                "create index if not exists {} on {} (source, content_md5) where status = 'loaded'"
            ).format(sql.Identifier(AUDIT_CONTENT_INDEX), audit.table())
        )
