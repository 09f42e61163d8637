"""A person's own account: change the password, issue and revoke API tokens (pages and JSON)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from strigil.services import accounts as account_service
from strigil.services import record_ids
from strigil.services.errors import NotFound
from strigil.web.api_errors import CODE_CHARS, LIST_ITEMS, TokenRef
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.security import Principal, allow

if TYPE_CHECKING:
    from strigil.store.accounts import Account, ApiToken

__all__ = [
    "EVERYONE",
    "IssuedTokenOut",
    "Me",
    "OwnAccount",
    "TokenOut",
    "TokenRequest",
    "account_page",
    "api",
    "change_password_page",
    "issue_token",
    "issue_token_page",
    "list_tokens",
    "me",
    "pages",
    "revoke_token",
    "revoke_token_page",
]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
api = APIRouter(prefix="/api/v1", tags=["account"], route_class=UnitOfWorkRoute)
EVERYONE = ("admin", "clinician", "researcher")


class Me(BaseModel):
    """The signed-in account."""

    username: str
    display_name: str
    role: str
    clinic_id: str = Field(description="the clinic's public id")
    via: str
    scopes: list[str]


class TokenRequest(BaseModel):
    """Ask for a new API token."""

    name: str = Field(min_length=1, max_length=128)
    scopes: list[Annotated[str, StringConstraints(max_length=CODE_CHARS)]] = Field(
        min_length=1, max_length=LIST_ITEMS, description="read, write and/or admin"
    )
    expires_days: int | None = Field(
        default=90,
        ge=1,
        le=account_service.MAX_TOKEN_DAYS,
        description=f"days until the token ends; null: the longest allowed, {account_service.MAX_TOKEN_DAYS}",
    )


class TokenOut(BaseModel):
    """An API token as listed (never its secret)."""

    id: str = Field(description="the token's public id")
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class IssuedTokenOut(TokenOut):
    """A new token: `secret` is shown this once and never stored."""

    secret: str


def _token_out(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.public_id,
        name=token.name,
        prefix=token.prefix,
        scopes=token.scopes.split(","),
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
    )


def _token(db: DB, principal: Principal, token_id: str) -> int:
    """The integer id of a token of the caller's clinic named by its public id (whose it is, the service
    checks); any other: the same 404 as a token of someone else."""
    try:
        return record_ids.resolve(db, principal.clinic_id, "token", token_id)
    except NotFound:
        raise account_service.AccountNotFound(f"token_id: no token {token_id[:40]} of yours") from None


def _account(db: DB, principal: Principal) -> Account:
    return account_service.get_account(db, principal.username)


@api.get("/me", response_model=Me)
def me(db: DB, principal: Annotated[Principal, allow(*EVERYONE)]) -> Me:
    """Who am I (user name, role, clinic, and how I signed in)."""
    return Me(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        clinic_id=record_ids.public_id_of(db, "clinic", principal.clinic_id),
        via=principal.via,
        scopes=sorted(principal.scopes),
    )


@api.get("/tokens", response_model=list[TokenOut])
def list_tokens(db: DB, principal: Annotated[Principal, allow(*EVERYONE)]) -> list[TokenOut]:
    """My API tokens (digests only)."""
    return [_token_out(t) for t in account_service.list_api_tokens(db, _account(db, principal))]


@api.post("/tokens", response_model=IssuedTokenOut, status_code=201)
def issue_token(
    body: TokenRequest, db: DB, principal: Annotated[Principal, allow(*EVERYONE)]
) -> IssuedTokenOut:
    """Issue a scoped API token for a program; the secret is returned once."""
    issued = account_service.issue_api_token(
        db, _account(db, principal), body.name, body.scopes, body.expires_days
    )
    return IssuedTokenOut(**_token_out(issued.token).model_dump(), secret=issued.secret)


@api.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: TokenRef, db: DB, principal: Annotated[Principal, allow(*EVERYONE)]) -> TokenOut:
    """Revoke one of my tokens (admins: any token of their clinic)."""
    return _token_out(
        account_service.revoke_api_token(db, _account(db, principal), _token(db, principal, token_id))
    )


def _account_page(
    request: Request, db: DB, principal: Principal, *, status: int = 200, **extra: object
) -> Response:
    tokens = account_service.list_api_tokens(db, _account(db, principal))
    return render(
        request,
        "account.html",
        principal,
        status_code=status,
        tokens=tokens,
        scopes=account_service.SCOPES,
        **extra,
    )


# The account page and its password form are all that a temporary password opens.
OwnAccount = Annotated[Principal, allow(*EVERYONE, before_password_change=True)]


@pages.get("/account")
def account_page(request: Request, db: DB, principal: OwnAccount, must_change: int = 0) -> Response:
    """My account: password and API tokens."""
    return _account_page(
        request, db, principal, must_change=bool(must_change or principal.must_change_password)
    )


@pages.post("/account/password")
def change_password_page(
    request: Request,
    db: DB,
    principal: OwnAccount,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
) -> Response:
    """Change my own password (the current one is required); my other sessions and my API tokens end."""
    try:
        account_service.change_password(
            db,
            _account(db, principal),
            current_password,
            new_password,
            keep_session=principal.login_session_id,
        )
    except account_service.AccountError as exc:
        return _account_page(request, db, principal, status=422, password_error=str(exc))
    changed = dataclasses.replace(principal, must_change_password=False)
    return _account_page(
        request,
        db,
        changed,
        flash="Your password has been changed; your other sessions and API tokens ended.",
    )


@pages.post("/account/tokens")
def issue_token_page(
    request: Request,
    db: DB,
    principal: Annotated[Principal, allow(*EVERYONE)],
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    expires_days: Annotated[int, Form()] = 90,
) -> Response:
    """Issue an API token from the account page; its secret is shown once."""
    try:
        issued = account_service.issue_api_token(
            db, _account(db, principal), name, scopes or [], expires_days
        )
    except account_service.AccountError as exc:
        return _account_page(request, db, principal, status=422, token_error=str(exc))
    return _account_page(request, db, principal, new_secret=issued.secret)


@pages.post("/account/tokens/{token_id}/revoke")
def revoke_token_page(
    request: Request, token_id: TokenRef, db: DB, principal: Annotated[Principal, allow(*EVERYONE)]
) -> Response:
    """Revoke a token from the account page."""
    token = account_service.revoke_api_token(db, _account(db, principal), _token(db, principal, token_id))
    return _account_page(request, db, principal, flash=f"Token {token.name} ({token.prefix}…) revoked.")
