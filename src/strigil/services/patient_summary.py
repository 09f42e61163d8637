"""The printable patient summary: the evidence summary for each episode's condition joined with the
patient's own progress (measures over sessions, with the MCID the decision aid used)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from strigil.services import episodes as episode_service
from strigil.services.patients import show_patient
from strigil.services.progress import MeasureSeries, latest_recommendation, progress
from strigil.services.views import EpisodeView, PatientView

__all__ = ["EpisodePart", "PatientSummaryPage", "evidence_for", "patient_summary"]


@dataclass(frozen=True)
class EpisodePart:
    """One episode in the summary: the record, its progress, the latest recommendation, the evidence."""

    episode: EpisodeView
    progress: list[MeasureSeries]
    recommendation: dict[str, Any] | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class PatientSummaryPage:
    """Everything the printable summary shows for one patient."""

    patient: PatientView
    episodes: list[EpisodePart]


@lru_cache(maxsize=64)
def evidence_for(condition: str) -> dict[str, Any]:
    """The evidence library's patient summary for a condition, as its JSON contract (cached: shipped data)."""
    from strigil.evidence.patient_summary import build_summary, condition_info
    from strigil.evidence.render import summary_json

    library = _library()
    return summary_json(build_summary(condition_info(condition), library), library)


@lru_cache(maxsize=1)
def _library() -> Any:
    from strigil.evidence.library import load_library

    return load_library()


def patient_summary(db: Session, clinic_id: int, patient_code: str) -> PatientSummaryPage:
    """The summary of a patient of the clinic (NotFound for other clinics' patients)."""
    patient = show_patient(db, clinic_id, patient_code)
    parts = []
    for summary in patient.episodes:
        view = episode_service.show_episode(db, clinic_id, summary.id)
        parts.append(
            EpisodePart(view, progress(view), latest_recommendation(view), evidence_for(view.condition))
        )
    return PatientSummaryPage(patient, parts)
