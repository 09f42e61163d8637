"""The FHIR export carries a dose step's measured-force summary, and an import reads it back."""

from __future__ import annotations

import json

from fhir_strategies import clinics
from hypothesis import HealthCheck, assume, given, settings

from strigil.interop.bundle import make_bundle
from strigil.interop.definitions import DOSE_STEP
from strigil.interop.dossier import ClinicDossier
from strigil.interop.from_fhir import plan_import
from strigil.interop.to_fhir import clinic_resources


def _dose_step_parts(dossier: ClinicDossier) -> list[dict[str, object]]:
    parts = []
    for resource in clinic_resources(dossier):
        for ext in resource.get("extension", []):
            if ext["url"] == DOSE_STEP.url:
                parts.append({p["url"]: p for p in ext["extension"]})
    return parts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clinics())
def test_each_measured_step_exports_its_summary_with_units(dossier: ClinicDossier) -> None:
    steps = [st for p in dossier.patients for e in p.episodes for s in e.sessions for st in s.record.steps]
    exported = _dose_step_parts(dossier)
    assert len(exported) == len(steps)
    for step, parts in zip(steps, exported, strict=True):
        summary = step.measured_force
        if summary is None:
            assert not [k for k in parts if str(k).startswith("measured")]
            continue
        assert parts["measuredRecording"]["valueString"] == summary.recording
        assert parts["measuredStrokeCount"]["valueInteger"] == summary.stroke_count
        mean = parts["measuredMeanForce"]["valueQuantity"]
        assert mean["value"] == summary.mean_n and mean["code"] == "N"  # type: ignore[index]
        assert parts["measuredPeakForce"]["valueQuantity"]["value"] == summary.peak_n  # type: ignore[index]
        if summary.peak_cv_pct is not None:
            assert parts["measuredPeakForceCv"]["valueQuantity"]["code"] == "%"  # type: ignore[index]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clinics())
def test_a_summary_without_its_recording_is_refused(dossier: ClinicDossier) -> None:
    bundle = json.loads(json.dumps(make_bundle(clinic_resources(dossier))))
    cut = False
    for entry in bundle["entry"]:
        for ext in entry["resource"].get("extension", []):
            if ext["url"] == DOSE_STEP.url and any(p["url"] == "measuredRecording" for p in ext["extension"]):
                ext["extension"] = [p for p in ext["extension"] if p["url"] != "measuredRecording"]
                cut = True
    assume(cut)  # examples without a measured step say nothing here
    plan = plan_import(bundle)
    assert any("given without measuredRecording" in str(e) for e in plan.errors)
