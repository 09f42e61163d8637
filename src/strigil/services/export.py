"""`strigil export csv`: the clinic's record as one analysis-ready long table (one row per measurement)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strigil.catalog import load_catalog
from strigil.clinical.phase import tissue_phase
from strigil.store.record import (
    ClinicianRow,
    DoseStepRow,
    EpisodeRow,
    MeasurementRow,
    PatientRow,
    SessionRow,
)

__all__ = ["CSV_COLUMNS", "export_rows", "write_csv"]

# The contract of the long table (add columns at the end; never rename). `session` is the session number
# within the episode and `minutes` the session's total IASTM minutes, so mixed models read them directly.
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
)
# The measured-force columns summarise the session's dose steps that carry a force recording: the mean and
# peak normal force averaged over all their strokes (each step weighted by its stroke count), and the
# number of strokes; empty for a session without a measured force.


def export_rows(db: Session, clinic_id: int) -> Iterator[dict[str, Any]]:
    """One dict per measurement of the clinic, joined with its patient, episode and session (void episodes
    and sessions left out)."""
    measures = load_catalog().measures
    dose = (
        select(
            DoseStepRow.session_id,
            func.sum(DoseStepRow.duration_s).label("seconds"),
            func.count().label("n_steps"),
            func.sum(DoseStepRow.measured_stroke_count).label("strokes"),
            func.sum(DoseStepRow.measured_mean_n * DoseStepRow.measured_stroke_count).label("mean_sum"),
            func.sum(DoseStepRow.measured_peak_n * DoseStepRow.measured_stroke_count).label("peak_sum"),
        )
        .group_by(DoseStepRow.session_id)
        .subquery()
    )
    stmt = (
        select(
            PatientRow.code,
            PatientRow.birth_year,
            PatientRow.sex,
            EpisodeRow.id,
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
            SessionRow.recommendation,
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
            PatientRow.clinic_id == clinic_id,
            EpisodeRow.voided_at.is_(None),
            SessionRow.voided_at.is_(None),
        )
        .order_by(PatientRow.code, EpisodeRow.id, MeasurementRow.taken_on, MeasurementRow.id)
    )
    for (
        patient,
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
    ) in db.execute(stmt).yield_per(5000):
        m = measures.get(measure)
        yield {
            "patient": patient,
            "birth_year": birth_year,
            "sex": sex,
            "episode": episode,
            "condition": condition,
            "region": region,
            "side": side,
            "target_tissue": tissue,
            "onset_date": onset.isoformat(),
            "opened_on": opened.isoformat(),
            "phase": tissue_phase(onset, opened),
            "session": number or "",
            "session_date": date.isoformat() if date else "",
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
            "taken_on": taken_on.isoformat(),
            "recommendation": (recommendation or {}).get("recommendation") or "",
            "clinician_decision": decision or "",
            "measured_force_n": round(mean_sum / strokes, 4) if strokes else "",
            "measured_peak_n": round(peak_sum / strokes, 4) if strokes else "",
            "measured_strokes": strokes or "",
        }


def write_csv(db: Session, clinic_id: int, out: IO[str]) -> int:
    """Write the long table as CSV to `out`; returns the number of data rows."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in export_rows(db, clinic_id):
        writer.writerow(row)
        n += 1
    return n
