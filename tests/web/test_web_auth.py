"""Signing in and out through the pages: cookies, CSRF, rate limiting, deactivation, password reset."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_world import PASSWORD, World

from strigil.services import accounts as account_service
from strigil.web.security import COOKIE_NAME


def _login_form(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def _sign_in(client: TestClient, username: str, password: str) -> int:
    token = _login_form(client)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token, "next": "/account"}
    )
    return response.status_code


def test_sign_in_sets_httponly_lax_cookie_and_opens_pages(world: World) -> None:
    client = TestClient(world.app, follow_redirects=False)
    token = _login_form(client)
    response = client.post(
        "/login",
        data={"username": "clinician1", "password": PASSWORD, "csrf_token": token, "next": "/account"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE_NAME))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/account").status_code == 200


def test_secure_cookie_flag_follows_settings(world: World) -> None:
    world.app.state.settings.secure_cookies = True
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    token = _login_form(client)
    response = client.post(
        "/login", data={"username": "clinician1", "password": PASSWORD, "csrf_token": token}
    )
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE_NAME))
    assert "Secure" in cookie


def test_login_without_the_forms_csrf_token_is_refused(world: World) -> None:
    client = TestClient(world.app, follow_redirects=False)
    _login_form(client)
    response = client.post(
        "/login", data={"username": "clinician1", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert COOKIE_NAME not in response.cookies


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(world: World) -> None:
    client = TestClient(world.app, follow_redirects=False)
    assert _sign_in(client, "clinician1", "not the password at all") == 401
    assert _sign_in(client, "nobody-here", "not the password at all") == 401


def test_failed_sign_ins_slow_the_guesser_down(world: World) -> None:
    client = TestClient(world.app, follow_redirects=False)
    for _ in range(account_service.DELAY_PER_ADDRESS_AND_ACCOUNT.free):
        assert _sign_in(client, "clinician1", "wrong password here") == 401
    # Even the right password waits while the delay runs (no evaluation, so no guess gets through).
    assert _sign_in(client, "clinician1", PASSWORD) == 429
    # Another account is not slowed down by someone guessing at clinician1.
    assert _sign_in(TestClient(world.app, follow_redirects=False), "researcher1", PASSWORD) == 303


def test_unsigned_page_redirects_to_login_and_api_says_401(world: World) -> None:
    client = TestClient(world.app, follow_redirects=False)
    page = client.get("/account")
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    assert client.get("/api/v1/me").status_code == 401


def test_form_post_without_csrf_token_is_refused(world: World) -> None:
    client, csrf = world.client("clinician")
    no_token = client.post("/account/tokens", data={"name": "x", "scopes": ["read"]})
    assert no_token.status_code == 403
    with_token = client.post("/account/tokens", data={"name": "x", "scopes": ["read"], "csrf_token": csrf})
    assert with_token.status_code == 200 and "stg_" in with_token.text


def test_logout_ends_the_session_on_the_server(world: World) -> None:
    client, csrf = world.client("clinician")
    secret = client.cookies.get(COOKIE_NAME)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    replay = TestClient(world.app, follow_redirects=False)
    replay.cookies.set(COOKIE_NAME, secret or "")
    assert replay.get("/api/v1/me").status_code == 401


def test_deactivated_account_loses_sessions_and_cannot_sign_in(world: World) -> None:
    victim, _ = world.client("clinician")
    admin, csrf = world.client("admin")
    account_id = world.ids[(1, "clinician")]
    confirmed = {"csrf_token": csrf, "confirm": "yes"}  # the page asks first (see test_web_admin_pages)
    assert admin.post(f"/admin/accounts/{account_id}/deactivate", data=confirmed).status_code == 200
    assert victim.get("/api/v1/me").status_code == 401
    assert _sign_in(TestClient(world.app, follow_redirects=False), "clinician1", PASSWORD) == 401


def test_password_reset_forces_a_change_at_next_sign_in(world: World) -> None:
    admin, csrf = world.client("admin")
    account_id = world.ids[(1, "clinician")]
    temporary = "temporary passphrase 42"
    response = admin.post(
        f"/admin/accounts/{account_id}/reset-password", data={"csrf_token": csrf, "password": temporary}
    )
    assert response.status_code == 200
    client = TestClient(world.app, follow_redirects=False)
    token = _login_form(client)
    signed = client.post(
        "/login", data={"username": "clinician1", "password": temporary, "csrf_token": token}
    )
    assert signed.headers["location"] == "/account?must_change=1"
    assert _sign_in(TestClient(world.app, follow_redirects=False), "clinician1", PASSWORD) == 401


def test_redirect_after_sign_in_stays_on_this_site(world: World) -> None:
    client = TestClient(world.app, follow_redirects=False)
    token = _login_form(client)
    response = client.post(
        "/login",
        data={"username": "clinician1", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"},
    )
    assert response.headers["location"] == "/"
