"""Bulk Data export jobs: the FHIR asynchronous request pattern (kick-off, status, download) behind the API.

A kick-off writes a job folder (`<bulk folder>/<job id>/job.json`, the id a public id) and starts the export
in a thread of its own, with its own unit of work; the NDJSON files land in the same folder. Status is read
from the job file, so any server process can answer it. A job belongs to the account that started it (and
so to its clinic): status, download and delete answer nobody else. The export writes one audit row for the
job and one per patient it exported, in a short transaction of its own after it has read everything.

A finished job's files hold patient data, so they do not stay forever: each job expires `expiry` after it
finished (`STRIGIL_BULK_EXPIRY_HOURS`, default 24 h — a configurable heuristic: the Bulk Data IG leaves the
time to the server and asks it to say when, in the complete status's `Expires` header,
https://hl7.org/fhir/uv/bulkdata/export.html). `expire_jobs` removes expired jobs with their files and audits
each; it needs no daemon of its own: the server runs it at start and on every kick-off and status request.
An expired job is then unknown: its status answers 404, as after a DELETE.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from strigil.clinical.public_ids import is_public_id, new_public_id
from strigil.interop.bulk import file_name

__all__ = [
    "DEFAULT_EXPIRY",
    "JOB_FILE",
    "BulkJob",
    "clock",
    "delete_job",
    "expire_jobs",
    "job_file",
    "read_job",
    "start_export",
]

JOB_FILE = "job.json"

# How long a finished job's files stay (configurable heuristic; no source fixes it: long enough for a client
# that polls with backoff to download them the same day, short enough that patient data do not linger).
DEFAULT_EXPIRY = dt.timedelta(hours=24)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# The clock expiry reads (tests set a fake one).
clock: Callable[[], dt.datetime] = _utc_now


@dataclass
class BulkJob:
    """One export job as its file keeps it."""

    id: str
    clinic_id: int
    account_id: int | None
    username: str
    request: str
    types: list[str] = field(default_factory=list)
    since: str | None = None
    status: str = "in-progress"  # in-progress | complete | error
    created_at: str = ""
    finished_at: str | None = None
    error: str | None = None
    manifest: dict[str, Any] | None = None
    expires_at: str | None = None  # when a finished job's files are removed (set when it finishes)
    # what the kick-off ignored (`Prefer: handling=lenient`): listed as a warning OperationOutcome under
    # the manifest's `error`, so the client is told the export was not narrowed as asked
    warnings: list[str] = field(default_factory=list)

    def belongs_to(self, clinic_id: int, account_id: int | None) -> bool:
        """Whether this job is the caller's own (same account, same clinic)."""
        return self.clinic_id == clinic_id and self.account_id == account_id

    def expires(self, expiry: dt.timedelta = DEFAULT_EXPIRY) -> dt.datetime | None:
        """When a finished job expires (None while it runs); a job finished before expiry was recorded
        expires `expiry` after it finished."""
        if self.expires_at:
            return dt.datetime.fromisoformat(self.expires_at)
        if self.finished_at:
            return dt.datetime.fromisoformat(self.finished_at) + expiry
        return None


def _folder(base: Path, job_id: str) -> Path:
    if not is_public_id(job_id):
        raise LookupError(f"no export job {job_id!r}")
    return base / job_id


def _write(base: Path, job: BulkJob) -> None:
    folder = _folder(base, job.id)
    temporary = folder / (JOB_FILE + ".tmp")
    temporary.write_text(json.dumps(asdict(job)), encoding="utf-8")
    temporary.replace(folder / JOB_FILE)  # readers see the old file or the new one, never half of one


def read_job(base: Path, job_id: str) -> BulkJob | None:
    """The job, or None when there is none of that id."""
    try:
        path = _folder(base, job_id) / JOB_FILE
        return BulkJob(**json.loads(path.read_text(encoding="utf-8")))
    except (LookupError, FileNotFoundError):
        return None


def job_file(base: Path, job: BulkJob, name: str) -> Path | None:
    """The path of one of a complete job's files, only if the manifest lists it (no other name is served)."""
    if job.manifest is None:
        return None
    files = [*job.manifest.get("output", []), *job.manifest.get("error", [])]
    listed = {file_name(o["type"]) for o in files}
    return _folder(base, job.id) / name if name in listed else None


def delete_job(base: Path, job_id: str) -> None:
    """Remove a job and its files (the Bulk Data DELETE on the status URL)."""
    shutil.rmtree(_folder(base, job_id), ignore_errors=True)


