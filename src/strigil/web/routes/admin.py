"""Clinic administration: accounts of the admin's own clinic (create, deactivate, reset password)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from strigil.services import accounts as account_service
from strigil.services import audit as audit_service
from strigil.services import clinics, record_ids
from strigil.services.errors import NotFound
from strigil.web.api_errors import CODE_CHARS, AccountRef
from strigil.web.database import DB, UnitOfWorkRoute
from strigil.web.pages import render
from strigil.web.security import Principal, allow

if TYPE_CHECKING:
    from strigil.store.accounts import Account

__all__ = [
    "LEAST_PRIVILEGE_FIRST",
    "AccountOut",
    "NewAccount",
    "NewPassword",
    "accounts_page",
    "api",
    "create_account",
    "create_account_page",
    "deactivate",
    "deactivate_page",
    "link_page",
    "list_accounts",
    "pages",
    "reactivate_page",
    "reset",
    "reset_page",
]

pages = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)
# the roles as the add-account form offers them: the least privilege first, and chosen unless changed
# (a researcher sees aggregates of five or more patients, never a record)
LEAST_PRIVILEGE_FIRST = ("researcher", "clinician", "admin")
assert set(LEAST_PRIVILEGE_FIRST) == set(account_service.ROLES)
api = APIRouter(prefix="/api/v1", tags=["accounts"], route_class=UnitOfWorkRoute)


class AccountOut(BaseModel):
    """An account as an admin sees it (never the password hash)."""

    id: str = Field(description="the account's public id")
    username: str
    display_name: str
    role: str
    clinic_id: str = Field(description="the clinic's public id")
    active: bool
    must_change_password: bool
    created_at: dt.datetime


class NewAccount(BaseModel):
    """Create an account in the admin's own clinic."""

    username: str = Field(min_length=3, max_length=64)
    display_name: str = Field(default="", max_length=128)
    role: str = Field(max_length=CODE_CHARS, description="admin, clinician or researcher")
    password: str = Field(min_length=1, max_length=256)


class NewPassword(BaseModel):
    """An admin sets a temporary password; the person must change it at next sign-in."""

    password: str = Field(min_length=1, max_length=256)


def _out(db: DB, a: Account) -> AccountOut:
    return AccountOut(
        id=a.public_id,
        username=a.username,
        display_name=a.display_name,
        role=a.role,
        clinic_id=record_ids.public_id_of(db, "clinic", a.clinic_id),
        active=a.active,
        must_change_password=a.must_change_password,
        created_at=a.created_at,
    )


def _own_account(db: DB, principal: Principal, account_id: str) -> Account:
    try:
        found = record_ids.resolve(db, principal.clinic_id, "account", account_id)
    except NotFound:
        found = None
    account = None if found is None else account_service.find_clinic_account(db, principal.clinic_id, found)
    if account is None:
        raise HTTPException(status_code=404, detail=f"no account {account_id[:40]} in your clinic")
    return account


@api.get("/accounts", response_model=list[AccountOut])
def list_accounts(db: DB, principal: Annotated[Principal, allow("admin", scope="admin")]) -> list[AccountOut]:
    """The accounts of my clinic."""
    return [_out(db, a) for a in account_service.list_accounts(db, principal.clinic_id)]


@api.post("/accounts", response_model=AccountOut, status_code=201)
def create_account(
    body: NewAccount, db: DB, principal: Annotated[Principal, allow("admin", scope="admin")]
) -> AccountOut:
    """Create an account in my clinic."""
    account = account_service.create_account(
        db,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        clinic_id=principal.clinic_id,
        password=body.password,
    )
    audit_service.record(db, principal.actor, "create", "account", account.id)
    return _out(db, account)


@api.post("/accounts/{account_id}/deactivate", response_model=AccountOut)
def deactivate(
    account_id: AccountRef, db: DB, principal: Annotated[Principal, allow("admin", scope="admin")]
) -> AccountOut:
    """Deactivate an account of my clinic: its sessions and tokens stop working at once."""
    account = _own_account(db, principal, account_id)
    if account.id == principal.account_id:
        raise HTTPException(status_code=422, detail="account_id: you cannot deactivate your own account")
    account_service.deactivate_account(db, account.username)
    audit_service.record(db, principal.actor, "update", "account", account.id, detail="deactivated")
    return _out(db, account)


