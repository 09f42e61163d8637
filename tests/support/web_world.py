"""The web tests' world: two clinics with one account per role, and signed-in clients.

A module of its own (not conftest) so that test files import it by a name no other folder uses.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 fork for its test client; httpx still works and is what we ship.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from strigil.services import accounts as account_service
from strigil.web.security import COOKIE_NAME

PASSWORD = "correct horse battery staple"
ROLES = ("admin", "clinician", "researcher")


@dataclass
class World:
    """Two clinics (1 = ours, 2 = other) with one account per role in each."""

    app: FastAPI
    engine: Engine
    ids: dict[tuple[int, str], str]  # the accounts' public ids (what URLs and answers name them by)
    records: dict[int, dict[str, int | str]]
    account_rows: dict[tuple[int, str], int]  # the accounts' database ids

    def db(self) -> Session:
        return sessionmaker(self.engine, expire_on_commit=False)()

    def client(self, role: str, clinic: int = 1) -> tuple[TestClient, str]:
        """A client signed in (through a real session row) as `role` of `clinic`, and its CSRF token."""
        with self.db() as db:
            account = account_service.get_account(db, f"{role}{clinic}")
            secret, login = account_service.start_login_session(db, account, "testclient")
            csrf = login.csrf_token
            db.commit()
        client = TestClient(self.app, base_url="http://testserver", follow_redirects=False)
        client.cookies.set(COOKIE_NAME, secret)
        return client, csrf
