"""FHIR routes of the JSON API: a patient's `$everything` as a Bundle, a Bundle posted for import, and the
clinic as FHIR Bulk Data (`$export`: kick-off, status, download, delete — the asynchronous request pattern of
https://hl7.org/fhir/uv/bulkdata/export.html).

Same roles and audit trail as the rest of `/api/v1`: only clinicians (a researcher never sees a patient's
record), always within the caller's own clinic, and every read or write recorded. Patients are named by
their public ids (the Patient resource id).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from strigil.services import audit as audit_service
from strigil.web.api_errors import CODE_CHARS, LABEL_CHARS, QUERY_LIST_CHARS, PatientCode
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.fhir_errors import FHIR_JSON, FHIR_PREFIX, OUTCOME_RESPONSES, outcome_response
from strigil.web.security import Principal, allow

__all__ = [
    "FHIR_JSON",
    "Clinician",
    "bulk_delete",
    "bulk_download",
    "bulk_kickoff",
    "bulk_status",
    "patient_everything",
    "post_bundle",
    "router",
]

# Every error here is an OperationOutcome (`web.fhir_errors`), and is published so.
router = APIRouter(
    prefix=FHIR_PREFIX, tags=["FHIR R4"], route_class=UnitOfWorkRoute, responses=OUTCOME_RESPONSES
)
Clinician = Annotated[Principal, allow("clinician")]
_JobId = Annotated[str, Path(max_length=CODE_CHARS, description="an export job")]


@router.get("/Patient/{patient_id}/$everything", response_class=JSONResponse)
def patient_everything(patient_id: PatientCode, db: DB, principal: Clinician) -> JSONResponse:
    """Everything recorded about one patient of my clinic, as a FHIR R4 searchset Bundle."""
    from strigil.interop.bundle import make_bundle
    from strigil.interop.to_fhir import stream_resources
    from strigil.services.exchange import (
        clinic_code_of,
        clinic_header,
        clinic_scope,
        patient_by_fhir_id,
        patient_dossiers,
    )

    found = patient_by_fhir_id(db, principal.clinic_id, patient_id)
    if found is None:
        # the same answer whether the patient is unknown or belongs to another clinic
        raise HTTPException(status_code=404, detail=f"no patient {patient_id!r} in this clinic")
    row_id, code, public_id = found
    _, clinic, clinicians = clinic_header(db, clinic_code_of(db, principal.clinic_id))
    dossiers = list(patient_dossiers(db, principal.clinic_id, patient_codes=[code]))
    used = {s.record.clinician for d in dossiers for e in d.episodes for s in e.sessions}
    scope = clinic_scope(db, principal.clinic_id)
    resources = stream_resources(clinic, [c for c in clinicians if c.code in used], dossiers, scope=scope)
    audit_service.record(
        db, principal.actor, "export", "fhir_patient", public_id, patient_id=row_id, detail="$everything"
    )
    return JSONResponse(make_bundle(resources, "searchset"), media_type=FHIR_JSON)


# What the FHIR routes answer, for the OpenAPI description (FHIR's own media types beside plain JSON).
_FHIR: dict[str, Any] = {"content": {FHIR_JSON: {}}}
_OUTCOME: dict[str, Any] = {"description": "an OperationOutcome saying what is wrong", **_FHIR}


async def _raw_body(request: Request) -> bytes:
    """The request body as sent: a Bundle is read by interop's one JSON reader, not the framework's."""
    return await request.body()


_BUNDLE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "a FHIR R4 Bundle (collection, transaction, batch or searchset), UTF-8 JSON",
        "content": {
            FHIR_JSON: {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "",
    status_code=200,
    responses={
        200: {"content": {"application/json": {}, FHIR_JSON: {}}},
        400: _OUTCOME,
        422: _OUTCOME,
    },
    openapi_extra=_BUNDLE_BODY,
)
def post_bundle(
    request: Request,
    db: DB,
    principal: Clinician,
    raw: Annotated[bytes, Depends(_raw_body)],
    patient: Annotated[
        str | None, Query(max_length=CODE_CHARS, description="Strigil patient code for other systems' data")
    ] = None,
    match_only: Annotated[bool, Query(description="other systems' patients: only those found here")] = False,
) -> JSONResponse:
    """Import a Bundle into my clinic: all of it in this request's one transaction, or nothing (422 with an
    OperationOutcome naming every problem; a transaction Bundle also when any entry cannot be stored). Sent as
    `application/fhir+json`, it is answered with a transaction-response (batch-response) Bundle, an entry per
    entry saying what became of it; else with Strigil's import report. A body that is not UTF-8 JSON, or is
    nested too deep, is answered 400 with an OperationOutcome saying so."""
    import io

    from strigil.interop.bundle import UnreadableJson, operation_outcome, response_bundle
    from strigil.services.bundle_import import BundleRejected, import_bundle
    from strigil.services.errors import RecordError
    from strigil.services.exchange import clinic_code_of

    def refuse(problems: list[tuple[str, str]]) -> JSONResponse:
        db.rollback()  # nothing of the bundle is kept
        detail = f"rejected: {len(problems)} problems"
        audit_service.record(db, principal.actor, "denied", "fhir_bundle", "", detail=detail)
        db.commit()  # the refusal is recorded; nothing else was written
        return JSONResponse(operation_outcome(problems), 422, media_type=FHIR_JSON)

    try:
        # whatever clinic the bundle names, it is imported into the caller's own clinic
        done = import_bundle(
            db,
            io.BytesIO(raw),
            by=principal.username,
            patient_code=patient,
            clinic_code=clinic_code_of(db, principal.clinic_id),
            match_only=match_only,
        )
    except UnreadableJson as error:  # the CLI's reader: the same sentences for the same faults
        db.rollback()
        return outcome_response(400, f"the request body: {error}")
    except BundleRejected as error:
        # every problem, and a refused transaction names each entry it could not store
        return refuse(error.issues)
    except RecordError as error:
        return refuse([("", str(error))])
    report = done.report
    audit_service.record(
        db,
        principal.actor,
        "create",
        "fhir_bundle",
        "",
        detail=f"patients+{report.patients_created} episodes+{report.episodes_created} "
        f"sessions+{report.sessions_created} measurements+{report.measurements_created}",
    )
    # and one row per patient the import wrote to, naming them
    audit_service.record_patients(
        db, principal.actor, "create", "fhir_bundle", sorted(set(report.patient_ids)), detail="imported"
    )
    if request.headers.get("content-type", "").startswith(FHIR_JSON):
        return JSONResponse(
            response_bundle(done.bundle_type, done.names, report.outcomes), media_type=FHIR_JSON
        )
    return JSONResponse({**report.to_json(), "not_understood": done.not_understood})


# ---- Bulk Data export ------------------------------------------------------------------------------------

_OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")


def _outcome(status: int, message: str, code: str = "invalid") -> JSONResponse:
    from strigil.interop.bundle import operation_outcome

    return JSONResponse(operation_outcome([("", message)], code=code), status, media_type=FHIR_JSON)


# Kick-off parameters this server honours; the Bulk Data IG's others (`_typeFilter`, `_elements`, `patient`,
# `includeAssociatedData`, `_until`, …) and any unknown one are refused, or ignored with a warning under
# `Prefer: handling=lenient`.
_KICK_OFF_PARAMETERS = ("_type", "_since", "_outputFormat")


def _bulk_base(request: Request) -> Any:
    return request.app.state.settings.resolved_bulk_folder()


def _expire(request: Request) -> None:
    """Remove the export jobs whose time is up, before answering about any. In a transaction of its own:
    the removal is audited even when the request then fails (a status of an expired job answers 404)."""
    from strigil.services.bulk_jobs import expire_jobs

    with request.app.state.sessionmaker.begin() as db:
        expire_jobs(db, _bulk_base(request), expiry=request.app.state.settings.bulk_expiry())


_KICK_OFF: dict[int | str, dict[str, Any]] = {
    202: {"description": "accepted; Content-Location names the status URL"},
    400: _OUTCOME,
}


@router.get("/$export", response_class=Response, status_code=202, responses=_KICK_OFF)
@router.get("/Patient/$export", response_class=Response, status_code=202, responses=_KICK_OFF)
def bulk_kickoff(
    request: Request,
    db: DB,
    principal: Clinician,
    prefer: Annotated[str | None, Header(max_length=LABEL_CHARS)] = None,
    type_: Annotated[
        str | None,
        Query(alias="_type", max_length=QUERY_LIST_CHARS, description="resource types, comma-separated"),
    ] = None,
    since: Annotated[
        str | None, Query(alias="_since", max_length=CODE_CHARS, description="FHIR instant")
    ] = None,
    output_format: Annotated[str | None, Query(alias="_outputFormat", max_length=CODE_CHARS)] = None,
) -> Response:
    """Kick off an export of my clinic (every patient) as FHIR Bulk Data; answers 202 with the status URL.

    A parameter this server does not support is refused (400), or with `Prefer: handling=lenient` ignored and
    named in a warning OperationOutcome the complete status lists under `error`."""
    from strigil.interop.r4 import is_resource_type
    from strigil.services.bulk_jobs import start_export

    _expire(request)
    prefers = {
        token.strip().lower().replace(" ", "")
        for header in request.headers.getlist("prefer")
        for token in header.replace(";", ",").split(",")
    }
    if "respond-async" not in prefers:
        return _outcome(400, "a Bulk Data kick-off needs the header 'Prefer: respond-async'")
    unsupported = sorted({k for k in request.query_params if k not in _KICK_OFF_PARAMETERS})
    warnings = []
    if unsupported:
        named = ", ".join(unsupported)
        supported = ", ".join(_KICK_OFF_PARAMETERS)
        if "handling=lenient" not in prefers:
            return _outcome(
                400,
                f"kick-off parameter {named} is not supported here (supported: {supported}); nothing was "
                "exported — drop it, or send 'Prefer: handling=lenient' to export without it",
                code="not-supported",
            )
        warnings.append(
            f"kick-off parameter {named} is not supported and was ignored (Prefer: handling=lenient): the "
            f"export is not narrowed by it (supported: {supported})"
        )
    if output_format is not None and output_format not in _OUTPUT_FORMATS:
        return _outcome(
            400, f"_outputFormat {output_format!r} is not offered; offered: {', '.join(_OUTPUT_FORMATS)}"
        )
    types = [t.strip() for t in (type_ or "").split(",") if t.strip()]
    unknown = [t for t in types if not is_resource_type(t)]
    if unknown:
        return _outcome(400, f"_type: {', '.join(unknown)} is not a FHIR R4 resource type")
    since_at = None
    if since is not None:
        try:
            since_at = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            return _outcome(400, f"_since {since!r} is not a FHIR instant (e.g. 2026-12-01T00:00:00Z)")
        if since_at.tzinfo is None:
            return _outcome(400, "_since needs a time zone (a FHIR instant, e.g. 2026-12-01T00:00:00Z)")
    base_url = str(request.base_url).rstrip("/")
    job = start_export(
        request.app.state.engine,
        _bulk_base(request),
        clinic_id=principal.clinic_id,
        actor=principal.actor,
        types=types,
        since=since_at,
        request=str(request.url),
        url_of=lambda job_id, name: f"{base_url}{router.prefix}/bulk/{job_id}/{name}",
        expiry=request.app.state.settings.bulk_expiry(),
        warnings=warnings,
    )
    audit_service.record(
        db, principal.actor, "export", "fhir_bulk", job.id, detail=f"kick-off {request.url.query}"
    )
    status_url = f"{base_url}{router.prefix}/bulk/{job.id}"
    return Response(status_code=202, headers={"Content-Location": status_url})


def _own_job(request: Request, principal: Principal, job_id: str) -> Any:
    from strigil.services.bulk_jobs import read_job

    job = read_job(_bulk_base(request), job_id)
    if job is None or not job.belongs_to(principal.clinic_id, principal.account_id):
        # the same answer whether the job is unknown or someone else's
        raise HTTPException(status_code=404, detail="no such export job")
    return job


@router.get(
    "/bulk/{job_id}",
    responses={202: {"description": "still running (X-Progress)"}, 404: _OUTCOME, 500: _OUTCOME},
)
def bulk_status(request: Request, job_id: _JobId, principal: Clinician) -> Response:
    """The export's status: 202 while it runs, 200 with the manifest when done (Expires: when its files
    go), 500 with the reason; 404 with an OperationOutcome once it expired or was deleted."""
    from email.utils import format_datetime

    _expire(request)
    try:
        job = _own_job(request, principal, job_id)
    except HTTPException:
        # the Bulk Data IG: after a DELETE the polling location answers 404 with an OperationOutcome; an
        # expired job, an unknown one and another account's answer the same
        return _outcome(404, "no such export job (unknown, deleted or expired)", code="not-found")
    if job.status == "in-progress":
        return Response(status_code=202, headers={"X-Progress": "exporting", "Retry-After": "2"})
    if job.status == "error":
        return _outcome(500, f"the export failed: {job.error}", code="exception")
    expires = job.expires(request.app.state.settings.bulk_expiry())
    headers = {"Expires": format_datetime(expires, usegmt=True)} if expires else {}
    return JSONResponse(job.manifest, headers=headers)


@router.get(
    "/bulk/{job_id}/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"application/fhir+ndjson": {}}}},
)
def bulk_download(
    request: Request,
    job_id: _JobId,
    name: Annotated[str, Path(max_length=LABEL_CHARS)],
    db: DB,
    principal: Clinician,
) -> Response:
    """One NDJSON file of a finished export (only a file its manifest lists)."""
    from strigil.interop.bulk import NDJSON
    from strigil.services.bulk_jobs import job_file

    job = _own_job(request, principal, job_id)
    path = job_file(_bulk_base(request), job, name)
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail="no such file in this export")
    audit_service.record(db, principal.actor, "export", "fhir_bulk", job.id, detail=f"download {name}")
    return FileResponse(path, media_type=NDJSON)


@router.delete("/bulk/{job_id}", status_code=202)
def bulk_delete(request: Request, job_id: _JobId, db: DB, principal: Clinician) -> Response:
    """Remove an export and its files (cancelling it if it still runs: its files are not kept)."""
    from strigil.services.bulk_jobs import delete_job

    job = _own_job(request, principal, job_id)
    delete_job(_bulk_base(request), job.id)
    audit_service.record(db, principal.actor, "delete", "fhir_bulk", job.id, detail="export removed")
    return Response(status_code=202)
