"""The demo clinic behind `strigil serve --demo`: the record's generator (`strigil demo`), reused if present.

Synthetic data only, always in the demo database file (never the clinic's).
"""

from __future__ import annotations

from sqlalchemy import func, select

from strigil.store.database import Database
from strigil.store.record import ClinicRow, PatientRow

__all__ = ["demo_clinic_id"]


def demo_clinic_id(database: Database, *, patients: int = 40, seed: int = 1) -> int:
    """The demo clinic's id; built with the record's demo generator the first time."""
    from strigil.services.demo import CLINIC_CODE, build_demo

    with database.unit_of_work() as db:
        clinic_id = db.scalar(select(ClinicRow.id).where(ClinicRow.code == CLINIC_CODE))
        existing = 0
        if clinic_id is not None:
            existing = (
                db.scalar(select(func.count(PatientRow.id)).where(PatientRow.clinic_id == clinic_id)) or 0
            )
    if clinic_id is None or existing == 0:
        clinic_id = build_demo(database, patients, seed)
    return int(clinic_id)
