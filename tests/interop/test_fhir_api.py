"""The FHIR API routes: clinicians of the patient's own clinic only, audited, all-or-nothing imports."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fhir_strategies import bundle_of, example_clinic
from foreign_visits import another_visit
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


def test_posted_pain_scores_without_a_condition_are_refused_with_the_reason(site: Site) -> None:
    bundle = json.loads((BUNDLES / "other_ehr_pain_scores.json").read_text(encoding="utf-8"))
    before = site.count(MeasurementRow)
    answer = site.post("clinician", "/api/v1/fhir?patient=P-0001", bundle)
    assert answer.status_code == 200, answer.text
    assert answer.json()["measurements_created"] == 0
    assert all("names no Condition" in reason for reason in answer.json()["not_placed"])
    assert len(answer.json()["not_placed"]) == 2 and len(answer.json()["not_understood"]) == 4
    assert site.count(MeasurementRow) == before
    assert site.count(AuditEvent, action="create", resource="fhir_bundle") == 1


def test_a_posted_visit_joins_the_named_patients_episode_once(site: Site) -> None:
    bundle = json.loads((BUNDLES / "other_ehr_elbow_visit.json").read_text(encoding="utf-8"))
    before = site.count(MeasurementRow)
    answer = site.post("clinician", "/api/v1/fhir?patient=P-0001", bundle)
    assert answer.status_code == 200, answer.text
    assert answer.json()["measurements_created"] == 1
    assert site.count(AuditEvent, resource="fhir_bundle", patient_id=1) == 1  # the row names the patient
    again = site.post("clinician", "/api/v1/fhir", bundle)  # found by its MRN now; imported before
    assert again.json()["measurements_created"] == 0 and len(again.json()["already_present"]) == 1
    assert site.count(MeasurementRow) == before + 1


def test_a_malformed_posted_bundle_writes_nothing_and_says_why(site: Site) -> None:
    bundle = bundle_of(example_clinic())
    next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")["resource"][
        "status"
    ] = "x y"
    before = (site.count(PatientRow), site.count(MeasurementRow))
    answer = site.post("clinician", "/api/v1/fhir", bundle)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/fhir+json")
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome" and resource_problems(outcome) == []
    assert any("status" in issue["expression"][0] for issue in outcome["issue"])
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


# ---- Bulk Data export: kick-off, status, download, delete -------------------------------------------------


def _kick_off(site: Site, who: str, query: str = "", prefer: bool = True) -> Any:
    headers = {"Authorization": f"Bearer {site.tokens[who]}"}
    if prefer:
        headers["Prefer"] = "respond-async"
    return site.client.get(f"/api/v1/fhir/$export{query}", headers=headers)


def _finished(site: Site, who: str, status_url: str) -> Any:
    import time

    for _ in range(200):
        answer = site.get(who, status_url)
        if answer.status_code != 202:
            return answer
        assert answer.headers["X-Progress"]
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


@pytest.fixture
def bulk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STRIGIL_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "bulk"


def test_a_bulk_export_runs_asynchronously_and_is_audited_per_patient(site: Site, bulk_home: Path) -> None:
    from strigil.clinical.public_ids import is_public_id

    kick = _kick_off(site, "clinician")
    assert kick.status_code == 202, kick.text
    status_url = kick.headers["Content-Location"].removeprefix("http://testserver")
    done = _finished(site, "clinician", status_url)
    assert done.status_code == 200, done.text
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True and manifest["transactionTime"]
    outputs = {o["type"]: o for o in manifest["output"]}
    assert {"Patient", "Procedure", "Observation", "EpisodeOfCare"} <= set(outputs)
    patients_file = site.get("clinician", outputs["Patient"]["url"].removeprefix("http://testserver"))
    assert patients_file.status_code == 200
    assert patients_file.headers["content-type"].startswith("application/fhir+ndjson")
    lines = [json.loads(line) for line in patients_file.text.splitlines()]
    assert len(lines) == outputs["Patient"]["count"] == site.count(PatientRow, clinic_id=1)
    assert all(is_public_id(p["id"]) for p in lines)
    # one row for the kick-off, one for the job, one per patient exported, one per download
    assert site.count(AuditEvent, resource="fhir_bulk") == 3 + len(lines)
    # $everything names the patient by the same public id
    everything = site.get("clinician", f"/api/v1/fhir/Patient/{lines[0]['id']}/$everything")
    assert everything.status_code == 200
    # removed: gone for good
    gone = site.client.delete(status_url, headers={"Authorization": f"Bearer {site.tokens['clinician']}"})
    assert gone.status_code == 202 and site.get("clinician", status_url).status_code == 404
    assert not any(bulk_home.glob("*/*.ndjson"))


def test_a_bulk_export_is_the_callers_own(site: Site, bulk_home: Path) -> None:
    status_url = _kick_off(site, "clinician").headers["Content-Location"].removeprefix("http://testserver")
    _finished(site, "clinician", status_url)
    assert site.get("other", status_url).status_code == 404  # another clinic's clinician
    assert site.get("other", status_url + "/Patient.ndjson").status_code == 404
    assert site.get("clinician", status_url + "/job.json").status_code == 404  # only listed files
    assert _kick_off(site, "researcher").status_code == 403
    assert site.get("", status_url).status_code == 401


@pytest.mark.parametrize(
    ("query", "prefer", "message"),
    [
        ("", False, "Prefer: respond-async"),
        ("?_type=Patient,Nonsense", True, "Nonsense"),
        ("?_type=Patient' OR '1'='1", True, "not a FHIR R4 resource type"),
        ("?_since=yesterday", True, "FHIR instant"),
        ("?_since=2026-01-01'; DROP TABLE patients;--", True, "FHIR instant"),
        ("?_outputFormat=text/csv", True, "not offered"),
    ],
)
def test_a_bad_kick_off_answers_an_operation_outcome(
    site: Site, bulk_home: Path, query: str, prefer: bool, message: str
) -> None:
    answer = _kick_off(site, "clinician", query, prefer=prefer)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/fhir+json")
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome" and message in outcome["issue"][0]["diagnostics"]
    assert resource_problems(outcome) == []
    assert site.count(PatientRow) == 1 and not any(bulk_home.glob("*"))  # nothing ran, nothing changed


def test_type_and_since_narrow_a_bulk_export(site: Site, bulk_home: Path) -> None:
    kick = _kick_off(site, "clinician", "?_type=Patient,Observation&_since=2000-01-01T00:00:00Z")
    manifest = _finished(
        site, "clinician", kick.headers["Content-Location"].removeprefix("http://testserver")
    )
    assert {o["type"] for o in manifest.json()["output"]} == {"Patient", "Observation"}
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat().replace("+00:00", "Z")
    kick = _kick_off(site, "clinician", f"?_since={future}")
    manifest = _finished(
        site, "clinician", kick.headers["Content-Location"].removeprefix("http://testserver")
    )
    assert {o["type"] for o in manifest.json()["output"]} <= {"Organization", "Practitioner"}


def test_a_finished_export_says_when_it_expires_and_then_is_gone(
    site: Site, bulk_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from email.utils import parsedate_to_datetime

    from strigil.services import bulk_jobs

    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(bulk_jobs, "clock", lambda: start)
    status_url = _kick_off(site, "clinician").headers["Content-Location"].removeprefix("http://testserver")
    done = _finished(site, "clinician", status_url)
    assert done.status_code == 200
    # the Bulk Data IG's Expires header: the default keeps the files 24 hours after the job finished
    assert parsedate_to_datetime(done.headers["Expires"]) == start + dt.timedelta(hours=24)
    file_url = done.json()["output"][0]["url"].removeprefix("http://testserver")
    monkeypatch.setattr(bulk_jobs, "clock", lambda: start + dt.timedelta(hours=23, minutes=59))
    assert site.get("clinician", status_url).status_code == 200  # not yet
    assert site.count(AuditEvent, action="delete", resource="fhir_bulk") == 0
    monkeypatch.setattr(bulk_jobs, "clock", lambda: start + dt.timedelta(hours=24))
    gone = site.get("clinician", status_url)  # expired: unknown, as after a DELETE
    assert gone.status_code == 404 and gone.json()["resourceType"] == "OperationOutcome"
    assert gone.headers["content-type"].startswith("application/fhir+json")
    assert site.get("clinician", file_url).status_code == 404
    assert not any(bulk_home.iterdir())  # the files are gone
    with site.database.unit_of_work() as db:
        expired = db.scalars(select(AuditEvent).where(AuditEvent.action == "delete")).all()
        assert [(e.resource, e.channel, e.clinic_id) for e in expired] == [("fhir_bulk", "system", 1)]
        assert expired[0].detail.startswith("expired at 2026-12-02T09:00:00")


def test_expiry_spares_running_and_unexpired_jobs_and_runs_at_server_start(
    tmp_path: Path, bulk_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strigil.services import bulk_jobs
    from strigil.web.app import create_app

    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(bulk_jobs, "clock", lambda: now)
    finished = {"status": "complete", "finished_at": (now - dt.timedelta(hours=2)).isoformat()}
    jobs = {
        "running": {"status": "in-progress"},
        "fresh": finished,
        "stale": {**finished, "expires_at": (now - dt.timedelta(minutes=1)).isoformat()},
        "failed": {"status": "error", "finished_at": (now - dt.timedelta(hours=30)).isoformat()},
    }
    ids = {}
    for name, fields in jobs.items():
        job = bulk_jobs.BulkJob(
            id=new_id(), clinic_id=1, account_id=None, username="ana", request="", **fields
        )
        (bulk_home / job.id).mkdir(parents=True)
        (bulk_home / job.id / bulk_jobs.JOB_FILE).write_text(json.dumps(job.__dict__), encoding="utf-8")
        ids[name] = job.id
    url = f"sqlite:///{tmp_path / 'start.sqlite'}"
    database = open_database(url)
    monkeypatch.setenv("STRIGIL_BULK_EXPIRY_HOURS", "3")  # the setting: "fresh" (2 h old) stays
    with TestClient(create_app(Settings(database_url=url))):
        pass  # the server starts (and stops): the sweep ran once
    assert sorted(p.name for p in bulk_home.iterdir()) == sorted([ids["running"], ids["fresh"]])
    with database.unit_of_work() as db:
        removed = set(db.scalars(select(AuditEvent.resource_id).where(AuditEvent.action == "delete")))
    assert removed == {ids["stale"], ids["failed"]}
    database.dispose()


def new_id() -> str:
    from strigil.clinical.public_ids import new_public_id

    return new_public_id()


@pytest.mark.parametrize("media_type", ["application/json", "application/fhir+json"])
def test_a_posted_body_nested_too_deep_is_refused_not_a_crash(site: Site, media_type: str) -> None:
    nested = b"[" * 50_000 + b"]" * 50_000
    deep = b'{"resourceType": "Bundle", "type": "collection", "entry": ' + nested + b"}"
    answer = site.client.post(
        "/api/v1/fhir",
        content=deep,
        headers={"Authorization": f"Bearer {site.tokens['clinician']}", "Content-Type": media_type},
    )
    assert 400 <= answer.status_code < 500, answer.text[:300]
    assert site.count(PatientRow) == 1


def _as(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    """The bundle as a transaction or batch: every entry a PUT of its resource."""
    sent = json.loads(json.dumps(bundle))
    sent["type"] = kind
    for entry in sent["entry"]:
        resource = entry["resource"]
        entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    return sent


def _post_fhir(site: Site, body: Any, query: str = "") -> Any:
    headers = {"Authorization": f"Bearer {site.tokens['clinician']}", "Content-Type": "application/fhir+json"}
    return site.client.post(f"/api/v1/fhir{query}", content=json.dumps(body), headers=headers)


def _statuses(answer: Any) -> list[str]:
    return [e["response"]["status"] for e in answer.json()["entry"]]


def test_a_fhir_client_gets_a_batch_response_saying_what_became_of_each_entry(site: Site) -> None:
    bundle = _as(json.loads((BUNDLES / "other_ehr_elbow_visit.json").read_text(encoding="utf-8")), "batch")
    answer = _post_fhir(site, bundle, "?patient=P-0001")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    response = answer.json()
    assert response["resourceType"] == "Bundle" and response["type"] == "batch-response"
    assert resource_problems(response) == []
    # Patient (named by ?patient=), Condition and Encounter read as context, the Observation placed, and the
    # Procedure — another system's, never stored — says so instead of "200 OK"
    assert _statuses(answer) == ["200 OK", "200 OK", "200 OK", "201 Created", "422 Unprocessable Entity"]
    entries = [e["response"] for e in response["entry"]]
    assert entries[0]["location"].startswith("Patient/") and entries[3]["location"].startswith("Observation/")
    assert "not stored" in entries[4]["outcome"]["issue"][0]["diagnostics"]
    again = _post_fhir(site, bundle, "?patient=P-0001")  # the same score again: already there
    assert _statuses(again)[3] == "200 OK"
    assert "imported before" in again.json()["entry"][3]["response"]["outcome"]["issue"][0]["diagnostics"]


def test_a_transaction_is_all_or_nothing(site: Site) -> None:
    visit = json.loads((BUNDLES / "other_ehr_elbow_visit.json").read_text(encoding="utf-8"))
    before = (site.count(PatientRow), site.count(MeasurementRow))
    # the Procedure cannot be stored, so nothing is: not even the Observation that could be placed
    answer = _post_fhir(site, _as(visit, "transaction"), "?patient=P-0001")
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome" and resource_problems(outcome) == []
    assert [i["expression"] for i in outcome["issue"]] == [["Procedure/proc-7"]]
    assert (site.count(PatientRow), site.count(MeasurementRow)) == before
    # without the Procedure every action can be done: 200 with a transaction-response
    visit["entry"] = [e for e in visit["entry"] if e["resource"]["resourceType"] != "Procedure"]
    answer = _post_fhir(site, _as(visit, "transaction"), "?patient=P-0001")
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "transaction-response"
    assert _statuses(answer) == ["200 OK", "200 OK", "200 OK", "201 Created"]
    assert site.count(MeasurementRow) == before[1] + 1


def test_a_bundle_read_in_parts_answers_entry_by_entry_and_stays_all_or_nothing(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strigil.interop import bundle_stream

    monkeypatch.setattr(bundle_stream, "PART_BYTES", 1)  # a part per patient's visit
    parts: list[list[int]] = []
    cut = bundle_stream.SpooledBundle.parts

    def counted(self: bundle_stream.SpooledBundle, part_bytes: int) -> Iterator[bundle_stream.BundlePart]:
        for part in cut(self, part_bytes):
            parts.append(part.positions)
            yield part

    monkeypatch.setattr(bundle_stream.SpooledBundle, "parts", counted)
    first = json.loads((BUNDLES / "other_ehr_elbow_visit.json").read_text(encoding="utf-8"))
    second = another_visit(first, 8)
    first["entry"] = [e for e in first["entry"] if e["resource"]["resourceType"] != "Procedure"]
    both = {**first, "entry": first["entry"] + second["entry"]}
    before = (site.count(PatientRow), site.count(MeasurementRow))
    # the second visit's Procedure cannot be stored: the first visit's score, written first, is not kept
    answer = _post_fhir(site, _as(both, "transaction"), "?patient=P-0001")
    assert answer.status_code == 422, answer.text
    assert [i["expression"] for i in answer.json()["issue"]] == [["Procedure/proc-108"]]
    assert parts == [[0, 1, 2, 3], [4, 5, 6, 7, 8]]
    assert (site.count(PatientRow), site.count(MeasurementRow)) == before
    # as a batch: one answer per entry, in the bundle's order, across the parts
    answer = _post_fhir(site, _as(both, "batch"), "?patient=P-0001")
    assert answer.status_code == 200, answer.text
    context, placed, refused = "200 OK", "201 Created", "422 Unprocessable Entity"
    assert _statuses(answer) == [context] * 3 + [placed] + [context] * 3 + [placed, refused]
    locations = [e["response"].get("location", "") for e in answer.json()["entry"]]
    assert locations[3].startswith("Observation/") and locations[7].startswith("Observation/")
    assert locations[3] != locations[7]
    assert site.count(MeasurementRow) == before[1] + 2


def test_a_transaction_whose_observation_cannot_be_placed_creates_no_patient(site: Site) -> None:
    visit = json.loads((BUNDLES / "other_ehr_elbow_visit.json").read_text(encoding="utf-8"))
    visit["entry"] = [e for e in visit["entry"] if e["resource"]["resourceType"] != "Procedure"]
    before = (site.count(PatientRow), site.count(MeasurementRow))
    # no ?patient=: the MRN is unknown here, so a new patient would be made, who has no episode open
    answer = _post_fhir(site, _as(visit, "transaction"))
    assert answer.status_code == 422, answer.text
    issues = answer.json()["issue"]
    assert [i["expression"] for i in issues] == [["Observation/pain-77"]]
    assert "no episode" in issues[0]["diagnostics"]
    assert (site.count(PatientRow), site.count(MeasurementRow)) == before  # no EXT-… patient left behind
    # as a batch the same entries say what was really done: a new patient made, the Observation not stored
    answer = _post_fhir(site, _as(visit, "batch"))
    assert answer.status_code == 200, answer.text
    assert _statuses(answer) == ["201 Created", "200 OK", "200 OK", "422 Unprocessable Entity"]
    created = answer.json()["entry"][0]["response"]
    assert "new patient EXT-" in created["outcome"]["issue"][0]["diagnostics"]
    assert site.count(PatientRow) == before[0] + 1


def test_a_strigil_bundle_answers_written_or_already_present_per_entry(site: Site) -> None:
    clinic = example_clinic()
    patient = clinic.patients[0]
    moved = clinic.__class__(
        clinic.clinic,
        clinic.clinicians,
        (patient.__class__(patient.patient.model_copy(update={"code": "P-0200"}), patient.episodes),),
    )
    bundle = _as(bundle_of(moved), "transaction")
    first = _post_fhir(site, bundle)
    assert first.status_code == 200, first.text
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    written = {k for k, s in zip(kinds, _statuses(first), strict=True) if s == "201 Created"}
    assert {"Patient", "EpisodeOfCare", "Procedure", "Observation"} <= written
    assert "Organization" not in written and "Device" not in written  # the clinic and the catalogue exist
    again = _post_fhir(site, bundle)
    assert again.status_code == 200 and set(_statuses(again)) == {"200 OK"}


def test_two_observations_without_ids_are_both_reported(site: Site) -> None:
    visit = json.loads((BUNDLES / "other_ehr_elbow_visit.json").read_text(encoding="utf-8"))
    observation = next(e for e in visit["entry"] if e["resource"]["resourceType"] == "Observation")
    visit["entry"].remove(observation)
    for n, value in ((1, 6), (2, 4)):
        twin = json.loads(json.dumps(observation))
        del twin["resource"]["id"]
        twin["fullUrl"] = f"urn:uuid:00000000-0000-4000-8000-00000000000{n}"
        twin["resource"]["identifier"][0]["value"] = f"pain-no-id-{n}"
        twin["resource"]["valueInteger"] = value
        visit["entry"].append(twin)
    answer = site.post("clinician", "/api/v1/fhir?patient=P-0001", visit)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["measurements_created"] == 2
    assert set(report["placed"]) == {"urn:uuid:00000000-0000-4000-8000-00000000000" + str(n) for n in (1, 2)}


def _raw_post(site: Site, body: bytes, media_type: str = "application/fhir+json") -> Any:
    headers = {"Authorization": f"Bearer {site.tokens['clinician']}", "Content-Type": media_type}
    return site.client.post("/api/v1/fhir", content=body, headers=headers)


def _is_outcome(answer: Any, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/fhir+json")
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome" and resource_problems(outcome) == []
    assert words in " ".join(i["diagnostics"] for i in outcome["issue"]), outcome


def _nested_extensions(depth: int) -> bytes:
    """A Patient whose extension holds an extension … `depth` times (too deep for Python's own json)."""
    inner = b'{"url": "https://example.org/x", "valueString": "x"}'
    extension = b'{"url": "https://example.org/x", "extension": [' * depth + inner + b"]}" * depth
    patient = b'{"resourceType": "Patient", "id": "deep", "extension": [' + extension + b"]}"
    return b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ' + patient + b"}]}"


@pytest.mark.parametrize("media_type", ["application/json", "application/fhir+json"])
def test_an_unreadable_body_gets_the_clis_sentence_as_an_operation_outcome(
    site: Site, media_type: str
) -> None:
    latin1 = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}).encode()
    latin1 = latin1.replace(
        b"[]", '[{"resource": {"resourceType": "Patient", "id": "Zoë"}}]'.encode("latin-1")
    )
    where = latin1.index(b"\xeb")
    _is_outcome(_raw_post(site, latin1, media_type), 400, f"not UTF-8 text (byte {where})")
    _is_outcome(_raw_post(site, b"[" * 100_000 + b"]" * 100_000, media_type), 400, "nested too deep")
    _is_outcome(_raw_post(site, _nested_extensions(3000), media_type), 400, "nested too deep")
    # within the parser's depth, deeper than the checks can walk
    _is_outcome(_raw_post(site, _nested_extensions(300), media_type), 400, "nested too deep to check")
    _is_outcome(_raw_post(site, b"{not json", media_type), 400, "not JSON")
    assert site.count(PatientRow) == 1


