"""The demo clinic: reproducible from its seed, valid by construction, same rows by both write paths."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from strigil.clinical.episode import EpisodePlan
from strigil.clinical.session import SessionRecord
from strigil.services import episodes, patients
from strigil.services.demo import _COLUMNS, build_demo, write_bulk
from strigil.services.demo_plan import plan_chunks
from strigil.store.base import Base
from strigil.store.database import Database
from strigil.store.record import DoseStepRow, EpisodeRow, MeasurementRow, PatientRow, SessionRow


def _documents(n: int, seed: int) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for chunk in plan_chunks(n, seed):
        for i in range(chunk.size):
            out.append(
                {"episode": chunk.episode_document(i), "sessions": list(chunk.session_documents(i, 1))}
            )
    return out


def test_same_seed_same_clinic_and_another_seed_another() -> None:
    assert _documents(15, 7) == _documents(15, 7)
    assert _documents(15, 7) != _documents(15, 8)


def test_planned_records_validate_against_the_record_model() -> None:
    docs = _documents(60, 3)
    for doc in docs:
        EpisodePlan.model_validate(doc["episode"])
        for session in doc["sessions"]:
            SessionRecord.model_validate(session)
    kinds = {a["kind"] for d in docs for s in d["sessions"] for a in s["adverse_responses"]}
    assert kinds and kinds <= {"petechiae", "bruising", "soreness", "skin_irritation"}
    assert {s["clinician_decision"] for d in docs for s in d["sessions"]} == {
        "continue",
        "modify",
        "discharge",
    }


def test_bulk_columns_are_the_tables_columns() -> None:
    for name, columns in _COLUMNS.items():
        assert columns == tuple(c.name for c in Base.metadata.tables[name].columns), name


def test_bulk_and_service_paths_write_the_same_clinic(
    db: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from strigil.store.database import open_database

    write_bulk(db, 12, 5, batch_patients=5)
    other = open_database(f"sqlite:///{tmp_path_factory.mktemp('svc') / 'svc.sqlite'}")
    clinic_id = build_demo(other, 12, 5)

    def summary(database: Database) -> list[tuple[object, ...]]:
        with database.unit_of_work() as s:
            rows = s.execute(
                select(
                    PatientRow.code,
                    SessionRow.number,
                    SessionRow.date,
                    MeasurementRow.measure,
                    MeasurementRow.value,
                    MeasurementRow.timing,
                )
                .join(EpisodeRow, EpisodeRow.patient_id == PatientRow.id)
                .join(SessionRow, SessionRow.episode_id == EpisodeRow.id)
                .join(MeasurementRow, MeasurementRow.session_id == SessionRow.id)
                .order_by(PatientRow.code, SessionRow.number, MeasurementRow.id)
            )
            return [tuple(row) for row in rows]

    assert summary(db) == summary(other)
    with db.unit_of_work() as s:
        n_steps = s.scalar(select(func.count()).select_from(DoseStepRow))
        bulk_clinic = s.scalar(select(PatientRow.clinic_id).limit(1))
        view = episodes.show_episode(s, bulk_clinic, s.scalar(select(EpisodeRow.id).limit(1)))
        # rows added after a bulk load get fresh ids (PostgreSQL sequences were moved past the bulk ids)
        patients.add_patient(s, bulk_clinic, {"code": "AFTER", "birth_year": 1990, "sex": "male"})
    with other.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(DoseStepRow)) == n_steps
        recommended = s.scalar(
            select(func.count()).select_from(SessionRow).where(SessionRow.recommendation.is_not(None))
        )
    assert view.sessions and view.sessions[0].steps
    pytest.importorskip("strigil.clinical.response")
    assert recommended and clinic_id
    other.dispose()
