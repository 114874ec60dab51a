"""Database helper: connections to the configured server."""

from __future__ import annotations

import psycopg
from psycopg import sql

from loaders import config


def connect(*, autocommit: bool = False, dbname: str | None = None) -> psycopg.Connection:
    """A new connection to the configured server (PG* variables or the embedded server)."""
    settings = config.connection_settings()
    return psycopg.connect(settings.conninfo(dbname), autocommit=autocommit)


def connect_as_loader(*, autocommit: bool = False) -> psycopg.Connection:
    """A connection for the loaders: with ``SET ROLE`` to the loader role
    (``config.loader_role()``, env WAREHOUSE_LOADER_ROLE) when one is configured, so what they
    create in bronze belongs to that role and they can write nothing else."""
    conn = connect(autocommit=autocommit)
    role = config.loader_role()
    if role:
        try:
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
            if not autocommit:
                conn.commit()
        except BaseException:
            conn.close()
            raise
    return conn
