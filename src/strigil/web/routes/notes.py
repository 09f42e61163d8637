"""The session note: its page, its print view, and signing, amending, adding to and voiding it (pages and
JSON). The services write the audit event of each action; the routes record the reads."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from strigil.services import accounts as account_service
from strigil.services import audit as audit_service
from strigil.services import notes as note_service
from strigil.services import record_ids
from strigil.services.choices import record_choices
from strigil.services.errors import RecordError
from strigil.services.void import void_session
from strigil.web.api_errors import REASON_CHARS, EpisodeRef, SessionRef
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.security import Principal, allow

__all__ = [
    "AddendumIn",
    "AmendmentIn",
    "Clinician",
    "VoidIn",
    "add_addendum",
    "add_addendum_page",
    "amend",
    "amend_page",
    "api",
    "episode_notes_print",
    "note",
    "note_page",
    "note_print",
    "pages",
    "sign",
    "sign_page",
    "void",
    "void_page",
]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["session notes"], route_class=UnitOfWorkRoute)
Clinician = Annotated[Principal, allow("clinician")]


class AmendmentIn(BaseModel):
    """A correction: some fields (`changes`) or the whole corrected session document, and why."""

    reason: str = Field(max_length=REASON_CHARS, description="why the note is corrected")
    changes: dict[str, Any] | None = Field(
        default=None, description=f"fields to change: {', '.join(note_service.AMENDABLE)}"
    )
    document: dict[str, Any] | None = Field(default=None, description="the whole corrected session document")


class AddendumIn(BaseModel):
    """New information about the session that arrived later, dated."""

    on: dt.date
    text: str = Field(max_length=4000)


class VoidIn(BaseModel):
    """Why a record is void (entered by mistake): at least 3 words and 15 characters."""

    reason: str = Field(max_length=1000)


def _read(db: DB, principal: Principal, session_id: int, detail: str) -> note_service.SessionNote:
    note = note_service.session_note(db, principal.clinic_id, session_id)
    audit_service.record(
        db, principal.actor, "read", "session", session_id, patient_id=note.episode.patient_id, detail=detail
    )
    return note


def _note_page(
    request: Request,
    db: DB,
    principal: Principal,
    session_id: int,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    note = _read(db, principal, session_id, "note")
    return render(
        request,
        "note.html",
        principal,
        status_code=422 if error else 200,
        note=note,
        error=error,
        form=form or {},
        amendable=note_service.AMENDABLE,
        today=dt.date.today(),
        **record_choices(),
    )


@pages.get("/sessions/{session_id}")
def note_page(request: Request, session: SessionRef, db: DB, principal: Clinician) -> Response:
    """A session's note: everything recorded, its signature, amendments and addenda; the actions on it."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    return _note_page(request, db, principal, session_id)


@pages.get("/sessions/{session_id}/print")
def note_print(request: Request, session: SessionRef, db: DB, principal: Clinician) -> Response:
    """The note as a printed page: clinic, patient code, episode, clinician, date and a signature line."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    note = _read(db, principal, session_id, "note printed")
    return render(request, "note_print.html", principal, notes=[note], **record_choices())


@pages.get("/episodes/{episode_id}/notes/print")
def episode_notes_print(request: Request, episode: EpisodeRef, db: DB, principal: Clinician) -> Response:
    """Every note of an episode, one per printed page (void ones included, struck through)."""
    from strigil.services.episodes import show_episode_named

    view = show_episode_named(db, principal.clinic_id, episode)
    found = [note_service.session_note(db, principal.clinic_id, s.id) for s in view.sessions]
    audit_service.record(
        db, principal.actor, "read", "episode", view.id, patient_id=view.patient_id, detail="notes printed"
    )
    return render(request, "note_print.html", principal, notes=found, **record_choices())


def _back(session: str, anchor: str) -> Response:
    return RedirectResponse(f"/sessions/{session}#{anchor}", status_code=303)


@pages.post("/sessions/{session_id}/sign")
def sign_page(request: Request, session: SessionRef, db: DB, principal: Clinician) -> Response:
    """Sign the note as the signed-in clinician: the clinician record the account is linked to (an account
    not linked signs with its user name as a clinician code)."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    clinician = account_service.clinician_code(db, principal.account_id) or principal.username
    try:
        note_service.sign_note(
            db, principal.clinic_id, session_id, clinician=clinician, actor=principal.actor
        )
    except RecordError as exc:
        return _note_page(request, db, principal, session_id, error=str(exc))
    return _back(session, "signature")


