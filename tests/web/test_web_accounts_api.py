"""Accounts and tokens through the JSON API: admins manage their clinic, tokens are scoped and revocable."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_world import World


def _bearer(world: World, secret: str) -> TestClient:
    client = TestClient(world.app, follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


def _clinic(world: World, number: int) -> str:
    """A clinic's public id (answers name clinics by it, never by the database's integer)."""
    from strigil.services.record_ids import public_id_of

    with world.db() as db:
        return public_id_of(db, "clinic", number)


def test_me_reports_role_and_clinic(world: World) -> None:
    client, _ = world.client("researcher", 2)
    body = client.get("/api/v1/me").json()
    assert (
        body["username"] == "researcher2"
        and body["role"] == "researcher"
        and body["clinic_id"] == _clinic(world, 2)
    )


def test_admin_creates_account_in_own_clinic_only(world: World) -> None:
    admin, csrf = world.client("admin")
    created = admin.post(
        "/api/v1/accounts",
        json={"username": "newbie", "role": "clinician", "password": "a fine long passphrase"},
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 201 and created.json()["clinic_id"] == _clinic(world, 1)
    names = [a["username"] for a in admin.get("/api/v1/accounts").json()]
    assert "newbie" in names and "admin2" not in names


def test_weak_password_and_bad_role_get_field_named_errors(world: World) -> None:
    admin, csrf = world.client("admin")
    weak = admin.post(
        "/api/v1/accounts",
        json={"username": "weakling", "role": "clinician", "password": "short"},
        headers={"X-CSRF-Token": csrf},
    )
    assert weak.status_code == 422 and "password: must have at least 12 characters" in weak.json()["detail"]
    role = admin.post(
        "/api/v1/accounts",
        json={"username": "chief", "role": "owner", "password": "a fine long passphrase"},
        headers={"X-CSRF-Token": csrf},
    )
    assert role.status_code == 422 and "role: 'owner' is not allowed" in role.json()["detail"]


def test_admin_cannot_touch_another_clinics_account(world: World) -> None:
    admin, csrf = world.client("admin")
    other = world.ids[(2, "clinician")]
    response = admin.post(f"/api/v1/accounts/{other}/deactivate", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 404
    still, _ = world.client("clinician", 2)
    assert still.get("/api/v1/me").status_code == 200


def test_token_scopes_limit_what_a_program_may_do(world: World) -> None:
    client, csrf = world.client("admin")
    issued = client.post(
        "/api/v1/tokens", json={"name": "reader", "scopes": ["read"]}, headers={"X-CSRF-Token": csrf}
    )
    assert issued.status_code == 201
    secret = issued.json()["secret"]
    reader = _bearer(world, secret)
    assert reader.get("/api/v1/me").status_code == 200
    # No admin scope: the audit trail is closed to this token even though its account is an admin.
    assert reader.get("/api/v1/audit").status_code == 403
    # No write scope: cannot issue tokens (and no CSRF needed for bearer tokens, so this is the scope check).
    assert reader.post("/api/v1/tokens", json={"name": "x", "scopes": ["read"]}).status_code == 403
    # The secret is never stored or listed.
    listed = client.get("/api/v1/tokens").json()
    assert all("secret" not in t and secret not in str(t) for t in listed)


def test_revoked_token_stops_working_at_once(world: World) -> None:
    client, csrf = world.client("clinician")
    issued = client.post(
        "/api/v1/tokens", json={"name": "rw", "scopes": ["read", "write"]}, headers={"X-CSRF-Token": csrf}
    )
    token = issued.json()
    program = _bearer(world, token["secret"])
    assert program.get("/api/v1/me").status_code == 200
    assert client.delete(f"/api/v1/tokens/{token['id']}", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert program.get("/api/v1/me").status_code == 401


def test_requests_with_an_unknown_or_revoked_token_are_audited_without_the_secret(world: World) -> None:
    """Refused bearer tokens leave a `denied` row: in the token's clinic when it was revoked, as "unknown
    token" when nobody issued it; the secret (and its digest) appear nowhere in the trail."""
    from sqlalchemy import select

    from strigil.store.accounts import ApiToken
    from strigil.store.audit import AuditEvent

    client, csrf = world.client("clinician")
    token = client.post(
        "/api/v1/tokens", json={"name": "rw", "scopes": ["read"]}, headers={"X-CSRF-Token": csrf}
    ).json()
    assert client.delete(f"/api/v1/tokens/{token['id']}", headers={"X-CSRF-Token": csrf}).status_code == 200
    unknown = "strigil_" + "x" * 40
    assert _bearer(world, token["secret"]).get("/api/v1/patients").status_code == 401
    assert _bearer(world, unknown).get("/api/v1/dashboard").status_code == 401
    with world.db() as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.action == "denied")).all()
        digest = db.scalar(select(ApiToken.token_hash).where(ApiToken.public_id == token["id"]))
    revoked = [r for r in rows if r.resource_id == "GET /api/v1/patients"]
    assert [(r.username, r.clinic_id, r.channel) for r in revoked] == [("clinician1", 1, "api")]
    assert "revoked" in revoked[0].detail and token["prefix"] in revoked[0].detail
    stranger = [r for r in rows if r.resource_id == "GET /api/v1/dashboard"]
    assert [(r.username, r.clinic_id, r.account_id) for r in stranger] == [("unknown token", None, None)]
    for row in rows:
        text = " ".join(str(v) for v in (row.username, row.resource_id, row.detail))
        assert token["secret"] not in text and unknown not in text and str(digest) not in text


def test_non_admin_cannot_get_admin_scope(world: World) -> None:
    client, csrf = world.client("clinician")
    response = client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["admin"]}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422 and "'admin' needs an admin account" in response.json()["detail"]


def test_cookie_api_write_without_csrf_header_is_refused(world: World) -> None:
    client, _ = world.client("clinician")
    assert client.post("/api/v1/tokens", json={"name": "x", "scopes": ["read"]}).status_code == 403


def test_openapi_document_lists_the_api_routes(world: World) -> None:
    client = TestClient(world.app)
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/audit" in spec["paths"] and "/api/v1/tokens/{token_id}" in spec["paths"]
    assert all(path.startswith("/api/v1/") for path in spec["paths"])


def test_health_is_public_and_checks_the_database(world: World) -> None:
    assert TestClient(world.app).get("/api/v1/health").json() == {"status": "ok"}