def expire_jobs(
    db: Session, base: Path, *, expiry: dt.timedelta = DEFAULT_EXPIRY, now: dt.datetime | None = None
) -> list[BulkJob]:
    """Remove every finished job whose time is up, with its files, and audit each (in the caller's
    transaction); return the jobs removed. Jobs still running are never touched."""
    from strigil.services import audit as audit_service
    from strigil.services.audit import Actor

    now = now or clock()
    removed = []
    folders = sorted(base.iterdir()) if base.is_dir() else []
    for folder in folders:
        job = read_job(base, folder.name) if folder.is_dir() else None
        if job is None or job.status == "in-progress":
            continue
        ends = job.expires(expiry)
        if ends is None or ends > now:
            continue
        delete_job(base, job.id)
        removed.append(job)
        # the server acts, on the job's clinic's trail (no account: nobody asked for it)
        actor = Actor(None, "strigil", "system", job.clinic_id, channel="system")
        audit_service.record(
            db,
            actor,
            "delete",
            "fhir_bulk",
            job.id,
            detail=f"expired at {ends.isoformat(timespec='seconds')}",
        )
    return removed


def start_export(
    engine: Engine,
    base: Path,
    *,
    clinic_id: int,
    actor: Any,
    types: Sequence[str],
    since: dt.datetime | None,
    request: str,
    url_of: Any,
    expiry: dt.timedelta = DEFAULT_EXPIRY,
    warnings: Sequence[str] = (),
) -> BulkJob:
    """Create the job and start its export in the background; return the job as kicked off.

    `url_of(job_id, file_name)` gives the download URL the manifest lists for each file; `warnings` (what
    the kick-off ignored) go to an OperationOutcome file the manifest lists under `error`.
    """
    job = BulkJob(
        id=new_public_id(),
        clinic_id=clinic_id,
        account_id=actor.account_id,
        username=actor.username,
        request=request,
        types=list(types),
        since=since.isoformat() if since else None,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        warnings=list(warnings),
    )
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    _folder(base, job.id).mkdir(mode=0o700)
    _write(base, job)
    thread = threading.Thread(
        target=_run,
        args=(engine, base, job, actor, since, url_of, expiry),
        name=f"bulk-{job.id[:8]}",
        daemon=True,
    )
    thread.start()
    return job


def _warnings_file(base: Path, job: BulkJob, url_of: Any) -> dict[str, Any]:
    """Write the job's warnings as one OperationOutcome (NDJSON); its entry in the manifest's `error`."""
    from strigil.interop.bulk import encode_line
    from strigil.interop.bundle import operation_outcome

    outcome = operation_outcome([("", w) for w in job.warnings], severity="warning", code="not-supported")
    name = file_name("OperationOutcome")
    (_folder(base, job.id) / name).write_bytes(encode_line(outcome))
    return {"type": "OperationOutcome", "url": url_of(job.id, name), "count": 1}


def _run(
    engine: Engine,
    base: Path,
    job: BulkJob,
    actor: Any,
    since: dt.datetime | None,
    url_of: Any,
    expiry: dt.timedelta = DEFAULT_EXPIRY,
) -> None:
    from strigil.services import audit as audit_service
    from strigil.services.bulk_exchange import export_bulk
    from strigil.store.record import ClinicRow

    sessions = sessionmaker(engine, expire_on_commit=False)
    touched: list[int] = []
    try:
        with sessions() as db:
            code = db.scalar(select(ClinicRow.code).where(ClinicRow.id == job.clinic_id))
            manifest = export_bulk(
                db,
                str(code),
                _folder(base, job.id),
                types=job.types or None,
                since=since,
                request=job.request,
                patient_ids=touched.extend,
            )
            db.rollback()  # it only read
        with sessions.begin() as db:
            total = sum(manifest.counts.values())
            detail = f"job {job.id}: {len(touched)} patients, {total} resources"
            audit_service.record(db, actor, "export", "fhir_bulk", job.id, detail=detail)
            audit_service.record_patients(db, actor, "export", "fhir_bulk", touched, detail=f"job {job.id}")
        job.manifest = manifest.to_json(lambda name: url_of(job.id, name))
        if job.warnings:
            job.manifest["error"] = [_warnings_file(base, job, url_of)]
        job.status = "complete"
    except Exception as error:  # the job reports it; the server carries on
        job.status, job.error = "error", f"{type(error).__name__}: {error}"[:2000]
    finished = clock()
    job.finished_at = finished.isoformat(timespec="seconds")
    job.expires_at = (finished + expiry).isoformat(timespec="seconds")
    if _folder(base, job.id).exists():  # not deleted meanwhile
        _write(base, job)
