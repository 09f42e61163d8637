"""Tables for the people who sign in: accounts, sign-in sessions, API tokens and sign-in attempts.

Secrets are never stored: passwords as argon2id hashes, session cookies and API tokens as SHA-256
digests of random values (a stolen database cannot be replayed as a login).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from strigil.store import record as _record  # noqa: F401  (the clinics table our accounts refer to)
from strigil.store.base import Base
from strigil.store.public_ids import PUBLIC_ID_LENGTH, new_public_id
from strigil.store.types import UTCTimestamp as UTCDateTime
from strigil.store.types import now_utc as utcnow

__all__ = ["ROLES", "Account", "ApiToken", "LoginAttempt", "LoginSession", "utcnow"]

# admin: accounts and audit of their clinic; clinician: patients of their clinic;
# researcher: aggregates over at least five patients, never a patient record.
ROLES = ("admin", "clinician", "researcher")


class Account(Base):
    """A person who signs in, with one role in one clinic."""

    __tablename__ = "web_accounts"
    __table_args__ = (Index("ux_web_accounts_public_id", "public_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the account's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the clinician record this account treats as (null: it cannot be recorded as the treating clinician)
    clinician_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinicians.id", name="fk_web_accounts_clinician_id"), nullable=True
    )


class LoginSession(Base):
    """A browser sign-in: the cookie holds a random value, the table its SHA-256 digest."""

    __tablename__ = "web_login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("web_accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ip: Mapped[str] = mapped_column(String(64), default="")


class ApiToken(Base):
    """A scoped, revocable token for programs; only its SHA-256 digest is kept."""

    __tablename__ = "web_api_tokens"
    __table_args__ = (Index("ux_web_api_tokens_public_id", "public_id", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # the token's name outside the server (strigil.store.public_ids); nullable only in the schema
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), nullable=True, default=new_public_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("web_accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginAttempt(Base):
    """One sign-in attempt, kept to rate-limit guessing by user name and by address."""

    __tablename__ = "web_login_attempts"
    __table_args__ = (
        Index("ix_web_login_attempts_username_at", "username", "at"),
        Index("ix_web_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean)
