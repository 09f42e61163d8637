"""The decision aid's word of each session in its own indexed column (`recommended`).

The dashboard lists open episodes whose latest session says switch or refer. Reading that word out of
every recent session's JSON document cost 10 µs a session (25 ms at 2,000 sessions in four weeks); with
the word indexed beside the date, only those sessions are read. Existing sessions are backfilled from
their recommendation document.

Revision ID: 0102_session_recommended
Revises: 0101_dashboard_indexes
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0102_session_recommended"
down_revision = "0101_dashboard_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("treatment_sessions") as table:
        table.add_column(sa.Column("recommended", sa.String(16), nullable=True))
    word = (
        "recommendation ->> 'recommendation'"
        if op.get_bind().dialect.name == "postgresql"
        else "json_extract(recommendation, '$.recommendation')"
    )
    op.execute(f"UPDATE treatment_sessions SET recommended = {word} WHERE recommendation IS NOT NULL")
    op.create_index("ix_treatment_sessions_recommended_date", "treatment_sessions", ["recommended", "date"])


def downgrade() -> None:
    op.drop_index("ix_treatment_sessions_recommended_date", table_name="treatment_sessions")
    with op.batch_alter_table("treatment_sessions") as table:
        table.drop_column("recommended")
