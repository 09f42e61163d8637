"""A patient's rights over their record: export it whole, and erase it on request, with the audit kept.

Export gathers every row that belongs to one patient (the patient, episodes, sessions with their dose steps,
measurements, adverse responses, the kept earlier versions of any of them, and the audit events about the
patient) into one JSON-ready document. Erasure removes the clinical rows in one transaction and appends an
audit event that records who erased what, when and why; the audit trail itself is append-only and stays
(it holds ids and actions, no clinical content).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, inspect, or_, select
from sqlalchemy.orm import Session

from strigil.services import record_ids
from strigil.services.audit import ERASED_NAME, Actor, record
from strigil.services.errors import invalid
from strigil.services.patients import find_patient
from strigil.store.audit import AuditEvent
from strigil.store.record import (
    AdverseResponseRow,
    AmendmentRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    ScreeningRow,
    SessionRow,
)

__all__ = ["EXPORT_FORMAT", "ErasureReport", "Holdings", "erase_patient", "export_patient", "holdings"]

# /2: records named by their public ids; no database integer (ids, references, audit event numbers).
EXPORT_FORMAT = "strigil-patient-export/2"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _row(row: Any) -> dict[str, Any]:
    """Every mapped column of a row, JSON-ready (dates as ISO text)."""
    return {attr.key: _plain(getattr(row, attr.key)) for attr in inspect(row).mapper.column_attrs}


@dataclass(frozen=True)
class _Owned:
    """The ids of everything that belongs to one patient."""

    patient: PatientRow
    episodes: list[int]
    sessions: list[int]
    measurements: list[int]
    adverse: list[int]

    def amendment_filter(self) -> Any:
        by_entity = {
            "patient": [self.patient.id],
            "episode": self.episodes,
            "session": self.sessions,
            "measurement": self.measurements,
            "adverse_response": self.adverse,
        }
        return or_(
            *(
                (AmendmentRow.entity == entity) & AmendmentRow.entity_id.in_(ids)
                for entity, ids in by_entity.items()
                if ids
            )
        )


def _owned(db: Session, clinic_id: int, code: str) -> _Owned:
    patient = find_patient(db, clinic_id, code)  # NotFound for another clinic's code, as everywhere
    episodes = list(db.scalars(select(EpisodeRow.id).where(EpisodeRow.patient_id == patient.id)))
    sessions = list(db.scalars(select(SessionRow.id).where(SessionRow.episode_id.in_(episodes))))
    measurements = list(db.scalars(select(MeasurementRow.id).where(MeasurementRow.episode_id.in_(episodes))))
    adverse = list(
        db.scalars(select(AdverseResponseRow.id).where(AdverseResponseRow.episode_id.in_(episodes)))
    )
    return _Owned(patient, episodes, sessions, measurements, adverse)


def _rows(db: Session, model: Any, column: Any, ids: list[int], kind: str | None) -> list[dict[str, Any]]:
    """The rows, records named by their public ids (`kind`: what `id` names; None: a part of a record, such
    as a dose step, whose integer id is left out)."""
    if not ids:
        return []
    rows = [_row(r) for r in db.scalars(select(model).where(column.in_(ids)).order_by(model.id))]
    return list(record_ids.outward(db, rows, id_kind=kind, strict=False))


def _amendment(db: Session, row: AmendmentRow) -> dict[str, Any]:
    """An earlier version: the record it belongs to and the version itself, named by public ids."""
    plain = _row(row)
    del plain["id"]
    entity = row.entity if row.entity in record_ids.KINDS else None
    plain["entity_id"] = (
        None if entity is None else record_ids.public_ids(db, entity, [row.entity_id]).get(row.entity_id)
    )
    plain["previous"] = record_ids.outward(db, row.previous, id_kind=entity, strict=False)
    return plain


def _audit_event(db: Session, event: AuditEvent) -> dict[str, Any]:
    """An audit event with the records it names by their public ids; its own number (global, counting every
    clinic's events) is left out, the order of the list keeps the sequence."""
    plain = _row(event)
    del plain["id"]
    plain["resource_id"] = record_ids.outward_resource_id(db, event.resource, event.resource_id)
    return dict(record_ids.outward(db, plain, strict=False))


def export_patient(db: Session, clinic_id: int, code: str, actor: Actor) -> dict[str, Any]:
    """Everything Strigil holds about one patient of the clinic, as one JSON-ready document (audited)."""
    owned = _owned(db, clinic_id, code)
    audit = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.patient_id == owned.patient.id, AuditEvent.clinic_id == clinic_id)
        .order_by(AuditEvent.id)
    )
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "patient": record_ids.outward(db, _row(owned.patient), id_kind="patient", strict=False),
        "episodes": _rows(db, EpisodeRow, EpisodeRow.id, owned.episodes, "episode"),
        "sessions": _rows(db, SessionRow, SessionRow.id, owned.sessions, "session"),
        "dose_steps": _rows(db, DoseStepRow, DoseStepRow.session_id, owned.sessions, None),
        "measurements": _rows(db, MeasurementRow, MeasurementRow.id, owned.measurements, "measurement"),
        "adverse_responses": _rows(
            db, AdverseResponseRow, AdverseResponseRow.id, owned.adverse, "adverse_response"
        ),
        "screenings": _rows(db, ScreeningRow, ScreeningRow.episode_id, owned.episodes, "screening"),
        "amendments": [
            _amendment(db, r)
            for r in db.scalars(
                select(AmendmentRow).where(owned.amendment_filter()).order_by(AmendmentRow.id)
            )
        ],
        "audit_events": [_audit_event(db, e) for e in audit],
    }
    record(
        db, actor, "export", "patient", owned.patient.id, patient_id=owned.patient.id, detail="whole record"
    )
    return document


