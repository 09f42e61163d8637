"""Shared fixtures: a fresh database with two clinics, every role in each, and signed-in clients."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 fork for its test client; httpx still works and is what we ship.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.web.app import create_app
from strigil.web.engine import engine_for
from strigil.web.security import COOKIE_NAME

PASSWORD = "correct horse battery staple"
ROLES = ("admin", "clinician", "researcher")


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with small costs: the algorithm under test is the same, the suite stays fast."""
    monkeypatch.setattr(
        account_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[Engine]:
    from web_schema import create_schema

    eng = engine_for(f"sqlite:///{tmp_path / 'web.sqlite'}")
    create_schema(eng)
    yield eng
    eng.dispose()


@dataclass
class World:
    """Two clinics (1 = ours, 2 = other) with one account per role in each."""

    app: FastAPI
    engine: Engine
    ids: dict[tuple[int, str], int]

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


@pytest.fixture()
def world(engine: Engine) -> World:
    from web_schema import seed_clinics

    ids: dict[tuple[int, str], int] = {}
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as db:
        seed_clinics(db)
        for clinic in (1, 2):
            for role in ROLES:
                account = account_service.create_account(
                    db,
                    username=f"{role}{clinic}",
                    display_name=f"{role.title()} {clinic}",
                    role=role,
                    clinic_id=clinic,
                    password=PASSWORD,
                )
                ids[(clinic, role)] = account.id
            # A spare account per clinic for tests that deactivate or reset someone.
            spare = account_service.create_account(
                db,
                username=f"spare{clinic}",
                display_name=f"Spare {clinic}",
                role="clinician",
                clinic_id=clinic,
                password=PASSWORD,
            )
            ids[(clinic, "spare")] = spare.id
        db.commit()
    app = create_app(Settings(database_url=str(engine.url)), engine=engine)
    return World(app=app, engine=engine, ids=ids)
