"""Signing in and out of the web pages (programs use API tokens instead)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from strigil.services import accounts as account_service
from strigil.services import audit as audit_service
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.security import COOKIE_NAME, client_address, optional_principal

__all__ = [
    "LOGIN_CSRF_COOKIE",
    "login",
    "login_form",
    "logout",
    "router",
]

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

# Before sign-in there is no session to hold a CSRF token, so the login form uses a double-submit cookie.
LOGIN_CSRF_COOKIE = "strigil_login_csrf"


def _safe_next(target: str) -> str:
    # Only same-site paths: never redirect a freshly signed-in person to another site.
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _login_page(
    request: Request, *, next_: str, username: str = "", error: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status_code=status,
        login_csrf=token,
        next=next_,
        username=username,
        error=error,
    )
    secure = request.app.state.settings.secure_cookies
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure, max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, db: DB, next: str = "/") -> Response:
    """The sign-in page (a signed-in person goes straight on)."""
    if optional_principal(request, db) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    db: DB,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password (rate-limited), open a session and set the HttpOnly cookie."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        return _login_page(
            request,
            next_=_safe_next(next),
            username=username,
            error="The form expired; please sign in again.",
            status=403,
        )
    ip = client_address(request)
    try:
        account = account_service.authenticate(db, username.strip(), password, ip)
    except account_service.TooManyAttempts as exc:
        _refused_sign_in(db, username.strip(), ip, f"refused: wait {exc.retry_after} s")
        response = _login_page(request, next_=_safe_next(next), username=username, error=str(exc), status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except account_service.SignInRefused:
        _refused_sign_in(db, username.strip(), ip, "wrong user name or password, or deactivated")
        return _login_page(
            request,
            next_=_safe_next(next),
            username=username,
            error="Wrong user name or password, or the account is deactivated.",
            status=401,
        )
    secret, _ = account_service.start_login_session(db, account, ip)
    actor = audit_service.Actor(account.id, account.username, account.role, account.clinic_id, ip, "web")
    audit_service.record(db, actor, "login", "account", account.id)
    target = "/account?must_change=1" if account.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    secure = request.app.state.settings.secure_cookies
    response.set_cookie(COOKIE_NAME, secret, httponly=True, samesite="lax", secure=secure, path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _refused_sign_in(db: DB, username: str, ip: str, reason: str) -> None:
    account_service.record_refused_sign_in(db, username, ip, reason, channel="web")
    db.commit()  # the refusal stays on record though the answer is an error


@router.post("/logout")
def logout(request: Request, db: DB) -> Response:
    """End the session (the cookie stops working at once) and go back to the sign-in page.

    No CSRF token is needed: signing out only ever takes access away, so a forged sign-out harms nobody,
    while a sign-out refused for a stale form would leave a session open on a shared computer.
    """
    principal = optional_principal(request, db)
    if principal is not None:
        account_service.end_login_session(db, request.cookies.get(COOKIE_NAME, ""))
        audit_service.record(db, principal.actor, "logout", "account", principal.account_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
