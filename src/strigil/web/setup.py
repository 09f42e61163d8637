"""Getting a database ready for the web app: schema to head, and the demo clinic's sign-ins."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from strigil.settings import get_settings
from strigil.web.engine import engine_for

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "ensure_demo", "open_database", "prepare_database"]

# The demo clinic is synthetic and lives in its own file, so its password can be printed.
DEMO_PASSWORD = "scraper of bathhouses"
DEMO_USERS = (
    ("demo", "Demo Clinician", "clinician"),
    ("demo-admin", "Demo Admin", "admin"),
    ("demo-research", "Demo Researcher", "researcher"),
)


def _ensure_folder(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def upgrade_schema(url: str) -> None:
    """Bring the schema to the newest version (tables plus the audit trail's append-only triggers)."""
    import strigil.store.accounts
    import strigil.store.audit  # noqa: F401  (registers the tables)
    from strigil.store.audit import APPEND_ONLY_DDL
    from strigil.store.base import Base

    _ensure_folder(url)
    engine = engine_for(url)
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            for statement in APPEND_ONLY_DDL.get(engine.dialect.name, []):
                conn.execute(text(statement))
    finally:
        engine.dispose()


def prepare_database(url: str) -> int:
    """Upgrade the schema; returns how many accounts exist (0 means: create the first admin)."""
    from strigil.store.accounts import Account

    upgrade_schema(url)
    engine = engine_for(url)
    try:
        with Session(engine) as db:
            return int(db.scalar(select(func.count(Account.id))) or 0)
    finally:
        engine.dispose()


def ensure_demo(url: str, clinic_id: int = 1) -> int:
    """Create the demo clinic's sign-ins if missing (idempotent); returns the number of accounts."""
    from strigil.services import accounts
    from strigil.store.accounts import Account

    prepare_database(url)
    engine = engine_for(url)
    try:
        with sessionmaker(engine)() as db:
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
            db.commit()
            return int(db.scalar(select(func.count(Account.id))) or 0)
    finally:
        engine.dispose()


@contextmanager
def open_database() -> Iterator[Session]:
    """A session on the configured database (STRIGIL_DATABASE_URL or the default file), schema ready."""
    url = get_settings().resolved_database_url()
    upgrade_schema(url)
    engine = engine_for(url)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as db:
            yield db
    finally:
        engine.dispose()
