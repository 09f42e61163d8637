"""The audit trail for admins: view with filters and pages, export as CSV (pages and JSON)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from strigil.services import audit as audit_service
from strigil.services import patients
from strigil.web.api_errors import SEARCH_CHARS, Page, Search
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.security import Principal, allow

__all__ = [
    "AuditEventOut",
    "AuditPageOut",
    "api",
    "audit_events",
    "audit_export",
    "audit_page",
    "pages",
]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["audit"], route_class=UnitOfWorkRoute)


class AuditEventOut(BaseModel):
    """One audit event: records named by their public ids (an erased patient by the one it had)."""

    at: dt.datetime
    username: str
    role: str
    action: str
    resource: str
    resource_id: str = Field(description="the record's public id; empty when it has none (any more)")
    patient_id: str | None = Field(description="the patient's public id")
    ip: str
    channel: str
    detail: str


class AuditPageOut(BaseModel):
    """A page of audit events, newest first."""

    total: int
    page: int
    per_page: int
    events: list[AuditEventOut]


def _page(
    db: DB, principal: Principal, username: str, patient_id: int | None, action: str, page: int, per_page: int
) -> audit_service.AuditPage:
    """A page of the clinic's events (`patient_id`: the database id a public id was resolved to)."""
    result = audit_service.list_events(
        db,
        principal.clinic_id,
        username=username,
        patient_id=patient_id,
        action=action,
        page=page,
        per_page=per_page,
    )
    # Viewing the trail is itself recorded.
    audit_service.record(db, principal.actor, "read", "audit", "", detail=f"page {page}")
    return result


@api.get("/audit", response_model=AuditPageOut)
def audit_events(
    db: DB,
    principal: Annotated[Principal, allow("admin", scope="admin")],
    username: Search = "",
    patient_id: Annotated[str | None, Query(max_length=64, description="the patient's public id")] = None,
    action: Search = "",
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPageOut:
    """My clinic's audit events, newest first, filtered by user, patient or action."""
    pid = None if patient_id is None else audit_service.patient_filter(db, principal.clinic_id, patient_id)
    result = _page(db, principal, username, pid, action, page, per_page)
    return AuditPageOut(
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        events=[
            AuditEventOut.model_validate(e)
            for e in audit_service.named_events(db, principal.clinic_id, result.events)
        ],
    )


@api.get("/audit.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def audit_export(db: DB, principal: Annotated[Principal, allow("admin", scope="admin")]) -> Response:
    """The whole audit trail of my clinic as CSV (the export itself is recorded)."""
    audit_service.record(db, principal.actor, "export", "audit", "")
    db.flush()
    body = "".join(audit_service.export_csv(db, principal.clinic_id))
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="strigil-audit.csv"'},
    )


@pages.get("/admin/audit")
def audit_page(
    request: Request,
    db: DB,
    principal: Annotated[Principal, allow("admin")],
    username: Search = "",
    patient_id: Annotated[str, Query(max_length=SEARCH_CHARS)] = "",
    patient: Annotated[str, Query(max_length=64)] = "",
    action: Search = "",
    page: Page = 1,
) -> Response:
    """The audit trail page with filters (user, patient code or public id, action) and pagination."""
    pid = (
        audit_service.patient_filter(db, principal.clinic_id, patient_id.strip())
        if patient_id.strip()
        else None
    )
    unknown = ""
    if patient.strip():
        pid = patients.patient_ids_by_code(db, principal.clinic_id, patient)
        if pid is None:
            unknown = f"no patient with code {patient.strip()!r} in this clinic"
            pid = -1  # matches no event
    result = _page(db, principal, username, pid, action, page, 50)
    pages_total = max(1, -(-result.total // result.per_page))
    ids = sorted({e.patient_id for e in result.events if e.patient_id is not None})
    codes = patients.codes_of(db, principal.clinic_id, ids)
    named = audit_service.named_events(db, principal.clinic_id, result.events)
    # the codes by the public ids the page shows
    codes_by_name = {
        shown["patient_id"]: codes[e.patient_id]
        for e, shown in zip(result.events, named, strict=True)
        if e.patient_id in codes
    }
    return render(
        request,
        "admin_audit.html",
        principal,
        result=result,
        pages_total=pages_total,
        filters={"username": username, "patient": patient, "action": action},
        actions=audit_service.ACTIONS,
        events=named,
        codes=codes_by_name,
        unknown=unknown,
    )