def test_a_body_with_a_byte_order_mark_is_read(site: Site) -> None:
    bundle = json.loads((BUNDLES / "other_ehr_elbow_visit.json").read_text(encoding="utf-8"))
    answer = _raw_post(site, b"\xef\xbb\xbf" + json.dumps(bundle).encode(), "application/json")
    assert answer.status_code == 200, answer.text


def test_the_api_takes_a_bundle_as_large_as_the_cli_and_says_no_in_fhir(site: Site) -> None:
    from strigil.interop.bundle import MAX_BUNDLE_BYTES
    from strigil.web.limits import body_limit

    assert body_limit("POST", "/api/v1/fhir").max_bytes == MAX_BUNDLE_BYTES
    headers = {
        "Authorization": f"Bearer {site.tokens['clinician']}",
        "Content-Type": "application/fhir+json",
        "Content-Length": str(MAX_BUNDLE_BYTES + 1),
    }
    answer = site.client.post("/api/v1/fhir", content=b"{}", headers=headers)
    _is_outcome(answer, 413, "64.0 MB")


# ---- every error on the FHIR routes is an OperationOutcome -----------------------------------------------


def test_every_error_on_the_fhir_routes_is_an_operation_outcome(site: Site, bulk_home: Path) -> None:
    job = "/api/v1/fhir/bulk/" + "0" * 32
    _is_outcome(site.get("clinician", job), 404, "no such export job")
    _is_outcome(site.get("clinician", job + "/Patient.ndjson"), 404, "no such export job")
    gone = site.client.delete(job, headers={"Authorization": f"Bearer {site.tokens['clinician']}"})
    _is_outcome(gone, 404, "no such export job")
    _is_outcome(site.get("", "/api/v1/fhir/$export"), 401, "sign in first")
    _is_outcome(site.get("researcher", "/api/v1/fhir/Patient/P-0001/$everything"), 403, "researcher")
    _is_outcome(site.get("clinician", "/api/v1/fhir/Patient/nobody/$everything"), 404, "no patient")
    _is_outcome(site.get("clinician", "/api/v1/fhir/Nothing/here"), 404, "Not Found")
    _is_outcome(site.post("clinician", "/api/v1/fhir/$export", {}), 405, "Method Not Allowed")
    _is_outcome(site.get("clinician", "/api/v1/fhir/bulk/" + "x" * 200), 422, "job_id")
    # the rest of the API keeps its JSON errors
    plain = site.get("clinician", "/api/v1/nothing-here")
    assert plain.status_code == 404 and plain.json() == {"detail": "Not Found"}
    assert site.get("", "/api/v1/patients").json()["detail"].startswith("sign in first")


