"""JSON API over the clinical record: patients, episodes, sessions, measures, adverse responses, screening.

Every route calls the same service functions as the CLI, scoped to the caller's clinic, and writes an
audit event for each read or write of patient data.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field, StringConstraints

from strigil.services import audit as audit_service
from strigil.services import dashboard as dashboard_service
from strigil.services import discharge as discharge_service
from strigil.services import episodes as episode_service
from strigil.services import outcomes, patients, record_ids, sessions
from strigil.services.progress import latest_recommendation, progress
from strigil.services.screening import record_screening, screen_episode
from strigil.web.api_errors import (
    CODE_CHARS,
    LIST_ITEMS,
    REASON_CHARS,
    EpisodeRef,
    Page,
    PatientCode,
    Search,
)
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.security import Principal, allow

__all__ = [
    "ALERT_WINDOW",
    "Clinician",
    "CloseIn",
    "MeasurementIn",
    "PatientIn",
    "ScreeningIn",
    "add_adverse",
    "add_measurement",
    "add_patient",
    "close_episode",
    "dashboard",
    "list_patients",
    "open_episode",
    "record_session",
    "router",
    "screening",
    "show_episode",
    "show_patient",
    "store_screening",
]

router = APIRouter(prefix="/api/v1", tags=["clinical record"], route_class=UnitOfWorkRoute)
Clinician = Annotated[Principal, allow("clinician")]
ALERT_WINDOW = dt.timedelta(days=28)  # dashboard looks at sessions of the last four weeks


def _out(db: DB, value: Any) -> Any:
    """Views as JSON-ready data that names every record by its public id (never a database integer)."""
    return record_ids.outward(db, value)


class PatientIn(BaseModel):
    """A new pseudonymous patient (no names: a code chosen by the clinic)."""

    code: str = Field(max_length=CODE_CHARS, description="pseudonymous code: letters, digits, '-' and '_'")
    birth_year: int
    sex: str = Field(max_length=CODE_CHARS, description="female, male, other or unknown")


class CloseIn(BaseModel):
    """Close an episode: a coded reason (goals_met, plateau, referred_on, patients_choice, lost_to_follow_up,
    other with text; other words are kept as the text of other)."""

    closed_on: dt.date
    reason: str = Field(max_length=REASON_CHARS)
    text: str | None = Field(default=None, max_length=500)
    referrer: str | None = Field(default=None, max_length=200)


class MeasurementIn(BaseModel):
    """A measurement outside a session document."""

    measure: str = Field(max_length=CODE_CHARS)
    value: float
    taken_on: dt.date
    timing: str = Field(default="between", max_length=CODE_CHARS)
    session_id: str | None = Field(default=None, max_length=64, description="the session's public id")


class ScreeningIn(BaseModel):
    """Findings today (catalogue codes) and whether the patient reports intolerance to IASTM."""

    findings: list[Annotated[str, StringConstraints(max_length=CODE_CHARS)]] = Field(
        default_factory=list, max_length=LIST_ITEMS
    )
    intolerance: bool = False


@router.get("/patients")
def list_patients(
    db: DB,
    principal: Clinician,
    q: Search = "",
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 25,
) -> dict[str, Any]:
    """My clinic's patients whose code starts with `q`, one page at a time."""
    found = patients.search_patients(db, principal.clinic_id, q, page=page, per_page=per_page)
    audit_service.record(db, principal.actor, "read", "patient_list", "", detail=f"q={q[:40]} page={page}")
    return {
        "total": found.total,
        "page": found.page,
        "per_page": found.per_page,
        "pages": found.pages,
        "patients": _out(db, found.patients),
    }


