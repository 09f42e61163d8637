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

__all__ = [
    "EVIDENCE_VIEWS",
    "EpisodePart",
    "PatientSummaryPage",
    "evidence_for",
    "evidence_fragment",
    "evidence_page",
    "patient_summary",
]

EVIDENCE_VIEWS = ("clinician", "patient")


@dataclass(frozen=True)
class EpisodePart:
    """One episode in the summary: the record, its progress, the latest recommendation, the evidence."""

    episode: EpisodeView
    progress: list[MeasureSeries]
    recommendation: dict[str, Any] | None
    evidence: dict[str, Any]
    evidence_html: str = ""  # the patient text of the evidence summary (one markup: strigil.evidence.render)


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


@lru_cache(maxsize=64)
def evidence_fragment(condition: str) -> str:
    """The patient text of a condition's evidence summary, as an HTML fragment (cached: shipped data)."""
    from strigil.evidence.patient_summary import build_summary, condition_info
    from strigil.evidence.render import patient_fragment

    library = _library()
    return str(patient_fragment(build_summary(condition_info(condition), library), library, level=4))


@lru_cache(maxsize=64)
def evidence_page(condition: str | None, view: str = "clinician") -> str:
    """The evidence library page (no condition), or a condition's clinician or patient page, as HTML.

    UnknownCode when the condition is not in the catalogue; ValueError for a view other than EVIDENCE_VIEWS.
    """
    from strigil.evidence.patient_summary import build_summary, condition_info
    from strigil.evidence.render import render_clinician_html, render_html, render_library_html

    if view not in EVIDENCE_VIEWS:
        raise ValueError(f"view {view!r} is not one of {', '.join(EVIDENCE_VIEWS)}")
    library = _library()
    if condition is None:
        return render_library_html(library)
    summary = build_summary(condition_info(condition), library)
    return render_html(summary, library) if view == "patient" else render_clinician_html(summary, library)


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
            EpisodePart(
                view,
                progress(view),
                latest_recommendation(view),
                evidence_for(view.condition),
                evidence_fragment(view.condition),
            )
        )
    return PatientSummaryPage(patient, parts)
