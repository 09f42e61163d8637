"""Strigil -> FHIR -> Strigil keeps the meaning of every generated record; every resource validates as R4."""

from __future__ import annotations

import json
from collections import Counter

from fhir_strategies import clinics
from hypothesis import HealthCheck, given, settings

from strigil.interop.bundle import make_bundle
from strigil.interop.dossier import ClinicDossier
from strigil.interop.from_fhir import plan_import
from strigil.interop.r4 import resource_problems
from strigil.interop.to_fhir import clinic_resources

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _through_json(dossier: ClinicDossier) -> dict:  # type: ignore[type-arg]
    return json.loads(json.dumps(make_bundle(clinic_resources(dossier))))


@SETTINGS
@given(clinics())
def test_exported_bundle_imports_back_to_the_same_record(dossier: ClinicDossier) -> None:
    plan = plan_import(_through_json(dossier))
    assert plan.errors == []
    assert plan.not_understood == []
    assert plan.foreign_measurements == []
    assert plan.clinics == [dossier]


@SETTINGS
@given(clinics())
def test_every_exported_resource_validates_once_per_fact(dossier: ClinicDossier) -> None:
    resources = list(clinic_resources(dossier))
    for resource in resources:
        assert resource_problems(resource) == [], resource["resourceType"]
    ids = Counter((r["resourceType"], r["id"]) for r in resources)
    assert max(ids.values()) == 1  # no two resources share an id
    # one resource per clinical fact
    kinds = Counter(r["resourceType"] for r in resources)
    episodes = [e for p in dossier.patients for e in p.episodes]
    sessions = [s for e in episodes for s in e.sessions]
    assert kinds["Patient"] == len(dossier.patients)
    assert kinds["EpisodeOfCare"] == kinds["Condition"] == kinds["CarePlan"] == len(episodes)
    assert kinds["Procedure"] == len(sessions)
    assert kinds["Observation"] == sum(len(s.record.measurements) for s in sessions) + sum(
        len(e.measurements) for e in episodes
    )
    assert kinds["AdverseEvent"] == sum(len(s.record.adverse_responses) for s in sessions) + sum(
        len(e.adverse_responses) for e in episodes
    )
    assert kinds["Device"] == len({st.instrument for s in sessions for st in s.record.steps})
