"""Storage fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL: a fresh database per test run on postgresql+psycopg://postgres@127.0.0.1:5432, dropped afterwards.
When no server answers the PostgreSQL cases skip with the reason, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from strigil.store.database import Database, open_database
from strigil.store.record import (
    AdverseResponseRow,
    AmendmentRow,
    ClinicianRow,
    ClinicRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    SessionRow,
)

PG_SERVER = os.environ.get("STRIGIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
ADMIN_DB = "test"
# Children first, so deleting respects the foreign keys.
TABLES = (
    AmendmentRow,
    AdverseResponseRow,
    MeasurementRow,
    DoseStepRow,
    SessionRow,
    EpisodeRow,
    PatientRow,
    ClinicianRow,
    ClinicRow,
)


def _admin_execute(sql: str) -> None:
    import psycopg

    dsn = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + f"/{ADMIN_DB}"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run (dropped at the end)."""
    name = f"strigil_record_{uuid.uuid4().hex[:12]}"
    try:
        _admin_execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_SERVER} is required on CI (CI=true) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}: {exc}")
    yield f"{PG_SERVER}/{name}"
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_pg_database() -> tuple[str, str]:
    """Create another empty PostgreSQL database; returns (url, name) — the caller drops it."""
    name = f"strigil_record_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}", name


def drop_pg_database(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated clinical-record database on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    else:
        database = open_database(request.getfixturevalue("pg_server_url"))
        with database.unit_of_work() as s:
            for table in TABLES:
                s.execute(delete(table))
    yield database
    database.dispose()
