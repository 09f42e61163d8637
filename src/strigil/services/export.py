"""`strigil export csv`: the clinic's record as one analysis-ready long table (one row per measurement).

The table protects patients (`strigil.interop.research`): the patient column is a keyed pseudonym made for
this export (a fresh random key each time unless the clinic gives its own, so two exports cannot be linked
without it), birth years are banded and sex withheld so that every birth-band × sex cell holds none or at
least `MIN_PATIENTS` patients (`research.banded_demographics`), and dates are days since the episode began.
Episodes are numbered per export; no database id leaves the server.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from strigil.catalog import load_catalog
from strigil.clinical.phase import tissue_phase
from strigil.interop.research import Demographics, banded_demographics, pseudonym
from strigil.store.record import (
    ClinicianRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    SessionRow,
)

__all__ = ["CSV_COLUMNS", "clinic_patient_ids", "export_rows", "write_csv"]

# The contract of the long table (add columns at the end; never rename). `session` is the session number
# within the episode and `minutes` the session's total IASTM minutes, so mixed models read them directly.
# `episode` numbers the episodes of this export 1, 2, 3, … in row order (never a database id: those are
# shared by every clinic on a server and would show their activity).
CSV_COLUMNS = (
    "patient",
    "birth_year",
    "sex",
    "episode",
    "condition",
    "region",
    "side",
    "target_tissue",
    "onset_date",
    "opened_on",
    "phase",
    "session",
    "session_date",
    "days_since_onset",
    "clinician",
    "profession",
    "minutes",
    "n_steps",
    "tolerance",
    "measure",
    "unit",
    "direction",
    "timing",
    "value",
    "taken_on",
    "recommendation",
    "clinician_decision",
    "measured_force_n",
    "measured_peak_n",
    "measured_strokes",
    "birth_year_width",
)
# The measured-force columns summarise the session's dose steps that carry a force recording: the mean and
# peak normal force averaged over all their strokes (each step weighted by its stroke count), and the
# number of strokes; empty for a session without a measured force.


def export_rows(db: Session, clinic_id: int, *, key: bytes | None = None) -> Iterator[dict[str, Any]]:
    """One dict per measurement of the clinic, joined with its patient, episode and session (void episodes
    and sessions left out).

    `key` makes the patients' pseudonyms (`research.pseudonym`); without one a random key is made for this
    export alone.
    """
    measures = load_catalog().measures
    key = key if key is not None else secrets.token_bytes(32)
    # the patients the table holds rows of (measurements outside void episodes and sessions)
    measured = (
        select(EpisodeRow.patient_id)
        .join(MeasurementRow, MeasurementRow.episode_id == EpisodeRow.id)
        .outerjoin(SessionRow, SessionRow.id == MeasurementRow.session_id)
        .where(EpisodeRow.voided_at.is_(None), SessionRow.voided_at.is_(None))
    )
    # the patients of the table per birth year and sex: what may be shown of both is decided over them all
    per_cell = {
        (year, sex): n
        for year, sex, n in db.execute(
            select(PatientRow.birth_year, PatientRow.sex, func.count())
            .where(PatientRow.clinic_id == clinic_id, PatientRow.id.in_(measured))
            .group_by(PatientRow.birth_year, PatientRow.sex)
        ).all()
    }
    shown = banded_demographics(per_cell)
    patients = db.execute(
        select(PatientRow.id, PatientRow.public_id).where(
            PatientRow.clinic_id == clinic_id, PatientRow.id.in_(measured)
        )
    ).all()
    # patients in the order of their pseudonyms: it says nothing about them, and no id or code plays a part
    named = sorted((pseudonym(key, public_id), pid) for pid, public_id in patients)
    episode_numbers: dict[str, int] = {}
    for start in range(0, len(named), 500):
        batch = named[start : start + 500]
        rows_of: dict[int, list[Any]] = {pid: [] for _, pid in batch}
        for row in db.execute(_rows_statement([pid for _, pid in batch])):
            rows_of[row[0]].append(row[1:])
        for name, pid in batch:
            for row in rows_of[pid]:
                yield _long_row(name, row, shown, episode_numbers, measures)


def _rows_statement(patient_ids: list[int]) -> Any:
    """The measurements of some patients joined with their episode, session and dose, patient id first."""
    sessions = (
        select(SessionRow.id)
        .join(EpisodeRow, EpisodeRow.id == SessionRow.episode_id)
        .where(EpisodeRow.patient_id.in_(patient_ids))
    )
    dose = (
        select(
            DoseStepRow.session_id,
            func.sum(DoseStepRow.duration_s).label("seconds"),
            func.count().label("n_steps"),
            func.sum(DoseStepRow.measured_stroke_count).label("strokes"),
            func.sum(DoseStepRow.measured_mean_n * DoseStepRow.measured_stroke_count).label("mean_sum"),
            func.sum(DoseStepRow.measured_peak_n * DoseStepRow.measured_stroke_count).label("peak_sum"),
        )
        .where(DoseStepRow.session_id.in_(sessions))
        .group_by(DoseStepRow.session_id)
        .subquery()
    )
    return (
        select(
            PatientRow.id,
            PatientRow.birth_year,
            PatientRow.sex,
            EpisodeRow.public_id,
            EpisodeRow.condition,
            EpisodeRow.region,
            EpisodeRow.side,
            EpisodeRow.target_tissue,
            EpisodeRow.onset_date,
            EpisodeRow.opened_on,
            SessionRow.number,
            SessionRow.date,
            ClinicianRow.code,
            ClinicianRow.profession,
            dose.c.seconds,
            dose.c.n_steps,
            SessionRow.tolerance,
            MeasurementRow.measure,
            MeasurementRow.timing,
            MeasurementRow.value,
            MeasurementRow.taken_on,
            SessionRow.recommended,
            SessionRow.clinician_decision,
            dose.c.strokes,
            dose.c.mean_sum,
            dose.c.peak_sum,
        )
        .join(EpisodeRow, EpisodeRow.id == MeasurementRow.episode_id)
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .outerjoin(SessionRow, SessionRow.id == MeasurementRow.session_id)
        .outerjoin(ClinicianRow, ClinicianRow.id == SessionRow.clinician_id)
        .outerjoin(dose, dose.c.session_id == SessionRow.id)
        # void episodes and sessions were entered by mistake (no session: the outer join's NULL counts)
        .where(
            PatientRow.id.in_(patient_ids),
            EpisodeRow.voided_at.is_(None),
            SessionRow.voided_at.is_(None),
        )
        # an order that database ids play no part in, so a copy of the record exports the same rows
        .order_by(
            EpisodeRow.opened_on,
            EpisodeRow.public_id,
            MeasurementRow.taken_on,
            SessionRow.number,
            case({"pre": 0, "between": 1, "post": 2}, value=MeasurementRow.timing, else_=1),
            MeasurementRow.measure,
            MeasurementRow.public_id,
        )
    )


_WITHHELD = Demographics(None, None, "")


def _long_row(
    patient: str,
    row: Any,
    shown: dict[tuple[int, str], Demographics],
    episode_numbers: dict[str, int],
    measures: Any,
) -> dict[str, Any]:
    """One row of the long table from a result row of `_rows_statement` (without its patient id)."""
    (
        birth_year,
        sex,
        episode,
        condition,
        region,
        side,
        tissue,
        onset,
        opened,
        number,
        date,
        clinician,
        profession,
        seconds,
        n_steps,
        tolerance,
        measure,
        timing,
        value,
        taken_on,
        recommendation,
        decision,
        strokes,
        mean_sum,
        peak_sum,
    ) = row
    m = measures.get(measure)
    number_of_episode = episode_numbers.setdefault(episode, len(episode_numbers) + 1)
    # a patient the counts missed (none should be) shows nothing rather than an unchecked cell
    demographics = shown.get((birth_year, sex), _WITHHELD)
    return {
        "patient": patient,
        "birth_year": "" if demographics.birth_year is None else demographics.birth_year,
        "sex": demographics.sex,
        "episode": number_of_episode,
        "condition": condition,
        "region": region,
        "side": side,
        "target_tissue": tissue,
        "onset_date": (onset - opened).days,
        "opened_on": 0,
        "phase": tissue_phase(onset, opened),
        "session": number or "",
        "session_date": (date - opened).days if date else "",
        "days_since_onset": (taken_on - onset).days,
        "clinician": clinician or "",
        "profession": profession or "",
        "minutes": round((seconds or 0) / 60, 3) if number else "",
        "n_steps": (n_steps or 0) if number else "",
        "tolerance": tolerance or "",
        "measure": measure,
        "unit": m.unit if m else "",
        "direction": m.direction if m else "",
        "timing": timing,
        "value": value,
        "taken_on": (taken_on - opened).days,
        "recommendation": recommendation or "",
        "clinician_decision": decision or "",
        "measured_force_n": round(mean_sum / strokes, 4) if strokes else "",
        "measured_peak_n": round(peak_sum / strokes, 4) if strokes else "",
        "measured_strokes": strokes or "",
        "birth_year_width": "" if demographics.birth_year_width is None else demographics.birth_year_width,
    }


def clinic_patient_ids(db: Session, clinic_id: int, *, measured_only: bool = True) -> list[int]:
    """The patients an export of the clinic touches (the long table: those with a measurement)."""
    query = select(PatientRow.id).where(PatientRow.clinic_id == clinic_id)
    if measured_only:
        query = (
            query.join(EpisodeRow, EpisodeRow.patient_id == PatientRow.id)
            .join(MeasurementRow, MeasurementRow.episode_id == EpisodeRow.id)
            .distinct()
        )
    return list(db.scalars(query))


def write_csv(db: Session, clinic_id: int, out: IO[str], *, key: bytes | None = None) -> int:
    """Write the long table as CSV to `out`; returns the number of data rows."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in export_rows(db, clinic_id, key=key):
        writer.writerow(row)
        n += 1
    return n
