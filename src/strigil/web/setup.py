"""Getting a database ready for the web app: schema to head, the clinic, and the demo clinic's sign-ins."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strigil.store.database import open_database as open_store

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "ensure_demo", "open_database", "prepare_database"]

# The demo clinic is synthetic and lives in its own file, so its password can be printed.
DEMO_PASSWORD = "scraper of bathhouses"
DEMO_USERS = (
    ("demo", "Demo Clinician", "clinician"),
    ("demo-admin", "Demo Admin", "admin"),
    ("demo-research", "Demo Researcher", "researcher"),
)


def prepare_database(url: str) -> int:
    """Migrate the schema to head; returns how many accounts exist (0 means: create the first admin)."""
    from strigil.store.accounts import Account

    database = open_store(url)
    try:
        with database.unit_of_work() as db:
            return int(db.scalar(select(func.count(Account.id))) or 0)
    finally:
        database.dispose()


def ensure_demo(url: str, *, patients: int = 40, seed: int = 1) -> int:
    """Create the demo clinic (record's generator) and its sign-ins if missing; idempotent."""
    from strigil.services import accounts
    from strigil.store.accounts import Account
    from strigil.web.demo import demo_clinic_id

    database = open_store(url)
    try:
        clinic_id = demo_clinic_id(database, patients=patients, seed=seed)
        with database.unit_of_work() as db:
            for username, name, role in DEMO_USERS:
                if db.scalar(select(Account.id).where(Account.username == username)) is None:
                    accounts.create_account(
                        db,
                        username=username,
                        display_name=name,
                        role=role,
                        clinic_id=clinic_id,
                        password=DEMO_PASSWORD,
                    )
            return int(db.scalar(select(func.count(Account.id))) or 0)
    finally:
        database.dispose()


@contextmanager
def open_database() -> Iterator[Session]:
    """A session on the configured database (STRIGIL_DATABASE_URL or the default file), schema at head."""
    database = open_store()
    try:
        with database.sessionmaker() as db:
            yield db
    finally:
        database.dispose()
