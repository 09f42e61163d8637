"""Accounts: create, sign in (rate-limited), sign out, deactivate, reset passwords, API tokens.

One function per user action; the web pages, the JSON API and `strigil user ...` all call these.
Passwords are hashed with argon2id (argon2-cffi's defaults follow RFC 9106); session cookies and API
tokens are random values of which only a SHA-256 digest is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.orm import Session

from strigil.store.accounts import ROLES, Account, ApiToken, LoginAttempt, LoginSession, utcnow
from strigil.store.record import ClinicianRow

__all__ = [
    "DELAY_PER_ACCOUNT",
    "DELAY_PER_ADDRESS",
    "DELAY_PER_ADDRESS_AND_ACCOUNT",
    "FAILURE_WINDOW",
    "HASHER",
    "MAX_PASSWORD_LENGTH",
    "MAX_TOKEN_DAYS",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "SCOPES",
    "SESSION_LIFETIME",
    "AccountError",
    "AccountNotFound",
    "IssuedToken",
    "SignInDelay",
    "SignInRefused",
    "TooManyAttempts",
    "authenticate",
    "change_password",
    "clinician_code",
    "create_account",
    "deactivate_account",
    "end_login_session",
    "find_clinic_account",
    "get_account",
    "issue_api_token",
    "link_clinician",
    "list_accounts",
    "list_api_tokens",
    "password_problems",
    "reactivate_account",
    "record_refused_sign_in",
    "record_refused_token",
    "reset_password",
    "resolve_api_token",
    "resolve_login_session",
    "revoke_api_token",
    "start_login_session",
]

# Program tokens carry scopes: read (GET), write (changes), admin (accounts and audit).
SCOPES = ("read", "write", "admin")

SESSION_LIFETIME = dt.timedelta(hours=12)
# An API token lives at most this long, whatever was asked (asking for no end gives this lifetime).
MAX_TOKEN_DAYS = 366


@dataclass(frozen=True)
class SignInDelay:
    """After `free` failed sign-ins, each further attempt waits base × 2^(failures − free), at most `cap`.

    A delay, not a lockout: nobody can lock another person out of their account by failing on purpose.
    Security settings (configurable), not clinical numbers.
    """

    free: int
    base: dt.timedelta
    cap: dt.timedelta

    def wait(self, failures: int) -> dt.timedelta:
        """How long after the last failure the next attempt must wait."""
        if failures < self.free:
            return dt.timedelta(0)
        return min(self.cap, self.base * 2 ** min(failures - self.free, 30))


# Failed sign-ins count within this sliding window (and, per account, only since its last success).
FAILURE_WINDOW = dt.timedelta(minutes=15)
# One address guessing one account's password: the guesser slows down fast.
DELAY_PER_ADDRESS_AND_ACCOUNT = SignInDelay(3, dt.timedelta(seconds=1), dt.timedelta(minutes=15))
# One address guessing many accounts' passwords.
DELAY_PER_ADDRESS = SignInDelay(10, dt.timedelta(seconds=1), dt.timedelta(minutes=15))
# Many addresses guessing one account's password: capped low, so that a guesser only slows its owner down.
DELAY_PER_ACCOUNT = SignInDelay(10, dt.timedelta(seconds=1), dt.timedelta(minutes=1))
# Sign-in checks are made one at a time (PostgreSQL: this advisory lock; SQLite: its single writer).
_SIGN_IN_LOCK = 0x5354524947

# NIST SP 800-63B §5.1.1.2: at least 8 characters, no composition rules, refuse known-bad passwords.
# Strigil asks for 12 because it holds health data.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
_COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "123456789012",
        "qwertyuiopas",
        "passwordpassword",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "administrator",
        "changeme1234",
        "strigilstrigil",
    }
)

HASHER = PasswordHasher()  # argon2id, RFC 9106 "second recommended option" parameters


class AccountError(ValueError):
    """A request about an account that cannot be done; the message says why."""


class AccountNotFound(AccountError):
    """No such account or token (or not one the asker may see)."""


class SignInRefused(AccountError):
    """Wrong user name or password, or the account is deactivated (deliberately not told apart)."""


class TooManyAttempts(AccountError):
    """Too many failed sign-ins lately: the next attempt must wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; wait {retry_after} s and try again")
        self.retry_after = retry_after


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: `secret` is shown once and never stored."""

    secret: str
    token: ApiToken


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def password_problems(password: str, username: str = "") -> list[str]:
    """What is wrong with a proposed password (empty when acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            f"password: must have at least {MIN_PASSWORD_LENGTH} characters (has {len(password)})"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"password: must have at most {MAX_PASSWORD_LENGTH} characters")
    if password.lower() in _COMMON_PASSWORDS or len(set(password)) <= 2:
        problems.append("password: is too common or too repetitive; choose a passphrase of several words")
    if username and username.lower() in password.lower():
        problems.append("password: must not contain the user name")
    return problems


