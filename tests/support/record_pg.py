"""PostgreSQL test databases: a fresh database per run (or per test), dropped afterwards."""

from __future__ import annotations

import os
import uuid

PG_SERVER = os.environ.get("STRIGIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
ADMIN_DB = "test"


def admin_execute(sql: str) -> None:
    """Run one statement on the admin database (autocommit)."""
    import psycopg

    dsn = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + f"/{ADMIN_DB}"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


def fresh_pg_database() -> tuple[str, str]:
    """Create an empty PostgreSQL database; returns (url, name) — the caller drops it."""
    name = f"strigil_record_{uuid.uuid4().hex[:12]}"
    admin_execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}", name


def drop_pg_database(name: str) -> None:
    """Drop a database made by `fresh_pg_database`."""
    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
