"""Roles, privileges and the pseudonym key: the access bootstrap (``python -m loaders access``).

Run as the admin login (the PG* user, ``postgres`` on the embedded server), idempotent, and
run by ``server.ensure_database`` for every database it ensures (so ``make db-start`` and the
test fixture get it). The role names are declared once, in dbt_project.yml (vars
``warehouse_roles`` and ``hospital_roles``); dbt's grants and the row-level security policy use
the same vars.

* **Roles** (cluster-wide, LOGIN without a password unless said): the loader (writes bronze
  only), the transformer (dbt: owns silver, snapshots, gold, restricted, bi), the analyst
  (reads the masked ``bi`` views only; dbt grants that), the NOLOGIN group of the hospital
  roles, and one role per hospital, a member of the analyst role and of that group.
* **Database**: CONNECT to every role, CREATE (schemas) to the loader and the transformer; the
  admin login becomes a member of both so it can ``SET ROLE`` to them.
* **bronze** belongs to the loader; default privileges for the loader give the transformer
  USAGE on the schemas and SELECT on the tables it creates (and grants on what exists).
* **vault** (owned by the admin login) holds ``vault.pseudonym_key``, the HMAC key of the
  pseudonymous patient ids in the ``bi`` views, readable by the transformer only. The key is
  env ``WAREHOUSE_PSEUDONYM_KEY`` (text, its UTF-8 bytes are the key), written with a
  parameterised query and never logged. Without it, on the embedded server, 32 random bytes
  are generated once, as hex, into ``.warehouse/pseudonym.key`` (mode 600) and used; on an
  external server the bootstrap refuses.
* **Upgrade path**: project schemas and relations created before the roles existed (or by the
  login role) are handed to their role: bronze to the loader, the dbt schemas to the
  transformer.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from loaders import config

log = logging.getLogger(__name__)

KEY_ENV = "WAREHOUSE_PSEUDONYM_KEY"
VAULT_SCHEMA = "vault"
KEY_TABLE = "pseudonym_key"
LOADER_SCHEMA = "bronze"
# schemas dbt creates (the transformer's): silver, snapshots, gold, restricted, bi and the
# all-or-nothing holding schema (dbt var previous_versions_schema)
TRANSFORMER_SCHEMAS = ("silver", "snapshots", "gold", "restricted", "bi")
# one bootstrap at a time on a server: roles are cluster-wide, so two databases bootstrapped at
# once would race on CREATE ROLE and GRANT (the lock is taken in the maintenance database)
_CLUSTER_LOCK = 7_401_260_001


class AccessError(RuntimeError):
    """The bootstrap could not run (e.g. no pseudonym key for an external server)."""


@dataclass(frozen=True)
class Roles:
    loader: str
    transformer: str
    analyst: str
    hospitals: str
    hospital_roles: dict[str, str]

    def login_roles(self) -> list[str]:
        return [self.loader, self.transformer, self.analyst, *self.hospital_roles.values()]


def project_roles() -> Roles:
    """The role names of dbt_project.yml (vars warehouse_roles, hospital_roles)."""
    import yaml

    project = yaml.safe_load((config.PROJECT_ROOT / "dbt_project.yml").read_text())
    variables = project["vars"]
    named = variables["warehouse_roles"]
    return Roles(
        loader=str(named["loader"]),
        transformer=str(named["transformer"]),
        analyst=str(named["analyst"]),
        hospitals=str(named["hospitals"]),
        hospital_roles={str(h): str(r) for h, r in variables["hospital_roles"].items()},
    )


def pseudonym_key() -> bytes:
    """The HMAC key: env WAREHOUSE_PSEUDONYM_KEY's UTF-8 bytes; else, on the embedded server,
    the key generated once into .warehouse/pseudonym.key; else AccessError."""
    text = os.environ.get(KEY_ENV)
    if text:
        return text.encode("utf-8")
    if not config.is_embedded():
        raise AccessError(
            f"{KEY_ENV} is not set: on an external server the pseudonym key (the secret of the "
            "BI views' patient pseudonyms) must come from that environment variable"
        )
    return _embedded_key(config.pseudonym_key_file()).encode("utf-8")


def _embedded_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # written meanwhile by another process
            pass
        else:
            with os.fdopen(handle, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
            log.info("generated a pseudonym key into %s", path)
    key = path.read_text().strip()
    if not key:
        raise AccessError(f"{path} is empty: delete it to generate a new pseudonym key")
    return key


def bootstrap(dbname: str | None = None, *, key: bytes | None = None) -> Roles:
    """Roles, privileges and key for database ``dbname`` (default: the configured one)."""
    settings = config.connection_settings()
    dbname = dbname or settings.dbname
    roles = project_roles()
    key = key if key is not None else pseudonym_key()
    admin = psycopg.connect(settings.conninfo("postgres"), autocommit=True)
    with admin, admin.transaction():
        admin.execute("select pg_advisory_xact_lock(%s)", (_CLUSTER_LOCK,))
        _ensure_roles(admin, roles)
        _grant_database(admin, dbname, roles)
    with psycopg.connect(settings.conninfo(dbname), autocommit=True) as conn:
        with conn.transaction():
            _ensure_vault(conn, roles, key)
        with conn.transaction():
            _grant_bronze(conn, roles)
            transformer_schemas = [*TRANSFORMER_SCHEMAS, *_holding_schema()]
            _hand_over(conn, [LOADER_SCHEMA], roles.loader)
            _hand_over(conn, transformer_schemas, roles.transformer)
    log.info("access bootstrap done for database %s", dbname)
    return roles


def _holding_schema() -> list[str]:
    from loaders.backup import build_holding_schema

    holding = build_holding_schema()
    return [holding] if holding else []


def _role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is not None


def _ensure_roles(conn: psycopg.Connection, roles: Roles) -> None:
    if not _role_exists(conn, roles.hospitals):
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(roles.hospitals)))
    for role in roles.login_roles():
        if not _role_exists(conn, role):
            conn.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
    for role in roles.hospital_roles.values():
        for group in (roles.analyst, roles.hospitals):
            _grant_membership(conn, group, role)
    login = conn.execute("select current_user").fetchone()[0]
    for role in (roles.loader, roles.transformer):
        _grant_membership(conn, role, login)


def _grant_membership(conn: psycopg.Connection, group: str, member: str) -> None:
    granted = conn.execute(
        "select exists (select from pg_auth_members"
        " where roleid = to_regrole(quote_ident(%s)) and member = to_regrole(quote_ident(%s)))",
        (group, member),
    ).fetchone()[0]
    if not granted:
        conn.execute(
            sql.SQL("grant {} to {}").format(sql.Identifier(group), sql.Identifier(member))
        )


def _grant_database(conn: psycopg.Connection, dbname: str, roles: Roles) -> None:
    database = sql.Identifier(dbname)
    for role in [*roles.login_roles(), roles.hospitals]:
        conn.execute(
            sql.SQL("grant connect on database {} to {}").format(database, sql.Identifier(role))
        )
    for role in (roles.loader, roles.transformer):
        conn.execute(
            sql.SQL("grant create on database {} to {}").format(database, sql.Identifier(role))
        )


def _ensure_vault(conn: psycopg.Connection, roles: Roles, key: bytes) -> None:
    vault = sql.Identifier(VAULT_SCHEMA)
    table = sql.Identifier(VAULT_SCHEMA, KEY_TABLE)
    transformer = sql.Identifier(roles.transformer)
    conn.execute(sql.SQL("create schema if not exists {}").format(vault))
    conn.execute(sql.SQL("revoke all on schema {} from public").format(vault))
    conn.execute(sql.SQL("create table if not exists {} (key bytea not null)").format(table))
    conn.execute(sql.SQL("revoke all on {} from public").format(table))
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(vault, transformer))
    conn.execute(sql.SQL("grant select on {} to {}").format(table, transformer))
    stored = conn.execute(sql.SQL("select key from {}").format(table)).fetchall()
    if [bytes(row[0]) for row in stored] != [key]:
        conn.execute(sql.SQL("delete from {}").format(table))
        conn.execute(sql.SQL("insert into {} (key) values (%s)").format(table), (key,))
        log.info("pseudonym key written to %s.%s", VAULT_SCHEMA, KEY_TABLE)


def _grant_bronze(conn: psycopg.Connection, roles: Roles) -> None:
    loader = sql.Identifier(roles.loader)
    transformer = sql.Identifier(roles.transformer)
    # not "in schema bronze": those would go with the schema when a reset drops it
    conn.execute(
        sql.SQL("alter default privileges for role {} grant usage on schemas to {}").format(
            loader, transformer
        )
    )
    conn.execute(
        sql.SQL("alter default privileges for role {} grant select on tables to {}").format(
            loader, transformer
        )
    )
    if _schema_exists(conn, LOADER_SCHEMA):
        bronze = sql.Identifier(LOADER_SCHEMA)
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(bronze, transformer))
        conn.execute(
            sql.SQL("grant select on all tables in schema {} to {}").format(bronze, transformer)
        )


def _schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    found = conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
    return found is not None


def _hand_over(conn: psycopg.Connection, schemas: Iterable[str], role: str) -> None:
    """Make ``role`` the owner of ``schemas`` and of the relations in them (upgrade path)."""
    owner = sql.Identifier(role)
    rows = conn.execute(
        """
        select namespace.nspname, null::text, null::"char"
        from pg_namespace as namespace
        where namespace.nspname = any(%(schemas)s)
            and pg_get_userbyid(namespace.nspowner) <> %(role)s
        union all
        select namespace.nspname, class.relname, class.relkind
        from pg_class as class
        inner join pg_namespace as namespace on class.relnamespace = namespace.oid
        where namespace.nspname = any(%(schemas)s)
            and class.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
            and pg_get_userbyid(class.relowner) <> %(role)s
            -- a sequence owned by a table follows its table
            and not exists (
                select from pg_depend as depend
                where depend.classid = 'pg_class'::regclass and depend.objid = class.oid
                    and depend.deptype in ('a', 'i')
            )
        order by 2 nulls first
        """,
        {"schemas": list(schemas), "role": role},
    ).fetchall()
    kinds = {"v": "view", "m": "materialized view", "S": "sequence", "f": "foreign table"}
    for schema, name, kind in rows:
        if name is None:
            statement = sql.SQL("alter schema {} owner to {}").format(
                sql.Identifier(schema), owner
            )
        else:
            statement = sql.SQL("alter {} {} owner to {}").format(
                sql.SQL(kinds.get(kind, "table")), sql.Identifier(schema, name), owner
            )
        conn.execute(statement)
    if rows:
        log.info("%d schema(s)/relation(s) handed over to %s", len(rows), role)
