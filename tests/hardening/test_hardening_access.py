"""Access: audit completeness, session fixation, CSRF on every form, password policy, sign-in rate limits.

The authorization matrix (every route × role × own/other clinic) is the web area's
tests/web/test_web_authorization_matrix.py; it runs in the same suite and is not repeated here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hostile import row_counts, without_audit
from sqlalchemy import create_engine, func, select

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.audit import AuditEvent
from strigil.web.app import create_app, iter_routes
from strigil.web.security import COOKIE_NAME

TODAY = dt.date.today().isoformat()
PASSWORD = "correct horse battery staple"


def _last_audit_id(world: Any) -> int:
    with world.db() as db:
        return int(db.scalar(select(func.max(AuditEvent.id))) or 0)


def _new_events(world: Any, after: int) -> list[AuditEvent]:
    with world.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)))


# --- audit completeness ------------------------------------------------------------------------------


def _session_doc() -> dict[str, Any]:
    step = {"region": "elbow", "side": "right", "instrument": "graston_set", "stroke": "sweep",
            "angle_deg": 45, "direction": "along", "pressure": "moderate", "duration_s": 90}  # fmt: skip
    return {
        "clinician": "c1",
        "date": TODAY,
        "steps": [step],
        "measurements": [{"measure": "nprs", "timing": "pre", "value": 5}],
        "tolerance": "well_tolerated",
        "exercise_delivered": True,
    }


def _notes_to_walk(world: Any) -> dict[str, int]:
    """Two sessions clinician1 recorded (its user name is their clinician's code, so it may sign their
    notes), an open adverse response, and the episodes (and patient) of A002 and A003 to void; made once."""
    made = getattr(world, "_notes_to_walk", None)
    if made is not None:
        return dict(made)
    from strigil.services import clinics, outcomes, patients, sessions
    from strigil.services.record_ids import public_id_of

    rec = world.records[1]
    episode = int(rec["episode_row"])  # the services take the database's ids; URLs name public ids
    with world.db() as db:
        one = {"code": "clinician1", "name": "C One", "profession": "athletic_trainer", "years_experience": 2}
        clinics.add_clinician(db, 1, one)
        doc = {**_session_doc(), "episode_id": episode, "clinician": "clinician1"}
        first = public_id_of(db, "session", sessions.record_session(db, 1, doc, by="clinician1").id)
        second = public_id_of(db, "session", sessions.record_session(db, 1, doc, by="clinician1").id)
        open_ = outcomes.add_adverse_response(
            db, 1, episode, {"kind": "soreness", "severity": "mild", "onset_on": TODAY, "region": "shoulder"}
        ).public_id
        a002 = patients.show_patient(db, 1, "A002")
        a003 = patients.show_patient(db, 1, "A003")
        db.commit()
    made = {
        "first": first,
        "second": second,
        "open": open_,
        "void_page": a002.episodes[0].public_id,
        "void_page_patient": a002.id,
        "void_api": a003.episodes[0].public_id,
        "void_api_patient": a003.id,
    }
    world._notes_to_walk = made
    return dict(made)


def _patient_data_calls(world: Any) -> list[tuple[str, str, dict[str, Any], str, int | None]]:
    """(method, url, request kwargs, resource the audit row must name, patient id it must carry)."""
    rec = world.records[1]
    code, episode, adverse = rec["patient_code"], rec["episode_id"], rec["adverse_id"]
    walk = _notes_to_walk(world)
    first, second = walk["first"], walk["second"]
    reason = {"reason": "the audit walk does this"}
    with world.db() as db:
        from strigil.services.patients import find_patient

        patient = find_patient(db, 1, code).id
    plan = {
        "condition": "lateral_elbow_tendinopathy", "region": "elbow", "side": "left",
        "target_tissue": "tendon", "onset_date": "2025-01-01", "opened_on": TODAY, "planned_iastm": True,
        "planned_co_interventions": ["strengthening"],
        "consent": {"given_on": TODAY, "explained": ["bruising", "alternatives", "exercise_programme"]},
    }  # fmt: skip
    return [
        ("GET", "/api/v1/patients", {}, "patient_list", None),
        ("POST", "/api/v1/patients", {"json": {"code": "AUD1", "birth_year": 1990, "sex": "male"}},
         "patient", -1),
        ("GET", f"/api/v1/patients/{code}", {}, "patient", patient),
        ("POST", f"/api/v1/patients/{code}/episodes", {"json": plan}, "episode", patient),
        ("GET", f"/api/v1/episodes/{episode}", {}, "episode", patient),
        ("POST", f"/api/v1/episodes/{episode}/sessions", {"json": _session_doc()}, "session", patient),
        ("POST", f"/api/v1/episodes/{episode}/measurements",
         {"json": {"measure": "nprs", "value": 3, "taken_on": TODAY}}, "measurement", patient),
        ("POST", f"/api/v1/episodes/{episode}/adverse-responses",
         {"json": {"kind": "soreness", "severity": "mild", "onset_on": TODAY}}, "adverse_response", patient),
        ("POST", f"/api/v1/adverse-responses/{adverse}/resolve", {"json": {"resolved_on": TODAY}},
         "adverse_response", patient),
        ("POST", f"/api/v1/episodes/{episode}/screening", {"json": {"findings": []}}, "screening", patient),
        ("POST", f"/api/v1/episodes/{episode}/screenings", {"json": {"region": "elbow", "findings": []}},
         "screening", patient),
        ("GET", "/api/v1/dashboard", {}, "dashboard", None),
        ("GET", "/", {}, "dashboard", None),
        ("GET", "/patients", {}, "patient_list", None),
        ("GET", f"/patients/{code}", {}, "patient", patient),
        ("GET", f"/episodes/{episode}", {}, "episode", patient),
        ("GET", f"/episodes/{episode}/sessions/new", {}, "", patient),
        ("GET", f"/episodes/{episode}/sessions/new?from=last", {}, "", patient),
        ("POST", f"/episodes/{episode}/sessions/measures", {"data": {"m-0-measure": "rom_deg"}}, "episode",
         patient),
        ("POST", f"/episodes/{episode}/sessions/template",
         {"data": {"template_name": "Audit walk", "step-0-stroke": "sweep"}}, "episode", patient),
        ("POST", f"/episodes/{episode}/exercises", {"data": {"ex-0-exercise": "Squat", "ex-0-sets": "3",
         "ex-0-repetitions": "10", "ex-0-frequency": "daily"}}, "episode", patient),
        ("GET", f"/episodes/{episode}/handout", {}, "home_exercise_handout", patient),
        ("GET", f"/patients/{code}/summary", {}, "", patient),
        ("POST", f"/episodes/{episode}/screening", {"data": {"intolerance": ""}}, "screening", patient),
        ("POST", f"/episodes/{episode}/sessions/screening", {"data": {"finding": "open_wound"}}, "screening",
         patient),
        # the session note: read, print, sign, amend, add to, void (pages and API)
        ("GET", f"/sessions/{first}", {}, "session", patient),
        ("GET", f"/sessions/{first}/print", {}, "session", patient),
        ("GET", f"/episodes/{episode}/notes/print", {}, "episode", patient),
        ("GET", f"/api/v1/sessions/{first}/note", {}, "session", patient),
        ("POST", f"/sessions/{first}/sign", {"data": {}}, "session", patient),
        ("POST", f"/sessions/{first}/amend", {"data": {"notes": "walked", "reason": "audit walk"}}, "session",
         patient),
        ("POST", f"/sessions/{first}/addenda", {"data": {"text": "walked"}}, "session", patient),
        ("POST", f"/api/v1/sessions/{second}/sign", {}, "session", patient),
        ("POST", f"/api/v1/sessions/{second}/amendments",
         {"json": {"changes": {"notes": "walked"}, "reason": "audit walk"}}, "session", patient),
        ("POST", f"/api/v1/sessions/{second}/addenda", {"json": {"on": TODAY, "text": "walked"}}, "session",
         patient),
        ("POST", f"/api/v1/sessions/{second}/void", {"json": reason}, "session", patient),
        ("POST", f"/sessions/{first}/void", {"data": reason}, "session", patient),
        ("POST", f"/adverse-responses/{walk['open']}/resolve", {"data": {"resolved_on": TODAY, "next": "/"}},
         "adverse_response", patient),
        # discharge, its summary and letter, reopen; void an episode (pages and API)
        ("GET", f"/episodes/{episode}/discharge", {}, "episode", patient),
        ("GET", f"/api/v1/episodes/{episode}/discharge-summary", {}, "episode", patient),
        ("POST", f"/episodes/{episode}/discharge", {"data": {"on": TODAY, "reason": "goals_met"}}, "episode",
         patient),
        ("GET", f"/episodes/{episode}/discharge/letter", {}, "episode", patient),
        ("POST", f"/episodes/{episode}/reopen", {"data": reason}, "episode", patient),
        ("POST", f"/api/v1/episodes/{episode}/discharge", {"json": {"on": TODAY, "reason": "plateau"}},
         "episode", patient),
        ("POST", f"/api/v1/episodes/{episode}/reopen", {"json": reason}, "episode", patient),
        ("POST", f"/episodes/{walk['void_page']}/void", {"data": reason}, "episode",
         walk["void_page_patient"]),
        ("POST", f"/api/v1/episodes/{walk['void_api']}/void", {"json": reason}, "episode",
         walk["void_api_patient"]),
        ("POST", f"/api/v1/episodes/{episode}/close", {"json": {"closed_on": TODAY, "reason": "discharged"}},
         "episode", patient),
    ]  # fmt: skip


def _admin_patient_data_calls(world: Any) -> list[tuple[str, str, dict[str, Any], str, int | None]]:
    """The admin's privacy routes (export, find, erase), in the same shape; the erasures come last."""
    rec = world.records[1]
    code, second = str(rec["patient_code"]), "A001"
    with world.db() as db:
        from strigil.services.patients import find_patient

        patient, other = find_patient(db, 1, code).id, find_patient(db, 1, second).id
    return [
        ("GET", f"/api/v1/patients/{code}/export", {}, "patient", patient),
        ("GET", f"/admin/privacy?code={code}", {}, "patient", patient),
        ("POST", f"/admin/privacy/{second}/erase", {"data": {"confirm": second, "reason": "audit walk"}},
         "patient", other),
        ("POST", f"/api/v1/patients/{code}/erase", {"json": {"confirm": code, "reason": "audit walk"}},
         "patient", patient),
    ]  # fmt: skip


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_every_read_and_write_of_patient_data_leaves_its_audit_row(world: Any, role: str) -> None:
    client, csrf = world.client(role)
    calls = _patient_data_calls(world) if role == "clinician" else _admin_patient_data_calls(world)
    missing = []
    for method, url, kwargs, resource, patient in calls:
        if method == "POST" and "data" in kwargs:
            kwargs = {"data": {**kwargs["data"], "csrf_token": csrf}}
        before = _last_audit_id(world)
        response = client.request(method, url, headers={"X-CSRF-Token": csrf}, **kwargs)
        assert response.status_code < 400, f"{method} {url}: {response.status_code} {response.text[:200]}"
        rows = [e for e in _new_events(world, before) if e.username == f"{role}1" and e.clinic_id == 1]
        fitting = [
            e
            for e in rows
            if (not resource or e.resource == resource)
            and (patient is None or (patient == -1 and e.patient_id) or e.patient_id == patient)
            and e.ip
            and e.channel == "web"
            and e.at is not None
        ]
        if not fitting:
            missing.append(f"{method} {url}: rows {[(e.action, e.resource, e.patient_id) for e in rows]}")
    heading = "calls without a fitting audit row (resource, patient, who, from where):\n"
    assert not missing, heading + "\n".join(missing)


