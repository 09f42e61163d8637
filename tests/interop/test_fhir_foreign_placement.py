"""Another EMR's records placed right: the patient by an identifier this clinic knows (never by a foreign
resource id), the measurement in the episode of the condition its context names, once only; or refused with
the reason. Hand-written bundles as another system would send them (`bundles/other_ehr_elbow_visit.json`:
a Patient with an MRN, Condition, Encounter, an Observation with LOINC 72514-3, a Procedure)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fhir_strategies import bundle_of, example_clinic
from sqlalchemy import func, select

from strigil.interop.from_fhir import plan_import
from strigil.services.errors import Refused
from strigil.services.exchange import ImportReport, write_plan
from strigil.services.patients import add_patient
from strigil.store.database import Database
from strigil.store.record import ClinicRow, EpisodeRow, MeasurementRow, PatientIdentifierRow, PatientRow

BUNDLE = Path(__file__).parent / "bundles" / "other_ehr_elbow_visit.json"


@pytest.fixture
def clinic(db: Database) -> Database:
    """Clinic "north": P-0001 (elbow episode open from 2025-03-01) and P-0002 (no episode), and clinic
    "south" with a patient coded P-0002 too."""
    with db.unit_of_work() as s:
        write_plan(s, plan_import(bundle_of(example_clinic())))
        north = s.scalar(select(ClinicRow.id).where(ClinicRow.code == "north"))
        add_patient(s, north, {"code": "P-0002", "birth_year": 1950, "sex": "male"})
    return db


def _bundle() -> dict[str, Any]:
    return json.loads(BUNDLE.read_text(encoding="utf-8"))


def _import(db: Database, bundle: dict[str, Any], **options: Any) -> ImportReport:
    plan = plan_import(bundle)
    assert plan.errors == []
    with db.unit_of_work() as s:
        return write_plan(s, plan, clinic_code="north", **options)


def _nprs_of(db: Database, code: str) -> list[float]:
    with db.unit_of_work() as s:
        return list(
            s.scalars(
                select(MeasurementRow.value)
                .join(EpisodeRow, EpisodeRow.id == MeasurementRow.episode_id)
                .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
                .where(PatientRow.code == code, MeasurementRow.measure == "nprs", MeasurementRow.value == 5)
            )
        )


def _count(db: Database, table: Any) -> int:
    with db.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_the_pain_score_joins_the_named_patients_episode_of_that_condition_once(clinic: Database) -> None:
    report = _import(clinic, _bundle(), patient_code="P-0001")
    assert report.measurements_created == 1 and report.not_placed == []
    assert _nprs_of(clinic, "P-0001") == [5.0]
    # the MRN is kept: the next import finds the same patient by it, and adds nothing
    with clinic.unit_of_work() as s:
        assert s.scalar(select(PatientIdentifierRow.value)) == "MRN-55031"
    again = _import(clinic, _bundle())
    assert again.measurements_created == 0 and again.patients_created == 0
    assert len(again.already_present) == 1 and "imported before" in again.already_present[0]
    assert _nprs_of(clinic, "P-0001") == [5.0]


def test_a_foreign_id_that_equals_a_patient_code_attaches_nothing_to_that_patient(clinic: Database) -> None:
    patients = _count(clinic, PatientRow)
    report = _import(clinic, _bundle())  # Patient.id "P-0002" is this clinic's P-0002's code
    assert _nprs_of(clinic, "P-0002") == []
    # an unknown person becomes a new patient keeping the MRN; the score has no episode there: refused
    assert report.patients_created == 1 and _count(clinic, PatientRow) == patients + 1
    assert report.measurements_created == 0
    (reason,) = report.not_placed
    assert "no episode of lateral_elbow_tendinopathy" in reason and "never opens an episode" in reason
    with clinic.unit_of_work() as s:
        owner = s.scalar(
            select(PatientRow.code).join(
                PatientIdentifierRow, PatientIdentifierRow.patient_id == PatientRow.id
            )
        )
    assert owner is not None and owner.startswith("EXT-")


def test_match_only_refuses_instead_of_creating(clinic: Database) -> None:
    patients = _count(clinic, PatientRow)
    report = _import(clinic, _bundle(), match_only=True)
    assert _count(clinic, PatientRow) == patients and report.measurements_created == 0
    assert "--match-only creates none" in report.not_placed[0] and "MRN-55031" in report.not_placed[0]


def test_identifiers_that_name_another_patient_refuse_the_whole_bundle(clinic: Database) -> None:
    _import(clinic, _bundle(), patient_code="P-0001")
    before = _count(clinic, MeasurementRow)
    changed = _bundle()
    changed["entry"][3]["resource"]["identifier"][0]["value"] = "78"  # a new score, same MRN
    with pytest.raises(Refused, match="another patient"):
        _import(clinic, changed, patient_code="P-0002")
    assert _count(clinic, MeasurementRow) == before


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda b: b["entry"][3]["resource"].pop("encounter"), "names no Condition"),
        (lambda b: b["entry"][1]["resource"]["code"]["coding"].pop(1), "not one Strigil can map"),
        (
            lambda b: b["entry"][1]["resource"]["code"]["coding"].__setitem__(
                1, {"system": "https://strigil.dev/fhir/CodeSystem/condition", "code": "plantar_heel_pain"}
            ),
            "no episode of plantar_heel_pain",
        ),
        (
            lambda b: b["entry"][3]["resource"].__setitem__("effectiveDateTime", "2025-02-01"),
            "open on 2025-02-01",
        ),
        (
            lambda b: (b["entry"][3]["resource"].pop("identifier"), b["entry"][3].pop("fullUrl")),
            "no identifier and no absolute fullUrl",
        ),
    ],
)
def test_a_score_that_cannot_be_placed_is_refused_with_the_reason(
    clinic: Database, edit: Any, reason: str
) -> None:
    bundle = copy.deepcopy(_bundle())
    edit(bundle)
    before = _count(clinic, MeasurementRow)
    report = _import(clinic, bundle, patient_code="P-0001")
    assert report.measurements_created == 0 and _count(clinic, MeasurementRow) == before
    (message,) = report.not_placed
    assert reason in message and "Observation/pain-77" in message


def test_what_is_not_imported_is_reported_element_by_element() -> None:
    plan = plan_import(_bundle())
    reported = {p.where: p.message for p in plan.not_understood}
    assert set(reported) == {"Patient/P-0002", "Condition/dx-elbow", "Encounter/visit-7", "Procedure/proc-7"}
    assert "context" in reported["Encounter/visit-7"]
    (foreign,) = plan.foreign_measurements
    assert foreign.condition == "lateral_elbow_tendinopathy"
    assert foreign.patient_identifiers == (("https://ehr.example.org/mrn", "MRN-55031"),)
    assert foreign.source_id == "https://ehr.example.org/observations|77"
