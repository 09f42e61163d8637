"""Episodes of care: open (with the exercise-first rule), close, show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.clinical.episode import EpisodePlan
from strigil.services._convert import episode_view
from strigil.services.decision_support import exercise_first_problem
from strigil.services.errors import NotFound, Refused, from_validation, invalid
from strigil.services.patients import find_patient
from strigil.services.views import EpisodeView
from strigil.store.mapping import episode_columns
from strigil.store.record import EpisodeRow, PatientRow

__all__ = ["close_episode", "find_episode", "open_episode", "show_episode"]


def open_episode(
    db: Session, clinic_id: int, patient_code: str, plan: dict[str, Any] | EpisodePlan, *, by: str = ""
) -> EpisodeView:
    """Open an episode of care; IASTM without an active exercise component needs a recorded reason."""
    try:
        episode = plan if isinstance(plan, EpisodePlan) else EpisodePlan.model_validate(plan)
    except ValidationError as exc:
        raise from_validation(exc) from None
    problem = exercise_first_problem(
        episode.planned_iastm, list(episode.planned_co_interventions), episode.exercise_first_reason
    )
    if problem:
        raise Refused(f"exercise first: {problem}")
    patient = find_patient(db, clinic_id, patient_code)
    row = EpisodeRow(patient_id=patient.id, created_by=by, **episode_columns(episode))
    db.add(row)
    db.flush()
    return episode_view(db, row, patient)


def find_episode(db: Session, clinic_id: int, episode_id: int) -> tuple[EpisodeRow, PatientRow]:
    """The episode and its patient, if the episode belongs to the clinic."""
    found = db.execute(
        select(EpisodeRow, PatientRow)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(EpisodeRow.id == episode_id, PatientRow.clinic_id == clinic_id)
    ).first()
    if found is None:
        raise NotFound(
            f"no episode {episode_id} in this clinic; see `strigil patient show CODE` for episode ids"
        )
    return found[0], found[1]


def show_episode(db: Session, clinic_id: int, episode_id: int) -> EpisodeView:
    """One episode with its sessions, measurements and adverse responses."""
    episode, patient = find_episode(db, clinic_id, episode_id)
    return episode_view(db, episode, patient)


def close_episode(
    db: Session, clinic_id: int, episode_id: int, closed_on: dt.date, reason: str
) -> EpisodeView:
    """Close an episode (discharge, referral, ...); a closed episode takes no more sessions."""
    episode, patient = find_episode(db, clinic_id, episode_id)
    if episode.closed_on is not None:
        raise Refused(f"episode {episode_id} was already closed on {episode.closed_on}")
    if closed_on < episode.opened_on:
        raise invalid(
            "closed_on", closed_on.isoformat(), f"must be on or after opened_on {episode.opened_on}"
        )
    if not reason.strip():
        raise invalid("reason", reason, "say why the episode is closed (e.g. discharged, referred)")
    episode.closed_on, episode.close_reason = closed_on, reason.strip()
    db.flush()
    return episode_view(db, episode, patient)