@router.post("/patients", status_code=201)
def add_patient(body: PatientIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Register a patient in my clinic."""
    view = patients.add_patient(db, principal.clinic_id, body.model_dump())
    audit_service.record(db, principal.actor, "create", "patient", view.id, patient_id=view.id)
    return _out(db, view)


@router.get("/patients/{patient_code}")
def show_patient(patient_code: PatientCode, db: DB, principal: Clinician) -> dict[str, Any]:
    """One patient of my clinic with their episodes."""
    view = patients.show_patient(db, principal.clinic_id, patient_code)
    audit_service.record(db, principal.actor, "read", "patient", view.id, patient_id=view.id)
    return _out(db, view)


@router.post("/patients/{patient_code}/episodes", status_code=201)
def open_episode(
    patient_code: PatientCode,
    db: DB,
    principal: Clinician,
    plan: Annotated[
        dict[str, Any],
        Body(description="an episode plan (condition, region, side, ...) and an optional referrer"),
    ],
) -> dict[str, Any]:
    """Open an episode of care (exercise-first rule applies)."""
    patients.find_patient(db, principal.clinic_id, patient_code)  # another clinic's code: 404 before anything
    referrer = plan.pop("referrer", None)
    view = episode_service.open_episode(
        db,
        principal.clinic_id,
        patient_code,
        plan,
        by=principal.username,
        referrer=referrer if isinstance(referrer, str) else None,
    )
    audit_service.record(db, principal.actor, "create", "episode", view.id, patient_id=view.patient_id)
    return _out(db, view)


@router.get("/episodes/{episode_id}")
def show_episode(episode: EpisodeRef, db: DB, principal: Clinician) -> dict[str, Any]:
    """An episode with its sessions, progress per measure (with MCID) and the latest recommendation."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    audit_service.record(db, principal.actor, "read", "episode", view.id, patient_id=view.patient_id)
    return {
        **_out(db, view),
        "progress": _out(db, progress(view)),
        "recommendation": latest_recommendation(view),
    }


@router.post("/episodes/{episode_id}/close")
def close_episode(episode: EpisodeRef, body: CloseIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Close an episode with a coded reason (as `POST /episodes/{id}/discharge`); returns the episode."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    summary = discharge_service.discharge_episode(
        db,
        principal.clinic_id,
        episode_id,
        on=body.closed_on,
        reason=body.reason,
        text=body.text,
        referrer=body.referrer,
        actor=principal.actor,
    )
    return _out(db, summary.episode)


@router.post("/episodes/{episode_id}/sessions", status_code=201)
def record_session(
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    document: Annotated[
        dict[str, Any],
        Body(description="a session as `strigil schema session`; episode_id is taken from the path"),
    ],
) -> dict[str, Any]:
    """Record a whole session (dose steps, measures, adverse responses); returns the recommendation."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    _, patient = episode_service.find_episode(db, principal.clinic_id, episode_id)
    inward = record_ids.inward_document(db, principal.clinic_id, {**document, "episode_id": episode})
    recorded = sessions.record_session(db, principal.clinic_id, inward, by=principal.username)
    audit_service.record(db, principal.actor, "create", "session", recorded.id, patient_id=patient.id)
    return _out(db, recorded)


@router.post("/episodes/{episode_id}/measurements", status_code=201)
def add_measurement(episode: EpisodeRef, body: MeasurementIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Add a measurement to an episode (between sessions, or to a session)."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    _, patient = episode_service.find_episode(db, principal.clinic_id, episode_id)
    view = outcomes.add_measurement(
        db,
        principal.clinic_id,
        episode_id,
        body.measure,
        body.value,
        taken_on=body.taken_on,
        timing=body.timing,
        session_id=None
        if body.session_id is None
        else record_ids.resolve(db, principal.clinic_id, "session", body.session_id),
    )
    audit_service.record(db, principal.actor, "create", "measurement", view.id, patient_id=patient.id)
    return _out(db, view)


@router.post("/episodes/{episode_id}/adverse-responses", status_code=201)
def add_adverse(
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    body: Annotated[dict[str, Any], Body(description="kind, severity, onset_on, resolved_on, region, note")],
) -> dict[str, Any]:
    """Record an adverse response (petechiae, bruising, soreness, ...)."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    _, patient = episode_service.find_episode(db, principal.clinic_id, episode_id)
    given = body.pop("session_id", None)
    session_id = None if given is None else record_ids.resolve(db, principal.clinic_id, "session", given)
    view = outcomes.add_adverse_response(db, principal.clinic_id, episode_id, body, session_id=session_id)
    audit_service.record(db, principal.actor, "create", "adverse_response", view.id, patient_id=patient.id)
    return _out(db, view)


@router.post("/episodes/{episode_id}/screening")
def screening(episode: EpisodeRef, body: ScreeningIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Screen before today's session: findings plus the episode's own adverse-response history."""
    view = episode_service.show_episode_named(db, principal.clinic_id, episode)
    try:
        result = screen_episode(view, body.findings, intolerance=body.intolerance)
    except ValueError as exc:
        from strigil.services.errors import invalid

        raise invalid("findings", body.findings, str(exc)) from None
    audit_service.record(db, principal.actor, "read", "screening", view.id, patient_id=view.patient_id)
    return dict(result.to_json())


@router.post("/episodes/{episode_id}/screenings", status_code=201)
def store_screening(
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    document: Annotated[
        dict[str, Any],
        Body(description="a screening as `strigil schema screen`; stored on the episode, which gates the "
             "next session on it"),
    ],
) -> dict[str, Any]:
    """Screen and store the screening on the episode (with its own adverse responses and tolerance)."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    _, patient = episode_service.find_episode(db, principal.clinic_id, episode_id)
    inward = record_ids.inward_document(db, principal.clinic_id, {**document, "episode_id": episode})
    stored, result = record_screening(db, principal.clinic_id, episode_id, inward, by=principal.username)
    audit_service.record(db, principal.actor, "create", "screening", stored.id, patient_id=patient.id)
    return _out(db, {**result.to_json(), "episode_id": episode_id, "screening_id": stored.id})


@router.get("/dashboard")
def dashboard(db: DB, principal: Clinician) -> dict[str, Any]:
    """Today's patients and the alerts of my clinic."""
    today = dt.date.today()
    rows = dashboard_service.today_patients(db, principal.clinic_id, today)
    alerts = dashboard_service.clinic_alerts(db, principal.clinic_id, since=today - ALERT_WINDOW)
    safety = dashboard_service.safety_counts(db, principal.clinic_id, since=today - ALERT_WINDOW)
    audit_service.record(db, principal.actor, "read", "dashboard", "")
    return {
        "today": _out(db, rows),
        "alerts": _out(db, alerts),
        "safety": {**_out(db, safety), "follow_up_completeness": safety.follow_up_completeness},
    }
