"""Treatment sessions: record a whole session in one transaction, through the safety gates; correct it by
amendment.

At the table (the command line, the API, the web form) a session passes the gates of
`strigil.clinical.gates` — the screening of every treated region, the override reason, the dose
confirmation, the plan of care, exercise delivered — or is refused with every reason and nothing is written.
A history brought in from another system (`at_the_table=False`: the exchange import, the demo clinic) is
recorded as it happened; its gates are still worked out and kept with each session.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from strigil.clinical.adverse import AdverseReport
from strigil.clinical.checks import FieldProblem
from strigil.clinical.gates import GateCheck, check_session
from strigil.clinical.session import AdverseResponse, ScreeningStep, SessionFinding, SessionRecord
from strigil.services.amendments import add_addendum_to, keep_previous
from strigil.services.decision_support import (
    recommendation_for,
    respond_history,
    standing_contraindications,
)
from strigil.services.episodes import find_episode
from strigil.services.errors import InvalidInput, NotFound, Refused, from_validation, invalid
from strigil.services.outcomes import resolve_adverse_response
from strigil.services.screening import SessionScreening, session_screening, store_session_screening
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

__all__ = [
    "GateRefused",
    "RecordedSession",
    "amend_session",
    "parse_session",
    "record_session",
    "session_document",
    "session_problems",
]


# The write path's statements, built once at import: building a Core statement (operator coercion, cache key)
# cost more CPU per write than executing it. Executed on the unit of work's connection, so they share its
# transaction; SQLAlchemy's compiled cache keeps one compiled form per dialect.
_EPISODE_CHECK = (
    select(
        EpisodeRow.opened_on,
        EpisodeRow.closed_on,
        EpisodeRow.condition,
        EpisodeRow.planned_iastm,
        EpisodeRow.region,
        EpisodeRow.voided_at,
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
        SessionRow.voided_at,
        MeasurementRow.joint,
        MeasurementRow.motion,
        MeasurementRow.side,
        MeasurementRow.activity,
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
        AdverseResponseRow.id,
    )
    .join(SessionRow, SessionRow.id == AdverseResponseRow.session_id)
    .where(AdverseResponseRow.episode_id == bindparam("episode_id"), SessionRow.voided_at.is_(None))
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

    RECORD_KIND: ClassVar[str] = "session"  # what `id` names (strigil.services.record_ids)
    id: int
    episode_id: int
    number: int
    recommendation: dict[str, Any] | None
    version: int = 1
    screening: dict[str, Any] | None = None  # the screening it was gated on, with the gates' outcome


class GateRefused(InvalidInput):
    """A session the safety gates refuse: every refusal as a field problem, the gates' outcome attached."""

    def __init__(self, problems: list[FieldProblem], gates: GateCheck, screening: dict[str, Any]) -> None:
        self.gates = gates
        self.screening = screening
        super().__init__(problems)


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
    planned_iastm: bool
    region: str


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
        raise NotFound("no such episode in this clinic; see `strigil patient show CODE` for episode ids")
    opened_on, closed_on, condition, planned_iastm, region, voided_at, clinician_id = found
    if voided_at is not None:
        raise Refused("the episode is void (entered by mistake); it takes no sessions")
    if closed_on is not None:
        raise Refused(f"the episode was closed on {closed_on}; open a new episode to record care")
    problems = _when_and_who(db, clinic_id, record.date, record.clinician, opened_on, clinician_id, today)
    if problems:
        raise InvalidInput(problems[:1])
    assert clinician_id is not None
    return _Target(record.episode_id, clinician_id, condition, planned_iastm, region)


def _when_and_who(
    db: Session,
    clinic_id: int,
    date: dt.date | None,
    clinician: str,
    opened_on: dt.date,
    clinician_id: int | None,
    today: dt.date,
) -> list[FieldProblem]:
    """The session date against the episode's opening and today; the clinician against the clinic's."""
    problems = []
    if date is not None and date < opened_on:
        problems.append(
            FieldProblem("date", date.isoformat(), f"must be on or after the episode's opening {opened_on}")
        )
    if date is not None and date > today:
        future = f"must not be in the future (today is {today})"
        problems.append(FieldProblem("date", date.isoformat(), future))
    if clinician_id is None:
        known = list(
            db.connection()
            .execute(select(ClinicianRow.code).where(ClinicianRow.clinic_id == clinic_id))
            .scalars()
        )
        allowed = f"not a clinician of this clinic; allowed: {', '.join(known)}"
        problems.append(FieldProblem("clinician", clinician, allowed))
    return problems


