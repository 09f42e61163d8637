"""Closing an episode's loops: resolve an adverse response (from the note, the episode page or the dashboard
alert), discharge with a coded reason and its summary, the letter to the referring clinician, reopen, void
(pages and JSON). The services write the audit event of each action; the routes record the reads."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from strigil.services import audit as audit_service
from strigil.services import discharge as discharge_service
from strigil.services import record_ids
from strigil.services.choices import record_choices
from strigil.services.errors import RecordError, invalid
from strigil.services.outcomes import resolve_adverse_response
from strigil.services.void import void_episode
from strigil.web.api_errors import REASON_CHARS, AdverseRef, EpisodeRef
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.security import Principal, allow

__all__ = [
    "Clinician",
    "DischargeIn",
    "ReasonIn",
    "ResolveIn",
    "api",
    "discharge",
    "discharge_letter",
    "discharge_page",
    "discharge_post",
    "pages",
    "reopen",
    "reopen_page",
    "resolve",
    "resolve_page",
    "summary",
    "void",
    "void_page",
]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["discharge"], route_class=UnitOfWorkRoute)
Clinician = Annotated[Principal, allow("clinician")]


class DischargeIn(BaseModel):
    """Discharge: the date, a coded reason (goals_met, plateau, referred_on, patients_choice,
    lost_to_follow_up, other — other with text) and the referring clinician the letter goes to."""

    on: dt.date
    reason: str = Field(max_length=REASON_CHARS)
    text: str | None = Field(default=None, max_length=500)
    referrer: str | None = Field(default=None, max_length=200)


class ReasonIn(BaseModel):
    """Why (at least 3 words and 15 characters)."""

    reason: str = Field(max_length=1000)


class ResolveIn(BaseModel):
    """When an adverse response resolved, how that became known, and a note."""

    resolved_on: dt.date
    where: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=1000)


def _summary(db: DB, principal: Principal, episode_id: int, detail: str) -> Any:
    found = discharge_service.discharge_summary(db, principal.clinic_id, episode_id)
    audit_service.record(
        db, principal.actor, "read", "episode", episode_id, patient_id=found.episode.patient_id, detail=detail
    )
    return found


def _discharge_page(
    request: Request,
    db: DB,
    principal: Principal,
    episode_id: int,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    found = _summary(db, principal, episode_id, "discharge summary")
    return render(
        request,
        "discharge.html",
        principal,
        status_code=422 if error else 200,
        summary=found,
        error=error,
        form=form or {},
        today=dt.date.today(),
        **record_choices(),
    )


def _date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else dt.date.today()
    except ValueError:
        raise invalid(field, value, "a date YYYY-MM-DD") from None


@pages.get("/episodes/{episode_id}/discharge")
def discharge_page(request: Request, episode: EpisodeRef, db: DB, principal: Clinician) -> Response:
    """The discharge summary (so far, while open), the discharge form, or reopening once discharged."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    return _discharge_page(request, db, principal, episode_id)


@pages.post("/episodes/{episode_id}/discharge")
def discharge_post(
    request: Request,
    episode: EpisodeRef,
    db: DB,
    principal: Clinician,
    on: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    referrer: Annotated[str, Form()] = "",
) -> Response:
    """Discharge the episode with a coded reason."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    form = {"on": on, "reason": reason, "text": text, "referrer": referrer}
    try:
        if not reason:
            raise invalid("reason", reason, "choose why the episode ends")
        discharge_service.discharge_episode(
            db,
            principal.clinic_id,
            episode_id,
            on=_date(on, "on"),
            reason=reason,
            text=text or None,
            referrer=referrer,
            actor=principal.actor,
        )
    except RecordError as exc:
        return _discharge_page(request, db, principal, episode_id, error=str(exc), form=form)
    return RedirectResponse(f"/episodes/{episode}/discharge", status_code=303)


@pages.get("/episodes/{episode_id}/discharge/letter")
def discharge_letter(request: Request, episode: EpisodeRef, db: DB, principal: Clinician) -> Response:
    """The discharge summary as a printable letter to the referring clinician."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    found = _summary(db, principal, episode_id, "discharge letter")
    return render(request, "discharge_letter.html", principal, summary=found, **record_choices())


