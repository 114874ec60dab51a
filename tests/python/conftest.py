"""Shared fixtures: a throw-away warehouse database (export helpers live in export_files.py).

``warehouse_db`` (session) creates ``test_<random>`` on the configured server (the PG*
variables) or, without PGHOST, on the embedded server, which it starts if needed. While the
session runs, PGHOST and PGDATABASE name that database, so ``loaders.db.connect``, the loaders
and dbt (profiles.yml reads PG*) all use it. The database is dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

# Property tests (test_properties.py): "ci", the default, is fast and the same on every run;
# HYPOTHESIS_PROFILE=thorough searches far more examples, with random seeds.
settings.register_profile("ci", max_examples=100, derandomize=True, deadline=None)
settings.register_profile("thorough", max_examples=2_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def warehouse_db() -> Iterator[str]:
    """Name of a fresh database for this test session, with PGHOST and PGDATABASE set to it."""
    from loaders import config, server

    with pytest.MonkeyPatch.context() as patch:
        started_here = False
        if not config.is_external():
            current = server.status()
            was_running = current.running
            if not was_running:
                current = server.start()
            started_here = not was_running
            patch.setenv("PGHOST", str(current.socket_dir))
        name = f"test_{uuid.uuid4().hex[:12]}"
        server.ensure_database(name)
        patch.setenv("PGDATABASE", name)
        try:
            yield name
        finally:
            server.drop_database(name)
            if started_here:
                patch.delenv("PGHOST")
                server.stop()


@pytest.fixture
def empty_bronze(warehouse_db: str) -> str:
    """The session database with no ``bronze`` schema (the loader creates it again)."""
    from loaders.db import connect

    with connect(autocommit=True) as conn:
        conn.execute("drop schema if exists bronze cascade")
    return warehouse_db