def session_problems(
    db: Session, clinic_id: int, doc: dict[str, Any], *, today: dt.date | None = None
) -> list[FieldProblem]:
    """Everything wrong with a session document at once, before anything is written: every field the
    document's validation names, and the date and clinician checked against the episode even when other
    fields are wrong (a form then shows all its errors together). An unknown or closed episode raises as
    `record_session` does. The safety gates are `record_session`'s (they need a valid document)."""
    try:
        SessionRecord.model_validate(doc)
        problems: list[FieldProblem] = []
    except ValidationError as exc:
        problems = from_validation(exc).problems
    try:
        date: dt.date | None = dt.date.fromisoformat(str(doc.get("date", "")))
    except ValueError:
        date = None
    clinician = str(doc.get("clinician") or "")
    found = db.connection().execute(
        _EPISODE_CHECK, {"episode_id": doc.get("episode_id"), "clinic_id": clinic_id, "clinician": clinician}
    ).first()
    if found is None:
        raise NotFound(f"no episode {doc.get('episode_id')} in this clinic")
    opened_on, closed_on, *_, clinician_id = found
    if closed_on is not None:
        raise Refused(f"episode {doc.get('episode_id')} was closed on {closed_on}; open a new episode")
    known = {p.field for p in problems}
    for problem in _when_and_who(
        db, clinic_id, date, clinician, opened_on, clinician_id, today or dt.date.today()
    ):
        if problem.field not in known:
            problems.append(problem)
    return problems


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


def _history(
    db: Session, target: _Target, record: SessionRecord, follow_up: _FollowUp | None = None
) -> tuple[int, dict[str, Any]]:
    """This session's number, and the episode so far plus this session (and the reactions and resolutions
    its follow-up answers report) as a `strigil respond` document. Void sessions keep their number but are
    left out of what the decision aid judges."""
    episode_id = target.episode_id
    conn = db.connection()
    # Every session of the episode (for the next number) with its pre/post measurements, in one query.
    rows = conn.execute(_EPISODE_MEASURES, {"episode_id": episode_id}).all()
    number = max((r[0] for r in rows), default=0) + 1
    counted = [r for r in rows if r[5] is None]
    qualifiers = ("joint", "motion", "side", "activity")  # which series a value is one of (ROM, PSFS)
    measures: list[tuple[Any, ...]] = [
        (n, m, t, v, dict(zip(qualifiers, q, strict=True)))
        for n, _, m, v, t, _, *q in counted
        if m is not None
    ]
    dates = {n: d for n, d, *_ in counted}
    # this session, not yet written
    measures += [
        (number, m.measure, m.timing, m.value, {q: getattr(m, q) for q in qualifiers})
        for m in record.measurements
    ]
    dates[number] = record.date
    resolved_now = {} if follow_up is None else dict(follow_up.resolutions)
    adverse = [
        (n, kind, sev, onset, resolved or resolved_now.get(aid))
        for n, kind, sev, onset, resolved, aid in conn.execute(_EPISODE_ADVERSE, {"episode_id": episode_id})
    ]
    adverse += [
        (n, a.kind, a.severity, a.onset_on, a.resolved_on)
        for _, n, a in (() if follow_up is None else follow_up.reactions)
    ]
    adverse += [(number, a.kind, a.severity, a.onset_on, a.resolved_on) for a in record.adverse_responses]
    return number, respond_history(target.condition, dates, measures, adverse)


@dataclass(frozen=True)
class _FollowUp:
    """What a session's follow-up answers report: reactions after earlier sessions, and resolutions."""

    reactions: tuple[tuple[int, int, AdverseResponse], ...]  # (session id, session number, reaction)
    resolutions: tuple[tuple[int, dt.date], ...]  # (adverse response id, resolved on)


