"""The clinical record through the JSON API: every route, scoped to the clinic, audited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from web_schema import CONSENT, TODAY, session_doc
from web_world import World

from strigil.services import audit as audit_service
from strigil.store.record import PatientRow


def _audit_actions(world: World, clinic: int = 1) -> list[tuple[str, str, int | None]]:
    with world.db() as db:
        events = audit_service.list_events(db, clinic, per_page=500).events
        return [(e.action, e.resource, e.patient_id) for e in events]


def test_patient_search_pages_and_never_counts_other_clinics(world: World) -> None:
    client, _ = world.client("clinician")
    everyone = client.get("/api/v1/patients", params={"per_page": 4}).json()
    assert everyone["total"] == 6 and everyone["pages"] == 2 and len(everyone["patients"]) == 4
    assert all(p["code"].startswith("A") for p in everyone["patients"])
    second = client.get("/api/v1/patients", params={"per_page": 4, "page": 2}).json()
    assert [p["code"] for p in second["patients"]] == ["A004", "A005"]
    assert client.get("/api/v1/patients", params={"q": "A00"}).json()["total"] == 6
    assert client.get("/api/v1/patients", params={"q": "B"}).json()["total"] == 0
    # LIKE wildcards are taken literally
    assert client.get("/api/v1/patients", params={"q": "%"}).json()["total"] == 0


def test_add_and_show_patient_is_audited(world: World) -> None:
    client, csrf = world.client("clinician")
    created = client.post(
        "/api/v1/patients",
        json={"code": "NEW-1", "birth_year": 1990, "sex": "male"},
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 201
    shown = client.get("/api/v1/patients/NEW-1").json()
    assert shown["code"] == "NEW-1" and shown["episodes"] == []
    actions = _audit_actions(world)
    with world.db() as db:  # the audit trail names records by the database's ids (it stays inside)
        row = db.scalar(select(PatientRow.id).where(PatientRow.public_id == created.json()["id"]))
    assert ("create", "patient", row) in actions
    assert ("read", "patient", row) in actions


def test_bad_patient_gets_field_level_problems(world: World) -> None:
    client, csrf = world.client("clinician")
    response = client.post(
        "/api/v1/patients",
        json={"code": "has space", "birth_year": 3000, "sex": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["detail"]}
    assert {"code", "birth_year", "sex"} <= fields


def test_episode_open_show_close(world: World) -> None:
    client, csrf = world.client("clinician")
    plan = {
        "condition": "plantar_heel_pain",
        "region": "foot_plantar",
        "side": "left",
        "target_tissue": "fascia",
        "onset_date": "2026-01-01",
        "opened_on": TODAY.isoformat(),
        "planned_iastm": True,
        "planned_co_interventions": ["stretching"],
        "consent": {"given_on": TODAY.isoformat(), "explained": CONSENT},
    }
    refused = client.post("/api/v1/patients/A001/episodes", json=plan, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 409 and "exercise first" in refused.json()["detail"]
    plan["planned_co_interventions"] = ["strengthening"]
    opened = client.post("/api/v1/patients/A001/episodes", json=plan, headers={"X-CSRF-Token": csrf})
    assert opened.status_code == 201
    episode_id = opened.json()["id"]
    shown = client.get(f"/api/v1/episodes/{episode_id}").json()
    assert (
        shown["condition"] == "plantar_heel_pain"
        and shown["progress"] == []
        and shown["recommendation"] is None
    )
    closed = client.post(
        f"/api/v1/episodes/{episode_id}/close",
        json={"closed_on": TODAY.isoformat(), "reason": "discharged"},
        headers={"X-CSRF-Token": csrf},
    )
    assert closed.status_code == 200 and closed.json()["closed_on"] == TODAY.isoformat()


def test_record_session_returns_recommendation_and_progress_has_mcid(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = world.records[1]["episode_id"]
    doc = session_doc(episode_id, "c1", TODAY, 4, 1)
    recorded = client.post(
        f"/api/v1/episodes/{episode_id}/sessions", json=doc, headers={"X-CSRF-Token": csrf}
    )
    assert recorded.status_code == 201, recorded.text
    body = recorded.json()
    assert body["number"] == 2 and body["recommendation"]["recommendation"] in (
        "refer",
        "switch",
        "modify",
        "continue",
        "progress",
        "discharge",
    )
    episode = client.get(f"/api/v1/episodes/{episode_id}").json()
    nprs = next(s for s in episode["progress"] if s["measure"] == "nprs")
    assert nprs["threshold"] == body["recommendation"]["measures"][0]["mcid"]
    assert [(p["session"], p["timing"], p["value"]) for p in nprs["points"]] == [
        (1, "pre", 6),
        (1, "post", 4),
        (2, "pre", 4),
        (2, "post", 1),
    ]


def test_session_for_another_clinics_episode_is_404_and_writes_nothing(world: World) -> None:
    client, csrf = world.client("clinician")
    other = str(world.records[2]["episode_id"])
    response = client.post(
        f"/api/v1/episodes/{other}/sessions",
        json=session_doc(other, "c1", TODAY, 5, 3),
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 404 and "B0" not in response.text
    owner, _ = world.client("clinician", 2)
    assert len(owner.get(f"/api/v1/episodes/{other}").json()["sessions"]) == 1


def test_bad_session_names_each_field(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = str(world.records[1]["episode_id"])
    doc = session_doc(episode_id, "c1", TODAY, 4, 11)
    doc["steps"][0]["angle_deg"] = 120  # type: ignore[index]
    response = client.post(
        f"/api/v1/episodes/{episode_id}/sessions", json=doc, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["detail"]}
    assert "steps[0].angle_deg" in fields and any(f.startswith("measurements[1]") for f in fields)


def test_measurement_adverse_and_resolution(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = world.records[1]["episode_id"]
    m = client.post(
        f"/api/v1/episodes/{episode_id}/measurements",
        json={"measure": "nprs", "value": 3, "taken_on": TODAY.isoformat()},
        headers={"X-CSRF-Token": csrf},
    )
    assert m.status_code == 201 and m.json()["timing"] == "between"
    a = client.post(
        f"/api/v1/episodes/{episode_id}/adverse-responses",
        json={"kind": "soreness", "severity": "moderate", "onset_on": TODAY.isoformat()},
        headers={"X-CSRF-Token": csrf},
    )
    assert a.status_code == 201
    dashboard = client.get("/api/v1/dashboard").json()
    assert any(x["kind"] == "adverse" and "soreness" in x["text"] for x in dashboard["alerts"])
    resolved = client.post(
        f"/api/v1/adverse-responses/{a.json()['id']}/resolve",
        json={"resolved_on": (TODAY + dt.timedelta(days=0)).isoformat()},
        headers={"X-CSRF-Token": csrf},
    )
    assert resolved.status_code == 200 and resolved.json()["resolved_on"] == TODAY.isoformat()
    dashboard = client.get("/api/v1/dashboard").json()
    assert not any("soreness" in x["text"] for x in dashboard["alerts"])


def test_screening_uses_findings_and_episode_history(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = world.records[1]["episode_id"]
    clear = client.post(
        f"/api/v1/episodes/{episode_id}/screening", json={"findings": []}, headers={"X-CSRF-Token": csrf}
    ).json()
    worse = client.post(
        f"/api/v1/episodes/{episode_id}/screening",
        json={"findings": [], "intolerance": True},
        headers={"X-CSRF-Token": csrf},
    ).json()
    order = ["clear", "precautions", "contraindicated"]
    assert order.index(worse["verdict"]) >= order.index(clear["verdict"])
    assert worse["verdict"] != "clear"
    unknown = client.post(
        f"/api/v1/episodes/{episode_id}/screening",
        json={"findings": ["not_a_finding"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert unknown.status_code == 422 and "not_a_finding" in unknown.text


def test_dashboard_lists_todays_patients(world: World) -> None:
    client, csrf = world.client("clinician")
    episode_id = world.records[1]["episode_id"]
    client.post(
        f"/api/v1/episodes/{episode_id}/sessions",
        json=session_doc(episode_id, "c1", TODAY, 5, 4),
        headers={"X-CSRF-Token": csrf},
    )
    today = client.get("/api/v1/dashboard").json()["today"]
    assert [r["patient_code"] for r in today] == ["A000"]
