"""Amendments: a correction keeps the earlier version, who changed it, when and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.services.errors import invalid
from strigil.store.record import AmendmentRow

__all__ = ["AmendmentView", "history", "keep_previous"]


def keep_previous(
    db: Session, entity: str, entity_id: int, version: int, previous: dict[str, Any], *, by: str, reason: str
) -> None:
    """Store the version being replaced; refuses a correction without who and why."""
    if not by.strip():
        raise invalid("amended_by", by, "say who makes the correction")
    if not reason.strip():
        raise invalid("reason", reason, "say why the record is corrected")
    db.add(
        AmendmentRow(
            entity=entity,
            entity_id=entity_id,
            version=version,
            previous=previous,
            amended_by=by.strip(),
            reason=reason.strip(),
        )
    )


@dataclass(frozen=True)
class AmendmentView:
    """One earlier version of a record: what it was, who replaced it, when and why."""

    version: int
    previous: dict[str, Any]
    amended_by: str
    amended_at: dt.datetime
    reason: str


def history(db: Session, entity: str, entity_id: int) -> list[AmendmentView]:
    """Earlier versions of a record, oldest first."""
    rows = db.scalars(
        select(AmendmentRow)
        .where(AmendmentRow.entity == entity, AmendmentRow.entity_id == entity_id)
        .order_by(AmendmentRow.version)
    )
    return [AmendmentView(r.version, r.previous, r.amended_by, r.amended_at, r.reason) for r in rows]
