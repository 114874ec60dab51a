"""Database helper: connections to the configured server."""

from __future__ import annotations

import psycopg

from loaders import config


def connect(*, autocommit: bool = False, dbname: str | None = None) -> psycopg.Connection:
    """A new connection to the configured server (PG* variables or the embedded server)."""
    settings = config.connection_settings()
    return psycopg.connect(settings.conninfo(dbname), autocommit=autocommit)
