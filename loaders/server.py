"""The embedded PostgreSQL server: a real PostgreSQL 16 from the ``pgserver`` package.

It runs from a data folder under ``.warehouse/`` and listens on a Unix socket only. Started by
root (as in CI) pgserver runs the server as the system user ``pgserver``, which owns the folder.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from loaders import config

log = logging.getLogger(__name__)

# pgserver asks platformdirs for a runtime folder; without XDG_RUNTIME_DIR it falls back to /tmp
# and warns on every import, which says nothing useful here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

PROFILE_TEMPLATE = config.PROJECT_ROOT / "profiles.yml.example"
PROFILE_PATH = config.PROJECT_ROOT / "profiles.yml"
SOCKET_PLACEHOLDER = "EMBEDDED_SOCKET_DIR"


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pgdata: Path
    socket_dir: Path | None
    pid: int | None


def status() -> ServerStatus:
    from pgserver.utils import PostmasterInfo

    pgdata = config.pgdata_dir()
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return ServerStatus(False, pgdata, None, None)
    return ServerStatus(True, pgdata, info.socket_dir, info.pid)


def socket_dir() -> Path:
    """Socket folder of the running embedded server; a clear error when it is not running."""
    current = status()
    if not current.running or current.socket_dir is None:
        raise RuntimeError(
            f"the embedded PostgreSQL server is not running (data folder {current.pgdata}); "
            "start it with `make db-start` or `python -m loaders server start`, "
            "or set PGHOST to use another server"
        )
    return current.socket_dir


def start() -> ServerStatus:
    """Start the embedded server (initialising its data folder on first use) and create the
    warehouse database. Writes ``profiles.yml`` from ``profiles.yml.example``."""
    import pgserver

    home = config.warehouse_home()
    home.mkdir(parents=True, exist_ok=True)
    pgserver.get_server(config.pgdata_dir(), cleanup_mode=None)
    current = status()
    ensure_database(config.DEFAULT_DATABASE)
    write_profile(current.socket_dir)
    return current


def stop() -> bool:
    """Stop the embedded server; False when it was not running."""
    from pgserver._commands import pg_ctl

    current = status()
    if not current.running:
        return False
    user = _system_user()
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=current.pgdata, user=user)
    return True


def _system_user() -> str | None:
    import os

    return "pgserver" if os.geteuid() == 0 else None


def ensure_database(dbname: str) -> None:
    """Create ``dbname`` on the configured server if missing; reporting sessions use UTC. Then
    the access bootstrap (``loaders.access``: roles, privileges, pseudonym key) runs on it."""
    import psycopg
    from psycopg import sql

    from loaders import access

    settings = config.connection_settings()
    with psycopg.connect(settings.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if not exists:
            log.info("creating database %s", dbname)
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
            conn.execute(
                sql.SQL("alter database {} set timezone = 'UTC'").format(sql.Identifier(dbname))
            )
    access.bootstrap(dbname)


def drop_database(dbname: str) -> None:
    import psycopg
    from psycopg import sql

    settings = config.connection_settings()
    with psycopg.connect(settings.conninfo("postgres"), autocommit=True) as conn:
        drop = sql.SQL("drop database if exists {} with (force)")
        conn.execute(drop.format(sql.Identifier(dbname)))


def write_profile(socket: Path | None) -> Path:
    """Write the git-ignored ``profiles.yml`` with the embedded server's socket as default host."""
    text = PROFILE_TEMPLATE.read_text()
    PROFILE_PATH.write_text(text.replace(SOCKET_PLACEHOLDER, str(socket or "localhost")))
    return PROFILE_PATH
