"""Storage fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL: a fresh database per test run on postgresql+psycopg://postgres@127.0.0.1:5432, dropped afterwards.
When no server answers the PostgreSQL cases skip with the reason, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from record_pg import PG_SERVER, drop_pg_database, fresh_pg_database
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


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run (dropped at the end)."""
    try:
        url, name = fresh_pg_database()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_SERVER} is required on CI (CI=true) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}: {exc}")
    yield url
    drop_pg_database(name)


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