def _validate_username(username: str) -> str:
    name = username.strip()
    if not (3 <= len(name) <= 64) or not all(c.isalnum() or c in "._-" for c in name):
        raise AccountError(
            f"username: {username!r} is not allowed; use 3-64 letters, digits, '.', '_' or '-'"
        )
    return name


def create_account(
    db: Session,
    *,
    username: str,
    display_name: str,
    role: str,
    clinic_id: int,
    password: str,
    clinician: str | None = None,
) -> Account:
    """Create an account with a hashed password; refuses a weak password or a taken user name. `clinician`
    (a clinician code of the clinic) links a clinician account to the record it treats as."""
    name = _validate_username(username)
    if role not in ROLES:
        raise AccountError(f"role: {role!r} is not allowed; choose one of {', '.join(ROLES)}")
    problems = password_problems(password, name)
    if problems:
        raise AccountError("; ".join(problems))
    if db.scalar(select(Account.id).where(Account.username == name)) is not None:
        raise AccountError(f"username: {name!r} is taken")
    clinician_id = _clinician_id(db, clinic_id, role, clinician) if clinician else None
    account = Account(
        username=name,
        display_name=display_name.strip() or name,
        role=role,
        clinic_id=clinic_id,
        password_hash=HASHER.hash(password),
        active=True,
        clinician_id=clinician_id,
    )
    db.add(account)
    db.flush()
    return account


def _clinician_id(db: Session, clinic_id: int, role: str, clinician: str) -> int:
    if role != "clinician":
        raise AccountError(f"clinician: only a clinician account treats as a clinician record, not {role!r}")
    found = db.scalar(
        select(ClinicianRow.id).where(ClinicianRow.clinic_id == clinic_id, ClinicianRow.code == clinician)
    )
    if found is None:
        raise AccountError(f"clinician: {clinician!r} is not a clinician record of this clinic")
    taken = db.scalar(select(Account.username).where(Account.clinician_id == found))
    if taken is not None:
        raise AccountError(f"clinician: {clinician!r} is already the record of account {taken!r}")
    return found


def link_clinician(db: Session, account: Account, clinician: str | None) -> Account:
    """Link a clinician account to the clinician record (code) it treats as, or unlink it (None): an account
    without a record cannot be recorded as the treating clinician."""
    account.clinician_id = None
    db.flush()
    if clinician:
        account.clinician_id = _clinician_id(db, account.clinic_id, account.role, clinician)
    db.flush()
    return account


def clinician_code(db: Session, account_id: int) -> str | None:
    """The code of the clinician record an account treats as (None: not linked)."""
    return db.scalar(
        select(ClinicianRow.code).join(Account, Account.clinician_id == ClinicianRow.id).where(
            Account.id == account_id
        )
    )


def get_account(db: Session, username: str) -> Account:
    """The account with this user name, or an error naming it."""
    account = db.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise AccountNotFound(f"username: no account named {username!r}")
    return account


