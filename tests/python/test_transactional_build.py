"""All-or-nothing gold: a build that fails half-way leaves every gold relation as it was.

dbt replaces each model in its own transaction; the project's on-run-start/on-run-end hooks and
marts hooks (macros begin_gold_refresh, keep_previous_version, copy_previous_version,
end_gold_refresh, restore_previous_versions) keep each gold model's previous version during a
build and put all of them back in one transaction when any node does not succeed.

Failures are forced without touching the project: a session of the test holds an ACCESS
EXCLUSIVE lock on one relation while dbt runs with ``lock_timeout`` (PGOPTIONS), so the model
or test that needs it fails at run time, after the models before it were refreshed.

On 2,000 treatments and 3 days of admissions (cycle 1 and the first days built, then cycle 2
and the last day loaded):

1. a failing model: the lock on ``treatments_per_city`` (downstream of ``fct_treatments``)
   makes that model fail after the dims and the incremental fact were refreshed; dbt exits
   non-zero and every gold relation (rows and definition) equals its pre-build state, while
   readers querying gold during the build never get an error;
2. a failing test: a build of ``fct_treatments`` whose relationships test to ``dim_disease``
   cannot run (that table is locked) puts the refreshed fact back as well;
3. a killed build: ``dbt run`` is killed (SIGKILL) while it waits for the lock; gold is then
   half-updated (the fact is new), and the next dbt run restores it before doing anything;
4. the next successful build publishes everything: the fact holds every accepted treatment of
   cycle 2 and the relations the new data touches have changed.

Builds leave out data tests (and unit tests), which the end-to-end tests run: the mechanism
depends on dbt's node results, not on what the nodes are.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from warehouse_checks import DBT, PROJECT_ROOT, fetch_rows, profiles_dir, run_dbt

from loaders import feeds
from loaders import treatments as treatments_loader
from loaders.db import connect
from loaders.generator import admissions as admissions_generator
from loaders.generator import treatments as treatments_generator
from loaders.warehouse import drop_project_schemas

TREATMENTS = 2000
DAYS = 3
SEED = 20250705
GOLD = "gold"
HOLDING = "gold_previous"  # var previous_versions_schema in dbt_project.yml
LOCKED_MODEL = "treatments_per_city"  # a gold table built from fct_treatments
LOCK_TIMEOUT = "2s"
# seeds, snapshots and models: data tests and unit tests are left to the end-to-end tests
WITHOUT_TESTS = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")

RELATION_STATE = """
select
    relation.relkind as kind,
    (
        select string_agg(
            attribute.attname || ' ' || format_type(attribute.atttypid, attribute.atttypmod)
            || case when attribute.attnotnull then ' not null' else '' end,
            ', ' order by attribute.attnum
        )
        from pg_attribute as attribute
        where attribute.attrelid = relation.oid and attribute.attnum > 0
            and not attribute.attisdropped
    ) as columns,
    (
        select string_agg(definition, ', ' order by definition)
        from (
            select pg_get_constraintdef(constraint_row.oid) as definition
            from pg_constraint as constraint_row
            where constraint_row.conrelid = relation.oid
        ) as definitions
    ) as constraints
