"""A dose step's measured-force summary: recorded, read back, exported, and added by its migration."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict

import pytest
from record_factories import clinic_with_episode, session_doc, step_doc
from sqlalchemy import inspect, text

from strigil.clinical.session import DoseStep, MeasuredForce
from strigil.clinical.tidier import render_tidier
from strigil.force import SyntheticSpec, analyse, generate_recording
from strigil.services.episodes import show_episode
from strigil.services.export import write_csv
from strigil.services.force_recordings import measured_force_summary
from strigil.services.sessions import record_session, session_document
from strigil.store.database import Database, migrate

SUMMARY = measured_force_summary(
    analyse(generate_recording(SyntheticSpec(n_strokes=12, noise_sd_n=0.05), seed=5).recording)
)


def test_the_summary_is_the_recordings_session_dose() -> None:
    assert SUMMARY is not None
    assert SUMMARY.stroke_count == 12 and 0 < SUMMARY.mean_n < SUMMARY.peak_n
    assert SUMMARY.recording.startswith("synthetic (seed 5)")
    with pytest.raises(ValueError, match="peak_n 2 N is below mean_n 3 N"):
        MeasuredForce(recording="r.csv", stroke_count=3, mean_n=3.0, peak_n=2.0)
    with pytest.raises(ValueError, match="recording"):
        DoseStep.model_validate(step_doc(measured_force={"stroke_count": 3, "mean_n": 3.0, "peak_n": 4.0}))


def test_a_step_carries_its_summary_beside_force_n(db: Database) -> None:
    assert SUMMARY is not None
    clinic_id, episode_id = clinic_with_episode(db)
    measured = step_doc(force_n=7.5, measured_force=SUMMARY.model_dump())
    with db.unit_of_work() as s:
        done = record_session(
            s, clinic_id, session_doc(episode_id, steps=[measured, step_doc(stroke="strum")])
        )
    with db.unit_of_work() as s:
        doc = session_document(s, done.id)
        view = show_episode(s, clinic_id, episode_id)
    first, second = doc["steps"]
    assert first["force_n"] == 7.5 and MeasuredForce.model_validate(first["measured_force"]) == SUMMARY
    assert second["measured_force"] is None
    steps = view.sessions[0].steps
    assert steps[0].measured_force == SUMMARY.model_dump() and steps[1].measured_force is None
    procedures = next(i for i in render_tidier(asdict(view), "Main clinic") if i.name == "What (procedures)")
    assert f"measured {SUMMARY.mean_n:.1f} N mean and {SUMMARY.peak_n:.1f} N peak force over 12 strokes" in (
        procedures.text
    )
    out = io.StringIO()
    with db.unit_of_work() as s:
        write_csv(s, clinic_id, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows and all(float(r["measured_force_n"]) == pytest.approx(SUMMARY.mean_n, abs=1e-3) for r in rows)
    assert all(int(r["measured_strokes"]) == SUMMARY.stroke_count for r in rows)


def test_the_migration_keeps_existing_steps_and_adds_empty_columns(database_url: str) -> None:
    from alembic import command

    from strigil.store.database import _alembic_config, open_database

    assert SUMMARY is not None
    database = open_database(database_url)
    try:
        clinic_id, episode_id = clinic_with_episode(database)
        measured = step_doc(measured_force=SUMMARY.model_dump())
        with database.unit_of_work() as s:
            done = record_session(s, clinic_id, session_doc(episode_id, steps=[measured, step_doc()]))
        engine = database.engine
        with engine.begin() as conn:  # back to the schema before measured force: the steps stay
            command.downgrade(_alembic_config(conn), "0102_session_recommended")
        assert "measured_mean_n" not in {c["name"] for c in inspect(engine).get_columns("dose_steps")}
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM dose_steps")).scalar() == 2
        migrate(engine)  # and forward again: existing steps have no summary
        with database.unit_of_work() as s:
            steps = session_document(s, done.id)["steps"]
        assert [st["measured_force"] for st in steps] == [None, None]
        assert [st["duration_s"] for st in steps] == [90, 90]
    finally:
        database.dispose()
