"""Accounts and sessions: temporary passwords, password changes, sign-out, token lifetimes, sign-in delays.

Web behaviour runs on the seeded SQLite world; the rules that live in the database (sign-in delays under
concurrency, resets of deactivated accounts, token lifetimes) run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from strigil.services import accounts as account_service
from strigil.services.clinics import ensure_clinic
from strigil.store.accounts import ApiToken, LoginAttempt
from strigil.store.database import Database
from strigil.web.security import COOKIE_NAME

PASSWORD = "correct horse battery staple"
TEMPORARY = "temporary passphrase given by the admin"
NEW = "my very own new passphrase"


def _login_token(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def _sign_in(world: Any, username: str, password: str) -> TestClient:
    client = TestClient(world.app, follow_redirects=False)
    form = {"username": username, "password": password, "csrf_token": _login_token(client)}
    answer = client.post("/login", data=form)
    assert answer.status_code == 303, answer.text[-300:]
    client.cookies.set(COOKIE_NAME, answer.cookies[COOKIE_NAME])
    return client


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account").text)
    assert found
    return found.group(1)


# --- a temporary password opens the account page only ------------------------------------------------


def test_a_temporary_password_opens_only_the_account_page(world: Any) -> None:
    admin, admin_csrf = world.client("admin")
    spare = world.ids[(1, "spare")]
    reset = admin.post(
        f"/api/v1/accounts/{spare}/reset-password",
        json={"password": TEMPORARY},
        headers={"X-CSRF-Token": admin_csrf},
    )
    assert reset.status_code == 200 and reset.json()["must_change_password"] is True
    client = _sign_in(world, "spare1", TEMPORARY)
    csrf = _csrf(client)
    # every patient page and API route, and minting tokens, is closed
    assert client.get("/api/v1/patients").status_code == 403
    assert "temporary password" in client.get("/api/v1/patients").json()["detail"]
    assert client.get("/").headers["location"] == "/account?must_change=1"
    assert client.get(f"/patients/{world.records[1]['patient_code']}").status_code == 303
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "x", "scopes": ["read"]}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 403
    )
    assert (
        client.post("/account/tokens", data={"name": "x", "scopes": "read", "csrf_token": csrf}).status_code
        == 303
    )
    with world.db() as db:
        assert db.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.account_id == spare)) == 0
        # a token that exists anyway (issued by a program with database access) is refused as well
        issued = account_service.issue_api_token(
            db, account_service.get_account(db, "spare1"), "p", ["read"], 1
        )
        db.commit()
    program = TestClient(world.app, headers={"Authorization": f"Bearer {issued.secret}"})
    assert program.get("/api/v1/patients").status_code == 403
    # the account page works, and changing the password opens everything again
    assert client.get("/account").status_code == 200
    changed = client.post(
        "/account/password", data={"current_password": TEMPORARY, "new_password": NEW, "csrf_token": csrf}
    )
    assert changed.status_code == 200
    assert client.get("/api/v1/patients").status_code == 200
    assert client.get("/").status_code == 200


# --- changing one's password ends the other sessions and the tokens ----------------------------------


def test_changing_ones_password_ends_the_other_sessions_and_every_token(world: Any) -> None:
    here = _sign_in(world, "clinician1", PASSWORD)
    elsewhere = _sign_in(world, "clinician1", PASSWORD)
    csrf = _csrf(here)
    minted = here.post(
        "/api/v1/tokens", json={"name": "sync", "scopes": ["read"]}, headers={"X-CSRF-Token": csrf}
    )
    program = TestClient(world.app, headers={"Authorization": f"Bearer {minted.json()['secret']}"})
    assert program.get("/api/v1/patients").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 200
    answer = here.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": NEW, "csrf_token": csrf}
    )
    assert answer.status_code == 200
    assert here.get("/api/v1/me").status_code == 200, "the session that changed the password goes on"
    assert elsewhere.get("/api/v1/me").status_code == 401, "another session survived the change"
    assert program.get("/api/v1/patients").status_code == 401, "a token survived the change"


# --- sign-out ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_sign_out_ends_the_session_even_without_a_valid_csrf_token(world: Any, token: str | None) -> None:
    client, _ = world.client("clinician")
    assert client.get("/api/v1/me").status_code == 200
    answer = client.post("/logout", data={} if token is None else {"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401, "the session outlived the sign-out"


# --- rules in the database: both databases -----------------------------------------------------------


def _account(database: Database, username: str = "sam") -> None:
    with database.unit_of_work() as db:
        clinic = ensure_clinic(db, "main", "Main")
        account_service.create_account(
            db, username=username, display_name="", role="clinician", clinic_id=clinic.id, password=PASSWORD
        )


def _try(database: Database, username: str, password: str, ip: str, now: dt.datetime) -> str:
    """'ok', 'refused' (checked and wrong) or 'wait N' (not checked)."""
    with database.unit_of_work() as db:
        try:
            account_service.authenticate(db, username, password, ip, now=now)
        except account_service.TooManyAttempts as exc:
            return f"wait {exc.retry_after}"
        except account_service.SignInRefused:
            return "refused"
    return "ok"


def test_resetting_a_deactivated_account_keeps_it_deactivated(database: Database) -> None:
    _account(database)
    with database.unit_of_work() as db:
        account_service.deactivate_account(db, "sam")
        account = account_service.reset_password(db, "sam", TEMPORARY)
        assert account.active is False
    assert _try(database, "sam", TEMPORARY, "10.0.0.1", account_service.utcnow()) == "refused"
    with database.unit_of_work() as db:  # the one way back in is reactivation, on purpose
        account_service.reactivate_account(db, "sam")
    assert _try(database, "sam", TEMPORARY, "10.0.0.2", account_service.utcnow()) == "ok"


def test_tokens_have_a_maximum_lifetime(database: Database) -> None:
    _account(database)
    with database.unit_of_work() as db:
        account = account_service.get_account(db, "sam")
        endless = account_service.issue_api_token(db, account, "asked for no end", ["read"], None)
        assert endless.token.expires_at is not None
        lifetime = endless.token.expires_at - endless.token.created_at
        assert abs(lifetime - dt.timedelta(days=account_service.MAX_TOKEN_DAYS)) < dt.timedelta(minutes=1)
        with pytest.raises(account_service.AccountError, match="expires_days"):
            account_service.issue_api_token(
                db, account, "too long", ["read"], account_service.MAX_TOKEN_DAYS + 1
            )
        # a token from before lifetimes were required: no end stored, issued long ago
        old = account_service.issue_api_token(db, account, "old", ["read"], 30)
        old.token.expires_at = None
        old.token.created_at = account_service.utcnow() - dt.timedelta(
            days=account_service.MAX_TOKEN_DAYS + 1
        )
        recent = account_service.issue_api_token(db, account, "recent", ["read"], 30)
        recent.token.expires_at = None
    with database.unit_of_work() as db:
        assert account_service.resolve_api_token(db, old.secret) is None
        assert account_service.resolve_api_token(db, recent.secret) is not None
        assert account_service.resolve_api_token(db, endless.secret) is not None


def test_wrong_passwords_slow_the_guesser_down_not_the_owner(database: Database) -> None:
    _account(database)
    rule = account_service.DELAY_PER_ADDRESS_AND_ACCOUNT
    start = account_service.utcnow()
    guesser = [_try(database, "sam", "a wrong guess", "10.6.6.6", start) for _ in range(rule.free)]
    assert guesser == ["refused"] * rule.free
    # the delay grows: 1 s, then 2 s, then 4 s after each further failure
    now = start
    for seconds in (1, 2, 4):
        assert _try(database, "sam", PASSWORD, "10.6.6.6", now) == f"wait {seconds}", (
            "the right password got through"
        )
        now += dt.timedelta(seconds=seconds)
        assert _try(database, "sam", "a wrong guess", "10.6.6.6", now) == "refused"
    # the owner, from their own address, is not locked out by someone else's failures
    assert _try(database, "sam", PASSWORD, "192.0.2.10", now) == "ok"


def test_many_addresses_guessing_one_account_slow_it_down_only_a_little(database: Database) -> None:
    _account(database)
    rule = account_service.DELAY_PER_ACCOUNT
    now = account_service.utcnow()
    for i in range(rule.free + 12):  # each address fails once: no per-address delay applies
        outcome = _try(database, "sam", "a wrong guess", f"10.1.{i // 250}.{i % 250}", now)
        if outcome.startswith("wait"):
            assert int(outcome.split()[1]) <= rule.cap.total_seconds()
        now += rule.cap  # waits out every delay
    waited = _try(database, "sam", PASSWORD, "192.0.2.10", now - rule.cap + dt.timedelta(seconds=1))
    assert waited.startswith("wait") and int(waited.split()[1]) <= rule.cap.total_seconds()
    assert _try(database, "sam", PASSWORD, "192.0.2.10", now) == "ok"


def test_the_delay_holds_when_thirty_wrong_passwords_arrive_at_once(database: Database) -> None:
    _account(database)
    now = account_service.utcnow()
    outcomes: list[str] = []
    ready = threading.Barrier(30)

    def guess() -> None:
        ready.wait()
        outcomes.append(_try(database, "sam", "a wrong guess", "10.6.6.6", now))

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 30
    free = account_service.DELAY_PER_ADDRESS_AND_ACCOUNT.free
    assert outcomes.count("refused") == free, f"{outcomes.count('refused')} checked, {free} allowed"
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(LoginAttempt)) == free