def find_clinic_account(db: Session, clinic_id: int, account_id: int) -> Account | None:
    """The account with this id if it is the clinic's (None otherwise: another clinic's is not found)."""
    account = db.get(Account, account_id)
    return account if account is not None and account.clinic_id == clinic_id else None


def list_accounts(db: Session, clinic_id: int) -> list[Account]:
    """The accounts of one clinic, by user name."""
    return list(db.scalars(select(Account).where(Account.clinic_id == clinic_id).order_by(Account.username)))


def _wait(
    db: Session, who: ColumnElement[bool], before_id: int, now: dt.datetime, rule: SignInDelay, *, reset: bool
) -> dt.timedelta:
    """How long from `now` an attempt must still wait, by the failures of `who` before attempt `before_id`.

    With `reset`, a successful sign-in of `who` wipes the slate (the account's owner came back).
    """
    earlier = [LoginAttempt.id < before_id, LoginAttempt.at > now - FAILURE_WINDOW, who]
    if reset:
        last_success = db.scalar(select(func.max(LoginAttempt.id)).where(*earlier, LoginAttempt.succeeded))
        if last_success is not None:
            earlier.append(LoginAttempt.id > last_success)
    failures, last = db.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
            *earlier, LoginAttempt.succeeded.is_(False)
        )
    ).one()
    if not failures or last is None:
        return dt.timedelta(0)
    if last.tzinfo is None:  # SQLite reads back naive UTC through func.max
        last = last.replace(tzinfo=dt.UTC)
    return max(dt.timedelta(0), last + rule.wait(int(failures)) - now)


