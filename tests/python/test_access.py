"""Roles, masked views and row-level security (``loaders/access.py``, ``models/bi/``), checked
over real connections as each role (``psycopg.connect(..., user=role)``).

One small warehouse is built for the module in the session database with the roles switched
on (loaders SET ROLE to the loader role, dbt acts as the transformer role through a profile
written from profiles.yml.example) and a pseudonym key of the test's own: generated treatment
exports, two days of ADT feed and department extracts, and the clinical files (EHR documents,
claims, fills), loaded, then ``dbt build`` (models, seeds, snapshots; the data tests run in
the other end-to-end tests). Checked:

* the analyst role is refused (a real ``permission denied``, InsufficientPrivilege) on every
  relation of bronze, silver, snapshots, gold, restricted and vault, and on every PII column
  wherever it lives; it reads every bi view;
* the loader role writes bronze and is refused on silver and gold;
* each hospital role sees, in every bi view with a hospital_id, exactly its hospital's rows
  (the superuser's count per hospital on the base table) and every row of the other views;
* no PII value of the generated EHR documents and treatment exports (names, SSNs, phones,
  emails, street lines, dates of birth) appears in any text value of any bi view;
* the pseudonyms are Python's ``hmac.new(key, patient_id, sha256).hexdigest()`` and stay the
  same after another build; the key appears in no SQL text, log or view definition;
* every bi view has exactly its model's columns after var bi_masking (YAML and database).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql
from warehouse_checks import PROJECT_ROOT, run_dbt

from loaders import access, config, feeds, server
from loaders import treatments as treatments_loader
from loaders.db import connect
from loaders.generator import admissions as admissions_generator
from loaders.generator import clinical as clinical_generator
from loaders.generator import treatments as treatments_generator
from loaders.warehouse import drop_project_schemas

TREATMENTS = 400
DAYS = 2
SEED = 20260311
TEST_KEY = "access-test key: not the warehouse's own, ünïcode on purpose"
BI = "bi"
BASE_SCHEMAS = ("gold", "restricted")
REFUSED_SCHEMAS = ("bronze", "silver", "snapshots", "gold", "restricted", "vault")
PROJECT = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())
MASKING: dict[str, list[str]] = PROJECT["vars"]["bi_masking"]
# columns that hold PII wherever they appear (besides the masked ones: the raw ids and dates)
PII_COLUMNS = {*MASKING["drop"], "date_of_birth", "zip"}


@dataclass(frozen=True)
class Warehouse:
    root: Path
    roles: access.Roles
    data: Path


@pytest.fixture(scope="module")
def warehouse(warehouse_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("access")
    profiles = root / "profiles"
    profiles.mkdir()
    socket = os.environ["PGHOST"]
    template = (PROJECT_ROOT / "profiles.yml.example").read_text()
    (profiles / "profiles.yml").write_text(template.replace(server.SOCKET_PLACEHOLDER, socket))
    with pytest.MonkeyPatch.context() as patch:
        roles = access.project_roles()
        patch.setenv(access.KEY_ENV, TEST_KEY)
        patch.setenv("WAREHOUSE_LOADER_ROLE", roles.loader)
        patch.setenv("WAREHOUSE_DBT_ROLE", roles.transformer)
        patch.setenv("DBT_PROFILES_DIR", str(profiles))
        drop_project_schemas()
        access.bootstrap()
        data = root / "data"
        treatments_generator.generate(data / "treatments", treatments=TREATMENTS, seed=SEED)
        admissions_generator.generate(
            data / "admissions", days=DAYS, seed=SEED, treatments=TREATMENTS, file_minutes=120
        )
        clinical_generator.generate(data / "clinical", treatments=TREATMENTS, seed=SEED)
        results = treatments_loader.load(data / "treatments")
        assert [result.status for result in results] == ["loaded", "loaded"], results
        for landing in (data / "admissions" / "landing", data / "clinical" / "landing"):
            results = feeds.load(landing)
            assert all(result.status in ("loaded", "skipped") for result in results), results
        build(root)
        yield Warehouse(root, roles, data)
    # the session database's other tests run with the configured key again
    with suppress(access.AccessError):
        access.bootstrap()


def build(root: Path) -> None:
    run_dbt(root, "build", "--exclude-resource-type", "test", "unit_test")


def connect_as(role: str) -> psycopg.Connection:
    settings = config.connection_settings()
    return psycopg.connect(
        host=settings.host, port=settings.port, dbname=settings.dbname, user=role,
        password=settings.password or None, autocommit=True,
    )


def relations(schemas: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    with connect() as conn:
        return [
            (schema, name) for schema, name in conn.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_schema = any(%s) order by 1, 2",
                (list(schemas),),
            )
        ]


def columns(schema: str, name: str) -> list[tuple[str, str]]:
    with connect() as conn:
        return conn.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, name),
        ).fetchall()


def base_table(name: str) -> tuple[str, str]:
    """The gold or restricted table a bi view masks."""
    found = [(schema, table) for schema, table in relations(BASE_SCHEMAS) if table == name]
    assert len(found) == 1, f"bi.{name}: base table {found}"
    return found[0]


def masked(base_columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The columns a bi view must have: the base columns after var bi_masking."""
    out: list[tuple[str, str]] = []
    for name, data_type in base_columns:
        if name in MASKING["drop"]:
            continue
        if name in MASKING["pseudonymise"]:
            out.append((name, "text"))
        elif name in MASKING["birth_year"]:
            out.append(("birth_year", "integer"))
        elif name in MASKING["zip3"]:
            out.append(("zip3", "text"))
        else:
            out.append((name, data_type))
    return out


