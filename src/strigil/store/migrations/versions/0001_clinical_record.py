"""Clinical record: clinics, clinicians, patients, episodes, sessions, dose steps, measurements,
adverse responses and amendments.

Revision ID: 0001_clinical_record
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strigil.store.types import UTCTimestamp

revision = "0001_clinical_record"
down_revision = None
branch_labels = None
depends_on = None


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        _pk("clinics"),
        sa.UniqueConstraint("code", name="uq_clinics_code"),
    )
    op.create_table(
        "clinicians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("profession", sa.String(32), nullable=False),
        sa.Column("training", sa.JSON(), nullable=False),
        sa.Column("years_experience", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        _pk("clinicians"),
        _fk("clinicians", "clinic_id", "clinics"),
        sa.UniqueConstraint("clinic_id", "code", name="uq_clinicians_clinic_id_code"),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        _pk("patients"),
        _fk("patients", "clinic_id", "clinics"),
        sa.UniqueConstraint("clinic_id", "code", name="uq_patients_clinic_id_code"),
    )
    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("target_tissue", sa.String(16), nullable=False),
        sa.Column("onset_date", sa.Date(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.String(500), nullable=True),
        sa.Column("goals", sa.JSON(), nullable=False),
        sa.Column("planned_iastm", sa.Boolean(), nullable=False),
        sa.Column("planned_co_interventions", sa.JSON(), nullable=False),
        sa.Column("exercise_first_reason", sa.Text(), nullable=True),
        sa.Column("consent_on", sa.Date(), nullable=True),
        sa.Column("consent_explained", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        _pk("episodes"),
        _fk("episodes", "patient_id", "patients"),
    )
    op.create_index("ix_episodes_patient_id", "episodes", ["patient_id"])
    op.create_table(
        "treatment_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("warm_up_kind", sa.String(32), nullable=True),
        sa.Column("warm_up_minutes", sa.Float(), nullable=True),
        sa.Column("emollient", sa.String(100), nullable=True),
        sa.Column("followed_by", sa.JSON(), nullable=False),
        sa.Column("tolerance", sa.String(32), nullable=True),
        sa.Column("recommendation", sa.JSON(), nullable=True),
        sa.Column("clinician_decision", sa.String(16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        _pk("treatment_sessions"),
        _fk("treatment_sessions", "episode_id", "episodes"),
        _fk("treatment_sessions", "clinician_id", "clinicians"),
        sa.UniqueConstraint("episode_id", "number", name="uq_treatment_sessions_episode_id_number"),
    )
    op.create_index("ix_treatment_sessions_clinician_id", "treatment_sessions", ["clinician_id"])
    op.create_table(
        "dose_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("instrument", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(32), nullable=True),
        sa.Column("stroke", sa.String(32), nullable=False),
        sa.Column("angle_deg", sa.Float(), nullable=True),
        sa.Column("direction", sa.String(32), nullable=False),
        sa.Column("pressure", sa.String(16), nullable=False),
        sa.Column("force_n", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("stroke_count", sa.Integer(), nullable=True),
        sa.Column("patient_position", sa.String(200), nullable=True),
        sa.Column("active_movement", sa.String(200), nullable=True),
        _pk("dose_steps"),
        _fk("dose_steps", "session_id", "treatment_sessions"),
        sa.UniqueConstraint("session_id", "position", name="uq_dose_steps_session_id_position"),
    )
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("measure", sa.String(32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("timing", sa.String(8), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _pk("measurements"),
        _fk("measurements", "episode_id", "episodes"),
        _fk("measurements", "session_id", "treatment_sessions"),
    )
    op.create_index("ix_measurements_episode_id", "measurements", ["episode_id"])
    op.create_index("ix_measurements_session_id", "measurements", ["session_id"])
    op.create_table(
        "adverse_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("onset_on", sa.Date(), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _pk("adverse_responses"),
        _fk("adverse_responses", "episode_id", "episodes"),
        _fk("adverse_responses", "session_id", "treatment_sessions"),
    )
    op.create_index("ix_adverse_responses_episode_id", "adverse_responses", ["episode_id"])
    op.create_table(
        "amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("amended_by", sa.String(64), nullable=False),
        sa.Column("amended_at", UTCTimestamp(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _pk("amendments"),
    )
    op.create_index("ix_amendments_entity", "amendments", ["entity", "entity_id"])


def downgrade() -> None:
    for table in (
        "amendments",
        "adverse_responses",
        "measurements",
        "dose_steps",
        "treatment_sessions",
        "episodes",
        "patients",
        "clinicians",
        "clinics",
    ):
        op.drop_table(table)
