"""Shared fixtures: a fresh database with two clinics, every role in each, and signed-in clients."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from web_world import PASSWORD, ROLES, World

from strigil.services import accounts as account_service
from strigil.settings import Settings
from strigil.store.database import make_engine
from strigil.web.app import create_app

__all__ = ["PASSWORD", "ROLES", "World", "engine", "fast_hasher", "template_db", "world"]


@pytest.fixture(scope="session", autouse=True)
def fast_hasher() -> Iterator[None]:
    """argon2id with small costs: the algorithm under test is the same, the suite stays fast."""
    saved = account_service.HASHER
    account_service.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    account_service.HASHER = saved


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory, fast_hasher: None) -> tuple[Path, dict, dict, dict]:
    """Migrated and seeded once per run; each test gets its own copy of the file."""
    from web_schema import create_schema, seed_clinic

    path = tmp_path_factory.mktemp("template") / "web.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    ids: dict[tuple[int, str], str] = {}
    rows: dict[tuple[int, str], int] = {}
    records: dict[int, dict[str, int | str]] = {}
    with sessionmaker(engine, expire_on_commit=False)() as db:
        for clinic in (1, 2):
            records[clinic] = seed_clinic(db, clinic)
            assert records[clinic]["clinic_id"] == clinic
            for role in ROLES:
                account = account_service.create_account(
                    db,
                    username=f"{role}{clinic}",
                    display_name=f"{role.title()} {clinic}",
                    role=role,
                    clinic_id=clinic,
                    password=PASSWORD,
                )
                ids[(clinic, role)] = account.public_id  # what URLs name it by
                rows[(clinic, role)] = account.id
            # A spare account per clinic for tests that deactivate or reset someone.
            spare = account_service.create_account(
                db,
                username=f"spare{clinic}",
                display_name=f"Spare {clinic}",
                role="clinician",
                clinic_id=clinic,
                password=PASSWORD,
            )
            ids[(clinic, "spare")] = spare.public_id
            rows[(clinic, "spare")] = spare.id
        db.commit()
    engine.dispose()  # checkpoints the WAL into the file
    return path, ids, records, rows


@pytest.fixture()
def engine(tmp_path: Path, template_db: tuple[Path, dict, dict, dict]) -> Iterator[Engine]:
    target = tmp_path / "web.sqlite"
    shutil.copyfile(template_db[0], target)
    eng = make_engine(f"sqlite:///{target}")
    yield eng
    eng.dispose()


@pytest.fixture()
def world(engine: Engine, template_db: tuple[Path, dict, dict, dict]) -> World:
    app = create_app(Settings(database_url=str(engine.url)), engine=engine)
    return World(
        app=app, engine=engine, ids=dict(template_db[1]), records=template_db[2], account_rows=template_db[3]
    )
