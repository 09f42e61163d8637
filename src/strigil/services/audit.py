"""The audit trail as user actions: record an event, list a clinic's events, export them as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from strigil.store.audit import AuditEvent

__all__ = [
    "ACTIONS",
    "ERASED_NAME",
    "EXPORT_COLUMNS",
    "Actor",
    "AuditPage",
    "export_csv",
    "list_events",
    "named_events",
    "patient_filter",
    "record",
    "record_job",
    "record_patients",
]

ACTIONS = ("read", "create", "update", "delete", "export", "login", "logout", "denied")
# The audit trail keeps the database's ids (it stays inside the server); what leaves it (the API, the page,
# this CSV) names records by their public ids and leaves out the events' own numbers, which count every
# clinic's events (strigil.services.record_ids).
EXPORT_COLUMNS = (
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
    chunk: list[AuditEvent] = []
    for event in db.scalars(query.execution_options(yield_per=1000)):
        chunk.append(event)
        if len(chunk) == 1000:
            _write(writer, named_events(db, clinic_id, chunk))
            chunk = []
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    _write(writer, named_events(db, clinic_id, chunk))
    yield buffer.getvalue()


def _write(writer: Any, events: list[dict[str, Any]]) -> None:
    for event in events:
        writer.writerow(["" if event[c] is None else event[c] for c in EXPORT_COLUMNS])


# The erasure event names the erased patient's public id in its detail: the patient row is gone, and with
# it the only other place that name was kept.
ERASED_NAME = "public id {}"
_ERASED = re.compile(r"public id ([0-9a-f]{32})")


def _erased_names(db: Session, clinic_id: int, patient_ids: set[int]) -> dict[int, str]:
    """The public ids erased patients had, from their erasure events."""
    if not patient_ids:
        return {}
    found: dict[int, str] = {}
    for pid, detail in db.execute(
        select(AuditEvent.patient_id, AuditEvent.detail).where(
            AuditEvent.clinic_id == clinic_id,
            AuditEvent.action == "delete",
            AuditEvent.resource == "patient",
            AuditEvent.patient_id.in_(sorted(patient_ids)),
        )
    ):
        named = _ERASED.search(detail or "")
        if pid is not None and named:
            found[int(pid)] = named.group(1)
    return found


def named_events(db: Session, clinic_id: int, events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    """Audit events as they leave the server: records by their public ids (an erased patient by the one it
    had), a bulk job's patient rows as "job" (the job's own row has no public name), no event numbers."""
    from strigil.services.record_ids import public_ids

    events = list(events)
    patients = {e.patient_id for e in events if e.patient_id is not None}
    names = public_ids(db, "patient", patients, clinic_id=clinic_id)
    names.update(_erased_names(db, clinic_id, patients - set(names)))
    accounts = public_ids(
        db, "account", {e.account_id for e in events if e.account_id is not None}, clinic_id=clinic_id
    )
    clinics = public_ids(
        db, "clinic", {e.clinic_id for e in events if e.clinic_id is not None}, clinic_id=clinic_id
    )
    wanted: dict[str, set[int]] = {}
    for e in events:
        if e.resource_id.isdigit():
            wanted.setdefault(e.resource, set()).add(int(e.resource_id))
    resources = {
        kind: public_ids(db, kind, ids, clinic_id=clinic_id)
        for kind, ids in wanted.items()
        if kind in _NAMED_KINDS
    }
    resources.setdefault("patient", {}).update(
        {pid: names[pid] for pid in wanted.get("patient", set()) if pid in names}
    )
    out = []
    for e in events:
        if e.resource_id.isdigit():
            resource_id = resources.get(e.resource, {}).get(int(e.resource_id), "")
        elif e.resource_id.startswith("job "):
            resource_id = "job"
        else:
            resource_id = e.resource_id
        out.append(
            {
                "at": _iso(e.at),
                "username": e.username,
                "role": e.role,
                "clinic_id": clinics.get(e.clinic_id) if e.clinic_id is not None else None,
                "account_id": accounts.get(e.account_id) if e.account_id is not None else None,
                "action": e.action,
                "resource": e.resource,
                "resource_id": resource_id,
                "patient_id": names.get(e.patient_id) if e.patient_id is not None else None,
                "ip": e.ip,
                "channel": e.channel,
                "detail": e.detail,
            }
        )
    return out


_NAMED_KINDS = (
    "clinic",
    "patient",
    "episode",
    "session",
    "measurement",
    "adverse_response",
    "screening",
    "clinician",
    "clinic_template",
    "account",
    "token",
)


def patient_filter(db: Session, clinic_id: int, given: str) -> int:
    """The database id of the patient a public id names, for filtering the trail: a patient of the clinic,
    or one erased from it (by the name its erasure event kept); -1 (matches nothing) otherwise."""
    from strigil.services.errors import NotFound
    from strigil.services.record_ids import resolve

    try:
        return resolve(db, clinic_id, "patient", given)
    except NotFound:
        pass
    if not _ERASED.fullmatch(f"public id {given}"):
        return -1
    found = db.scalar(
        select(AuditEvent.patient_id).where(
            AuditEvent.clinic_id == clinic_id,
            AuditEvent.action == "delete",
            AuditEvent.resource == "patient",
            AuditEvent.detail.contains(ERASED_NAME.format(given)),
        )
    )
    return -1 if found is None else int(found)
