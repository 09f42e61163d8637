"""Safety gates at the table: screenings stored on the episode; a session keeps the screening it was gated
on, the override reason, the dose confirmation, the follow-up answers and whether exercise was delivered;
an episode's consent keeps a note beside its coded items.

Existing sessions get NULL for what was not recorded then (follow-up answers, exercise delivered) and
dose_confirmed false. Columns are added and dropped in place (SQLite's ALTER TABLE ... ADD/DROP COLUMN,
3.35+): rebuilding treatment_sessions would drop a table that dose steps, measurements and adverse responses
reference, which SQLite refuses with foreign keys on. A session's `screening_id` is therefore a plain column
(its screening copy is in `screening`), not a foreign key.

Revision ID: 0116_safety_gates
Revises: 0125_force_summary
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from strigil.store.types import UTCTimestamp

revision = "0116_safety_gates"
down_revision = "0125_force_summary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screenings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("screened_on", sa.Date(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("intolerance", sa.Boolean(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("confirms_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", UTCTimestamp(), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_screenings"),
        sa.ForeignKeyConstraint(["episode_id"], ["episodes.id"], name="fk_screenings_episode_id_episodes"),
        sa.ForeignKeyConstraint(
            ["confirms_id"], ["screenings.id"], name="fk_screenings_confirms_id_screenings"
        ),
    )
    op.create_index("ix_screenings_episode_id", "screenings", ["episode_id", "id"])
    op.create_index("ix_screenings_verdict_screened_on", "screenings", ["verdict", "screened_on"])
    op.add_column("episodes", sa.Column("consent_note", sa.Text(), nullable=True))
    for column in _SESSION_COLUMNS:
        op.add_column("treatment_sessions", column)


_SESSION_COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("screening_id", sa.Integer(), nullable=True),
    sa.Column("screening", sa.JSON(), nullable=True),
    sa.Column("override_reason", sa.Text(), nullable=True),
    sa.Column("dose_confirmed", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    sa.Column("follow_up", sa.JSON(), nullable=True),
    sa.Column("follow_up_asked", sa.Boolean(), nullable=True),
    sa.Column("exercise_delivered", sa.Boolean(), nullable=True),
    sa.Column("exercise_not_delivered_reason", sa.Text(), nullable=True),
)


def _drop(table: str, column: str) -> None:
    # In place on both databases (SQLite 3.35+ drops a column that no index or key uses).
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def downgrade() -> None:
    for column in reversed(_SESSION_COLUMNS):
        _drop("treatment_sessions", column.name)
    _drop("episodes", "consent_note")
    op.drop_index("ix_screenings_verdict_screened_on", table_name="screenings")
    op.drop_index("ix_screenings_episode_id", table_name="screenings")
    op.drop_table("screenings")
