"""The FHIR API routes: clinicians of the patient's own clinic only, audited, all-or-nothing imports."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fhir_strategies import bundle_of, example_clinic
from sqlalchemy import func, select

from strigil.interop.from_fhir import plan_import
from strigil.interop.r4 import resource_problems
from strigil.services import accounts
from strigil.services.clinics import ensure_clinic
from strigil.services.exchange import write_plan
from strigil.settings import Settings
from strigil.store.audit import AuditEvent
from strigil.store.database import Database, open_database
from strigil.store.record import MeasurementRow, PatientRow
from strigil.web.routes.fhir import router

with warnings.catch_warnings():
    # as web's tests: Starlette prefers the httpx2 fork for its test client; httpx still works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

BUNDLES = Path(__file__).parent / "bundles"
PASSWORD = "correct horse battery staple 42"


@dataclass
class Site:
    database: Database
    client: TestClient
    tokens: dict[str, str]

    def get(self, who: str, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.client.get(path, headers=headers)

    def post(self, who: str, path: str, body: Any) -> Any:
        return self.client.post(path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def count(self, table: Any, **where: Any) -> int:
        with self.database.unit_of_work() as db:
            query = select(func.count()).select_from(table)
            for name, value in where.items():
                query = query.where(getattr(table, name) == value)
            return db.scalar(query) or 0


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from strigil.web.app import create_app

    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    url = f"sqlite:///{tmp_path / 'web.sqlite'}"
    database = open_database(url)
    tokens = {}
    with database.unit_of_work() as db:
        write_plan(db, plan_import(bundle_of(example_clinic())))  # clinic "north", id 1
        south = ensure_clinic(db, "south", "South Clinic")
        for who, role, clinic_id in (
            ("clinician", "clinician", 1),
            ("researcher", "researcher", 1),
            ("other", "clinician", south.id),
        ):
            account = accounts.create_account(
                db, username=who, display_name=who, role=role, clinic_id=clinic_id, password=PASSWORD
            )
            tokens[who] = accounts.issue_api_token(db, account, "test", ["read", "write"]).secret
    app = create_app(Settings(database_url=url))
    app.include_router(router)
    with TestClient(app, base_url="http://testserver") as client:
        yield Site(database, client, tokens)
    database.dispose()


def test_everything_returns_the_patients_record_as_a_valid_searchset(site: Site) -> None:
    answer = site.get("clinician", "/api/v1/fhir/Patient/patient-P-0001/$everything")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/fhir+json")
    bundle = answer.json()
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    resources = [e["resource"] for e in bundle["entry"]]
    assert all(resource_problems(r) == [] for r in resources)
    assert sum(r["resourceType"] == "Procedure" for r in resources) == 1
    assert site.count(AuditEvent, action="export", resource="fhir_patient") == 1


@pytest.mark.parametrize(("who", "status"), [("researcher", 403), ("other", 404), ("", 401)])
def test_everything_is_for_the_patients_own_clinicians_only(site: Site, who: str, status: int) -> None:
    answer = site.get(who, "/api/v1/fhir/Patient/P-0001/$everything")
    assert answer.status_code == status
    assert "P-0001" not in json.dumps(answer.json()).replace("no patient 'P-0001'", "")


def test_posted_pain_scores_join_the_named_patient(site: Site) -> None:
    bundle = json.loads((BUNDLES / "other_ehr_pain_scores.json").read_text(encoding="utf-8"))
    before = site.count(MeasurementRow)
    answer = site.post("clinician", "/api/v1/fhir?patient=P-0001", bundle)
    assert answer.status_code == 200, answer.text
    assert answer.json()["measurements_created"] == 2
    assert len(answer.json()["not_understood"]) == 4
    assert site.count(MeasurementRow) == before + 2
    assert site.count(AuditEvent, action="create", resource="fhir_bundle") == 1


def test_a_malformed_posted_bundle_writes_nothing_and_says_why(site: Site) -> None:
    bundle = bundle_of(example_clinic())
    next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")["resource"][
        "status"
    ] = "x y"
    before = (site.count(PatientRow), site.count(MeasurementRow))
    answer = site.post("clinician", "/api/v1/fhir", bundle)
    assert answer.status_code == 422
    assert any("status" in d["field"] for d in answer.json()["detail"])
    assert (site.count(PatientRow), site.count(MeasurementRow)) == before
    assert site.count(AuditEvent, action="denied", resource="fhir_bundle") == 1


def test_a_bundle_naming_another_clinic_lands_in_the_callers_clinic(site: Site) -> None:
    clinic = example_clinic()
    patient = clinic.patients[0]
    moved = clinic.__class__(
        clinic.clinic.model_copy(update={"code": "south"}),
        clinic.clinicians,
        (patient.__class__(patient.patient.model_copy(update={"code": "P-0100"}), patient.episodes),),
    )
    answer = site.post("clinician", "/api/v1/fhir", bundle_of(moved))
    assert answer.status_code == 200, answer.text
    assert site.count(PatientRow, code="P-0100", clinic_id=1) == 1
    assert site.count(PatientRow, clinic_id=2) == 0


def test_researchers_may_not_post(site: Site) -> None:
    answer = site.post("researcher", "/api/v1/fhir", bundle_of(example_clinic()))
    assert answer.status_code == 403
