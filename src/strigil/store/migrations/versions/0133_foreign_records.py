"""Records from other systems placed right: a patient's identifiers in other systems, and where each
measurement came from.

`patient_identifiers` ties a (system, value) pair of another system (an MRN) to one patient of a clinic, so a
second import from that system finds the same patient — and only by that exact pair, never by a foreign
resource id. `measurements.source` names the record a measurement was imported from (its identifier, or the
sender's address for it), so importing it again adds nothing.

Revision ID: 0133_foreign_records
Revises: 0132_public_ids
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0133_foreign_records"
down_revision = "0132_public_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patient_identifiers"),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name="fk_patient_identifiers_clinic_id_clinics"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_patient_identifiers_patient_id_patients"
        ),
        sa.UniqueConstraint(
            "clinic_id", "system", "value", name="uq_patient_identifiers_clinic_id_system_value"
        ),
    )
    op.create_index("ix_patient_identifiers_patient_id", "patient_identifiers", ["patient_id"])
    op.add_column("measurements", sa.Column("source", sa.String(255), nullable=True))
    op.create_index("ix_measurements_source", "measurements", ["source"])


def downgrade() -> None:
    op.drop_index("ix_measurements_source", table_name="measurements")
    op.execute("ALTER TABLE measurements DROP COLUMN source")
    op.drop_index("ix_patient_identifiers_patient_id", table_name="patient_identifiers")
    op.drop_table("patient_identifiers")
