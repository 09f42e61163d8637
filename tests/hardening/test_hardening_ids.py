"""Ids are never reused: an erased patient's ids, and the audit rows that name them, go to nobody else.

SQLite gave max(id) + 1, so after erasing the newest patient the next patient received the erased person's
id — and the erased person's audit trail in their own privacy export. Checked on SQLite and PostgreSQL, and
for a database migrated from before the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fhir_strategies import bundle_of, example_clinic
from record_factories import clinic_with_episode, episode_doc, session_doc
from sqlalchemy import select, text

from strigil.interop.from_fhir import plan_import
from strigil.services import episodes, patients
from strigil.services.audit import Actor, record
from strigil.services.clinics import get_clinic
from strigil.services.exchange import write_plan, write_plan_bulk
from strigil.services.privacy import erase_patient, export_patient
from strigil.services.sessions import record_session
from strigil.store.audit import AuditEvent, AuditTrailIsAppendOnly
from strigil.store.database import Database, make_engine, migrate, open_database
from strigil.store.record import AdverseResponseRow, DoseStepRow, MeasurementRow, PatientRow


def _actor(clinic_id: int) -> Actor:
    return Actor(None, "cli:test", "admin", clinic_id, "", "cli")


# The database ids of one patient's rows, by kind (the export names them by public ids only).
_OWN_ROWS = {
    "patient": "SELECT p.id FROM patients p",
    "episodes": "SELECT e.id FROM episodes e JOIN patients p ON p.id = e.patient_id",
    "sessions": "SELECT s.id FROM treatment_sessions s JOIN episodes e ON e.id = s.episode_id "
    "JOIN patients p ON p.id = e.patient_id",
    "dose_steps": "SELECT d.id FROM dose_steps d JOIN treatment_sessions s ON s.id = d.session_id "
    "JOIN episodes e ON e.id = s.episode_id JOIN patients p ON p.id = e.patient_id",
    "measurements": "SELECT m.id FROM measurements m JOIN episodes e ON e.id = m.episode_id "
    "JOIN patients p ON p.id = e.patient_id",
    "adverse_responses": "SELECT a.id FROM adverse_responses a JOIN episodes e ON e.id = a.episode_id "
    "JOIN patients p ON p.id = e.patient_id",
}


def _ids(database: Database, clinic_id: int, code: str) -> dict[str, set[int]]:
    """The ids of every row of one patient, by kind."""
    where = " WHERE p.clinic_id = :c AND p.code = :code"
    with database.unit_of_work() as s:
        return {
            kind: set(s.scalars(text(sql + where), {"c": clinic_id, "code": code}))
            for kind, sql in _OWN_ROWS.items()
        }


def _a_patient_with_a_session(database: Database, clinic_id: int, code: str) -> None:
    with database.unit_of_work() as s:
        patients.add_patient(s, clinic_id, {"code": code, "birth_year": 1975, "sex": "male"})
        episode = episodes.open_episode(s, clinic_id, code, episode_doc())
        record_session(s, clinic_id, session_doc(episode.id))


def test_an_erased_patients_ids_and_audit_rows_go_to_nobody_else(database: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(database)
    with database.unit_of_work() as s:
        record_session(s, clinic_id, session_doc(episode_id))
    erased = _ids(database, clinic_id, "P001")  # the newest patient, with the newest rows of every kind
    assert all(erased.values())
    with database.unit_of_work() as s:
        erase_patient(s, clinic_id, "P001", _actor(clinic_id), confirm="P001", reason="patient request")
    _a_patient_with_a_session(database, clinic_id, "P002")
    newcomer = _ids(database, clinic_id, "P002")
    for kind, ids in newcomer.items():
        assert ids and not ids & erased[kind], f"{kind}: the erased patient's ids {erased[kind]} were reused"
        assert min(ids) > max(erased[kind]), kind
    with database.unit_of_work() as s:
        export_patient(s, clinic_id, "P002", _actor(clinic_id))  # one event of the newcomer's own
    with database.unit_of_work() as s:
        history = export_patient(s, clinic_id, "P002", _actor(clinic_id))["audit_events"]
    # only the newcomer's own export above: nothing of the erased patient's reads, export or erasure
    with database.unit_of_work() as s:
        named = s.scalar(select(PatientRow.public_id).where(PatientRow.id == min(newcomer["patient"])))
    assert [(e["action"], e["patient_id"]) for e in history] == [("export", named)]


def _count(database: Database, model: object) -> int:
    with database.unit_of_work() as s:
        return len(s.scalars(select(model)).all())  # type: ignore[call-overload]


def _before_ids_never_reused() -> str:
    """The revision just before the one that makes SQLite ids AUTOINCREMENT."""
    from alembic.script import ScriptDirectory

    from strigil.store.database import MIGRATIONS

    down = ScriptDirectory(str(MIGRATIONS)).get_revision("0200_ids_never_reused").down_revision
    assert isinstance(down, str)
    return down


def _old_clinic_with_episode(db: Database) -> tuple[int, int]:
    """`clinic_with_episode` on the schema before 0200: its clinicians table has no public id yet (0201), so
    the clinician is written in SQL; the rest through the services."""
    from strigil.services import clinics

    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, "main", "Main clinic")
        s.execute(
            text(
                "INSERT INTO clinicians (clinic_id, code, name, profession, training, years_experience, "
                "created_at) VALUES (:c, 'ana', 'Ana Example', 'athletic_trainer', '[]', 6, '2026-01-01')"
            ),
            {"c": clinic.id},
        )
        patients.add_patient(s, clinic.id, {"code": "P001", "birth_year": 1980, "sex": "female"})
        ep = episodes.open_episode(s, clinic.id, "P001", episode_doc())
    return clinic.id, ep.id


def test_a_database_from_before_is_migrated_with_every_row_and_guard_kept(tmp_path: Path) -> None:
    """SQLite tables are rebuilt with AUTOINCREMENT: rows, ids, foreign keys, indexes, triggers all kept."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    migrate(engine, _before_ids_never_reused())
    engine.dispose()
    # build a small clinic on the old schema (through the services: the models are the same columns)
    old = Database(make_engine(url))
    clinic_id, episode_id = _old_clinic_with_episode(old)
    with old.unit_of_work() as s:
        record_session(s, clinic_id, session_doc(episode_id))
        record(s, _actor(clinic_id), "read", "patient", 1, patient_id=1)
    counts = {m: _count(old, m) for m in (DoseStepRow, MeasurementRow, AdverseResponseRow)}
    with old.engine.connect() as conn:
        indexes = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars())
        assert (
            "AUTOINCREMENT"
            not in conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'patients'")).scalar_one()
        )
    old.dispose()

    database = open_database(url)  # migrates to head
    try:
        with database.engine.connect() as conn:
            tables = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            ).all()
            assert all("AUTOINCREMENT" in sql for name, sql in tables if name != "alembic_version"), tables
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert indexes <= set(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars()
            )
        assert {m: _count(database, m) for m in counts} == counts
        with pytest.raises(AuditTrailIsAppendOnly), database.unit_of_work() as s:  # the ORM's guard
            s.delete(s.scalars(select(AuditEvent)).first())
        with database.engine.begin() as conn, pytest.raises(Exception, match="append-only"):  # the trigger
            conn.execute(text("DELETE FROM web_audit_events"))
        erased = _ids(database, clinic_id, "P001")
        with database.unit_of_work() as s:
            erase_patient(s, clinic_id, "P001", _actor(clinic_id), confirm="P001", reason="patient request")
        _a_patient_with_a_session(database, clinic_id, "P002")
        newcomer = _ids(database, clinic_id, "P002")
        assert all(min(newcomer[k]) > max(erased[k]) for k in erased)
    finally:
        database.dispose()


def test_bulk_loads_never_reuse_an_erased_patients_ids(database: Database) -> None:
    """Bulk inserts choose ids themselves: they too start past every id ever given."""
    bundle = bundle_of(example_clinic())
    with database.unit_of_work() as s:
        write_plan(s, plan_import(bundle))
        clinic_id = get_clinic(s, "north").id
    code = example_clinic().patients[0].patient.code
    erased = _ids(database, clinic_id, code)
    with database.unit_of_work() as s:
        erase_patient(s, clinic_id, code, _actor(clinic_id), confirm=code, reason="patient request")
    with database.unit_of_work() as s:
        write_plan_bulk(s, plan_import(bundle))
    again = _ids(database, clinic_id, code)
    for kind, ids in erased.items():
        if ids:
            assert min(again[kind]) > max(ids), f"{kind}: bulk load reused {ids & again[kind]}"
    # and an ordinary insert afterwards goes past the bulk load's explicit ids
    with database.unit_of_work() as s:
        newest = patients.add_patient(s, clinic_id, {"code": "P-0002", "birth_year": 1990, "sex": "female"})
    assert newest.id > max(again["patient"])
