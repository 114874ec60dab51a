"""What the warehouse holds (relations and row counts per project schema), and a reset."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from loaders.db import connect

# restricted: gold tables holding PII; bi: the masked views. Not vault (loaders/access.py): the
# pseudonym key survives a reset and is never in a backup.
PROJECT_SCHEMAS = ("bronze", "silver", "snapshots", "gold", "restricted", "bi")


@dataclass(frozen=True)
class Relation:
    schema: str
    name: str
    kind: str
    rows: int


def relations() -> list[Relation]:
    found: list[Relation] = []
    with connect() as conn:
        rows = conn.execute(
            """
            select table_schema, table_name, table_type
            from information_schema.tables
            where table_schema = any(%s)
            order by array_position(%s, table_schema::text), table_name
            """,
            (list(PROJECT_SCHEMAS), list(PROJECT_SCHEMAS)),
        ).fetchall()
        for schema, name, kind in rows:
            query = sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
            count = conn.execute(query).fetchone()[0]
            found.append(Relation(schema, name, "view" if kind == "VIEW" else "table", count))
    return found


def drop_project_schemas() -> list[str]:
    """Drop every project schema (bronze, silver, snapshots, gold, restricted, bi, and the
    schema in which a build keeps gold's previous versions) of the configured database. The
    vault schema (the pseudonym key) stays."""
    from loaders.backup import build_holding_schema  # backup imports this module

    holding = build_holding_schema()
    schemas = [*PROJECT_SCHEMAS, *([holding] if holding else [])]
    with connect(autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    return schemas
