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
# user name, display name, role, and the demo clinician record a clinician account treats as (so it can be
# recorded as the treating clinician and sign that clinician's notes; `services.demo_plan.CLINICIANS`)
DEMO_USERS: tuple[tuple[str, str, str, str | None], ...] = (
    ("demo", "Demo Clinician", "clinician", "c02"),
    ("demo-admin", "Demo Admin", "admin", None),
    ("demo-research", "Demo Researcher", "researcher", None),
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
            for username, name, role, clinician in DEMO_USERS:
                account = db.scalar(select(Account).where(Account.username == username))
                if account is None:
                    accounts.create_account(
                        db,
                        username=username,
                        display_name=name,
                        role=role,
                        clinic_id=clinic_id,
                        password=DEMO_PASSWORD,
                        clinician=clinician,
                    )
                elif clinician and account.clinician_id is None:  # a demo file made before accounts had one
                    accounts.link_clinician(db, account, clinician)
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
