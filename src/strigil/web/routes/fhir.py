"""FHIR routes of the JSON API: a patient's `$everything` as a Bundle, and a Bundle posted for import.

Same roles and audit trail as the rest of `/api/v1`: only clinicians (a researcher never sees a patient's
record), always within the caller's own clinic, and every read or write recorded.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse

from strigil.services import audit as audit_service
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.security import Principal, allow

__all__ = [
    "FHIR_JSON",
    "Clinician",
    "patient_everything",
    "post_bundle",
    "router",
]

FHIR_JSON = "application/fhir+json"

router = APIRouter(prefix="/api/v1/fhir", tags=["FHIR R4"], route_class=UnitOfWorkRoute)
Clinician = Annotated[Principal, allow("clinician")]


def _patient_code(fhir_id: str) -> str:
    """A Strigil patient code from a FHIR Patient id as Strigil exports it ("patient-P.01"), or the code."""
    if fhir_id.startswith("patient-"):
        return fhir_id.removeprefix("patient-").replace(".", "_")
    return fhir_id


@router.get("/Patient/{patient_id}/$everything", response_class=JSONResponse)
def patient_everything(patient_id: str, db: DB, principal: Clinician) -> JSONResponse:
    """Everything recorded about one patient of my clinic, as a FHIR R4 searchset Bundle."""
    from strigil.interop.bundle import make_bundle
    from strigil.interop.to_fhir import stream_resources
    from strigil.services.exchange import clinic_code_of, clinic_header, patient_dossiers, patient_id_of

    code = _patient_code(patient_id)
    found = patient_id_of(db, principal.clinic_id, code)
    if found is None:
        # the same answer whether the patient is unknown or belongs to another clinic
        raise HTTPException(status_code=404, detail=f"no patient {patient_id!r} in this clinic")
    _, clinic, clinicians = clinic_header(db, clinic_code_of(db, principal.clinic_id))
    dossiers = list(patient_dossiers(db, principal.clinic_id, patient_codes=[code]))
    used = {s.record.clinician for d in dossiers for e in d.episodes for s in e.sessions}
    resources = stream_resources(clinic, [c for c in clinicians if c.code in used], dossiers)
    audit_service.record(
        db, principal.actor, "export", "fhir_patient", found, patient_id=found, detail="$everything"
    )
    return JSONResponse(make_bundle(resources, "searchset"), media_type=FHIR_JSON)


@router.post("", status_code=200)
def post_bundle(
    db: DB,
    principal: Clinician,
    bundle: Annotated[
        dict[str, Any], Body(description="a FHIR R4 Bundle (collection, transaction or batch)")
    ],
    patient: Annotated[str | None, Query(description="Strigil patient code for other systems' data")] = None,
) -> JSONResponse:
    """Import a Bundle into my clinic: all of it in this request's one transaction, or nothing (422)."""
    from strigil.interop.from_fhir import plan_import
    from strigil.services.exchange import clinic_code_of, write_plan

    plan = plan_import(bundle)
    if plan.errors:
        audit_service.record(
            db, principal.actor, "denied", "fhir_bundle", "", detail=f"rejected: {len(plan.errors)} problems"
        )
        db.commit()  # the refusal is recorded; nothing else was written
        return JSONResponse({"detail": [{"field": p.where, "message": p.message} for p in plan.errors]}, 422)
    clinic_code = clinic_code_of(db, principal.clinic_id)
    # whatever clinic the bundle names, it is imported into the caller's own clinic
    report = write_plan(db, plan, by=principal.username, patient_code=patient, clinic_code=clinic_code)
    audit_service.record(
        db,
        principal.actor,
        "create",
        "fhir_bundle",
        "",
        detail=f"patients+{report.patients_created} episodes+{report.episodes_created} "
        f"sessions+{report.sessions_created} measurements+{report.measurements_created}",
    )
    return JSONResponse({**report.to_json(), "not_understood": [str(p) for p in plan.not_understood]})
