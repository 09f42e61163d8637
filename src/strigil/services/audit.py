"""The audit trail as user actions: record an event, list a clinic's events, export them as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from strigil.store.audit import AuditEvent

__all__ = [
    "ACTIONS",
    "EXPORT_COLUMNS",
    "Actor",
    "AuditPage",
    "export_csv",
    "list_events",
    "record",
    "record_job",
    "record_patients",
]

ACTIONS = ("read", "create", "update", "delete", "export", "login", "logout", "denied")
EXPORT_COLUMNS = (
    "id",
    "at",
    "username",
    "role",
    "clinic_id",
    "action",
    "resource",
    "resource_id",
    "patient_id",
    "ip",
    "channel",
    "detail",
)


@dataclass(frozen=True)
class Actor:
    """Who acts and from where: enough to write an audit row without the web layer."""

    account_id: int | None
    username: str
    role: str
    clinic_id: int | None
    ip: str = ""
    channel: str = "web"


@dataclass(frozen=True)
class AuditPage:
    """One page of audit events, newest first, with the total for pagination."""

    events: list[AuditEvent]
    total: int
    page: int
    per_page: int


def record(
    db: Session,
    actor: Actor,
    action: str,
    resource: str,
    resource_id: object = "",
    *,
    patient_id: int | None = None,
    detail: str = "",
) -> AuditEvent:
    """Append one event to the trail (in the caller's transaction, so it commits with the work)."""
    if action not in ACTIONS:
        raise ValueError(f"action: {action!r} is not allowed; choose one of {', '.join(ACTIONS)}")
    event = AuditEvent(
        account_id=actor.account_id,
        username=actor.username[:64],
        role=actor.role,
        clinic_id=actor.clinic_id,
        action=action,
        resource=resource[:32],
        resource_id=str(resource_id)[:64],
        patient_id=patient_id,
        ip=actor.ip[:64],
        channel=actor.channel,
        detail=detail[:255],
    )
    db.add(event)
    return event


def record_patients(
    db: Session,
    actor: Actor,
    action: str,
    resource: str,
    patient_ids: list[int],
    *,
    detail: str = "",
    resource_id: str = "",
) -> None:
    """One event per patient a bulk job touched, inserted in bulk (in the caller's transaction)."""

    import strigil.store.accounts  # noqa: F401  (the table the events' account_id refers to)

    if action not in ACTIONS:
        raise ValueError(f"action: {action!r} is not allowed; choose one of {', '.join(ACTIONS)}")
    at = dt.datetime.now(dt.UTC)
    rows = [
        {
            "at": at,
            "account_id": actor.account_id,
            "username": actor.username[:64],
            "role": actor.role,
            "clinic_id": actor.clinic_id,
            "action": action,
            "resource": resource[:32],
            "resource_id": resource_id[:64],
            "patient_id": pid,
            "ip": actor.ip[:64],
            "channel": actor.channel,
            "detail": detail[:255],
        }
        for pid in patient_ids
    ]
    for start in range(0, len(rows), 5000):
        db.execute(insert(AuditEvent), rows[start : start + 5000])


def record_job(
    db: Session, actor: Actor, action: str, resource: str, patient_ids: Iterable[int], *, detail: str = ""
) -> AuditEvent:
    """A job over many patients (an import, an export, a backup): one row for the job, one per patient.

    Each patient's row names the job's row (`resource_id` "job N"), so a patient's own trail (and their
    privacy export) shows every bulk job that touched them.
    """
    patients = sorted(set(patient_ids))
    job = record(db, actor, action, resource, "", detail=f"{detail}; {len(patients)} patients".lstrip("; "))
    db.flush()
    record_patients(db, actor, action, resource, patients, detail=job.detail, resource_id=f"job {job.id}")
    return job


def _filtered(clinic_id: int, username: str, patient_id: int | None, action: str):  # type: ignore[no-untyped-def]
    query = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
    if username:
        query = query.where(AuditEvent.username == username)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if action:
        query = query.where(AuditEvent.action == action)
    return query


def list_events(
    db: Session,
    clinic_id: int,
    *,
    username: str = "",
    patient_id: int | None = None,
    action: str = "",
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """A clinic's audit events, newest first, optionally filtered by user, patient or action."""
    page = max(page, 1)
    per_page = min(max(per_page, 1), 500)
    query = _filtered(clinic_id, username, patient_id, action)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    events = db.scalars(
        query.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return AuditPage(events=list(events), total=int(total), page=page, per_page=per_page)


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def export_csv(db: Session, clinic_id: int) -> Iterator[str]:
    """The whole trail of one clinic as CSV text, oldest first, streamed in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    query = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id).order_by(AuditEvent.id)
    for event in db.scalars(query.execution_options(yield_per=1000)):
        writer.writerow(
            [
                event.id,
                _iso(event.at),
                event.username,
                event.role,
                event.clinic_id,
                event.action,
                event.resource,
                event.resource_id,
                "" if event.patient_id is None else event.patient_id,
                event.ip,
                event.channel,
                event.detail,
            ]
        )
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
