"""Who is asking: sign-in cookies and API tokens, roles, scopes and CSRF checks, as FastAPI dependencies.

Every route that is not public declares its roles with `allow(...)`; the authorization matrix test
walks the app's routes and fails for any route without such a declaration.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, HTTPException, Request

from strigil.services import accounts as account_service
from strigil.services.audit import Actor
from strigil.web.database import DB

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "NotSignedIn",
    "PasswordChangeRequired",
    "Principal",
    "Proxies",
    "RoleGuard",
    "allow",
    "client_address",
    "optional_principal",
    "record_denial",
    "trusted_proxies",
]

COOKIE_NAME = "strigil_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotSignedIn(Exception):
    """Raised when a route needs a signed-in person and none is present (pages redirect, API says 401)."""


class PasswordChangeRequired(Exception):
    """Raised while an account must change its temporary password: only the account page works until then."""


@dataclass(frozen=True)
class Principal:
    """The signed-in person or program behind a request."""

    account_id: int
    username: str
    display_name: str
    role: str
    clinic_id: int
    via: str  # "cookie" or "token"
    scopes: frozenset[str] = field(default_factory=frozenset)
    csrf_token: str = ""
    ip: str = ""
    must_change_password: bool = False
    clinician_id: int | None = None  # the clinician record this account treats as (None: not linked)
    login_session_id: int | None = None  # the browser session (cookies only)

    @property
    def actor(self) -> Actor:
        """The audit trail's view of this principal."""
        return Actor(
            account_id=self.account_id,
            username=self.username,
            role=self.role,
            clinic_id=self.clinic_id,
            ip=self.ip,
            channel="api" if self.via == "token" else "web",
        )


Proxies = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def trusted_proxies(setting: str) -> Proxies:
    """The networks of `Settings.trusted_proxies` ("10.0.0.5, 192.168.1.0/24"); ValueError names a bad one."""
    networks = []
    for item in (part.strip() for part in setting.split(",")):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"STRIGIL_TRUSTED_PROXIES: {item!r} is not an address or network") from None
    return tuple(networks)


def _is_trusted(address: str, proxies: Proxies) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(request: Request) -> str:
    """Who sent the request: the peer, or — when the peer is a trusted proxy — the nearest address in
    X-Forwarded-For that is not one of the trusted proxies (each proxy appends the address it saw)."""
    peer = request.client.host if request.client else ""
    proxies: Proxies = getattr(request.app.state, "trusted_proxies", ())
    if not _is_trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _is_trusted(hop, proxies):
            return hop
    return peer


def optional_principal(request: Request, db: DB) -> Principal | None:
    """The principal from a bearer token or the sign-in cookie, or None (kept on the request for denials)."""
    principal = _principal(request, db)
    request.state.principal = principal
    return principal


async def record_denial(request: Request, status: int, reason: str) -> None:
    """Write a `denied` audit row for a signed-in person refused (403) or sent away (404), in their clinic.

    Called by the app's error handlers, after the request's own unit of work has ended (rolled back), in a
    short unit of work of its own. A trail that cannot be written must not turn a refusal into a crash.
    """
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return
    from sqlalchemy.exc import SQLAlchemyError

    from strigil.services import audit as audit_service

    def write() -> None:
        with request.app.state.sessionmaker() as db:
            target, detail = f"{request.method} {request.url.path}", f"{status}: {reason}"
            audit_service.record(db, principal.actor, "denied", "request", target, detail=detail)
            db.commit()

    try:
        await anyio.to_thread.run_sync(write)
    except SQLAlchemyError:
        logging.getLogger(__name__).exception("could not record a denied request in the audit trail")


def _record_refused_token(request: Request, secret: str, ip: str) -> None:
    """The audit row of a refused bearer token, in a unit of work of its own (the request's rolls back)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with request.app.state.sessionmaker() as db:
            target = f"{request.method} {request.url.path}"
            account_service.record_refused_token(db, secret, ip=ip, target=target)
            db.commit()
    except SQLAlchemyError:  # a trail that cannot be written must not turn a refusal into a crash
        logging.getLogger(__name__).exception("could not record a refused API token in the audit trail")


def _principal(request: Request, db: DB) -> Principal | None:
    ip = client_address(request)
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        found = account_service.resolve_api_token(db, authorization[7:].strip())
        if found is None:
            _record_refused_token(request, authorization[7:].strip(), ip)
            raise HTTPException(status_code=401, detail="the API token is unknown, revoked or expired")
        account, token = found
        return Principal(
            account_id=account.id,
            username=account.username,
            display_name=account.display_name,
            role=account.role,
            clinic_id=account.clinic_id,
            via="token",
            scopes=frozenset(token.scopes.split(",")),
            ip=ip,
            clinician_id=account.clinician_id,
            must_change_password=account.must_change_password,
        )
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    session_found = account_service.resolve_login_session(db, cookie)
    if session_found is None:
        return None
    account, login = session_found
    return Principal(
        account_id=account.id,
        username=account.username,
        display_name=account.display_name,
        role=account.role,
        clinic_id=account.clinic_id,
        via="cookie",
        scopes=frozenset(account_service.SCOPES),
        csrf_token=login.csrf_token,
        ip=ip,
        must_change_password=account.must_change_password,
        clinician_id=account.clinician_id,
        login_session_id=login.id,
    )


async def _submitted_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches it; the route reads the same form
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


class RoleGuard:
    """Dependency that admits only the given roles (and, for tokens, the scope the method needs).

    An account that must change its temporary password is admitted only where `before_password_change`.
    """

    def __init__(
        self, roles: frozenset[str], scope: str | None, before_password_change: bool = False
    ) -> None:
        self.roles = roles
        self.scope = scope
        self.before_password_change = before_password_change

    async def __call__(
        self, request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
    ) -> Principal:
        if principal is None:
            raise NotSignedIn()
        if principal.must_change_password and not self.before_password_change:
            raise PasswordChangeRequired()
        if principal.role not in self.roles:
            raise HTTPException(status_code=403, detail=f"a {principal.role} may not use this page")
        unsafe = request.method not in SAFE_METHODS
        if principal.via == "token":
            needed = self.scope or ("write" if unsafe else "read")
            if needed not in principal.scopes:
                raise HTTPException(status_code=403, detail=f"this API token lacks the {needed!r} scope")
        elif unsafe:
            submitted = await _submitted_csrf(request)
            if not submitted or not hmac.compare_digest(submitted, principal.csrf_token):
                raise HTTPException(
                    status_code=403, detail="the form's CSRF token is missing or wrong; reload the page"
                )
        return principal


def allow(*roles: str, scope: str | None = None, before_password_change: bool = False) -> Any:
    """Declare who may use a route: `principal: Annotated[Principal, allow("clinician")]`.

    `before_password_change=True` only for the account page, the one place open to a temporary password.
    """
    return Depends(RoleGuard(frozenset(roles), scope, before_password_change))
