"""The audit trail: append-only at two levels, scoped to the admin's clinic, exportable."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from web_world import World

from strigil.services import audit as audit_service
from strigil.services.record_ids import public_id_of
from strigil.store.audit import AuditEvent, AuditTrailIsAppendOnly


def _event(world: World, clinic: int, detail: str) -> int:
    with world.db() as db:
        actor = audit_service.Actor(None, f"tester{clinic}", "clinician", clinic, "10.0.0.1", "web")
        patient = 1 if clinic == 1 else 7  # the first patient of the clinic
        event = audit_service.record(db, actor, "read", "patient", patient, patient_id=patient, detail=detail)
        db.commit()
        return event.id


def test_orm_refuses_to_change_or_delete_an_event(world: World) -> None:
    event_id = _event(world, 1, "original")
    with world.db() as db:
        event = db.get(AuditEvent, event_id)
        assert event is not None
        event.detail = "rewritten"
        with pytest.raises(AuditTrailIsAppendOnly):
            db.flush()
    with world.db() as db:
        event = db.get(AuditEvent, event_id)
        db.delete(event)
        with pytest.raises(AuditTrailIsAppendOnly):
            db.flush()


def test_database_trigger_refuses_raw_update_and_delete(world: World) -> None:
    event_id = _event(world, 1, "original")
    with world.engine.connect() as conn:
        with pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text("UPDATE web_audit_events SET detail = 'x' WHERE id = :i"), {"i": event_id})
        conn.rollback()
        with pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text("DELETE FROM web_audit_events"))
        conn.rollback()
    with world.db() as db:
        event = db.get(AuditEvent, event_id)
        assert event is not None and event.detail == "original"


def test_unknown_action_is_refused_with_the_allowed_ones() -> None:
    actor = audit_service.Actor(None, "x", "admin", 1)
    with pytest.raises(ValueError, match="action: 'peek' is not allowed; choose one of read"):
        audit_service.record(None, actor, "peek", "patient")  # type: ignore[arg-type]


def test_admin_sees_only_own_clinic_events_newest_first_with_filters(world: World) -> None:
    first = _event(world, 1, "ours-1")
    second = _event(world, 1, "ours-2")
    _event(world, 2, "theirs")
    admin, _ = world.client("admin")
    page = admin.get("/api/v1/audit", params={"username": "tester1"}).json()
    assert [e["detail"] for e in page["events"]] == ["ours-2", "ours-1"] and second > first
    # answers name records by public ids, and an event by nothing (its number counts every clinic's events)
    with world.db() as db:
        patient = public_id_of(db, "patient", 1)
    assert all("id" not in e and e["patient_id"] == patient for e in page["events"])
    assert all(e["resource_id"] == patient for e in page["events"])
    assert page["total"] == 2
    assert all(
        e["detail"] != "theirs" for e in admin.get("/api/v1/audit", params={"per_page": 500}).json()["events"]
    )
    by_patient = admin.get("/api/v1/audit", params={"patient_id": patient, "username": "tester1"}).json()
    assert by_patient["total"] == 2
    by_integer = admin.get("/api/v1/audit", params={"patient_id": "1", "username": "tester1"}).json()
    assert by_integer["total"] == 0  # a database id names no patient outside the server
    paged = admin.get("/api/v1/audit", params={"username": "tester1", "per_page": 1, "page": 2}).json()
    assert [e["detail"] for e in paged["events"]] == ["ours-1"]


def test_viewing_and_exporting_the_trail_are_themselves_recorded(world: World) -> None:
    _event(world, 1, "ours")
    admin, _ = world.client("admin")
    admin.get("/api/v1/audit")
    exported = admin.get("/api/v1/audit.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {"read", "export"} <= {r["action"] for r in rows if r["username"] == "admin1"}
    assert any(r["detail"] == "ours" and r["ip"] == "10.0.0.1" for r in rows)
    with world.db() as db:
        clinic = public_id_of(db, "clinic", 1)
    assert all(r["clinic_id"] == clinic for r in rows) and "id" not in rows[0]


def test_audit_page_renders_filters_and_pagination(world: World) -> None:
    for i in range(60):
        _event(world, 1, f"e{i}")
    admin, _ = world.client("admin")
    page = admin.get("/admin/audit", params={"username": "tester1"})
    assert page.status_code == 200
    assert "Page 1 of 2" in page.text and "e59" in page.text and "e0<" not in page.text
    second = admin.get("/admin/audit", params={"username": "tester1", "page": 2})
    assert "Page 2 of 2" in second.text and "username=tester1" in second.text
