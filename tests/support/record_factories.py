"""Small valid documents for tests (each test changes one thing)."""

from __future__ import annotations

from typing import Any

from strigil.services import clinics, episodes, patients
from strigil.store.database import Database


def clinician_doc(code: str = "ana") -> dict[str, Any]:
    return {
        "code": code,
        "name": "Ana Example",
        "profession": "athletic_trainer",
        "training": [{"course": "Graston M1", "formal": True}],
        "years_experience": 6,
    }


def episode_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "condition": "plantar_heel_pain",
        "region": "foot_plantar",
        "side": "left",
        "target_tissue": "fascia",
        "onset_date": "2026-01-05",
        "opened_on": "2026-03-02",
        "goals": ["walk 30 min without pain"],
        "planned_co_interventions": ["stretching", "strengthening"],
        "consent": {
            "given_on": "2026-03-02",
            "explained": ["bruising", "petechiae", "soreness", "alternatives", "exercise_programme"],
        },
    }
    doc.update(changes)
    return doc


def step_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "region": "foot_plantar",
        "side": "left",
        "instrument": "graston_set",
        "edge": "convex",
        "stroke": "sweep",
        "angle_deg": 45,
        "direction": "along",
        "pressure": "moderate",
        "duration_s": 90,
        "stroke_count": 40,
        "patient_position": "prone",
    }
    doc.update(changes)
    return doc


def session_doc(episode_id: int, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "episode_id": episode_id,
        "clinician": "ana",
        "date": "2026-03-02",
        "warm_up": {"kind": "cardiovascular", "minutes": 5},
        "emollient": "lotion",
        "steps": [step_doc(), step_doc(stroke="strum", angle_deg=70, direction="across", duration_s=60)],
        "followed_by": [
            {"kind": "stretching", "minutes": 5},
            {"kind": "strengthening", "detail": "heel raises"},
        ],
        "measurements": [
            {"measure": "nprs", "value": 6, "timing": "pre"},
            {"measure": "nprs", "value": 4, "timing": "post"},
        ],
        "adverse_responses": [{"kind": "petechiae", "severity": "mild", "onset_on": "2026-03-02"}],
        "tolerance": "well_tolerated",
        "clinician_decision": "continue",
        "exercise_delivered": True,
    }
    doc.update(changes)
    if "adverse_responses" not in changes:
        doc["adverse_responses"] = [{"kind": "petechiae", "severity": "mild", "onset_on": doc["date"]}]
    return doc


def clinic_with_episode(db: Database) -> tuple[int, int]:
    """A clinic with clinician 'ana', patient 'P001' and one open episode; returns (clinic_id, episode_id)."""
    with db.unit_of_work() as s:
        clinic = clinics.ensure_clinic(s, "main", "Main clinic")
        clinics.add_clinician(s, clinic.id, clinician_doc())
        patients.add_patient(s, clinic.id, {"code": "P001", "birth_year": 1980, "sex": "female"})
        ep = episodes.open_episode(s, clinic.id, "P001", episode_doc())
    return clinic.id, ep.id
