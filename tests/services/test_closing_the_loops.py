"""Closing the loops through the services, on SQLite and PostgreSQL: the session note read back whole, signed
by its clinician, amended and added to; adverse responses resolved; discharge with a coded reason and its
summary; reopening; void sessions and episodes kept but left out of analyses, exports and recommendations.
Every action leaves its audit event."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from record_factories import clinic_with_episode, session_doc, step_doc
from sqlalchemy import select

from strigil.catalog import load_catalog
from strigil.clinical.response import change_bar
from strigil.services import dashboard, discharge, episodes, notes, outcomes, sessions
from strigil.services.amendments import history
from strigil.services.audit import Actor
from strigil.services.clinic_outcomes import clinic_outcomes
from strigil.services.errors import InvalidInput, Refused
from strigil.services.exchange import patient_dossiers
from strigil.services.export import write_csv
from strigil.services.progress import latest_recommendation, progress
from strigil.services.void import void_episode, void_session
from strigil.store.audit import AuditEvent
from strigil.store.database import Database

TODAY = dt.date(2026, 6, 1)
ANA = Actor(None, "ana", "clinician", None, "", "cli")
REASON = "entered on the wrong patient by mistake"


def _record(db: Database, clinic: int, doc: dict) -> sessions.RecordedSession:  # type: ignore[type-arg]
    with db.unit_of_work() as s:
        return sessions.record_session(s, clinic, doc, by="ana", today=TODAY)


def _events(db: Database, clinic: int, resource: str) -> list[str]:
    """The audit trail's details of the clinic's events about `resource` (the trail outlives the test's rows
    on the shared PostgreSQL database: it is append-only), oldest first."""
    with db.unit_of_work() as s:
        return [
            e.detail
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.resource == resource, AuditEvent.clinic_id == clinic)
                .order_by(AuditEvent.id)
            )
        ]


def _actor(clinic: int) -> Actor:
    return Actor(None, "ana", "clinician", clinic, "", "cli")


def test_the_note_reads_back_everything_recorded(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    doc = session_doc(
        episode,
        screening={"findings": []},
        decision_reason="pain eased within the session",
        notes="heel raises taught, 3 x 15",
        tolerance="tolerated_with_modification",
        steps=[step_doc(force_n=12.5, active_movement="ankle dorsiflexion")],
    )
    saved = _record(db, clinic, doc)
    with db.unit_of_work() as s:
        note = notes.session_note(s, clinic, saved.id)
    session = note.session
    assert note.clinic == "Main clinic" and note.episode.patient_code == "P001"
    assert note.clinician is not None and note.clinician.name == "Ana Example"
    assert session.warm_up_kind == "cardiovascular" and session.emollient == "lotion"
    (step,) = session.steps
    assert (step.region, step.side, step.patient_position, step.edge, step.stroke_count, step.force_n) == (
        "foot_plantar",
        "left",
        "prone",
        "convex",
        40,
        12.5,
    )
    assert step.active_movement == "ankle dorsiflexion"
    assert [(m.measure, m.timing, m.value) for m in session.measurements] == [
        ("nprs", "pre", 6),
        ("nprs", "post", 4),
    ]
    assert session.adverse_responses[0].kind == "petechiae"
    assert session.tolerance == "tolerated_with_modification"
    assert session.decision_reason == "pain eased within the session" and session.notes.startswith("heel")
    assert session.screening is not None and session.screening["verdict"] == "clear"
    assert session.recommendation is not None and session.recommendation["reasons"]
    assert not note.signed and note.amendments == ()
    with db.unit_of_work() as s:
        plain = note.to_json(s)
    assert (
        plain["session"]["steps"][0]["patient_position"] == "prone"
        and plain["session"]["date"] == "2026-03-02"
    )


def test_a_note_is_signed_by_its_own_clinician_once(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    saved = _record(db, clinic, session_doc(episode))
    with pytest.raises(Refused, match=r"signed by its clinician \(ana\)"), db.unit_of_work() as s:
        notes.sign_note(s, clinic, saved.id, clinician="bob", actor=_actor(clinic))
    with db.unit_of_work() as s:
        note = notes.sign_note(s, clinic, saved.id, clinician="ana", actor=_actor(clinic))
    assert note.signed and note.session.signed_by == "ana" and note.session.signed_at is not None
    with pytest.raises(Refused, match="amendment or add an addendum"), db.unit_of_work() as s:
        notes.sign_note(s, clinic, saved.id, clinician="ana", actor=_actor(clinic))
    assert _events(db, clinic, "session") == ["note signed"]


def test_after_signing_a_correction_is_an_amendment_and_new_information_an_addendum(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    saved = _record(db, clinic, session_doc(episode, notes="first words"))
    with db.unit_of_work() as s:
        notes.sign_note(s, clinic, saved.id, clinician="ana", actor=_actor(clinic))
    with db.unit_of_work() as s:
        note = notes.amend_note(
            s,
            clinic,
            saved.id,
            changes={"notes": "corrected words"},
            reason="typo in the note",
            actor=_actor(clinic),
            today=TODAY,
        )
    (amendment,) = note.amendments
    assert amendment.reason == "typo in the note" and amendment.amended_by == "ana"
    assert [(c.field, c.before, c.after) for c in amendment.changes] == [
        ("notes", "first words", "corrected words")
    ]
    assert note.session.notes == "corrected words" and note.signed  # the signature stays; the change shows
    with db.unit_of_work() as s:
        assert history(s, "session", saved.id)[0].previous["notes"] == "first words"  # the original kept
    with pytest.raises(InvalidInput, match="allowed"), db.unit_of_work() as s:
        notes.amend_note(s, clinic, saved.id, changes={"clinician": "bob"}, reason="x y z w", actor=ANA)
    with db.unit_of_work() as s:
        note = notes.add_addendum(
            s,
            clinic,
            saved.id,
            on=dt.date(2026, 3, 9),
            text="patient phoned: bruise gone",
            actor=_actor(clinic),
            today=TODAY,
        )
    (addendum,) = note.session.addenda
    assert addendum["on"] == "2026-03-09" and addendum["text"] == "patient phoned: bruise gone"
    assert addendum["by"] == "ana"
    for on, text in (
        (dt.date(2026, 3, 9), "  "),
        (dt.date(2026, 3, 1), "before the session"),
        (dt.date(2026, 7, 1), "in the future"),
    ):
        with pytest.raises(InvalidInput), db.unit_of_work() as s:
            notes.add_addendum(s, clinic, saved.id, on=on, text=text, actor=ANA, today=TODAY)
    assert _events(db, clinic, "session") == [
        "note signed",
        "note amended: typo in the note",
        "addendum added",
    ]


def test_resolving_an_adverse_response_clears_the_alert_and_stops_it_weighing(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    first = _record(
        db,
        clinic,
        session_doc(
            episode,
            adverse_responses=[
                {
                    "kind": "bruising",
                    "severity": "moderate",
                    "onset_on": "2026-03-02",
                    "region": "foot_plantar",
                }
            ],
        ),
    )
    later = dt.date(2026, 3, 30)
    _record(
        db,
        clinic,
        session_doc(
            episode,
            date=later.isoformat(),
            adverse_responses=[],
            follow_up={"asked": True},
            steps=[
                step_doc(region="lower_leg_posterior")
            ],  # the open bruise is on the foot: treated elsewhere
            measurements=[
                {"measure": "nprs", "value": 3, "timing": "pre"},
                {"measure": "nprs", "value": 2, "timing": "post"},
            ],
        ),
    )
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic, episode)
        before = latest_recommendation(view)
        alerts = dashboard.clinic_alerts(s, clinic, since=dt.date(2026, 1, 1))
    assert before is not None and before["recommendation"] == "modify"
    assert [r["rule"] for r in before["reasons"]] == ["respond.modify_adverse_flagged"]
    (alert,) = [a for a in alerts if a.kind == "adverse"]
    adverse_id = alert.adverse_id
    assert adverse_id is not None
    with db.unit_of_work() as s:
        resolved = outcomes.resolve_adverse_response(
            s,
            clinic,
            adverse_id,
            dt.date(2026, 3, 6),
            by="ana",
            where="seen in clinic",
            note="faded without treatment",
            actor=_actor(clinic),
            today=TODAY,
        )
    assert (
        resolved.resolved_where == "seen in clinic" and resolved.resolution_note == "faded without treatment"
    )
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic, episode)
        after = latest_recommendation(view)
        alerts = dashboard.clinic_alerts(s, clinic, since=dt.date(2026, 1, 1))
        note = notes.session_note(s, clinic, first.id)
    assert not [a for a in alerts if a.kind == "adverse"]
    assert after is not None and "still unresolved" not in str(after["reasons"])
    assert after["recommendation"] != before["recommendation"]
    assert view.sessions[-1].recommendation == before  # what the aid said at the session is kept
    assert (
        "resolved on 2026-03-06 — seen in clinic; faded without treatment" in note.session.addenda[0]["text"]
    )
    assert _events(db, clinic, "adverse_response") == ["resolved"]
    with pytest.raises(Refused, match="already resolved"), db.unit_of_work() as s:
        outcomes.resolve_adverse_response(s, clinic, adverse_id, dt.date(2026, 3, 7), by="ana")


def test_discharge_with_a_coded_reason_and_its_summary(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    _record(db, clinic, session_doc(episode))
    _record(
        db,
        clinic,
        session_doc(
            episode,
            date="2026-03-09",
            adverse_responses=[],
            follow_up={"asked": True},
            steps=[
                step_doc(duration_s=120, stroke_count=50),
                step_doc(region="lower_leg_posterior", side="left", duration_s=60, stroke_count=None),
            ],
            measurements=[
                {"measure": "nprs", "value": 3, "timing": "pre"},
                {"measure": "nprs", "value": 2, "timing": "post"},
            ],
        ),
    )
    with pytest.raises(InvalidInput, match="other: with text"), db.unit_of_work() as s:
        discharge.discharge_episode(s, clinic, episode, on=dt.date(2026, 3, 20), reason="other", actor=ANA)
    with db.unit_of_work() as s:
        summary = discharge.discharge_summary(s, clinic, episode)  # before: so far
        assert summary.closed_on is None
        summary = discharge.discharge_episode(
            s,
            clinic,
            episode,
            on=dt.date(2026, 3, 20),
            reason="goals_met",
            referrer="Dr Rivera, GP",
            actor=_actor(clinic),
        )
    assert summary.reason == "goals_met" and summary.reason_text == "goals met"
    assert summary.referrer == "Dr Rivera, GP" and summary.closed_on == dt.date(2026, 3, 20)
    assert summary.sessions == 2 and summary.first_session_on == dt.date(2026, 3, 2)
    dose = {(d.region, d.side): d for d in summary.dose}
    assert dose[("foot_plantar", "left")].seconds == 90 + 60 + 120  # session 1's two steps, session 2's one
    assert (
        dose[("foot_plantar", "left")].strokes == 40 + 40 + 50
        and dose[("foot_plantar", "left")].sessions == 2
    )
    assert (
        dose[("lower_leg_posterior", "left")].seconds == 60
        and dose[("lower_leg_posterior", "left")].strokes is None
    )
    (nprs,) = summary.changes
    assert (nprs.first, nprs.last, nprs.change) == (6, 3, 3)
    bar = change_bar(load_catalog().measures["nprs"], condition="plantar_heel_pain")
    assert bar is not None and nprs.bar == pytest.approx(bar.units(6))
    assert nprs.verdict == ("improved" if bar.meaningful(3, 6) else "within the bar")
    (course,) = summary.adverse
    assert course.session == 1 and course.resolved_on is None and "not resolved at discharge" in course.text
    with db.unit_of_work() as s:
        assert summary.to_json(s)["dose"][0]["minutes"] == 4.5
    with pytest.raises(Refused, match="already closed"), db.unit_of_work() as s:
        discharge.discharge_episode(s, clinic, episode, on=dt.date(2026, 3, 21), reason="plateau", actor=ANA)
    # reopening asks for a reason and keeps the discharge as it was
    with pytest.raises(InvalidInput, match="reason"), db.unit_of_work() as s:
        discharge.reopen_episode(s, clinic, episode, reason="oops", actor=ANA)
    with db.unit_of_work() as s:
        view = discharge.reopen_episode(
            s, clinic, episode, reason="pain came back after a long walk", actor=_actor(clinic)
        )
        (kept,) = history(s, "episode", episode)
    assert view.closed_on is None and view.discharge_reason is None
    assert kept.previous["discharge_reason"] == "goals_met" and kept.reason.startswith(
        "reopened: pain came back"
    )
    assert _events(db, clinic, "episode") == [
        "discharged: goals_met",
        "reopened: pain came back after a long walk",
    ]


def test_closing_with_words_keeps_them_as_other(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    with db.unit_of_work() as s:
        view = episodes.close_episode(s, clinic, episode, dt.date(2026, 4, 1), "moved to another town")
    assert view.discharge_reason == "other" and view.close_reason == "moved to another town"
    assert tuple(episodes.DISCHARGE_REASONS) == (
        "goals_met",
        "plateau",
        "referred_on",
        "patients_choice",
        "lost_to_follow_up",
        "other",
    )


def test_a_void_session_is_kept_but_left_out_of_analyses_exports_and_recommendations(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    _record(db, clinic, session_doc(episode, adverse_responses=[]))
    mistake = _record(
        db,
        clinic,
        session_doc(
            episode,
            date="2026-03-09",
            follow_up={"asked": True},
            clinician_decision="refer",
            adverse_responses=[{"kind": "bruising", "severity": "severe", "onset_on": "2026-03-09"}],
            measurements=[
                {"measure": "nprs", "value": 9, "timing": "pre"},
                {"measure": "nprs", "value": 9, "timing": "post"},
            ],
        ),
    )

    def exported() -> str:
        with db.unit_of_work() as s:
            out = io.StringIO()
            write_csv(s, clinic, out)
            return out.getvalue()

    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic, episode)
        assert latest_recommendation(view)["recommendation"] == "refer"  # type: ignore[index]
    assert ",9.0," in exported()
    with pytest.raises(InvalidInput, match="reason"), db.unit_of_work() as s:
        void_session(s, clinic, mistake.id, reason="wrong", actor=ANA)
    with db.unit_of_work() as s:
        void_session(s, clinic, mistake.id, reason=REASON, actor=_actor(clinic))
    with db.unit_of_work() as s:
        view = episodes.show_episode(s, clinic, episode)
        kept = view.sessions[-1]
        assert kept.voided and kept.void_reason == REASON and kept.voided_by == "ana"  # kept, marked
        assert [s_.number for s_ in view.counted_sessions] == [1]
        assert [p.session for p in progress(view)[0].points] == [1, 1]
        rec = latest_recommendation(view)
        assert rec is not None and rec["recommendation"] != "refer" and rec["latest_session"] == 1
        (dossier,) = patient_dossiers(s, clinic)  # the FHIR exchange carries it, marked (entered-in-error)
        sessions_out = dossier.episodes[0].sessions
        assert [(e.number, e.void is not None and e.void.reason) for e in sessions_out] == [
            (1, False),
            (2, REASON),
        ]
        assert not [
            a for a in dashboard.clinic_alerts(s, clinic, since=dt.date(2026, 1, 1)) if a.kind == "adverse"
        ]
        with pytest.raises(Refused, match="void"):
            notes.sign_note(s, clinic, mistake.id, clinician="ana", actor=ANA)
    assert ",9.0," not in exported() and ",6.0," in exported()
    # the next session keeps counting after the void one, and the aid judges without it
    third = _record(
        db, clinic, session_doc(episode, date="2026-03-16", adverse_responses=[], follow_up={"asked": True})
    )
    assert third.number == 3 and third.recommendation is not None
    assert "bruising" not in str(third.recommendation["reasons"])
    assert _events(db, clinic, "session") == [f"void: {REASON}"]


def test_a_void_episode_takes_no_sessions_and_leaves_every_export(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    _record(db, clinic, session_doc(episode))
    with db.unit_of_work() as s:
        void_episode(
            s, clinic, episode, reason="tennis elbow opened on the plantar foot", actor=_actor(clinic)
        )
    with pytest.raises(Refused, match="void"), db.unit_of_work() as s:
        sessions.record_session(s, clinic, session_doc(episode, date="2026-03-09"), today=TODAY)
    with db.unit_of_work() as s:
        out = io.StringIO()
        assert write_csv(s, clinic, out) == 0
        (dossier,) = patient_dossiers(s, clinic)  # the FHIR exchange carries it, marked (entered-in-error)
        (voided,) = dossier.episodes
        assert voided.void is not None and voided.void.reason == "tennis elbow opened on the plantar foot"
        assert clinic_outcomes(s, clinic).groups == []
        view = episodes.show_episode(s, clinic, episode)
        assert view.voided and view.void_reason == "tennis elbow opened on the plantar foot"
        with pytest.raises(Refused, match="void"):
            discharge.discharge_episode(
                s, clinic, episode, on=dt.date(2026, 4, 1), reason="plateau", actor=ANA
            )
        (session,) = view.sessions
        with pytest.raises(Refused, match=r"episode [0-9a-f]{32} is void"):
            notes.sign_note(s, clinic, session.id, clinician="ana", actor=ANA)
    assert _events(db, clinic, "episode") == ["void: tennis elbow opened on the plantar foot"]


@pytest.mark.parametrize(
    ("reason", "text", "code", "words"),
    [
        ("goals_met", None, "goals_met", "goals met"),
        (
            "plateau",
            "no change in 4 weeks",
            "plateau",
            "plateau: no further meaningful change: no change in 4 weeks",
        ),
        ("goals met", None, "goals_met", "goals met"),  # words read back from an export keep their code
        ("lost to follow-up", None, "lost_to_follow_up", "lost to follow-up"),
        ("moved to another town", None, "other", "moved to another town"),
        ("other", "moved away", "other", "moved away"),
    ],
)
def test_a_discharge_reason_keeps_its_code_through_its_words(
    reason: str, text: str | None, code: str, words: str
) -> None:
    found = episodes.discharge_reason_of(reason, text)
    assert found[0] == code and episodes.discharge_words(*found) == words
    assert episodes.discharge_reason_of(episodes.discharge_words(*found)) == found  # a round trip


def test_a_reaction_reported_at_the_next_visit_is_an_addendum_of_the_earlier_session(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    first = _record(db, clinic, session_doc(episode, adverse_responses=[]))
    reaction = {"session": 1, "kind": "soreness", "severity": "mild", "onset_on": "2026-03-03",
                "resolved_on": "2026-03-05"}  # fmt: skip
    _record(
        db,
        clinic,
        session_doc(episode, date="2026-03-09", adverse_responses=[],
                    follow_up={"asked": True, "reactions": [reaction]}),
    )  # fmt: skip
    with db.unit_of_work() as s:
        note = notes.session_note(s, clinic, first.id)
        later = episodes.show_episode(s, clinic, episode).sessions[1]
    assert later.follow_up_reported == (
        "mild soreness after session 1, from 2026-03-03, resolved 2026-03-05",
    )
    (addendum,) = note.session.addenda
    assert addendum["on"] == "2026-03-09"
    assert addendum["text"] == "reported at session 2: mild soreness from 2026-03-03, resolved 2026-03-05"
    assert [a.kind for a in note.session.adverse_responses] == ["soreness"]


def test_a_resolution_answered_at_a_visit_is_in_that_visit_s_note(db: Database) -> None:
    clinic, episode = clinic_with_episode(db)
    first = _record(db, clinic, session_doc(episode))  # petechiae after it, open
    with db.unit_of_work() as s:
        (open_,) = notes.session_note(s, clinic, first.id).session.adverse_responses
    answers = {"asked": True, "resolved": [{"adverse_id": open_.id, "resolved_on": "2026-03-04"}]}
    second = _record(
        db, clinic, session_doc(episode, date="2026-03-09", adverse_responses=[], follow_up=answers)
    )
    with db.unit_of_work() as s:
        note = notes.session_note(s, clinic, second.id)
        earlier = notes.session_note(s, clinic, first.id)
    assert note.session.follow_up_reported == ("petechiae (onset 2026-03-02) resolved on 2026-03-04",)
    assert earlier.session.adverse_responses[0].resolved_on == dt.date(2026, 3, 4)
    assert "resolved on 2026-03-04" in earlier.session.addenda[0]["text"]
    # a correction of the visit keeps what its answers reported
    with db.unit_of_work() as s:
        amended = notes.amend_note(
            s, clinic, second.id, changes={"notes": "later words"}, reason="notes added later", actor=ANA,
            today=TODAY,
        )  # fmt: skip
    assert amended.session.follow_up_reported == note.session.follow_up_reported