from pg_class as relation
where relation.oid = %s::regclass
"""


# --- helpers ---------------------------------------------------------------------------------


def gold_relations() -> list[str]:
    rows = fetch_rows(
        sql.SQL(
            "select relname from pg_class where relnamespace = {}::regnamespace"
            " and relkind in ('r', 'p', 'v', 'm') order by relname"
        ).format(sql.Literal(GOLD))
    )
    return [row["relname"] for row in rows]


def gold_state() -> dict[str, dict[str, Any]]:
    """Per gold relation: kind, columns, constraints, row count and a checksum of its rows."""
    state: dict[str, dict[str, Any]] = {}
    with connect() as conn:
        for name in gold_relations():
            identifier = sql.Identifier(GOLD, name)
            row = conn.execute(RELATION_STATE, (f'{GOLD}."{name}"',)).fetchone()
            assert row is not None
            count, checksum = conn.execute(
                sql.SQL(
                    "select count(*), md5(coalesce(string_agg(row_hash, '' order by row_hash),"
                    " '')) from (select md5(cast(relation as text)) as row_hash"
                    " from {} as relation) as hashes"
                ).format(identifier)
            ).fetchone()
            state[name] = {
                "kind": row[0], "columns": row[1], "constraints": row[2], "rows": count,
                "checksum": checksum,
            }
    return state


def state_differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    problems = [f"{name}: missing now" for name in sorted(set(before) - set(after))]
    problems += [f"{name}: not there before" for name in sorted(set(after) - set(before))]
    for name in sorted(set(before) & set(after)):
        for key, value in before[name].items():
            if after[name][key] != value:
                problems.append(f"{name}.{key}: {value!r} before, {after[name][key]!r} now")
    return problems


def holding_schema_exists() -> bool:
    rows = fetch_rows(
        sql.SQL("select count(*) as found from pg_namespace where nspname = {}").format(
            sql.Literal(HOLDING)
        )
    )
    return rows[0]["found"] == 1


def dbt_command(tmp_path: Path, *args: str) -> list[str]:
    """The command run_dbt runs (same target and log folders, so partial parsing is reused)."""
    return [
        str(DBT), *args,
        "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(profiles_dir()),
        "--target-path", str(tmp_path / "dbt-target"), "--log-path", str(tmp_path / "dbt-logs"),
    ]


def dbt_environment(lock_timeout: str | None) -> dict[str, str]:
    environment = dict(os.environ)
    if lock_timeout is not None:
        environment["PGOPTIONS"] = f"-c lock_timeout={lock_timeout}"
    return environment


def run_failing_dbt(tmp_path: Path, *args: str) -> str:
    """Run dbt (lock_timeout set) and return its output; it must exit non-zero."""
    completed = subprocess.run(
        dbt_command(tmp_path, *args), cwd=PROJECT_ROOT, env=dbt_environment(LOCK_TIMEOUT),
        capture_output=True, text=True, timeout=600, check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, "dbt succeeded although a relation was locked:\n" + output
    return output


def all_or_nothing_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "All-or-nothing gold:" in line]


class LockedRelation:
    """A session holding an ACCESS EXCLUSIVE lock on one relation until closed."""

    def __init__(self, schema: str, name: str) -> None:
        self.conn = connect()
        self.conn.execute(
            sql.SQL("lock table {} in access exclusive mode").format(sql.Identifier(schema, name))
        )

    def close(self) -> None:
        self.conn.rollback()
        self.conn.close()


class GoldReaders(threading.Thread):
    """Reads every gold relation (but one) over and over, recording every error."""

    def __init__(self, relations: list[str]) -> None:
        super().__init__(daemon=True)
        self.relations = relations
        self.stop = threading.Event()
        self.reads = 0
        self.errors: list[str] = []

    def run(self) -> None:
        with connect(autocommit=True) as conn:
            conn.execute("set lock_timeout = '60s'")
            while not self.stop.is_set():
                for name in self.relations:
                    try:
                        conn.execute(
                            sql.SQL("select count(*) from {}").format(sql.Identifier(GOLD, name))
                        ).fetchone()
                        self.reads += 1
                    except psycopg.Error as error:
                        self.errors.append(f"{name}: {error}")
                time.sleep(0.05)


def copy_landing_files(source: Path, target: Path, days: list[str]) -> None:
    """Copy the landing files of these days (folder names YYYY-MM-DD) under ``target``."""
    for path in sorted(source.rglob("*")):
        if path.is_file() and path.parent.name in days:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def load_treatments(export_folder: Path) -> None:
    results = treatments_loader.load(export_folder)
    assert results and all(result.status == "loaded" for result in results), results


def load_feed(landing: Path) -> None:
    """Load the landing folder: new files load (an extract identical to the day before is
    skipped), none fails."""
    results = feeds.load(landing)
    assert any(result.status == "loaded" for result in results), results
    assert all(result.status in ("loaded", "skipped") for result in results), results


def kill_dbt_waiting_for_lock(tmp_path: Path) -> None:
    """Start ``dbt run``, SIGKILL it once it waits for the locked model, end its sessions."""
    process = subprocess.Popen(
        dbt_command(tmp_path, "run"), cwd=PROJECT_ROOT, env=dbt_environment(None),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            waiting = fetch_rows(
                sql.SQL(
                    "select count(*) as waiting from pg_locks"
                    " where not granted and relation = to_regclass({})"
                ).format(sql.Literal(f"{GOLD}.{LOCKED_MODEL}"))
            )
            if waiting[0]["waiting"]:
                break
            assert process.poll() is None, "dbt ended before it reached the locked model:\n" + (
                process.stdout.read() if process.stdout else ""
            )
            assert time.monotonic() < deadline, "dbt never reached the locked model"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    # the server ends a killed client's sessions only when it next talks to it
    with connect(autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and application_name = 'dbt'"
        )


# --- the test -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_failed_build_leaves_gold_unchanged(warehouse_db: str, tmp_path: Path) -> None:
    drop_project_schemas()
    generated = tmp_path / "generated"
    treatments_generator.generate(generated / "treatments", treatments=TREATMENTS, seed=SEED)
    admissions_generator.generate(
        generated / "admissions", days=DAYS, seed=SEED, treatments=TREATMENTS
    )
    source = generated / "admissions" / "landing"
    days = sorted({path.parent.name for path in source.rglob("*.*")})
    landing = tmp_path / "landing"

    # a built warehouse: treatment cycle 1 and the first two days of admissions
    copy_landing_files(source, landing, days[:2])
    load_treatments(generated / "treatments" / "cycle-1")
    load_feed(landing)
    run_dbt(tmp_path, "build", *WITHOUT_TESTS)
    assert not holding_schema_exists(), "a successful build left the previous versions behind"
    before = gold_state()
    assert len(before) >= 20 and before["fct_treatments"]["rows"] > 0, before.keys()

    # new data: treatment cycle 2 and the rest of the admissions feed
    load_treatments(generated / "treatments" / "cycle-2")
    copy_landing_files(source, landing, days[2:])
    load_feed(landing)

    # 1. a model fails in the middle of the build, while readers query gold
    readers = GoldReaders([name for name in before if name != LOCKED_MODEL])
    lock = LockedRelation(GOLD, LOCKED_MODEL)
    readers.start()
    try:
        output = run_failing_dbt(tmp_path, "build", *WITHOUT_TESTS)
    finally:
        readers.stop.set()
        readers.join(timeout=120)
        lock.close()
    assert f"ERROR creating sql table model {GOLD}.{LOCKED_MODEL}" in output, output[-3000:]
    assert f"OK created sql incremental model {GOLD}.fct_treatments" in output, output[-3000:]
    restored = all_or_nothing_lines(output)
    assert restored and f"{GOLD}.fct_treatments" in restored[0], output[-3000:]
    problems = state_differences(before, gold_state())
    assert not problems, "gold changed although the build failed:\n" + "\n".join(problems)
    assert not holding_schema_exists()
    assert readers.reads > 0 and not readers.errors, readers.errors[:10]

    # 2. a test fails after its model was refreshed (nothing downstream is skipped): the
    # relationships test of fct_treatments.disease_key cannot read dim_disease
    lock = LockedRelation(GOLD, "dim_disease")
    try:
        output = run_failing_dbt(tmp_path, "build", "--select", "fct_treatments")
    finally:
        lock.close()
    assert f"OK created sql incremental model {GOLD}.fct_treatments" in output, output[-3000:]
    assert "ERROR relationships_fct_treatments_disease_key" in output, output[-3000:]
    assert "SKIP=0" in output, output[-3000:]
    problems = state_differences(before, gold_state())
    assert not problems, "gold changed although a test failed:\n" + "\n".join(problems)

    # 3. a build killed half-way leaves gold half-updated until the next dbt run restores it
    lock = LockedRelation(GOLD, LOCKED_MODEL)
    try:
        kill_dbt_waiting_for_lock(tmp_path)
    finally:
        lock.close()
    half_updated = gold_state()
    assert holding_schema_exists()
    assert half_updated["fct_treatments"] != before["fct_treatments"]
    assert half_updated[LOCKED_MODEL] == before[LOCKED_MODEL]
    output = run_dbt(tmp_path, "run", "--select", "stg_adt__events")
    restored = all_or_nothing_lines(output)
    assert restored and "the previous build did not finish" in restored[0], output[-3000:]
    problems = state_differences(before, gold_state())
    assert not problems, "the killed build was not undone:\n" + "\n".join(problems)
    assert not holding_schema_exists()

    # 4. the next successful build brings everything up to date
    run_dbt(tmp_path, "build", *WITHOUT_TESTS)
    after = gold_state()
    assert not holding_schema_exists()
    assert set(after) == set(before)
    for name in after:
        assert (after[name]["columns"], after[name]["constraints"]) == (
            before[name]["columns"], before[name]["constraints"]
        ), name
    facts = fetch_rows("select count(*) as treatments from silver.stg_dynamo__treatments")
    assert after["fct_treatments"]["rows"] == facts[0]["treatments"]
    assert after["fct_treatments"]["rows"] > before["fct_treatments"]["rows"]
    changed = {name for name in after if after[name]["checksum"] != before[name]["checksum"]}
    assert {"fct_treatments", LOCKED_MODEL, "dim_provider", "fct_encounters"} <= changed, changed
