"""Ids for bulk inserts that give ids explicitly: never one that was handed out before.

Ordinary inserts take their id from the database (SQLite's AUTOINCREMENT, PostgreSQL's sequences), which
never goes back. Bulk loads choose ids themselves for speed; starting at max(id) + 1 would hand out again
the ids of erased records (and, through the audit trail, their history). They start past the highest id
the table ever gave, and afterwards PostgreSQL's sequence is moved past the ids written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

__all__ = ["advance_sequence", "first_unused_id"]


def _dialect(connection: Any) -> str:
    bind = connection.get_bind() if hasattr(connection, "get_bind") else connection
    return str(bind.dialect.name)


def _sequence(connection: Any, table: str) -> str | None:
    return connection.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()


def first_unused_id(connection: Any, table: str) -> int:
    """One more than the highest id `table` ever gave out, erased rows included (Session or Connection)."""
    highest = int(connection.execute(text(f'SELECT max(id) FROM "{table}"')).scalar() or 0)
    dialect = (
        connection.get_bind().dialect.name if hasattr(connection, "get_bind") else connection.dialect.name
    )
    given = 0
    if dialect == "sqlite":
        # sqlite_sequence exists once any AUTOINCREMENT table does (every Strigil table is one).
        found = connection.execute(
            text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}
        ).scalar()
        given = int(found or 0)
    elif dialect == "postgresql":
        sequence = _sequence(connection, table)
        if sequence:
            last, called = connection.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
            given = int(last) if called else int(last) - 1
    return max(highest, given) + 1


def advance_sequence(connection: Any, table: str) -> None:
    """After explicit ids: PostgreSQL's sequence moves past them (never back); SQLite's follows by itself."""
    dialect = (
        connection.get_bind().dialect.name if hasattr(connection, "get_bind") else connection.dialect.name
    )
    if dialect != "postgresql":
        return
    sequence = _sequence(connection, table)
    if sequence:
        connection.execute(
            text(
                f"SELECT setval('{sequence}', GREATEST((SELECT max(id) FROM \"{table}\"), "
                f"(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence}), 1))"
            )
        )