def pseudonym(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


# --- privileges --------------------------------------------------------------------------------


def test_analyst_is_refused_outside_bi(warehouse: Warehouse) -> None:
    refused = relations(REFUSED_SCHEMAS)
    assert {schema for schema, _ in refused} == set(REFUSED_SCHEMAS)
    with connect_as(warehouse.roles.analyst) as conn:
        for schema, name in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(
                    sql.SQL("select * from {} limit 1").format(sql.Identifier(schema, name))
                )
        # every PII column, wherever it lives
        pii = [
            (schema, name, column)
            for schema, name in relations([*REFUSED_SCHEMAS, BI])
            for column, _ in columns(schema, name)
            if column in PII_COLUMNS
        ]
        assert any(schema == "restricted" for schema, _, _ in pii)
        assert all(schema != BI for schema, _, _ in pii), "a PII column in a bi view"
        for schema, name, column in pii:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(
                    sql.SQL("select {} from {} limit 1").format(
                        sql.Identifier(column), sql.Identifier(schema, name)
                    )
                )
        # no way around it: no function, no table of its own
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table bi.mine (x int)")


def test_analyst_reads_every_bi_view(warehouse: Warehouse) -> None:
    views = relations([BI])
    assert len(views) >= 30
    empty = []
    with connect_as(warehouse.roles.analyst) as conn:
        for schema, name in views:
            count = conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name))
            ).fetchone()[0]
            if not count:
                empty.append(name)
    assert len(empty) <= 2, f"bi views without rows: {empty}"


