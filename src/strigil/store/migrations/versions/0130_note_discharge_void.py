"""Closing the loops: a session note's signature, dated addenda and a void; an episode's coded discharge
reason, referrer and void; how an adverse response's resolution became known, with a note.

Columns are added in place (as in 0116_safety_gates: rebuilding treatment_sessions fails on SQLite with
foreign keys on and rows present). Existing rows are unsigned, without addenda, not void.

Revision ID: 0130_note_discharge_void
Revises: 0116_safety_gates
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from strigil.store.types import UTCTimestamp

revision = "0130_note_discharge_void"
down_revision = "0116_safety_gates"
branch_labels = None
depends_on = None


def _void() -> tuple[sa.Column[Any], ...]:
    return (
        sa.Column("voided_at", UTCTimestamp(), nullable=True),
        sa.Column("voided_by", sa.String(64), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
    )


def _columns() -> dict[str, tuple[sa.Column[Any], ...]]:
    return {
        "treatment_sessions": (
            sa.Column("signed_at", UTCTimestamp(), nullable=True),
            sa.Column("signed_by", sa.String(64), nullable=True),
            sa.Column("addenda", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
            *_void(),
        ),
        "episodes": (
            sa.Column("discharge_reason", sa.String(32), nullable=True),
            sa.Column("referrer", sa.String(200), nullable=True),
            *_void(),
        ),
        "adverse_responses": (
            sa.Column("resolved_where", sa.String(200), nullable=True),
            sa.Column("resolution_note", sa.Text(), nullable=True),
        ),
    }


def upgrade() -> None:
    for table, columns in _columns().items():
        for column in columns:
            op.add_column(table, column)


def downgrade() -> None:
    for table, columns in _columns().items():
        for column in reversed(columns):
            # in place on both databases (SQLite 3.35+ drops a column that no index or key uses)
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