def test_group_export_is_named_as_not_supported(site: Site) -> None:
    # no route (Strigil keeps no Groups), but the 404 says why and what is offered instead
    answer = site.get("clinician", "/api/v1/fhir/Group/1/$export")
    _is_outcome(answer, 404, "Group-level export is not supported")
    assert "/Patient/$export" in answer.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "query",
    [
        "?_typeFilter=Observation%3Fcode%3D72514-3",
        "?_elements=id",
        "?patient=Patient/1",
        "?includeAssociatedData=LatestProvenanceResources",
        "?_until=2026-01-01T00:00:00Z",
        "?color=blue",
    ],
)
def test_a_kick_off_parameter_not_supported_is_refused_by_name(
    site: Site, bulk_home: Path, query: str
) -> None:
    answer = _kick_off(site, "clinician", query)
    name = query[1:].split("=")[0]
    _is_outcome(answer, 400, f"kick-off parameter {name} is not supported")
    assert not any(bulk_home.glob("*"))  # nothing ran


def test_a_lenient_kick_off_ignores_the_parameter_and_says_so(site: Site, bulk_home: Path) -> None:
    headers = {
        "Authorization": f"Bearer {site.tokens['clinician']}",
        "Prefer": "respond-async, handling=lenient",
    }
    kick = site.client.get(
        "/api/v1/fhir/$export?_type=Patient&_typeFilter=Patient%3Fgender%3Dfemale", headers=headers
    )
    assert kick.status_code == 202, kick.text
    done = _finished(site, "clinician", kick.headers["Content-Location"].removeprefix("http://testserver"))
    manifest = done.json()
    assert {o["type"] for o in manifest["output"]} == {"Patient"}
    (error,) = manifest["error"]
    assert error["type"] == "OperationOutcome"
    warning = site.get("clinician", error["url"].removeprefix("http://testserver"))
    assert warning.status_code == 200
    (outcome,) = [json.loads(line) for line in warning.text.splitlines()]
    assert resource_problems(outcome) == []
    (issue,) = outcome["issue"]
    assert issue["severity"] == "warning" and "_typeFilter" in issue["diagnostics"]