def test_loader_writes_bronze_only(warehouse: Warehouse) -> None:
    with connect_as(warehouse.roles.loader) as conn:
        conn.execute("create table bronze.access_probe (x int)")
        conn.execute("insert into bronze.access_probe values (1)")
        assert conn.execute("select count(*) from bronze.access_probe").fetchone()[0] == 1
        conn.execute("drop table bronze.access_probe")
        for statement in (
            "select * from silver.stg_adt__events limit 1",
            "select * from gold.dim_date limit 1",
            "select * from restricted.dim_patient limit 1",
            "create table silver.access_probe (x int)",
            "create table gold.access_probe (x int)",
            "select * from vault.pseudonym_key",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(statement)


def test_loader_and_transformer_own_their_schemas(warehouse: Warehouse) -> None:
    with connect() as conn:
        owners = dict(conn.execute(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace"
            " where nspname = any(%s)",
            (["bronze", "silver", "snapshots", "gold", "restricted", "bi"],),
        ).fetchall())
        relation_owners = conn.execute(
            "select namespace.nspname, pg_get_userbyid(class.relowner), count(*)"
            " from pg_class as class"
            " inner join pg_namespace as namespace on class.relnamespace = namespace.oid"
            " where namespace.nspname = any(%s) and class.relkind in ('r', 'v')"
            " group by 1, 2",
            (list(owners),),
        ).fetchall()
    roles = warehouse.roles
    assert owners.pop("bronze") == roles.loader
    assert set(owners.values()) == {roles.transformer}
    for schema, owner, _ in relation_owners:
        assert owner == (roles.loader if schema == "bronze" else roles.transformer), schema


# --- row-level security ------------------------------------------------------------------------


def test_hospital_roles_see_only_their_rows(warehouse: Warehouse) -> None:
    views = [name for _, name in relations([BI])]
    with_hospital = [name for name in views if "hospital_id" in dict(columns(BI, name))]
    assert {"fct_treatments", "fct_encounters", "fct_claims", "readmission_rates"} <= set(
        with_hospital
    )
    expected: dict[str, dict[str | None, int]] = {}
    totals: dict[str, int] = {}
    with connect() as conn:  # the superuser, on the base tables (RLS does not bind it)
        for name in views:
            base = sql.Identifier(*base_table(name))
            count = conn.execute(sql.SQL("select count(*) from {}").format(base))
            totals[name] = count.fetchone()[0]
            if name in with_hospital:
                expected[name] = dict(conn.execute(
                    sql.SQL("select hospital_id, count(*) from {} group by 1").format(base)
                ).fetchall())
    assert sum(bool(counts.get("H001")) for counts in expected.values()) >= 5
    for hospital_id, role in warehouse.roles.hospital_roles.items():
        with connect_as(role) as conn:
            for name in views:
                view = sql.Identifier(BI, name)
                if name in with_hospital:
                    seen = dict(conn.execute(
                        sql.SQL("select hospital_id, count(*) from {} group by 1").format(view)
                    ).fetchall())
                    wanted = {hospital_id: expected[name][hospital_id]} if expected[name].get(
                        hospital_id) else {}
                    assert seen == wanted, f"{role} on bi.{name}"
                else:
                    count = conn.execute(sql.SQL("select count(*) from {}").format(view))
                    assert count.fetchone()[0] == totals[name], f"{role} on bi.{name}"
            # and never the base tables themselves
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select count(*) from gold.fct_treatments")
    with connect_as(warehouse.roles.analyst) as conn:
        for name in views:
            view = sql.Identifier(BI, name)
            count = conn.execute(sql.SQL("select count(*) from {}").format(view))
            assert count.fetchone()[0] == totals[name], f"analyst on bi.{name}"


# --- no PII in the masked views ----------------------------------------------------------------


def _typed_strings(value: Any, wanted: set[str], found: dict[str, set[str]], key: str = "") -> None:
    """Strings under the keys ``wanted`` of a DynamoDB-JSON or plain JSON document."""
    if isinstance(value, dict):
        if key in wanted and set(value) == {"S"} and isinstance(value["S"], str):
            found.setdefault(key, set()).add(value["S"])
            return
        for child_key, child in value.items():
            _typed_strings(child, wanted, found, child_key if child_key not in ("M", "S") else key)
    elif isinstance(value, list):
        for child in value:
            _typed_strings(child, wanted, found, key)
    elif isinstance(value, str) and key in wanted:
        found.setdefault(key, set()).add(value)


def generated_pii(data: Path) -> dict[str, set[str]]:
    """Every PII value of the generated EHR documents and treatment exports, by kind."""
    pii: dict[str, set[str]] = {kind: set() for kind in (
        "first", "last", "full", "ssn", "phone", "email", "line", "dob")}
    for path in sorted((data / "clinical" / "landing" / "ehr").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(document, dict):
                continue
            name = document.get("name") or {}
            first, last = name.get("first"), name.get("last")
            for kind, value in (
                ("first", first), ("last", last), ("ssn", document.get("ssn")),
                ("phone", document.get("phone")), ("email", document.get("email")),
                ("line", (document.get("address") or {}).get("line")),
                ("dob", document.get("date_of_birth")),
            ):
                if isinstance(value, str) and value.strip():
                    pii[kind].add(value.strip())
            if first and last:
                pii["full"].add(f"{first} {last}")
    for path in sorted((data / "treatments").rglob("*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                found: dict[str, set[str]] = {}
                wanted = {"first_name", "last_name", "date_of_birth"}
                _typed_strings(json.loads(line), wanted, found)
                pii["first"] |= found.get("first_name", set())
                pii["last"] |= found.get("last_name", set())
                pii["dob"] |= found.get("date_of_birth", set())
                for first in found.get("first_name", set()):
                    for last in found.get("last_name", set()):
                        pii["full"].add(f"{first} {last}")
    return {kind: {value for value in values if value} for kind, values in pii.items()}


def test_no_pii_in_any_bi_view(warehouse: Warehouse) -> None:
    pii = generated_pii(warehouse.data)
    assert all(len(pii[kind]) >= 20 for kind in pii), {kind: len(v) for kind, v in pii.items()}
    assert all(re.fullmatch(r"9\d\d-\d\d-\d{4}", ssn) for ssn in pii["ssn"])
    whole_values: set[str] = set()
    texts: list[str] = []
    with connect_as(warehouse.roles.analyst) as conn:
        for _, name in relations([BI]):
            for column, data_type in columns(BI, name):
                values = conn.execute(
                    sql.SQL("select distinct cast({} as text) from {}").format(
                        sql.Identifier(column), sql.Identifier(BI, name)
                    )
                ).fetchall()
                for (value,) in values:
                    if value is None:
                        continue
                    texts.append(value)
                    if data_type in ("text", "character varying"):
                        whole_values.add(value.strip())
    assert len(texts) > 1000
    corpus = "\x00".join(texts).lower()
    leaks = [
        f"{kind}: {value}"
        for kind in ("full", "ssn", "phone", "email", "line")
        for value in sorted(pii[kind])
        if value.lower() in corpus
    ]
    lowered = {value.lower() for value in whole_values}
    leaks += [
        f"{kind}: {value}"
        for kind in ("first", "last", "dob")
        for value in sorted(pii[kind])
        if value.lower() in lowered
    ]
    assert not leaks, f"{len(leaks)} PII values in bi views, e.g. {leaks[:10]}"


# --- pseudonyms --------------------------------------------------------------------------------


def pseudonyms_by_view() -> dict[tuple[str, str], set[str]]:
    """Per (bi view, pseudonymised column): its distinct values, read as the superuser."""
    found: dict[tuple[str, str], set[str]] = {}
    with connect() as conn:
        for _, name in relations([BI]):
            for column, _ in columns(BI, name):
                if column in MASKING["pseudonymise"]:
                    rows = conn.execute(
                        sql.SQL("select distinct {} from {} where {} is not null").format(
                            sql.Identifier(column), sql.Identifier(BI, name),
                            sql.Identifier(column),
                        )
                    ).fetchall()
                    found[(name, column)] = {row[0] for row in rows}
    return found


def test_pseudonyms_are_hmac_sha256_and_stable(warehouse: Warehouse) -> None:
    key = TEST_KEY.encode("utf-8")
    before = pseudonyms_by_view()
    assert ("dim_patient", "patient_id") in before and ("fct_claims", "patient_id") in before
    with connect() as conn:
        for (name, column), values in before.items():
            schema, table = base_table(name)
            raw = conn.execute(
                sql.SQL("select distinct {} from {} where {} is not null").format(
                    sql.Identifier(column), sql.Identifier(schema, table), sql.Identifier(column)
                )
            ).fetchall()
            assert values == {pseudonym(key, row[0]) for row in raw}, f"bi.{name}.{column}"
    # the same patient has the same pseudonym in every view (BI can join them)
    assert before[("fct_claims", "patient_id")] & before[("dim_patient", "patient_id")]
    # another build: the same pseudonyms
    build(warehouse.root)
    assert pseudonyms_by_view() == before


def test_the_key_is_in_no_sql_log_or_view_definition(warehouse: Warehouse) -> None:
    key = TEST_KEY.encode("utf-8")
    needles = [key, key.hex().encode(), TEST_KEY.encode("unicode_escape")]
    for path in warehouse.root.rglob("*"):
        if path.is_file() and "data" not in path.relative_to(warehouse.root).parts[:1]:
            content = path.read_bytes()
            assert not any(needle in content for needle in needles), path
    with connect() as conn:
        definitions = conn.execute(
            "select string_agg(pg_get_viewdef(class.oid), ' ') from pg_class as class"
            " inner join pg_namespace as namespace on class.relnamespace = namespace.oid"
            " where class.relkind = 'v' and namespace.nspname = any(%s)",
            (["bi", "silver", "gold", "restricted"],),
        ).fetchone()[0]
    assert "pseudonym_key" in definitions
    assert TEST_KEY not in definitions and key.hex() not in definitions


# --- the bi views cannot drift from their models -----------------------------------------------


def test_bi_views_have_the_masked_columns_of_their_models(warehouse: Warehouse) -> None:
    views = {name for _, name in relations([BI])}
    bases = {name for _, name in relations(BASE_SCHEMAS)}
    with connect() as conn:
        tables = {row[0] for row in conn.execute(
            "select table_name from information_schema.tables"
            " where table_schema = any(%s) and table_type = 'BASE TABLE'",
            (list(BASE_SCHEMAS),),
        )}
    assert tables <= views, f"gold/restricted tables without a bi view: {sorted(tables - views)}"
    assert views <= bases
    for name in sorted(views):
        expected = masked(columns(*base_table(name)))
        assert columns(BI, name) == expected, f"bi.{name}"


def _yaml_models(folder: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    models: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(folder.rglob("_*__models.yml")):
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            models[model["name"]] = (path, model)
    return models


def test_bi_yaml_matches_the_marts_yaml() -> None:
    """No database: every marts model has a bi model whose YAML columns (names and types)
    are the model's after var bi_masking, with the analyst grant and a grain test."""
    marts = _yaml_models(PROJECT_ROOT / "models" / "marts")
    bi = _yaml_models(PROJECT_ROOT / "models" / "bi")
    built = {name for name, (path, _) in marts.items() if (path.parent / f"{name}.sql").exists()}
    assert {f"bi_{name}" for name in built} == set(bi)
    for name in sorted(built):
        path, view = bi[f"bi_{name}"]
        source = marts[name][1]
        expected = masked([(c["name"], c["data_type"]) for c in source["columns"]])
        assert [(c["name"], c["data_type"]) for c in view["columns"]] == expected, name
        area = marts[name][0].parent.name
        assert path.parent.name == area, f"bi_{name} belongs in models/bi/{area}/"
        sql_text = (path.parent / f"bi_{name}.sql").read_text().strip()
        assert sql_text == f"{{{{ masked_view('{name}') }}}}", name
        assert view["config"]["grants"]["select"] == ["{{ var('warehouse_roles')['analyst'] }}"]
        column_tests = [t for c in view["columns"] for t in c.get("data_tests") or []]
        model_tests = view.get("data_tests") or []
        assert "unique" in column_tests or any(
            "dbt_utils.unique_combination_of_columns" in test for test in model_tests
        ), f"bi_{name} has no grain test"


# --- all-or-nothing: a failed build keeps the bi views -----------------------------------------


def view_state() -> dict[str, tuple[str, int]]:
    with connect() as conn:
        return {
            name: (definition, count)
            for name, definition, count in (
                (name, conn.execute("select pg_get_viewdef(%s::regclass)", (f"bi.{name}",))
                 .fetchone()[0],
                 conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(BI, name)))
                 .fetchone()[0])
                for _, name in relations([BI])
            )
        }


def test_a_failed_build_keeps_the_bi_views(warehouse: Warehouse) -> None:
    """dim_disease and its view are rebuilt, then treatments_by_state fails (a lock): on-run-end
    puts the previous gold tables and bi views back, and the analyst still reads every view."""
    before = view_state()
    command = [
        str(PROJECT_ROOT / ".venv" / "bin" / "dbt"), "run", "--select",
        "dim_disease", "bi_dim_disease", "treatments_by_state", "bi_treatments_by_state",
        "--project-dir", str(PROJECT_ROOT), "--profiles-dir", os.environ["DBT_PROFILES_DIR"],
        "--target-path", str(warehouse.root / "dbt-target"),
        "--log-path", str(warehouse.root / "dbt-logs"),
    ]
    with connect() as locker:
        locker.execute("lock table gold.treatments_by_state in access exclusive mode")
        completed = subprocess.run(
            command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
            env={**os.environ, "PGOPTIONS": "-c lock_timeout=2s"},
        )
        locker.rollback()
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output[-3000:]
    assert "put back" in output and "bi.dim_disease" in output, output[-3000:]
    assert view_state() == before
    with connect_as(warehouse.roles.analyst) as conn:
        for _, name in relations([BI]):
            conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(BI, name)))
