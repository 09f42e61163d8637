"""Amendments and addenda: a correction keeps the earlier version, who changed it, when and why; new
information that arrives later is a dated addendum beside the original."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.services.errors import invalid
from strigil.store.record import AmendmentRow, SessionRow
from strigil.store.types import now_utc

__all__ = ["ADDENDUM_MAX", "AmendmentView", "add_addendum_to", "history", "keep_previous"]

ADDENDUM_MAX = 2000  # characters of one addendum (a session's notes take as many)


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


def add_addendum_to(row: SessionRow, on: dt.date, text: str, *, by: str) -> dict[str, Any]:
    """Append a dated addendum to a session's note (the note itself is untouched); returns the addendum."""
    words = " ".join(text.split())
    if not words:
        raise invalid("text", text, "say what the addendum adds")
    if len(words) > ADDENDUM_MAX:
        raise invalid("text", f"{len(words)} characters", f"at most {ADDENDUM_MAX} characters")
    if on < row.date:
        raise invalid("on", on.isoformat(), f"must be on or after the session's date {row.date}")
    addendum = {"on": on.isoformat(), "text": words, "by": by, "at": now_utc().isoformat()}
    # a new list: the JSON column is saved when the attribute is set, not when a list is changed in place
    row.addenda = [*(row.addenda or []), addendum]
    return addendum
