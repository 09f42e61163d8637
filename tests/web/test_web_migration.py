"""The web's Alembic revision: one head, empty -> head builds exactly the models' tables, and back down."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import OperationalError

import strigil.store.accounts
import strigil.store.audit  # noqa: F401  (registers the tables on the metadata)
from strigil.store.base import Base
from strigil.store.database import current_revision, head_revision, make_engine, migrate

WEB_TABLES = {
    "web_accounts",
    "web_login_sessions",
    "web_api_tokens",
    "web_login_attempts",
    "web_audit_events",
}
COLUMNS = "at, username, role, action, resource, resource_id, ip, channel, detail"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _web_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    def touches_web(diff: object) -> bool:
        return any(name in repr(diff) for name in WEB_TABLES)

    return [d for d in diffs if touches_web(d)]


def _check_round_trip(engine: Engine) -> None:
    migrate(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= WEB_TABLES
    assert _web_differences(engine) == []
    migrate_down(engine, "0001_clinical_record")
    assert not WEB_TABLES & set(inspect(engine).get_table_names())
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= WEB_TABLES


def migrate_down(engine: Engine, revision: str) -> None:
    from alembic import command

    from strigil.store.database import _alembic_config

    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)


def test_migrations_have_a_single_head() -> None:
    assert head_revision()  # raises when two revisions claim to be the newest


def test_empty_to_head_on_sqlite_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    _check_round_trip(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO web_audit_events ({COLUMNS})"
                " VALUES ('2026-01-01 00:00:00', 'u', 'admin', 'read', 'patient', '1', '', 'web', '')"
            )
        )
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM web_audit_events"))
    engine.dispose()


def _postgres() -> Engine | None:
    engine = create_engine(POSTGRES)
    try:
        with engine.connect():
            return engine
    except OperationalError:
        if os.environ.get("CI") == "true":
            raise
        return None


@pytest.mark.postgres
def test_empty_to_head_on_postgresql_matches_the_models() -> None:
    engine = _postgres()
    if engine is None:
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES}")
    schema = "strigil_web_migration_test"
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = create_engine(POSTGRES, connect_args={"options": f"-csearch_path={schema}"})
    try:
        _check_round_trip(scoped)
        with pytest.raises(Exception, match="append-only"), scoped.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO web_audit_events ({COLUMNS})"
                    " VALUES (now(), 'u', 'admin', 'read', 'patient', '1', '', 'web', '')"
                )
            )
            conn.execute(text("UPDATE web_audit_events SET detail = 'x'"))
    finally:
        scoped.dispose()
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
