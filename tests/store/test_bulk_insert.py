"""`store.bulk.insert_rows` writes exactly what Core's `insert(table)` writes, on both databases."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir_strategies import bundle_of, example_clinic
from record_pg import drop_pg_database, fresh_pg_database
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

import strigil.services.exchange as exchange
import strigil.store.bulk as bulk
from strigil.interop.from_fhir import plan_import
from strigil.store.database import Database, open_database
from strigil.store.record import (
    AdverseResponseRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    SessionRow,
)

WRITTEN = (PatientRow, EpisodeRow, SessionRow, DoseStepRow, MeasurementRow, AdverseResponseRow)
STAMPS = {"created_at", "changed_at", "recorded_at"}  # the moment of each write: compared by kind only


def _core_insert(db: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    db.execute(insert(table), rows)


def _write(database: Database, monkeypatch: pytest.MonkeyPatch, *, core: bool) -> None:
    counter = itertools.count(1)
    monkeypatch.setattr(exchange, "new_public_id", lambda: f"{next(counter):032x}")
    with monkeypatch.context() as patched:
        if core:
            patched.setattr(bulk, "insert_rows", _core_insert)
        with database.unit_of_work() as db:
            exchange.write_plan_bulk(db, plan_import(bundle_of(example_clinic())))


def _rows(database: Database) -> dict[str, list[dict[str, Any]]]:
    found = {}
    with database.unit_of_work() as db:
        for model in WRITTEN:
            table = model.__table__
            found[table.name] = [
                {
                    k: (type(v).__name__, getattr(v, "tzinfo", None) is not None) if k in STAMPS else v
                    for k, v in row._mapping.items()
                }
                for row in db.execute(select(table).order_by(table.c.id))
            ]
    return found


@pytest.fixture
def second(database: Database, tmp_path: Path) -> Iterator[Database]:
    """A second empty database on the same backend as `database`."""
    if database.engine.dialect.name == "sqlite":
        other = open_database(f"sqlite:///{tmp_path / 'second.sqlite'}")
        yield other
        other.dispose()
        return
    url, name = fresh_pg_database()
    other = open_database(url)
    yield other
    other.dispose()
    drop_pg_database(name)


def test_bulk_rows_are_stored_as_core_stores_them(
    database: Database, second: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(database, monkeypatch, core=True)
    _write(second, monkeypatch, core=False)
    through_core, through_bulk = _rows(database), _rows(second)
    assert all(through_core[t.__tablename__] for t in WRITTEN)  # every table written to
    assert through_bulk == through_core
    # a column the rows do not name gets its Python default, as through Core (the sessions' addenda)
    assert all(r["addenda"] == [] for r in through_bulk["treatment_sessions"])


def test_rows_that_name_other_columns_are_refused(database: Database) -> None:
    table = DoseStepRow.__table__
    with database.unit_of_work() as db:
        with pytest.raises(ValueError, match="no such column: colour"):
            bulk.insert_rows(db, table, [{"id": 1, "colour": "red"}])
        with pytest.raises(ValueError, match="the same columns"):
            bulk.insert_rows(db, table, [{"session_id": 1, "position": 1}, {"session_id": 1}])
        db.rollback()
