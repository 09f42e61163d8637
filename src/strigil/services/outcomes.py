"""Outcome measurements and adverse responses recorded outside a session document."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.clinical.session import AdverseResponse, Measurement
from strigil.services import audit
from strigil.services._convert import adverse_view, measurement_view
from strigil.services.amendments import add_addendum_to, keep_previous
from strigil.services.audit import Actor
from strigil.services.episodes import find_episode
from strigil.services.errors import NotFound, Refused, from_validation, invalid
from strigil.services.views import AdverseView, MeasurementView
from strigil.store.mapping import adverse_columns, measurement_columns
from strigil.store.record import AdverseResponseRow, EpisodeRow, PatientRow, SessionRow

__all__ = ["add_adverse_response", "add_measurement", "resolve_adverse_response"]


def _session_of(
    db: Session, episode_id: int, session_id: int | None, number: int | None = None
) -> SessionRow | None:
    if session_id is None and number is None:
        return None
    if session_id is not None and number is not None:
        raise invalid("session", number, "give the session's number or its id, not both")
    found = SessionRow.id == session_id if number is None else SessionRow.number == number
    row = db.scalar(select(SessionRow).where(found, SessionRow.episode_id == episode_id))
    if row is None:
        known = ", ".join(
            str(n)
            for n in db.scalars(
                select(SessionRow.number)
                .where(SessionRow.episode_id == episode_id)
                .order_by(SessionRow.number)
            )
        )
        field, value = ("session_id", session_id) if number is None else ("session", number)
        raise invalid(
            field, value, f"not a session of this episode; its sessions (by number): {known or 'none'}"
        )
    return row


def add_measurement(
    db: Session,
    clinic_id: int,
    episode_id: int,
    measure: str,
    value: float,
    *,
    taken_on: dt.date,
    timing: str = "between",
    session_id: int | None = None,
) -> MeasurementView:
    """Record one outcome measurement (between sessions by default)."""
    from strigil.store.record import MeasurementRow

    try:
        m = Measurement.model_validate({"measure": measure, "value": value, "timing": timing})
    except ValidationError as exc:
        raise from_validation(exc) from None
    episode, _ = find_episode(db, clinic_id, episode_id)
    session = _session_of(db, episode.id, session_id)
    if m.timing in ("pre", "post") and session is None:
        raise invalid(
            "timing",
            m.timing,
            "'pre'/'post' measurements belong to a session; give session_id or use timing 'between'",
        )
    if taken_on < episode.onset_date:
        raise invalid("taken_on", taken_on.isoformat(), f"must be on or after onset {episode.onset_date}")
    row = MeasurementRow(
        episode_id=episode.id,
        session_id=session.id if session else None,
        **measurement_columns(m, session.date if session else taken_on),
    )
    db.add(row)
    db.flush()
    return measurement_view(row)


def add_adverse_response(
    db: Session,
    clinic_id: int,
    episode_id: int,
    data: dict[str, Any],
    *,
    session_id: int | None = None,
    session_number: int | None = None,
) -> AdverseView:
    """Record an adverse response (e.g. reported at the next visit) against the session it followed, given
    by its number in the episode (or its id), with its real onset and resolution dates."""
    try:
        a = AdverseResponse.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None
    episode, _ = find_episode(db, clinic_id, episode_id)
    session = _session_of(db, episode.id, session_id, session_number)
    if session is not None and a.onset_on < session.date:
        raise invalid(
            "onset_on", a.onset_on.isoformat(), f"must be on or after the session date {session.date}"
        )
    if a.onset_on < episode.opened_on:
        raise invalid(
            "onset_on",
            a.onset_on.isoformat(),
            f"must be on or after the episode's opening {episode.opened_on}",
        )
    row = AdverseResponseRow(
        episode_id=episode.id, session_id=session.id if session else None, **adverse_columns(a)
    )
    db.add(row)
    db.flush()
    return adverse_view(row)


def resolve_adverse_response(
    db: Session,
    clinic_id: int,
    adverse_id: int,
    resolved_on: dt.date,
    *,
    by: str,
    reason: str = "resolution recorded",
    where: str | None = None,
    note: str | None = None,
    actor: Actor | None = None,
    today: dt.date | None = None,
) -> AdverseView:
    """Record when an adverse response resolved, how that became known (`where`: seen in clinic, reported
    by phone, ...) and a note; the unresolved version is kept as an amendment, and the session it followed
    gets a dated addendum. A resolved response then weighs on the decision aid only as its rules say (a
    recent or slow one still counts; `strigil.clinical.response`). With `actor`, the action is audited."""
    found = db.execute(
        select(AdverseResponseRow, EpisodeRow.patient_id)
        .join(EpisodeRow, EpisodeRow.id == AdverseResponseRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(AdverseResponseRow.id == adverse_id, PatientRow.clinic_id == clinic_id)
    ).first()
    if found is None:
        raise NotFound("no such adverse response in this clinic")
    row, patient_id = found
    if row.resolved_on is not None:
        raise Refused(f"adverse response {row.public_id} is already resolved ({row.resolved_on})")
    if resolved_on < row.onset_on:
        raise invalid("resolved_on", resolved_on.isoformat(), f"must be on or after onset {row.onset_on}")
    if resolved_on > (today or dt.date.today()):
        raise invalid("resolved_on", resolved_on.isoformat(), "must not be in the future")
    where_text = " ".join((where or "").split()) or None
    note_text = " ".join((note or "").split()) or None
    if where_text is not None and len(where_text) > 200:
        raise invalid("where", where_text[:40] + "…", "at most 200 characters")
    if note_text is not None and len(note_text) > 1000:
        raise invalid("note", note_text[:40] + "…", "at most 1000 characters")
    keep_previous(
        db,
        "adverse_response",
        row.id,
        row.version,
        adverse_view(row).__dict__ | {"onset_on": row.onset_on.isoformat(), "resolved_on": None},
        by=by,
        reason=reason,
    )
    row.resolved_on, row.version = resolved_on, row.version + 1
    row.resolved_where, row.resolution_note = where_text, note_text
    session = db.get(SessionRow, row.session_id) if row.session_id is not None else None
    if session is not None:
        course = f"{row.kind.replace('_', ' ')} (onset {row.onset_on}) resolved on {resolved_on}"
        extra = "; ".join(t for t in (where_text, note_text) if t)
        add_addendum_to(session, resolved_on, course + (f" — {extra}" if extra else ""), by=by)
    db.flush()
    if actor is not None:
        audit.record(
            db, actor, "update", "adverse_response", row.id, patient_id=patient_id, detail="resolved"
        )
    return adverse_view(row)
