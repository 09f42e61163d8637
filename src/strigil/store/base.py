"""The declarative base every Strigil table derives from (clinical record, accounts, audit)."""

from __future__ import annotations

from sqlalchemy import MetaData
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
