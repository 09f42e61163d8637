"""The declarative base every Strigil table derives from (clinical record, accounts, audit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, Table, event
from sqlalchemy.orm import DeclarativeBase

__all__ = [
    "NAMING",
    "Base",
]

# Explicit constraint names, so Alembic migrations (incl. SQLite batch mode) can refer to them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Shared metadata for all tables; schema changes go through Alembic migrations."""

    metadata = MetaData(naming_convention=NAMING)


@event.listens_for(Table, "after_parent_attach")
def _ids_are_never_reused(table: Table, parent: Any) -> None:
    """Every Strigil table's key is AUTOINCREMENT on SQLite (as migration 0200 makes it).

    SQLite otherwise gives max(id) + 1, so erasing the newest patient handed their id, and the audit rows
    that name it, to the next patient. PostgreSQL's sequences never go back.
    """
    if parent is Base.metadata:
        table.dialect_options["sqlite"]["autoincrement"] = True
