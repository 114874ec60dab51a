"""Configuration from the environment.

The standard libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) select an
external PostgreSQL server. Without PGHOST the project's embedded server (pgserver) is used,
with its data folder under ``WAREHOUSE_HOME`` (default ``.warehouse/`` in the project root).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE = "warehouse"
DEFAULT_USER = "postgres"
# The role the loaders' connections SET ROLE to (env WAREHOUSE_LOADER_ROLE); empty = no SET
# ROLE, the login role itself. The project's role is warehouse_loader (dbt var warehouse_roles).
DEFAULT_LOADER_ROLE = "warehouse_loader"


def warehouse_home() -> Path:
    """Folder (git-ignored) that holds the embedded server's data folder."""
    return Path(os.environ.get("WAREHOUSE_HOME", PROJECT_ROOT / ".warehouse")).resolve()


def pgdata_dir() -> Path:
    return warehouse_home() / "pgdata"


def pseudonym_key_file() -> Path:
    """Where the embedded server's generated pseudonym key is kept (mode 600, git-ignored)."""
    return warehouse_home() / "pseudonym.key"


def loader_role() -> str:
    """Role the loaders' connections SET ROLE to: WAREHOUSE_LOADER_ROLE, default
    DEFAULT_LOADER_ROLE; empty means no SET ROLE (the login role)."""
    return os.environ.get("WAREHOUSE_LOADER_ROLE", DEFAULT_LOADER_ROLE).strip()


def is_external() -> bool:
    """True when the standard PGHOST variable names a server to use instead of the embedded one."""
    return bool(os.environ.get("PGHOST"))


def is_embedded() -> bool:
    """True when connections go to the project's embedded server: no PGHOST, or PGHOST naming
    the embedded server's socket folder (as the test fixture sets it)."""
    host = os.environ.get("PGHOST")
    if not host:
        return True
    return host.startswith("/") and Path(host).resolve() == pgdata_dir()


@dataclass(frozen=True)
class ConnectionSettings:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def conninfo(self, dbname: str | None = None) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=str(self.port),
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.dbname,
            application_name="healthcare-warehouse-loader",
        )


def connection_settings() -> ConnectionSettings:
    """Where to connect: the PG* variables when PGHOST is set, else the embedded server."""
    if is_external():
        host = os.environ["PGHOST"]
    else:
        from loaders.server import socket_dir

        host = str(socket_dir())
    return ConnectionSettings(
        host=host,
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER", DEFAULT_USER),
        password=os.environ.get("PGPASSWORD", ""),
        dbname=os.environ.get("PGDATABASE", DEFAULT_DATABASE),
    )