def _follow_up(db: Session, target: _Target, record: SessionRecord) -> _FollowUp:
    """Check the follow-up answers against the episode: earlier sessions, real dates, open responses."""
    answers = record.follow_up
    if answers is None:
        return _FollowUp((), ())
    earlier = {
        n: (sid, date)
        for sid, n, date in db.execute(
            select(SessionRow.id, SessionRow.number, SessionRow.date).where(
                SessionRow.episode_id == target.episode_id
            )
        )
    }
    problems: list[FieldProblem] = []
    reactions = []
    for i, r in enumerate(answers.reactions):
        where = f"follow_up.reactions[{i}]"
        if r.session not in earlier:
            known = ", ".join(str(n) for n in sorted(earlier)) or "none yet"
            problems.append(
                FieldProblem(
                    f"{where}.session", r.session, f"not a session of this episode; sessions: {known}"
                )
            )
            continue
        session_id, date = earlier[r.session]
        if not date <= r.onset_on <= record.date:
            problems.append(
                FieldProblem(
                    f"{where}.onset_on",
                    r.onset_on.isoformat(),
                    f"a reaction after session {r.session} began between {date} and this visit "
                    f"({record.date})",
                )
            )
        if r.resolved_on is not None and r.resolved_on > record.date:
            problems.append(
                FieldProblem(
                    f"{where}.resolved_on", r.resolved_on.isoformat(), "must not be after this visit"
                )
            )
        reactions.append((session_id, r.session, r.response()))
    open_ids = {
        aid: onset
        for aid, onset in db.execute(
            select(AdverseResponseRow.id, AdverseResponseRow.onset_on).where(
                AdverseResponseRow.episode_id == target.episode_id, AdverseResponseRow.resolved_on.is_(None)
            )
        )
    }
    resolutions = []
    for i, res in enumerate(answers.resolved):
        where = f"follow_up.resolved[{i}]"
        if res.adverse_id not in open_ids:
            problems.append(
                FieldProblem(
                    f"{where}.adverse_id",
                    res.adverse_id,
                    "not an unresolved adverse response of this episode",
                )
            )
        elif not open_ids[res.adverse_id] <= res.resolved_on <= record.date:
            problems.append(
                FieldProblem(
                    f"{where}.resolved_on",
                    res.resolved_on.isoformat(),
                    f"must be between its onset ({open_ids[res.adverse_id]}) and this visit ({record.date})",
                )
            )
        else:
            resolutions.append((res.adverse_id, res.resolved_on))
    if problems:
        raise InvalidInput(problems)
    return _FollowUp(tuple(reactions), tuple(resolutions))


def _gate(
    record: SessionRecord,
    target: _Target,
    screening: SessionScreening,
    recommended: str | None,
) -> GateCheck:
    return check_session(
        steps=record.steps,
        planned_iastm=target.planned_iastm,
        verdicts=screening.verdicts(),
        referral=screening.result.referral,
        consult_required=screening.result.consult_required,
        recommendation=recommended,
        decision=record.clinician_decision,
        override_reason=record.override_reason,
        dose_confirmed=record.dose_confirmed,
        exercise_delivered=record.exercise_delivered,
        exercise_not_delivered_reason=record.exercise_not_delivered_reason,
    )


def _refuse(gates: GateCheck, copy: dict[str, Any]) -> GateRefused:
    problems = [FieldProblem(r.field, None, f"{r.message} [{r.rule}]") for r in gates.refusals]
    return GateRefused(problems, gates, copy)


def record_session(
    db: Session,
    clinic_id: int,
    doc: dict[str, Any] | SessionRecord,
    *,
    by: str = "",
    today: dt.date | None = None,
    at_the_table: bool = True,
) -> RecordedSession:
    """Record a whole session (steps, measures, adverse responses, follow-up answers) through the safety
    gates, with the screening it was gated on and the decision aid's recommendation.

    A refusal raises GateRefused (every reason, field by field) before anything is written.
    """
    record = parse_session(doc)
    on = today or dt.date.today()
    conn = db.connection()
    # Lock first, so the episode check (open? whose?) and the numbering both read what the previous writer
    # committed: a concurrent close cannot slip between the check and the insert either.
    conn.execute(_LOCK_EPISODE, {"episode_id": record.episode_id})
    target = _check_against_episode(db, clinic_id, record, today=on)
    follow_up = _follow_up(db, target, record)
    number, history = _history(db, target, record, follow_up)
    reported = [
        AdverseReport(a.kind, a.severity, _days(a), n, float((record.date - a.onset_on).days), a.region)
        for _, n, a in follow_up.reactions
    ]
    regions = [s.region for s in record.steps] or [target.region]
    screening = session_screening(
        db, target.episode_id, regions, record.screening, today=record.date, reported=reported
    )
    # the screening this session is gated on is the episode's latest: a contraindication in it says refer
    history["contraindications"] = standing_contraindications(
        screening.result.to_json(), screening.screened_on
    )
    recommendation = recommendation_for(history)
    recommended = recommendation["recommendation"] if recommendation else None
    gates = _gate(record, target, screening, recommended)
    if gates.refusals and at_the_table:
        raise _refuse(gates, screening.to_json(None))
    screening_id = store_session_screening(db, target.episode_id, screening, on=record.date, by=by)
    copy = {**screening.to_json(screening_id), "gates": gates.to_json(), "at_the_table": at_the_table}
    columns = session_columns(record)
    if columns["follow_up"] is not None:  # what the answers reported, in words, for this session's note
        columns["follow_up"] = {**columns["follow_up"], "reported": _reported(db, follow_up)}
    session_id = conn.execute(
        _INSERT_SESSION,
        {
            "episode_id": target.episode_id,
            "clinician_id": target.clinician_id,
            "number": number,
            **columns,
            "screening_id": screening_id,
            "screening": copy,
            "recommendation": recommendation,
            "recommended": recommended,
            "version": 1,
            "created_at": now_utc(),
            "created_by": by,
        },
    ).scalar_one()
    _children(db, session_id, target.episode_id, record)
    if follow_up.reactions:
        conn.execute(
            _INSERT_ADVERSE,
            [
                {"episode_id": target.episode_id, "session_id": sid, "version": 1, **adverse_columns(a)}
                for sid, _, a in follow_up.reactions
            ],
        )
        for sid, _, a in follow_up.reactions:  # the earlier session's note gets a dated addendum
            earlier = db.get(SessionRow, sid)
            if earlier is not None:
                resolved = f", resolved {a.resolved_on}" if a.resolved_on else ""
                add_addendum_to(
                    earlier,
                    record.date,
                    f"reported at session {number}: {a.severity} {a.kind.replace('_', ' ')} from {a.onset_on}"
                    + resolved,
                    by=by or "follow-up",
                )
    for adverse_id, resolved_on in follow_up.resolutions:
        resolve_adverse_response(
            db,
            clinic_id,
            adverse_id,
            resolved_on,
            by=by or "follow-up",
            reason=f"resolution reported at session {number}'s follow-up questions",
        )
    return RecordedSession(session_id, target.episode_id, number, recommendation, screening=copy)


