"""Clinics and clinicians: set up a clinic, add clinicians, look them up."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.clinical.people import Clinic, Clinician
from strigil.services._convert import clinician_view
from strigil.services.errors import NotFound, Refused, from_validation
from strigil.services.views import ClinicianView, ClinicView
from strigil.store.mapping import clinician_columns
from strigil.store.record import ClinicianRow, ClinicRow

__all__ = ["add_clinician", "ensure_clinic", "get_clinic", "get_clinician", "list_clinicians"]


def ensure_clinic(db: Session, code: str, name: str) -> ClinicView:
    """The clinic with `code`, created with `name` if it does not exist yet."""
    try:
        clinic = Clinic(code=code, name=name)
    except ValidationError as exc:
        raise from_validation(exc) from None
    row = db.scalar(select(ClinicRow).where(ClinicRow.code == clinic.code))
    if row is None:
        row = ClinicRow(code=clinic.code, name=clinic.name)
        db.add(row)
        db.flush()
    return ClinicView(row.id, row.code, row.name)


def get_clinic(db: Session, code: str) -> ClinicView:
    """The clinic with `code`, or NotFound naming how to create it."""
    row = db.scalar(select(ClinicRow).where(ClinicRow.code == code))
    if row is None:
        raise NotFound(f"clinic {code!r} does not exist; create it with `strigil init --clinic {code}`")
    return ClinicView(row.id, row.code, row.name)


def add_clinician(db: Session, clinic_id: int, data: dict[str, Any] | Clinician) -> ClinicianView:
    """Add a clinician to a clinic; their code must be new in that clinic."""
    try:
        clinician = data if isinstance(data, Clinician) else Clinician.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None
    exists = db.scalar(
        select(ClinicianRow.id).where(
            ClinicianRow.clinic_id == clinic_id, ClinicianRow.code == clinician.code
        )
    )
    if exists is not None:
        raise Refused(
            f"clinician code {clinician.code!r} is already used in this clinic; choose another code"
        )
    row = ClinicianRow(clinic_id=clinic_id, **clinician_columns(clinician))
    db.add(row)
    db.flush()
    return clinician_view(row)


def get_clinician(db: Session, clinic_id: int, code: str) -> ClinicianView:
    """A clinician of the clinic by code."""
    row = db.scalar(
        select(ClinicianRow).where(ClinicianRow.clinic_id == clinic_id, ClinicianRow.code == code)
    )
    if row is None:
        known = list(db.scalars(select(ClinicianRow.code).where(ClinicianRow.clinic_id == clinic_id)))
        raise NotFound(f"clinician {code!r} is not in this clinic; known: {', '.join(known) or 'none'}")
    return clinician_view(row)


def list_clinicians(db: Session, clinic_id: int) -> list[ClinicianView]:
    """The clinic's clinicians, by code."""
    rows = db.scalars(
        select(ClinicianRow).where(ClinicianRow.clinic_id == clinic_id).order_by(ClinicianRow.code)
    )
    return [clinician_view(r) for r in rows]