@api.post("/accounts/{account_id}/reset-password", response_model=AccountOut)
def reset(
    account_id: AccountRef,
    body: NewPassword,
    db: DB,
    principal: Annotated[Principal, allow("admin", scope="admin")],
) -> AccountOut:
    """Set a temporary password for an account of my clinic."""
    account = _own_account(db, principal, account_id)
    account_service.reset_password(db, account.username, body.password)
    audit_service.record(db, principal.actor, "update", "account", account.id, detail="password reset")
    return _out(db, account)


def _accounts_page(
    request: Request, db: DB, principal: Principal, *, status: int = 200, **extra: object
) -> Response:
    return render(
        request,
        "admin_accounts.html",
        principal,
        status_code=status,
        accounts=account_service.list_accounts(db, principal.clinic_id),
        roles=LEAST_PRIVILEGE_FIRST,
        clinicians=clinics.list_clinicians(db, principal.clinic_id),
        **extra,
    )


@pages.get("/admin/accounts")
def accounts_page(request: Request, db: DB, principal: Annotated[Principal, allow("admin")]) -> Response:
    """The accounts of my clinic, with forms to add, deactivate and reset."""
    return _accounts_page(request, db, principal)


@pages.post("/admin/accounts")
def create_account_page(
    request: Request,
    db: DB,
    principal: Annotated[Principal, allow("admin")],
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "researcher",
    password: Annotated[str, Form()] = "",
    clinician: Annotated[str, Form()] = "",
) -> Response:
    """Add an account from the admin page (the least privilege unless another role is chosen)."""
    try:
        account = account_service.create_account(
            db,
            username=username,
            display_name=display_name,
            role=role,
            clinic_id=principal.clinic_id,
            password=password,
            clinician=clinician or None,
        )
    except account_service.AccountError as exc:
        return _accounts_page(
            request,
            db,
            principal,
            status=422,
            error=str(exc),
            form={"username": username, "display_name": display_name, "role": role, "clinician": clinician},
        )
    audit_service.record(db, principal.actor, "create", "account", account.id)
    return _accounts_page(request, db, principal, flash=f"Account {account.username} created.")


@pages.post("/admin/accounts/{account_id}/deactivate")
def deactivate_page(
    request: Request,
    account_id: AccountRef,
    db: DB,
    principal: Annotated[Principal, allow("admin")],
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Deactivate from the admin page: first asks for confirmation, then offers to undo."""
    account = _own_account(db, principal, account_id)
    if confirm != "yes":
        return render(request, "admin_confirm.html", principal, account=account)
    deactivate(account_id, db, principal)
    flash = f"Account {account.username} deactivated."
    return _accounts_page(request, db, principal, flash=flash, undo=account)


@pages.post("/admin/accounts/{account_id}/reactivate")
def reactivate_page(
    request: Request, account_id: AccountRef, db: DB, principal: Annotated[Principal, allow("admin")]
) -> Response:
    """Undo a deactivation: the account can sign in again."""
    account = _own_account(db, principal, account_id)
    account_service.reactivate_account(db, account.username)
    audit_service.record(db, principal.actor, "update", "account", account.id, detail="reactivated")
    return _accounts_page(request, db, principal, flash=f"Account {account.username} is active again.")


@pages.post("/admin/accounts/{account_id}/clinician")
def link_page(
    request: Request,
    account_id: AccountRef,
    db: DB,
    principal: Annotated[Principal, allow("admin")],
    clinician: Annotated[str, Form()] = "",
) -> Response:
    """Link a clinician account to the clinician record it treats as (or unlink it)."""
    account = _own_account(db, principal, account_id)
    try:
        account_service.link_clinician(db, account, clinician or None)
    except account_service.AccountError as exc:
        return _accounts_page(request, db, principal, status=422, error=str(exc))
    audit_service.record(
        db, principal.actor, "update", "account", account.id, detail=f"clinician record {clinician or 'none'}"
    )
    said = f"linked to clinician record {clinician}" if clinician else "not linked to a clinician record"
    return _accounts_page(request, db, principal, flash=f"Account {account.username} {said}.")


@pages.post("/admin/accounts/{account_id}/reset-password")
def reset_page(
    request: Request,
    account_id: AccountRef,
    db: DB,
    principal: Annotated[Principal, allow("admin")],
    password: Annotated[str, Form()] = "",
) -> Response:
    """Reset a password from the admin page."""
    try:
        reset(account_id, NewPassword(password=password or "-"), db, principal)
    except account_service.AccountError as exc:
        return _accounts_page(request, db, principal, status=422, error=str(exc))
    return _accounts_page(
        request, db, principal, flash="Password reset; the person must change it at next sign-in."
    )