def _reported(db: Session, follow_up: _FollowUp) -> list[str]:
    """The follow-up answers in words: each reaction since an earlier session, each resolution."""
    reported = [
        f"{a.severity} {a.kind.replace('_', ' ')} after session {n}, from {a.onset_on}"
        + (f", resolved {a.resolved_on}" if a.resolved_on else "")
        for _, n, a in follow_up.reactions
    ]
    for adverse_id, resolved_on in follow_up.resolutions:
        row = db.get(AdverseResponseRow, adverse_id)
        kind = row.kind.replace("_", " ") if row else "adverse response"
        onset = f" (onset {row.onset_on})" if row else ""
        reported.append(f"{kind}{onset} resolved on {resolved_on}")
    return reported


def _days(a: AdverseResponse) -> float | None:
    return None if a.resolved_on is None else float((a.resolved_on - a.onset_on).days)


def session_document(db: Session, session_id: int) -> dict[str, Any]:
    """A stored session as the JSON document that would record it again (used for amendments and export)."""
    row = db.get(SessionRow, session_id)
    if row is None:
        raise NotFound("no such session")
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
    """Correct a recorded session: the earlier version is kept in `amendments` with who, when and why.

    The corrected session passes the same gates, against the findings of the screening it was gated on.
    """
    record = parse_session(doc)
    row = db.get(SessionRow, session_id)
    if row is None:
        raise NotFound("no such session in this clinic")
    find_episode(db, clinic_id, row.episode_id)  # the session must belong to this clinic
    if record.episode_id != row.episode_id:
        raise invalid(
            "episode_id",
            record.episode_id,
            "a correction cannot move a session to another episode",
        )
    target = _check_against_episode(db, clinic_id, record, today=today or dt.date.today())
    if record.follow_up is not None and (record.follow_up.reactions or record.follow_up.resolved):
        raise invalid(
            "follow_up",
            "reactions/resolved",
            "follow-up answers are applied when the session is recorded; record a later reaction against "
            "its own session (`strigil adverse add --session N`) or resolve it (`strigil adverse resolve`)",
        )
    copy = row.screening or {}
    step = (
        ScreeningStep(
            findings=[SessionFinding(code=f["code"], region=f.get("region")) for f in copy["findings"]],
            intolerance=bool(copy.get("intolerance")),
        )
        if copy.get("findings") is not None
        else None
    )
    regions = [s.region for s in record.steps] or [target.region]
    screening = session_screening(db, target.episode_id, regions, step, today=record.date)
    gates = _gate(record, target, screening, row.recommended)
    if gates.refusals:
        raise _refuse(gates, screening.to_json(row.screening_id))
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
    reported = (row.follow_up or {}).get("reported")
    for column, value in session_columns(record).items():
        setattr(row, column, value)
    if reported and row.follow_up is not None:  # what the answers reported at the time stays with the note
        row.follow_up = {**row.follow_up, "reported": reported}
    row.screening = {**screening.to_json(row.screening_id), "gates": gates.to_json(), "at_the_table": True}
    row.version += 1
    db.flush()
    _children(db, row.id, target.episode_id, record)
    db.flush()
    return RecordedSession(row.id, target.episode_id, row.number, row.recommendation, row.version)
