"""Treatment sessions: record a whole session in one transaction; correct it by amendment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from strigil.clinical.session import SessionRecord
from strigil.services.amendments import keep_previous
from strigil.services.decision_support import recommendation_for
from strigil.services.episodes import find_episode
from strigil.services.errors import NotFound, Refused, from_validation, invalid
from strigil.store.base import Base
from strigil.store.mapping import (
    adverse_columns,
    measurement_columns,
    session_columns,
    step_columns,
)
from strigil.store.mapping import session_document as stored_session_document
from strigil.store.record import (
    AdverseResponseRow,
    ClinicianRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    SessionRow,
)
from strigil.store.types import now_utc

__all__ = ["RecordedSession", "amend_session", "parse_session", "record_session", "session_document"]


# The write path's statements, built once at import: building a Core statement (operator coercion, cache key)
# cost more CPU per write than executing it. Executed on the unit of work's connection, so they share its
# transaction; SQLAlchemy's compiled cache keeps one compiled form per dialect.
_EPISODE_CHECK = (
    select(
        EpisodeRow.opened_on,
        EpisodeRow.closed_on,
        EpisodeRow.condition,
        select(ClinicianRow.id)
        .where(ClinicianRow.clinic_id == bindparam("clinic_id"), ClinicianRow.code == bindparam("clinician"))
        .scalar_subquery(),
    )
    .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
    .where(EpisodeRow.id == bindparam("episode_id"), PatientRow.clinic_id == bindparam("clinic_id"))
)
# Every session of the episode (for the next number) with its pre/post measurements, in one query.
_EPISODE_MEASURES = (
    select(
        SessionRow.number,
        SessionRow.date,
        MeasurementRow.measure,
        MeasurementRow.value,
        MeasurementRow.timing,
    )
    .outerjoin(
        MeasurementRow,
        (MeasurementRow.session_id == SessionRow.id) & MeasurementRow.timing.in_(("pre", "post")),
    )
    .where(SessionRow.episode_id == bindparam("episode_id"))
    .order_by(SessionRow.number, MeasurementRow.id)
)
_EPISODE_ADVERSE = (
    select(
        SessionRow.number,
        AdverseResponseRow.kind,
        AdverseResponseRow.severity,
        AdverseResponseRow.onset_on,
        AdverseResponseRow.resolved_on,
    )
    .join(SessionRow, SessionRow.id == AdverseResponseRow.session_id)
    .where(AdverseResponseRow.episode_id == bindparam("episode_id"))
)
# Core inserts on the tables (not the ORM's bulk-insert path, which re-plans every call).
_TABLES = Base.metadata.tables
_EPISODES = _TABLES["episodes"]
# Serialises the writers of one episode: a no-op update (version unchanged, so optimistic versions and the
# episode's content are untouched) is a row lock until commit on PostgreSQL, and on SQLite makes the
# transaction a writer, which SQLite (and the in-process writer lock) admit one at a time. Without it two
# concurrent recordings read the same history, pick the same next number, and one fails on the unique
# (episode_id, number).
_LOCK_EPISODE = (
    update(_EPISODES).where(_EPISODES.c.id == bindparam("episode_id")).values(version=_EPISODES.c.version)
)
_INSERT_SESSION = insert(_TABLES["treatment_sessions"]).returning(_TABLES["treatment_sessions"].c.id)
_INSERT_STEP = insert(_TABLES["dose_steps"])
_INSERT_MEASUREMENT = insert(_TABLES["measurements"])
_INSERT_ADVERSE = insert(_TABLES["adverse_responses"])


@dataclass(frozen=True)
class RecordedSession:
    """What recording a session returns: its id and number, and the decision aid's recommendation."""

    id: int
    episode_id: int
    number: int
    recommendation: dict[str, Any] | None
    version: int = 1


def parse_session(doc: dict[str, Any] | SessionRecord) -> SessionRecord:
    """Validate a session document (InvalidInput naming each bad field)."""
    if isinstance(doc, SessionRecord):
        return doc
    try:
        return SessionRecord.model_validate(doc)
    except ValidationError as exc:
        raise from_validation(exc) from None


