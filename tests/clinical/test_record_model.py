"""The pure record model: catalogue-backed validation with field-level messages."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from strigil.clinical.checks import problems_from
from strigil.clinical.episode import EpisodePlan
from strigil.clinical.people import Clinician, Patient
from strigil.clinical.session import DoseStep, Measurement, SessionRecord


def _step(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "region": "elbow",
        "side": "right",
        "instrument": "astym",
        "stroke": "sweep",
        "angle_deg": 45,
        "direction": "along",
        "pressure": "light",
        "duration_s": 60,
    }
    doc.update(changes)
    return doc


def _problems(model: type, doc: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(doc)  # type: ignore[attr-defined]
    return [(p.field, p.message) for p in problems_from(info.value)]


def test_a_valid_step_passes() -> None:
    step = DoseStep.model_validate(_step(edge="concave", force_n=8.9, stroke_count=30))
    assert step.instrument == "astym" and step.force_n == 8.9


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"region": "elbw"}, "region", "did you mean 'elbow'"),
        ({"instrument": "graston"}, "instrument", "allowed:"),
        ({"stroke": "swipe"}, "stroke", "allowed:"),
        ({"side": "up"}, "side", "allowed: left, right, bilateral, midline"),
        ({"direction": "diagonal"}, "direction", "'along', 'across', 'oblique' or 'multidirectional'"),
        ({"pressure": "firm"}, "pressure", "'light', 'moderate' or 'heavy'"),
        ({"angle_deg": 120}, "angle_deg", "less than or equal to 90"),
        ({"duration_s": 0}, "duration_s", "greater than or equal to 1"),
        ({"force_n": -2}, "force_n", "greater than 0"),
        ({"edge": "serrated"}, "edge", "allowed:"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_step_fields_are_named_with_what_is_allowed(
    change: dict[str, Any], field: str, fragment: str
) -> None:
    problems = _problems(DoseStep, _step(**change))
    assert any(f == field and fragment in m for f, m in problems), problems


def test_measurement_outside_the_scale_names_the_range() -> None:
    problems = _problems(Measurement, {"measure": "nprs", "value": 11, "timing": "pre"})
    assert problems == [("", "11 is outside the nprs range; allowed: 0 to 10 points")]
    assert Measurement(measure="lefs", value=80, timing="between").value == 80


def test_pre_post_measures_need_instrument_work() -> None:
    doc = {
        "episode_id": 1,
        "clinician": "ana",
        "date": "2026-03-01",
        "measurements": [{"measure": "nprs", "value": 5, "timing": "pre"}],
    }
    (problem,) = _problems(SessionRecord, doc)
    assert "need at least one dose step" in problem[1]
    doc["measurements"][0]["timing"] = "between"  # type: ignore[index]
    assert SessionRecord.model_validate(doc).iastm_seconds() == 0


def test_tolerance_is_required_after_instrument_work() -> None:
    doc = {"episode_id": 1, "clinician": "ana", "date": "2026-03-01", "steps": [_step()]}
    assert "tolerance is required" in _problems(SessionRecord, doc)[0][1]


def test_adverse_response_cannot_resolve_before_onset() -> None:
    doc = {
        "episode_id": 1,
        "clinician": "ana",
        "date": "2026-03-01",
        "steps": [_step()],
        "tolerance": "well_tolerated",
        "adverse_responses": [
            {"kind": "bruising", "severity": "mild", "onset_on": "2026-03-03", "resolved_on": "2026-03-02"}
        ],
    }
    problems = _problems(SessionRecord, doc)
    assert problems[0][0] == "adverse_responses[0]" and "before onset_on" in problems[0][1]


def test_episode_dates_and_consent() -> None:
    base = {
        "condition": "neck_pain",
        "region": "neck",
        "side": "midline",
        "target_tissue": "muscle",
        "onset_date": "2026-02-01",
        "opened_on": "2026-01-01",
        "consent": {"given_on": "2026-01-01", "explained": ["bruising"]},
    }
    assert "onset must come first" in _problems(EpisodePlan, base)[0][1]
    no_consent = {**base, "onset_date": "2025-12-01", "consent": None}
    assert "consent is required" in _problems(EpisodePlan, no_consent)[0][1]
    plan = EpisodePlan.model_validate({**base, "onset_date": "2025-06-01"})
    assert plan.phase() == "chronic"
    assert "is not a known condition" in _problems(EpisodePlan, {**base, "condition": "tennis_elbow"})[0][1]


def test_patient_is_pseudonymous() -> None:
    assert Patient(code="P-001", birth_year=1970, sex="male").code == "P-001"
    assert _problems(Patient, {"code": "Jane Doe", "birth_year": 1970, "sex": "female"})[0][0] == "code"
    assert _problems(Patient, {"code": "P1", "birth_year": 3000, "sex": "female"})[0][0] == "birth_year"
    assert (
        _problems(Patient, {"code": "P1", "birth_year": 1970, "sex": "female", "name": "Jane"})[0][0]
        == "name"
    )


def test_clinician_training_and_experience() -> None:
    c = Clinician.model_validate(
        {
            "code": "b",
            "name": "B",
            "profession": "physical_therapist",
            "training": [{"course": "self-taught", "formal": False}],
            "years_experience": 3,
        }
    )
    assert c.training[0].formal is False
    assert _problems(Clinician, {"code": "b", "name": "B", "profession": "wizard", "years_experience": 3})[0][
        0
    ] == ("profession")
