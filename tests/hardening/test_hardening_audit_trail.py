"""The audit trail has no gaps: denials, failed sign-ins, imports, bulk jobs, every shell's reads and exports.

The audit walk (test_hardening_access.py) covers every web route that reads or writes patient data; these
tests cover what it cannot see: refusals, sign-in failures, jobs over many patients and the command line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir_strategies import bundle_of, example_clinic
from record_cli import Clinic, make_clinic, session_doc
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from strigil.store.audit import AuditEvent
from strigil.store.record import PatientRow

PASSWORD = "correct horse battery staple"


def _events(engine: Any, after: int = 0) -> list[AuditEvent]:
    with Session(engine) as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)))


def _last(engine: Any) -> int:
    with Session(engine) as db:
        return int(db.scalar(select(func.max(AuditEvent.id))) or 0)


# --- the web: denials and failed sign-ins ----------------------------------------------------------


def test_cross_clinic_404s_and_role_403s_are_audited_in_the_askers_clinic(world: Any) -> None:
    clinician, _ = world.client("clinician")
    other = world.records[2]
    before = _last(world.engine)
    assert clinician.get(f"/api/v1/episodes/{other['episode_id']}").status_code == 404
    assert clinician.get(f"/api/v1/patients/{other['patient_code']}").status_code == 404
    assert clinician.get(f"/patients/{other['patient_code']}").status_code == 404
    researcher, _ = world.client("researcher")
    assert researcher.get("/api/v1/patients").status_code == 403
    denied = [
        (e.username, e.clinic_id, e.action, e.resource_id, e.detail[:3])
        for e in _events(world.engine, before)
    ]
    assert denied == [
        ("clinician1", 1, "denied", f"GET /api/v1/episodes/{other['episode_id']}", "404"),
        ("clinician1", 1, "denied", f"GET /api/v1/patients/{other['patient_code']}", "404"),
        ("clinician1", 1, "denied", f"GET /patients/{other['patient_code']}", "404"),
        ("researcher1", 1, "denied", "GET /api/v1/patients", "403"),
    ]
    # nothing of the other clinic's patient is written into this clinic's trail
    assert all(e.patient_id is None for e in _events(world.engine, before))


def test_failed_sign_ins_are_audited_in_the_accounts_clinic(world: Any) -> None:
    client = TestClient(world.app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    before = _last(world.engine)
    form = {"username": "clinician2", "password": "not the password", "csrf_token": token.group(1)}
    assert client.post("/login", data=form).status_code == 401
    (event,) = _events(world.engine, before)
    assert (event.action, event.resource, event.username, event.clinic_id) == (
        "denied",
        "sign_in",
        "clinician2",
        2,
    )
    assert event.ip == "testclient"


def test_a_fhir_import_names_every_patient_it_wrote(world: Any) -> None:
    client, csrf = world.client("clinician")
    before = _last(world.engine)
    answer = client.post("/api/v1/fhir", json=bundle_of(example_clinic()), headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200 and answer.json()["patients_created"] == 1
    with Session(world.engine) as db:
        code = example_clinic().patients[0].patient.code
        patient = db.scalar(select(PatientRow.id).where(PatientRow.clinic_id == 1, PatientRow.code == code))
    rows = [(e.action, e.resource, e.patient_id, e.clinic_id) for e in _events(world.engine, before)]
    job = [e for e in _events(world.engine, before) if e.resource == "fhir_bundle" and e.patient_id is None]
    assert len(job) == 1 and "patients+1" in job[0].detail
    assert ("create", "fhir_bundle", patient, 1) in rows


# --- the command line: reads, writes, exports, bulk jobs (SQLite and PostgreSQL) -----------------------


def _clinic(tmp_path: Path, database_url: str) -> tuple[Clinic, Any]:
    url = "" if database_url.startswith("sqlite") else database_url
    c = make_clinic(tmp_path, url)
    c.ok("session", "record", c.write_json("s1.json", session_doc()))
    return c, create_engine(url or f"sqlite:///{tmp_path / 'clinic.sqlite'}")


def test_cli_reads_writes_and_exports_are_audited(tmp_path: Path, database_url: str) -> None:
    c, engine = _clinic(tmp_path, database_url)
    try:
        with Session(engine) as db:
            p001 = db.scalar(select(PatientRow.id).where(PatientRow.code == "P001"))
        written = [(e.action, e.resource, e.patient_id, e.channel) for e in _events(engine)]
        # the set-up itself went through the CLI: patient, episode and session writes are on record
        assert ("create", "patient", p001, "cli") in written
        assert ("create", "episode", p001, "cli") in written
        assert ("create", "session", p001, "cli") in written
        episode = c.id("episode", 1)
        for args, expected in [
            (("patient", "show", "P001"), ("read", "patient", p001)),
            (("episode", "show", episode), ("read", "episode", p001)),
            (("session", "prepare", episode), ("read", "episode", p001)),
            (("measure", "add", "--episode", episode, "--measure", "nprs", "--value", "3",
              "--on", "2026-03-05"),
             ("create", "measurement", p001)),
        ]:  # fmt: skip
            before = _last(engine)
            c.ok(*args)
            got = [(e.action, e.resource, e.patient_id) for e in _events(engine, before)]
            assert got == [expected], (args, got)
        before = _last(engine)
        c.ok("export", "csv", "-o", str(tmp_path / "long.csv"))
        job, *patients = _events(engine, before)
        assert (job.action, job.resource, job.patient_id) == (
            "export",
            "csv",
            None,
        ) and "1 patients" in job.detail
        assert [(e.resource_id, e.patient_id) for e in patients] == [(f"job {job.id}", p001)]
    finally:
        engine.dispose()


def test_cli_bulk_jobs_write_one_row_per_job_and_per_patient(tmp_path: Path, database_url: str) -> None:
    c, engine = _clinic(tmp_path, database_url)
    try:
        c.ok("patient", "add", "P002", "--birth-year", "1990", "--sex", "male")
        before = _last(engine)
        c.ok("fhir", "export", "-o", str(tmp_path / "all.json"), "--all")
        job, *patients = _events(engine, before)
        assert (job.action, job.resource, job.patient_id) == ("export", "fhir_bundle", None)
        with Session(engine) as db:
            ids = sorted(db.scalars(select(PatientRow.id)))
        assert sorted(e.patient_id for e in patients) == ids and {e.resource_id for e in patients} == {
            f"job {job.id}"
        }
        # an import into a fresh clinic (bulk): the job, and each patient it created
        bundle = tmp_path / "north.json"
        bundle.write_text(json.dumps(bundle_of(example_clinic())), encoding="utf-8")
        before = _last(engine)
        c.ok("fhir", "import", str(bundle), "--bulk")
        job, *patients = _events(engine, before)
        with Session(engine) as db:
            created = db.scalar(
                select(PatientRow.id).where(PatientRow.code == example_clinic().patients[0].patient.code)
            )
        assert (job.action, job.resource, job.patient_id) == ("create", "fhir_bundle", None)
        assert [(e.resource_id, e.patient_id) for e in patients] == [(f"job {job.id}", created)]
    finally:
        engine.dispose()


def test_cli_backup_is_audited_per_patient(tmp_path: Path) -> None:
    c, engine = _clinic(tmp_path, "sqlite")
    try:
        before = _last(engine)
        c.ok("backup", str(tmp_path / "copy.sqlite"))
        job, *patients = _events(engine, before)
        assert (job.action, job.resource, job.channel) == ("export", "backup", "cli")
        assert "copy.sqlite" in job.detail and len(patients) == 1 and patients[0].patient_id is not None
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [("patient", "show", "NOPE"), ("episode", "show", "99")])
def test_a_refused_cli_read_writes_nothing_but_its_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    c, engine = _clinic(tmp_path, "sqlite")
    try:
        before = _last(engine)
        assert c.run(*command).exit_code == 2
        assert _events(engine, before) == []
    finally:
        engine.dispose()
