"""TIDieR rendering from plain episode data (pure)."""

from __future__ import annotations

from typing import Any

from strigil.clinical.tidier import TIDIER_ITEMS, render_tidier


def _episode(**changes: Any) -> dict[str, Any]:
    step = {
        "region": "foot_plantar",
        "side": "left",
        "instrument": "graston_set",
        "edge": "convex",
        "stroke": "sweep",
        "angle_deg": 45.0,
        "direction": "along",
        "pressure": "moderate",
        "force_n": None,
        "duration_s": 90,
        "stroke_count": None,
        "patient_position": "prone",
        "active_movement": None,
    }
    session = {
        "number": 1,
        "date": "2026-03-02",
        "warm_up_kind": "cardiovascular",
        "emollient": "lotion",
        "steps": [step],
        "followed_by": [{"kind": "strengthening"}],
        "tolerance": "well_tolerated",
        "adverse_responses": [{"kind": "petechiae", "severity": "mild", "session_id": 1}],
        "clinician_decision": "modify",
        "decision_reason": "lighter pressure",
    }
    doc: dict[str, Any] = {
        "condition": "plantar_heel_pain",
        "region": "foot_plantar",
        "side": "left",
        "target_tissue": "fascia",
        "phase": "chronic",
        "goals": ["walk 30 min"],
        "planned_iastm": True,
        "planned_co_interventions": ["strengthening"],
        "exercise_first_reason": None,
        "consent_on": "2026-03-02",
        "consent_explained": ["bruising", "petechiae"],
        "clinicians": [
            {
                "profession": "physical_therapist",
                "years_experience": 8,
                "training": [{"course": "Graston M1", "formal": True}],
            }
        ],
        "sessions": [
            session,
            {**session, "number": 2, "date": "2026-03-09", "clinician_decision": "continue"},
        ],
        "adverse_responses": [],
    }
    doc.update(changes)
    return doc


def test_twelve_items_in_order_filled_from_the_record() -> None:
    items = render_tidier(_episode(), "Main clinic")
    assert [i.name for i in items] == list(TIDIER_ITEMS) and [i.number for i in items] == list(range(1, 13))
    text = {i.number: i.text for i in items}
    assert "Graston Technique" in text[1] and "plantar heel pain" in text[1]
    assert "stainless_steel" in text[3] and "convex" in text[3]
    assert "sweep on foot_plantar (left) at 45°, along the fibres, moderate pressure, 90 s, prone" in text[4]
    assert "physical_therapist, 8 years" in text[5] and "Graston M1 (formal)" in text[5]
    assert text[7] == "Main clinic"
    assert "2 sessions from 2026-03-02 to 2026-03-09" in text[8] and "3.0 min in total" in text[8]
    assert "not measured" in text[8]
    assert text[10] == "session 1: modify (lighter pressure)"
    assert "petechiae (mild) ×2" in text[12] and "consent given 2026-03-02" in text[12]


def test_clinic_claims_are_labelled_and_missing_data_says_so() -> None:
    items = render_tidier(_episode(condition="fibromyalgia", sessions=[], consent_on=None), "")
    text = {i.number: i.text for i in items}
    assert "only claimed by clinics" in text[2]
    assert text[8] == "no sessions recorded yet" and text[7] == "not recorded"
    assert "consent not recorded" in text[12]
