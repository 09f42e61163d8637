"""Safety gates at the table: screenings stored on the episode; a session keeps the screening it was gated
on, the override reason, the dose confirmation, the follow-up answers and whether exercise was delivered;
an episode's consent keeps a note beside its coded items.

Existing sessions get NULL for what was not recorded then (follow-up answers, exercise delivered) and
dose_confirmed false.

Revision ID: 0116_safety_gates
Revises: 0102_session_recommended
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strigil.store.types import UTCTimestamp

revision = "0116_safety_gates"
down_revision = "0102_session_recommended"
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
    with op.batch_alter_table("episodes") as table:
        table.add_column(sa.Column("consent_note", sa.Text(), nullable=True))
    with op.batch_alter_table("treatment_sessions") as table:
        table.add_column(sa.Column("screening_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("screening", sa.JSON(), nullable=True))
        table.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        table.add_column(
            sa.Column("dose_confirmed", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
        table.add_column(sa.Column("follow_up", sa.JSON(), nullable=True))
        table.add_column(sa.Column("follow_up_asked", sa.Boolean(), nullable=True))
        table.add_column(sa.Column("exercise_delivered", sa.Boolean(), nullable=True))
        table.add_column(sa.Column("exercise_not_delivered_reason", sa.Text(), nullable=True))
        table.create_foreign_key(
            "fk_treatment_sessions_screening_id_screenings", "screenings", ["screening_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("treatment_sessions") as table:
        table.drop_constraint("fk_treatment_sessions_screening_id_screenings", type_="foreignkey")
        for column in (
            "exercise_not_delivered_reason",
            "exercise_delivered",
            "follow_up_asked",
            "follow_up",
            "dose_confirmed",
            "override_reason",
            "screening",
            "screening_id",
        ):
            table.drop_column(column)
    with op.batch_alter_table("episodes") as table:
        table.drop_column("consent_note")
    op.drop_index("ix_screenings_verdict_screened_on", table_name="screenings")
    op.drop_index("ix_screenings_episode_id", table_name="screenings")
    op.drop_table("screenings")
