"""A patient's rights for admins: export one patient's whole record as JSON, erase it on request.

Thin shell over `strigil.services.privacy` (the same functions as `strigil privacy export|erase`). Both
write an audit event ("export", "delete") that the erasure keeps; another clinic's patient is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from strigil.services import audit as audit_service
from strigil.services import privacy as privacy_service
from strigil.services.errors import InvalidInput, NotFound
from strigil.web.api_errors import PatientCode
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.security import Principal, allow

__all__ = [
    "Admin",
    "AdminPage",
    "ErasureIn",
    "ErasureOut",
    "PatientExportOut",
    "Rows",
    "api",
    "erase_page",
    "erase_patient",
    "export_patient",
    "pages",
    "privacy_page",
]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["privacy"], route_class=UnitOfWorkRoute)
Admin = Annotated[Principal, allow("admin", scope="admin")]
AdminPage = Annotated[Principal, allow("admin")]

Rows = list[dict[str, Any]]


class PatientExportOut(BaseModel):
    """Everything Strigil holds about one patient: each row with every stored column (dates as ISO text)."""

    format: str = Field(description=f"always {privacy_service.EXPORT_FORMAT!r}")
    exported_at: str = Field(description="when the export was made (ISO 8601, UTC)")
    patient: dict[str, Any]
    episodes: Rows
    sessions: Rows
    dose_steps: Rows
    measurements: Rows
    adverse_responses: Rows
    amendments: Rows = Field(description="the kept earlier versions of any of the patient's records")
    audit_events: Rows = Field(description="the audit trail's events about the patient")


class ErasureIn(BaseModel):
    """Erase one patient's record: type the patient code again and say why."""

    confirm: str = Field(max_length=64, description="the patient code typed again, exactly")
    reason: str = Field(max_length=500, description="why, e.g. 'patient request of 2026-01-05'")


class ErasureOut(BaseModel):
    """What an erasure removed (rows per table); the audit trail records it."""

    patient_id: str = Field(description="the public id the erased patient had")
    code: str
    removed: dict[str, int]


@api.get(
    "/patients/{patient_code}/export",
    response_model=PatientExportOut,
    responses={200: {"description": "a JSON file to save (Content-Disposition: attachment)"}},
)
def export_patient(patient_code: PatientCode, db: DB, principal: Admin) -> Response:
    """One patient of my clinic, whole, as a JSON file (the export is recorded in the audit trail)."""
    document = privacy_service.export_patient(db, principal.clinic_id, patient_code, principal.actor)
    # The stored code matches CODE_PATTERN (letters, digits, '-', '_'), so it is safe in the header.
    filename = f"strigil-patient-{document['patient']['code']}.json"
    return JSONResponse(document, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@api.post("/patients/{patient_code}/erase", response_model=ErasureOut)
def erase_patient(patient_code: PatientCode, body: ErasureIn, db: DB, principal: Admin) -> ErasureOut:
    """Erase one patient's clinical record on request; the audit trail keeps its rows and records this."""
    report = privacy_service.erase_patient(
        db, principal.clinic_id, patient_code, principal.actor, confirm=body.confirm, reason=body.reason
    )
    return ErasureOut(patient_id=report.public_id, code=report.code, removed=report.removed)


def _shown(db: DB, principal: Principal, code: str) -> privacy_service.Holdings:
    """The patient's holdings for the page; showing them is a read of patient data, so it is audited."""
    held = privacy_service.holdings(db, principal.clinic_id, code)
    audit_service.record(
        db, principal.actor, "read", "patient", held.patient_id, patient_id=held.patient_id, detail="privacy"
    )
    return held


def _privacy_page(request: Request, principal: Principal, *, status: int = 200, **extra: object) -> Response:
    context: dict[str, object] = {
        "code": "",
        "found": None,
        "missing": False,
        "erased": None,
        "error": None,
        "form": {},
    }
    return render(request, "admin_privacy.html", principal, status_code=status, **{**context, **extra})


@pages.get("/admin/privacy")
def privacy_page(request: Request, db: DB, principal: AdminPage, code: str = "") -> Response:
    """Find a patient of my clinic by code, then export or erase their record."""
    code = code.strip()
    if not code:
        return _privacy_page(request, principal)
    try:
        found = _shown(db, principal, code)
    except NotFound:
        return _privacy_page(request, principal, code=code, missing=True)
    return _privacy_page(request, principal, code=code, found=found)


@pages.post("/admin/privacy/{patient_code}/erase")
def erase_page(
    request: Request,
    patient_code: str,
    db: DB,
    principal: AdminPage,
    confirm: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Erase from the privacy page; a wrong confirmation or no reason shows the form again (422)."""
    try:
        report = privacy_service.erase_patient(
            db, principal.clinic_id, patient_code, principal.actor, confirm=confirm, reason=reason
        )
    except InvalidInput as exc:
        return _privacy_page(
            request,
            principal,
            status=422,
            code=patient_code,
            found=_shown(db, principal, patient_code),
            error=str(exc),
            form={"confirm": confirm, "reason": reason},
        )
    return _privacy_page(request, principal, erased=report)
