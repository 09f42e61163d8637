"""A dose step can carry a measured-force summary: the recording, its strokes, mean and peak force, CVs.

Six nullable columns on `dose_steps` (all null for a step without a measured force); `force_n` beside them
is unchanged. Existing steps have none, so nothing is backfilled.

Revision ID: 0125_force_summary
Revises: 0102_session_recommended
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0125_force_summary"
down_revision = "0102_session_recommended"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("measured_recording", sa.String(200)),
    ("measured_stroke_count", sa.Integer()),
    ("measured_mean_n", sa.Float()),
    ("measured_peak_n", sa.Float()),
    ("measured_mean_cv_pct", sa.Float()),
    ("measured_peak_cv_pct", sa.Float()),
)


def upgrade() -> None:
    with op.batch_alter_table("dose_steps") as table:
        for name, kind in _COLUMNS:
            table.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dose_steps") as table:
        for name, _ in reversed(_COLUMNS):
            table.drop_column(name)
