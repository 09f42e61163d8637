"""A patient's record exported whole and erased on request; the audit rows that record it are kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hostile import row_counts
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from strigil.cli import app as cli
from strigil.services.audit import Actor
from strigil.services.errors import InvalidInput, NotFound
from strigil.services.privacy import EXPORT_FORMAT, erase_patient, export_patient
from strigil.store.audit import AuditEvent
from strigil.store.record import PatientRow

ACTOR = Actor(None, "privacy-officer", "admin", 1, "127.0.0.1", "cli")
# Tables that hold a patient's clinical record, and how to count one patient's rows in each.
OWNED_SQL = {
    "patients": "SELECT count(*) FROM patients WHERE id = :p",
    "episodes": "SELECT count(*) FROM episodes WHERE patient_id = :p",
    "treatment_sessions": "SELECT count(*) FROM treatment_sessions s JOIN episodes e ON e.id = s.episode_id "
    "WHERE e.patient_id = :p",
    "dose_steps": "SELECT count(*) FROM dose_steps d JOIN treatment_sessions s ON s.id = d.session_id "
    "JOIN episodes e ON e.id = s.episode_id WHERE e.patient_id = :p",
    "measurements": "SELECT count(*) FROM measurements m JOIN episodes e ON e.id = m.episode_id "
    "WHERE e.patient_id = :p",
    "adverse_responses": "SELECT count(*) FROM adverse_responses a JOIN episodes e ON e.id = a.episode_id "
    "WHERE e.patient_id = :p",
}


def _owned(world: Any, patient_id: int) -> dict[str, int]:
    with world.engine.connect() as conn:
        return {t: conn.execute(text(sql), {"p": patient_id}).scalar_one() for t, sql in OWNED_SQL.items()}


def _touch(world: Any) -> int:
    """Read and amend clinic 1's first patient through the API, so it has audit rows and an amendment."""
    client, csrf = world.client("clinician")
    rec = world.records[1]
    shown = client.get(f"/api/v1/patients/{rec['patient_code']}")
    assert shown.status_code == 200
    client.get(f"/api/v1/episodes/{rec['episode_id']}")
    resolved = client.post(
        f"/api/v1/adverse-responses/{rec['adverse_id']}/resolve",
        json={"resolved_on": shown.json()["episodes"][0]["opened_on"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert resolved.status_code == 200, resolved.text
    with world.db() as db:  # the database's id of the patient (the answer names it by its public id)
        return int(db.scalar(select(PatientRow.id).where(PatientRow.public_id == shown.json()["id"])))


def test_export_holds_every_row_of_the_patient_and_is_audited(world: Any) -> None:
    patient_id = _touch(world)
    owned = _owned(world, patient_id)
    with world.db() as db:
        doc = export_patient(db, 1, str(world.records[1]["patient_code"]), ACTOR)
        db.commit()
    json.dumps(doc)  # JSON-ready as it is
    with world.db() as db:
        public = db.scalar(select(PatientRow.public_id).where(PatientRow.id == patient_id))
    assert doc["format"] == EXPORT_FORMAT and doc["patient"]["id"] == public
    assert len(doc["episodes"]) == owned["episodes"] >= 1
    assert len(doc["sessions"]) == owned["treatment_sessions"] >= 1
    assert len(doc["dose_steps"]) == owned["dose_steps"] >= 2
    assert len(doc["measurements"]) == owned["measurements"] >= 2
    assert len(doc["adverse_responses"]) == owned["adverse_responses"] >= 1
    assert any(a["entity"] == "adverse_response" for a in doc["amendments"]), "the kept earlier version"
    assert {("read", "patient"), ("read", "episode"), ("update", "adverse_response")} <= {
        (e["action"], e["resource"]) for e in doc["audit_events"]
    }
    # Nothing of another patient slipped in.
    assert {e["patient_id"] for e in doc["episodes"]} == {public}
    with world.db() as db:
        exported = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(e.patient_id, e.username) for e in exported] == [(patient_id, "privacy-officer")]


def test_export_of_another_clinics_patient_is_not_found(world: Any) -> None:
    with world.db() as db, pytest.raises(NotFound):
        export_patient(db, 1, str(world.records[2]["patient_code"]), ACTOR)


def test_erasure_removes_exactly_the_patients_rows_and_keeps_the_audit(world: Any) -> None:
    patient_id = _touch(world)
    owned = _owned(world, patient_id)
    before = row_counts(world.engine)
    with world.db() as db:
        audit_before = db.scalar(select(func.count()).where(AuditEvent.patient_id == patient_id))
        report = erase_patient(
            db, 1, str(world.records[1]["patient_code"]), ACTOR, confirm="A000", reason="request"
        )
        db.commit()
    after = row_counts(world.engine)
    assert _owned(world, patient_id) == dict.fromkeys(OWNED_SQL, 0)
    for table, n in owned.items():
        assert before[table] - after[table] == n, (
            f"{table}: removed {before[table] - after[table]}, owned {n}"
        )
        assert report.removed.get(table, 0) == n
    assert before["amendments"] - after["amendments"] >= 1  # the patient's kept versions go too
    untouched = set(before) - set(OWNED_SQL) - {"amendments", "web_audit_events"}
    assert {t: after[t] for t in untouched} == {t: before[t] for t in untouched}
    with world.db() as db:
        audit_after = db.scalar(select(func.count()).where(AuditEvent.patient_id == patient_id))
        erased = db.get(AuditEvent, report.audit_event_id)
    assert audit_after == audit_before + 1, "audit rows about the patient were lost or not written"
    assert erased is not None and erased.action == "delete" and "erased on request (request)" in erased.detail
    client, _ = world.client("clinician")
    assert client.get(f"/api/v1/patients/{world.records[1]['patient_code']}").status_code == 404
    assert client.get(f"/api/v1/patients/{world.records[2]['patient_code']}").status_code == 404  # not ours


def test_erasure_needs_the_code_repeated_and_a_reason(world: Any) -> None:
    before = row_counts(world.engine)
    with world.db() as db:
        with pytest.raises(InvalidInput, match="confirm"):
            erase_patient(db, 1, "A000", ACTOR, confirm="A001", reason="request")
        with pytest.raises(InvalidInput, match="reason"):
            erase_patient(db, 1, "A000", ACTOR, confirm="A000", reason=" ")
        with pytest.raises(NotFound):
            erase_patient(db, 1, "B000", ACTOR, confirm="B000", reason="request")  # another clinic's
        db.commit()
    assert row_counts(world.engine) == before


def test_privacy_cli_exports_then_erases(tmp_path: Path, template_db: Any, monkeypatch: Any) -> None:
    db_file = tmp_path / "clinic.sqlite"
    shutil.copyfile(template_db[0], db_file)
    monkeypatch.setenv("STRIGIL_DATABASE_URL", f"sqlite:///{db_file}")
    runner = CliRunner()
    out = tmp_path / "A001.json"
    exported = runner.invoke(cli, ["privacy", "export", "A001", "--clinic", "clinic1", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert json.loads(out.read_text())["patient"]["code"] == "A001"
    again = runner.invoke(cli, ["privacy", "export", "A001", "--clinic", "clinic1", "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    wrong = runner.invoke(
        cli, ["privacy", "erase", "A001", "--clinic", "clinic1", "--confirm", "A002", "--reason", "r"]
    )
    assert wrong.exit_code == 2 and wrong.stderr.startswith("error: ")
    erased = runner.invoke(
        cli,
        [
            "privacy",
            "erase",
            "A001",
            "--clinic",
            "clinic1",
            "--confirm",
            "A001",
            "--reason",
            "patient request",
        ],
    )
    assert erased.exit_code == 0, erased.output
    assert "erased patient A001" in erased.stdout and "the audit trail records it" in erased.stdout
    gone = runner.invoke(cli, ["privacy", "export", "A001", "--clinic", "clinic1"])
    assert gone.exit_code == 2 and "A001" in gone.stderr
