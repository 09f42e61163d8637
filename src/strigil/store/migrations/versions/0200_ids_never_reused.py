"""Ids are never reused: every SQLite table's integer key becomes AUTOINCREMENT.

Without AUTOINCREMENT SQLite hands out max(id) + 1, so erasing the patient with the highest id and then
adding a patient gave the newcomer the erased person's id — and with it the erased person's audit trail
(audit rows name patients by id). With AUTOINCREMENT SQLite keeps the highest id ever given in
`sqlite_sequence` and never goes below it. PostgreSQL's sequences never go back already: nothing to do there.

SQLite cannot change a key in place, so each table is rebuilt under its own name: its rows are copied aside,
the table is dropped and created again with the same definition plus AUTOINCREMENT, and the rows copied
back with their ids. Other tables refer to the rebuilt one by name, so their foreign keys stay valid; they
are checked as deferred (`PRAGMA defer_foreign_keys`, the only switch that works inside a transaction),
when the migration commits, after every row is back; the whole rebuild is one transaction. Indexes and
triggers (the audit trail's append-only guard) are created again. Downgrading keeps AUTOINCREMENT (it
only forbids reuse).

Revision ID: 0200_ids_never_reused
Revises: 0133_foreign_records
Create Date: 2026-12-02
"""

from __future__ import annotations

import re

from alembic import op
from sqlalchemy import text

revision = "0200_ids_never_reused"
down_revision = "0133_foreign_records"
branch_labels = None
depends_on = None

_TABLE_KEY = re.compile(r",\s*(?:CONSTRAINT (\w+) )?PRIMARY KEY \(id\)")
_ID_COLUMN = re.compile(r"^(CREATE TABLE \"?\w+\"? \(\s*)id INTEGER NOT NULL,")


def autoincrement_sql(create_table: str) -> str:
    """The same CREATE TABLE with its `id` key declared INTEGER PRIMARY KEY AUTOINCREMENT (same name)."""
    key = _TABLE_KEY.search(create_table)
    if key is None or not _ID_COLUMN.search(create_table):
        raise RuntimeError(f"cannot find the id key in: {create_table}")
    without_key = create_table[: key.start()] + create_table[key.end() :]
    name = f"CONSTRAINT {key.group(1)} " if key.group(1) else ""
    declared = f"id INTEGER NOT NULL {name}PRIMARY KEY AUTOINCREMENT,"
    return _ID_COLUMN.sub(lambda m: m.group(1) + declared, without_key, count=1)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # Python's sqlite3 runs DDL outside a transaction unless one is open: open it, so that the rebuild is
    # all or nothing and the deferred foreign keys are checked once, at the migration's commit.
    if not bind.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        bind.exec_driver_sql("BEGIN")
    bind.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    tables = bind.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'alembic_version' ORDER BY name"
        )
    ).all()
    for name, create in tables:
        if "AUTOINCREMENT" in create.upper() or not _TABLE_KEY.search(create):
            continue
        _rebuild(bind, name, autoincrement_sql(create))
    problems = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
    if problems:
        raise RuntimeError(f"foreign keys broken while rebuilding tables: {problems[:5]}")


def _rebuild(bind: object, name: str, create: str) -> None:
    run = bind.exec_driver_sql  # type: ignore[attr-defined]
    extras = run(
        "SELECT sql FROM sqlite_master "
        "WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL",
        (name,),
    ).all()
    columns = ", ".join(f'"{row[1]}"' for row in run(f'PRAGMA table_info("{name}")').all())
    kept = f"_keep_{name}"
    run(f'CREATE TABLE "{kept}" AS SELECT * FROM "{name}"')
    run(f'DROP TABLE "{name}"')
    run(create)
    run(f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "{kept}" ORDER BY id')
    run(f'DROP TABLE "{kept}"')
    for (sql,) in extras:
        run(sql)


def downgrade() -> None:
    """AUTOINCREMENT stays: it only stops ids from being reused, which every earlier revision tolerates."""