@dataclass(frozen=True)
class _Target:
    """What a session write needs to know about its episode and clinician."""

    episode_id: int
    clinician_id: int
    condition: str  # the decision aid judges with the condition's population (MCID and MDC)


def _check_against_episode(db: Session, clinic_id: int, record: SessionRecord, *, today: dt.date) -> _Target:
    """The episode must be this clinic's, open, opened by the session date; the clinician must be its own.

    Column queries on the session's connection (no ORM entities): this runs on every session write.
    """
    conn = db.connection()
    found = conn.execute(
        _EPISODE_CHECK,
        {"episode_id": record.episode_id, "clinic_id": clinic_id, "clinician": record.clinician},
    ).first()
    if found is None:
        raise NotFound(
            f"no episode {record.episode_id} in this clinic; see `strigil patient show CODE` for episode ids"
        )
    opened_on, closed_on, condition, clinician_id = found
    if closed_on is not None:
        raise Refused(
            f"episode {record.episode_id} was closed on {closed_on}; open a new episode to record care"
        )
    if record.date < opened_on:
        raise invalid(
            "date", record.date.isoformat(), f"must be on or after the episode's opening {opened_on}"
        )
    if record.date > today:
        raise invalid("date", record.date.isoformat(), f"must not be in the future (today is {today})")
    if clinician_id is None:
        known = list(
            conn.execute(select(ClinicianRow.code).where(ClinicianRow.clinic_id == clinic_id)).scalars()
        )
        raise invalid(
            "clinician", record.clinician, f"not a clinician of this clinic; allowed: {', '.join(known)}"
        )
    return _Target(record.episode_id, clinician_id, condition)


def _children(db: Session, session_id: int, episode_id: int, record: SessionRecord) -> None:
    """Insert the session's steps, measurements and adverse responses (Core executemany, same transaction)."""
    conn = db.connection()
    if record.steps:
        conn.execute(
            _INSERT_STEP,
            [
                {"session_id": session_id, "position": i, **step_columns(step)}
                for i, step in enumerate(record.steps, start=1)
            ],
        )
    if record.measurements:
        conn.execute(
            _INSERT_MEASUREMENT,
            [
                {
                    "episode_id": episode_id,
                    "session_id": session_id,
                    "version": 1,
                    **measurement_columns(m, record.date),
                }
                for m in record.measurements
            ],
        )
    if record.adverse_responses:
        conn.execute(
            _INSERT_ADVERSE,
            [
                {"episode_id": episode_id, "session_id": session_id, "version": 1, **adverse_columns(a)}
                for a in record.adverse_responses
            ],
        )


def _history(db: Session, target: _Target, record: SessionRecord) -> tuple[int, dict[str, Any]]:
    """This session's number, and the episode so far plus this session as a `strigil respond` document."""
    episode_id = target.episode_id
    conn = db.connection()
    # Every session of the episode (for the next number) with its pre/post measurements, in one query.
    rows = conn.execute(_EPISODE_MEASURES, {"episode_id": episode_id}).all()
    number = max((r[0] for r in rows), default=0) + 1
    measures = [
        {"measure": m, "session": n, "timing": t, "value": v} for n, _, m, v, t in rows if m is not None
    ]
    dates = {n: d for n, d, m, *_ in rows if m is not None}
    adverse = conn.execute(_EPISODE_ADVERSE, {"episode_id": episode_id}).all()
    # this session, not yet written
    measures += [
        {"measure": m.measure, "session": number, "timing": m.timing, "value": m.value}
        for m in record.measurements
        if m.timing in ("pre", "post")
    ]
    if any(m.timing in ("pre", "post") for m in record.measurements):
        dates[number] = record.date
    adverse_docs = [
        {
            "session": n,
            "type": kind,
            "severity": sev,
            "resolved_days": None if resolved is None else float((resolved - onset).days),
        }
        for n, kind, sev, onset, resolved in adverse
    ] + [
        {
            "session": number,
            "type": a.kind,
            "severity": a.severity,
            "resolved_days": None if a.resolved_on is None else float((a.resolved_on - a.onset_on).days),
        }
        for a in record.adverse_responses
    ]
    return number, {
        "condition": target.condition,
        "measures": measures,
        "sessions": [{"session": n, "date": d.isoformat()} for n, d in sorted(dates.items())],
        "adverse_responses": adverse_docs,
    }


