"""How the web tests build their database (kept in one place so it can follow the store)."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import strigil.store.accounts  # noqa: F401  (registers the tables)
from strigil.store.audit import APPEND_ONLY_DDL
from strigil.store.base import Base


def create_schema(engine: Engine) -> None:
    """All tables plus the audit trail's append-only triggers."""
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for statement in APPEND_ONLY_DDL[engine.dialect.name]:
            conn.execute(text(statement))


def seed_clinics(db: Session) -> None:
    """Clinics 1 and 2 (the record's clinic table once it exists)."""