@pages.post("/sessions/{session_id}/amend")
async def amend_page(request: Request, session: SessionRef, db: DB, principal: Clinician) -> Response:
    """Correct fields of the note; the earlier version is kept and shown with the note."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items() if k != "csrf_token"}
    current = note_service.session_note(db, principal.clinic_id, session_id).session
    changes: dict[str, Any] = {}
    if "warm_up_kind" in form:
        kind, minutes = form["warm_up_kind"].strip(), form.get("warm_up_minutes", "").strip()
        if (kind or None, minutes or None) != (
            current.warm_up_kind,
            None if current.warm_up_minutes is None else f"{current.warm_up_minutes:g}",
        ):
            changes["warm_up"] = {"kind": kind, "minutes": minutes} if kind else None
    for name in note_service.AMENDABLE:
        if name not in form:
            continue
        value: Any = form[name].strip() or None
        if name == "exercise_delivered":
            value = {"yes": True, "no": False}.get(form[name])
        was = getattr(current, name)
        if value != (was.isoformat() if isinstance(was, dt.date) else was):
            changes[name] = value
    try:
        note_service.amend_note(
            db,
            principal.clinic_id,
            session_id,
            changes=changes,
            reason=form.get("reason", ""),
            actor=principal.actor,
        )
    except RecordError as exc:
        return _note_page(request, db, principal, session_id, error=str(exc), form=form)
    return _back(session, "amendments")


@pages.post("/sessions/{session_id}/addenda")
def add_addendum_page(
    request: Request,
    session: SessionRef,
    db: DB,
    principal: Clinician,
    on: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    """Add a dated addendum to the note."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    try:
        when = dt.date.fromisoformat(on) if on else dt.date.today()
    except ValueError:
        return _note_page(request, db, principal, session_id, error=f"on: {on!r} is not a date (YYYY-MM-DD)")
    try:
        note_service.add_addendum(
            db, principal.clinic_id, session_id, on=when, text=text, actor=principal.actor
        )
    except RecordError as exc:
        return _note_page(request, db, principal, session_id, error=str(exc), form={"text": text, "on": on})
    return _back(session, "addenda")


@pages.post("/sessions/{session_id}/void")
def void_page(
    request: Request, session: SessionRef, db: DB, principal: Clinician, reason: Annotated[str, Form()] = ""
) -> Response:
    """Mark the session void (entered by mistake), with a reason."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    try:
        void_session(db, principal.clinic_id, session_id, reason=reason, actor=principal.actor)
    except RecordError as exc:
        return _note_page(request, db, principal, session_id, error=str(exc), form={"void_reason": reason})
    return _back(session, "void")


@api.get("/sessions/{session_id}/note")
def note(session: SessionRef, db: DB, principal: Clinician) -> dict[str, Any]:
    """A session's note: everything recorded, with signature, amendments (what changed), addenda and void."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    return _read(db, principal, session_id, "note").to_json(db)


@api.post("/sessions/{session_id}/sign")
def sign(session: SessionRef, db: DB, principal: Clinician) -> dict[str, Any]:
    """Sign the note as the calling clinician (user name = clinician code); once."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    return note_service.sign_note(
        db, principal.clinic_id, session_id, clinician=principal.username, actor=principal.actor
    ).to_json(db)


@api.post("/sessions/{session_id}/amendments", status_code=201)
def amend(session: SessionRef, body: AmendmentIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Correct the note (some fields, or the whole document); the earlier version is kept."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    return note_service.amend_note(
        db,
        principal.clinic_id,
        session_id,
        changes=body.changes,
        document=body.document,
        reason=body.reason,
        actor=principal.actor,
    ).to_json(db)


@api.post("/sessions/{session_id}/addenda", status_code=201)
def add_addendum(session: SessionRef, body: AddendumIn, db: DB, principal: Clinician) -> dict[str, Any]:
    """Add a dated addendum to the note."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    return note_service.add_addendum(
        db, principal.clinic_id, session_id, on=body.on, text=body.text, actor=principal.actor
    ).to_json(db)


@api.post("/sessions/{session_id}/void")
def void(
    session: SessionRef,
    db: DB,
    principal: Clinician,
    body: Annotated[VoidIn, Body()],
) -> dict[str, Any]:
    """Mark the session void (entered by mistake); it is kept, and left out of analyses and exports."""
    session_id = record_ids.resolve(db, principal.clinic_id, "session", session)
    void_session(db, principal.clinic_id, session_id, reason=body.reason, actor=principal.actor)
    return note_service.session_note(db, principal.clinic_id, session_id).to_json(db)
