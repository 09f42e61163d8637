"""Migrations: empty → head on both databases, back down, and no drift between migrations and models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from record_pg import drop_pg_database, fresh_pg_database
from sqlalchemy import MetaData, inspect

from strigil.store.base import Base
from strigil.store.database import current_revision, head_revision, make_engine, migrate

RECORD_TABLES = {
    "clinics",
    "clinicians",
    "patients",
    "episodes",
    "treatment_sessions",
    "dose_steps",
    "measurements",
    "adverse_responses",
    "amendments",
    "screenings",
    "clinic_templates",
    "patient_identifiers",
}


def _urls(tmp_path: Path) -> list[str]:
    return [f"sqlite:///{tmp_path / 'empty.sqlite'}"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    request.getfixturevalue("pg_server_url")  # skips (or fails on CI) when PostgreSQL is unreachable
    url, name = fresh_pg_database()
    yield url
    drop_pg_database(name)


def test_empty_to_head_creates_the_record_and_matches_the_models(empty_url: str) -> None:
    import strigil.store.record  # noqa: F401  (registers the tables on Base.metadata)

    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= RECORD_TABLES
        with engine.connect() as conn:
            ours_only = MetaData(naming_convention=Base.metadata.naming_convention)
            for name in RECORD_TABLES:
                Base.metadata.tables[name].to_metadata(ours_only)
            diff = compare_metadata(MigrationContext.configure(conn), ours_only)
        ours = [d for d in diff if _concerns_record(d)]
        assert ours == [], f"migrations and models disagree: {ours}"
        migrate_down(engine)
        assert not RECORD_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _concerns_record(diff: object) -> bool:
    """True unless the difference is only another area's table or index (e.g. web's, migrated separately)."""
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    kind, obj = item[0], item[1]
    if kind in ("remove_table", "add_table"):
        return str(obj.name) in RECORD_TABLES
    if kind in ("remove_index", "add_index", "remove_fk", "add_fk", "remove_constraint", "add_constraint"):
        return str(obj.table.name) in RECORD_TABLES
    return True


def migrate_down(engine: object) -> None:
    from alembic import command

    from strigil.store.database import _alembic_config

    with engine.begin() as conn:  # type: ignore[attr-defined]
        command.downgrade(_alembic_config(conn), "base")


def test_there_is_exactly_one_head() -> None:
    assert head_revision()


def test_sqlite_pragmas_are_set(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    engine.dispose()
    assert os.path.exists(tmp_path / "p.sqlite")


def test_charting_links_an_account_named_as_a_clinician_code_to_that_record(empty_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from strigil.store.database import _alembic_config

    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "0116_safety_gates")
        now = "2026-01-01 00:00:00"
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO clinics (code, name, created_at) VALUES ('k', 'K', '{now}')"))
            conn.execute(text(
                "INSERT INTO clinicians (clinic_id, code, name, profession, training, years_experience, "
                f"created_at) VALUES (1, 'pt1', 'PT One', 'physical_therapist', '[]', 3, '{now}')"
            ))
            for name, role in (("pt1", "clinician"), ("desk", "clinician"), ("boss", "admin")):
                conn.execute(text(
                    "INSERT INTO web_accounts (username, display_name, role, clinic_id, password_hash, "
                    "active, must_change_password, created_at, password_changed_at) VALUES "
                    f"('{name}', '{name}', '{role}', 1, 'x', true, false, '{now}', '{now}')"
                ))
        migrate(engine)
        with engine.connect() as conn:
            linked = dict(conn.execute(text("SELECT username, clinician_id FROM web_accounts")).all())
        assert linked == {"pt1": 1, "desk": None, "boss": None}
    finally:
        engine.dispose()
