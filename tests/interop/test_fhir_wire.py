"""Standards on the wire: what an exported closed episode claims, and how the API says no."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir_strategies import example_clinic

from strigil.interop.bundle import make_bundle
from strigil.interop.from_fhir import plan_import
from strigil.interop.r4 import resource_problems
from strigil.interop.to_fhir import clinic_resources, closing_resolves


def _closed(reason: str) -> dict[str, list[dict[str, Any]]]:
    clinic = example_clinic()
    patient = clinic.patients[0]
    episode = dataclasses.replace(patient.episodes[0], closed_on=dt.date(2025, 6, 1), close_reason=reason)
    clinic = dataclasses.replace(clinic, patients=(dataclasses.replace(patient, episodes=(episode,)),))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in clinic_resources(clinic):
        assert resource_problems(resource) == []
        by_type.setdefault(resource["resourceType"], []).append(resource)
    return by_type


def test_a_discharged_episode_exports_its_condition_resolved_and_goals_completed() -> None:
    found = _closed("goals met: back at work")
    (condition,) = found["Condition"]
    assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert condition["abatementDateTime"] == "2025-06-01"
    assert {g["lifecycleStatus"] for g in found["Goal"]} == {"completed"}
    assert found["CarePlan"][0]["status"] == "completed"
    assert found["EpisodeOfCare"][0]["status"] == "finished"


@pytest.mark.parametrize("reason", ["lost to follow-up", "referred to orthopaedics", "moved away"])
def test_an_episode_closed_otherwise_claims_nothing_resolved_or_achieved(reason: str) -> None:
    found = _closed(reason)
    (condition,) = found["Condition"]
    assert "clinicalStatus" not in condition and "abatementDateTime" not in condition
    assert {g["lifecycleStatus"] for g in found["Goal"]} == {"cancelled"}
    assert found["CarePlan"][0]["status"] == "revoked"
    assert found["EpisodeOfCare"][0]["status"] == "finished"  # the episode did end
    # and it still reads back: closing date and reason travel as before
    plan = plan_import(make_bundle([r for rs in found.values() for r in rs]))
    assert plan.errors == []
    (episode,) = plan.clinics[0].patients[0].episodes
    assert (episode.closed_on, episode.close_reason) == (dt.date(2025, 6, 1), reason)


def test_only_goals_met_says_the_condition_resolved() -> None:
    assert closing_resolves("goals_met", "goals met: back at work")
    assert not any(
        closing_resolves(code, "x")
        for code in ("plateau", "referred_on", "patients_choice", "lost_to_follow_up")
    )
    # without a code (another system's words): "goals met …" or "discharged …"
    assert closing_resolves(None, "Goals met") and closing_resolves(None, " Discharged — pain free")
    assert not closing_resolves(None, "lost to follow-up") and not closing_resolves(None, None)


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "GET"])
def test_unsupported_interactions_are_named_and_refuse_the_bundle(method: str) -> None:
    bundle = make_bundle(list(clinic_resources(example_clinic())), "transaction")
    bundle["entry"][0]["request"] = {"method": method, "url": "Patient/x"}
    plan = plan_import(bundle)
    assert any(f"{method} is not supported" in p.message for p in plan.errors)


@pytest.mark.parametrize("method", ["DELETE", "GET", "PATCH"])
def test_an_entry_without_a_resource_is_named_by_its_method(method: str) -> None:
    # FHIR writes a DELETE (or a read) as a request alone, with no resource
    bundle = make_bundle(list(clinic_resources(example_clinic())), "transaction")
    bundle["entry"].append({"request": {"method": method, "url": "Patient/x"}})
    plan = plan_import(bundle)
    messages = [p.message for p in plan.errors]
    assert any(f"{method} is not supported" in m for m in messages)
    assert not any("has no resource" in m for m in messages)


def test_two_clinics_patients_with_the_same_code_never_share_an_identifier(tmp_path: Path) -> None:
    from strigil.services.bulk_exchange import export_bulk, import_bulk
    from strigil.services.exchange import write_plan
    from strigil.store.database import open_database

    folders = []
    for name in ("a", "b"):  # two servers, each with clinic "north" and patient P-0001
        database = open_database(f"sqlite:///{tmp_path / (name + '.sqlite')}")
        with database.unit_of_work() as db:
            write_plan(db, plan_import(make_bundle(list(clinic_resources(example_clinic())))))
        with database.unit_of_work() as db:
            export_bulk(db, "north", tmp_path / name)
        database.dispose()
        folders.append(tmp_path / name)
    identifiers = [
        {
            (i["system"], i["value"])
            for line in (f / "Patient.ndjson").read_bytes().splitlines()
            for i in json.loads(line)["identifier"]
        }
        for f in folders
    ]
    assert identifiers[0] and not identifiers[0] & identifiers[1]
    ((system, value),) = identifiers[0]
    assert value == "P-0001" and "/clinic/" in system
    # and a scoped export still reads back as Strigil's own
    target = open_database(f"sqlite:///{tmp_path / 'target.sqlite'}")
    with target.unit_of_work() as db:
        report, _ = import_bulk(db, folders[0])
    assert report.patients_created == 1 and report.sessions_created == 1
    target.dispose()


def test_what_a_measurement_measured_travels_with_it() -> None:
    from strigil.clinical.session import Measurement
    from strigil.interop.dossier import DatedMeasurement

    clinic = example_clinic()
    patient = clinic.patients[0]
    extra = (
        DatedMeasurement(
            dt.date(2025, 3, 10),
            Measurement(
                measure="rom_deg", value=140, timing="between", joint="elbow", motion="flexion", side="right"
            ),
        ),
        DatedMeasurement(
            dt.date(2025, 3, 10),
            Measurement(measure="psfs", value=4, timing="between", activity="lifting the kettle"),
        ),
    )
    episode = dataclasses.replace(patient.episodes[0], measurements=patient.episodes[0].measurements + extra)
    clinic = dataclasses.replace(clinic, patients=(dataclasses.replace(patient, episodes=(episode,)),))
    resources = list(clinic_resources(clinic))
    assert all(resource_problems(r) == [] for r in resources)
    plan = plan_import(make_bundle(resources))
    assert plan.errors == []
    (back,) = plan.clinics[0].patients[0].episodes
    read = {m.measurement.measure: m.measurement for m in back.measurements}
    assert (read["rom_deg"].joint, read["rom_deg"].motion, read["rom_deg"].side) == (
        "elbow",
        "flexion",
        "right",
    )
    assert read["psfs"].activity == "lifting the kettle" and read["nprs"].joint is None
