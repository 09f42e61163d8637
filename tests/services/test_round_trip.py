"""Store round trips through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from record_factories import clinic_with_episode, session_doc, step_doc
from sqlalchemy import func, select

from strigil.services import episodes, outcomes, patients, sessions
from strigil.services.amendments import history
from strigil.services.errors import InvalidInput, NotFound, Refused
from strigil.store.database import Database
from strigil.store.record import DoseStepRow, MeasurementRow, SessionRow

TODAY = dt.date(2026, 6, 1)


def test_a_whole_session_reads_back_exactly(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    with db.unit_of_work() as s:
        saved = sessions.record_session(s, clinic_id, session_doc(episode_id), by="ana", today=TODAY)
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic_id, episode_id)
        again = sessions.session_document(s, saved.id)
    assert saved.number == 1
    (session,) = view.sessions
    assert [st.stroke for st in session.steps] == ["sweep", "strum"]
    assert session.steps[1].angle_deg == 70 and session.steps[1].direction == "across"
    assert session.iastm_seconds == 150
    assert [(m.measure, m.value, m.timing) for m in session.measurements] == [
        ("nprs", 6, "pre"),
        ("nprs", 4, "post"),
    ]
    assert session.adverse_responses[0].kind == "petechiae"
    assert session.warm_up_kind == "cardiovascular" and session.followed_by[1]["detail"] == "heel raises"
    assert session.clinician_code == "ana" and session.clinician_decision == "continue"
    assert again["steps"][0]["instrument"] == "graston_set" and again["steps"][0]["edge"] == "convex"
    assert view.phase == "subacute"  # 56 days after onset, with the default heuristic cut-offs


def test_sessions_are_numbered_in_order(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    with db.unit_of_work() as s:
        numbers = [
            sessions.record_session(
                s, clinic_id, session_doc(episode_id, date=d, adverse_responses=[]), today=TODAY
            ).number
            for d in ("2026-03-02", "2026-03-05", "2026-03-09")
        ]
    assert numbers == [1, 2, 3]


def test_recommendation_and_clinician_decision_are_both_stored(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    with db.unit_of_work() as s:
        sessions.record_session(
            s,
            clinic_id,
            session_doc(
                episode_id, clinician_decision="modify", decision_reason="patient prefers lighter pressure"
            ),
            today=TODAY,
        )
    with db.unit_of_work() as s:
        row = s.scalars(select(SessionRow)).one()
    assert row.clinician_decision == "modify" and row.decision_reason == "patient prefers lighter pressure"
    pytest.importorskip("strigil.clinical.response")
    assert row.recommendation is not None and row.recommendation["recommendation"] in {
        "refer",
        "switch",
        "modify",
        "continue",
        "progress",
        "discharge",
    }


def test_no_recommendation_is_sql_null(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from strigil.services import decision_support

    clinic_id, episode_id = clinic_with_episode(db)
    monkeypatch.setattr(sessions, "recommendation_for", lambda history: None)
    with db.unit_of_work() as s:
        sessions.record_session(s, clinic_id, session_doc(episode_id), today=TODAY)
    with db.unit_of_work() as s:
        assert (
            s.scalar(select(func.count()).select_from(SessionRow).where(SessionRow.recommendation.is_(None)))
            == 1
        )
    assert decision_support.recommendation_for({"measures": []}) is None


def test_a_bad_session_writes_nothing(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    bad = session_doc(episode_id, steps=[step_doc(), step_doc(instrument="no_such_tool")])
    with pytest.raises(InvalidInput) as info, db.unit_of_work() as s:
        sessions.record_session(s, clinic_id, bad, today=TODAY)
    assert info.value.problems[0].field == "steps[1].instrument"
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(SessionRow)) == 0
        assert s.scalar(select(func.count()).select_from(DoseStepRow)) == 0
        assert s.scalar(select(func.count()).select_from(MeasurementRow)) == 0


def test_an_error_after_partial_writes_rolls_the_whole_unit_back(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    with pytest.raises(NotFound), db.unit_of_work() as s:
        sessions.record_session(s, clinic_id, session_doc(episode_id), today=TODAY)
        outcomes.add_measurement(s, clinic_id, 999_999, "nprs", 3, taken_on=TODAY)
    with db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(SessionRow)) == 0


def test_amending_a_session_keeps_the_earlier_version(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    with db.unit_of_work() as s:
        saved = sessions.record_session(s, clinic_id, session_doc(episode_id), today=TODAY)
    corrected = session_doc(episode_id, steps=[step_doc(duration_s=120)])
    with db.unit_of_work() as s:
        amended = sessions.amend_session(
            s, clinic_id, saved.id, corrected, by="ana", reason="duration mistyped", today=TODAY
        )
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic_id, episode_id)
        earlier = history(s, "session", saved.id)
    assert amended.version == 2 and view.sessions[0].version == 2
    assert [st.duration_s for st in view.sessions[0].steps] == [120]
    assert len(earlier) == 1 and earlier[0].version == 1 and earlier[0].amended_by == "ana"
    assert [st["duration_s"] for st in earlier[0].previous["steps"]] == [90, 60]
    assert earlier[0].reason == "duration mistyped" and earlier[0].amended_at.tzinfo is not None


def test_amendment_needs_who_and_why(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    with db.unit_of_work() as s:
        saved = sessions.record_session(s, clinic_id, session_doc(episode_id), today=TODAY)
    with pytest.raises(InvalidInput, match="reason"), db.unit_of_work() as s:
        sessions.amend_session(
            s, clinic_id, saved.id, session_doc(episode_id), by="ana", reason=" ", today=TODAY
        )
    with db.unit_of_work() as s:
        assert s.get(SessionRow, saved.id).version == 1  # type: ignore[union-attr]


def test_patient_correction_and_adverse_resolution_are_amendments(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    with db.unit_of_work() as s:
        a = outcomes.add_adverse_response(
            s, clinic_id, episode_id, {"kind": "bruising", "severity": "mild", "onset_on": "2026-03-03"}
        )
        patients.amend_patient(s, clinic_id, "P001", birth_year=1981, by="ana", reason="wrong year")
        resolved = outcomes.resolve_adverse_response(s, clinic_id, a.id, dt.date(2026, 3, 6), by="ana")
    with db.unit_of_work() as s:
        patient = patients.show_patient(s, clinic_id, "P001")
        assert patient.birth_year == 1981 and patient.version == 2
        assert history(s, "patient", patient.id)[0].previous["birth_year"] == 1980
        assert history(s, "adverse_response", a.id)[0].previous["resolved_on"] is None
    assert resolved.resolved_on == dt.date(2026, 3, 6) and resolved.version == 2


def test_closed_episode_takes_no_more_sessions(db: Database) -> None:
    clinic_id, episode_id = clinic_with_episode(db)
    with db.unit_of_work() as s:
        episodes.close_episode(s, clinic_id, episode_id, dt.date(2026, 4, 1), "discharged: goals met")
    with pytest.raises(Refused, match="closed"), db.unit_of_work() as s:
        sessions.record_session(s, clinic_id, session_doc(episode_id, date="2026-04-02"), today=TODAY)


def test_other_clinics_records_are_not_found(db: Database) -> None:
    _, episode_id = clinic_with_episode(db)
    from strigil.services import clinics

    with db.unit_of_work() as s:
        other = clinics.ensure_clinic(s, "other", "Other clinic")
    with pytest.raises(NotFound), db.unit_of_work() as s:
        episodes.show_episode(s, other.id, episode_id)
    with pytest.raises(NotFound), db.unit_of_work() as s:
        patients.show_patient(s, other.id, "P001")
