"""What every test folder shares: the helpers in `tests/support/` on the import path, and the databases.

Every storage test runs on SQLite and on PostgreSQL (postgresql+psycopg://postgres@127.0.0.1:5432, or
$STRIGIL_TEST_PG): `db` gives an empty migrated database on a database made for this test run;
`database_url` and `database` a fresh database per test. When no server answers the PostgreSQL cases
skip with the reason, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))  # shared helpers: record_factories, web_world, live, ...

from record_pg import PG_SERVER, drop_pg_database, fresh_pg_database  # noqa: E402
from sqlalchemy import delete  # noqa: E402

from strigil.store.database import Database, open_database  # noqa: E402
from strigil.store.record import (  # noqa: E402
    AdverseResponseRow,
    AmendmentRow,
    ClinicianRow,
    ClinicRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientIdentifierRow,
    PatientRow,
    ScreeningRow,
    SessionRow,
)

# Children first, so deleting respects the foreign keys.
TABLES = (
    AmendmentRow,
    AdverseResponseRow,
    MeasurementRow,
    DoseStepRow,
    SessionRow,
    ScreeningRow,
    EpisodeRow,
    PatientIdentifierRow,
    PatientRow,
    ClinicianRow,
    ClinicRow,
)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run (dropped at the end)."""
    url, name = _pg_or_skip(fresh_pg_database)  # type: ignore[misc]
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


def _pg_or_skip(make: object) -> object:
    """Run `make()`; without a PostgreSQL server skip the test (fail on CI)."""
    try:
        return make()  # type: ignore[operator]
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_SERVER} is required on CI (CI=true) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}: {exc}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (not yet migrated) on SQLite or PostgreSQL, fresh for this test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clinic.sqlite'}"
        return
    url, name = _pg_or_skip(fresh_pg_database)  # type: ignore[misc]
    yield url
    drop_pg_database(name)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """An empty, migrated database, fresh for this test."""
    opened = open_database(database_url)
    yield opened
    opened.dispose()