def test_every_patient_data_route_is_in_the_audit_walk(world: Any) -> None:
    """A new clinical route cannot escape the audit walk above: it must be listed there."""
    app = create_app(Settings(database_url="sqlite://"), engine=create_engine("sqlite://"))
    clinical = {
        (m, p)
        for m, p, _ in iter_routes(app)
        if any(k in p for k in ("/patients", "/episodes", "/adverse-responses", "/dashboard", "/sessions"))
        and p not in ("/episodes/{episode_id}/sessions/steps", "/episodes/{episode_id}/sessions")
    } | {("GET", "/")}
    walked = set()
    for method, url, *_ in _patient_data_calls(world) + _admin_patient_data_calls(world):
        pattern = re.sub(r"/(A000|AUD1|[0-9a-f]{32})(?=/|$)", "/{}", url)
        walked.add((method, pattern))
    normalised = {(m, re.sub(r"\{[a-z_]+\}", "{}", p)) for m, p in clinical}
    form_posts = {("POST", "/patients"), ("POST", "/patients/{}/episodes")}  # same services as the API rows
    assert normalised - walked - form_posts == set()


# --- session fixation --------------------------------------------------------------------------------


def _login_token(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def test_sign_in_issues_a_new_session_id_never_the_planted_one(world: Any) -> None:
    # The attacker signs in to their own account and plants that session id in the victim's browser.
    with world.db() as db:
        attacker = account_service.get_account(db, "researcher1")
        planted, _ = account_service.start_login_session(db, attacker, "10.6.6.6")
        db.commit()
    victim = TestClient(world.app, follow_redirects=False)
    token = _login_token(victim)  # the sign-in form was open before the cookie was planted
    victim.cookies.set(COOKIE_NAME, planted)
    signed = victim.post("/login", data={"username": "clinician1", "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 303
    issued = signed.cookies.get(COOKIE_NAME)
    assert issued and issued != planted
    # The planted id still belongs to the attacker only: it never gained the victim's rights.
    attacker_view = TestClient(world.app)
    attacker_view.cookies.set(COOKIE_NAME, planted)
    assert attacker_view.get("/api/v1/me").json()["username"] == "researcher1"
    assert attacker_view.get("/api/v1/patients").status_code == 403
    # An invented id is simply ignored (no session is created from a client-chosen value).
    fresh = TestClient(world.app, follow_redirects=False)
    fresh.cookies.set(COOKIE_NAME, "attacker-chosen-value")
    token = _login_token(fresh)
    signed = fresh.post("/login", data={"username": "clinician1", "password": PASSWORD, "csrf_token": token})
    assert signed.cookies.get(COOKIE_NAME) not in (None, "attacker-chosen-value")


# --- CSRF on every form post -------------------------------------------------------------------------


def _form_posts() -> list[str]:
    app = create_app(Settings(database_url="sqlite://"), engine=create_engine("sqlite://"))
    # Sign-in has its own double-submit token; sign-out needs none (test_hardening_accounts.py).
    public = ("/login", "/logout")
    return [
        p for m, p, _ in iter_routes(app) if m == "POST" and not p.startswith("/api/") and p not in public
    ]


def _fill(path: str, world: Any) -> str:
    rec = world.records[1]
    return (
        path.replace("{patient_code}", str(rec["patient_code"]))
        .replace("{episode_id}", str(rec["episode_id"]))
        .replace("{account_id}", str(world.ids[(1, "spare")]))
        .replace("{token_id}", "1")
    )


@pytest.mark.parametrize("path", _form_posts())
def test_form_post_without_or_with_a_wrong_csrf_token_is_refused(world: Any, path: str) -> None:
    role = "admin" if path.startswith("/admin") else "researcher" if path.startswith("/meta") else "clinician"
    client, csrf = world.client(role)
    url = _fill(path, world)
    before = without_audit(row_counts(world.engine))
    for token in (None, "", "wrong-" + csrf[6:], csrf.upper()):
        data = {"password": "another fine passphrase", "code": "CSRF1", "birth_year": "1990", "sex": "male"}
        if token is not None:
            data["csrf_token"] = token
        response = client.post(url, data=data)
        assert response.status_code == 403, f"POST {path} with csrf={token!r}: {response.status_code}"
    after = without_audit(row_counts(world.engine))
    assert after == before


def test_api_with_a_cookie_but_no_csrf_header_is_refused(world: Any) -> None:
    client, csrf = world.client("clinician")
    body = {"code": "CSRF2", "birth_year": 1990, "sex": "male"}
    assert client.post("/api/v1/patients", json=body).status_code == 403
    assert client.post("/api/v1/patients", json=body, headers={"X-CSRF-Token": "x" + csrf}).status_code == 403
    assert client.post("/api/v1/patients", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201


# --- password policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short pass", "at least 12"),
        ("x" * 129, "at most 128"),
        ("aaaaaaaaaaaaaaaa", "too common or too repetitive"),
        ("password1234", "too common"),
        ("{user} is my passphrase", "user name"),
    ],
)
def test_password_policy_on_account_creation_reset_and_change(world: Any, password: str, reason: str) -> None:
    admin, csrf = world.client("admin")
    created = admin.post(
        "/api/v1/accounts",
        json={"username": "newperson", "role": "clinician", "password": password.format(user="newperson")},
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 422 and reason in created.text, created.text
    spare = world.ids[(1, "spare")]
    reset = admin.post(
        f"/api/v1/accounts/{spare}/reset-password",
        json={"password": password.format(user="spare1")},
        headers={"X-CSRF-Token": csrf},
    )
    assert reset.status_code == 422, reset.text
    with world.db() as db, pytest.raises(account_service.AccountError, match="password"):
        account = account_service.get_account(db, "clinician1")
        account_service.change_password(db, account, PASSWORD, password.format(user="clinician1"))
    ok = admin.post(
        "/api/v1/accounts",
        json={"username": "newperson", "role": "clinician", "password": "a perfectly long passphrase"},
        headers={"X-CSRF-Token": csrf},
    )
    assert ok.status_code in (200, 201), ok.text


def test_password_is_stored_as_argon2id_only(world: Any) -> None:
    with world.db() as db:
        account = account_service.get_account(db, "clinician1")
        assert account.password_hash.startswith("$argon2id$") and PASSWORD not in account.password_hash


# --- sign-in rate limiting ---------------------------------------------------------------------------


def _attempt(world: Any, username: str, password: str) -> int:
    client = TestClient(world.app, follow_redirects=False)
    token = _login_token(client)
    form = {"username": username, "password": password, "csrf_token": token}
    return client.post("/login", data=form).status_code


def test_one_address_guessing_many_names_is_stopped(world: Any) -> None:
    # One address spreads its guesses over many names; the per-account delays are in
    # tests/hardening/test_hardening_accounts.py.
    free = account_service.DELAY_PER_ADDRESS.free
    statuses = [_attempt(world, f"guess{i}", "not the right one") for i in range(free)]
    assert set(statuses) == {401}
    assert _attempt(world, "clinician1", PASSWORD) == 429, "the address is not slowed down"
    with world.db() as db:
        from strigil.store.accounts import LoginAttempt

        admitted = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.succeeded.is_(True))
        assert db.scalar(admitted) == 0, "a sign-in succeeded while the address had to wait"
