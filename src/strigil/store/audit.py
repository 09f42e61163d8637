"""The audit trail: one append-only row per read or write of patient data (who, when, what, from where).

Append-only is enforced twice: the ORM refuses to update or delete an `AuditEvent`, and the
migration adds database triggers (SQLite) or rules-by-trigger (PostgreSQL) that reject UPDATE and DELETE.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

# the table the events' account key refers to, so that the metadata resolves it wherever events are written
from strigil.store import accounts as _accounts  # noqa: F401
from strigil.store.base import Base
from strigil.store.types import UTCTimestamp as UTCDateTime
from strigil.store.types import now_utc as utcnow

__all__ = ["APPEND_ONLY_DDL", "AuditEvent", "AuditTrailIsAppendOnly"]


class AuditTrailIsAppendOnly(RuntimeError):
    """Raised when code tries to change or remove an audit event."""


class AuditEvent(Base):
    """Who did what to which record, when, and from which address."""

    __tablename__ = "web_audit_events"
    __table_args__ = (
        Index("ix_web_audit_events_clinic_at", "clinic_id", "at"),
        Index("ix_web_audit_events_patient", "patient_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("web_accounts.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    clinic_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(16))  # read, create, update, delete, export, login, denied
    resource: Mapped[str] = mapped_column(String(32))  # patient, episode, session, account, audit, ...
    resource_id: Mapped[str] = mapped_column(String(64), default="")
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(8), default="web")  # web, api, cli
    detail: Mapped[str] = mapped_column(String(255), default="")


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_audit(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise AuditTrailIsAppendOnly(f"audit event {obj.id} cannot be changed or deleted")


# Installed by the migration; kept here so tests can create the same guard on a bare metadata.create_all.
APPEND_ONLY_DDL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS web_audit_events_no_update BEFORE UPDATE ON web_audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS web_audit_events_no_delete BEFORE DELETE ON web_audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION web_audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit trail is append-only'; END $$",
        "DROP TRIGGER IF EXISTS web_audit_events_append_only ON web_audit_events",
        "CREATE TRIGGER web_audit_events_append_only BEFORE UPDATE OR DELETE ON web_audit_events "
        "FOR EACH ROW EXECUTE FUNCTION web_audit_events_refuse()",
    ],
}