def _claim_attempt(db: Session, username: str, ip: str, now: dt.datetime) -> LoginAttempt:
    """Record an attempt as failed until proven otherwise, or refuse it while a delay runs (committed).

    One claim at a time, committed before the slow password check, so that attempts made at the same
    moment each see the ones before them (30 parallel wrong passwords are 30 failures, not 30 first tries).
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SIGN_IN_LOCK})
    attempt = LoginAttempt(username=username[:64], ip=ip[:64], at=now, succeeded=False)
    db.add(attempt)
    db.flush()  # SQLite: the first write takes the database's single writer lock until the commit below
    waits = (
        _wait(db, (LoginAttempt.username == attempt.username) & (LoginAttempt.ip == attempt.ip), attempt.id,
              now, DELAY_PER_ADDRESS_AND_ACCOUNT, reset=True),
        _wait(db, LoginAttempt.ip == attempt.ip, attempt.id, now, DELAY_PER_ADDRESS, reset=False),
        _wait(db, LoginAttempt.username == attempt.username, attempt.id, now, DELAY_PER_ACCOUNT, reset=True),
    )  # fmt: skip
    wait = max(waits)
    if wait > dt.timedelta(0):
        # A refused attempt is not a failure: it was never checked, so it does not lengthen the delay.
        db.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt.id))
        db.commit()
        raise TooManyAttempts(max(1, int(wait.total_seconds() + 0.999)))
    db.commit()
    return attempt


def authenticate(
    db: Session, username: str, password: str, ip: str, *, now: dt.datetime | None = None
) -> Account:
    """Check a user name and password; every attempt is recorded and failures slow the next ones down.

    Commits the attempt before the password is checked (see `_claim_attempt`); the caller commits the rest.
    """
    now = now or utcnow()
    attempt = _claim_attempt(db, username, ip, now)
    account = db.scalar(select(Account).where(Account.username == username))
    ok = False
    if account is not None:
        try:
            ok = HASHER.verify(account.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        # Spend the same time as a real check so response time does not reveal which names exist.
        HASHER.hash(password)
    ok = ok and account is not None and account.active
    attempt.succeeded = ok
    db.flush()
    if not ok or account is None:
        raise SignInRefused("wrong user name or password, or the account is deactivated")
    if HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = HASHER.hash(password)
    return account


def record_refused_sign_in(db: Session, username: str, ip: str, reason: str, *, channel: str = "web") -> None:
    """A failed or delayed sign-in into the trail of the account's clinic (an unknown name: no clinic's)."""
    from strigil.services.audit import Actor, record

    account = db.scalar(select(Account).where(Account.username == username))
    actor = Actor(
        None if account is None else account.id,
        username[:64],
        "" if account is None else account.role,
        None if account is None else account.clinic_id,
        ip,
        channel,
    )
    record(db, actor, "denied", "sign_in", "" if account is None else account.id, detail=reason)


def start_login_session(db: Session, account: Account, ip: str = "") -> tuple[str, LoginSession]:
    """Open a browser session; returns the cookie value (kept only by the browser) and the row."""
    secret = secrets.token_urlsafe(32)
    row = LoginSession(
        token_hash=_digest(secret),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + SESSION_LIFETIME,
        ip=ip[:64],
    )
    db.add(row)
    db.flush()
    return secret, row


def resolve_login_session(db: Session, secret: str) -> tuple[Account, LoginSession] | None:
    """The active account and session behind a cookie value, or None."""
    row = db.execute(
        select(Account, LoginSession)
        .join(LoginSession, LoginSession.account_id == Account.id)
        .where(
            LoginSession.token_hash == _digest(secret),
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > utcnow(),
            Account.active.is_(True),
        )
    ).first()
    return None if row is None else (row[0], row[1])


def end_login_session(db: Session, secret: str) -> None:
    """Sign out: the cookie value stops working at once."""
    db.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == _digest(secret), LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def _end_everything(db: Session, account: Account, *, keep_session: int | None = None) -> None:
    """End the account's sign-in sessions (all, or all but `keep_session`) and revoke all its API tokens."""
    now = utcnow()
    sessions = [LoginSession.account_id == account.id, LoginSession.ended_at.is_(None)]
    if keep_session is not None:
        sessions.append(LoginSession.id != keep_session)
    db.execute(update(LoginSession).where(*sessions).values(ended_at=now))
    db.execute(
        update(ApiToken)
        .where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def deactivate_account(db: Session, username: str) -> Account:
    """Deactivate an account: it can no longer sign in, and its sessions and tokens stop working."""
    account = get_account(db, username)
    account.active = False
    _end_everything(db, account)
    db.flush()
    return account


def reactivate_account(db: Session, username: str) -> Account:
    """Let a deactivated account sign in again (its ended sessions and revoked tokens stay ended).

    The one way back in: a password reset does not reactivate, so that resetting never undoes a deactivation.
    """
    account = get_account(db, username)
    account.active = True
    db.flush()
    return account


def reset_password(db: Session, username: str, new_password: str) -> Account:
    """An admin sets a new password; the person must change it at next sign-in; old sessions end.

    A deactivated account stays deactivated: a reset is not a way back in.
    """
    account = get_account(db, username)
    problems = password_problems(new_password, account.username)
    if problems:
        raise AccountError("; ".join(problems))
    account.password_hash = HASHER.hash(new_password)
    account.password_changed_at = utcnow()
    account.must_change_password = True
    _end_everything(db, account)
    db.flush()
    return account


def change_password(
    db: Session, account: Account, current: str, new_password: str, *, keep_session: int | None = None
) -> None:
    """The person changes their own password, proving the current one.

    Every other sign-in session of the account ends and every API token is revoked (whoever knew the old
    password is out); `keep_session` is the session the change was made in.
    """
    try:
        HASHER.verify(account.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise AccountError("current_password: is not correct") from None
    problems = password_problems(new_password, account.username)
    if problems:
        raise AccountError("; ".join(problems))
    if new_password == current:
        raise AccountError("new_password: must differ from the current password")
    account.password_hash = HASHER.hash(new_password)
    account.password_changed_at = utcnow()
    account.must_change_password = False
    _end_everything(db, account, keep_session=keep_session)
    db.flush()


def issue_api_token(
    db: Session, account: Account, name: str, scopes: list[str], expires_days: int | None = 90
) -> IssuedToken:
    """Issue a token for a program, limited to `scopes` (read, write, admin) and to the account's role."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise AccountError(f"scopes: {scopes!r} is not allowed; choose one or more of {', '.join(SCOPES)}")
    if "admin" in scopes and account.role != "admin":
        raise AccountError(
            f"scopes: 'admin' needs an admin account; {account.username!r} is a {account.role}"
        )
    if expires_days is None:
        expires_days = MAX_TOKEN_DAYS  # no token lives for ever
    if not (1 <= expires_days <= MAX_TOKEN_DAYS):
        raise AccountError(f"expires_days: {expires_days} is not allowed; give 1 to {MAX_TOKEN_DAYS} days")
    secret = "stg_" + secrets.token_urlsafe(32)
    token = ApiToken(
        token_hash=_digest(secret),
        prefix=secret[:10],
        account_id=account.id,
        name=name.strip()[:128] or "token",
        scopes=",".join(sorted(set(scopes))),
        expires_at=utcnow() + dt.timedelta(days=expires_days),
    )
    db.add(token)
    db.flush()
    return IssuedToken(secret=secret, token=token)


def list_api_tokens(db: Session, account: Account) -> list[ApiToken]:
    """The tokens of one account, newest first (digests only; secrets are never kept)."""
    return list(
        db.scalars(select(ApiToken).where(ApiToken.account_id == account.id).order_by(ApiToken.id.desc()))
    )


def revoke_api_token(db: Session, account: Account, token_id: int) -> ApiToken:
    """Revoke one of the account's own tokens (admins: any token of their clinic)."""
    token = db.get(ApiToken, token_id)
    owner = None if token is None else db.get(Account, token.account_id)
    allowed = owner is not None and (
        owner.id == account.id or (account.role == "admin" and owner.clinic_id == account.clinic_id)
    )
    if token is None or not allowed:
        named = "" if token is None else f" {token.public_id}"  # never the database integer
        raise AccountNotFound(f"token_id: no token{named} of yours")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    db.flush()
    return token


def record_refused_token(db: Session, secret: str, *, ip: str, target: str) -> None:
    """A `denied` audit row for a request whose bearer token was refused: in the clinic of the token's
    account when the token is known (revoked, expired or its account deactivated), otherwise as "unknown
    token" (no clinic). The row holds the token's public prefix at most, never the secret or its digest."""
    from strigil.services.audit import Actor, record

    found = db.execute(
        select(Account, ApiToken)
        .join(ApiToken, ApiToken.account_id == Account.id)
        .where(ApiToken.token_hash == _digest(secret))
    ).first()
    if found is None:
        actor = Actor(None, "unknown token", "", None, ip, "api")
        detail = "401: unknown API token"
    else:
        account, token = found[0], found[1]
        actor = Actor(account.id, account.username, account.role, account.clinic_id, ip, "api")
        why = (
            "revoked"
            if token.revoked_at is not None
            else "deactivated account"
            if not account.active
            else "expired"
        )
        detail = f"401: API token {token.prefix}… refused ({why})"
    record(db, actor, "denied", "request", target, detail=detail)


def resolve_api_token(db: Session, secret: str) -> tuple[Account, ApiToken] | None:
    """The active account and token behind a bearer secret, or None when unknown, revoked or expired."""
    row = db.execute(
        select(Account, ApiToken)
        .join(ApiToken, ApiToken.account_id == Account.id)
        .where(
            ApiToken.token_hash == _digest(secret), ApiToken.revoked_at.is_(None), Account.active.is_(True)
        )
    ).first()
    if row is None:
        return None
    account, token = row[0], row[1]
    now = utcnow()
    # Tokens issued before lifetimes were required have no end: they end MAX_TOKEN_DAYS after issue.
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.created_at + dt.timedelta(days=MAX_TOKEN_DAYS) <= now:
        return None
    return account, token