@dataclass(frozen=True)
class Holdings:
    """How much Strigil holds about one patient: what an export returns and an erasure removes."""

    patient_id: int
    code: str
    birth_year: int
    episodes: int
    sessions: int
    measurements: int
    adverse_responses: int
    audit_events: int


def holdings(db: Session, clinic_id: int, code: str) -> Holdings:
    """Counts of one patient's rows in the clinic (NotFound for another clinic's code); reads only."""
    owned = _owned(db, clinic_id, code)
    audit_events = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.patient_id == owned.patient.id, AuditEvent.clinic_id == clinic_id)
    )
    return Holdings(
        patient_id=owned.patient.id,
        code=owned.patient.code,
        birth_year=owned.patient.birth_year,
        episodes=len(owned.episodes),
        sessions=len(owned.sessions),
        measurements=len(owned.measurements),
        adverse_responses=len(owned.adverse),
        audit_events=int(audit_events or 0),
    )


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed (row counts per table) and the audit event that records it."""

    patient_id: int
    code: str
    removed: dict[str, int] = field(default_factory=dict)
    audit_event_id: int = 0
    public_id: str = ""  # the name the patient had outside the server (what answers give)


def erase_patient(
    db: Session, clinic_id: int, code: str, actor: Actor, *, confirm: str, reason: str
) -> ErasureReport:
    """Erase one patient's clinical record on request; `confirm` must repeat the code. Audit rows stay."""
    # Look the patient up first: another clinic's code is "not found" whatever the confirmation says.
    owned = _owned(db, clinic_id, code)
    if confirm != code:
        raise invalid("confirm", confirm, f"must repeat the patient code {code!r} exactly")
    if not reason.strip():
        raise invalid("reason", reason, "say why the record is erased (e.g. 'patient request of 2026-01-05')")
    removed: dict[str, int] = {}

    def remove(name: str, statement: Any) -> None:
        removed[name] = int(db.execute(statement).rowcount or 0)  # type: ignore[attr-defined]

    # Children first, so foreign keys hold at every step; one transaction, so all of it or none.
    remove("amendments", delete(AmendmentRow).where(owned.amendment_filter()))
    if owned.sessions:
        remove("dose_steps", delete(DoseStepRow).where(DoseStepRow.session_id.in_(owned.sessions)))
    if owned.episodes:
        remove("measurements", delete(MeasurementRow).where(MeasurementRow.episode_id.in_(owned.episodes)))
        remove(
            "adverse_responses",
            delete(AdverseResponseRow).where(AdverseResponseRow.episode_id.in_(owned.episodes)),
        )
        remove("treatment_sessions", delete(SessionRow).where(SessionRow.episode_id.in_(owned.episodes)))
        remove("screenings", delete(ScreeningRow).where(ScreeningRow.episode_id.in_(owned.episodes)))
        remove("episodes", delete(EpisodeRow).where(EpisodeRow.id.in_(owned.episodes)))
    patient_id, public_id = owned.patient.id, owned.patient.public_id
    db.expunge(owned.patient)
    remove("patients", delete(PatientRow).where(PatientRow.id == patient_id))
    summary = ", ".join(f"{k}={v}" for k, v in removed.items() if v)
    event = record(
        db,
        actor,
        "delete",
        "patient",
        patient_id,
        patient_id=patient_id,
        # the erased patient's public id, which the audit trail's outward views name it by from now on
        detail=f"erased on request ({reason.strip()[:120]}); code {code}; {ERASED_NAME.format(public_id)}; "
        f"{summary}",
    )
    db.flush()
    return ErasureReport(
        patient_id=patient_id, code=code, removed=removed, audit_event_id=event.id, public_id=public_id
    )
