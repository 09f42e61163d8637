"""A patient's data on request, in the web app: admins export it whole and erase it; the audit is kept."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import text
from web_world import World

from strigil.services import accounts as account_service
from strigil.services.patients import find_patient

# One patient's rows per table (patient_id :p), or every row of the table when :p is NULL.
_OWNED_SQL = {
    "patients": "SELECT count(*) FROM patients WHERE :p IS NULL OR id = :p",
    "episodes": "SELECT count(*) FROM episodes WHERE :p IS NULL OR patient_id = :p",
    "treatment_sessions": "SELECT count(*) FROM treatment_sessions s JOIN episodes e ON e.id = s.episode_id "
    "WHERE :p IS NULL OR e.patient_id = :p",
    "dose_steps": "SELECT count(*) FROM dose_steps d JOIN treatment_sessions s ON s.id = d.session_id "
    "JOIN episodes e ON e.id = s.episode_id WHERE :p IS NULL OR e.patient_id = :p",
    "measurements": "SELECT count(*) FROM measurements m JOIN episodes e ON e.id = m.episode_id "
    "WHERE :p IS NULL OR e.patient_id = :p",
    "adverse_responses": "SELECT count(*) FROM adverse_responses a JOIN episodes e ON e.id = a.episode_id "
    "WHERE :p IS NULL OR e.patient_id = :p",
}


def patient_rows(world: World, patient_id: int | str | None) -> dict[str, int]:
    """Rows of the clinical record per table: one patient's (by database or public id), or all of them
    (patient_id None)."""
    if isinstance(patient_id, str):
        patient_id = _ROWS.get(patient_id) or _row_of(world, patient_id)
    with world.engine.connect() as conn:
        return {
            t: int(conn.execute(text(sql), {"p": patient_id}).scalar_one()) for t, sql in _OWNED_SQL.items()
        }


_ROWS: dict[str, int] = {}  # public id -> database id, remembered (an erased patient's row is gone)


def _row_of(world: World, public_id: str) -> int:
    with world.engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM patients WHERE public_id = :p"), {"p": public_id}).scalar()
    assert found is not None, public_id
    _ROWS[public_id] = int(found)
    return int(found)


def _code(world: World, clinic: int = 1) -> str:
    return str(world.records[clinic]["patient_code"])


def _bearer(world: World, scopes: list[str], role: str = "admin") -> TestClient:
    with world.db() as db:
        account = account_service.get_account(db, f"{role}1")
        secret = account_service.issue_api_token(db, account, "privacy", scopes).secret
        db.commit()
    client = TestClient(world.app, follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


def _audit(world: World, patient_id: str) -> list[dict[str, object]]:
    admin, _ = world.client("admin")
    page = admin.get("/api/v1/audit", params={"patient_id": patient_id, "per_page": 500})
    assert page.status_code == 200, page.text
    return list(page.json()["events"])


def test_admin_exports_a_patient_whole_as_a_json_file(world: World) -> None:
    admin, _ = world.client("admin")
    code = _code(world)
    response = admin.get(f"/api/v1/patients/{code}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == f'attachment; filename="strigil-patient-{code}.json"'
    doc = response.json()
    assert doc["format"] == "strigil-patient-export/2" and doc["patient"]["code"] == code
    patient_id = doc["patient"]["id"]
    owned = patient_rows(world, patient_id)
    assert len(doc["episodes"]) == owned["episodes"] >= 1
    assert len(doc["sessions"]) == owned["treatment_sessions"] >= 1
    assert len(doc["dose_steps"]) == owned["dose_steps"] >= 1
    assert len(doc["measurements"]) == owned["measurements"] >= 1
    assert len(doc["adverse_responses"]) == owned["adverse_responses"] >= 1
    assert {e["patient_id"] for e in doc["episodes"]} == {patient_id}
    assert "B00" not in response.text and "clinician2" not in response.text
    exports = [e for e in _audit(world, patient_id) if e["action"] == "export"]
    assert [(e["username"], e["resource"], e["channel"]) for e in exports] == [("admin1", "patient", "web")]


def test_another_clinics_patient_is_not_found(world: World) -> None:
    admin, csrf = world.client("admin")
    other = _code(world, 2)
    before = patient_rows(world, None)
    assert admin.get(f"/api/v1/patients/{other}/export").status_code == 404
    erased = admin.post(
        f"/api/v1/patients/{other}/erase",
        json={"confirm": other, "reason": "request"},
        headers={"X-CSRF-Token": csrf},
    )
    assert erased.status_code == 404
    # Never revealed: the answer is the one for a code that exists nowhere (and a wrong confirmation too).
    nowhere = admin.post(
        "/api/v1/patients/Z999/erase",
        json={"confirm": "Z999", "reason": "request"},
        headers={"X-CSRF-Token": csrf},
    )
    assert erased.json()["detail"].replace(other, "Z999") == nowhere.json()["detail"]
    unconfirmed = admin.post(
        f"/api/v1/patients/{other}/erase", json={"confirm": "x", "reason": ""}, headers={"X-CSRF-Token": csrf}
    )
    assert unconfirmed.status_code == 404
    page = admin.post(
        f"/admin/privacy/{other}/erase", data={"csrf_token": csrf, "confirm": other, "reason": "request"}
    )
    assert page.status_code == 404
    found = admin.get("/admin/privacy", params={"code": other})
    assert (
        found.status_code == 200
        and "No patient with code" in found.text
        and "Export patient data" not in found.text
    )
    assert patient_rows(world, None) == before


def test_clinicians_and_researchers_are_refused_and_see_no_controls(world: World) -> None:
    code = _code(world)
    for role in ("clinician", "researcher"):
        client, csrf = world.client(role)
        assert client.get(f"/api/v1/patients/{code}/export").status_code == 403
        body = {"confirm": code, "reason": "request"}
        assert (
            client.post(
                f"/api/v1/patients/{code}/erase", json=body, headers={"X-CSRF-Token": csrf}
            ).status_code
            == 403
        )
        assert client.get("/admin/privacy", params={"code": code}).status_code == 403
        assert (
            client.post(f"/admin/privacy/{code}/erase", data={**body, "csrf_token": csrf}).status_code == 403
        )
        home = client.get("/patients" if role == "clinician" else "/research")
        assert home.status_code == 200
        assert "/admin/privacy" not in home.text and "Erase patient" not in home.text
    clinician, _ = world.client("clinician")
    patient_page = clinician.get(f"/patients/{code}")
    assert patient_page.status_code == 200 and "Export patient data" not in patient_page.text
    assert patient_rows(world, None)["patients"] == 12


def test_token_scopes_are_honoured(world: World) -> None:
    code = _code(world)
    body = {"confirm": code, "reason": "request"}
    for scopes in (["read"], ["read", "write"]):
        token = _bearer(world, scopes)
        assert token.get(f"/api/v1/patients/{code}/export").status_code == 403, scopes
        assert token.post(f"/api/v1/patients/{code}/erase", json=body).status_code == 403, scopes
    # A clinician's token can never hold the admin scope, so a read+write one is the strongest there is.
    assert (
        _bearer(world, ["read", "write"], role="clinician").get(f"/api/v1/patients/{code}/export").status_code
        == 403
    )
    admin_token = _bearer(world, ["admin"])
    assert admin_token.get(f"/api/v1/patients/{code}/export").status_code == 200
    erased = admin_token.post(f"/api/v1/patients/{code}/erase", json=body)
    assert erased.status_code == 200, erased.text
    events = _audit(world, erased.json()["patient_id"])
    assert {(e["action"], e["channel"]) for e in events} >= {("export", "api"), ("delete", "api")}


def test_erasure_without_or_with_a_wrong_confirmation_erases_nothing(world: World) -> None:
    admin, csrf = world.client("admin")
    code = _code(world)
    headers = {"X-CSRF-Token": csrf}
    before = patient_rows(world, None)
    missing = admin.post(f"/api/v1/patients/{code}/erase", json={"reason": "request"}, headers=headers)
    assert missing.status_code == 422
    assert [p["field"] for p in missing.json()["detail"]] == ["confirm"]
    wrong = admin.post(
        f"/api/v1/patients/{code}/erase", json={"confirm": "A001", "reason": "request"}, headers=headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"] == [
        {"field": "confirm", "value": "A001", "message": f"must repeat the patient code {code!r} exactly"}
    ]
    no_reason = admin.post(
        f"/api/v1/patients/{code}/erase", json={"confirm": code, "reason": " "}, headers=headers
    )
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["field"] == "reason"
    page = admin.post(
        f"/admin/privacy/{code}/erase",
        data={"csrf_token": csrf, "confirm": code.lower(), "reason": "request"},
    )
    assert page.status_code == 422 and "must repeat the patient code" in page.text
    assert f'value="{code.lower()}"' in page.text  # the form comes back as typed
    assert patient_rows(world, None) == before
    assert admin.get(f"/api/v1/patients/{code}/export").status_code == 200


def test_erasure_removes_the_patient_from_pages_and_api_and_keeps_the_audit(world: World) -> None:
    admin, csrf = world.client("admin")
    clinician, _ = world.client("clinician")
    code = _code(world)
    assert clinician.get(f"/patients/{code}").status_code == 200  # leaves a read event to keep
    shown = admin.get("/admin/privacy", params={"code": code})
    assert shown.status_code == 200 and "Export patient data" in shown.text and "Erase patient" in shown.text
    patient_id = admin.get(f"/api/v1/patients/{code}/export").json()["patient"]["id"]
    _row_of(world, patient_id)  # remembered: the row goes with the erasure
    before = _audit(world, patient_id)
    erased = admin.post(
        f"/api/v1/patients/{code}/erase",
        json={"confirm": code, "reason": "patient request of 2026-01-05"},
        headers={"X-CSRF-Token": csrf},
    )
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["patient_id"] == patient_id and report["code"] == code
    assert report["removed"]["patients"] == 1 and report["removed"]["treatment_sessions"] >= 1
    assert patient_rows(world, patient_id) == dict.fromkeys(patient_rows(world, patient_id), 0)
    # Gone from the pages and the API, for the clinician and the admin alike.
    assert clinician.get(f"/patients/{code}").status_code == 404
    assert clinician.get(f"/api/v1/patients/{code}").status_code == 404
    assert code not in clinician.get("/patients").text
    assert code not in str(clinician.get("/api/v1/patients", params={"per_page": 200}).json()["patients"])
    assert admin.get(f"/api/v1/patients/{code}/export").status_code == 404
    assert "No patient with code" in admin.get("/admin/privacy", params={"code": code}).text
    # Every earlier audit row stays, and the erasure has its own.
    after = _audit(world, patient_id)
    kept = {(e["at"], e["action"], e["resource"], e["detail"]) for e in before}
    assert kept < {(e["at"], e["action"], e["resource"], e["detail"]) for e in after}
    deleted = [e for e in after if e["action"] == "delete"]
    assert len(deleted) == 1 and deleted[0]["patient_id"] == patient_id  # by the public id it had
    assert deleted[0]["username"] == "admin1" and "patient request of 2026-01-05" in str(deleted[0]["detail"])
    trail = admin.get("/admin/audit", params={"patient_id": patient_id, "action": "delete"})
    assert trail.status_code == 200 and "erased on request (patient request of 2026-01-05)" in trail.text


def test_the_erase_form_needs_its_csrf_token_and_shows_the_result(world: World) -> None:
    admin, csrf = world.client("admin")
    code = "A001"
    form = {"confirm": code, "reason": "patient request"}
    before = patient_rows(world, None)
    for token in (None, "", "wrong-" + csrf[6:]):
        data = form if token is None else {**form, "csrf_token": token}
        assert admin.post(f"/admin/privacy/{code}/erase", data=data).status_code == 403, token
    assert patient_rows(world, None) == before
    page = admin.get("/admin/privacy", params={"code": code})
    with world.db() as db:
        owned = patient_rows(world, find_patient(db, 1, code).id)
    held = f"holds {owned['episodes']} episode(s), {owned['treatment_sessions']} session(s),"
    assert held in " ".join(page.text.split())  # the page says what the erasure will remove
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found and found.group(1) == csrf
    done = admin.post(f"/admin/privacy/{code}/erase", data={**form, "csrf_token": found.group(1)})
    assert done.status_code == 200, done.text
    assert f"Patient {code} erased" in done.text and "The audit trail records it" in done.text
    assert "/admin/audit?patient_id=" in done.text
    assert patient_rows(world, None)["patients"] == before["patients"] - 1


def test_the_admin_menu_links_the_privacy_page(world: World) -> None:
    admin, _ = world.client("admin")
    page = admin.get("/admin/privacy")
    assert page.status_code == 200 and 'href="/admin/privacy"' in page.text
    assert "Export patient data" not in page.text  # nothing to export until a patient is found
