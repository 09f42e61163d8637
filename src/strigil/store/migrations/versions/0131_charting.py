"""Charting at the speed of a clinic day: accounts linked to clinician records, what a measurement measured
(joint, motion and side of a range of motion; the activity of a Patient-Specific Functional Scale item), and
patient codes found whatever their case.

`web_accounts.clinician_id` links a sign-in to the clinician record it treats as (null: an account that
cannot be recorded as the treating clinician). Accounts whose user name was a clinician code of their clinic
(how the session form guessed before) are linked to that record. Four nullable columns on `measurements`;
existing rows have none. An index on `(clinic_id, lower(code))` serves the case-insensitive patient search.
`episodes.exercise_prescription` holds the home programme the clinician wrote (null: none yet);
`clinic_templates` a clinic's own session templates (labelled "clinic template — not an evidence-based dose").

Revision ID: 0131_charting
Revises: 0130_note_discharge_void
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strigil.store.types import UTCTimestamp

revision = "0131_charting"
down_revision = "0130_note_discharge_void"
branch_labels = None
depends_on = None

_MEASUREMENT_COLUMNS = (
    ("joint", sa.String(32)),
    ("motion", sa.String(32)),
    ("side", sa.String(16)),
    ("activity", sa.String(200)),
)


def upgrade() -> None:
    # columns are added in place (ALTER TABLE ... ADD COLUMN): rebuilding a table that others reference, with
    # rows in it, fails on SQLite with foreign keys on (see 0116_safety_gates)
    if op.get_bind().dialect.name == "sqlite":  # Alembic would refuse the constraint; SQLite takes it inline
        op.execute(
            "ALTER TABLE web_accounts ADD COLUMN clinician_id INTEGER "
            "CONSTRAINT fk_web_accounts_clinician_id REFERENCES clinicians (id)"
        )
    else:
        op.add_column(
            "web_accounts",
            sa.Column(
                "clinician_id",
                sa.Integer(),
                sa.ForeignKey("clinicians.id", name="fk_web_accounts_clinician_id"),
                nullable=True,
            ),
        )
    op.execute(
        "UPDATE web_accounts SET clinician_id = (SELECT c.id FROM clinicians c "
        "WHERE c.clinic_id = web_accounts.clinic_id AND c.code = web_accounts.username) "
        "WHERE role = 'clinician'"
    )
    for name, kind in _MEASUREMENT_COLUMNS:
        op.add_column("measurements", sa.Column(name, kind, nullable=True))
    op.create_index("ix_patients_clinic_lower_code", "patients", ["clinic_id", sa.text("lower(code)")])
    op.add_column("episodes", sa.Column("exercise_prescription", sa.JSON(), nullable=True))
    op.create_table(
        "clinic_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "clinic_id",
            sa.Integer(),
            sa.ForeignKey("clinics.id", name="fk_clinic_templates_clinic_id_clinics"),
            nullable=False,
        ),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        sa.UniqueConstraint("clinic_id", "name", name="uq_clinic_templates_clinic_id_name"),
    )


def downgrade() -> None:
    op.drop_table("clinic_templates")
    op.drop_column("episodes", "exercise_prescription")
    op.drop_index("ix_patients_clinic_lower_code", table_name="patients")
    for name, _ in reversed(_MEASUREMENT_COLUMNS):
        op.drop_column("measurements", name)
    if op.get_bind().dialect.name == "sqlite":  # a referencing column goes with a copy of the table
        with op.batch_alter_table("web_accounts") as table:
            table.drop_column("clinician_id")
    else:
        op.drop_constraint("fk_web_accounts_clinician_id", "web_accounts", type_="foreignkey")
        op.drop_column("web_accounts", "clinician_id")
