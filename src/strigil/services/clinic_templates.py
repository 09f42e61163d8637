"""A clinic's own session templates: dose steps saved from the session form as a draft for later sessions.

They are the clinic's habit, not evidence: every page labels them "clinic template — not an evidence-based
dose" (`strigil.catalog.CLINIC_TEMPLATE_LABEL`). The two sourced sequences are the catalogue's
(`load_session_templates`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.clinical.session import DOSE_STEP_FIELDS
from strigil.services.errors import NotFound, invalid
from strigil.store.record import ClinicTemplateRow

__all__ = ["MAX_STEPS", "ClinicTemplate", "clinic_template", "clinic_templates", "save_clinic_template"]

MAX_STEPS = 50


@dataclass(frozen=True)
class ClinicTemplate:
    """A saved template: its name, its dose steps (the form's text values) and who saved it."""

    id: int
    name: str
    steps: tuple[dict[str, str], ...]
    created_by: str
    public_id: str = ""  # its name outside the server (the session form's `template=clinic-…`)


def _view(row: ClinicTemplateRow) -> ClinicTemplate:
    return ClinicTemplate(row.id, row.name, tuple(row.steps), row.created_by, row.public_id)


def save_clinic_template(
    db: Session, clinic_id: int, name: str, steps: Sequence[Mapping[str, Any]], *, by: str
) -> ClinicTemplate:
    """Save dose steps under a name new in the clinic (only the step fields, as text)."""
    name = " ".join(name.split())
    if not 3 <= len(name) <= 120:
        raise invalid("name", name, "name the template in 3 to 120 characters")
    kept = [
        {f: str(step.get(f) or "")[:200] for f in DOSE_STEP_FIELDS}
        for step in steps
        if any(str(step.get(f) or "") for f in DOSE_STEP_FIELDS if f not in ("region", "side"))
    ]
    if not kept:
        raise invalid("steps", None, "a template needs at least one dose step with something filled in")
    if len(kept) > MAX_STEPS:
        raise invalid("steps", len(kept), f"at most {MAX_STEPS} dose steps")
    same = (ClinicTemplateRow.clinic_id == clinic_id) & (ClinicTemplateRow.name == name)
    if db.scalar(select(ClinicTemplateRow.id).where(same)) is not None:
        raise invalid("name", name, "the clinic already has a template of that name; choose another")
    row = ClinicTemplateRow(clinic_id=clinic_id, name=name, steps=kept, created_by=by)
    db.add(row)
    db.flush()
    return _view(row)


def clinic_templates(db: Session, clinic_id: int) -> list[ClinicTemplate]:
    """The clinic's templates, by name."""
    mine = ClinicTemplateRow.clinic_id == clinic_id
    rows = db.scalars(select(ClinicTemplateRow).where(mine).order_by(ClinicTemplateRow.name))
    return [_view(r) for r in rows]


def clinic_template(db: Session, clinic_id: int, template_id: int) -> ClinicTemplate:
    """One of the clinic's templates (NotFound for another clinic's)."""
    row = db.get(ClinicTemplateRow, template_id)
    if row is None or row.clinic_id != clinic_id:
        raise NotFound("no such clinic template in this clinic")
    return _view(row)
