"""The safety gates at the table, through the record's services on SQLite and PostgreSQL: screening stored and
enforced, override reasons, dose confirmation, the plan of care, exercise delivered, follow-up answers, and a
refusal that writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from record_factories import clinic_with_episode, session_doc, step_doc
from sqlalchemy import func, select

from strigil.services import dashboard, episodes, outcomes, sessions
from strigil.services.errors import InvalidInput, Refused
from strigil.services.screening import record_screening
from strigil.services.sessions import GateRefused
from strigil.store.database import Database
from strigil.store.record import (
    AdverseResponseRow,
    AmendmentRow,
    DoseStepRow,
    MeasurementRow,
    ScreeningRow,
    SessionRow,
)

TODAY = dt.date(2026, 3, 20)
REASON = "wound is covered and well away from the strokes; physician agreed"


RECORD = (SessionRow, DoseStepRow, MeasurementRow, AdverseResponseRow, ScreeningRow, AmendmentRow)


def _counts(db: Database) -> dict[str, int]:
    with db.unit_of_work() as s:
        return {r.__tablename__: int(s.scalar(select(func.count()).select_from(r)) or 0) for r in RECORD}


def _record(db: Database, clinic: int, doc: dict[str, Any], **kw: Any) -> sessions.RecordedSession:
    with db.unit_of_work() as s:
        return sessions.record_session(s, clinic, doc, by="ana", today=TODAY, **kw)


def _screen(db: Database, clinic: int, episode: int, findings: list[Any]) -> None:
    with db.unit_of_work() as s:
        doc = {"region": "foot_plantar", "findings": findings}
        record_screening(s, clinic, episode, doc, by="ana", today=TODAY)


def test_a_contraindicated_screening_refuses_the_session_and_writes_nothing(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    _screen(db, clinic, episode, ["open_wound"])
    before = _counts(db)
    with pytest.raises(GateRefused) as refused:
        _record(db, clinic, session_doc(episode))
    assert [p.field for p in refused.value.problems] == ["override_reason"]
    assert "gate.contraindicated" in str(refused.value) and "open_wound" in str(refused.value)
    assert _counts(db) == before  # nothing written: no session, no steps, no adverse response, no screening
    with pytest.raises(GateRefused):
        _record(db, clinic, session_doc(episode, override_reason="x"))
    assert _counts(db) == before
    saved = _record(db, clinic, session_doc(episode, override_reason=REASON))
    assert saved.screening is not None and saved.screening["verdict"] == "contraindicated"
    assert saved.screening["gates"]["overridden"]
    assert saved.screening["source"].startswith("the episode's latest")
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic, episode)
        counts = dashboard.safety_counts(s, clinic, since=dt.date(2026, 3, 1))
    assert view.sessions[0].override_reason == REASON
    assert view.sessions[0].screening and view.sessions[0].screening["screening_id"]
    assert counts.overrides == 1 and counts.sessions == 1


def test_an_unresolved_bruise_blocks_its_own_region_only(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    first = session_doc(
        episode,
        adverse_responses=[
            {"kind": "bruising", "severity": "mild", "onset_on": "2026-03-02", "region": "foot_plantar"}
        ],
    )
    _record(db, clinic, first)
    with pytest.raises(GateRefused, match="ecchymosis_or_effusion"):
        _record(db, clinic, session_doc(episode, date="2026-03-05", screening={"findings": []}))
    elsewhere = [step_doc(region="ankle")]  # next to the bruise: a precaution, not a block
    later = session_doc(episode, date="2026-03-05", steps=elsewhere, screening={"findings": []})
    saved = _record(db, clinic, later)
    assert saved.screening is not None and saved.screening["verdict"] == "precautions"


def test_overriding_refer_needs_a_reason(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    pain = [{"measure": "nprs", "value": 3, "timing": t} for t in ("pre", "post")]
    _record(db, clinic, session_doc(episode, measurements=pain, adverse_responses=[]))
    worse = [{"measure": "nprs", "value": 8, "timing": t} for t in ("pre", "post")]
    doc = session_doc(episode, date="2026-03-06", measurements=worse, adverse_responses=[])
    with pytest.raises(GateRefused, match=r"gate\.refer"):
        _record(db, clinic, {**doc, "clinician_decision": "continue"})
    saved = _record(db, clinic, {**doc, "clinician_decision": "refer"})
    assert saved.recommendation is not None and saved.recommendation["recommendation"] == "refer"


def test_a_long_heavy_dose_asks_for_confirmation(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    hour = [step_doc(pressure="heavy", duration_s=3600)]
    with pytest.raises(GateRefused, match="dose_confirmed") as refused:
        _record(db, clinic, session_doc(episode, steps=hour))
    assert "J Athl Train 2021" in str(refused.value)
    saved = _record(db, clinic, session_doc(episode, steps=hour, dose_confirmed=True))
    assert saved.screening is not None and len(saved.screening["gates"]["doses"]) == 2


def test_exercise_delivered_is_recorded_or_why_not(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    doc = session_doc(episode)
    del doc["exercise_delivered"]
    with pytest.raises(GateRefused, match="exercise_delivered"):
        _record(db, clinic, doc)
    with pytest.raises(GateRefused, match="exercise_not_delivered_reason"):
        _record(db, clinic, {**doc, "exercise_delivered": False, "exercise_not_delivered_reason": "x"})
    why = "ran out of time today"
    _record(db, clinic, {**doc, "exercise_delivered": False, "exercise_not_delivered_reason": why})
    with db.unit_of_work() as s:
        (session,) = episodes.show_episode(s, clinic, episode).sessions
    assert session.exercise_delivered is False and session.exercise_not_delivered_reason == why


def test_an_episode_without_iastm_refuses_iastm_until_the_plan_is_amended(db: Database) -> None:
    clinic, _ = clinic_with_episode(db)
    with db.unit_of_work() as s:
        plan = {
            "condition": "plantar_heel_pain",
            "region": "foot_plantar",
            "side": "left",
            "target_tissue": "fascia",
            "onset_date": "2026-01-05",
            "opened_on": "2026-03-02",
            "planned_iastm": False,
            "planned_co_interventions": ["strengthening"],
        }
        episode = episodes.open_episode(s, clinic, "P001", plan).id
    with pytest.raises(GateRefused, match=r"gate\.plan_without_iastm"):
        _record(db, clinic, session_doc(episode))
    exercise_only = session_doc(episode, steps=[], measurements=[], adverse_responses=[], tolerance=None)
    _record(db, clinic, exercise_only)
    consent = {"given_on": "2026-03-05", "explained": ["bruising", "alternatives", "exercise_programme"]}
    with db.unit_of_work() as s, pytest.raises(InvalidInput, match="reason"):
        episodes.amend_plan(
            s, clinic, episode, planned_iastm=True, co_interventions=["strengthening"],
            exercise_first_reason=None, consent=consent, reason="x", by="ana",
        )
    with db.unit_of_work() as s, pytest.raises(InvalidInput, match="alternatives"):
        episodes.amend_plan(
            s, clinic, episode, planned_iastm=True, co_interventions=["strengthening"],
            exercise_first_reason=None, consent={**consent, "explained": ["bruising"]},
            reason="patient now tolerates manual work", by="ana",
        )
    with db.unit_of_work() as s:
        amended = episodes.amend_plan(
            s, clinic, episode, planned_iastm=True, co_interventions=["strengthening"],
            exercise_first_reason=None, consent=consent, reason="patient now tolerates manual work", by="ana",
        )
    assert amended.planned_iastm and amended.version == 2
    _record(db, clinic, session_doc(episode, date="2026-03-06"))


def test_consent_at_the_table_names_its_items_as_choices(db: Database) -> None:
    clinic, _ = clinic_with_episode(db)
    base = {
        "condition": "plantar_heel_pain",
        "region": "foot_plantar",
        "side": "right",
        "target_tissue": "fascia",
        "onset_date": "2026-01-05",
        "opened_on": "2026-03-02",
        "planned_co_interventions": ["strengthening"],
        "consent": {"given_on": "2026-03-02", "explained": ["x"]},
    }
    with db.unit_of_work() as s, pytest.raises(InvalidInput, match="not a choice"):
        episodes.open_episode(s, clinic, "P001", base)
    with db.unit_of_work() as s:  # another system's history keeps what it recorded
        episodes.open_episode(s, clinic, "P001", base, at_the_table=False)


def test_follow_up_answers_are_recorded_against_the_sessions_they_follow(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    first = _record(db, clinic, session_doc(episode, screening={"findings": []}))  # petechiae after it, open
    with db.unit_of_work() as s:
        (petechiae,) = episodes.show_episode(s, clinic, episode).adverse_responses
    answers = {
        "asked": True,
        "reactions": [
            {"session": 1, "kind": "pain_flare", "severity": "moderate", "onset_on": "2026-03-03",
             "resolved_on": "2026-03-04"},
            {"session": 1, "kind": "soreness", "severity": "mild", "onset_on": "2026-03-02"},
        ],
        "resolved": [{"adverse_id": petechiae.id, "resolved_on": "2026-03-05"}],
    }
    second = _record(
        db, clinic, session_doc(episode, date="2026-03-09", adverse_responses=[], follow_up=answers,
                                screening={"no_change": True})
    )
    assert second.screening is not None and second.screening["source"].startswith("confirmed")
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic, episode)
        counts = dashboard.safety_counts(s, clinic, since=dt.date(2026, 3, 1))
    s1, s2 = view.sessions
    kinds = {a.kind: a for a in s1.adverse_responses}
    assert set(kinds) == {"petechiae", "pain_flare", "soreness"} and not s2.adverse_responses
    assert kinds["pain_flare"].onset_on == dt.date(2026, 3, 3)
    assert kinds["pain_flare"].resolved_on == dt.date(2026, 3, 4)
    assert kinds["petechiae"].resolved_on == dt.date(2026, 3, 5)
    assert s2.follow_up_asked is True and s1.id == first.id
    assert counts.follow_up_sessions == 1 and counts.follow_up_completeness == 1.0
    # the recommendation of session 2 knew about the moderate flare after session 1
    assert second.recommendation is not None
    assert any(a["type"] == "pain_flare" for a in second.recommendation["adverse_responses"])


def test_follow_up_answers_must_fit_the_episode(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    _record(db, clinic, session_doc(episode))
    before = _counts(db)
    bad = {
        "asked": True,
        "reactions": [
            {"session": 4, "kind": "soreness", "severity": "mild", "onset_on": "2026-03-03"},
            {"session": 1, "kind": "soreness", "severity": "mild", "onset_on": "2026-02-20"},
        ],
        "resolved": [{"adverse_id": 999, "resolved_on": "2026-03-04"}],
    }
    with pytest.raises(InvalidInput) as refused:
        _record(db, clinic, session_doc(episode, date="2026-03-09", follow_up=bad))
    fields = [p.field for p in refused.value.problems]
    assert fields == [
        "follow_up.reactions[0].session",
        "follow_up.reactions[1].onset_on",
        "follow_up.resolved[0].adverse_id",
    ]
    assert _counts(db) == before


def test_a_reaction_reported_later_is_filed_by_session_number(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    _record(db, clinic, session_doc(episode, adverse_responses=[]))
    _record(db, clinic, session_doc(episode, date="2026-03-09", adverse_responses=[]))
    with db.unit_of_work() as s:
        added = outcomes.add_adverse_response(
            s, clinic, episode, {"kind": "bruising", "severity": "mild", "onset_on": "2026-03-03",
                                 "resolved_on": "2026-03-06"}, session_number=1,
        )
        view = episodes.show_episode(s, clinic, episode)
    assert added.session_id == view.sessions[0].id
    with db.unit_of_work() as s, pytest.raises(InvalidInput, match=r"its sessions \(by number\): 1, 2"):
        outcomes.add_adverse_response(
            s, clinic, episode, {"kind": "bruising", "severity": "mild", "onset_on": "2026-03-10"},
            session_number=5,
        )


def test_history_from_another_system_is_recorded_with_its_gates_kept(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    _screen(db, clinic, episode, ["open_wound"])
    doc = session_doc(episode)
    del doc["exercise_delivered"]
    saved = _record(db, clinic, doc, at_the_table=False)
    assert saved.screening is not None and saved.screening["at_the_table"] is False
    assert {r["rule"] for r in saved.screening["gates"]["refusals"]} == {
        "gate.contraindicated",
        "gate.exercise_delivered",
    }


def test_a_closed_episode_takes_no_screening(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    with db.unit_of_work() as s:
        episodes.close_episode(s, clinic, episode, dt.date(2026, 3, 10), "discharged")
    with pytest.raises(Refused):
        _screen(db, clinic, episode, [])


def test_a_standing_contraindication_makes_the_recommendation_refer_until_a_screening_clears_it(
    db: Database,
) -> None:
    """The defect a clinician met: a session saved over a suspected DVT (with an override reason) left the
    episode page saying "modify the dose" under "Latest screening: contraindicated"."""
    from strigil.services.progress import latest_recommendation

    clinic, episode = clinic_with_episode(db)
    _screen(db, clinic, episode, ["suspected_dvt"])
    with db.unit_of_work() as s:  # before any session: the screening alone says refer
        before = latest_recommendation(episodes.show_episode(s, clinic, episode))
    assert before is not None and before["recommendation"] == "refer"
    same = [{"measure": "nprs", "value": 6, "timing": t} for t in ("pre", "post")]  # alone: modify
    doc = session_doc(episode, measurements=same, adverse_responses=[], override_reason=REASON)
    saved = _record(db, clinic, doc)
    assert saved.recommendation is not None and saved.recommendation["recommendation"] == "refer"
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic, episode)
        now = latest_recommendation(view)
        alerts = dashboard.clinic_alerts(s, clinic, since=dt.date(2026, 3, 1))
    assert view.latest_screening is not None
    assert view.latest_screening.findings_text.startswith("Suspected deep vein thrombosis")  # words, no code
    screened = next(r for r in view.latest_screening.result["reasons"] if r["code"] == "suspected_dvt")
    assert now is not None and now["recommendation"] == "refer"
    first = now["reasons"][0]
    assert first["rule"] == "respond.refer_contraindicated"
    assert "Suspected deep vein thrombosis" in first["text"] and "refer the same day" in first["text"]
    assert "suspected_dvt" not in first["text"]  # read by people: the finding in words, not its code
    assert first["source"] == screened["source"]  # the source as the screening rules cite it
    assert any(r["rule"] == "respond.modify_no_change" for r in now["also_noted"])
    # the Today page: one alert, the screening's, and no "decision aid says …" contradicting it
    mine = [a for a in alerts if a.episode_id == episode]
    assert [a.kind for a in mine] == ["screening"] and "decision aid says refer" in mine[0].text
    # a later screening that finds nothing clears it: the measures decide again
    _screen(db, clinic, episode, [])
    with db.unit_of_work() as s:
        cleared = latest_recommendation(episodes.show_episode(s, clinic, episode))
    assert cleared is not None and cleared["recommendation"] == "modify"