def record_session(
    db: Session,
    clinic_id: int,
    doc: dict[str, Any] | SessionRecord,
    *,
    by: str = "",
    today: dt.date | None = None,
) -> RecordedSession:
    """Record a whole session (steps, measures, adverse responses) and the decision aid's recommendation."""
    record = parse_session(doc)
    conn = db.connection()
    # Lock first, so the episode check (open? whose?) and the numbering both read what the previous writer
    # committed: a concurrent close cannot slip between the check and the insert either.
    conn.execute(_LOCK_EPISODE, {"episode_id": record.episode_id})
    target = _check_against_episode(db, clinic_id, record, today=today or dt.date.today())
    number, history = _history(db, target, record)
    recommendation = recommendation_for(history)
    session_id = conn.execute(
        _INSERT_SESSION,
        {
            "episode_id": target.episode_id,
            "clinician_id": target.clinician_id,
            "number": number,
            **session_columns(record),
            "recommendation": recommendation,
            "recommended": recommendation["recommendation"] if recommendation else None,
            "version": 1,
            "created_at": now_utc(),
            "created_by": by,
        },
    ).scalar_one()
    _children(db, session_id, target.episode_id, record)
    return RecordedSession(session_id, target.episode_id, number, recommendation)


def session_document(db: Session, session_id: int) -> dict[str, Any]:
    """A stored session as the JSON document that would record it again (used for amendments and export)."""
    row = db.get(SessionRow, session_id)
    if row is None:
        raise NotFound(f"no session {session_id}")
    clinician = db.get(ClinicianRow, row.clinician_id)
    measurements = db.scalars(
        select(MeasurementRow).where(MeasurementRow.session_id == row.id).order_by(MeasurementRow.id)
    ).all()
    adverse = db.scalars(
        select(AdverseResponseRow)
        .where(AdverseResponseRow.session_id == row.id)
        .order_by(AdverseResponseRow.id)
    ).all()
    return stored_session_document(
        row, clinician=clinician.code if clinician else "", steps=row.steps, measurements=measurements,
        adverse=adverse,
    )


def amend_session(
    db: Session,
    clinic_id: int,
    session_id: int,
    doc: dict[str, Any] | SessionRecord,
    *,
    by: str,
    reason: str,
    today: dt.date | None = None,
) -> RecordedSession:
    """Correct a recorded session: the earlier version is kept in `amendments` with who, when and why."""
    record = parse_session(doc)
    row = db.get(SessionRow, session_id)
    if row is None:
        raise NotFound(f"no session {session_id} in this clinic")
    find_episode(db, clinic_id, row.episode_id)  # the session must belong to this clinic
    if record.episode_id != row.episode_id:
        raise invalid(
            "episode_id",
            record.episode_id,
            f"a correction cannot move session {session_id} "
            f"to another episode; it belongs to episode {row.episode_id}",
        )
    target = _check_against_episode(db, clinic_id, record, today=today or dt.date.today())
    keep_previous(
        db,
        "session",
        row.id,
        row.version,
        {**session_document(db, row.id), "recommendation": row.recommendation},
        by=by,
        reason=reason,
    )
    for table in (DoseStepRow, MeasurementRow, AdverseResponseRow):
        db.execute(delete(table).where(table.session_id == row.id))
    db.expire(row, ["steps"])
    row.clinician_id = target.clinician_id
    for column, value in session_columns(record).items():
        setattr(row, column, value)
    row.version += 1
    db.flush()
    _children(db, row.id, target.episode_id, record)
    db.flush()
    return RecordedSession(row.id, target.episode_id, row.number, row.recommendation, row.version)
