"""Void: a session or an episode entered by mistake is marked void with a reason, never deleted.

A void record is kept (and audited), shown struck through, and left out of every analysis, export and
recommendation: the decision aid, progress, screening and follow-up questions
(`EpisodeView.counted_sessions`), the dashboard, the CSV/research exports and the researcher's outcomes. The
FHIR exchange carries it marked `entered-in-error` (`strigil.interop.to_fhir`), so a copy keeps it void.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from strigil.clinical.gates import reason_problem
from strigil.services import audit
from strigil.services.audit import Actor
from strigil.services.episodes import find_episode
from strigil.services.errors import Refused, invalid
from strigil.services.notes import find_session
from strigil.store.types import now_utc

__all__ = ["void_episode", "void_session"]


def _reason(reason: str) -> str:
    problem = reason_problem(reason, "reason")
    if problem:
        raise invalid("reason", reason, problem.split(": ", 1)[1])
    return " ".join(reason.split())


def void_session(db: Session, clinic_id: int, session_id: int, *, reason: str, actor: Actor) -> None:
    """Mark a session void (entered by mistake) with who, when and why; it keeps its number."""
    row, patient = find_session(db, clinic_id, session_id)
    if row.voided_at is not None:
        raise Refused(f"session {row.public_id} is already void ({row.void_reason})")
    why = _reason(reason)
    row.voided_at, row.voided_by, row.void_reason = now_utc(), actor.username[:64], why
    db.flush()
    audit.record(db, actor, "update", "session", row.id, patient_id=patient.id, detail=f"void: {why}"[:255])


def void_episode(db: Session, clinic_id: int, episode_id: int, *, reason: str, actor: Actor) -> None:
    """Mark an episode void (opened by mistake) with who, when and why; it takes no more sessions."""
    episode, patient = find_episode(db, clinic_id, episode_id)
    if episode.voided_at is not None:
        raise Refused(f"episode {episode.public_id} is already void ({episode.void_reason})")
    why = _reason(reason)
    episode.voided_at, episode.voided_by, episode.void_reason = now_utc(), actor.username[:64], why
    db.flush()
    audit.record(
        db, actor, "update", "episode", episode.id, patient_id=patient.id, detail=f"void: {why}"[:255]
    )
