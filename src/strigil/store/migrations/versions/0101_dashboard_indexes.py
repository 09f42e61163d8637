"""Indexes for the dashboard: sessions by date, and unresolved adverse responses by onset.

The dashboard reads the last four weeks of a clinic's sessions and its newest unresolved adverse
responses; without these it scanned every session of the clinic (0.2-3 s at a million sessions).

Revision ID: 0101_dashboard_indexes
Revises: 0100_web_accounts_audit
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0101_dashboard_indexes"
down_revision = "0100_web_accounts_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_treatment_sessions_date", "treatment_sessions", ["date"])
    unresolved = sa.text("resolved_on IS NULL")
    op.create_index(
        "ix_adverse_responses_unresolved_onset",
        "adverse_responses",
        ["onset_on"],
        sqlite_where=unresolved,
        postgresql_where=unresolved,
    )


def downgrade() -> None:
    op.drop_index("ix_adverse_responses_unresolved_onset", table_name="adverse_responses")
    op.drop_index("ix_treatment_sessions_date", table_name="treatment_sessions")
