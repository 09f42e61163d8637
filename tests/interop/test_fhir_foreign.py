"""Bundles from another system's point of view: only standard codes; known LOINC codes become measurements."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from strigil.interop.from_fhir import plan_import

BUNDLES = Path(__file__).parent / "bundles"


def _load(name: str) -> dict[str, Any]:
    return json.loads((BUNDLES / name).read_text(encoding="utf-8"))


def _observation(rid: str, loinc: str, value: Any, when: str = "2025-03-05") -> dict[str, Any]:
    return {
        "fullUrl": f"https://ehr.example.org/fhir/Observation/{rid}",
        "resource": {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": "Patient/88123"},
            "effectiveDateTime": when,
            **value,
        },
    }


def test_pain_scores_with_loinc_72514_3_become_nprs_measurements() -> None:
    plan = plan_import(_load("other_ehr_pain_scores.json"))
    assert plan.errors == []
    found = [
        (f.source, f.taken_on, f.measurement.measure, f.measurement.value, f.measurement.timing)
        for f in plan.foreign_measurements
    ]
    assert found == [
        ("Observation/pain-1", dt.date(2025, 3, 3), "nprs", 7.0, "between"),
        ("Observation/pain-2", dt.date(2025, 3, 10), "nprs", 4.0, "between"),
    ]
    # the absolute subject reference resolved to the same patient, whose identifiers (with their system; never
    # the resource id) travel along
    assert {f.patient_identifiers for f in plan.foreign_measurements} == {
        (("https://ehr.example.org/mrn", "MRN-88123"),)
    }
    # no Condition or Encounter diagnosis says which episode: they will be refused with that reason
    assert {f.condition for f in plan.foreign_measurements} == {None}
    assert all("names no Condition" in str(f.unplaced) for f in plan.foreign_measurements)


def test_everything_else_is_reported_not_silently_dropped() -> None:
    plan = plan_import(_load("other_ehr_pain_scores.json"))
    reported = {p.where: p.message for p in plan.not_understood}
    assert set(reported) == {
        "Patient/88123",
        "Observation/hr-1",
        "Observation/pain-cancelled",
        "Encounter/enc-1",
    }
    assert "8867-4" in reported["Observation/hr-1"] and "72514-3" in reported["Observation/hr-1"]
    assert "entered-in-error" in reported["Observation/pain-cancelled"]


def test_only_loinc_codes_the_catalogue_marks_verified_are_used() -> None:
    bundle = _load("other_ehr_pain_scores.json")
    bundle["entry"] = [
        bundle["entry"][0],
        _observation(
            "odi-1",
            "97909-6",
            {
                "valueQuantity": {
                    "value": 34,
                    "unit": "{score}",
                    "system": "http://unitsofmeasure.org",
                    "code": "{score}",
                }
            },
        ),
        # NDI's 82237-9 is seen only in FHIR IGs, not on loinc.org: the catalogue keeps it unverified
        _observation("ndi-1", "82237-9", {"valueInteger": 20}),
    ]
    plan = plan_import(bundle)
    assert [f.measurement.measure for f in plan.foreign_measurements] == ["odi"]
    assert "Observation/ndi-1" in {p.where for p in plan.not_understood}


def test_a_pain_score_outside_0_to_10_rejects_the_bundle() -> None:
    bundle = _load("other_ehr_pain_scores.json")
    bundle["entry"].append(_observation("pain-bad", "72514-3", {"valueInteger": 14}))
    plan = plan_import(bundle)
    assert not plan.ok
    assert any(
        p.where == "Observation/pain-bad" and "14" in p.message and "0 to 10" in p.message
        for p in plan.errors
    )


def test_a_pain_score_in_the_wrong_unit_rejects_the_bundle() -> None:
    bundle = _load("other_ehr_pain_scores.json")
    bundle["entry"].append(_observation("pain-mm", "72514-3", {"valueQuantity": {"value": 40, "code": "mm"}}))
    plan = plan_import(copy.deepcopy(bundle))
    assert [p.where for p in plan.errors] == ["Observation/pain-mm.valueQuantity"]
    assert "'mm'" in plan.errors[0].message and "{score}" in plan.errors[0].message
