"""Malformed bundles are rejected whole, each with a message naming where, what was found, what is allowed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fhir_strategies import example_clinic

from strigil.interop.bundle import make_bundle
from strigil.interop.from_fhir import plan_import
from strigil.interop.to_fhir import clinic_resources

Bundle = dict[str, Any]


def _bundle() -> Bundle:
    return json.loads(json.dumps(make_bundle(clinic_resources(example_clinic()))))


def _first(bundle: Bundle, kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def _dose_step(bundle: Bundle) -> dict[str, Any]:
    return next(e for e in _first(bundle, "Procedure")["extension"] if e["url"].endswith("/dose-step"))


def _set_part(ext: dict[str, Any], name: str, value: dict[str, Any]) -> None:
    for part in ext["extension"]:
        if part["url"] == name:
            part.clear()
            part.update({"url": name, **value})


def _drop_part(ext: dict[str, Any], name: str) -> None:
    ext["extension"] = [p for p in ext["extension"] if p["url"] != name]


def _mutations() -> dict[str, tuple[Callable[[Bundle], Any], str]]:
    def not_an_object(b: Bundle) -> Any:
        return [b]

    def not_a_bundle(b: Bundle) -> Any:
        b["resourceType"] = "Patient"

    def document_type(b: Bundle) -> Any:
        b["type"] = "document"

    def entry_without_resource(b: Bundle) -> Any:
        b["entry"].append({"fullUrl": "urn:uuid:0"})

    def observation_without_status(b: Bundle) -> Any:
        del _first(b, "Observation")["status"]

    def value_not_a_number(b: Bundle) -> Any:
        _first(b, "Observation")["valueQuantity"]["value"] = "six"

    def dangling_reference(b: Bundle) -> Any:
        b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "Patient"]

    def duplicate_resource(b: Bundle) -> Any:
        b["entry"].append(b["entry"][-1])

    def unknown_resource_type(b: Bundle) -> Any:
        b["entry"].append({"resource": {"resourceType": "Scraper", "id": "x"}})

    def unknown_instrument(b: Bundle) -> Any:
        _set_part(
            _dose_step(b),
            "instrument",
            {
                "valueCoding": {
                    "system": "https://strigil.dev/fhir/CodeSystem/instrument",
                    "code": "butter_knife",
                }
            },
        )

    def step_without_duration(b: Bundle) -> Any:
        _drop_part(_dose_step(b), "duration")

    def step_duration_in_minutes(b: Bundle) -> Any:
        _set_part(_dose_step(b), "duration", {"valueQuantity": {"value": 2, "code": "min"}})

    def step_angle_too_steep(b: Bundle) -> Any:
        _set_part(_dose_step(b), "angle", {"valueQuantity": {"value": 120, "code": "deg"}})

    def step_orders_with_a_gap(b: Bundle) -> Any:
        _set_part(_dose_step(b), "order", {"valueInteger": 5})

    def unknown_extension_part(b: Bundle) -> Any:
        _dose_step(b)["extension"].append({"url": "speed", "valueDecimal": 3})

    def patient_without_birth_year(b: Bundle) -> Any:
        del _first(b, "Patient")["birthDate"]

    def pain_above_ten(b: Bundle) -> Any:
        _first(b, "Observation")["valueQuantity"]["value"] = 11

    def unknown_condition(b: Bundle) -> Any:
        _first(b, "Condition")["code"]["coding"][0]["code"] = "broken_heart"

    def adverse_kind_unknown(b: Bundle) -> Any:
        _first(b, "AdverseEvent")["event"]["coding"][0]["code"] = "rash"

    def status_not_in_its_value_set(b: Bundle) -> Any:
        _first(b, "Observation")["status"] = "done"

    def two_clinics(b: Bundle) -> Any:
        org = json.loads(json.dumps(_first(b, "Organization")))
        org["id"] = "clinic-south"
        org["identifier"][0]["value"] = "south"
        b["entry"].append({"resource": org})

    return {
        "not an object": (not_an_object, "expected a JSON object"),
        "not a bundle": (not_a_bundle, "expected 'Bundle'"),
        "document bundle": (document_type, "'document' is not accepted"),
        "entry without resource": (entry_without_resource, "entry has no resource"),
        "observation without status": (observation_without_status, "status"),
        "value not a number": (value_not_a_number, "valueQuantity.value"),
        "dangling reference": (dangling_reference, "points at no resource"),
        "duplicate resource": (duplicate_resource, "duplicate resource"),
        "unknown resource type": (unknown_resource_type, "'Scraper' is not a FHIR R4 resource"),
        "unknown instrument": (unknown_instrument, "'butter_knife' is not a known instrument code"),
        "step without duration": (step_without_duration, "dose-step.duration is required"),
        "duration in minutes": (step_duration_in_minutes, "unit 'min' is not allowed; allowed: 's'"),
        "angle too steep": (step_angle_too_steep, "angle_deg"),
        "orders with a gap": (step_orders_with_a_gap, "must run 1, 2, 3"),
        "unknown extension part": (unknown_extension_part, "unknown part 'speed'"),
        "patient without birth year": (patient_without_birth_year, "birth_year"),
        "pain above ten": (pain_above_ten, "outside the nprs range"),
        "unknown condition": (unknown_condition, "'broken_heart' is not a known condition code"),
        "unknown adverse kind": (adverse_kind_unknown, "kind"),
        "two clinics": (two_clinics, "exactly one Strigil Organization"),
        "status not in its value set": (
            status_not_in_its_value_set,
            "'done' is not allowed; allowed: registered",
        ),
    }


MUTATIONS = _mutations()


def test_the_unbroken_bundle_is_accepted() -> None:
    plan = plan_import(_bundle())
    assert plan.ok and plan.clinics == [example_clinic()]


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_malformed_bundle_is_rejected_with_a_clear_message(name: str) -> None:
    mutate, expected = MUTATIONS[name]
    bundle = _bundle()
    replaced = mutate(bundle)
    plan = plan_import(replaced if replaced is not None else bundle)
    assert not plan.ok
    assert plan.clinics == [] or plan.errors  # errors forbid writing whatever was read
    messages = [str(p) for p in plan.errors]
    assert any(expected in m for m in messages), messages


def test_without_r4_validation_the_record_is_still_checked_against_the_catalogue() -> None:
    assert plan_import(_bundle(), validate=False).clinics == [example_clinic()]
    bundle = _bundle()
    MUTATIONS["pain above ten"][0](bundle)
    assert any("outside the nprs range" in str(p) for p in plan_import(bundle, validate=False).errors)
    bundle = _bundle()
    MUTATIONS["unknown resource type"][0](bundle)  # types are still looked up
    assert not plan_import(bundle, validate=False).ok