@pages.post("/episodes/{episode_id}/reopen")
def reopen_page(
    request: Request, episode: EpisodeRef, db: DB, principal: Clinician, reason: Annotated[str, Form()] = ""
) -> Response:
    """Reopen a discharged episode, with a reason."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    try:
        discharge_service.reopen_episode(
            db, principal.clinic_id, episode_id, reason=reason, actor=principal.actor
        )
    except RecordError as exc:
        return _discharge_page(
            request, db, principal, episode_id, error=str(exc), form={"reopen_reason": reason}
        )
    return RedirectResponse(f"/episodes/{episode}", status_code=303)


@pages.post("/episodes/{episode_id}/void")
def void_page(
    request: Request, episode: EpisodeRef, db: DB, principal: Clinician, reason: Annotated[str, Form()] = ""
) -> Response:
    """Mark the episode void (opened by mistake), with a reason."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    try:
        void_episode(db, principal.clinic_id, episode_id, reason=reason, actor=principal.actor)
    except RecordError as exc:
        return _discharge_page(
            request, db, principal, episode_id, error=str(exc), form={"void_reason": reason}
        )
    return RedirectResponse(f"/episodes/{episode}", status_code=303)


def _safe_next(target: str, fallback: str) -> str:
    """Back to a page of this site only (a path, never another host)."""
    return (
        target if target.startswith("/") and not target.startswith("//") and "\\" not in target else fallback
    )


@pages.post("/adverse-responses/{adverse_id}/resolve")
def resolve_page(
    request: Request,
    adverse: AdverseRef,
    db: DB,
    principal: Clinician,
    resolved_on: Annotated[str, Form()] = "",
    where: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Resolve an adverse response (from the note, the episode page or the dashboard); back where it was."""
    adverse_id = record_ids.resolve(db, principal.clinic_id, "adverse_response", adverse)
    resolve_adverse_response(
        db,
        principal.clinic_id,
        adverse_id,
        _date(resolved_on, "resolved_on"),
        by=principal.username,
        where=where,
        note=note,
        actor=principal.actor,
    )
    return RedirectResponse(_safe_next(back, "/"), status_code=303)


@api.post("/adverse-responses/{adverse_id}/resolve")
def resolve(adverse: AdverseRef, body: ResolveIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Record when an adverse response resolved, how that became known and a note (kept as an amendment;
    the session it followed gets a dated addendum)."""
    adverse_id = record_ids.resolve(db, principal.clinic_id, "adverse_response", adverse)
    view = resolve_adverse_response(
        db,
        principal.clinic_id,
        adverse_id,
        body.resolved_on,
        by=principal.username,
        where=body.where,
        note=body.note,
        actor=principal.actor,
    )
    return dict(record_ids.outward(db, view))


@api.post("/episodes/{episode_id}/discharge")
def discharge(episode: EpisodeRef, body: DischargeIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Discharge the episode with a coded reason; returns the discharge summary."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    return discharge_service.discharge_episode(
        db,
        principal.clinic_id,
        episode_id,
        on=body.on,
        reason=body.reason,
        text=body.text,
        referrer=body.referrer,
        actor=principal.actor,
    ).to_json(db)


@api.get("/episodes/{episode_id}/discharge-summary")
def summary(episode: EpisodeRef, db: DB, principal: Clinician) -> dict[str, Any]:
    """The discharge summary: sessions, IASTM dose per area, change per measure against its bar, adverse
    responses and their course, the reason (so far, while the episode is open)."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    return dict(_summary(db, principal, episode_id, "discharge summary").to_json(db))


@api.post("/episodes/{episode_id}/reopen")
def reopen(episode: EpisodeRef, body: ReasonIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Reopen a discharged episode, with a reason (the discharge is kept as an earlier version)."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    view = discharge_service.reopen_episode(
        db, principal.clinic_id, episode_id, reason=body.reason, actor=principal.actor
    )
    return dict(record_ids.outward(db, view))


@api.post("/episodes/{episode_id}/void")
def void(episode: EpisodeRef, body: ReasonIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Mark the episode void (opened by mistake); kept, and left out of analyses and exports."""
    episode_id = record_ids.resolve(db, principal.clinic_id, "episode", episode)
    void_episode(db, principal.clinic_id, episode_id, reason=body.reason, actor=principal.actor)
    return dict(_summary(db, principal, episode_id, "voided").to_json(db))
