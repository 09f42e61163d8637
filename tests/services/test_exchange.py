"""Import writes through the record's services in one transaction; export reads back the same record."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import pytest
from fhir_strategies import bundle_of, clinics, example_clinic, unkeyed
from hypothesis import HealthCheck, assume, given, settings
from sqlalchemy import func, select

from strigil.interop.dossier import ClinicDossier
from strigil.interop.from_fhir import plan_import
from strigil.interop.systems import code_system_url
from strigil.services.decision_support import exercise_first_problem
from strigil.services.errors import RecordError
from strigil.services.exchange import read_clinic, write_plan, write_plan_bulk
from strigil.store.database import Database, open_database
from strigil.store.record import EpisodeRow, MeasurementRow, PatientRow, SessionRow

BUNDLES = Path(__file__).parents[1] / "interop" / "bundles"


def _counts(database: Database) -> tuple[int, ...]:
    with database.unit_of_work() as db:
        return tuple(
            db.scalar(select(func.count()).select_from(t)) or 0
            for t in (PatientRow, EpisodeRow, SessionRow, MeasurementRow)
        )


def test_imported_bundle_reads_back_as_the_same_record(database: Database) -> None:
    with database.unit_of_work() as db:
        report = write_plan(db, plan_import(bundle_of(example_clinic())))
    assert (report.patients_created, report.episodes_created, report.sessions_created) == (1, 1, 1)
    with database.unit_of_work() as db:
        stored = read_clinic(db, "north")
    assert unkeyed(stored) == unkeyed(example_clinic())
    # and the stored record exports to a bundle that imports to the same meaning again
    assert unkeyed(plan_import(bundle_of(stored)).clinics[0]) == unkeyed(example_clinic())


def test_importing_the_same_bundle_twice_adds_nothing(database: Database) -> None:
    bundle = bundle_of(example_clinic())
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle))
    before = _counts(database)
    with database.unit_of_work() as db:
        report = write_plan(db, plan_import(bundle))
    assert _counts(database) == before
    assert report.episodes_created == 0 and len(report.already_present) == 1


def test_a_refused_record_rolls_the_whole_import_back(database: Database) -> None:
    clinic = example_clinic()
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle_of(clinic)))
    before = _counts(database)
    # a new patient first (would be written), then P-0001 again with another birth year (refused)
    first = clinic.patients[0]
    newcomer = dataclasses.replace(
        first,
        patient=first.patient.model_copy(update={"code": "P-0002"}),
        episodes=tuple(dataclasses.replace(e, key="2") for e in first.episodes),
    )
    clash = dataclasses.replace(
        clinic.patients[0], patient=clinic.patients[0].patient.model_copy(update={"birth_year": 1990})
    )
    bundle = bundle_of(dataclasses.replace(clinic, patients=(newcomer, clash)))
    with pytest.raises(RecordError, match="P-0001"), database.unit_of_work() as db:
        write_plan(db, plan_import(bundle))
    assert _counts(database) == before


def test_pain_scores_from_another_system_join_the_episode_of_their_condition(database: Database) -> None:
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle_of(example_clinic())))
    before = _counts(database)
    document = json.loads((BUNDLES / "other_ehr_pain_scores.json").read_text(encoding="utf-8"))
    with database.unit_of_work() as db:
        unplaced = write_plan(db, plan_import(document), clinic_code="north", patient_code="P-0001")
    # no Condition says which episode: refused with the reason, nothing written (no patient either)
    assert unplaced.measurements_created == 0 and len(unplaced.not_placed) == 2
    assert all("names no Condition" in reason for reason in unplaced.not_placed)
    assert _counts(database) == before
    # the same scores focused on a lateral elbow tendinopathy: P-0001's elbow episode, open on those days
    document["entry"].append(
        {
            "fullUrl": "https://ehr.example.org/fhir/Condition/elbow",
            "resource": {
                "resourceType": "Condition",
                "id": "elbow",
                "code": {
                    "coding": [{"system": code_system_url("condition"), "code": "lateral_elbow_tendinopathy"}]
                },
                "subject": {"reference": "Patient/88123"},
            },
        }
    )
    for entry in document["entry"]:
        if entry["resource"]["resourceType"] == "Observation":
            entry["resource"]["focus"] = [{"reference": "Condition/elbow"}]
    with database.unit_of_work() as db:
        placed = write_plan(db, plan_import(document), clinic_code="north", patient_code="P-0001")
    assert placed.measurements_created == 2
    assert _counts(database)[3] == before[3] + 2
    with database.unit_of_work() as db:
        episode = read_clinic(db, "north").patients[0].episodes[0]
    values = [
        (m.taken_on.isoformat(), m.measurement.value, m.measurement.timing) for m in episode.measurements
    ]
    assert values == [
        ("2025-03-10", 3.0, "between"),
        ("2025-03-03", 7.0, "between"),
        ("2025-03-10", 4.0, "between"),
    ]
    # a second import adds nothing: the scores are known by their source (the sender's full URLs)
    with database.unit_of_work() as db:
        again = write_plan(db, plan_import(document), clinic_code="north")  # found by the MRN now
    assert again.measurements_created == 0 and len(again.already_present) == 2


def test_bulk_import_reads_back_as_the_same_record(database: Database) -> None:
    with database.unit_of_work() as db:
        report = write_plan_bulk(db, plan_import(bundle_of(example_clinic())))
    assert (report.patients_created, report.sessions_created, report.measurements_created) == (1, 1, 3)
    with database.unit_of_work() as db:
        assert unkeyed(read_clinic(db, "north")) == unkeyed(example_clinic())
    # ordinary writes after explicit ids still get fresh ids (PostgreSQL sequences moved on)
    clinic = example_clinic()
    other = dataclasses.replace(
        clinic.patients[0], patient=clinic.patients[0].patient.model_copy(update={"code": "P-0009"})
    )
    with database.unit_of_work() as db:
        assert (
            write_plan(
                db, plan_import(bundle_of(dataclasses.replace(clinic, patients=(other,))))
            ).sessions_created
            == 1
        )


def test_bulk_import_refuses_known_patients_and_writes_nothing(database: Database) -> None:
    bundle = bundle_of(example_clinic())
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle))
    before = _counts(database)
    with pytest.raises(RecordError, match="new patients only"), database.unit_of_work() as db:
        write_plan_bulk(db, plan_import(bundle))
    assert _counts(database) == before


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(dossier=clinics(max_patients=2))
def test_generated_clinics_survive_bundle_store_and_back(dossier: ClinicDossier, tmp_path: Path) -> None:
    episodes = [e.plan for p in dossier.patients for e in p.episodes]
    assume(
        all(
            exercise_first_problem(e.planned_iastm, list(e.planned_co_interventions), e.exercise_first_reason)
            is None
            for e in episodes
        )
    )
    database = open_database(f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.sqlite'}")
    try:
        with database.unit_of_work() as db:
            write_plan_bulk(db, plan_import(bundle_of(dossier)))
        with database.unit_of_work() as db:
            stored = read_clinic(db, dossier.clinic.code)
    finally:
        database.dispose()
    assert unkeyed(stored) == unkeyed(dossier)
